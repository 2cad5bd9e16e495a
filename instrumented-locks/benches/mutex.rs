//! Overhead of lockprof's `Mutex` and `RwLock` (deadlock detection on, as shipped) against std,
//! parking_lot, parking_lot with its `deadlock_detection` feature, and tracing-mutex (its
//! `stdsync` and `parkinglot` flavours), in one table.
//!
//! A plain bench binary (no criterion, to keep CI light):
//!
//! ```text
//! cargo bench -p lockprof --bench mutex                        # full run, a few minutes
//! cargo bench -p lockprof --bench mutex --features parking_lot # + lockprof's parking_lot flavour
//! LOCKPROF_BENCH_QUICK=1 cargo bench -p lockprof --bench mutex # smoke test, seconds
//! cargo bench -p lockprof --bench mutex --features tokio     # + lockprof::tokio::Mutex vs tokio's
//! LOCKPROF_BENCH_TOKIO_ONLY=1 cargo bench -p lockprof --bench mutex --features tokio # only those
//! cargo bench -p lockprof --bench mutex -- --quick             # same
//! cargo bench -p lockprof --bench mutex -- --cases nested/depth # only the cases so named
//! ```
//!
//! # Two processes
//!
//! Cargo unifies features: enabling parking_lot's `deadlock_detection` here would also slow the
//! parking_lot under lockprof and the plain parking_lot row. So the rows come from two
//! processes, said in the table's `process` column:
//! - `main`, this binary, built in lockprof's workspace: std, parking_lot (no
//!   `deadlock_detection`), lockprof (and, with `--features parking_lot`, lockprof's
//!   parking_lot flavour);
//! - `peers`, built from `benches/peers/` (a workspace of its own, with its own `Cargo.lock`)
//!   into `<target>/bench-peers` and run as a child process after the main measurements: std
//!   again, parking_lot with `deadlock_detection` (and a checker thread calling
//!   `parking_lot::deadlock::check_deadlock` every second, as a deployment would run it), and
//!   tracing-mutex's always-tracing types (`stdsync::tracing`, `parkinglot::tracing`, default
//!   features).
//!
//! Each row's ratio is to the std measured *in its own process*, paired by round. Both
//! processes use the same measuring code (`benches/harness/mod.rs`); see its docs for the
//! method and the cases (mutex, and a reader-writer lock's read and write sides: uncontended,
//! nested, contended by 2 and 4 threads).
//!
//! The peers are built on the first full run (this needs the crates from crates.io once).
//! `LOCKPROF_BENCH_PEERS=0` skips them, `=1` runs them in quick mode too (where they are skipped
//! by default, as building them takes a while), and `LOCKPROF_BENCH_PEERS_BIN=path` uses an
//! already built peers binary.
//!
//! The number of deadlock-detection wait episodes (blocked acquisitions that outlasted
//! `lockprof_profiler::GRACE` and so captured a stack and explored the wait-for graph) is shown
//! per lockprof row, so the reader knows how often lockprof's slow path ran.
//!
//! `LOCKPROF_BENCH_STRICT=1` makes the binary exit with status 1 when a lockprof row is over
//! budget (off by default: timings on shared CI machines are noisy).
//!
//! For instruction counts (repeatable where timings are not), run a single loop of a single
//! implementation with no warm-up, calibration or other threads, e.g. under callgrind:
//!
//! ```text
//! valgrind --tool=callgrind target/release/deps/mutex-<hash> --only uncontended lockprof 1000000
//! ```
//!
//! and divide the inclusive count of `mutex::harness::uncontended::<..>` by the iteration count
//! (or take the difference of two runs with different counts). Cases: `uncontended`, `nested`,
//! `contended<N>` (N threads), for the mutex, or prefixed `read/` or `write/` for the
//! reader-writer lock (`read/nested`); implementations: `std`, `pl` (parking_lot), `lockprof`
//! (and `lockprof-pl`). The peers binary takes the same `--only` arguments, with `std`,
//! `pl-dd`, `tm-std`, `tm-pl`. With `--features tokio`, `--only tokio/uncontended IMPL [iters]`
//! (and `tokio/contended2`, `tokio/contended4`) runs one async case, `IMPL` `tokio` or `lockprof`.

#[cfg(feature = "off")]
fn main() {
    println!("lockprof is compiled out (feature `off`): its types are std's, nothing to measure");
}

#[cfg(not(feature = "off"))]
mod harness;
#[cfg(all(feature = "tokio", not(feature = "off")))]
mod tokio_cases;

