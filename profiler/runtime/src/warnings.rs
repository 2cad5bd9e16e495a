//! Warnings: things that are not deadlocks by themselves but make them likely. For now, waiting
//! on a condition variable while holding another lockprof lock (lockdep's "sleeping while
//! holding"): every thread that needs the held lock now waits for a notification too.

use std::panic::Location;

use crate::lock_state::LockState;

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
    let mut all = crate::records::warnings().lock().unwrap_or_else(|e| e.into_inner());
    for h in held {
        let warning = crate::records::CondvarWhileHolding {
            condvar: condvar_id,
            wait_at: at,
            held: h.lock(),
            held_at: h.at,
            thread,
        };
        let seen = all
            .iter()
            .any(|w| std::ptr::eq(w.wait_at, warning.wait_at) && std::ptr::eq(w.held_at, warning.held_at));
        if !seen && all.len() < crate::records::MAX_WARNINGS {
            crate::locks::pin(condvar_id);
            crate::locks::pin(warning.held);
            crate::threads::note_current(thread);
            all.push(warning);
        }
    }
}
