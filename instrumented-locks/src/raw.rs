//! The raw locks under lockprof's types, adapted to the profiler's [`RawLock`] trait.
//!
//! Mutexes and reader-writer locks use parking_lot's raw locks, because they have timed
//! acquisition (std's have none), which the profiler needs to give a blocked thread a short grace
//! period before it pays for deadlock detection (see `lockprof_profiler::GRACE`). parking_lot's
//! `RawRwLock` is task-fair: a reader queues behind a waiting writer, and the wait-for graph
//! models exactly that.

use std::time::Duration;

use lockprof_profiler::{RawLock, WriterMark};
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

    /// Unlocks fairly: hands the lock straight to a waiting thread, if there is one.
    ///
    /// # Safety
    /// The calling thread must hold the lock (acquired through this `RawMutex`).
    #[cfg_attr(not(feature = "parking_lot"), allow(dead_code))]
    #[inline]
    pub(crate) unsafe fn unlock_fair(&self) {
        use parking_lot::lock_api::RawMutexFair as _;
        // SAFETY: the caller holds the lock, as our own contract requires.
        unsafe { self.0.unlock_fair() }
    }

    /// Whether some thread holds the lock (a snapshot, for `is_locked`).
    #[cfg_attr(not(feature = "parking_lot"), allow(dead_code))]
    pub(crate) fn is_locked(&self) -> bool {
        self.0.is_locked()
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

/// A raw reader-writer lock.
pub(crate) struct RawRwLock(parking_lot::RawRwLock);

impl RawRwLock {
    pub(crate) const fn new() -> Self {
        RawRwLock(parking_lot::RawRwLock::INIT)
    }

    /// parking_lot's raw lock itself, for the operations only the `parking_lot` flavour has
    /// (recursive and upgradable reads, upgrades, downgrades).
    #[cfg_attr(not(feature = "parking_lot"), allow(dead_code))]
    #[inline]
    pub(crate) fn inner(&self) -> &parking_lot::RawRwLock {
        &self.0
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

/// The probe of a parking_lot `RawRwLock`'s writer mark: `is_locked_exclusive`, which is true
/// while a writer holds the lock or has marked it and waits for the readers to leave.
pub(crate) fn writer_mark_of(raw: &parking_lot::RawRwLock) -> WriterMark {
    /// # Safety
    /// `lock` must point to a live `parking_lot::RawRwLock`.
    unsafe fn probe(lock: *const ()) -> bool {
        // SAFETY: the caller guarantees `lock` points to a live `RawRwLock`.
        unsafe { &*lock.cast::<parking_lot::RawRwLock>() }.is_locked_exclusive()
    }
    // SAFETY: `probe` reads only the `RawRwLock` at the given address, which is valid as long as
    // the lock is alive, as `WriterMark::new` requires.
    unsafe { WriterMark::new(probe, std::ptr::from_ref(raw).cast()) }
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
    fn writer_mark(&self) -> Option<WriterMark> {
        Some(writer_mark_of(self.0))
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
    /// parking_lot's timed exclusive lock, which sets the writer mark while it waits and lifts it
    /// when it gives up; the profiler counts such attempts as timed writers while they run.
    fn acquire_within(&self, timeout: Duration) -> bool {
        self.0.try_lock_exclusive_for(timeout)
    }
    fn writer_mark(&self) -> Option<WriterMark> {
        Some(writer_mark_of(self.0))
    }
    fn acquire(&self) {
        self.0.lock_exclusive();
    }
}
