//! The peers of lockprof's lock benchmark, measured with the same harness
//! (`../../harness/mod.rs`) in a process and a workspace of their own: std (the baseline of this
//! process), parking_lot with `deadlock_detection` (and its checker thread), and tracing-mutex's
//! always-tracing `stdsync` and `parkinglot` types. Prints tab-separated results for
//! `benches/mutex.rs`, which runs this and merges them into its table.
//!
//! ```text
//! lockprof-bench-peers [--quick]
//! lockprof-bench-peers --only <case> <std|pl-dd|tm-std|tm-pl> [iters]
//! ```

#[path = "../../harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::{CASES, Case, Family, Impl, Settings, bench_case};

struct Std;
impl Family for Std {
    const NAME: &'static str = "std";
    type M = std::sync::Mutex<u64>;
    type RW = std::sync::RwLock<u64>;
}
std_api_locks!(std::sync::Mutex<u64>, std::sync::RwLock<u64>);

struct PlDeadlockDetection;
impl Family for PlDeadlockDetection {
    const NAME: &'static str = "parking_lot+deadlock_detect.";
    type M = parking_lot::Mutex<u64>;
    type RW = parking_lot::RwLock<u64>;
}
parking_lot_api_locks!(parking_lot::Mutex<u64>, parking_lot::RwLock<u64>);

struct TracingStd;
impl Family for TracingStd {
    const NAME: &'static str = "tracing-mutex (stdsync)";
    type M = tracing_mutex::stdsync::tracing::Mutex<u64>;
    type RW = tracing_mutex::stdsync::tracing::RwLock<u64>;
}
std_api_locks!(tracing_mutex::stdsync::tracing::Mutex<u64>, tracing_mutex::stdsync::tracing::RwLock<u64>);

struct TracingPl;
impl Family for TracingPl {
    const NAME: &'static str = "tracing-mutex (parkinglot)";
    type M = tracing_mutex::parkinglot::tracing::Mutex<u64>;
    type RW = tracing_mutex::parkinglot::tracing::RwLock<u64>;
}
parking_lot_api_locks!(
    tracing_mutex::parkinglot::tracing::Mutex<u64>,
    tracing_mutex::parkinglot::tracing::RwLock<u64>
);

fn impls() -> [(&'static str, Impl); 4] {
    [
        ("std", Impl::of::<Std>(false)),
        ("pl-dd", Impl::of::<PlDeadlockDetection>(false)),
        ("tm-std", Impl::of::<TracingStd>(false)),
        ("tm-pl", Impl::of::<TracingPl>(false)),
    ]
}

/// parking_lot's deadlock detection finds nothing unless someone asks: as its docs suggest, a
/// background thread checks periodically (here every second) for the whole run.
fn start_deadlock_checker() {
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let found = parking_lot::deadlock::check_deadlock();
            assert!(found.is_empty(), "parking_lot found a deadlock in the benchmark");
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(pos) = args.iter().position(|a| a == "--only") {
        let usage = "usage: lockprof-bench-peers --only <case> <std|pl-dd|tm-std|tm-pl> [iters]";
        let case = args.get(pos + 1).and_then(|c| Case::parse(c)).expect(usage);
        let (_, imp) = impls()
            .into_iter()
            .find(|(short, _)| Some(short) == args.get(pos + 2).map(|s| &s[..]).as_ref())
            .expect(usage);
        let iters: u64 = args.get(pos + 3).map_or(1_000_000, |s| s.parse().expect(usage));
        println!("{} {} {iters} iters: {:.2} ns/op", case.id(), imp.name, (imp.run)(case, iters).ns);
        return;
    }
    let settings = Settings::new(args.iter().any(|a| a == "--quick"));
    start_deadlock_checker();
    println!(
        "info\tparking_lot with deadlock_detection (checker thread every 1 s); tracing-mutex 0.3 (default features)"
    );
    let impls: Vec<Impl> = impls().into_iter().map(|(_, imp)| imp).collect();
    for case in CASES {
        let result = bench_case(case, &settings, &impls, || 0);
        for line in result.to_lines() {
            println!("{line}");
        }
    }
}
