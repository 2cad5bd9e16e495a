//! Joins: a thread's lifetime as a lock the thread holds exclusively from its start until its
//! closure returns ([`lockprof_trace::LockKind::Thread`]), and a join as an untimed exclusive
//! wait for it. A thread that holds a lock and joins a thread waiting for that lock is then an
//! ordinary cycle of the wait-for graph.
//!
//! The lifetime is kept in the owner word only, never on the thread's held stack: the locks the
//! thread takes keep their fast path and get no order edge from its lifetime (a join is not a
//! lock acquisition and records no order edge either). The "raw lock" of a lifetime, supplied by
//! `lockprof::thread`, is acquired once the thread's closure has returned and never released.
//!
//! Why the detector's facts hold (see `wait_for_graph`): the owner word names the thread only
//! between [`LockState::thread_started`] and [`LockState::thread_ending`], both called by the
//! thread itself, so it is set by its holder and cleared by it before the raw lock can be taken
//! (fact 2), and the thread holds its lifetime through every one of its episodes (fact 1). A join
//! ends only by taking the raw lock, which needs the thread to have left every episode first: so
//! a join is an AND-wait whose one blocker is the joined thread, as a mutex wait is.

use std::panic::Location;

use lockprof_trace::Access;

use crate::lock_state::LockState;
use crate::raw_lock::RawLock;

impl LockState {
    /// On a new thread, before its closure runs: the thread holds its lifetime.
    ///
    /// ```
    /// use lockprof_profiler::{LockKind, LockState};
    /// let life = LockState::new(LockKind::Thread, None);
    /// life.thread_started();
    /// life.thread_ending();
    /// ```
    pub fn thread_started(&self) {
        self.own_without_holding(self.site());
    }

    /// On the same thread, once its closure has returned or unwound, before the lifetime's raw
    /// lock becomes acquirable.
    pub fn thread_ending(&self) {
        self.disown();
    }

    /// A join: waits until `raw` (the lifetime's end) can be acquired, checking for a deadlock
    /// first if the wait is not brief. `can_unwind`: whether a panic of the caller ends its wait
    /// (false for the implicit join at the end of `thread::scope`; a deadlock found there aborts
    /// under the `panic` policy).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    /// use lockprof_profiler::{LockKind, LockState, RawLock};
    ///
    /// struct Ended(AtomicBool);
    /// impl RawLock for Ended {
    ///     fn try_acquire(&self) -> bool {
    ///         self.0.load(Ordering::Acquire)
    ///     }
    ///     fn acquire_within(&self, _: Duration) -> bool {
    ///         self.try_acquire()
    ///     }
    ///     fn acquire(&self) {
    ///         while !self.try_acquire() {
    ///             std::thread::yield_now();
    ///         }
    ///     }
    /// }
    /// let life = LockState::new(LockKind::Thread, None);
    /// life.join_wait(std::panic::Location::caller(), &Ended(AtomicBool::new(true)), true);
    /// ```
    ///
    /// # Panics
    /// Under the `panic` deadlock policy, when this join closes a deadlock and `can_unwind`.
    #[track_caller]
    pub fn join_wait<R: RawLock>(&self, at: &'static Location<'static>, raw: &R, can_unwind: bool) {
        if raw.try_acquire() {
            return;
        }
        crate::trace::writer::install_exit_hook();
        self.wait_unwinding(at, raw, Access::Exclusive, 0, can_unwind);
    }
}
