//! The acquisitions that only the `parking_lot` flavour has, as the profiler's [`RawLock`]s over
//! parking_lot's raw reader-writer lock (plain reads and untimed writes are
//! [`crate::raw::RawRwLock::read`] and [`crate::raw::RawRwLock::write`]).
//!
//! The rule they keep: a timed exclusive acquisition (one that may set parking_lot's writer bit,
//! which keeps new readers out, and lift it again when it gives up) runs only where the profiler
//! counts it as a timed writer (`LockState::lock_within`, and the grace period of
//! `LockState::lock`). Waiters that queue behind writers publish a probe of the writer bit
//! ([`RawLock::writer_mark`]), which the detector requires to be set before it counts a queued
//! writer as blocking them.

use std::time::{Duration, Instant};

use ::parking_lot::RawRwLock;
use ::parking_lot::lock_api::{
    RawRwLock as _, RawRwLockRecursive as _, RawRwLockRecursiveTimed as _, RawRwLockTimed as _,
    RawRwLockUpgrade as _, RawRwLockUpgradeTimed as _,
};
use lockprof_profiler::{RawLock, WriterMark};

use crate::raw::writer_mark_of;

/// `read_recursive`: overtakes queued writers while other readers hold the lock.
pub(super) struct ReadRecursive<'a>(pub(super) &'a RawRwLock);

impl RawLock for ReadRecursive<'_> {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.0.try_lock_shared_recursive()
    }
    fn acquire_within(&self, timeout: Duration) -> bool {
        self.0.try_lock_shared_recursive_for(timeout)
    }
    fn acquire(&self) {
        self.0.lock_shared_recursive();
    }
}

/// `upgradable_read`. A timed upgradable acquisition only parks (it never sets the writer bit),
/// so parking_lot's own timed call is fine for the grace period.
pub(super) struct Upgradable<'a>(pub(super) &'a RawRwLock);

impl RawLock for Upgradable<'_> {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.0.try_lock_upgradable()
    }
    fn acquire_within(&self, timeout: Duration) -> bool {
        self.0.try_lock_upgradable_for(timeout)
    }
    fn acquire(&self) {
        self.0.lock_upgradable();
    }
    fn writer_mark(&self) -> Option<WriterMark> {
        Some(writer_mark_of(self.0))
    }
}

/// A timed write (`try_write_for`): parking_lot's own timed exclusive acquisition, which sets the
/// writer bit while it waits and clears it when it gives up. Only for `LockState::lock_within`,
/// which tells the detector that a timed writer is in flight meanwhile.
pub(super) struct TimedWrite<'a>(pub(super) &'a RawRwLock);

impl RawLock for TimedWrite<'_> {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.0.try_lock_exclusive()
    }
    fn acquire_within(&self, timeout: Duration) -> bool {
        self.0.try_lock_exclusive_for(timeout)
    }
    fn acquire(&self) {
        self.0.lock_exclusive();
    }
}

/// An upgrade of the upgradable lock the calling thread holds. The grace period polls
/// `try_upgrade` (which succeeds only once the upgrader is the last reader, without ever setting
/// the writer bit); only the untimed blocking upgrade sets it.
pub(super) struct Upgrade<'a>(&'a RawRwLock);

impl<'a> Upgrade<'a> {
    /// # Safety
    /// The calling thread must hold an upgradable lock of `raw`, and give it up (it becomes the
    /// exclusive lock) when an acquisition through this succeeds.
    pub(super) unsafe fn new(raw: &'a RawRwLock) -> Self {
        Upgrade(raw)
    }
}

impl RawLock for Upgrade<'_> {
    #[inline]
    fn try_acquire(&self) -> bool {
        // SAFETY: the thread holds an upgradable lock (`Upgrade::new`'s contract).
        unsafe { self.0.try_upgrade() }
    }
    fn acquire_within(&self, timeout: Duration) -> bool {
        poll_within(timeout, || self.try_acquire())
    }
    fn acquire(&self) {
        // SAFETY: as above.
        unsafe { self.0.upgrade() }
    }
}

/// A timed upgrade (`try_upgrade_for`): parking_lot's own timed upgrade, for
/// `LockState::lock_within` only (as [`TimedWrite`]).
pub(super) struct TimedUpgrade<'a>(&'a RawRwLock);

impl<'a> TimedUpgrade<'a> {
    /// # Safety
    /// As [`Upgrade::new`].
    pub(super) unsafe fn new(raw: &'a RawRwLock) -> Self {
        TimedUpgrade(raw)
    }
}

impl RawLock for TimedUpgrade<'_> {
    #[inline]
    fn try_acquire(&self) -> bool {
        // SAFETY: the thread holds an upgradable lock (`TimedUpgrade::new`'s contract).
        unsafe { self.0.try_upgrade() }
    }
    fn acquire_within(&self, timeout: Duration) -> bool {
        // SAFETY: as above; on timeout parking_lot leaves the upgradable lock held.
        unsafe { self.0.try_upgrade_for(timeout) }
    }
    fn acquire(&self) {
        // SAFETY: as above.
        unsafe { self.0.upgrade() }
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
