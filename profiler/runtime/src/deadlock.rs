//! What happens when the wait-for graph yields a confirmed cycle: record it once, report it, have
//! the trace written, then apply the policy.
//!
//! The report is rendered from the `#[track_caller]` sites alone, at once: symbolising the
//! threads' stacks takes a second or more in a debug build, and the thread that closed the cycle
//! should not wait for it before it panics. The full trace, stacks symbolised, is written by the
//! background writer (`trace::writer::write_soon`) and again at exit; only before an abort, which
//! ends the process, and under `report`, where this thread stays deadlocked, is it written on
//! this thread, after the report.

use std::sync::Arc;

use crate::config::config;
use crate::records::{Found, found_so_far};
use crate::threads::ThreadRecord;
use crate::wait_for_graph::FoundDeadlock;
use lockprof_trace::DeadlockPolicy;
use lockprof_trace::schema::WriteReason;

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

/// Like [`found`], for a deadlock found by a wait that a panic cannot end (the implicit join at
/// the end of `thread::scope`, which waits for the scoped threads even while unwinding): under
/// the `panic` policy the process aborts instead, after the trace and the report.
pub(crate) fn found_where_panic_cannot_end_it(detector: &ThreadRecord, deadlock: FoundDeadlock) {
    apply(detector, deadlock, false, false, None);
}

/// Like [`found_in_background`], for a deadlock confirmed by the whole process being asleep for
/// good (`crate::process_asleep`). Under the `panic` policy, `to_panic` (a member's async wait)
/// is woken to panic with the report, so its task ends with it; without one, or if it cannot be
/// woken, the process aborts.
pub(crate) fn found_asleep(start: &ThreadRecord, deadlock: FoundDeadlock, to_panic: Option<&ThreadRecord>) {
    apply(start, deadlock, true, false, to_panic);
}

#[track_caller]
fn record_and_apply(detector: &ThreadRecord, deadlock: FoundDeadlock, background: bool) {
    apply(detector, deadlock, background, !background, None);
}

#[track_caller]
fn apply(
    detector: &ThreadRecord,
    deadlock: FoundDeadlock,
    background: bool,
    can_panic: bool,
    to_panic: Option<&ThreadRecord>,
) {
    let FoundDeadlock { key, cycle, knot, all_asleep } = deadlock;
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
            all_asleep,
            policy,
            cycle: cycle.into_iter().map(Arc::new).collect(),
            knot: knot.into_iter().map(Arc::new).collect(),
        });
    }

    let quick = crate::trace::snapshot::sites_only(WriteReason::Deadlock);
    let mut report = quick
        .deadlocks
        .last()
        .map(|d| lockprof_analysis::report::render_deadlock(&quick, d))
        .unwrap_or_default();
    match config().trace_path.as_ref() {
        Some(path) => {
            report.push_str(&format!("  (each thread's stack is in the trace: {})\n", path.display()))
        }
        None => report.push_str("  (set LOCKPROF_TRACE=path for a trace with each thread's stack)\n"),
    }

    if let (DeadlockPolicy::Panic, Some(node)) = (policy, to_panic) {
        crate::trace::writer::write_soon(WriteReason::Deadlock);
        if node.condemn(format!("lockprof: {report}")) {
            return;
        }
    }
    match policy {
        DeadlockPolicy::Panic if background => {
            crate::diag::say(&format!("lockprof: {report}"));
            write_on_this_thread();
            crate::diag::say(
                "lockprof: aborting: every thread of this deadlock is parked, none can be made to panic (LOCKPROF_ON_DEADLOCK=panic)",
            );
            std::process::abort();
        }
        DeadlockPolicy::Panic if !can_panic => {
            crate::diag::say(&format!("lockprof: {report}"));
            write_on_this_thread();
            crate::diag::say(
                "lockprof: aborting: the thread that found it waits in the implicit join at the end of thread::scope, which a panic cannot end (LOCKPROF_ON_DEADLOCK=panic)",
            );
            std::process::abort();
        }
        DeadlockPolicy::Panic => {
            crate::trace::writer::write_soon(WriteReason::Deadlock);
            std::panic::panic_any(format!("lockprof: {report}"))
        }
        DeadlockPolicy::Abort => {
            crate::diag::say(&format!("lockprof: {report}"));
            write_on_this_thread();
            crate::diag::say("lockprof: aborting (LOCKPROF_ON_DEADLOCK=abort)");
            std::process::abort();
        }
        DeadlockPolicy::Report => {
            crate::diag::say(&format!("lockprof: {report}"));
            // This thread is deadlocked anyway: it writes the trace itself, so that once it says
            // it is still waiting, the trace is there.
            write_on_this_thread();
            crate::diag::say("lockprof: still waiting (LOCKPROF_ON_DEADLOCK=report)");
        }
    }
}

/// Writes the trace on this thread, which will not run user code again: the process is about to
/// abort (which runs no exit hook), or the thread stays deadlocked.
fn write_on_this_thread() {
    crate::trace::writer::write_configured(&crate::trace::snapshot::take(WriteReason::Deadlock));
}
