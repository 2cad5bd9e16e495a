//! What happens when the wait-for graph yields a confirmed cycle: record it once, write the trace,
//! then apply the policy.

use std::sync::Arc;

use crate::config::config;
use crate::records::{Found, found_so_far};
use crate::threads::ThreadRecord;
use crate::wait_for_graph::FoundDeadlock;
use lockprof_trace::DeadlockPolicy;

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
            crate::diag::say(&format!("lockprof: {report}"));
            crate::diag::say(
                "lockprof: aborting: every thread of this deadlock is parked, none can be made to panic (LOCKPROF_ON_DEADLOCK=panic)",
            );
            std::process::abort();
        }
        DeadlockPolicy::Panic => std::panic::panic_any(format!("lockprof: {report}")),
        DeadlockPolicy::Abort => {
            crate::diag::say(&format!("lockprof: {report}"));
            crate::diag::say("lockprof: aborting (LOCKPROF_ON_DEADLOCK=abort)");
            std::process::abort();
        }
        DeadlockPolicy::Report => {
            crate::diag::say(&format!("lockprof: {report}"));
            crate::diag::say("lockprof: still waiting (LOCKPROF_ON_DEADLOCK=report)");
        }
    }
}
