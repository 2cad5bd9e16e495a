//! The measuring part of the lock benchmark, shared by the main bench binary (`mutex.rs`: std,
//! parking_lot, lockprof) and the peers binary (`peers/`: std, parking_lot with
//! `deadlock_detection`, tracing-mutex), which is built in a workspace of its own so that its
//! features cannot leak into the main one. Both run the same cases with the same method, and
//! each normalises by the std figures measured in its own process.
//!
//! Method: every case is warmed up, its iteration count calibrated so that one round of the
//! slowest implementation takes about the target time, then run for several rounds. Within a
//! round the implementations run back to back (the next round starts with the next one), so
//! drift of a shared machine hits all of them alike. Per implementation: the median ns/op, and
//! the median over rounds of its ratio to std in the same round (paired).
//!
//! Cases, for a mutex, a reader-writer lock's read side and its write side:
//! * `uncontended`: lock, touch the data (increment, or read), unlock, on one thread; ns per
//!   lock+unlock.
//! * `nested`: lock A, lock B (while A is held), touch both, unlock both; ns per outer iteration
//!   (two lock+unlock pairs).
//! * `nested/depthD` (D = 0, 1, 2, 4, 8): while holding D other mutexes (taken once, in one
//!   order, before the loop), lock and unlock one more mutex; ns per lock+unlock of it. The
//!   lock-order bookkeeping of a held stack the thread has seen before must cost the same at
//!   any depth (lockprof's chain cache).
//! * `churn/registration`: create a mutex, lock it, touch it, unlock it, drop it, on one thread;
//!   ns per cycle. A lock's first acquisition is its registration with the profiler, so this
//!   is what short-lived locks cost.
//! * `churn/nested`: the same while holding one long-lived mutex (every fresh lock is a new
//!   lock-order edge); ns per cycle.
//! * `contended/N`: N threads hammer one lock; wall time from the first thread's start to the
//!   last thread's end, divided by the total number of acquisitions. For contended cases the
//!   median *parallelism* of the rounds is kept too: the threads' total on-CPU time over the
//!   wall time (Linux), near 1.0 when the threads mostly took turns on one CPU.

#![allow(dead_code)] // each binary uses its own part of it

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// A mutex, as the cases use it.
pub trait MutexLike: Send + Sync + 'static {
    fn new(value: u64) -> Self;
    fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;
}

/// A reader-writer lock, as the cases use it.
pub trait RwLike: Send + Sync + 'static {
    fn new(value: u64) -> Self;
    fn read_with<R>(&self, f: impl FnOnce(&u64) -> R) -> R;
    fn write_with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;
}

/// One implementation: a name for the table and its two lock types.
pub trait Family: 'static {
    const NAME: &'static str;
    type M: MutexLike;
    type RW: RwLike;
}

/// Implements [`MutexLike`] and [`RwLike`] for lock types with std's API (`lock()`, `read()`
/// and `write()` return `LockResult`s).
#[macro_export]
macro_rules! std_api_locks {
    ($mutex:ty, $rwlock:ty) => {
        impl $crate::harness::MutexLike for $mutex {
            fn new(value: u64) -> Self {
                <$mutex>::new(value)
            }
            #[inline(always)]
            fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.lock().unwrap())
            }
        }
        impl $crate::harness::RwLike for $rwlock {
            fn new(value: u64) -> Self {
                <$rwlock>::new(value)
            }
            #[inline(always)]
            fn read_with<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
                f(&self.read().unwrap())
            }
            #[inline(always)]
            fn write_with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.write().unwrap())
            }
        }
    };
}

/// Implements [`MutexLike`] and [`RwLike`] for lock types with parking_lot's API (guards, no
/// `LockResult`).
#[macro_export]
macro_rules! parking_lot_api_locks {
    ($mutex:ty, $rwlock:ty) => {
        impl $crate::harness::MutexLike for $mutex {
            fn new(value: u64) -> Self {
                <$mutex>::new(value)
            }
            #[inline(always)]
            fn with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.lock())
            }
        }
        impl $crate::harness::RwLike for $rwlock {
            fn new(value: u64) -> Self {
                <$rwlock>::new(value)
            }
            #[inline(always)]
            fn read_with<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
                f(&self.read())
            }
            #[inline(always)]
            fn write_with<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.write())
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// What one acquisition does, per kind of lock.

