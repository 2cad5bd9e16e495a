//! A thread that exits while holding a lock leaves a hang, not a cycle: a thread that then waits
//! for that lock must not be reported (there is no cycle, and the dead thread's id is never
//! reused), and the profiler must keep working for everyone else.

// lockprof compiled out (feature `off`) has nothing to test here: see off.rs.
#![cfg(not(feature = "off"))]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use lockprof::Mutex;

#[test]
fn waiting_for_a_lock_whose_holder_exited_is_not_a_deadlock() {
    let abandoned = Arc::new(Mutex::with_name(0u32, "abandoned"));
    let a = Arc::clone(&abandoned);
    thread::spawn(move || std::mem::forget(a.lock().unwrap())).join().unwrap();

    // This thread holds a second lock and then waits forever for the abandoned one.
    let other = Arc::new(Mutex::with_name(0u32, "other"));
    let episodes_before = lockprof_profiler::wait_episodes();
    let (a, o) = (Arc::clone(&abandoned), Arc::clone(&other));
    let _stuck = thread::spawn(move || {
        let _held = o.lock().unwrap();
        let _never = a.lock();
    });

    // Wait (bounded) until the stuck thread's wait has become an episode, i.e. was checked.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lockprof_profiler::wait_episodes() == episodes_before {
        assert!(Instant::now() < deadline, "the wait never became an episode");
        thread::yield_now();
    }
    assert_eq!(lockprof_profiler::deadlocks_found(), 0);

    // New threads (with fresh ids) and other locks keep working.
    let fresh = Arc::new(Mutex::new(0u32));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let f = Arc::clone(&fresh);
            thread::spawn(move || *f.lock().unwrap() += 1)
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*fresh.lock().unwrap(), 4);
    assert!(matches!(other.try_lock(), Err(std::sync::TryLockError::WouldBlock)));
}
