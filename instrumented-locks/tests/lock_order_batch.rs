//! Lock-order edges into fresh locks wait in their thread's batch (`order_batch.rs` in the
//! runtime): they reach every trace, and a fresh lock dropped while its edges wait costs the graph
//! nothing, without losing what the analysis needs (cycles of instances and of classes).
//! Each test uses its own lock sites, so the tests do not see each other's orders.

// lockprof compiled out (feature `off`) has nothing to test here: see off.rs.
#![cfg(not(feature = "off"))]

use lockprof::Mutex;
use lockprof_analysis::potential_deadlocks::analyse;
use lockprof_profiler::trace::snapshot;

struct Bank {
    ledger: Mutex<u64>,
    audit: Mutex<u64>,
}

fn bank() -> Bank {
    Bank { ledger: Mutex::with_name(0, "batch-ledger"), audit: Mutex::with_name(0, "batch-audit") }
}

/// Two hundred short-lived banks take ledger → audit (all but the first edges of a pair of
/// sites wait in the batch, and go with their locks), then one takes audit → ledger: the class
/// cycle is still found.
#[test]
fn a_class_cycle_through_short_lived_locks_is_found() {
    for _ in 0..200 {
        let b = bank();
        let _l = b.ledger.lock().unwrap();
        let _a = b.audit.lock().unwrap();
    }
    {
        let b = bank();
        let _a = b.audit.lock().unwrap();
        let _l = b.ledger.lock().unwrap();
    }
    let trace = snapshot();
    let analysis = analyse(&trace);
    let names = |id: u64| trace.lock(id).and_then(|l| l.name.clone()).unwrap_or_default();
    let ours: Vec<_> = analysis
        .class_cycles
        .iter()
        .filter(|c| c.edges.iter().any(|&e| names(trace.lock_order[e].from).starts_with("batch-")))
        .collect();
    assert_eq!(ours.len(), 1, "{analysis:#?}");
}

/// An edge into a fresh lock that closes a cycle later is in the trace, and the cycle is found.
#[test]
fn a_batched_edge_that_a_later_order_inverts_is_a_potential_deadlock() {
    let held = Mutex::with_name((), "batch-held");
    let mut kept = Vec::new();
    for _ in 0..3 {
        // The first edge of this pair of sites goes to the graph; the next ones wait.
        let fresh = Mutex::with_name((), "batch-fresh");
        {
            let _h = held.lock().unwrap();
            let _f = fresh.lock().unwrap();
        }
        kept.push(fresh);
    }
    // The last fresh lock, now taken first: its edge into `held` inverts the batched one.
    {
        let _f = kept[2].lock().unwrap();
        let _h = held.lock().unwrap();
    }
    let trace = snapshot();
    let analysis = analyse(&trace);
    let named = |id: u64, name: &str| trace.lock(id).and_then(|l| l.name.as_deref()) == Some(name);
    let found = analysis.potential.iter().any(|c| {
        c.edges.iter().any(|&e| named(trace.lock_order[e].from, "batch-held"))
            && c.edges.iter().any(|&e| named(trace.lock_order[e].from, "batch-fresh"))
    });
    assert!(found, "{analysis:#?}");
}

/// A thousand fresh locks taken under one held lock and dropped leave the graph with at most
/// the one edge kept for their pair of classes, not a thousand (untraced, the held lock is not
/// registered until its release, so its class is not known when they drop, and none is kept).
#[test]
fn fresh_locks_dropped_under_a_held_lock_leave_one_class_edge() {
    let outer = Mutex::with_name(0u64, "batch-outer");
    {
        let _o = outer.lock().unwrap();
        for i in 0..1000u64 {
            let fresh = Mutex::with_name(i, "batch-churn");
            assert_eq!(*fresh.lock().unwrap(), i);
        }
    }
    let trace = snapshot();
    let outer_id = trace.locks.iter().find(|l| l.name.as_deref() == Some("batch-outer")).expect("outer").id;
    let from_outer = trace.lock_order.iter().filter(|e| e.from == outer_id).count();
    assert!(from_outer <= 1, "{from_outer} edges from the outer lock kept");
    // The edges were there while the locks lived: the last fresh one, kept alive, has its edge.
    let last = Mutex::with_name(0u64, "batch-churn");
    {
        let _o = outer.lock().unwrap();
        let _l = last.lock().unwrap();
    }
    let trace = snapshot();
    let last_id = trace.locks.iter().filter(|l| l.name.as_deref() == Some("batch-churn")).map(|l| l.id).max();
    assert!(
        trace.lock_order.iter().any(|e| e.from == outer_id && Some(e.to) == last_id),
        "the live fresh lock's edge, flushed from the batch, is in the trace"
    );
}
