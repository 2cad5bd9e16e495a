//! Zero false positives under stress: many threads and locks, always taken in one global order,
//! so no deadlock is possible, while waits are long enough that the detector runs thousands of
//! times and sees holders come and go mid-exploration. Nothing may be reported.
//!
//! Under the default policy a report would panic the worker; the test also checks the counter.

// lockprof compiled out (feature `off`) has nothing to test here: see off.rs.
#![cfg(not(feature = "off"))]

use std::sync::Arc;
use std::thread;

use lockprof::Mutex;

const THREADS: usize = 8;
const LOCKS: usize = 6;
/// 8 threads × 100,000 iterations × about 1.6 locks ≥ 10⁶ acquisitions.
const ITERATIONS: usize = 100_000;

#[test]
fn a_million_ordered_contended_acquisitions_report_nothing() {
    let locks: Arc<Vec<Mutex<u64>>> = Arc::new((0..LOCKS).map(|_| Mutex::new(0)).collect());
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let locks = Arc::clone(&locks);
            thread::spawn(move || {
                let mut rng = 0x2545_F491_4F6C_DD1Du64.wrapping_mul(t as u64 + 1);
                let mut acquisitions = 0u64;
                for i in 0..ITERATIONS {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    // Two locks (or one) in ascending order: the pattern that produces the
                    // illusion a one-pass detector falls for (a holder that releases B and then
                    // waits for A while A's holder waits for B).
                    let first = (rng % LOCKS as u64) as usize;
                    let second = first + 1 + ((rng >> 8) % (LOCKS - first) as u64) as usize;
                    let mut a = locks[first].lock().unwrap();
                    *a += 1;
                    acquisitions += 1;
                    if second < LOCKS {
                        let mut b = locks[second].lock().unwrap();
                        *b += 1;
                        acquisitions += 1;
                        if i % 64 == 0 {
                            // Hold two locks across a reschedule now and then, so waits outlast
                            // the grace period and the detector runs.
                            thread::yield_now();
                        }
                    }
                }
                acquisitions
            })
        })
        .collect();
    let acquisitions: u64 = workers.into_iter().map(|w| w.join().expect("no worker may panic")).sum();
    let counted: u64 = locks.iter().map(|l| *l.lock().unwrap()).sum();

    assert_eq!(counted, acquisitions, "mutual exclusion broken: lost updates");
    assert!(acquisitions >= 1_000_000, "only {acquisitions} acquisitions");
    assert_eq!(lockprof_profiler::deadlocks_found(), 0, "false positive");
    let episodes = lockprof_profiler::wait_episodes();
    eprintln!("{acquisitions} acquisitions, {episodes} wait episodes checked for deadlock");
    assert!(episodes >= 100, "the detector ran only {episodes} times: the test would prove nothing");
}
