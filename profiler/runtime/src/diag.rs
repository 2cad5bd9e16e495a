//! The profiler's own messages on stderr (configuration warnings, trace-write failures, deadlock
//! reports under `abort` and `report`), written so that they can never panic or block the
//! user's thread that happens to be inside a lock call when they are due.
//!
//! `eprintln!` panics when stderr cannot be written (a closed pipe, `/dev/full`) and blocks when
//! it is a full pipe nobody reads. Here each message is written with plain `write` calls whose
//! errors are ignored, and on Unix only while `poll` says stderr can take a pipe buffer's worth
//! without blocking; what does not fit is dropped. A lost warning is better than a user's
//! `lock()` that panics or hangs because of the profiler.

use std::io::Write;

/// Bytes written per `write` call: a pipe with room (as `poll` reports it) takes this much
/// without blocking.
const CHUNK: usize = 4096;

/// Writes `message` and a newline to stderr, best effort (see the module docs).
pub(crate) fn say(message: &str) {
    let mut text = String::with_capacity(message.len() + 1);
    text.push_str(message);
    text.push('\n');
    let mut stderr = std::io::stderr().lock();
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        if !stderr_has_room() {
            return;
        }
        let chunk = &rest[..rest.len().min(CHUNK)];
        match stderr.write(chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => rest = &rest[n..],
        }
    }
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
