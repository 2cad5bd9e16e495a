//! What happens when the wait-for graph yields a confirmed cycle: record it once, write the trace,
//! then apply the policy.

use std::sync::{Arc, Mutex, OnceLock};

use crate::config::config;
use crate::threads::ThreadRecord;
use crate::wait_for_graph::{FoundDeadlock, Member};
use lockprof_trace::DeadlockPolicy;

/// A deadlock as kept in memory until the trace is written.
#[derive(Clone)]
pub(crate) struct Found {
    /// The episodes it consists of (see [`FoundDeadlock::key`]).
    key: Vec<(u64, u64)>,
    pub detected_by: u64,
    /// Found by the background re-check (`crate::watchdog`), not by a thread starting to wait.
    pub background: bool,
    pub policy: DeadlockPolicy,
    pub cycle: Vec<Arc<Member>>,
    pub knot: Vec<Arc<Member>>,
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

/// Records the confirmed deadlock (its cycle starting with `detector`), writes the trace, and
/// applies the policy. Returns only under the `report` policy, or if another of its threads has
/// already reported it.
#[track_caller]
pub(crate) fn found(detector: &ThreadRecord, deadlock: FoundDeadlock) {
    record_and_apply(detector, deadlock, false);
}

/// Like [`found`], for a deadlock the background re-check found among threads that are all
/// parked. None of them can be made to panic, so under the `panic` policy the process aborts
/// instead (after the trace and the report), which fails as fast.
pub(crate) fn found_in_background(start: &ThreadRecord, deadlock: FoundDeadlock) {
    record_and_apply(start, deadlock, true);
}

#[track_caller]
fn record_and_apply(detector: &ThreadRecord, deadlock: FoundDeadlock, background: bool) {
    let FoundDeadlock { key, cycle, knot } = deadlock;
    for m in cycle.iter().chain(&knot) {
        crate::locks::pin(m.waits_for);
        crate::locks::pin(m.blocks_on);
    }
    let policy = config().on_deadlock;
    {
        let mut all = found_so_far().lock().unwrap_or_else(|e| e.into_inner());
        if all.iter().any(|f| f.key == key) {
            return;
        }
        all.push(Found {
            key,
            detected_by: detector.id,
            background,
            policy,
            cycle: cycle.into_iter().map(Arc::new).collect(),
            knot: knot.into_iter().map(Arc::new).collect(),
        });
    }

    // The trace first, before anything else can happen to the process.
    let trace = crate::trace::snapshot::take(lockprof_trace::schema::WriteReason::Deadlock);
    crate::trace::writer::write_configured(&trace);
    let report = trace
        .deadlocks
        .last()
        .map(|d| lockprof_analysis::report::render_deadlock(&trace, d))
        .unwrap_or_default();

    match policy {
        DeadlockPolicy::Panic if background => {
            eprintln!("lockprof: {report}");
            eprintln!(
                "lockprof: aborting: every thread of this deadlock is parked, none can be made to panic (LOCKPROF_ON_DEADLOCK=panic)"
            );
            std::process::abort();
        }
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
