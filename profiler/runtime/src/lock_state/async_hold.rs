//! A hold of an async lock (tokio's, through `lockprof::tokio`) in the header: the holder is a
//! *node*, a task (or, outside any task, the thread), not the thread that happens to run it, and
//! nothing goes into a thread's held stack, since the guard may be held across `.await` and the
//! task resumed on another worker thread.
//!
//! Like the thread path, an acquisition is a few plain stores: the owner word and site for an
//! exclusive hold, a slot of the lock's [`AsyncHolders`] for a shared one.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::Ordering;

use lockprof_trace::Access;

use super::{LockState, OWNER_ACCESS_SHIFT};
use crate::async_holders::AsyncHolders;

/// What a guard of an async lock remembers of its hold, to release it.
///
/// ```
/// use lockprof_profiler::{Access, AsyncHold, LockKind, LockState};
/// use lockprof_profiler::async_holders::AsyncHolders;
/// let (state, holders) = (LockState::new(LockKind::Mutex, None), AsyncHolders::new());
/// let here = std::panic::Location::caller();
/// let hold: AsyncHold = state.async_acquired(7, here, Access::Exclusive, &holders);
/// state.async_releasing(hold, 7, &holders);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncHold {
    /// The node that took it.
    pub node: u64,
    access: Access,
    /// Shared holds and borrowed permits: the slot in the lock's table (+1; 0: not recorded).
    slot: u8,
    /// The entry in the task's held locks ([`crate::task_held`], +1; 0: not recorded).
    entry: u8,
}

impl AsyncHold {
    /// A hold that records nothing (lockprof bypassed, as inside its own machinery).
    pub const NONE: AsyncHold = AsyncHold { node: 0, access: Access::Permits, slot: 0, entry: 0 };

    /// The same hold, now shared (a downgraded write guard), without a table slot.
    pub fn downgraded(self) -> AsyncHold {
        AsyncHold { access: Access::Shared, slot: 0, entry: 0, ..self }
    }
}

impl LockState {
    /// Records `node` as a holder of this async lock (in `access`; permits are counted by the
    /// semaphore itself), acquired at `at`. Registers the lock on its first acquisition.
    #[inline]
    pub fn async_acquired(
        &self,
        node: u64,
        at: &'static Location<'static>,
        access: Access,
        holders: &AsyncHolders,
    ) -> AsyncHold {
        self.async_acquired_as(node, at, access, holders, true)
    }

    /// An acquisition through an *owned* guard (`lock_owned`, `acquire_owned`, …): counted, but
    /// its holder is not recorded, since owned guards are made to be moved into other tasks, and
    /// a wait is never justified by a hold whose holder is not known.
    #[inline]
    pub fn async_acquired_owned(
        &self,
        node: u64,
        at: &'static Location<'static>,
        access: Access,
        holders: &AsyncHolders,
    ) -> AsyncHold {
        self.async_acquired_as(node, at, access, holders, false)
    }

    #[inline]
    fn async_acquired_as(
        &self,
        node: u64,
        at: &'static Location<'static>,
        access: Access,
        holders: &AsyncHolders,
        attributed: bool,
    ) -> AsyncHold {
        let access = if attributed { access } else { Access::Permits };
        // A task's call on this thread: a std guard another task keeps across `.await` shows.
        let task = if node & crate::async_holders::TASK_NODE != 0 { node } else { 0 };
        crate::warnings::enter_task(task, at);
        let id = self.registered_async_id();
        // A task's borrowed guard: in its held locks, for its lock orders; unless this lock's
        // guards have been seen to move between tasks (see `task_held`).
        let entry = if task != 0 && access != Access::Permits && !holders.moved() {
            crate::task_held::push(task, crate::tag::make(id, access, 0), at)
        } else {
            0
        };
        if let Some(stats) = self.stats() {
            stats.count_acquisition(access == Access::Exclusive);
        }
        let slot = match access {
            Access::Exclusive | Access::Upgradable => {
                self.acquired_at.store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
                self.owner.store(node | (crate::tag::code(access) << OWNER_ACCESS_SHIFT), Ordering::Release);
                0
            }
            Access::Shared | Access::SharedRecursive => holders.insert(node, at),
            // A borrowed permit, recorded like a reader, only to show who holds permits when the
            // whole process is asleep for good (`crate::process_asleep`); never relied on.
            Access::Permits if attributed => holders.insert(node, at),
            Access::Permits => 0,
        };
        AsyncHold { node, access, slot, entry }
    }

