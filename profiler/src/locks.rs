//! The lock half of the registry: every live lock that has been acquired, with its creation site
//! and name, and every dropped lock that a finding or a lock-order edge still refers to (it is
//! *pinned*), so the trace can name it.
//!
//! A lock registers on its first acquisition (one allocation in its lifetime, never on the
//! steady-state fast path) and unregisters when dropped unless pinned, so programs that create
//! and drop many locks do not grow the registry.

use std::panic::Location;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use crate::lock_state::{LockKind, LockState};

/// What the registry keeps about one lock.
#[derive(Debug, Clone)]
pub(crate) struct LockInfo {
    pub kind: LockKind,
    pub site: &'static Location<'static>,
    pub name: Option<&'static str>,
    /// Kept after the lock is dropped, because a finding or an order edge refers to it.
    pub pinned: bool,
}

static NEXT_LOCK_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn registry() -> &'static DashMap<u64, LockInfo> {
    static LOCKS: OnceLock<DashMap<u64, LockInfo>> = OnceLock::new();
    LOCKS.get_or_init(DashMap::new)
}

/// Gives `state` a fresh id and records it.
pub(crate) fn register(state: &LockState) -> u64 {
    let id = NEXT_LOCK_ID.fetch_add(1, Ordering::Relaxed);
    registry()
        .insert(id, LockInfo { kind: state.kind(), site: state.site(), name: state.name(), pinned: false });
    id
}

/// Keeps `id` in the registry after its lock is dropped.
pub(crate) fn pin(id: u64) {
    if let Some(mut info) = registry().get_mut(&id) {
        info.pinned = true;
    }
}

/// Called when a registered lock is dropped.
pub(crate) fn unregister(id: u64) {
    registry().remove_if(&id, |_, info| !info.pinned);
}

/// Drops an id that lost the race to become a lock's id.
pub(crate) fn forget(id: u64) {
    registry().remove(&id);
}
