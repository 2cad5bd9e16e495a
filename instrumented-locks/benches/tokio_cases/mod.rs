//! `lockprof::tokio::Mutex` against `tokio::sync::Mutex` (feature `tokio`), in the same process,
//! interleaved rounds, medians and paired ratios, as the thread locks' table:
//! - uncontended: one task on a current-thread runtime, lock, touch, unlock;
//! - contended by 2 and 4 tasks on a multi-thread runtime (2 workers): each task locks, bumps a
//!   counter and unlocks in a loop, so waits return `Pending` and go through lockprof's slow
//!   path (every such wait is published and checked for deadlock).

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// A mutex type as the benchmark needs it.
trait AsyncMutex: Send + Sync + 'static {
    const NAME: &'static str;
    fn make() -> Self;
    fn bump(&self) -> impl Future<Output = ()> + Send + '_;
}

impl AsyncMutex for tokio::sync::Mutex<u64> {
    const NAME: &'static str = "tokio::sync::Mutex";
    fn make() -> Self {
        tokio::sync::Mutex::new(0)
    }
    // Not `async fn`: spawning needs the `Send` bound spelled out.
    #[allow(clippy::manual_async_fn)]
    fn bump(&self) -> impl Future<Output = ()> + Send + '_ {
        async move { *black_box(&mut *self.lock().await) += 1 }
    }
}

impl AsyncMutex for lockprof::tokio::Mutex<u64> {
    const NAME: &'static str = "lockprof::tokio::Mutex";
    fn make() -> Self {
        lockprof::tokio::Mutex::new(0)
    }
    // Not `async fn`: spawning needs the `Send` bound spelled out.
    #[allow(clippy::manual_async_fn)]
    fn bump(&self) -> impl Future<Output = ()> + Send + '_ {
        async move { *black_box(&mut *self.lock().await) += 1 }
    }
}

/// ns per lock+unlock of `tasks` tasks (0: one task on a current-thread runtime) doing `iters`
/// in all.
fn measure<M: AsyncMutex>(tasks: usize, iters: u64) -> f64 {
    let lock = Arc::new(M::make());
    if tasks == 0 {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let started = Instant::now();
        runtime
            .block_on(runtime.spawn(async move {
                for _ in 0..iters {
                    lock.bump().await;
                }
            }))
            .unwrap();
        return started.elapsed().as_nanos() as f64 / iters as f64;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let per_task = iters / tasks as u64;
    let started = Instant::now();
    runtime.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let lock = Arc::clone(&lock);
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        lock.bump().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    started.elapsed().as_nanos() as f64 / (per_task * tasks as u64) as f64
}

/// `--only tokio/<uncontended|contended2|contended4> <tokio|lockprof> [iters]`: one measurement
/// of one implementation, nothing else (for instruction counts under callgrind). Returns
/// whether `case` was one of these.
pub(crate) fn run_only(case: &str, imp: Option<&str>, iters: u64) -> bool {
    let tasks = match case {
        "tokio/uncontended" => 0,
        "tokio/contended2" => 2,
        "tokio/contended4" => 4,
        _ => return false,
    };
    let ns = match imp {
        Some("tokio") => measure::<tokio::sync::Mutex<u64>>(tasks, iters),
        Some("lockprof") => measure::<lockprof::tokio::Mutex<u64>>(tasks, iters),
        _ => panic!("usage: mutex --only {case} <tokio|lockprof> [iters]"),
    };
    println!("{case} {} {iters} iters: {ns:.2} ns/op", imp.unwrap_or_default());
    true
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs the cases and prints their rows; returns whether lockprof stayed within budget.
pub(crate) fn run(quick: bool) -> bool {
    let (rounds, iters) = if quick { (3, 20_000) } else { (15, 200_000) };
    println!();
    println!(
        "async mutex ({rounds} rounds of {iters} lock+unlock, interleaved; ratio: lockprof / tokio, paired by round)"
    );
    println!(
        "{:<28} {:>12} {:>14} {:>14} {:>8} {:<7}",
        "case", "tokio ns/op", "lockprof ns/op", "paired ratio", "budget", "verdict"
    );
    let mut all_within = true;
    for (label, tasks, budget) in
        [("uncontended (1 task)", 0, 1.3), ("contended, 2 tasks", 2, 1.3), ("contended, 4 tasks", 4, 1.3)]
    {
        let (mut base, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        measure::<tokio::sync::Mutex<u64>>(tasks, iters / 10); // warm-up
        measure::<lockprof::tokio::Mutex<u64>>(tasks, iters / 10);
        for round in 0..rounds {
            let (t, l) = if round % 2 == 0 {
                let t = measure::<tokio::sync::Mutex<u64>>(tasks, iters);
                (t, measure::<lockprof::tokio::Mutex<u64>>(tasks, iters))
            } else {
                let l = measure::<lockprof::tokio::Mutex<u64>>(tasks, iters);
                (measure::<tokio::sync::Mutex<u64>>(tasks, iters), l)
            };
            base.push(t);
            ours.push(l);
            ratios.push(l / t);
        }
        let ratio = median(ratios);
        let within = ratio <= budget;
        all_within &= within;
        println!(
            "{:<28} {:>12.1} {:>14.1} {:>13.2}x {:>7.1}x {:<7}",
            label,
            median(base),
            median(ours),
            ratio,
            budget,
            if within { "within" } else { "OVER" }
        );
        let _ = (
            <tokio::sync::Mutex<u64> as AsyncMutex>::NAME,
            <lockprof::tokio::Mutex<u64> as AsyncMutex>::NAME,
        );
    }
    println!(
        "lockprof wait episodes so far (async waits checked included): {}",
        lockprof_profiler::wait_episodes()
    );
    all_within
}
