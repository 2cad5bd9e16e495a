//! The profiler's own messages on stderr (configuration warnings, trace-write failures, deadlock
//! reports under `abort` and `report`), written so that they can never panic or block the
//! user's thread that happens to be inside a lock call when they are due.
//!
//! `eprintln!` panics when stderr cannot be written (a closed pipe, `/dev/full`), blocks when it
//! is a full pipe nobody reads, and waits for std's stderr lock, which another thread may hold
//! while it blocks on that pipe. Here, on Unix, each message goes straight to file descriptor 2
//! with `write(2)` calls whose errors are ignored, each only when `poll` says stderr can take a
//! pipe buffer's worth without blocking; what does not fit is dropped. A lost warning is better
//! than a user's `lock()` that panics or hangs because of the profiler.

/// Bytes written per `write` call: a pipe with room (as `poll` reports it) takes this much
/// without blocking.
const CHUNK: usize = 4096;

/// Writes `message` and a newline to stderr, best effort (see the module docs).
pub(crate) fn say(message: &str) {
    let mut text = String::with_capacity(message.len() + 1);
    text.push_str(message);
    text.push('\n');
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        if !stderr_has_room() {
            return;
        }
        match write_some(&rest[..rest.len().min(CHUNK)]) {
            Some(n) if n > 0 => rest = &rest[n..],
            _ => return,
        }
    }
}

/// One `write(2)` to stderr: how many bytes it took, `None` on an error.
#[cfg(unix)]
fn write_some(bytes: &[u8]) -> Option<usize> {
    // SAFETY: the pointer and length describe `bytes`, which outlives the call; `write` only
    // reads them.
    let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
    usize::try_from(n).ok()
}

/// Elsewhere: through std's stderr, errors ignored.
#[cfg(not(unix))]
fn write_some(bytes: &[u8]) -> Option<usize> {
    use std::io::Write;
    std::io::stderr().write(bytes).ok()
}

/// Whether a write of up to [`CHUNK`] bytes to stderr will not block.
#[cfg(unix)]
fn stderr_has_room() -> bool {
    let mut fd = libc::pollfd { fd: libc::STDERR_FILENO, events: libc::POLLOUT, revents: 0 };
    // SAFETY: `fd` is a valid, exclusively borrowed `pollfd` and the count is 1; a zero timeout
    // makes `poll` return at once.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready == 1 && fd.revents & libc::POLLOUT != 0
}

/// Elsewhere there is no cheap readiness test; the write is still never panicked on.
#[cfg(not(unix))]
fn stderr_has_room() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_written_without_panicking() {
        say("lockprof: diag test message (expected in test output)");
    }
}
