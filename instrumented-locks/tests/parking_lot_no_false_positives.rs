//! The `parking_lot` flavour blocks, sometimes for long, in ways that are not deadlocks, and
//! nothing may be reported: re-entering a `ReentrantMutex`, a recursive read past a queued
//! writer, upgrades, timed acquisitions that give up, condition variables. Every scenario runs
//! under a watchdog, so one that hangs (because lockprof modelled it wrong, or blocked where
//! parking_lot does not) fails instead of hanging the run.

#![cfg(all(feature = "parking_lot", not(feature = "off")))]

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use lockprof::parking_lot::{Condvar, Mutex, ReentrantMutex, RwLock, RwLockUpgradableReadGuard};
use lockprof_profiler::trace::snapshot;
use lockprof_trace::schema::Trace;

/// Far above what any scenario needs; only a hang reaches it.
const BOUND: Duration = Duration::from_secs(30);

/// Runs `scenario` on a thread of its own and fails the test if it has not finished within
/// [`BOUND`] (the hung thread is left behind; the test process ends with the test run).
fn within<R: Send + 'static>(name: &str, scenario: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, finished) = mpsc::channel();
    let worker = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let result = scenario();
            let _ = done.send(());
            result
        })
        .unwrap();
    match finished.recv_timeout(BOUND) {
        Ok(()) => worker.join().unwrap(),
        // The scenario panicked (the sender was dropped): report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(_) => unreachable!(),
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: hung for {BOUND:?}"),
    }
}

/// Polls `condition` until it holds (bounded).
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        thread::yield_now();
    }
}

/// Polls until at least `n` more wait episodes (checked waits) have started than `before`.
fn wait_for_episodes(before: u64, n: u64) {
    wait_until("the waits became episodes", || lockprof_profiler::wait_episodes() >= before + n);
}

fn lock_id(trace: &Trace, name: &str) -> Option<u64> {
    trace.locks.iter().find(|l| l.name.as_deref() == Some(name)).map(|l| l.id)
}

fn has_edge(trace: &Trace, from: &str, to: &str) -> bool {
    let (Some(from), Some(to)) = (lock_id(trace, from), lock_id(trace, to)) else { return false };
    trace.lock_order.iter().any(|e| e.from == from && e.to == to)
}

#[test]
fn a_reentrant_mutex_re_entered_is_not_a_deadlock_and_leaves_the_held_stack_balanced() {
    let r = Arc::new(ReentrantMutex::with_name(RefCell::new(0u32), "re-r"));
    let m = Arc::new(Mutex::with_name(0u32, "re-m"));
    let before = lockprof_profiler::wait_episodes();
    let contender_started = Arc::new(Barrier::new(2));
    let contender = {
        let (r, contender_started) = (Arc::clone(&r), Arc::clone(&contender_started));
        thread::spawn(move || {
            contender_started.wait();
            *r.lock().borrow_mut() += 100; // waits until the owner's last guard is gone
        })
    };
    let (r2, m2) = (Arc::clone(&r), Arc::clone(&m));
    within("reentrant", move || {
        let (r, m) = (r2, m2);
        let outer = r.lock();
        contender_started.wait();
        // The contender's wait is checked while the owner re-enters, again and again.
        wait_for_episodes(before, 1);
        let mg = m.lock(); // edge re-r → re-m
        let again = r.lock(); // re-entered while holding re-m: no edge re-m → re-r
        let tried = r.try_lock().expect("the owner's try_lock re-enters");
        let timed = r.try_lock_for(Duration::from_millis(1)).expect("the owner's timed lock re-enters");
        *again.borrow_mut() += 1;
        for _ in 0..1_000 {
            let g = r.lock();
            *g.borrow_mut() += 1;
        }
        // Out of order: only the last guard releases.
        drop(outer);
        drop(mg);
        drop(tried);
        assert!(r.is_owned_by_current_thread());
        drop(again);
        drop(timed);
        assert!(!r.is_owned_by_current_thread());
        // Balanced: nothing of re-r is left on this thread's held stack, so these two
        // acquisitions add the edge after-a → after-b and none from re-r.
        let a = Mutex::with_name((), "re-after-a");
        let b = Mutex::with_name((), "re-after-b");
        let ga = a.lock();
        drop(b.lock());
        drop(ga);
    });
    contender.join().unwrap();
    assert_eq!(*r.lock().borrow(), 1_101);
    let trace = snapshot();
    assert!(has_edge(&trace, "re-r", "re-m"), "the real order was recorded");
    assert!(!has_edge(&trace, "re-m", "re-r"), "a re-entry recorded an order edge");
    assert!(!has_edge(&trace, "re-r", "re-after-a"), "re-r was left on the held stack");
    assert!(!has_edge(&trace, "re-r", "re-after-b"), "re-r was left on the held stack");
    assert!(has_edge(&trace, "re-after-a", "re-after-b"));
    assert_eq!(lockprof_profiler::deadlocks_found(), 0, "false positive");
}

