//! Warnings: things that are not deadlocks by themselves but make them likely: waiting on a
//! condition variable while holding another lockprof lock (lockdep's "sleeping while holding"):
//! every thread that needs the held lock now waits for a notification too; and a tokio task
//! letting other tasks run on its thread while it holds a std (or parking_lot) lockprof guard
//! (clippy's `await_holding_lock`, at run time): yielding at an `.await`, or blocking in
//! `block_in_place` under a runtime that runs tasks there. Any task that then locks it on the
//! same thread blocks the thread, and with it the task that would release it.

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

/// Notes that tokio task `task` (0: none) makes a lockprof call at `at` on this thread, and
/// checks the thread's holds if another task made the last one ([`crate::local::Local::enter_task`]).
#[inline(always)]
pub(crate) fn enter_task(task: u64, at: &'static Location<'static>) {
    crate::local::with(|l| {
        if l.enter_task(task) {
            check_task_switch(l, task, at);
        }
    });
}

/// [`enter_task`] for the task of id word `word` ([`crate::task_id::current_word`]; 0: none).
#[inline(always)]
pub(crate) fn enter_task_word(word: u64, at: &'static Location<'static>) {
    crate::local::with(|l| {
        if l.enter_task_word(word) {
            check_task_switch(l, l.task(), at);
        }
    });
}

/// Called when another tokio task (`task`, or 0: the thread outside any task) makes a lockprof
/// call at `at` on a thread whose held stack has holds: every hold taken by a different task
/// was kept while another task ran on its thread. A task's poll runs on one thread from start
/// to end, so another task runs on it only once the first has returned `Pending` (from an
/// `.await`), or inside the first's poll: blocked in `block_in_place`, under a runtime whose
/// `block_on` runs tasks on this thread. Both look the same from here, and the warning is
/// worded for both (`lockprof_analysis`'s report).
#[cold]
#[inline(never)]
pub(crate) fn check_task_switch(local: &crate::local::Local, task: u64, at: &'static Location<'static>) {
    let yielded: Vec<crate::local::Held> = local.held().filter(|h| h.task != 0 && h.task != task).collect();
    if yielded.is_empty() {
        return;
    }
    let Some(_reentry) = crate::threads::enter_profiler() else { return };
    let observer = if task != 0 { task } else { local.thread_id() };
    let mut all = crate::records::await_warnings().lock().unwrap_or_else(|e| e.into_inner());
    for h in yielded {
        let warning = crate::records::AwaitHoldingLock {
            task: h.task,
            lock: h.lock(),
            held_at: h.at,
            observer,
            observed_at: at,
        };
        let seen = all.iter().any(|w| {
            std::ptr::eq(w.held_at, warning.held_at) && std::ptr::eq(w.observed_at, warning.observed_at)
        });
        if !seen && all.len() < crate::records::MAX_WARNINGS {
            crate::locks::pin(warning.lock);
            crate::threads::note_node(warning.task);
            crate::threads::note_node(observer);
            all.push(warning);
        }
    }
}
