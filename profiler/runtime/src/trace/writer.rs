//! When this process writes its trace to `LOCKPROF_TRACE`: when a deadlock is found and at
//! process exit (the file itself is written by `lockprof_trace::write`).
//!
//! The exit hook is registered with the C runtime's `atexit` on the first lock call of the
//! process, so it runs on a normal return from `main` and on `std::process::exit`, both of which
//! end in the C `exit`. (An abort, or a kill by signal, runs no hook: the deadlock policy writes
//! the trace itself before it aborts.)

use std::sync::Once;

use crate::config::config;
use lockprof_trace::schema::{Trace, WriteReason};

unsafe extern "C" {
    /// C `atexit(3)`.
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Registers the exit hook once, if a trace path is configured.
pub(crate) fn install_exit_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if config().trace_path.is_some() {
            // SAFETY: `atexit` only stores the function pointer; `on_exit` is a plain
            // `extern "C" fn` with no captured state and it never unwinds (see below).
            let status = unsafe { atexit(on_exit) };
            if status != 0 {
                crate::diag::say(
                    "lockprof: could not register the exit hook; the trace will only be written on deadlock",
                );
            }
        }
    });
}

extern "C" fn on_exit() {
    // Unwinding out of an `extern "C"` function aborts; a failure here must not.
    let _ = std::panic::catch_unwind(|| {
        write_configured(&crate::trace::snapshot::take(WriteReason::Exit));
    });
}

/// Writes the trace of everything recorded so far to `LOCKPROF_TRACE`, if set. Programs that end
/// in ways that skip the exit hook (a kill, an `abort` of their own) can call it themselves.
///
/// ```
/// lockprof_profiler::write_now();
/// ```
pub fn write_now() {
    write_configured(&crate::trace::snapshot::take(WriteReason::Exit));
}

/// Writes `trace` to the configured path; failures are reported on stderr, never panicked on.
pub(crate) fn write_configured(trace: &Trace) {
    // The path is expanded now, not at start-up: after a `fork` the child writes its own file.
    if let Some(path) = config().trace_file() {
        if let Err(error) = lockprof_trace::write::write_atomically(&path, trace) {
            crate::diag::say(&format!("lockprof: could not write the trace to {}: {error}", path.display()));
        }
    }
}
