//! The initialisation lock of a one-time cell: an instrumented mutex, held by the thread whose
//! initialiser runs.

use std::panic::Location;

use lockprof_profiler::{LockKind, LockState};

use crate::raw::RawMutex;

/// The lock a one-time cell's initialiser runs under.
pub(super) struct InitLock {
    state: LockState,
    raw: RawMutex,
}

impl InitLock {
    /// A lock whose site is the caller's (the cell's creation).
    #[track_caller]
    pub(super) const fn new() -> Self {
        InitLock { state: LockState::new(LockKind::Once, None), raw: RawMutex::new() }
    }

    /// Takes the lock for an initialisation at `at`, through the ordinary lock path (order edges,
    /// deadlock detection).
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_DEADLOCK=panic`, when this wait closes a deadlock.
    #[track_caller]
    pub(super) fn hold(&self, at: &'static Location<'static>) -> InitGuard<'_> {
        self.state.lock(at, &self.raw);
        InitGuard(self)
    }
}

/// A held initialisation lock; released when dropped (also while unwinding, never poisoned).
pub(super) struct InitGuard<'a>(&'a InitLock);

impl Drop for InitGuard<'_> {
    fn drop(&mut self) {
        let release = self.0.state.releasing();
        // SAFETY: the guard exists only while this thread holds the raw lock; this is its one
        // release.
        unsafe { self.0.raw.unlock() };
        self.0.state.released(release);
    }
}
