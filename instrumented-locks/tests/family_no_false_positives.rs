//! No false positives across the lock family: each scenario here blocks, sometimes for long,
//! but can always make progress, and nothing may be reported. Every test ends by itself; waits
//! for the detector to have run are bounded polls on its episode counter, never sleeps.

// lockprof compiled out (feature `off`) has nothing to test here: see off.rs.
#![cfg(not(feature = "off"))]

use std::collections::VecDeque;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use lockprof::{Condvar, Mutex, RwLock, Semaphore};

/// Polls until at least `n` more wait episodes (checked waits) have started than `before`.
fn wait_for_episodes(before: u64, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while lockprof_profiler::wait_episodes() < before + n {
        assert!(Instant::now() < deadline, "the waits never became episodes");
        thread::yield_now();
    }
}

#[test]
fn a_full_pool_whose_holder_is_slow_but_finishes_is_not_a_deadlock() {
    let pool = Arc::new(Semaphore::with_name(1, "slow-pool"));
    let gate = Arc::new(Mutex::with_name((), "slow-gate"));
    // The gate's holder is running, not waiting: the permit holder blocked on it will go on.
    let gate_held = gate.lock().unwrap();
    let permit_taken = Arc::new(Barrier::new(2));
    let before = lockprof_profiler::wait_episodes();
    let holder = {
        let (pool, gate, permit_taken) = (Arc::clone(&pool), Arc::clone(&gate), Arc::clone(&permit_taken));
        thread::spawn(move || {
            let _permit = pool.acquire();
            permit_taken.wait();
            drop(gate.lock().unwrap()); // slow: waits for the running gate holder
        })
    };
    permit_taken.wait();
    let waiter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || drop(pool.acquire())) // the pool is full
    };
    wait_for_episodes(before, 2); // both the holder and the waiter were checked
    assert_eq!(lockprof_profiler::deadlocks_found(), 0);
    drop(gate_held);
    holder.join().unwrap();
    waiter.join().unwrap();
    assert_eq!(pool.available_permits(), 1);
    assert_eq!(lockprof_profiler::deadlocks_found(), 0);
}

#[test]
fn condvar_producers_and_consumers_under_load() {
    const ITEMS: u64 = 20_000;
    struct Queue {
        items: Mutex<VecDeque<u64>>,
        not_empty: Condvar,
        not_full: Condvar,
    }
    let q = Arc::new(Queue {
        items: Mutex::new(VecDeque::new()),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                for i in 0..ITEMS {
                    let mut items =
                        q.not_full.wait_while(q.items.lock().unwrap(), |items| items.len() >= 4).unwrap();
                    items.push_back(p * ITEMS + i);
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
                let mut sum = 0u64;
                for _ in 0..ITEMS {
                    let mut items =
                        q.not_empty.wait_while(q.items.lock().unwrap(), |items| items.is_empty()).unwrap();
                    sum += items.pop_front().unwrap();
                    drop(items);
                    q.not_full.notify_one();
                }
                sum
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let total: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    let n = 2 * ITEMS;
    assert_eq!(total, n * (n - 1) / 2, "every item consumed once");
    assert_eq!(lockprof_profiler::deadlocks_found(), 0);
}

#[test]
fn rwlock_readers_and_writers_under_heavy_contention() {
    let data = Arc::new(RwLock::with_name([0u64; 4], "contended-rw"));
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (data, start) = (Arc::clone(&data), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for i in 0..20_000u64 {
                    if t < 2 {
                        let mut w = data.write().unwrap();
                        for x in w.iter_mut() {
                            *x += 1;
                        }
                    } else {
                        let r = data.read().unwrap();
                        assert!(r.iter().all(|&x| x == r[0]), "a reader saw a torn write");
                        if i % 128 == 0 {
                            thread::yield_now(); // hold the read across a reschedule
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*data.read().unwrap(), [40_000; 4]);
    assert_eq!(lockprof_profiler::deadlocks_found(), 0);
}

#[test]
fn try_write_back_off_in_opposite_orders() {
    let a = Arc::new(RwLock::new(0u32));
    let b = Arc::new(RwLock::new(0u32));
    let start = Arc::new(Barrier::new(2));
    let spawn = |first: Arc<RwLock<u32>>, second: Arc<RwLock<u32>>, start: Arc<Barrier>| {
        thread::spawn(move || {
            start.wait();
            let mut done = 0;
            while done < 2_000 {
                let mut held = first.write().unwrap();
                if let Ok(mut other) = second.try_write() {
                    *held += 1;
                    *other += 1;
                    done += 1;
                }
            }
        })
    };
    let t1 = spawn(Arc::clone(&a), Arc::clone(&b), Arc::clone(&start));
    let t2 = spawn(Arc::clone(&b), Arc::clone(&a), Arc::clone(&start));
    t1.join().unwrap();
    t2.join().unwrap();
    assert_eq!(lockprof_profiler::deadlocks_found(), 0);
}
