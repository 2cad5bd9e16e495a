//! Overhead of `lockprof::Mutex` (deadlock detection on, as shipped) against `std::sync::Mutex`
//! and `parking_lot::Mutex`, measured in the same run.
//!
//! A plain bench binary (no criterion, to keep CI light):
//!
//! ```text
//! cargo bench -p lockprof --bench mutex                 # full run, well under a minute
//! LOCKPROF_BENCH_QUICK=1 cargo bench -p lockprof --bench mutex   # smoke test, a few seconds
//! cargo bench -p lockprof --bench mutex -- --quick      # same
//! ```
//!
//! Method: every case is warmed up, its iteration count calibrated so that one round of the
//! slowest implementation takes about the target time, then run for several rounds. Within a
//! round the implementations run back to back (std, parking_lot, lockprof; the next round starts
//! with the next one), so drift of a shared machine hits all of them alike. The table shows the
//! median ns/op of each implementation and two ratios to std: the ratio of the medians, and the
//! median of the per-round ratios (paired within a round, so less sensitive to drift); the
//! budget verdict uses the paired one.
//!
//! Cases:
//! * `uncontended`: lock, increment a `u64`, unlock, on one thread; ns per lock+unlock.
//! * `nested`: lock A, lock B (while A is held), increment both, unlock both; ns per outer
//!   iteration (two lock+unlock pairs).
//! * `contended/N`: N threads hammer one lock (increment inside); wall time from the first
//!   thread's start to the last thread's end, divided by the total number of acquisitions.
//!
//! For contended cases the spread section also shows the median *parallelism* of the rounds: the
//! threads' total on-CPU time (`CLOCK_THREAD_CPUTIME_ID`, Linux only) over the wall
//! time. Near 1.0 means the threads mostly took turns on one CPU (for example because other
//! processes were busy), so there was little real contention in those rounds.
//!
//! The number of deadlock-detection wait episodes (blocked acquisitions that outlasted
//! `lockprof_profiler::GRACE` and so captured a stack and explored the wait-for graph) is shown
//! per case, so the reader knows how often lockprof's slow path ran.
//!
//! `LOCKPROF_BENCH_STRICT=1` makes the binary exit with status 1 when a row is over budget
//! (off by default: timings on shared CI machines are noisy).
//!
//! For instruction counts (repeatable where timings are not), run a single loop of a single
//! implementation with no warm-up, calibration or other threads, e.g. under callgrind:
//!
//! ```text
//! valgrind --tool=callgrind target/release/deps/mutex-<hash> --only uncontended lockprof 1000000
//! ```
//!
//! and divide the inclusive count of `mutex::uncontended::<..>` by the iteration count (or take
//! the difference of two runs with different counts). Cases: `uncontended`, `nested`, and for
//! sampling profilers (`perf record`) `contended<N>` (N threads); implementations: `std`, `pl`
//! (parking_lot), `lockprof`.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The three mutexes behind one interface, so each case is written once.
trait Lock: Send + Sync + 'static {
    const NAME: &'static str;
    fn new(value: u64) -> Self;
    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;
}

impl Lock for std::sync::Mutex<u64> {
    const NAME: &'static str = "std";
    fn new(value: u64) -> Self {
        std::sync::Mutex::new(value)
    }
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock().unwrap())
    }
}

impl Lock for parking_lot::Mutex<u64> {
    const NAME: &'static str = "pl";
    fn new(value: u64) -> Self {
        parking_lot::Mutex::new(value)
    }
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock())
    }
}

impl Lock for lockprof::Mutex<u64> {
    const NAME: &'static str = "lockprof";
    fn new(value: u64) -> Self {
        lockprof::Mutex::new(value)
    }
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock().unwrap())
    }
}

type StdM = std::sync::Mutex<u64>;
type PlM = parking_lot::Mutex<u64>;
type LpM = lockprof::Mutex<u64>;

// ---------------------------------------------------------------------------------------------
// The measured loops. `#[inline(never)]` so that each is one symbol for callgrind / perf.

