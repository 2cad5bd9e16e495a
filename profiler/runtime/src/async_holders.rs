//! What an async lock (tokio's, wrapped by `lockprof::tokio`) keeps beside its header: the nodes
//! (tasks or threads) that hold it shared, and whether its guards have been seen to move between
//! nodes.
//!
//! A task's read guard may be held across `.await` and the task resumed on any worker thread, so
//! its holds cannot live in a thread's held stack ([`crate::local`]); they live in the lock. The
//! table is small and fixed: readers beyond it are not recorded, which only ever makes the
//! detector see fewer blockers (an AND-wait needs just one), never more.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// How many shared holders a lock records.
pub const SHARED_SLOTS: usize = 8;

/// Node-id bit of a task (a tokio task id with this bit set); thread ids never reach it. Below
/// 2^53, so that node ids stay exact in JSON readers that parse numbers as doubles (Perfetto).
pub const TASK_NODE: u64 = lockprof_trace::schema::TASK_BIT;

/// Node-id bit of a thread polling a future outside any task (`block_on`): a node of its own,
/// distinct from the thread's blocking waits.
pub const POLLING_THREAD_NODE: u64 = 1 << 47;

/// Whether `node` is a task or a future polled outside any task: a node that may poll other
/// futures while one of its waits is published (see `crate::wait_for_graph`, "Tasks").
pub(crate) fn is_async_node(node: u64) -> bool {
    node & (TASK_NODE | POLLING_THREAD_NODE) != 0
}

/// Shared holders and the moved flag of one async lock.
///
/// ```
/// use lockprof_profiler::async_holders::AsyncHolders;
/// static HOLDERS: AsyncHolders = AsyncHolders::new();
/// assert!(!HOLDERS.moved());
/// ```
pub struct AsyncHolders {
    /// Node ids of shared holders, 0 for a free slot. Set by the holder after acquiring, cleared
    /// before releasing, as a lock header's owner word.
    nodes: [AtomicU64; SHARED_SLOTS],
    sites: [AtomicPtr<Location<'static>>; SHARED_SLOTS],
    /// A guard of this lock was released by another node than the one that took it: guards of
    /// this lock travel (into spawned tasks, through channels), so who holds it is not known,
    /// and its holds never justify a wait from then on.
    moved: AtomicBool,
    /// Places in the lock's FIFO queue (see [`crate::tasks`]): a waiter reads it before its
    /// first poll and increments it after that poll returned `Pending`.
    tickets: AtomicU64,
}

impl AsyncHolders {
    /// An empty table.
    pub const fn new() -> Self {
        AsyncHolders {
            nodes: [const { AtomicU64::new(0) }; SHARED_SLOTS],
            sites: [const { AtomicPtr::new(ptr::null_mut()) }; SHARED_SLOTS],
            moved: AtomicBool::new(false),
            tickets: AtomicU64::new(0),
        }
    }

    /// The ticket a waiter reads before its first poll (a plain load: the uncontended path).
    #[inline]
    pub fn ticket_before(&self) -> u64 {
        self.tickets.load(Ordering::SeqCst)
    }

    /// The ticket a waiter draws once its first poll returned `Pending`: a writer whose `after`
    /// is at most a reader's `before` was queued before the reader.
    pub fn ticket_after(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether a guard of this lock has been released by another node than its taker.
    pub fn moved(&self) -> bool {
        self.moved.load(Ordering::SeqCst)
    }

    pub(crate) fn mark_moved(&self) {
        self.moved.store(true, Ordering::SeqCst);
    }

    /// Records `node` as a shared holder; returns its slot + 1, or 0 if the table is full.
    pub(crate) fn insert(&self, node: u64, at: &'static Location<'static>) -> u8 {
        for (i, slot) in self.nodes.iter().enumerate() {
            if slot.load(Ordering::Relaxed) == 0 {
                // The site is stored after the node, so a detector may pair a new holder with the
                // previous holder's site for an instant: the site is only shown, never relied on.
                if slot.compare_exchange(0, node, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                    self.sites[i].store(ptr::from_ref(at).cast_mut(), Ordering::SeqCst);
                    return i as u8 + 1;
                }
            }
        }
        0
    }

    /// Clears slot `slot` (as returned by `insert`; 0 does nothing).
    pub(crate) fn remove(&self, slot: u8) {
        if let Some(i) = usize::from(slot).checked_sub(1) {
            self.nodes[i].store(0, Ordering::SeqCst);
        }
    }

    /// The recorded shared holders and their sites (slow path).
    pub(crate) fn shared(&self) -> Vec<(u64, &'static Location<'static>)> {
        let mut out = Vec::new();
        for (i, slot) in self.nodes.iter().enumerate() {
            let node = slot.load(Ordering::SeqCst);
            if node != 0 {
                let at = self.sites[i].load(Ordering::SeqCst);
                // SAFETY: `sites` only ever holds null or a `&'static Location` stored by `insert`.
                let at = unsafe { at.as_ref() }.unwrap_or(Location::caller());
                out.push((node, at));
            }
        }
        out
    }
}

impl Default for AsyncHolders {
    fn default() -> Self {
        AsyncHolders::new()
    }
}

impl std::fmt::Debug for AsyncHolders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncHolders").field("moved", &self.moved()).finish_non_exhaustive()
    }
}
