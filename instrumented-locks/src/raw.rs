//! The raw locks under lockprof's types, adapted to the profiler's [`RawLock`] trait.
//!
//! Mutexes and reader-writer locks use parking_lot's raw locks, because they have timed
//! acquisition (std's have none), which the profiler needs to give a blocked thread a short grace
//! period before it pays for deadlock detection (see `lockprof_profiler::GRACE`). parking_lot's
//! `RawRwLock` is task-fair: a reader queues behind a waiting writer, and the wait-for graph
//! models exactly that.

use std::time::{Duration, Instant};

use lockprof_profiler::RawLock;
use parking_lot::lock_api::{RawMutex as _, RawMutexTimed as _, RawRwLock as _, RawRwLockTimed as _};

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

/// Retries `attempt` (spinning briefly, then yielding) until it succeeds or `timeout` passes.
fn poll_within(timeout: Duration, mut attempt: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut spins = 0u32;
    loop {
        if attempt() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        if spins < 64 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// A raw reader-writer lock.
pub(crate) struct RawRwLock(parking_lot::RawRwLock);

impl RawRwLock {
    pub(crate) const fn new() -> Self {
        RawRwLock(parking_lot::RawRwLock::INIT)
    }

    /// The read side, as a [`RawLock`].
    #[inline]
    pub(crate) fn read(&self) -> Read<'_> {
        Read(&self.0)
    }

    /// The write side, as a [`RawLock`].
    #[inline]
    pub(crate) fn write(&self) -> Write<'_> {
        Write(&self.0)
    }

    /// # Safety
    /// The calling thread must hold a read lock acquired through this `RawRwLock`.
    #[inline]
    pub(crate) unsafe fn unlock_read(&self) {
        // SAFETY: the caller holds a shared lock, as our own contract requires.
        unsafe { self.0.unlock_shared() }
    }

    /// # Safety
    /// The calling thread must hold the write lock acquired through this `RawRwLock`.
    #[inline]
    pub(crate) unsafe fn unlock_write(&self) {
        // SAFETY: the caller holds the exclusive lock, as our own contract requires.
        unsafe { self.0.unlock_exclusive() }
    }
}

pub(crate) struct Read<'a>(&'a parking_lot::RawRwLock);
pub(crate) struct Write<'a>(&'a parking_lot::RawRwLock);

impl RawLock for Read<'_> {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.0.try_lock_shared()
    }
    fn acquire_within(&self, timeout: Duration) -> bool {
        self.0.try_lock_shared_for(timeout)
    }
    fn acquire(&self) {
        self.0.lock_shared();
    }
}

impl RawLock for Write<'_> {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.0.try_lock_exclusive()
    }
    /// Polls instead of parking_lot's timed exclusive lock: that one marks the lock as wanted by
    /// a writer while it waits (which blocks new readers) and unmarks it when it times out. The
    /// detector relies on that mark being held only by writers that wait until they get the
    /// lock, so the grace period must not set it.
    fn acquire_within(&self, timeout: Duration) -> bool {
        poll_within(timeout, || self.0.try_lock_exclusive())
    }
    fn acquire(&self) {
        self.0.lock_exclusive();
    }
}
