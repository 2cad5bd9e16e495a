//! The raw lock under `lockprof::Mutex`: parking_lot's word-sized mutex, chosen because it has a
//! timed acquire (std's has none). The profiler needs one so that a blocked thread can give the
//! lock a short grace period before it pays for deadlock detection (see `lockprof_profiler::GRACE`).

use std::time::Duration;

use lockprof_profiler::RawLock;
use parking_lot::lock_api::{RawMutex as _, RawMutexTimed as _};

/// A raw mutex: no data, no guard, no poisoning.
pub(crate) struct RawMutex(parking_lot::RawMutex);

impl RawMutex {
    pub(crate) const fn new() -> Self {
        RawMutex(parking_lot::RawMutex::INIT)
    }

    /// # Safety
    /// The calling thread must hold the lock (acquired through this `RawMutex`).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock, as our own contract requires.
        unsafe { self.0.unlock() }
    }
}

impl RawLock for RawMutex {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.0.try_lock()
    }

    fn acquire_within(&self, timeout: Duration) -> bool {
        self.0.try_lock_for(timeout)
    }

    fn acquire(&self) {
        self.0.lock();
    }
}