    /// Node `node` starts acquiring this async lock with `access` at `at` (an acquire future's
    /// first poll, or a `blocking_*` call): records the lock-order edges from what it holds, as
    /// a thread's blocking acquisition does. Nothing held: a compare or two.
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_INVERSION=panic`, when this closes a lock-order cycle.
    #[inline]
    #[track_caller]
    pub fn async_acquiring(&self, node: u64, at: &'static Location<'static>, access: Access) {
        if node & crate::async_holders::TASK_NODE == 0 {
            // A thread (`blocking_*`, or polling outside any task): its own held stack.
            // A thread polling outside any task: its caller found no task (`try_id`), so it is
            // not asked again. A `blocking_*` call (the thread's own id) may run inside one,
            // under `block_in_place`.
            let word = if node & crate::async_holders::POLLING_THREAD_NODE != 0 {
                0
            } else {
                crate::task_id::current_word()
            };
            let holds = crate::local::with(|l| {
                if l.enter_task_word(word) {
                    crate::warnings::check_task_switch(l, l.task(), at);
                }
                l.holds_any()
            });
            if holds {
                let id = self.registered_async_id();
                self.record_order(id, access, false, at);
            }
            return;
        }
        let thread_holds = crate::local::with(|l| {
            if l.enter_task(node) {
                crate::warnings::check_task_switch(l, node, at);
            }
            l.holds_any()
        });
        if thread_holds || crate::task_held::holds_any(node) {
            self.record_task_order(node, at, access);
        }
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn record_task_order(&self, node: u64, at: &'static Location<'static>, access: Access) {
        let id = self.registered_async_id();
        // The std locks this task took on this thread (another task's, kept across its own
        // `.await`, do not block this one: it yields while it waits).
        let held = crate::task_order::thread_held_by(node);
        let recorded = crate::task_order::record(node, held, id, access, false, at);
        if recorded.ordered {
            self.note_ordered(id);
        }
        if let Some(inversion) = recorded.inversion {
            std::panic::panic_any(inversion);
        }
    }

    /// `releaser` is about to release `hold`. A release by another node than the taker means
    /// this lock's guards move, and its holds are not relied on from then on.
    #[inline]
    pub fn async_releasing(&self, hold: AsyncHold, releaser: u64, holders: &AsyncHolders) {
        if hold == AsyncHold::NONE {
            return;
        }
        if releaser != hold.node {
            holders.mark_moved();
        }
        match hold.access {
            Access::Exclusive | Access::Upgradable => self.owner.store(0, Ordering::Release),
            Access::Shared | Access::SharedRecursive | Access::Permits => holders.remove(hold.slot),
        }
        let id = self.id.load(Ordering::Relaxed);
        if hold.entry != 0 {
            crate::task_held::remove(hold.node, hold.entry, crate::tag::make(id, hold.access, 0), releaser);
        }
        if self.waited_since.load(Ordering::Relaxed) != 0 {
            self.charge_async_holder(id, releaser);
        }
    }

    #[cold]
    #[inline(never)]
    fn charge_async_holder(&self, id: u64, releaser: u64) {
        let since = self.waited_since.swap(0, Ordering::Relaxed);
        if let (Some(stats), true) = (self.stats(), since != 0) {
            crate::contention::record_hold_of(releaser, id, stats, since, crate::contention::now_ns());
        }
    }

    /// Flags the current hold as contended from `start_ns` (profiler clock), so that its release
    /// charges the holder.
    pub(crate) fn flag_waited(&self, start_ns: u64) {
        let _ = self.waited_since.compare_exchange(0, start_ns, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The registry id, registering the lock on its first acquisition (and installing the exit
    /// hook that writes the trace).
    #[inline]
    pub(crate) fn registered_async_id(&self) -> u64 {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 { id } else { self.first_async_acquisition() }
    }

    #[cold]
    #[inline(never)]
    fn first_async_acquisition(&self) -> u64 {
        crate::trace::writer::install_exit_hook();
        self.id()
    }
}
