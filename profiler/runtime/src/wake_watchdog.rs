//! How a wait that may have closed a deadlock among tasks asks the watchdog to look at once,
//! rather than at its next period: such a deadlock is confirmed only by the whole process
//! falling asleep for good (`crate::process_asleep`), which follows the cycle's closing by the
//! time the runtime's workers take to park, typically well under a millisecond. A leaf module,
//! so that the wait-for graph can ask without importing the watchdog.

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::thread::Thread;

/// The watchdog's thread handle: a leaked box, one per watchdog started (one per process made
/// by `fork`, at most), so a pointer read here is always valid. Null in a child made by `fork`
/// until its own watchdog starts.
static WATCHDOG: AtomicPtr<Thread> = AtomicPtr::new(std::ptr::null_mut());
static SOON: AtomicBool = AtomicBool::new(false);

/// Called by the watchdog thread when it starts.
pub(crate) fn register_watchdog() {
    WATCHDOG.store(Box::into_raw(Box::new(std::thread::current())), Ordering::Release);
}

/// Called in a child made by `fork` (async-signal-safe: one store): the parent's watchdog is
/// not in it.
pub(crate) fn forget_watchdog() {
    WATCHDOG.store(std::ptr::null_mut(), Ordering::Release);
}

/// Asks the watchdog to check whether the process is asleep for good, now. Costs one store and
/// an unpark; called only on the slow path of a wait whose lock's holder waits too.
pub(crate) fn check_soon() {
    SOON.store(true, Ordering::SeqCst);
    // SAFETY: non-null pointers stored here come from `Box::into_raw` and are never freed.
    if let Some(watchdog) = unsafe { WATCHDOG.load(Ordering::Acquire).as_ref() } {
        watchdog.unpark();
    }
}

/// Whether a check was asked for since the last call (the watchdog's side).
pub(crate) fn take_request() -> bool {
    SOON.swap(false, Ordering::SeqCst)
}
