//! The fast paths of one-time initialisation, lockprof's against std's in the same run: an
//! initialised `OnceLock::get_or_init`, an initialised `LazyLock` deref and a completed
//! `Once::call_once`. Rounds alternate std and lockprof (so drift of a shared machine hits both
//! alike); per case, the median ns per operation of each and the median of the per-round ratios.
//!
//! `cargo bench -p lockprof --bench once` (`-- --quick` for a smoke run).

use std::hint::black_box;
use std::time::Instant;

/// Nanoseconds per call of `op`, over `iters` calls.
fn time(iters: u64, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `std_op` and `ours` in alternating rounds and prints one row.
fn case(name: &str, rounds: usize, iters: u64, mut std_op: impl FnMut(), mut ours: impl FnMut()) {
    let (mut s, mut l, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = time(iters, &mut std_op);
            (a, time(iters, &mut ours))
        } else {
            let b = time(iters, &mut ours);
            (time(iters, &mut std_op), b)
        };
        s.push(a);
        l.push(b);
        ratios.push(b / a);
    }
    println!("{name:<36} {:>9.2} ns {:>9.2} ns {:>8.2}x", median(s), median(l), median(ratios));
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, iters) = if quick { (3, 100_000) } else { (21, 5_000_000) };
    println!("{:<36} {:>12} {:>12} {:>9}", "case (initialised)", "std", "lockprof", "paired");

    let std_cell = std::sync::OnceLock::new();
    let our_cell = lockprof::sync::OnceLock::new();
    case(
        "OnceLock::get_or_init",
        rounds,
        iters,
        || {
            black_box(std_cell.get_or_init(|| black_box(1u64)));
        },
        || {
            black_box(our_cell.get_or_init(|| black_box(1u64)));
        },
    );

    let std_lazy: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| black_box(2));
    let our_lazy: lockprof::sync::LazyLock<u64> = lockprof::sync::LazyLock::new(|| black_box(2));
    case(
        "LazyLock deref",
        rounds,
        iters,
        || {
            black_box(**black_box(&std_lazy));
        },
        || {
            black_box(**black_box(&our_lazy));
        },
    );

    let std_once = std::sync::Once::new();
    let our_once = lockprof::sync::Once::new();
    case(
        "Once::call_once",
        rounds,
        iters,
        || std_once.call_once(|| black_box(())),
        || our_once.call_once(|| black_box(())),
    );
}
