//! Reading an input file with bounded memory: regular files and standard input (`-`) only, at
//! most a given number of bytes, checked before anything is read where the size is known.
//!
//! What is not a regular file is refused from its metadata, *before* it is opened: opening a FIFO
//! with no writer blocks for ever, `/dev/zero` never ends, and a directory is no file. A regular
//! file larger than the limit is refused from its size (a 2 GB sparse file costs nothing), and
//! every read goes through [`Read::take`]`(limit + 1)`, so a file that grows while it is read, or
//! standard input, costs at most the limit.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

/// Why an input could not be read.
#[derive(Debug)]
pub enum InputError {
    /// The operating system's error (missing file, no permission, ...).
    Io(io::Error),
    /// Not a regular file (nor `-`): what it is instead, `"a FIFO"`.
    NotRegular(&'static str),
    /// More than `limit` bytes.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(e) => write!(f, "cannot read it: {e}"),
            InputError::NotRegular(what) => {
                write!(f, "it is {what}; lockprof reads regular files (or standard input, as -)")
            }
            InputError::TooLarge { limit } => write!(f, "larger than the input limit of {}", bytes(*limit)),
        }
    }
}

impl std::error::Error for InputError {}

/// `512 MiB`, `1 MiB`, `1500 bytes`: a size as people read it, exact.
pub fn bytes(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n % (1 << shift) == 0 {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// The whole content of `path` (standard input if it is `-`), if it is a regular file of at most
/// `limit` bytes. Memory: the file's size, allocated once (at most `limit` for standard input,
/// grown by doubling).
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    if path.as_os_str() == "-" {
        return read_to_limit(io::stdin().lock(), limit, 0);
    }
    let meta = std::fs::metadata(path).map_err(InputError::Io)?;
    if !meta.is_file() {
        return Err(InputError::NotRegular(kind_of(&meta.file_type())));
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge { limit });
    }
    let file = std::fs::File::open(path).map_err(InputError::Io)?;
    read_to_limit(file, limit, meta.len())
}

/// Reads `input` to its end or to `limit + 1` bytes, into a buffer of `expected` bytes to start.
fn read_to_limit(input: impl Read, limit: u64, expected: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    // One byte more than expected: reaching the end then needs no second allocation.
    bytes.try_reserve_exact(usize::try_from(expected.saturating_add(1)).unwrap_or(usize::MAX)).map_err(
        |_| InputError::Io(io::Error::new(io::ErrorKind::OutOfMemory, "not enough memory to read it")),
    )?;
    input.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(InputError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, for a message.
fn kind_of(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(bytes(512 << 20), "512 MiB");
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(3 << 30), "3 GiB");
        assert_eq!(bytes(1500), "1500 bytes");
        assert_eq!(bytes(2048), "2 KiB");
    }

    #[test]
    fn the_limit_is_a_limit_on_what_is_read() {
        let input: &[u8] = b"0123456789";
        assert_eq!(read_to_limit(input, 10, 0).expect("at the limit"), input);
        assert!(matches!(read_to_limit(input, 9, 0), Err(InputError::TooLarge { limit: 9 })));
        // An endless input costs the limit, not the input.
        let endless = io::repeat(b'x');
        assert!(matches!(read_to_limit(endless, 1 << 16, 0), Err(InputError::TooLarge { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn what_is_not_a_regular_file_is_refused_unopened() {
        for (path, what) in [("/dev/zero", "character device"), ("/", "directory")] {
            let error = read_limited(Path::new(path), 1 << 20).expect_err(path);
            assert!(error.to_string().contains(what), "{path}: {error}");
        }
    }
}
