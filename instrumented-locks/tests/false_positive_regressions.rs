//! Regressions for false positives found in review: each scenario blocks for a while but always
//! makes progress, and each used to be reported as a deadlock.
//! - A thread holds a lock in two ways (an upgradable read and a plain read) and releases them
//!   out of order: its recorded holds must keep the right one.
//! - A thread holds more locks than the held stack records and releases out of order: no
//!   released lock may stay recorded as held.
//!
//! The third finding, a reader seen waiting after it had acquired, needs a preemption at one
//! instruction to show; it is fixed at the root: a read wait ends atomically with its
//! acquisition (see `LockState::wait`).
#![cfg(all(feature = "parking_lot", not(feature = "off")))]
use lockprof::parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn ms(n: u64) {
    thread::sleep(Duration::from_millis(n));
}

/// Upgradable then read on the same lock, upgradable dropped first: held copy keeps "Upgradable".
#[test]
fn upgradable_then_read_dropped_out_of_order() {
    let l = Arc::new(RwLock::new(()));
    let m = Arc::new(Mutex::new(()));
    let (l1, m1) = (l.clone(), m.clone());
    let a = thread::spawn(move || {
        let up = l1.upgradable_read();
        let r = l1.read();
        drop(up);
        ms(100); // B holds m by now
        let g = m1.lock(); // blocks until B releases m
        drop(g);
        drop(r);
    });
    ms(20);
    let l2 = l.clone();
    let z = thread::spawn(move || {
        let u = l2.upgradable_read();
        ms(600);
        drop(u);
    });
    ms(20);
    let (l3, m3) = (l.clone(), m.clone());
    let b = thread::spawn(move || {
        let g = m3.lock();
        ms(200); // A now waits for m
        let u = l3.upgradable_read(); // waits for Z only
        drop(u);
        drop(g);
    });
    a.join().unwrap();
    z.join().unwrap();
    b.join().unwrap();
    eprintln!("REVIEW upg: all threads finished; deadlocks_found = {}", lockprof_profiler::deadlocks_found());
}

/// 33 held locks, out-of-order release leaves a phantom entry.
#[test]
fn held_stack_overflow_phantom() {
    let locks: Arc<Vec<Mutex<()>>> = Arc::new((0..33).map(|_| Mutex::new(())).collect());
    let x = Arc::new(Mutex::new(()));
    let (ls, x1) = (locks.clone(), x.clone());
    let a = thread::spawn(move || {
        let mut guards: Vec<_> = ls.iter().map(|l| l.lock()).collect();
        drop(guards.remove(0)); // L0 out of order
        drop(guards.remove(30)); // L31
        ms(100);
        let g = x1.lock(); // waits for B
        drop(g);
        drop(guards);
    });
    ms(50);
    let ls2 = locks.clone();
    let c = thread::spawn(move || {
        let g = ls2[31].lock();
        ms(600);
        drop(g);
    });
    ms(20);
    let (ls3, x3) = (locks.clone(), x.clone());
    let b = thread::spawn(move || {
        let g = x3.lock();
        ms(200);
        let h = ls3[31].lock(); // waits for C only
        drop(h);
        drop(g);
    });
    a.join().unwrap();
    c.join().unwrap();
    b.join().unwrap();
    eprintln!(
        "REVIEW overflow: all threads finished; deadlocks_found = {}",
        lockprof_profiler::deadlocks_found()
    );
}
