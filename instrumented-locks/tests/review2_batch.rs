//! Review findings on the batch of edges into fresh locks (order_batch.rs).
#![cfg(not(feature = "off"))]

use lockprof::{Mutex, RwLock};
use lockprof_analysis::potential_deadlocks::analyse;
use lockprof_profiler::trace::snapshot;

/// A fresh lock registered at its first write, taken hand over hand: its edge out (into `c`)
/// goes to the graph and only marks the registry entry ordered, not the header. Its drop must
/// not discard the batched edge into it: the graph would keep it on the cycle a -> b -> c -> a.
#[test]
fn a_batched_edge_into_a_lock_with_a_global_edge_out_is_not_discarded() {
    let a = Mutex::with_name((), "hoh-a");
    let c = Mutex::with_name((), "hoh-c");
    let round = || {
        let b = RwLock::with_name((), "hoh-b");
        let ga = a.lock().unwrap();
        let gb = b.write().unwrap();
        drop(ga);
        let gc = c.lock().unwrap();
        drop(gc);
        drop(gb);
    };
    round(); // the pair of sites' first edge: to the graph
    round(); // batched, not discarded: the pair of classes becomes known
    {
        let _c = c.lock().unwrap();
        let _a = a.lock().unwrap();
    }
    round(); // a -> b (batched), b -> c (graph), c -> a: b is on a cycle when dropped
    let trace = snapshot();
    let named = |id: u64, name: &str| trace.lock(id).and_then(|l| l.name.as_deref()) == Some(name);
    let found = analyse(&trace)
        .potential
        .iter()
        .any(|cy| cy.edges.iter().any(|&e| named(trace.lock_order[e].from, "hoh-b")));
    assert!(found, "the cycle through the last b is lost");
}

/// A batch that fills in the middle of one acquisition's edges flushes some of them: the
/// lock's drop must not then discard the rest, leaving the flushed ones in the graph forever.
#[test]
fn edges_split_by_a_full_batch_are_not_left_behind() {
    let a1 = Mutex::with_name((), "split-a1");
    let a2 = Mutex::with_name((), "split-a2");
    let a3 = Mutex::with_name((), "split-a3");
    let round = |first: usize| {
        let _g = (a1.lock().unwrap(), a2.lock().unwrap(), a3.lock().unwrap());
        let mut fresh: Vec<Mutex<()>> = (0..30).map(|_| Mutex::with_name((), "split-fresh")).collect();
        for f in &fresh {
            drop(f.lock().unwrap());
        }
        drop(fresh.remove(first));
        drop(fresh);
    };
    round(29); // first edges to the graph; the next drop makes the classes known
    round(21); // the 22nd lock's first edge is flushed with the full batch, its others wait
    let trace = snapshot();
    let into_fresh = trace
        .lock_order
        .iter()
        .filter(|e| trace.lock(e.to).and_then(|l| l.name.as_deref()) == Some("split-fresh"))
        .count();
    assert!(into_fresh <= 3, "{into_fresh} edges into dropped fresh locks kept (one per pair of classes)");
}
