//! What happens when the wait-for graph yields a confirmed cycle: record it once, write the trace,
//! then apply the policy.

use std::panic::Location;
use std::sync::{Arc, Mutex, OnceLock};

use backtrace::Backtrace;

use crate::config::config;
use crate::policy::DeadlockPolicy;
use crate::threads::ThreadRecord;
use crate::wait_for_graph::Hop;

/// One thread of a found deadlock, in wait order.
#[derive(Clone)]
pub(crate) struct FoundHop {
    pub thread: u64,
    pub waits_for: u64,
    pub wait_at: &'static Location<'static>,
    pub holds: u64,
    pub hold_at: &'static Location<'static>,
    pub stack: Arc<Backtrace>,
}

/// A deadlock as kept in memory until the trace is written.
#[derive(Clone)]
pub(crate) struct Found {
    /// The episodes it consists of, sorted: the same deadlock seen by two of its threads has the
    /// same key.
    key: Vec<(u64, u64)>,
    pub detected_by: u64,
    pub policy: DeadlockPolicy,
    pub hops: Vec<FoundHop>,
}

pub(crate) fn found_so_far() -> &'static Mutex<Vec<Found>> {
    static FOUND: OnceLock<Mutex<Vec<Found>>> = OnceLock::new();
    FOUND.get_or_init(Mutex::default)
}

/// How many distinct deadlocks this process has found.
///
/// ```
/// assert_eq!(lockprof_profiler::deadlocks_found(), 0);
/// ```
pub fn deadlocks_found() -> usize {
    found_so_far().lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// Records the confirmed cycle `hops` (starting with `detector`), writes the trace, and applies
/// the policy. Returns only under the `report` policy, or if another of the cycle's threads has
/// already reported it.
#[track_caller]
pub(crate) fn found(detector: &ThreadRecord, hops: Vec<Hop>) {
    let k = hops.len();
    let found_hops: Vec<FoundHop> = (0..k)
        .map(|i| {
            let prev = &hops[(i + k - 1) % k];
            let hop = &hops[i];
            FoundHop {
                thread: hop.thread.id,
                waits_for: hop.lock_id,
                wait_at: hop.wait_at,
                holds: prev.lock_id,
                hold_at: prev.holder.map_or(hop.wait_at, |(_, at)| at),
                stack: Arc::clone(&hop.stack),
            }
        })
        .collect();
    let mut key: Vec<(u64, u64)> = hops.iter().map(|h| (h.thread.id, h.seq)).collect();
    key.sort_unstable();
    for hop in &found_hops {
        crate::locks::pin(hop.waits_for);
    }
    let policy = config().on_deadlock;
    {
        let mut all = found_so_far().lock().unwrap_or_else(|e| e.into_inner());
        if all.iter().any(|f| f.key == key) {
            return;
        }
        all.push(Found { key, detected_by: detector.id, policy, hops: found_hops });
    }

    // The trace first, before anything else can happen to the process.
    let trace = crate::trace::snapshot::take(crate::trace::schema::WriteReason::Deadlock);
    crate::trace::writer::write_configured(&trace);
    let report =
        trace.deadlocks.last().map(|d| crate::report::render_deadlock(&trace, d)).unwrap_or_default();

    match policy {
        DeadlockPolicy::Panic => std::panic::panic_any(format!("lockprof: {report}")),
        DeadlockPolicy::Abort => {
            eprintln!("lockprof: {report}");
            eprintln!("lockprof: aborting (LOCKPROF_ON_DEADLOCK=abort)");
            std::process::abort();
        }
        DeadlockPolicy::Report => {
            eprintln!("lockprof: {report}");
            eprintln!("lockprof: still waiting (LOCKPROF_ON_DEADLOCK=report)");
        }
    }
}
