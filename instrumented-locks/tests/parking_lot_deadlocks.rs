//! Real deadlocks through the `parking_lot` flavour are reported (the default policy panics in
//! the thread whose wait closes the cycle), and the panic leaves every lock usable: in each
//! scenario exactly one thread panics with the report, its guards unwind, and the others finish.

#![cfg(all(feature = "parking_lot", not(feature = "off")))]

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use lockprof::parking_lot::{Condvar, Mutex, ReentrantMutex, RwLock, RwLockUpgradableReadGuard};

/// Far above what any scenario needs; only a hang reaches it.
const BOUND: Duration = Duration::from_secs(30);

fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Joins `threads` (bounded by [`BOUND`] in all) and checks that exactly one of them panicked,
/// with a deadlock report, and that the others finished.
fn exactly_one_reported(name: &str, threads: Vec<JoinHandle<()>>) -> String {
    let (done, results) = mpsc::channel();
    let n = threads.len();
    for t in threads {
        let done = done.clone();
        thread::spawn(move || {
            let _ = done.send(t.join());
        });
    }
    let deadline = Instant::now() + BOUND;
    let mut panics = Vec::new();
    for _ in 0..n {
        let left = deadline.saturating_duration_since(Instant::now());
        match results.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => panics.push(message(&*panic)),
            Err(_) => panic!("{name}: a thread hung (the deadlock was not reported)"),
        }
    }
    assert_eq!(panics.len(), 1, "{name}: one thread reports, the others go on: {panics:#?}");
    assert!(panics[0].contains("DEADLOCK"), "{name}: not a deadlock report: {}", panics[0]);
    panics.remove(0)
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    thread::Builder::new().name(name.to_owned()).spawn(f).unwrap()
}

/// Gives a thread that is about to block time to become a checked wait (the grace period is
/// 50 µs), so that the next thread's wait is the one that closes the cycle.
fn settle() {
    thread::sleep(Duration::from_millis(50));
}

#[test]
fn a_second_plain_read_behind_a_queued_writer_is_reported() {
    let lock = Arc::new(RwLock::with_name(0u32, "dl-read-again"));
    let reader = {
        let lock = Arc::clone(&lock);
        spawn("reader", move || {
            let outer = lock.read();
            wait_until(|| lock.is_locked_exclusive()); // the writer is queued
            settle();
            let inner = lock.read(); // behind the writer, which waits for `outer`: deadlock
            drop((inner, outer));
        })
    };
    let writer = {
        let lock = Arc::clone(&lock);
        spawn("writer", move || {
            wait_until(|| lock.is_locked());
            *lock.write() += 1;
        })
    };
    exactly_one_reported("read again", vec![reader, writer]);
    assert_eq!(*lock.read(), 1);
}

#[test]
fn upgrading_while_holding_a_plain_read_of_the_same_lock_is_reported() {
    let lock = Arc::new(RwLock::with_name(0u32, "dl-self-upgrade"));
    let l = Arc::clone(&lock);
    let t = spawn("self-upgrade", move || {
        let r = l.read();
        let up = l.upgradable_read();
        // It would wait for its own read lock.
        let w = RwLockUpgradableReadGuard::upgrade(up);
        drop((w, r));
    });
    exactly_one_reported("self upgrade", vec![t]);
    // The upgradable lock was released on the way out: the lock is free.
    assert!(lock.try_write().is_some());
}

#[test]
fn two_upgradable_readers_in_opposite_orders_are_reported() {
    let a = Arc::new(RwLock::with_name(0u32, "dl-up-a"));
    let b = Arc::new(RwLock::with_name(0u32, "dl-up-b"));
    let both = Arc::new(Barrier::new(2));
    let first_waits = Arc::new(AtomicBool::new(false));
    let ab = {
        let (a, b, both, first_waits) =
            (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both), Arc::clone(&first_waits));
        spawn("ab", move || {
            let ga = a.upgradable_read();
            both.wait();
            first_waits.store(true, Ordering::SeqCst);
            let gb = b.upgradable_read();
            drop((gb, ga));
        })
    };
    let ba = {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        spawn("ba", move || {
            let gb = b.upgradable_read();
            both.wait();
            wait_until(|| first_waits.load(Ordering::SeqCst));
            settle();
            let ga = a.upgradable_read();
            drop((ga, gb));
        })
    };
    exactly_one_reported("upgradable ABBA", vec![ab, ba]);
    assert!(a.try_write().is_some() && b.try_write().is_some());
}