/// Case (a): lock, increment, unlock, `iters` times.
#[inline(never)]
fn uncontended<L: Lock>(m: &L, iters: u64) {
    for _ in 0..iters {
        black_box(m).with(|v| *v += 1);
    }
}

/// Case (b): lock A, lock B while A is held, increment both, unlock B then A; `iters` times.
#[inline(never)]
fn nested<L: Lock>(a: &L, b: &L, iters: u64) {
    for _ in 0..iters {
        black_box(a).with(|x| {
            black_box(b).with(|y| {
                *x += 1;
                *y += 1;
            })
        });
    }
}

/// Case (c), one thread's share: `iters` acquisitions of the shared lock.
#[inline(never)]
fn hammer<L: Lock>(m: &L, iters: u64) {
    for _ in 0..iters {
        black_box(m).with(|v| *v += 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Cases: each returns ns/op for one round of `iters` operations.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Uncontended,
    Nested,
    Contended(usize),
}

impl Case {
    fn label(self) -> String {
        match self {
            Case::Uncontended => "uncontended".to_owned(),
            Case::Nested => "nested (A then B)".to_owned(),
            Case::Contended(n) => format!("contended/{n} threads"),
        }
    }

    /// Allowed lockprof/std ratio.
    fn budget(self) -> f64 {
        match self {
            Case::Uncontended => 1.3,
            Case::Nested => 1.6,
            Case::Contended(_) => 1.3,
        }
    }

    /// Runs one round of `iters` operations (for contended cases: acquisitions in total, over
    /// all threads) on implementation `L`.
    fn run<L: Lock>(self, iters: u64) -> Sample {
        match self {
            Case::Uncontended => {
                let m = L::new(0);
                let start = Instant::now();
                uncontended(&m, iters);
                let elapsed = start.elapsed();
                assert_eq!(m.with(|v| *v), iters);
                Sample { ns: per_op(elapsed, iters), parallelism: None }
            }
            Case::Nested => {
                let a = L::new(0);
                let b = L::new(0);
                let start = Instant::now();
                nested(&a, &b, iters);
                let elapsed = start.elapsed();
                assert_eq!(a.with(|v| *v) + b.with(|v| *v), 2 * iters);
                Sample { ns: per_op(elapsed, iters), parallelism: None }
            }
            Case::Contended(threads) => {
                let per_thread = (iters / threads as u64).max(1);
                let total = per_thread * threads as u64;
                let m = L::new(0);
                let barrier = Barrier::new(threads);
                let spans: Vec<(Instant, Instant, Option<u64>)> = std::thread::scope(|s| {
                    let handles: Vec<_> = (0..threads)
                        .map(|_| {
                            s.spawn(|| {
                                barrier.wait();
                                let cpu_before = thread_cpu_ns();
                                let start = Instant::now();
                                hammer(&m, per_thread);
                                let end = Instant::now();
                                let cpu = thread_cpu_ns().zip(cpu_before).map(|(a, b)| a - b);
                                (start, end, cpu)
                            })
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                });
                let start = spans.iter().map(|s| s.0).min().unwrap();
                let end = spans.iter().map(|s| s.1).max().unwrap();
                assert_eq!(m.with(|v| *v), total);
                let wall = end - start;
                let cpu: Option<u64> = spans.iter().map(|s| s.2).sum();
                let parallelism = cpu.map(|c| c as f64 / wall.as_nanos().max(1) as f64);
                Sample { ns: per_op(wall, total), parallelism }
            }
        }
    }
}

/// One round's result.
struct Sample {
    ns: f64,
    /// Contended cases only: threads' on-CPU time over wall time.
    parallelism: Option<f64>,
}

fn per_op(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}

/// The calling thread's on-CPU time so far, in ns (64-bit Linux: `CLOCK_THREAD_CPUTIME_ID`, which,
/// unlike `/proc/thread-self/schedstat`, includes the running time slice).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout); libc is linked by std.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

// ---------------------------------------------------------------------------------------------
// Driver.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Impl {
    Std,
    Pl,
    Lockprof,
}

const IMPLS: [Impl; 3] = [Impl::Std, Impl::Pl, Impl::Lockprof];

impl Impl {
    fn parse(s: &str) -> Option<Impl> {
        match s {
            "std" => Some(Impl::Std),
            "pl" | "parking_lot" => Some(Impl::Pl),
            "lockprof" | "lp" => Some(Impl::Lockprof),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Impl::Std => StdM::NAME,
            Impl::Pl => PlM::NAME,
            Impl::Lockprof => LpM::NAME,
        }
    }

    fn run(self, case: Case, iters: u64) -> Sample {
        match self {
            Impl::Std => case.run::<StdM>(iters),
            Impl::Pl => case.run::<PlM>(iters),
            Impl::Lockprof => case.run::<LpM>(iters),
        }
    }
}

struct Settings {
    quick: bool,
    rounds: usize,
    /// Target duration of one round of the slowest implementation.
    target: Duration,
    target_contended: Duration,
}

/// Result of one case: per implementation (in `IMPLS` order), the ns/op of every round.
struct CaseResult {
    case: Case,
    iters: u64,
    samples: [Vec<f64>; 3],
    parallelism: [Vec<f64>; 3],
    episodes: u64,
}

impl CaseResult {
    fn median(&self, i: usize) -> f64 {
        median(&self.samples[i])
    }

    /// Median over rounds of `impl i / std` within the same round.
    fn paired_ratio(&self, i: usize) -> f64 {
        let ratios: Vec<f64> = self.samples[i].iter().zip(&self.samples[0]).map(|(x, s)| x / s).collect();
        median(&ratios)
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn min_max(xs: &[f64]) -> (f64, f64) {
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn bench_case(case: Case, settings: &Settings) -> CaseResult {
    // Warm-up and calibration: a few short runs of each, then size the round so the slowest
    // implementation takes about the target time.
    let probe: u64 = match case {
        Case::Contended(_) => 20_000,
        _ => 100_000,
    };
    let mut slowest: f64 = 0.0;
    for _ in 0..3 {
        for imp in IMPLS {
            slowest = slowest.max(imp.run(case, probe).ns);
        }
    }
    let target = match case {
        Case::Contended(_) => settings.target_contended,
        _ => settings.target,
    };
    let iters = ((target.as_nanos() as f64 / slowest.max(0.1)) as u64).clamp(10_000, 50_000_000);

    let mut samples: [Vec<f64>; 3] = Default::default();
    let mut parallelism: [Vec<f64>; 3] = Default::default();
    let mut episodes = 0;
    for round in 0..settings.rounds {
        // Rotate the starting implementation every round.
        for k in 0..IMPLS.len() {
            let i = (round + k) % IMPLS.len();
            let before = lockprof_profiler::wait_episodes();
            let sample = IMPLS[i].run(case, iters);
            samples[i].push(sample.ns);
            parallelism[i].extend(sample.parallelism);
            if IMPLS[i] == Impl::Lockprof {
                episodes += lockprof_profiler::wait_episodes() - before;
            }
        }
    }
    CaseResult { case, iters, samples, parallelism, episodes }
}

fn print_table(results: &[CaseResult], settings: &Settings) -> bool {
    println!();
    println!(
        "{:<22} {:>9} {:>9} {:>9} | {:>6} {:>12} {:>12} | {:>6} {:<7} | {:>8}",
        "case (ns/op, median)",
        "std",
        "pl",
        "lockprof",
        "pl/std",
        "lp/std",
        "lp/std",
        "budget",
        "verdict",
        "episodes"
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} | {:>6} {:>12} {:>12} | {:>6} {:<7} | {:>8}",
        "", "", "", "", "paired", "of medians", "paired", "", "", "(lp)"
    );
    println!("{}", "-".repeat(126));
    let mut all_within = true;
    for r in results {
        let ratio = r.paired_ratio(2);
        let within = ratio <= r.case.budget();
        all_within &= within;
        println!(
            "{:<22} {:>9.2} {:>9.2} {:>9.2} | {:>6.2} {:>11.2}x {:>11.2}x | {:>5.1}x {:<7} | {:>8}",
            r.case.label(),
            r.median(0),
            r.median(1),
            r.median(2),
            r.paired_ratio(1),
            r.median(2) / r.median(0),
            ratio,
            r.case.budget(),
            if within { "within" } else { "OVER" },
            r.episodes,
        );
    }
    println!();
    println!("spread over {} rounds (min..max ns/op), iterations per round:", settings.rounds);
    for r in results {
        let spread: Vec<String> = IMPLS
            .iter()
            .enumerate()
            .map(|(i, imp)| {
                let (lo, hi) = min_max(&r.samples[i]);
                if r.parallelism[i].is_empty() {
                    format!("{} {:.2}..{:.2}", imp.name(), lo, hi)
                } else {
                    format!("{} {:.2}..{:.2} (par {:.2})", imp.name(), lo, hi, median(&r.parallelism[i]))
                }
            })
            .collect();
        println!("  {:<22} {}   [{} iters]", r.case.label(), spread.join("   "), r.iters);
    }
    println!();
    println!(
        "wait episodes in the whole run (deadlock-detection slow path, lockprof only): {}",
        lockprof_profiler::wait_episodes()
    );
    all_within
}

/// `--only <case> <impl> [iters]`: one loop, one implementation, nothing else (for instruction
/// counting). Prints ns/op, which is meaningless under valgrind but handy otherwise.
fn run_only(args: &[String]) {
    let usage = "usage: mutex --only <uncontended|nested|contended<N>> <std|pl|lockprof> [iters]";
    let case = match args.first().map(String::as_str) {
        Some("uncontended") => Case::Uncontended,
        Some("nested") => Case::Nested,
        Some(c) if c.starts_with("contended") => {
            Case::Contended(c["contended".len()..].parse().expect(usage))
        }
        _ => panic!("{usage}"),
    };
    let imp = args.get(1).and_then(|s| Impl::parse(s)).unwrap_or_else(|| panic!("{usage}"));
    let iters: u64 = args.get(2).map_or(1_000_000, |s| s.parse().expect(usage));
    let ns = imp.run(case, iters).ns;
    let episodes = lockprof_profiler::wait_episodes();
    println!("{} {} {iters} iters: {ns:.2} ns/op, {episodes} wait episodes", case.label(), imp.name());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(pos) = args.iter().position(|a| a == "--only") {
        run_only(&args[pos + 1..]);
        return;
    }
    let env_on = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    let quick = env_on("LOCKPROF_BENCH_QUICK") || args.iter().any(|a| a == "--quick");
    for a in &args {
        // `cargo bench` passes `--bench`; anything else is not ours.
        if a != "--bench" && a != "--quick" {
            eprintln!("mutex bench: ignoring argument {a:?}");
        }
    }
    let settings = if quick {
        Settings {
            quick,
            rounds: 3,
            target: Duration::from_millis(5),
            target_contended: Duration::from_millis(10),
        }
    } else {
        Settings {
            quick,
            rounds: 11,
            target: Duration::from_millis(80),
            target_contended: Duration::from_millis(150),
        }
    };

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "lockprof mutex bench ({} mode): {} rounds, {} CPUs, GRACE = {:?}",
        if settings.quick { "quick" } else { "full" },
        settings.rounds,
        cpus,
        lockprof_profiler::GRACE,
    );
    println!(
        "size_of Mutex<u64>: std {} B, parking_lot {} B, lockprof {} B",
        size_of::<StdM>(),
        size_of::<PlM>(),
        size_of::<LpM>()
    );

    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", load.trim());
    }

    let started = Instant::now();
    let cases = [Case::Uncontended, Case::Nested, Case::Contended(2), Case::Contended(4)];
    let results: Vec<CaseResult> = cases.iter().map(|&c| bench_case(c, &settings)).collect();
    let all_within = print_table(&results, &settings);
    println!("total bench time: {:.1} s", started.elapsed().as_secs_f64());

    if !all_within {
        println!("lockprof is OVER budget in at least one case");
        if env_on("LOCKPROF_BENCH_STRICT") {
            std::process::exit(1);
        }
    }
}