/// One acquisition of a case: take the lock, touch the data, run `inside` while holding it.
trait Hold: Send + Sync + 'static {
    fn new() -> Self;
    fn hold(&self, inside: impl FnOnce());
    /// Writes so far (reads leave no trace).
    fn writes(&self) -> u64;
}

struct MutexHold<M>(M);
struct ReadHold<L>(L);
struct WriteHold<L>(L);

impl<M: MutexLike> Hold for MutexHold<M> {
    fn new() -> Self {
        MutexHold(M::new(0))
    }
    #[inline(always)]
    fn hold(&self, inside: impl FnOnce()) {
        self.0.with(|v| {
            *v += 1;
            inside()
        })
    }
    fn writes(&self) -> u64 {
        self.0.with(|v| *v)
    }
}

impl<L: RwLike> Hold for ReadHold<L> {
    fn new() -> Self {
        ReadHold(L::new(0))
    }
    #[inline(always)]
    fn hold(&self, inside: impl FnOnce()) {
        self.0.read_with(|v| {
            black_box(*v);
            inside()
        })
    }
    fn writes(&self) -> u64 {
        self.0.read_with(|v| *v)
    }
}

impl<L: RwLike> Hold for WriteHold<L> {
    fn new() -> Self {
        WriteHold(L::new(0))
    }
    #[inline(always)]
    fn hold(&self, inside: impl FnOnce()) {
        self.0.write_with(|v| {
            *v += 1;
            inside()
        })
    }
    fn writes(&self) -> u64 {
        self.0.read_with(|v| *v)
    }
}

// ---------------------------------------------------------------------------------------------
// The measured loops. `#[inline(never)]` so that each is one symbol for callgrind / perf.

/// Uncontended: take and release, `iters` times.
#[inline(never)]
fn uncontended<H: Hold>(h: &H, iters: u64) {
    for _ in 0..iters {
        black_box(h).hold(|| ());
    }
}

/// Nested: take A, take B while A is held, release B then A; `iters` times.
#[inline(never)]
fn nested<H: Hold>(a: &H, b: &H, iters: u64) {
    for _ in 0..iters {
        black_box(a).hold(|| black_box(b).hold(|| ()));
    }
}

/// Depth: while holding every lock of `held` (outermost first), `iters` times take and release
/// `h`.
#[inline(never)]
fn at_depth<H: Hold>(held: &[H], h: &H, iters: u64) {
    match held.split_first() {
        Some((outer, rest)) => outer.hold(|| at_depth(rest, h, iters)),
        None => {
            for _ in 0..iters {
                black_box(h).hold(|| ());
            }
        }
    }
}

/// Churn: create, take, release and drop a fresh lock, `iters` times.
#[inline(never)]
fn churn<H: Hold>(iters: u64) {
    for _ in 0..iters {
        let h = black_box(H::new());
        h.hold(|| ());
        drop(black_box(h));
    }
}

/// Runs `f` while holding every lock of `held` (outermost first).
fn at_depth_run<H: Hold>(held: &[H], f: &mut dyn FnMut()) {
    match held.split_first() {
        Some((outer, rest)) => outer.hold(|| at_depth_run(rest, f)),
        None => f(),
    }
}

/// Contended, one thread's share: `iters` acquisitions of the shared lock.
#[inline(never)]
fn hammer<H: Hold>(h: &H, iters: u64) {
    for _ in 0..iters {
        black_box(h).hold(|| ());
    }
}

// ---------------------------------------------------------------------------------------------
// Cases.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Mutex,
    Read,
    Write,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    Uncontended,
    Nested,
    /// Lock and unlock one mutex while holding this many others.
    Depth(usize),
    Contended(usize),
    /// Create, lock, unlock and drop a fresh lock, while holding this many (0 or 1) others.
    Churn(usize),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Case {
    pub kind: Kind,
    pub shape: Shape,
}

