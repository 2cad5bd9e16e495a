//! [`Once`]: `std::sync::Once` whose concurrent and re-entrant calls are waits in the graph.

use std::fmt;
use std::panic::Location;
use std::sync::OnceState;

use super::init_lock::InitLock;

/// A one-time global initialisation, with the API of [`std::sync::Once`] (and its poisoning);
/// waiting for another thread's `call_once` is a wait in the wait-for graph.
///
/// ```
/// use lockprof::sync::Once; // was: use std::sync::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    inner: std::sync::Once,
    init: InitLock,
}

impl Once {
    /// A new `Once`; `const`, for statics.
    ///
    /// ```
    /// static START: lockprof::sync::Once = lockprof::sync::Once::new();
    /// ```
    #[track_caller]
    #[allow(clippy::new_without_default)] // as std's
    pub const fn new() -> Once {
        Once { inner: std::sync::Once::new(), init: InitLock::new() }
    }

    /// Runs `f` if no call has completed, as std's; a call that has to wait for another thread's
    /// `f` waits in the graph, and one made from inside `f` is reported as a deadlock.
    ///
    /// ```
    /// let once = lockprof::sync::Once::new();
    /// once.call_once(|| println!("once"));
    /// ```
    ///
    /// # Panics
    /// As std's, if an earlier `f` panicked (the `Once` is poisoned); under
    /// `LOCKPROF_ON_DEADLOCK=panic`, when the wait closes a deadlock.
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.inner.is_completed() {
            return;
        }
        let _init = self.init.hold(Location::caller());
        self.inner.call_once(f);
    }

    /// [`Once::call_once`] that also runs if an earlier call panicked, as std's.
    ///
    /// ```
    /// let once = lockprof::sync::Once::new();
    /// once.call_once_force(|state| assert!(!state.is_poisoned()));
    /// ```
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_DEADLOCK=panic`, when the wait closes a deadlock.
    #[track_caller]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.inner.is_completed() {
            return;
        }
        let _init = self.init.hold(Location::caller());
        self.inner.call_once_force(f);
    }

    /// Whether a call has completed, as std's.
    ///
    /// ```
    /// let once = lockprof::sync::Once::new();
    /// assert!(!once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.inner.is_completed()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
