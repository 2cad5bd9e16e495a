//! Writing the trace to `LOCKPROF_TRACE`: atomically (a temporary file in the same directory,
//! then a rename), when a deadlock is found and at process exit.
//!
//! The exit hook is registered with the C runtime's `atexit` on the first lock call of the
//! process, so it runs on a normal return from `main` and on `std::process::exit`, both of which
//! end in the C `exit`. (An abort, or a kill by signal, runs no hook: the deadlock policy writes
//! the trace itself before it aborts.)

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

use crate::config::config;
use crate::trace::schema::{Trace, WriteReason};

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
                eprintln!(
                    "lockprof: could not register the exit hook; the trace will only be written on deadlock"
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
    if let Some(path) = &config().trace_path {
        if let Err(error) = write_atomically(path, trace) {
            eprintln!("lockprof: could not write the trace to {}: {error}", path.display());
        }
    }
}

/// Serialises `trace` to a temporary file beside `path` and renames it over `path`, so a reader
/// sees either the previous complete trace or the new one, never a partial file.
pub fn write_atomically(path: &Path, trace: &Trace) -> std::io::Result<()> {
    // One writer at a time: the deadlock write and the exit write may race.
    static WRITING: Mutex<()> = Mutex::new(());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());

    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        serde_json::to_writer_pretty(&mut file, trace)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