#[test]
fn a_recursive_read_overtakes_a_queued_writer_and_completes() {
    let lock = Arc::new(RwLock::with_name(0u32, "rr-lock"));
    let l = Arc::clone(&lock);
    within("read_recursive", move || {
        let outer = l.read();
        let writer = {
            let l = Arc::clone(&l);
            thread::spawn(move || *l.write() += 1)
        };
        // parking_lot marks the lock as exclusively wanted once the writer, queued, waits for the
        // readers to leave; from then on a plain `read` would wait behind it, forever.
        wait_until("the writer is queued", || l.is_locked_exclusive());
        assert!(l.try_read().is_none(), "a plain read would wait behind the writer");
        let inner = l.read_recursive(); // must not wait: this thread holds a read lock
        let timed = l.try_read_recursive_for(Duration::from_secs(5)).expect("must not wait either");
        assert_eq!(*inner + *timed + *outer, 0);
        drop((inner, timed, outer));
        writer.join().unwrap();
    });
    assert_eq!(*lock.read(), 1);
    assert_eq!(lockprof_profiler::deadlocks_found(), 0, "false positive");
}

#[test]
fn an_upgrade_waits_for_the_readers_and_completes() {
    let lock = Arc::new(RwLock::with_name(Vec::<u32>::new(), "up-lock"));
    let l = Arc::clone(&lock);
    within("upgrade", move || {
        let up = l.upgradable_read();
        let reader_in = Arc::new(Barrier::new(2));
        let late_reader_reads = Arc::new(AtomicBool::new(false));
        let reader = {
            let (l, reader_in, late) =
                (Arc::clone(&l), Arc::clone(&reader_in), Arc::clone(&late_reader_reads));
            thread::spawn(move || {
                let r = l.read(); // readers share with an upgradable reader
                reader_in.wait();
                // Hold on until the upgrade waits for us (parking_lot marks the lock exclusively
                // wanted), and a late reader has queued behind it, long enough for both waits to
                // be checked (the grace period is 50 µs); neither may be reported.
                wait_until("the upgrade waits", || l.is_locked_exclusive());
                wait_until("the late reader reads", || late.load(Ordering::SeqCst));
                thread::sleep(Duration::from_millis(50));
                drop(r);
            })
        };
        reader_in.wait();
        let late_reader = {
            let (l, late) = (Arc::clone(&l), Arc::clone(&late_reader_reads));
            thread::spawn(move || {
                wait_until("the upgrade waits", || l.is_locked_exclusive());
                late.store(true, Ordering::SeqCst);
                l.read().len() // waits behind the upgrade (parking_lot is fair)
            })
        };
        let mut w = RwLockUpgradableReadGuard::upgrade(up);
        w.push(1);
        let r = lockprof::parking_lot::RwLockWriteGuard::downgrade(w);
        assert_eq!(*r, [1]);
        drop(r);
        reader.join().unwrap();
        assert_eq!(late_reader.join().unwrap(), 1);
        // And back and forth on one thread.
        let up = l.upgradable_read();
        let w = RwLockUpgradableReadGuard::upgrade(up);
        let up = lockprof::parking_lot::RwLockWriteGuard::downgrade_to_upgradable(w);
        let r = RwLockUpgradableReadGuard::downgrade(up);
        let r2 = l.read_recursive();
        drop((r, r2));
    });
    assert_eq!(*lock.read(), [1]);
    assert_eq!(lockprof_profiler::deadlocks_found(), 0, "false positive");
}

