//! The lock half of the registry: every live lock that has been acquired, with its creation site
//! and name, and every dropped lock that a finding or a lock-order edge still refers to (it is
//! *pinned*, or kept by the order graph because it is on a cycle), so the trace can name it.
//!
//! A lock registers on its first acquisition (one allocation in its lifetime, never on the
//! steady-state fast path) and unregisters when dropped unless pinned, so programs that create
//! and drop many locks do not grow the registry.

use std::panic::Location;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use std::borrow::Cow;

use crate::sharded_map::ShardedMap;

use crate::lock_stats::LockStats;
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
    /// It has (or had) lock-order edges: on its drop, the order graph decides whether to keep it.
    pub ordered: bool,
    /// Reader-writer locks: taken for writing at least once.
    pub written: bool,
    /// Semaphores: permits in all, when known and fixed.
    pub capacity: Option<u32>,
    /// Its contention statistics, if they are kept.
    pub stats: Option<Arc<LockStats>>,
}

static NEXT_LOCK_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn registry() -> &'static ShardedMap<u64, LockInfo> {
    static LOCKS: OnceLock<ShardedMap<u64, LockInfo>> = OnceLock::new();
    LOCKS.get_or_init(ShardedMap::new)
}

/// Gives a lock (of `kind`, created at `site`, named `name`) a fresh id and records it.
pub(crate) fn register(
    kind: LockKind,
    site: &'static Location<'static>,
    name: Option<Cow<'static, str>>,
    stats: Option<Arc<LockStats>>,
) -> u64 {
    let id = NEXT_LOCK_ID.fetch_add(1, Ordering::Relaxed);
    let info =
        LockInfo { kind, site, name, pinned: false, ordered: false, written: false, capacity: None, stats };
    registry().insert(id, info);
    id
}

/// Keeps `id` in the registry after its lock is dropped.
pub(crate) fn pin(id: u64) {
    registry().with_mut(&id, |info| info.pinned = true);
}

/// Marks `id` as having lock-order edges (or being a gate of one): its drop asks the order graph
/// whether it must be kept.
pub(crate) fn note_ordered(id: u64) {
    registry().with_mut(&id, |info| info.ordered = true);
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

/// Called when a registered lock is dropped: it is forgotten unless something refers to it or
/// it has contention figures (within [`MAX_KEPT_FOR_FIGURES`]).
pub(crate) fn unregister(id: u64) {
    static KEPT: AtomicU64 = AtomicU64::new(0);
    let ordered = registry().with(&id, |info| info.ordered).unwrap_or(false);
    // Outside the registry's shard lock: the order graph's lock is never taken under it.
    if ordered && !crate::lock_order::lock_dropped(id) {
        registry().with_mut(&id, |info| info.ordered = false);
    }
    registry().remove_if(&id, |info| {
        if info.pinned || info.ordered {
            return false;
        }
        let has_figures = info.stats.as_ref().is_some_and(|s| s.acquisitions.load(Ordering::Relaxed) > 0);
        !(has_figures && KEPT.fetch_add(1, Ordering::Relaxed) < MAX_KEPT_FOR_FIGURES)
    });
}

/// Drops an id that lost the race to become a lock's id.
pub(crate) fn forget(id: u64) {
    registry().remove(&id);
}
