//! Where commands write: standard output that tolerates its reader going away
//! (`lockprof report t.json | head`), and output files written whole or not at all.

use std::io::{self, Write};
use std::path::Path;

use crate::Error;

/// Writes what `write` produces to `path` by [`lockprof_trace::write::write_file`]'s rules: a
/// regular file through a temporary file in its directory renamed over it once complete (a
/// failed run never leaves half a file), through symbolic links, keeping its permissions; a
/// character device or FIFO (`/dev/stdout`, a pipe) directly; anything else refused. An error
/// names the file.
pub fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Error> {
    lockprof_trace::write::write_file(path, write)
        .map_err(|error| Error::Write { path: path.to_path_buf(), error })
}

/// Frees `value` on a thread of its own. A large trace is millions of small allocations that
/// take a quarter of a second to free; a command hands it here once it is done with it, and
/// goes on (the process exits without waiting for it).
pub fn dispose<T: Send + 'static>(value: T) {
    if std::thread::Builder::new().name("lockprof-free".into()).spawn(move || drop(value)).is_err() {
        // No thread to be had: the value was dropped with the closure, here.
    }
}

/// Writes a command's output to the file `path` ([`write_file`]), or to `out` (standard output)
/// when there is none.
pub fn write_to(
    path: Option<&Path>,
    out: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    match path {
        Some(path) => write_file(path, write),
        None => write(out).map_err(Error::Output),
    }
}

/// A writer that, once the reader has closed the pipe, silently discards the rest of the output
/// instead of failing: the command still finishes and still exits with its own status (so
/// `lockprof check … | head` keeps the verdict's exit code). Other write errors pass through.
#[derive(Debug)]
pub struct PipeSafe<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> PipeSafe<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        PipeSafe { inner, closed: false }
    }
}

impl<W: Write> Write for PipeSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::FileTypeExt;

    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_file_is_written_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("lockprof-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let path = dir.join("out.txt");
        write_file(&path, |w| w.write_all(b"whole")).expect("written");
        assert_eq!(std::fs::read(&path).expect("read"), b"whole");
        let failed = write_file(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(matches!(failed, Err(Error::Write { .. })));
        assert_eq!(std::fs::read(&path).expect("read"), b"whole", "the old file stays");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("list").collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        #[cfg(unix)]
        {
            let link = dir.join("link.txt");
            std::os::unix::fs::symlink(&path, &link).expect("a symbolic link");
            write_file(&link, |w| w.write_all(b"through")).expect("written");
            assert!(std::fs::symlink_metadata(&link).expect("the link").file_type().is_symlink());
            assert_eq!(std::fs::read(&path).expect("read"), b"through", "written through the link");
            write_file(Path::new("/dev/null"), |w| w.write_all(b"gone")).expect("a device is written to");
            assert!(std::fs::metadata("/dev/null").expect("/dev/null").file_type().is_char_device());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_closed_pipe_is_not_an_error() {
        let mut out = PipeSafe::new(Closed);
        assert!(writeln!(out, "lost").is_ok());
        assert!(out.flush().is_ok());
    }
}