pub const CASES: [Case; 19] = {
    const fn c(kind: Kind, shape: Shape) -> Case {
        Case { kind, shape }
    }
    use Kind::*;
    use Shape::*;
    [
        c(Mutex, Uncontended),
        c(Mutex, Nested),
        c(Mutex, Depth(0)),
        c(Mutex, Depth(1)),
        c(Mutex, Depth(2)),
        c(Mutex, Depth(4)),
        c(Mutex, Depth(8)),
        c(Mutex, Churn(0)),
        c(Mutex, Churn(1)),
        c(Mutex, Contended(2)),
        c(Mutex, Contended(4)),
        c(Read, Uncontended),
        c(Read, Nested),
        c(Read, Contended(2)),
        c(Read, Contended(4)),
        c(Write, Uncontended),
        c(Write, Nested),
        c(Write, Contended(2)),
        c(Write, Contended(4)),
    ]
};

impl Case {
    /// `mutex/uncontended`, `read/contended4`, ...: the id used on command lines and between
    /// the processes.
    pub fn id(self) -> String {
        let kind = match self.kind {
            Kind::Mutex => "mutex",
            Kind::Read => "read",
            Kind::Write => "write",
        };
        let shape = match self.shape {
            Shape::Uncontended => "uncontended".to_owned(),
            Shape::Nested => "nested".to_owned(),
            // Always a mutex: `nested/depth4`, as the issue names them.
            Shape::Depth(d) => return format!("nested/depth{d}"),
            Shape::Churn(0) => return "churn/registration".to_owned(),
            Shape::Churn(_) => return "churn/nested".to_owned(),
            Shape::Contended(n) => format!("contended{n}"),
        };
        format!("{kind}/{shape}")
    }

    /// Parses [`Case::id`]; a bare shape means the mutex.
    pub fn parse(s: &str) -> Option<Case> {
        if let Some(d) = s.strip_prefix("nested/depth") {
            return Some(Case { kind: Kind::Mutex, shape: Shape::Depth(d.parse().ok()?) });
        }
        match s {
            "churn/registration" => return Some(Case { kind: Kind::Mutex, shape: Shape::Churn(0) }),
            "churn/nested" => return Some(Case { kind: Kind::Mutex, shape: Shape::Churn(1) }),
            _ => {}
        }
        let (kind, shape) = match s.split_once('/') {
            Some((kind, shape)) => (kind, shape),
            None => ("mutex", s),
        };
        let kind = match kind {
            "mutex" => Kind::Mutex,
            "read" => Kind::Read,
            "write" => Kind::Write,
            _ => return None,
        };
        let shape = match shape {
            "uncontended" => Shape::Uncontended,
            "nested" => Shape::Nested,
            s => Shape::Contended(s.strip_prefix("contended")?.parse().ok()?),
        };
        Some(Case { kind, shape })
    }

    /// The label in the table.
    pub fn label(self) -> String {
        let kind = match self.kind {
            Kind::Mutex => "Mutex",
            Kind::Read => "RwLock read",
            Kind::Write => "RwLock write",
        };
        let shape = match self.shape {
            Shape::Uncontended => "uncontended".to_owned(),
            Shape::Nested => "nested (A then B)".to_owned(),
            Shape::Depth(d) => format!("lock+unlock while holding {d}"),
            Shape::Churn(0) => "create+lock+unlock+drop".to_owned(),
            Shape::Churn(_) => "create+lock+unlock+drop under 1".to_owned(),
            Shape::Contended(n) => format!("contended, {n} threads"),
        };
        format!("{kind}, {shape}")
    }

    /// The allowed lockprof/std ratio.
    pub fn budget(self) -> f64 {
        match self.shape {
            Shape::Uncontended => 1.3,
            Shape::Nested => 1.6,
            // The budgets: 1.3x std with one lock held, 1.5x with eight.
            Shape::Depth(d) if d <= 1 => 1.3,
            Shape::Depth(_) => 1.5,
            // The budgets: registration within 3x std; short-lived locks taken under a
            // held one (new order edges each time) within 5x.
            Shape::Churn(0) => 3.0,
            Shape::Churn(_) => 5.0,
            Shape::Contended(_) => 1.3,
        }
    }

