//! A lock call through the header: the lock types in `lockprof` acquire their raw lock through
//! [`LockState::lock`] and [`LockState::try_lock`], and call [`LockState::releasing`] right
//! before releasing it.
//!
//! The fast path is `lock` on a free lock with nothing else held, and `releasing`: plain stores
//! into the header and into the thread's own state ([`crate::local`]). No clock, no allocation,
//! no global lock, no backtrace. The one exception is a lock's very first acquisition, which
//! gives it an id and registers it. Waiting goes to [`crate::episode`].

use std::panic::Location;
use std::ptr;
use std::sync::atomic::Ordering;

use lockprof_trace::{Access, LockKind};

use super::{LockState, OWNER_ACCESS_SHIFT, Release};
use crate::local;
use crate::raw_lock::RawLock;

impl LockState {
    /// Acquires `raw` exclusively (blocking) for the caller at `at`, with all of lockprof's
    /// bookkeeping: lock-order edges from the locks the thread holds, deadlock detection if it
    /// has to wait, and the record of the new holder.
    ///
    /// The straight-line path (an already-registered lock, free, taken with nothing else held or
    /// under a held stack that has taken it before) is a raw `try_acquire`, a chain-cache probe
    /// and a few plain stores; everything else is out of line.
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_DEADLOCK=panic` (the default) when this wait closes a deadlock, and
    /// under `LOCKPROF_ON_INVERSION=panic` when it closes a lock-order cycle; in both cases
    /// without acquiring.
    #[inline]
    #[track_caller]
    pub fn lock<R: RawLock>(&self, at: &'static Location<'static>, raw: &R) {
        self.lock_as(at, raw, Access::Exclusive, 0);
    }

    /// [`LockState::lock`] for any access: `Shared` for a read lock, `Permits` with a count for
    /// a semaphore. `raw` must acquire in that access.
    ///
    /// # Panics
    /// As [`LockState::lock`].
    #[inline(always)]
    #[track_caller]
    pub fn lock_as<R: RawLock>(&self, at: &'static Location<'static>, raw: &R, access: Access, permits: u32) {
        let id = self.id.load(Ordering::Acquire);
        // Nothing held, or a held stack whose edges into this lock are recorded (one probe of
        // the chain cache, at any depth): no bookkeeping beyond the holder's record. Inside a
        // tokio task (feature `tokio`): one compare of tokio's id word with the thread's last
        // task's (the node is made only when the task changes), and a task holding async locks
        // takes the slow path, which records its orders.
        let word = crate::task_id::current_word();
        if id != 0
            && local::with(|l| {
                if l.enter_task_word(word) {
                    crate::warnings::check_task_switch(l, l.task(), at);
                }
                !crate::task_held::holds_any(l.current_task())
                    && (!l.holds_any() || crate::lock_order::recorded(l, id, access))
            })
            && raw.try_acquire()
        {
            self.hold_acquired(id, at, access, permits);
        } else {
            self.lock_slow(at, raw, access, permits, word);
        }
    }

    /// Everything [`LockState::lock`] keeps off its straight line: the first acquisition
    /// (registration), order edges when other locks are held, and waiting.
    #[inline(never)]
    #[track_caller]
    fn lock_slow(
        &self,
        at: &'static Location<'static>,
        raw: &dyn RawLock,
        access: Access,
        permits: u32,
        task_word: u64,
    ) {
        // Before any wait: a guard that another task keeps across `.await` on this thread is
        // warned about even if this call then blocks on it. (Entered already, unless the lock
        // had no id: the task's id word as the fast path read it.)
        crate::warnings::enter_task_word(task_word, at);
        let id = self.registered_id();
        self.record_order(id, access, false, at);
        if !raw.try_acquire() {
            // A thread that may block for good keeps no edge back (see `order_batch`).
            crate::order_batch::flush_own();
            self.wait_profiled(id, at, raw, access, permits);
        }
        self.hold_acquired(id, at, access, permits);
    }

    /// [`LockState::wait`], timed and recorded in the contention profile when it is kept.
    #[track_caller]
    fn wait_profiled(
        &self,
        id: u64,
        at: &'static Location<'static>,
        raw: &dyn RawLock,
        access: Access,
        permits: u32,
    ) {
        let Some(stats) = self.stats() else {
            self.wait(at, raw, access, permits);
            return;
        };
        // The wait's stacks and spans name the lock: the trace lists it from the registry.
        self.ensure_registered(id);
        let start = std::time::Instant::now();
        let start_ns = crate::contention::now_ns();
        // Counted until acquired, so that every hold meanwhile is charged (see `hold.rs`).
        let counted = self.waiter_arrives(start_ns);
        let episode_stack = self.wait(at, raw, access, permits);
        drop(counted);
        let waited = start.elapsed();
        stats.count_wait(waited);
        crate::contention::record_wait(id, waited, episode_stack, start_ns);
    }

    /// Records the order edges from every held lock to this one (taken with `access`, with a
    /// timeout if `timed`): one chain-cache probe when this held stack has taken it before.
    #[inline]
    #[track_caller]
    pub(super) fn record_order(&self, id: u64, access: Access, timed: bool, at: &'static Location<'static>) {
        let task = local::with(|l| l.task());
        if crate::task_held::holds_any(task) {
            // A task holding async locks: its orders are from those and from everything the
            // thread holds (a std lock blocks the thread, and every hold on it).
            let held = local::with(|l| l.held().collect());
            let recorded = crate::task_order::record(task, held, id, access, timed, at);
            if recorded.ordered {
                self.note_ordered(id);
            }
            if let Some(inversion) = recorded.inversion {
                std::panic::panic_any(inversion);
            }
            return;
        }
        if let Some(probe) = local::with(|l| crate::lock_order::needs_recording(l, id, access, timed)) {
            // Outside the thread-local closure, so that `#[track_caller]` points a panic at the
            // user's lock call.
            if let Some(inversion) = self.record_order_slow(id, access, timed, at, probe) {
                std::panic::panic_any(inversion);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn record_order_slow(
        &self,
        id: u64,
        access: Access,
        timed: bool,
        at: &'static Location<'static>,
        probe: u64,
    ) -> Option<String> {
        // Never recursively: a lock taken by the profiler's own machinery is not recorded.
        let _reentry = crate::threads::enter_profiler()?;
        if local::with(local::Local::first_time_named) {
            crate::threads::note_current(local::current_thread_id());
        }
        let recorded = crate::lock_order::record_edges(id, access, timed, at, probe, self.claim_fresh());
        if recorded.ordered {
            self.note_ordered(id);
        }
        recorded.inversion
    }

    /// Acquires `raw` within `timeout` (a timed acquisition such as `try_lock_for`). Records
    /// order edges, since it blocks, but its wait is never part of a reported deadlock: it ends
    /// by itself. Returns whether it acquired.
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_INVERSION=panic`, as [`LockState::lock`].
    #[track_caller]
    pub fn lock_within<R: RawLock>(
        &self,
        at: &'static Location<'static>,
        raw: &R,
        access: Access,
        permits: u32,
        timeout: std::time::Duration,
    ) -> bool {
        crate::warnings::enter_task_word(crate::task_id::current_word(), at);
        let id = self.registered_id();
        self.record_order(id, access, true, at);
        let counted =
            self.kind == LockKind::RwLock && matches!(access, Access::Exclusive | Access::Upgradable);
        if counted {
            self.permits.fetch_add(1, Ordering::SeqCst);
        }
        let acquired = raw.try_acquire() || {
            crate::order_batch::flush_own();
            self.wait_timed(at, raw, access, permits, timeout)
        };
        if counted {
            self.permits.fetch_sub(1, Ordering::SeqCst);
        }
        if acquired {
            self.hold_acquired(id, at, access, permits);
        }
        acquired
    }

    /// Acquires `raw` exclusively if it is free, without blocking (and so without lock-order
    /// edges or deadlock detection). Returns whether it acquired.
    #[inline]
    pub fn try_lock<R: RawLock>(&self, at: &'static Location<'static>, raw: &R) -> bool {
        self.try_lock_as(at, raw, Access::Exclusive, 0)
    }

    /// [`LockState::try_lock`] for any access.
    #[inline]
    pub fn try_lock_as<R: RawLock>(
        &self,
        at: &'static Location<'static>,
        raw: &R,
        access: Access,
        permits: u32,
    ) -> bool {
        let acquired = raw.try_acquire();
        if acquired {
            crate::warnings::enter_task_word(crate::task_id::current_word(), at);
            self.hold_acquired(self.registered_id(), at, access, permits);
        }
        acquired
    }

    /// Records an acquisition the lock type made on its raw lock by itself (a re-entrant
    /// re-lock, an upgrade), so the held set and holder stay exact.
    #[inline]
    pub fn note_acquired(&self, at: &'static Location<'static>, access: Access, permits: u32) {
        self.acquired_as(self.registered_id(), at, access, permits);
    }

    /// Records the calling thread as a holder (acquired at `at`, by the task of the thread's last
    /// [`local::Local::enter_task`], which every acquisition path calls first).
    #[inline(always)]
    fn acquired_as(&self, id: u64, at: &'static Location<'static>, access: Access, permits: u32) {
        self.acquired_counted(self.stats(), id, at, access, permits);
    }

    /// [`LockState::acquired_as`], with the lock's statistics already loaded.
    #[inline(always)]
    fn acquired_counted(
        &self,
        stats: Option<&crate::lock_stats::LockStats>,
        id: u64,
        at: &'static Location<'static>,
        access: Access,
        permits: u32,
    ) {
        if let Some(stats) = stats {
            stats.count_acquisition(access == Access::Exclusive);
        }
        local::with(|l| {
            if matches!(access, Access::Exclusive | Access::Upgradable) {
                // Site first, then owner with Release: a detector that reads this owner
                // (Acquire) also sees this site.
                self.acquired_at.store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
                self.owner.store(
                    l.thread_id() | (crate::tag::code(access) << OWNER_ACCESS_SHIFT),
                    Ordering::Release,
                );
            }
            l.push_held(crate::tag::make(id, access, permits), at);
        });
        if access == Access::Exclusive {
            self.note_written(id);
        }
    }

    /// [`LockState::acquired_as`] for an acquisition that starts a hold (every one but a
    /// re-entry or an upgrade, which continue the hold they are part of).
    #[inline(always)]
    fn hold_acquired(&self, id: u64, at: &'static Location<'static>, access: Access, permits: u32) {
        let stats = self.stats();
        self.acquired_counted(stats, id, at, access, permits);
        // Waiters are counted, and holds flagged, only when contention is profiled, that is,
        // for a lock with statistics (see `hold.rs`): without them there is nothing to look at.
        if stats.is_some() {
            self.hold_starts(access);
        }
    }

    /// Fast path: the calling thread is about to release the exclusive hold of the raw lock;
    /// pass what it returns to [`LockState::released`] once it has.
    #[inline(always)]
    pub fn releasing(&self) -> Release {
        self.releasing_as(Access::Exclusive)
    }

    /// The calling thread is about to release a hold of `access` (then [`LockState::released`]).
    #[inline(always)]
    pub fn releasing_as(&self, access: Access) -> Release {
        let id = self.id.load(Ordering::Relaxed);
        let key = local::class_key(crate::tag::make(id, access, 0));
        if !local::with(|l| l.pop_top(key)) {
            self.release_out_of_order(id, key);
        }
        if matches!(access, Access::Exclusive | Access::Upgradable) {
            self.owner.store(0, Ordering::Release);
        }
        self.hold_ends()
    }

    /// [`LockState::releasing_as`] past the top of the held stack, or of a hold that a
    /// lock-order edge recorded during it refers to (it tells this lock).
    #[cold]
    #[inline(never)]
    fn release_out_of_order(&self, id: u64, key: u64) {
        if local::with(|l| l.pop_held_slow(key)) {
            self.note_ordered(id);
        }
    }

    /// The calling thread is about to return `permits` permits it took in one acquisition
    /// (then [`LockState::released`]).
    pub fn releasing_permits(&self, permits: u32) -> Release {
        let id = self.id.load(Ordering::Relaxed);
        let tag = crate::tag::make(id, Access::Permits, permits);
        if local::with(|l| l.pop_held_exact(tag)) {
            self.note_ordered(id);
        }
        self.hold_ends()
    }

    /// The lock's id, given on its first acquisition (which also, the first time in the
    /// process, installs the exit hook that writes the trace). When contention is profiled, the
    /// lock gets its statistics block then: an unnamed mutex or reader-writer lock without
    /// registering (the trace lists it from its block, see `lock_stats/blocks.rs`), any other
    /// lock by registering. Otherwise it registers later, if something refers to it.
    #[inline]
    fn registered_id(&self) -> u64 {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 { id } else { self.first_acquisition() }
    }

    #[cold]
    #[inline(never)]
    fn first_acquisition(&self) -> u64 {
        crate::trace::writer::install_exit_hook();
        // A lock that takes a block has it with its id.
        let id = self.allocated_id();
        if crate::lock_stats::kept() && !self.takes_block() {
            self.ensure_registered(id);
        }
        id
    }
}
