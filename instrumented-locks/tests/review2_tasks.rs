//! Review finding: a lock taken by a task that holds async locks is the end of new edges, but
//! is never marked ordered, so its drop does not tell the graph: its edges stay until the held
//! lock is dropped (for good, if it lives as long as the program).
#![cfg(all(feature = "tokio", not(feature = "off")))]

use lockprof_profiler::trace::snapshot;

#[test]
fn fresh_locks_taken_by_a_task_under_a_held_async_lock_leave_at_most_one_class_edge() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let trace = rt.block_on(async {
        tokio::spawn(async {
            let outer = lockprof::tokio::Mutex::with_name(0u64, "task-outer");
            let _o = outer.lock().await;
            for i in 0..200u64 {
                let fresh = lockprof::tokio::Mutex::with_name(i, "task-churn");
                assert_eq!(*fresh.lock().await, i);
                let fresh_std = lockprof::Mutex::with_name(i, "task-churn-std");
                assert_eq!(*fresh_std.lock().unwrap(), i);
            }
            snapshot() // the outer lock still alive and held
        })
        .await
        .unwrap()
    });
    let outer = trace.locks.iter().find(|l| l.name.as_deref() == Some("task-outer")).expect("outer").id;
    let from_outer = trace.lock_order.iter().filter(|e| e.from == outer).count();
    assert!(from_outer <= 2, "{from_outer} edges from the outer lock into dropped locks kept");
}
