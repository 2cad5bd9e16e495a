//! The lock half of the registry: every live lock that something refers to (a wait, a finding,
//! contention figures, a write of a reader-writer lock), with its creation site and name, and
//! every dropped lock that a finding or a lock-order edge still refers to (it is *pinned*, or
//! kept by the order graph because it is on a cycle), so the trace can name it; and the lock
//! ids.
//!
//! A lock registers lazily (see `lock_state.rs`): one allocation in its lifetime, never on the
//! steady-state fast path, and none at all for a lock nothing refers to (with a trace kept, the
//! trace lists such a lock from its statistics block, see `lock_stats/blocks.rs`). It unregisters when
//! dropped unless pinned, so programs that create and drop many locks do not grow the registry.

use std::panic::Location;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use std::borrow::Cow;

use crate::id_hash::IdHash;
use crate::sharded_map::ShardedMap;
use std::cell::Cell;

use crate::lock_stats::{StatsBlock, StatsRef};
use lockprof_trace::LockKind;

/// What the registry keeps about one lock.
#[derive(Debug, Clone)]
pub(crate) struct LockInfo {
    pub kind: LockKind,
    pub site: &'static Location<'static>,
    pub name: Option<Cow<'static, str>>,
    /// Kept after the lock is dropped, because a finding, an order edge or its contention
    /// refers to it.
    pub pinned: bool,
    /// A lock-order edge starts from it or is gated by it: on its drop, the order graph decides
    /// whether to keep it (its header knows too, unless its hold was never released).
    pub ordered: bool,
    /// Reader-writer locks: taken for writing at least once.
    pub written: bool,
    /// Semaphores: permits in all, when known and fixed.
    pub capacity: Option<u32>,
    /// Its contention statistics, if they are kept (the block its header owns).
    pub stats: Option<StatsRef>,
}

/// The next block of lock ids to hand to a thread.
static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);

/// Ids a thread takes from [`NEXT_ID_BLOCK`] at once: threads that create locks at the same
/// time touch the shared counter once per this many locks, not once per lock.
const ID_BLOCK: u64 = 256;

thread_local! {
    /// The calling thread's ids: the next one and the end of its block.
    static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A fresh lock id: never 0, never handed out twice, at most 40 bits for 2⁴⁰ / [`ID_BLOCK`]
/// blocks (the held stack's tags keep 40 bits of it).
pub(crate) fn next_id() -> u64 {
    let take = |(next, end): (u64, u64)| {
        if next < end {
            (next, end)
        } else {
            let start = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
            (start, start + ID_BLOCK)
        }
    };
    let fresh = |ids: &Cell<(u64, u64)>| {
        let (id, end) = take(ids.get());
        ids.set((id + 1, end));
        id
    };
    // A thread whose storage is being torn down takes a block of one.
    IDS.try_with(fresh).unwrap_or_else(|_| NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed))
}

pub(crate) fn registry() -> &'static ShardedMap<u64, LockInfo, IdHash> {
    static LOCKS: OnceLock<ShardedMap<u64, LockInfo, IdHash>> = OnceLock::new();
    LOCKS.get_or_init(ShardedMap::new)
}

/// Records lock `id` (of `kind`, created at `site`, named `name`), unless it is recorded.
pub(crate) fn register(
    id: u64,
    kind: LockKind,
    site: &'static Location<'static>,
    name: Option<Cow<'static, str>>,
    stats: Option<&'static StatsBlock>,
    written: bool,
) {
    let info = || LockInfo {
        kind,
        site,
        name,
        pinned: false,
        ordered: false,
        written,
        capacity: None,
        stats: stats.map(StatsRef::new),
    };
    registry().with_or_insert_mut(id, info, |info| {
        info.written |= written;
        // An entry made without the header (by a flush of edges into a fresh lock) gains the
        // statistics when the header registers.
        if info.stats.is_none() {
            info.stats = stats.map(StatsRef::new);
        }
    });
}

/// Keeps `id` in the registry after its lock is dropped.
pub(crate) fn pin(id: u64) {
    registry().with_mut(&id, |info| info.pinned = true);
}

/// Marks `id` as referred to by a lock-order edge, if it is registered (returns whether).
pub(crate) fn note_ordered(id: u64) -> bool {
    registry().with_mut(&id, |info| info.ordered = true).is_some()
}

/// Whether registered lock `id` is marked as referred to by a lock-order edge.
pub(crate) fn is_ordered(id: u64) -> bool {
    registry().with(&id, |info| info.ordered).unwrap_or(false)
}

/// Where lock `id` was created, if it is registered.
pub(crate) fn site_of(id: u64) -> Option<&'static Location<'static>> {
    registry().with(&id, |info| info.site)
}

/// Notes that reader-writer lock `id` was taken for writing.
pub(crate) fn note_written(id: u64) {
    registry().with_mut(&id, |info| info.written = true);
}

/// Notes semaphore `id`'s capacity (`None`: it is a signal, with no fixed capacity).
pub(crate) fn note_capacity(id: u64, capacity: Option<u32>) {
    registry().with_mut(&id, |info| info.capacity = capacity);
}

/// Dropped locks kept for their contention figures alone, at most (beyond this, a program that
/// creates and drops many locks loses the figures of the later ones rather than growing).
pub const MAX_KEPT_FOR_FIGURES: u64 = 10_000;

/// Dropped locks kept for their figures so far.
static KEPT: AtomicU64 = AtomicU64::new(0);

/// Whether a dropped lock with contention figures would still be kept for them (a lock that
/// never registered registers at its drop then; past the bound it need not).
pub(crate) fn keeping_figures() -> bool {
    KEPT.load(Ordering::Relaxed) < MAX_KEPT_FOR_FIGURES
}

/// Called when a registered lock is dropped. `kept_by_order`: whether the order graph keeps its
/// edges, if the caller knows; if not (`None`), an entry marked [`LockInfo::ordered`] is kept
/// and `true` returned, for the caller to ask the graph and call again. Otherwise the registry
/// forgets the lock unless something refers to it or it has contention figures (within
/// [`MAX_KEPT_FOR_FIGURES`]). One shard lock in the common case.
pub(crate) fn unregister(id: u64, kept_by_order: Option<bool>) -> bool {
    let mut ask_the_graph = false;
    registry().remove_if(&id, |info| {
        let kept = match kept_by_order {
            Some(kept) => kept,
            None if info.ordered => {
                ask_the_graph = true;
                true
            }
            None => false,
        };
        if info.pinned || kept {
            return false;
        }
        let has_figures = info.stats.as_ref().is_some_and(|s| s.acquisitions.load(Ordering::Relaxed) > 0);
        !(has_figures && KEPT.fetch_add(1, Ordering::Relaxed) < MAX_KEPT_FOR_FIGURES)
    });
    ask_the_graph
}
