//! Lock-order recording without false positives, checked on this process's own live graph.
//!
//! Every test in this file takes locks only in orders that cannot deadlock, so the whole
//! process must end up with no potential deadlock whatever order the tests run in; each test
//! also checks the specific edges (or suppressed cycle) it is about.

// lockprof compiled out (feature `off`) has nothing to test here: see off.rs.
#![cfg(not(feature = "off"))]

use std::sync::{Arc, Barrier};
use std::thread;

use lockprof::Mutex;
use lockprof_analysis::potential_deadlocks::analyse;
use lockprof_profiler::trace::snapshot;
use lockprof_trace::schema::Trace;

/// The id of the lock named `name` in `trace`.
fn lock_id(trace: &Trace, name: &str) -> u64 {
    trace
        .locks
        .iter()
        .find(|l| l.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no lock {name}"))
        .id
}

/// Whether `trace` has the edge `from → to` (a lock nothing refers to is not in the trace, and
/// has no edge).
fn has_edge(trace: &Trace, from: &str, to: &str) -> bool {
    let id = |name: &str| trace.locks.iter().find(|l| l.name.as_deref() == Some(name)).map(|l| l.id);
    let (Some(from), Some(to)) = (id(from), id(to)) else { return false };
    trace.lock_order.iter().any(|e| e.from == from && e.to == to)
}

fn assert_no_potential_deadlock() {
    let trace = snapshot();
    let analysis = analyse(&trace);
    assert!(analysis.potential.is_empty(), "false positive: {analysis:#?}");
}

#[test]
fn eight_locks_always_taken_in_ascending_order_under_contention() {
    let names = ["asc-0", "asc-1", "asc-2", "asc-3", "asc-4", "asc-5", "asc-6", "asc-7"];
    let locks: Arc<Vec<Mutex<u64>>> = Arc::new(names.iter().map(|&n| Mutex::with_name(0, n)).collect());
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let locks = Arc::clone(&locks);
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(t + 1);
                for _ in 0..20_000 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let subset = rng as u8 | 1;
                    let mut guards: Vec<_> =
                        (0..8).filter(|i| subset & (1 << i) != 0).map(|i| locks[i].lock().unwrap()).collect();
                    for g in &mut guards {
                        **g += 1;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let trace = snapshot();
    assert!(has_edge(&trace, "asc-0", "asc-7"), "the orders were recorded");
    assert!(!has_edge(&trace, "asc-7", "asc-0"));
    assert_no_potential_deadlock();
}

#[test]
fn try_lock_back_off_in_opposite_orders_is_not_an_inversion() {
    let a = Arc::new(Mutex::with_name(0u32, "backoff-a"));
    let b = Arc::new(Mutex::with_name(0u32, "backoff-b"));
    let start = Arc::new(Barrier::new(2));
    let spawn = |first: Arc<Mutex<u32>>, second: Arc<Mutex<u32>>, start: Arc<Barrier>| {
        thread::spawn(move || {
            start.wait();
            let mut done = 0;
            while done < 2_000 {
                let mut held = first.lock().unwrap();
                // The other lock only if it is free; otherwise back off and retry.
                if let Ok(mut other) = second.try_lock() {
                    *held += 1;
                    *other += 1;
                    done += 1;
                }
            }
        })
    };
    let t1 = spawn(Arc::clone(&a), Arc::clone(&b), Arc::clone(&start));
    let t2 = spawn(Arc::clone(&b), Arc::clone(&a), Arc::clone(&start));
    t1.join().unwrap();
    t2.join().unwrap();
    let trace = snapshot();
    assert!(!has_edge(&trace, "backoff-a", "backoff-b") && !has_edge(&trace, "backoff-b", "backoff-a"));
    assert_no_potential_deadlock();
}

#[test]
fn a_lock_taken_while_holding_a_try_locked_one_adds_an_edge() {
    let outer = Mutex::with_name((), "tried-outer");
    let inner = Mutex::with_name((), "blocking-inner");
    {
        let _o = outer.try_lock().unwrap();
        let _i = inner.lock().unwrap();
    }
    // After the release: a lock held when an edge from it is recorded is registered (named in
    // the trace) by its release, unless a trace is being kept (then from its first acquisition).
    assert!(has_edge(&snapshot(), "tried-outer", "blocking-inner"));
}

#[test]
fn an_inversion_under_a_common_gate_lock_is_suppressed_not_reported() {
    let gate = Mutex::with_name((), "gate");
    let a = Mutex::with_name((), "gated-a");
    let b = Mutex::with_name((), "gated-b");
    {
        let _g = gate.lock().unwrap();
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    {
        let _g = gate.lock().unwrap();
        let _b = b.lock().unwrap();
        let _a = a.lock().unwrap();
    }
    let trace = snapshot();
    let analysis = analyse(&trace);
    let gate_id = lock_id(&trace, "gate");
    let (a_id, b_id) = (lock_id(&trace, "gated-a"), lock_id(&trace, "gated-b"));
    let suppressed = analysis
        .suppressed
        .iter()
        .find(|c| c.edges.iter().any(|&e| trace.lock_order[e].from == a_id && trace.lock_order[e].to == b_id))
        .expect("the gated cycle is listed as suppressed");
    assert_eq!(suppressed.gates, vec![gate_id]);
    assert!(
        suppressed.edges.iter().any(|&e| trace.lock_order[e].from == b_id && trace.lock_order[e].to == a_id)
    );
    assert_no_potential_deadlock();
}

#[test]
fn the_gate_stops_protecting_once_one_order_runs_without_it() {
    let gate = Mutex::with_name((), "weak-gate");
    let a = Mutex::with_name((), "weak-a");
    let b = Mutex::with_name((), "weak-b");
    {
        let _g = gate.lock().unwrap();
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    {
        // Same order, this time without the gate: the edge's gate set must shrink to nothing,
        // even though this thread has recorded the edge before (and cached it as gated).
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    let trace = snapshot();
    let (a_id, b_id) = (lock_id(&trace, "weak-a"), lock_id(&trace, "weak-b"));
    let edge = trace.lock_order.iter().find(|e| e.from == a_id && e.to == b_id).unwrap();
    assert!(edge.gates.is_empty(), "{edge:?}");
}
