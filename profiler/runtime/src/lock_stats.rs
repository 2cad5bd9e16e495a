//! Per-lock contention counters ([`LockStats`]), in blocks shared by the lock's header and the
//! registry (`blocks`), and whether they are kept in this process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::config;

mod blocks;
pub(crate) use blocks::{StatsBlock, StatsRef, live_rows, take};

/// Per-lock statistics.
#[derive(Debug, Default)]
pub struct LockStats {
    /// Every acquisition, blocking or not.
    pub acquisitions: AtomicU64,
    /// Acquisitions that found the lock taken and had to wait.
    pub contended: AtomicU64,
    /// Total wait of those, in nanoseconds.
    pub wait_ns: AtomicU64,
    /// Longest wait of those, in nanoseconds.
    pub max_wait_ns: AtomicU64,
    /// Time holders kept the lock while someone waited for it, in nanoseconds.
    pub hold_ns: AtomicU64,
}

impl LockStats {
    /// Counts one acquisition: a plain increment when the caller holds the lock exclusively,
    /// an atomic one otherwise (shared holders may count at once).
    #[inline]
    pub(crate) fn count_acquisition(&self, exclusive: bool) {
        if exclusive {
            let n = self.acquisitions.load(Ordering::Relaxed);
            self.acquisitions.store(n + 1, Ordering::Relaxed);
        } else {
            self.acquisitions.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_wait(&self, waited: Duration) {
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.contended.fetch_add(1, Ordering::Relaxed);
        self.wait_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_wait_ns.fetch_max(ns, Ordering::Relaxed);
    }
}

/// Whether contention is profiled in this process (a trace will be written).
pub(crate) fn kept() -> bool {
    config().trace_path.is_some()
}
