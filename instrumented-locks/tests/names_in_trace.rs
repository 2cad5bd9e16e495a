//! Names given at run time, and the names of condition variables and semaphores, reach the trace;
//! locks created at one site are told apart by their ids in every label.

#![cfg(all(feature = "profiler", not(feature = "off")))]

mod support;

use lockprof::{Condvar, Mutex, Semaphore};
use lockprof_analysis::report::lock_short_label;
use lockprof_trace::LockKind;

/// Locks register lazily: with no trace kept, a lock that nothing refers to (no order edge, no
/// wait, no finding) costs no registration, so it is not in the trace; with `LOCKPROF_TRACE`
/// set, every acquired lock has contention figures and is. So the test runs twice: here
/// untraced, and in a child process (this test binary, this test only) with a trace kept.
#[test]
fn run_time_names_and_same_site_locks_in_the_trace() {
    let traced = std::env::var_os("LOCKPROF_TRACE").is_some();
    let trace = names_scenario();
    let named = |name: &str| trace.locks.iter().find(|l| l.name.as_deref() == Some(name));
    if traced {
        check_names(&trace);
        return;
    }
    assert!(named("account-0").is_none(), "a lock nothing refers to is not registered: {:?}", trace.locks);
    // The condvar waited while another lock was held: the warning refers to both.
    assert_eq!(named("ready").map(|l| l.kind), Some(LockKind::Condvar), "{:?}", trace.locks);
    support::run_traced_in_child("run_time_names_and_same_site_locks_in_the_trace");
}

/// Takes the locks of the scenario, and returns the trace as it stands.
fn names_scenario() -> lockprof_trace::schema::Trace {
    // One site, three locks: the per-account locks of a bank.
    let accounts: Vec<Mutex<u64>> = (0..3).map(|n| Mutex::with_name(0, format!("account-{n}"))).collect();
    let unnamed: Vec<Mutex<u64>> = (0..2).map(|_| Mutex::new(0)).collect();
    for lock in accounts.iter().chain(&unnamed) {
        *lock.lock().unwrap() += 1;
    }
    let pool = Semaphore::with_name(1, format!("pool-{}", 9));
    drop(pool.acquire());
    let ready = Condvar::with_name("ready");
    let flag = Mutex::new(true);
    // Waiting while holding another lock is recorded, and names the condvar.
    let other = Mutex::with_name((), "other");
    let held = other.lock().unwrap();
    let (guard, _) = ready.wait_timeout(flag.lock().unwrap(), std::time::Duration::from_millis(1)).unwrap();
    drop((guard, held));
    lockprof_profiler::trace::snapshot()
}

/// Every name is in the trace, and same-site locks are told apart by their ids.
fn check_names(trace: &lockprof_trace::schema::Trace) {
    let named = |name: &str| trace.locks.iter().find(|l| l.name.as_deref() == Some(name));
    for n in 0..3 {
        let lock =
            named(&format!("account-{n}")).unwrap_or_else(|| panic!("account-{n} in {:?}", trace.locks));
        assert_eq!(lock.kind, LockKind::Mutex);
    }
    assert_eq!(named("pool-9").map(|l| l.kind), Some(LockKind::Semaphore));
    assert_eq!(named("ready").map(|l| l.kind), Some(LockKind::Condvar), "{:?}", trace.locks);

    // The unnamed pair shares its site, so only the id tells them apart in a label.
    let same_site: Vec<_> =
        trace.locks.iter().filter(|l| l.name.is_none() && l.site.line == unnamed_line()).collect();
    assert_eq!(same_site.len(), 2, "{:?}", trace.locks);
    let labels: Vec<String> = same_site.iter().map(|l| lock_short_label(trace, l.id)).collect();
    assert_ne!(labels[0], labels[1]);
    for (label, lock) in labels.iter().zip(&same_site) {
        assert!(label.starts_with(&format!("#{} ", lock.id)), "{label}");
    }
}

/// The line of `Mutex::new` in the `unnamed` locks above.
fn unnamed_line() -> u32 {
    let source = include_str!("names_in_trace.rs");
    let index = source.lines().position(|l| l.contains("(0..2).map(|_| Mutex::new(0))")).unwrap();
    index as u32 + 1
}
