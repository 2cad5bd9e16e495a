//! The lock half of the registry: the locks that have mattered to the profiler (waited for, or
//! part of a finding), with their creation site and name, kept after the lock itself is dropped
//! so the trace can name it.
//!
//! Registration happens on the slow path only, so a program that never waits registers nothing.

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
}

static NEXT_LOCK_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn registry() -> &'static DashMap<u64, LockInfo> {
    static LOCKS: OnceLock<DashMap<u64, LockInfo>> = OnceLock::new();
    LOCKS.get_or_init(DashMap::new)
}

/// Gives `state` a fresh id and records it.
pub(crate) fn register(state: &LockState) -> u64 {
    let id = NEXT_LOCK_ID.fetch_add(1, Ordering::Relaxed);
    registry().insert(id, LockInfo { kind: state.kind(), site: state.site(), name: state.name() });
    id
}

/// Drops an id that lost the race to become a lock's id.
pub(crate) fn forget(id: u64) {
    registry().remove(&id);
}