#[cfg(not(feature = "off"))]
fn main() {
    bench::main();
}

#[cfg(not(feature = "off"))]
mod bench {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    use crate::harness::{CASES, Case, CaseResult, Family, Impl, Settings, bench_case, median};

    struct Std;
    impl Family for Std {
        const NAME: &'static str = "std";
        type M = std::sync::Mutex<u64>;
        type RW = std::sync::RwLock<u64>;
    }
    crate::std_api_locks!(std::sync::Mutex<u64>, std::sync::RwLock<u64>);

    struct Pl;
    impl Family for Pl {
        const NAME: &'static str = "parking_lot";
        type M = parking_lot::Mutex<u64>;
        type RW = parking_lot::RwLock<u64>;
    }
    crate::parking_lot_api_locks!(parking_lot::Mutex<u64>, parking_lot::RwLock<u64>);

    struct Lockprof;
    impl Family for Lockprof {
        const NAME: &'static str = "lockprof";
        type M = lockprof::Mutex<u64>;
        type RW = lockprof::RwLock<u64>;
    }
    crate::std_api_locks!(lockprof::Mutex<u64>, lockprof::RwLock<u64>);

    #[cfg(feature = "parking_lot")]
    struct LockprofPl;
    #[cfg(feature = "parking_lot")]
    impl Family for LockprofPl {
        const NAME: &'static str = "lockprof (pl flavour)";
        type M = lockprof::parking_lot::Mutex<u64>;
        type RW = lockprof::parking_lot::RwLock<u64>;
    }
    #[cfg(feature = "parking_lot")]
    crate::parking_lot_api_locks!(lockprof::parking_lot::Mutex<u64>, lockprof::parking_lot::RwLock<u64>);