#[test]
fn reentrant_mutexes_in_opposite_orders_are_reported_even_when_re_entered() {
    let a = Arc::new(ReentrantMutex::with_name((), "dl-re-a"));
    let b = Arc::new(ReentrantMutex::with_name((), "dl-re-b"));
    let both = Arc::new(Barrier::new(2));
    let first_waits = Arc::new(AtomicBool::new(false));
    let ab = {
        let (a, b, both, first_waits) =
            (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both), Arc::clone(&first_waits));
        spawn("ab", move || {
            let ga = a.lock();
            let ga2 = a.lock(); // re-entered: still one hold of `a`
            both.wait();
            first_waits.store(true, Ordering::SeqCst);
            let gb = b.lock();
            drop((gb, ga2, ga));
        })
    };
    let ba = {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        spawn("ba", move || {
            let gb = b.lock();
            let gb2 = b.lock();
            drop(gb); // out of order: `b` is still held through `gb2`
            both.wait();
            wait_until(|| first_waits.load(Ordering::SeqCst));
            settle();
            let ga = a.lock();
            drop((ga, gb2));
        })
    };
    exactly_one_reported("reentrant ABBA", vec![ab, ba]);
    assert!(a.try_lock().is_some() && b.try_lock().is_some());
}

#[test]
fn a_condvar_re_acquisition_that_closes_a_cycle_is_reported_and_releases_nothing_twice() {
    // The waiter holds `gate` while it waits on the condvar (a warning in itself); the other
    // thread takes the condvar's mutex while the waiter sleeps, then wants `gate`. When the
    // waiter's wait times out, its re-acquisition of the mutex closes the cycle: it panics inside
    // `Condvar::wait_for`, and its guard, which no longer holds the mutex, must neither release
    // it nor give access to the data.
    let gate = Arc::new(Mutex::with_name((), "dl-cv-gate"));
    let pair = Arc::new((Mutex::with_name(0u32, "dl-cv-mutex"), Condvar::new()));
    let about_to_wait = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (gate, pair, about_to_wait) = (Arc::clone(&gate), Arc::clone(&pair), Arc::clone(&about_to_wait));
        spawn("cv-waiter", move || {
            let _g = gate.lock();
            let mut n = pair.0.lock();
            about_to_wait.store(true, Ordering::SeqCst);
            let waited =
                panic::catch_unwind(AssertUnwindSafe(|| pair.1.wait_for(&mut n, Duration::from_millis(300))));
            if let Err(report) = waited {
                // The guard did not get its mutex back: using it panics instead of racing with
                // the mutex's holder.
                assert!(panic::catch_unwind(AssertUnwindSafe(|| *n)).is_err());
                panic::resume_unwind(report);
            }
            *n += 1;
        })
    };
    let other = {
        let (gate, pair) = (Arc::clone(&gate), Arc::clone(&pair));
        spawn("cv-other", move || {
            wait_until(|| about_to_wait.load(Ordering::SeqCst));
            // The mutex is free only once the waiter sleeps on the condvar.
            let mut n = pair.0.lock();
            drop(gate.lock()); // waits for the waiter, which will want the mutex back
            *n += 1;
        })
    };
    let report = exactly_one_reported("condvar re-acquisition", vec![waiter, other]);
    assert!(report.contains("\"cv-waiter\", policy: panic"), "the waiter closed the cycle: {report}");
    // Both locks are free and consistent (a double release would have broken the raw mutex),
    // and the other thread went on.
    assert!(!pair.0.is_locked() && !gate.is_locked());
    assert_eq!(*pair.0.try_lock().unwrap(), 1);
    assert!(gate.try_lock().is_some());
}

fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !condition() {
        assert!(Instant::now() < deadline, "a scenario step never happened");
        thread::yield_now();
    }
}

#[test]
fn a_mapped_guard_still_holds_its_mutex_in_the_graph() {
    let lock = Arc::new(Mutex::with_name((0u32, 0u32), "dl-mapped"));
    let l = Arc::clone(&lock);
    let t = spawn("mapped", move || {
        let mut half = lockprof::parking_lot::MutexGuard::map(l.lock(), |p| &mut p.0);
        *half += 1;
        let again = l.lock(); // it would wait for itself
        drop((again, half));
    });
    let report = exactly_one_reported("mapped", vec![t]);
    assert!(report.contains("dl-mapped"), "{report}");
    assert_eq!(lock.lock().0, 1, "the mapped guard released the mutex while unwinding");
}
