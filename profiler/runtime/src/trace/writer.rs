//! When this process writes its trace to `LOCKPROF_TRACE`: when a deadlock is found, when the
//! watchdog records a long wait, and at process exit (the file itself is written by
//! `lockprof_trace::write`).
//!
//! A write symbolises stacks, which is slow, so the deadlock policy and the watchdog only ask for
//! one ([`write_soon`]): a background thread, `lockprof-writer`, takes the snapshot and writes
//! it, never a thread inside a lock call. Writes are serialised, and the write at exit is the
//! last: it waits for one under way, and none starts after it (a process ending must not leave a
//! half-written temporary file behind).
//!
//! The exit hook is registered with the C runtime's `atexit` on the first lock call of the
//! process, so it runs on a normal return from `main` and on `std::process::exit`, both of which
//! end in the C `exit`. (An abort, or a kill by signal, runs no hook: the deadlock policy writes
//! the trace itself before it aborts.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, Once};

use crate::config::config;
use lockprof_trace::schema::{Trace, WriteReason};

unsafe extern "C" {
    /// C `atexit(3)`.
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Registers the exit hook that writes the trace, once, if a trace path is configured. A lock's
/// first acquisition calls it; so do the wait types that may never block (a channel when it is
/// made, a barrier at its first wait), so that a program that only uses those still writes
/// its trace at exit.
///
/// ```
/// lockprof_profiler::install_exit_hook();
/// ```
pub fn install_exit_hook() {
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
        write(&crate::trace::snapshot::take(WriteReason::Exit), true);
    });
}

/// Held while a trace is written; `true` once the final (exit) trace is written.
static WRITING: Mutex<bool> = Mutex::new(false);
/// The process whose thread holds [`WRITING`] (0: none). A child made by `fork` while a write
/// was under way inherits the mutex locked, by a thread it does not have.
static WRITING_PROCESS: AtomicU32 = AtomicU32::new(0);

/// A write asked of the background writer, not started yet.
static PENDING: Mutex<Option<WriteReason>> = Mutex::new(None);
static ASKED: Condvar = Condvar::new();
/// The process the background writer runs in (0: not started, or could not be). A child made by
/// `fork` has no such thread, and writes by itself.
static WRITER_PROCESS: AtomicU32 = AtomicU32::new(0);

/// Asks for the trace to be written soon, by the background writer (started on first use); the
/// caller does not wait. Requests made while one is pending are merged (a deadlock's reason wins).
/// If the writer thread cannot be started, writes here and now instead.
pub(crate) fn write_soon(reason: WriteReason) {
    if config().trace_path.is_none() {
        return;
    }
    static START: Once = Once::new();
    START.call_once(|| {
        let spawned = crate::threads::spawn_internal("lockprof-writer", run_writer);
        if spawned.is_ok() {
            WRITER_PROCESS.store(std::process::id(), Ordering::Release);
        }
    });
    if WRITER_PROCESS.load(Ordering::Acquire) != std::process::id() {
        write_configured(&crate::trace::snapshot::take(reason));
        return;
    }
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    if *pending != Some(WriteReason::Deadlock) {
        *pending = Some(reason);
    }
    ASKED.notify_one();
}

fn run_writer() {
    loop {
        let reason = {
            let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(reason) = pending.take() {
                    break reason;
                }
                pending = ASKED.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
        };
        write_configured(&crate::trace::snapshot::take(reason));
    }
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

/// Writes `trace` to the configured path, unless the final trace has been written; failures are
/// reported on stderr, never panicked on.
pub(crate) fn write_configured(trace: &Trace) {
    write(trace, false);
}

fn write(trace: &Trace, last: bool) {
    let me = std::process::id();
    let mut done = match WRITING.try_lock() {
        Ok(done) => done,
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        // Held by a thread of the process this one was forked from: it will never be released.
        // (0: its holder has not said yet, which happens only within this process.)
        Err(std::sync::TryLockError::WouldBlock)
            if ![0, me].contains(&WRITING_PROCESS.load(Ordering::Acquire)) =>
        {
            return;
        }
        Err(std::sync::TryLockError::WouldBlock) => WRITING.lock().unwrap_or_else(|e| e.into_inner()),
    };
    if *done {
        return;
    }
    *done = last;
    WRITING_PROCESS.store(me, Ordering::Release);
    write_locked(trace);
    WRITING_PROCESS.store(0, Ordering::Release);
}

fn write_locked(trace: &Trace) {
    // The path is expanded now, not at start-up: after a `fork` the child writes its own file.
    if let Some(path) = config().trace_file() {
        if let Err(error) = lockprof_trace::write::write_atomically(&path, trace) {
            crate::diag::say(&format!("lockprof: could not write the trace to {}: {error}", path.display()));
        }
    }
}
