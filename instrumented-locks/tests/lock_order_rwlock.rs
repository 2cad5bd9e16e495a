//! RwLock orders take part in the lock-order graph with their access: a read of A held while
//! locking B, and B held while reading A, is a potential deadlock (a writer queued on A would
//! block the second read), and the edges say which side was a read.

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