#[test]
fn timed_acquisitions_that_time_out_return_none_without_a_report() {
    within("timed", || {
        let a = Arc::new(Mutex::with_name(0u32, "timed-a"));
        let b = Arc::new(Mutex::with_name(0u32, "timed-b"));
        let rw = Arc::new(RwLock::with_name(0u32, "timed-rw"));
        let held_b = Arc::new(Barrier::new(2));
        let before = lockprof_profiler::wait_episodes();
        // A cycle closed only through a timed wait is no deadlock: the timed waiter gives up.
        let untimed = {
            let (a, b, held_b) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&held_b));
            thread::spawn(move || {
                let gb = b.lock();
                held_b.wait();
                let ga = a.lock(); // waits for the timed thread to give up
                (*ga, *gb)
            })
        };
        let ga = a.lock();
        held_b.wait();
        wait_for_episodes(before, 1); // the untimed wait is checked while we hold `a`
        let started = Instant::now();
        assert!(b.try_lock_for(Duration::from_millis(200)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(b.try_lock_until(Instant::now() + Duration::from_millis(20)).is_none());
        drop(ga);
        assert_eq!(untimed.join().unwrap(), (0, 0));

        // Reader-writer timed waits, against a holder on another thread.
        let r = rw.read();
        let rw2 = Arc::clone(&rw);
        let (write, upgrade) = thread::spawn(move || {
            let write = rw2.try_write_for(Duration::from_millis(50)).is_some();
            let up = rw2.upgradable_read();
            let upgrade = RwLockUpgradableReadGuard::try_upgrade_for(up, Duration::from_millis(50)).is_ok();
            (write, upgrade)
        })
        .join()
        .unwrap();
        assert!(!write && !upgrade);
        drop(r);
        let w = rw.write();
        let rw2 = Arc::clone(&rw);
        let timed_out = thread::spawn(move || {
            (
                rw2.try_read_for(Duration::from_millis(20)).is_none(),
                rw2.try_read_recursive_for(Duration::from_millis(20)).is_none(),
                rw2.try_upgradable_read_for(Duration::from_millis(20)).is_none(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(timed_out, (true, true, true));
        drop(w);
        // The lock is usable afterwards: a timed write that gave up left no writer mark behind.
        assert!(rw.try_read().is_some());
    });
    assert_eq!(lockprof_profiler::deadlocks_found(), 0, "false positive");
}

#[test]
fn condvar_waits_release_the_mutex_and_producers_and_consumers_finish() {
    const ITEMS: u32 = 20_000;
    struct Queue {
        items: Mutex<Vec<u32>>,
        not_empty: Condvar,
        not_full: Condvar,
    }
    let q = Arc::new(Queue {
        items: Mutex::with_name(Vec::new(), "cv-queue"),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    let total = within("condvar", move || {
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    for i in 0..ITEMS / 2 {
                        let mut items = q.items.lock();
                        q.not_full.wait_while(&mut items, |items| items.len() >= 8);
                        items.push(p * ITEMS + i);
                        drop(items);
                        q.not_empty.notify_one();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let mut taken = 0u64;
                    for _ in 0..ITEMS / 2 {
                        let mut items = q.items.lock();
                        while items.is_empty() {
                            q.not_empty.wait_for(&mut items, Duration::from_millis(50));
                        }
                        items.pop();
                        taken += 1;
                        drop(items);
                        q.not_full.notify_all();
                    }
                    taken
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        consumers.into_iter().map(|c| c.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, u64::from(ITEMS));
    assert_eq!(lockprof_profiler::deadlocks_found(), 0, "false positive");
}
