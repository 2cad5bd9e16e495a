//! RwLock orders take part in the lock-order graph with their access: a read of A held while
//! locking B, and B held while reading A, is a potential deadlock when anyone writes A (a writer
//! queued on A would block the second read), and the edges say which side was a read. If nobody
//! ever writes A, its reads never wait, and the same orders are no finding (lockdep's rule).

// lockprof compiled out (feature `off`) has nothing to test here: see off.rs.
#![cfg(not(feature = "off"))]

use lockprof::{Mutex, RwLock};
use lockprof_analysis::potential_deadlocks::analyse;
use lockprof_profiler::Access;
use lockprof_profiler::trace::snapshot;

#[test]
fn a_read_then_lock_and_lock_then_read_inversion_is_reported_with_its_accesses() {
    let table = RwLock::with_name(0u32, "rw-table");
    let index = Mutex::with_name(0u32, "rw-index");
    *table.write().unwrap() = 1;
    {
        let _r = table.read().unwrap();
        let _i = index.lock().unwrap();
    }
    {
        let _i = index.lock().unwrap();
        let _r = table.read().unwrap();
    }
    let trace = snapshot();
    let id = |name: &str| trace.locks.iter().find(|l| l.name.as_deref() == Some(name)).unwrap().id;
    let (t, i) = (id("rw-table"), id("rw-index"));
    let edge = |from, to| trace.lock_order.iter().find(|e| e.from == from && e.to == to).unwrap();
    assert_eq!(edge(t, i).from_access, Access::Shared);
    assert_eq!(edge(i, t).to_access, Access::Shared);
    let analysis = analyse(&trace);
    assert_eq!(analysis.potential.len(), 1, "{analysis:#?}");
}

#[test]
fn the_same_orders_on_a_lock_nobody_writes_are_no_finding() {
    let table = RwLock::with_name(0u32, "rw-table-ro");
    let index = Mutex::with_name(0u32, "rw-index-ro");
    {
        let _r = table.read().unwrap();
        let _i = index.lock().unwrap();
    }
    {
        let _i = index.lock().unwrap();
        let _r = table.read().unwrap();
    }
    let trace = snapshot();
    let id = |name: &str| trace.locks.iter().find(|l| l.name.as_deref() == Some(name)).unwrap().id;
    let (t, i) = (id("rw-table-ro"), id("rw-index-ro"));
    let analysis = analyse(&trace);
    let involves = |edges: &[usize]| edges.iter().any(|&e| [t, i].contains(&trace.lock_order[e].from));
    assert!(!analysis.potential.iter().any(|c| involves(&c.edges)), "{analysis:#?}");
}
