//! With a trace kept, an unnamed mutex gets its contention figures on its first acquisition
//! without registering (`lock_stats/blocks.rs`): the trace still lists it while it lives, with
//! exact figures that follow it when it moves, and keeps the figures of dropped ones within the
//! registry's bound.

#![cfg(all(feature = "profiler", not(feature = "off")))]

mod support;

use lockprof::Mutex;
use lockprof_trace::LockKind;

/// Runs in a child process (this test binary, this test only) with `LOCKPROF_TRACE` set, so
/// that contention figures are kept and no other test's locks share the registry's bound.
#[test]
fn unregistered_locks_are_in_the_trace_with_their_figures() {
    if std::env::var_os("LOCKPROF_TRACE").is_none() {
        support::run_traced_in_child("unregistered_locks_are_in_the_trace_with_their_figures");
        return;
    }
    // Short-lived locks, all dropped: more than the registry keeps for their figures.
    let churn_line = line!() + 2;
    for i in 0..25_000u64 {
        let m = Mutex::new(i);
        drop(m.lock().unwrap());
    }
    // A live lock, moved between its acquisitions.
    let moved_line = line!() + 1;
    let first = Mutex::new(0u64);
    *first.lock().unwrap() += 1;
    let mut moved = vec![first];
    for _ in 0..2 {
        *moved[0].lock().unwrap() += 1;
    }
    let moved = moved.pop().unwrap();

    let trace = lockprof_profiler::trace::snapshot();
    let contention = trace.contention.as_ref().expect("a contention profile");
    let at_line = |line: u32| -> Vec<u64> {
        trace
            .locks
            .iter()
            .filter(|l| l.site.file.ends_with("traced_blocks.rs") && l.site.line == line)
            .map(|l| l.id)
            .collect()
    };
    let figures =
        |id: u64| contention.locks.iter().find(|c| c.lock == id).map(|c| (c.acquisitions, c.contended));

    let live = at_line(moved_line);
    assert_eq!(live.len(), 1, "the live lock is listed once: {:?}", trace.locks.len());
    let entry = trace.locks.iter().find(|l| l.id == live[0]).unwrap();
    assert_eq!((entry.kind, entry.name.as_deref()), (LockKind::Mutex, None));
    assert_eq!(figures(live[0]), Some((3, 0)), "every acquisition counted across the move");
    assert_eq!(*moved.lock().unwrap(), 3);

    // Dropped locks keep their rows up to the registry's bound (10,000), no more.
    let dropped = at_line(churn_line);
    assert!((1..=10_000).contains(&dropped.len()), "{} dropped locks kept", dropped.len());
    assert!(dropped.iter().all(|&id| figures(id) == Some((1, 0))), "each kept with its one acquisition");
}
