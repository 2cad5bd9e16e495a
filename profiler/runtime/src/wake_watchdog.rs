//! How a wait that may have closed a deadlock among tasks asks the watchdog to look at once,
//! rather than at its next period: such a deadlock is confirmed only by the whole process
//! falling asleep for good (`crate::process_asleep`), which follows the cycle's closing by the
//! time the runtime's workers take to park, typically well under a millisecond. A leaf module,
//! so that the wait-for graph can ask without importing the watchdog.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;

static WATCHDOG: OnceLock<Thread> = OnceLock::new();
static SOON: AtomicBool = AtomicBool::new(false);

/// Called by the watchdog thread when it starts.
pub(crate) fn register_watchdog() {
    let _ = WATCHDOG.set(std::thread::current());
}

/// Asks the watchdog to check whether the process is asleep for good, now. Costs one store and
/// an unpark; called only on the slow path of a wait whose lock's holder waits too.
pub(crate) fn check_soon() {
    SOON.store(true, Ordering::SeqCst);
    if let Some(watchdog) = WATCHDOG.get() {
        watchdog.unpark();
    }
}

/// Whether a check was asked for since the last call (the watchdog's side).
pub(crate) fn take_request() -> bool {
    SOON.swap(false, Ordering::SeqCst)
}
