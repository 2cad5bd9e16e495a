//! Writing a trace (or any output file) safely: a regular file is replaced atomically, through
//! any symbolic link, with its permissions kept; a character device or FIFO is written to
//! directly; anything else is refused; every write and the final flush are checked.
//!
//! The rules, for the path the user gave:
//!
//! - a **symbolic link** is followed to the file it names (hop by hop, so a link to a file that
//!   does not exist yet works); the link itself stays as it is;
//! - a **regular file** (or none yet) is written to a temporary file in the *target's*
//!   directory, flushed, synced and renamed over the target, so a reader sees the old file or the
//!   new one, never half of one; the new file gets the old one's permission bits;
//! - a **character device** (`/dev/null`, a terminal) or a **FIFO** is opened for writing
//!   (appending), neither created nor truncated nor replaced, and written to directly (opening a
//!   FIFO waits for a reader, as a shell's `>` does); so is a path through `/proc`
//!   (`/dev/stdout`, `/dev/fd/1`), which names a file this process has open, not a place in a
//!   directory: `-o /dev/stdout > out.json` fills `out.json`, `>> log` appends to `log`;
//! - a **directory**, **block device** or **socket** is refused with an error that says what it is.
//!
//! Output goes through a 1 MiB buffer (a trace is millions of small pieces of JSON), and a failed
//! write, flush or sync (a full disk: `/dev/full`) is an error; a failed atomic write removes its
//! temporary file and leaves the target untouched.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::schema::Trace;

/// The output buffer: large enough that a 100 MB trace takes about a hundred `write` calls.
pub const BUFFER_BYTES: usize = 1 << 20;

/// How many symbolic links are followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Serialises `trace` as pretty JSON (and a final line break) to `path`, by [`write_file`]'s
/// rules: atomically for a regular file, directly for a device or FIFO.
pub fn write_atomically(path: &Path, trace: &Trace) -> io::Result<()> {
    write_file(path, |out| {
        crate::json_writer::write(out, trace)?;
        out.write_all(b"\n")
    })
}

/// Writes what `write` produces to `path`, by the rules of this module. Errors are plain
/// [`io::Error`]s (the caller names the path).
pub fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    // One writer at a time: the runtime's deadlock write and exit write may race.
    static WRITING: Mutex<()> = Mutex::new(());
    let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    match resolve(path)? {
        Target::Direct => write_directly(path, write),
        Target::Replace { path: target, permissions } => replace(&target, permissions, write),
    }
}

/// Where and how a path is written.
#[derive(Debug)]
enum Target {
    /// Open the given path for writing, without creating, truncating or replacing it.
    Direct,
    /// Write a temporary file beside `path` and rename it over `path`.
    Replace {
        /// The file at the end of the symbolic links (it may not exist yet).
        path: PathBuf,
        /// The permissions of the file it replaces, if there is one.
        permissions: Option<std::fs::Permissions>,
    },
}

/// Follows `path`'s symbolic links to the file they name and decides how to write it.
fn resolve(path: &Path) -> io::Result<Target> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            // A new file, or a link to one: created where the last link points.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Target::Replace { path: current, permissions: None });
            }
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            if current.starts_with("/proc") {
                // `/proc/self/fd/1` and friends: an open file of this process, whose "target"
                // (`pipe:[1234]`, or a file that may be deleted) is no path to write a sibling of.
                return Ok(Target::Direct);
            }
            let link = std::fs::read_link(&current)?;
            current = match current.parent() {
                // Relative to the link's directory; `..` is left for the kernel to resolve.
                Some(dir) if link.is_relative() => dir.join(link),
                _ => link,
            };
            continue;
        }
        if kind.is_file() {
            if current.starts_with("/proc") {
                return Ok(Target::Direct);
            }
            return Ok(Target::Replace { path: current, permissions: Some(meta.permissions()) });
        }
        return match special_kind(&kind) {
            None => Ok(Target::Direct),
            Some(what) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("it is {what}; lockprof writes regular files, character devices and FIFOs"),
            )),
        };
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, format!("more than {MAX_LINKS} symbolic links")))
}

/// `None` for what is written directly (a character device, a FIFO), else what it is.
fn special_kind(kind: &std::fs::FileType) -> Option<&'static str> {
    if kind.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_fifo() {
            return None;
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// Writes to `path` as it is: no creation, no truncation, no rename. Appending: what makes no
/// difference to a device or FIFO keeps `lockprof merge -o /dev/stdout >> log` from writing over
/// the start of `log` (a `/proc` link opens a new file position at 0).
fn write_directly(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let file = OpenOptions::new().append(true).open(path)?;
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
    write(&mut out)?;
    out.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok(())
}

/// Writes a temporary file in `path`'s directory and renames it over `path`.
fn replace(
    path: &Path,
    permissions: Option<std::fs::Permissions>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let (temp, file) = create_temporary(path)?;
    let result = (|| {
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        write(&mut out)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A new file `.NAME.PID.N.tmp` beside `path`; never one that exists already.
fn create_temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}