    /// Runs one round of `iters` operations (contended: acquisitions over all threads) on
    /// implementation `F`.
    pub fn run<F: Family>(self, iters: u64) -> Sample {
        match self.kind {
            Kind::Mutex => self.run_with::<MutexHold<F::M>>(iters),
            Kind::Read => self.run_with::<ReadHold<F::RW>>(iters),
            Kind::Write => self.run_with::<WriteHold<F::RW>>(iters),
        }
    }

    fn run_with<H: Hold>(self, iters: u64) -> Sample {
        let writes = |n: u64| if self.kind == Kind::Read { 0 } else { n };
        match self.shape {
            Shape::Uncontended => {
                let h = H::new();
                let start = Instant::now();
                uncontended(&h, iters);
                let elapsed = start.elapsed();
                assert_eq!(h.writes(), writes(iters));
                Sample { ns: per_op(elapsed, iters), parallelism: None }
            }
            Shape::Nested => {
                let (a, b) = (H::new(), H::new());
                let start = Instant::now();
                nested(&a, &b, iters);
                let elapsed = start.elapsed();
                assert_eq!(a.writes() + b.writes(), writes(2 * iters));
                Sample { ns: per_op(elapsed, iters), parallelism: None }
            }
            Shape::Depth(d) => {
                let held: Vec<H> = (0..d).map(|_| H::new()).collect();
                let h = H::new();
                let start = Instant::now();
                at_depth(&held, &h, iters);
                let elapsed = start.elapsed();
                assert_eq!(h.writes(), writes(iters));
                Sample { ns: per_op(elapsed, iters), parallelism: None }
            }
            Shape::Churn(d) => {
                let held: Vec<H> = (0..d).map(|_| H::new()).collect();
                let mut elapsed = Duration::ZERO;
                at_depth_run(&held, &mut || {
                    let start = Instant::now();
                    churn::<H>(iters);
                    elapsed = start.elapsed();
                });
                Sample { ns: per_op(elapsed, iters), parallelism: None }
            }
            Shape::Contended(threads) => {
                let per_thread = (iters / threads as u64).max(1);
                let total = per_thread * threads as u64;
                let h = H::new();
                let barrier = Barrier::new(threads);
                let spans: Vec<(Instant, Instant, Option<u64>)> = std::thread::scope(|s| {
                    let handles: Vec<_> = (0..threads)
                        .map(|_| {
                            s.spawn(|| {
                                barrier.wait();
                                let cpu_before = thread_cpu_ns();
                                let start = Instant::now();
                                hammer(&h, per_thread);
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
                assert_eq!(h.writes(), writes(total));
                let wall = end - start;
                let cpu: Option<u64> = spans.iter().map(|s| s.2).sum();
                let parallelism = cpu.map(|c| c as f64 / wall.as_nanos().max(1) as f64);
                Sample { ns: per_op(wall, total), parallelism }
            }
        }
    }
}

/// One round's result.
pub struct Sample {
    pub ns: f64,
    /// Contended cases only: threads' on-CPU time over wall time.
    pub parallelism: Option<f64>,
}

fn per_op(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}

/// The calling thread's on-CPU time so far, in ns (64-bit Linux: `CLOCK_THREAD_CPUTIME_ID`).
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

/// One implementation as the driver sees it.
#[derive(Clone, Copy)]
pub struct Impl {
    pub name: &'static str,
    pub run: fn(Case, u64) -> Sample,
    /// Count lockprof's wait episodes while this one runs.
    pub lockprof: bool,
}

impl Impl {
    pub fn of<F: Family>(lockprof: bool) -> Impl {
        Impl { name: F::NAME, run: |case, iters| case.run::<F>(iters), lockprof }
    }
}

pub struct Settings {
    pub quick: bool,
    pub rounds: usize,
    /// Target duration of one round of the slowest implementation.
    pub target: Duration,
    pub target_contended: Duration,
}

impl Settings {
    pub fn new(quick: bool) -> Settings {
        if quick {
            Settings {
                quick,
                rounds: 3,
                target: Duration::from_millis(5),
                target_contended: Duration::from_millis(10),
            }
        } else {
            Settings {
                quick,
                rounds: 9,
                target: Duration::from_millis(60),
                target_contended: Duration::from_millis(120),
            }
        }
    }
}

/// One implementation's results in one case.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    /// ns/op of every round.
    pub samples: Vec<f64>,
    pub parallelism: Vec<f64>,
    /// lockprof wait episodes during its rounds (lockprof rows only).
    pub episodes: Option<u64>,
}

/// Every implementation's results in one case; `series[0]` is the baseline (std).
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub case: Case,
    pub iters: u64,
    pub series: Vec<Series>,
}

impl CaseResult {
    /// Median over rounds of `series[i] / series[0]` within the same round.
    pub fn paired_ratio(&self, i: usize) -> f64 {
        let base = &self.series[0].samples;
        let ratios: Vec<f64> = self.series[i].samples.iter().zip(base).map(|(x, s)| x / s).collect();
        median(&ratios)
    }

    /// Serialises for the parent process: one line per series.
    pub fn to_lines(&self) -> Vec<String> {
        let join = |xs: &[f64]| xs.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(",");
        self.series
            .iter()
            .map(|s| {
                format!(
                    "series\t{}\t{}\t{}\t{}\t{}",
                    self.case.id(),
                    self.iters,
                    s.name,
                    join(&s.samples),
                    join(&s.parallelism)
                )
            })
            .collect()
    }

    /// Parses the lines of [`CaseResult::to_lines`] (others are ignored), grouped by case.
    pub fn from_lines(text: &str) -> Vec<CaseResult> {
        let parse = |s: &str| -> Vec<f64> {
            s.split(',').filter(|x| !x.is_empty()).filter_map(|x| x.parse().ok()).collect()
        };
        let mut out: Vec<CaseResult> = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 6 || f[0] != "series" {
                continue;
            }
            let (Some(case), Ok(iters)) = (Case::parse(f[1]), f[2].parse()) else { continue };
            let series = Series {
                name: f[3].to_owned(),
                samples: parse(f[4]),
                parallelism: parse(f[5]),
                episodes: None,
            };
            match out.iter_mut().find(|r| r.case == case) {
                Some(r) => r.series.push(series),
                None => out.push(CaseResult { case, iters, series: vec![series] }),
            }
        }
        out
    }
}

pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Measures `case` on every implementation (`impls[0]` is the baseline). `episodes` reads
/// lockprof's wait-episode counter (the peers process has none).
pub fn bench_case(case: Case, settings: &Settings, impls: &[Impl], episodes: fn() -> u64) -> CaseResult {
    // Warm-up and calibration: a few short runs of each, then size the round so the slowest
    // implementation takes about the target time.
    let probe: u64 = match case.shape {
        Shape::Contended(_) => 20_000,
        _ => 100_000,
    };
    let mut slowest: f64 = 0.0;
    for _ in 0..3 {
        for imp in impls {
            slowest = slowest.max((imp.run)(case, probe).ns);
        }
    }
    let target = match case.shape {
        Shape::Contended(_) => settings.target_contended,
        _ => settings.target,
    };
    let iters = ((target.as_nanos() as f64 / slowest.max(0.1)) as u64).clamp(10_000, 50_000_000);

    let mut series: Vec<Series> = impls
        .iter()
        .map(|imp| Series {
            name: imp.name.to_owned(),
            episodes: imp.lockprof.then_some(0),
            ..Series::default()
        })
        .collect();
    for round in 0..settings.rounds {
        // Rotate the starting implementation every round.
        for k in 0..impls.len() {
            let i = (round + k) % impls.len();
            let before = episodes();
            let sample = (impls[i].run)(case, iters);
            series[i].samples.push(sample.ns);
            series[i].parallelism.extend(sample.parallelism);
            if let Some(e) = series[i].episodes.as_mut() {
                *e += episodes() - before;
            }
        }
    }
    CaseResult { case, iters, series }
}