    /// This process's implementations, std first (the baseline).
    fn impls() -> Vec<(&'static str, Impl)> {
        let main = [
            ("std", Impl::of::<Std>(false)),
            ("pl", Impl::of::<Pl>(false)),
            ("lockprof", Impl::of::<Lockprof>(true)),
        ];
        #[cfg(feature = "parking_lot")]
        let flavours = [("lockprof-pl", Impl::of::<LockprofPl>(true))];
        #[cfg(not(feature = "parking_lot"))]
        let flavours: [(&'static str, Impl); 0] = [];
        main.into_iter().chain(flavours).collect()
    }

    /// A row of the table: one implementation in one case, from one process.
    struct Row {
        name: String,
        process: &'static str,
        samples: Vec<f64>,
        parallelism: Vec<f64>,
        episodes: Option<u64>,
        /// Paired ratio to its own process's std, and ratio of the medians.
        paired: f64,
        of_medians: f64,
    }

    fn rows_of(result: &CaseResult, process: &'static str) -> Vec<Row> {
        let base = median(&result.series[0].samples);
        result
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| Row {
                name: s.name.clone(),
                process,
                samples: s.samples.clone(),
                parallelism: s.parallelism.clone(),
                episodes: s.episodes,
                paired: result.paired_ratio(i),
                of_medians: median(&s.samples) / base,
            })
            .collect()
    }

    fn is_lockprof(row: &Row) -> bool {
        row.process == "main" && row.name.starts_with("lockprof")
    }

    fn print_table(main: &[CaseResult], peers: &[CaseResult], settings: &Settings) -> bool {
        println!();
        println!(
            "{:<34} {:<28} {:<7} {:>8} {:>7} {:>7} {:>6} {:<7} {:>17} {:>5} {:>8}",
            "case",
            "implementation",
            "process",
            "ns/op",
            "x std",
            "x std",
            "budget",
            "verdict",
            "min..max ns/op",
            "par",
            "episodes"
        );
        println!(
            "{:<34} {:<28} {:<7} {:>8} {:>7} {:>7} {:>6} {:<7} {:>17} {:>5} {:>8}",
            "", "", "", "(median)", "paired", "medians", "", "", "", "", "(lp)"
        );
        println!("{}", "-".repeat(142));
        let mut all_within = true;
        for result in main {
            let mut rows = rows_of(result, "main");
            if let Some(p) = peers.iter().find(|p| p.case == result.case) {
                rows.extend(rows_of(p, "peers"));
            }
            for (k, row) in rows.iter().enumerate() {
                let label = if k == 0 { result.case.label() } else { String::new() };
                let (budget, verdict) = if is_lockprof(row) {
                    let within = row.paired <= result.case.budget();
                    all_within &= within;
                    (format!("{:.1}x", result.case.budget()), if within { "within" } else { "OVER" })
                } else {
                    (String::new(), "")
                };
                let lo = row.samples.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = row.samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let par = if row.parallelism.is_empty() {
                    String::new()
                } else {
                    format!("{:.2}", median(&row.parallelism))
                };
                let episodes = row.episodes.map(|e| e.to_string()).unwrap_or_default();
                println!(
                    "{:<34} {:<28} {:<7} {:>8.2} {:>6.2}x {:>6.2}x {:>6} {:<7} {:>17} {:>5} {:>8}",
                    label,
                    row.name,
                    row.process,
                    median(&row.samples),
                    row.paired,
                    row.of_medians,
                    budget,
                    verdict,
                    format!("{lo:.2}..{hi:.2}"),
                    par,
                    episodes,
                );
            }
            println!();
        }
        println!(
            "{} rounds per case; x std = the row's ns/op over the std row *of the same process*, median of per-round ratios (paired) and ratio of medians; the budget verdict uses the paired one.",
            settings.rounds
        );
        println!(
            "par = median parallelism of the contended rounds (threads' on-CPU time / wall time); near 1.0: the threads took turns."
        );
        println!(
            "process main = this binary (lockprof's workspace: parking_lot without deadlock_detection); process peers = benches/peers (its own workspace: parking_lot with deadlock_detection, tracing-mutex)."
        );
        println!(
            "wait episodes in the whole main process (deadlock-detection slow path, lockprof only): {}",
            lockprof_profiler::wait_episodes()
        );
        all_within
    }

    // -----------------------------------------------------------------------------------------
    // The peers process.

    /// The directory cargo builds into: this binary is `<target>/<profile>/deps/mutex-<hash>`.
    fn target_dir() -> PathBuf {
        let exe = std::env::current_exe().ok();
        let from_exe = exe.as_deref().and_then(|exe| {
            let deps = exe.parent()?;
            (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
        });
        from_exe
            .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
    }

    /// The peers binary: given, or built now. `Err` says why there is none.
    fn peers_binary(quick: bool) -> Result<PathBuf, String> {
        if let Some(bin) = std::env::var_os("LOCKPROF_BENCH_PEERS_BIN") {
            return Ok(PathBuf::from(bin));
        }
        match std::env::var("LOCKPROF_BENCH_PEERS").as_deref() {
            Ok("0") => return Err("skipped (LOCKPROF_BENCH_PEERS=0)".to_owned()),
            Ok("1") => {}
            _ if quick => {
                return Err(
                    "skipped in quick mode: building them takes a while (LOCKPROF_BENCH_PEERS=1 runs them)"
                        .to_owned(),
                );
            }
            _ => {}
        }
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/Cargo.toml");
        let target = target_dir().join("bench-peers");
        let cargo = std::env::var_os("CARGO")
            .or_else(|| option_env!("CARGO").map(Into::into))
            .unwrap_or_else(|| "cargo".into());
        println!("building the peers ({}) into {} ...", manifest.display(), target.display());
        let status = Command::new(cargo)
            .args(["build", "--release", "--locked", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("could not run cargo to build them: {e}"))?;
        if !status.success() {
            return Err(format!("building them failed ({status}); see above"));
        }
        Ok(target.join("release").join(format!("lockprof-bench-peers{}", std::env::consts::EXE_SUFFIX)))
    }

    /// Runs the peers and returns their results, or why there are none.
    fn run_peers(settings: &Settings) -> Result<Vec<CaseResult>, String> {
        let bin = peers_binary(settings.quick)?;
        let mut command = Command::new(&bin);
        if settings.quick {
            command.arg("--quick");
        }
        let output = command
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("could not run {}: {e}", bin.display()))?;
        if !output.status.success() {
            return Err(format!("{} failed ({})", bin.display(), output.status));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        for line in text.lines().filter_map(|l| l.strip_prefix("info\t")) {
            println!("peers: {line}");
        }
        let results = CaseResult::from_lines(&text);
        if results.is_empty() { Err("the peers printed no results".to_owned()) } else { Ok(results) }
    }

    // -----------------------------------------------------------------------------------------
    // Entry points.

    /// `--only <case> <impl> [iters]`: one loop, one implementation, nothing else (for
    /// instruction counting). Prints ns/op, which is meaningless under valgrind but handy
    /// otherwise.
    fn run_only(args: &[String]) {
        #[cfg(feature = "tokio")]
        if let Some(case) = args.first() {
            let iters = args.get(2).map_or(1_000_000, |s| s.parse().expect("iterations"));
            if crate::tokio_cases::run_only(case, args.get(1).map(String::as_str), iters) {
                return;
            }
        }
        let usage = "usage: mutex --only <[mutex/|read/|write/]uncontended|nested|contended<N>, nested/depth<D> or churn/registration|churn/nested> <std|pl|lockprof|lockprof-pl> [iters]";
        let case = args.first().and_then(|c| Case::parse(c)).unwrap_or_else(|| panic!("{usage}"));
        let imp = args
            .get(1)
            .and_then(|name| impls().into_iter().find(|(short, imp)| short == name || imp.name == name))
            .map(|(_, imp)| imp)
            .unwrap_or_else(|| panic!("{usage}"));
        let iters: u64 = args.get(2).map_or(1_000_000, |s| s.parse().expect(usage));
        let ns = (imp.run)(case, iters).ns;
        let episodes = lockprof_profiler::wait_episodes();
        println!("{} {} {iters} iters: {ns:.2} ns/op, {episodes} wait episodes", case.id(), imp.name);
    }

    pub(crate) fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let Some(pos) = args.iter().position(|a| a == "--only") {
            run_only(&args[pos + 1..]);
            return;
        }
        let env_on = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
        let quick = env_on("LOCKPROF_BENCH_QUICK") || args.iter().any(|a| a == "--quick");
        // `--cases PREFIX`: only the cases whose id starts with it (`nested/depth`, `read/`).
        let prefix = args.iter().position(|a| a == "--cases").and_then(|i| args.get(i + 1)).cloned();
        for (i, a) in args.iter().enumerate() {
            // `cargo bench` passes `--bench`; anything else is not ours.
            let ours =
                a == "--bench" || a == "--quick" || a == "--cases" || (i > 0 && args[i - 1] == "--cases");
            if !ours {
                eprintln!("mutex bench: ignoring argument {a:?}");
            }
        }
        let settings = Settings::new(quick);
        #[cfg(feature = "tokio")]
        if env_on("LOCKPROF_BENCH_TOKIO_ONLY") {
            let within = crate::tokio_cases::run(quick);
            if !within && env_on("LOCKPROF_BENCH_STRICT") {
                std::process::exit(1);
            }
            return;
        }

        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "lockprof lock bench ({} mode): {} rounds, {} CPUs, GRACE = {:?}",
            if settings.quick { "quick" } else { "full" },
            settings.rounds,
            cpus,
            lockprof_profiler::GRACE,
        );
        println!(
            "size_of Mutex<u64>: std {} B, parking_lot {} B, lockprof {} B; RwLock<u64>: std {} B, parking_lot {} B, lockprof {} B",
            size_of::<std::sync::Mutex<u64>>(),
            size_of::<parking_lot::Mutex<u64>>(),
            size_of::<lockprof::Mutex<u64>>(),
            size_of::<std::sync::RwLock<u64>>(),
            size_of::<parking_lot::RwLock<u64>>(),
            size_of::<lockprof::RwLock<u64>>(),
        );
        if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
            println!("load average at start: {}", load.trim());
        }

        let started = Instant::now();
        let impls: Vec<Impl> = impls().into_iter().map(|(_, imp)| imp).collect();
        let main: Vec<CaseResult> = CASES
            .iter()
            .filter(|case| prefix.as_ref().is_none_or(|p| case.id().starts_with(p.as_str())))
            .map(|&case| bench_case(case, &settings, &impls, lockprof_profiler::wait_episodes))
            .collect();
        println!("main process: {:.1} s", started.elapsed().as_secs_f64());

        let peers_started = Instant::now();
        let peers = match run_peers(&settings) {
            Ok(peers) => {
                println!("peers process: {:.1} s", peers_started.elapsed().as_secs_f64());
                peers
            }
            Err(why) => {
                println!("peers (parking_lot with deadlock_detection, tracing-mutex): {why}");
                Vec::new()
            }
        };

        let all_within = print_table(&main, &peers, &settings);
        #[cfg(feature = "tokio")]
        let all_within = crate::tokio_cases::run(settings.quick) && all_within;
        println!("total bench time: {:.1} s", started.elapsed().as_secs_f64());
        if !all_within {
            println!("lockprof is OVER budget in at least one case");
            if env_on("LOCKPROF_BENCH_STRICT") {
                std::process::exit(1);
            }
        }
    }
}
