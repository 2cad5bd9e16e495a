//! Warnings: things that are not deadlocks by themselves but make them likely. For now, waiting
//! on a condition variable while holding another lockprof lock (lockdep's "sleeping while
//! holding"): every thread that needs the held lock now waits for a notification too.

use std::panic::Location;
use std::sync::{Mutex, OnceLock};

use crate::lock_state::LockState;

/// One warning, kept until the trace is written. Each distinct pair of sites is kept once.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct CondvarWhileHolding {
    pub condvar: u64,
    pub wait_at: &'static Location<'static>,
    pub held: u64,
    pub held_at: &'static Location<'static>,
    pub thread: u64,
}

/// At most this many distinct warnings are kept.
const MAX_WARNINGS: usize = 1_000;

pub(crate) fn recorded() -> &'static Mutex<Vec<CondvarWhileHolding>> {
    static WARNINGS: OnceLock<Mutex<Vec<CondvarWhileHolding>>> = OnceLock::new();
    WARNINGS.get_or_init(Mutex::default)
}

/// Called before a condvar wait (its mutex already released): records a warning for every lock
/// the thread still holds.
pub(crate) fn check_condvar_wait(condvar: &LockState, at: &'static Location<'static>) {
    let held: Vec<crate::local::Held> = crate::local::with(|l| l.held().collect());
    if held.is_empty() {
        return;
    }
    let Some(_reentry) = crate::threads::enter_profiler() else { return };
    let thread = crate::local::current_thread_id();
    let condvar_id = condvar.id();
    let mut all = recorded().lock().unwrap_or_else(|e| e.into_inner());
    for h in held {
        let warning =
            CondvarWhileHolding { condvar: condvar_id, wait_at: at, held: h.lock(), held_at: h.at, thread };
        let seen = all
            .iter()
            .any(|w| std::ptr::eq(w.wait_at, warning.wait_at) && std::ptr::eq(w.held_at, warning.held_at));
        if !seen && all.len() < MAX_WARNINGS {
            crate::locks::pin(condvar_id);
            crate::locks::pin(warning.held);
            crate::threads::note_current(thread);
            all.push(warning);
        }
    }
}
