//! Contended hold time: how long the lock was held while at least one other thread waited for
//! it (the union of those intervals), charged to the holders that kept it.
//!
//! Two words of the header carry it: `waiters`, the profiled waiters queued right now, and
//! `waited_since`, when the current hold started making someone wait (0: nobody yet).
//!
//! - A waiter counts itself in, then flags the hold (`waited_since`: 0 → now) if nobody has.
//! - Every acquisition of a lock with statistics (kept when contention is profiled) looks at
//!   both words (two loads; the clock only if one is set): if others
//!   still wait, its hold is contended from its first instant, so an exclusive holder sets
//!   `waited_since` to now. This is what charges the *next* holder while waiters stay queued
//!   across a hand-over. If nobody waits but the flag is set, the flag is stale (its waiter has
//!   acquired since, or gave up by unwinding) and is cleared.
//! - A release charges the holder `now - waited_since` and clears it, and re-arms it to now if
//!   others still wait: holders still in charge (other readers or permit holders, the outer
//!   hold of a re-entrant lock) are charged from there on, not from the first waiter's arrival
//!   twice. If nobody holds it any more, the next acquisition replaces the re-armed value.
//! - A re-entry or an upgrade (`note_acquired`) continues its hold and does not restart it.
//!
//! The waiters of one hold form one interval, so per lock the charges add up to the union;
//! holds of one exclusive lock never overlap. Waiters are counted only when contention is
//! profiled, so without `LOCKPROF_TRACE` both words stay 0: an acquisition does not look at
//! them, and a release costs one load.

use std::sync::atomic::Ordering::SeqCst;

use lockprof_trace::Access;

use super::{LockState, Release};

/// A profiled waiter, counted in `waiters` from its arrival until it has acquired, or until its
/// wait unwinds (a deadlock panic).
pub(super) struct CountedWaiter<'a> {
    lock: &'a LockState,
}

impl LockState {
    /// A profiled waiter arrives at `now_ns`: the current hold is contended from now on.
    pub(super) fn waiter_arrives(&self, now_ns: u64) -> CountedWaiter<'_> {
        self.waiters.fetch_add(1, SeqCst);
        let _ = self.waited_since.compare_exchange(0, now_ns, SeqCst, SeqCst);
        CountedWaiter { lock: self }
    }

    /// The calling thread has just acquired in `access`. Two loads; the rest is out of line.
    #[inline]
    pub(super) fn hold_starts(&self, access: Access) {
        if self.waiters.load(SeqCst) != 0 || self.waited_since.load(SeqCst) != 0 {
            self.contended_acquisition(access);
        }
    }

    #[cold]
    #[inline(never)]
    fn contended_acquisition(&self, access: Access) {
        // `waited_since` first: a flag read here and no waiter read after it is one whose
        // waiter is gone (waiters leave only by acquiring, or by unwinding).
        let since = self.waited_since.load(SeqCst);
        if self.waiters.load(SeqCst) != 0 {
            let now = crate::contention::now_ns();
            if exclusive(access) {
                // Nobody else holds: this hold is contended from its first instant.
                self.waited_since.store(now, SeqCst);
            } else {
                // Other shared holders may be charged from an earlier instant: keep theirs.
                let _ = self.waited_since.compare_exchange(0, now, SeqCst, SeqCst);
            }
        } else if since != 0 && self.waited_since.compare_exchange(since, 0, SeqCst, SeqCst).is_ok() {
            // A waiter that arrived after the load of `waiters` failed to flag (the stale flag
            // was set) before the clear; it is counted by now, so it is seen here.
            if self.waiters.load(SeqCst) != 0 {
                let now = crate::contention::now_ns();
                let _ = self.waited_since.compare_exchange(0, now, SeqCst, SeqCst);
            }
        }
    }

    /// The calling thread is about to release a hold on lock `id`: if someone waited during it,
    /// takes the charge (cold); the holder is charged, and its stack walked, by
    /// [`LockState::released`] once the raw lock is released, so that the walk never lengthens
    /// the critical section the waiters wait for.
    #[inline(always)]
    pub(super) fn hold_ends(&self) -> Release {
        if self.waited_since.load(SeqCst) != 0 { self.take_charge() } else { Release(0) }
    }

    #[cold]
    #[inline(never)]
    fn take_charge(&self) -> Release {
        let since = self.waited_since.swap(0, SeqCst);
        if since == 0 || self.stats().is_none() {
            return Release(0);
        }
        if self.waiters.load(SeqCst) != 0 {
            // Someone may still hold it (another reader or permit holder, the outer hold of a
            // re-entrant lock): charged from here. If nobody does, the next acquisition
            // replaces this with its own start.
            let now = crate::contention::now_ns();
            let _ = self.waited_since.compare_exchange(0, now, SeqCst, SeqCst);
        }
        Release(since)
    }

    /// The raw lock has been released after [`LockState::releasing`] (or `releasing_as`,
    /// `releasing_permits`) returned `release`: charges the holder for the part of its hold
    /// during which someone waited, with its stack (cold, only if someone did).
    ///
    /// ```
    /// use lockprof_profiler::{LockKind, LockState};
    /// let state = LockState::new(LockKind::Mutex, None);
    /// let release = state.releasing(); // (after an acquisition, in a real lock)
    /// state.released(release);
    /// ```
    #[inline(always)]
    pub fn released(&self, release: Release) {
        if release.0 != 0 {
            self.charge_holder(release.0);
        }
    }

    #[cold]
    #[inline(never)]
    fn charge_holder(&self, since: u64) {
        let Some(stats) = self.stats() else { return };
        let id = self.id.load(std::sync::atomic::Ordering::Relaxed);
        crate::contention::record_hold(id, stats, since, crate::contention::now_ns());
    }
}

fn exclusive(access: Access) -> bool {
    matches!(access, Access::Exclusive | Access::Upgradable)
}

impl Drop for CountedWaiter<'_> {
    fn drop(&mut self) {
        self.lock.waiters.fetch_sub(1, SeqCst);
    }
}
