//! How long `lockprof report`, `flamegraph`, `diff` (and `timeline`) take on a large trace: a
//! synthetic one ([`lockprof_cli::synthetic`]) of 10,000 locks and 100,000 distinct stacks of
//! about 20 frames each (about 300 MB of JSON), and a second run of the same program for `diff`.
//!
//! A plain bench binary (no criterion): it writes the two traces to a scratch directory, then
//! runs the built `lockprof` binary on them as a user would, each command a few times in
//! turn, and prints the fastest and the median wall time of each against the budget (2 s for
//! report, flamegraph and diff).
//!
//! ```text
//! cargo bench -p lockprof-cli --bench commands                          # full size
//! LOCKPROF_BENCH_QUICK=1 cargo bench -p lockprof-cli --bench commands   # small, for CI
//! ```
//!
//! `LOCKPROF_BENCH_LOCKS=N`, `LOCKPROF_BENCH_STACKS=N` and `LOCKPROF_BENCH_ROUNDS=N` change the
//! size and the number of runs; `LOCKPROF_BENCH_STRICT=1` exits with status 1 when a command's
//! fastest run is over budget (off by default: timings on shared machines are noisy).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lockprof_cli::synthetic::{Synthetic, generate};

const LOCKPROF: &str = env!("CARGO_BIN_EXE_lockprof");
const BUDGET: Duration = Duration::from_secs(2);

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}

/// Removes the scratch directory at the end, however the bench ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write_trace(path: &Path, options: &Synthetic) -> Duration {
    let started = Instant::now();
    let trace = generate(options);
    let file = std::io::BufWriter::new(fs::File::create(path).expect("create the trace"));
    serde_json::to_writer_pretty(file, &trace).expect("write the trace");
    started.elapsed()
}

/// Runs `lockprof ARGS` once; panics if it fails.
fn time(args: &[&str]) -> Duration {
    let started = Instant::now();
    let output = Command::new(LOCKPROF)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run lockprof");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "lockprof {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let quick = flag("LOCKPROF_BENCH_QUICK") || std::env::args().any(|a| a == "--quick");
    let locks = env_number("LOCKPROF_BENCH_LOCKS", if quick { 500 } else { 10_000 });
    let stacks = env_number("LOCKPROF_BENCH_STACKS", if quick { 5_000 } else { 100_000 });
    let rounds = env_number("LOCKPROF_BENCH_ROUNDS", if quick { 1 } else { 5 }).max(1);

    let dir = std::env::temp_dir().join(format!("lockprof-bench-commands-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("create a scratch directory");
    let scratch = Scratch(dir);
    let file = |name: &str| scratch.0.join(name).to_str().expect("a UTF-8 temp path").to_owned();
    let (before, after) = (file("before.json"), file("after.json"));
    let shape = Synthetic { locks, stacks, ..Synthetic::default() };
    let generated = write_trace(Path::new(&before), &shape)
        + write_trace(Path::new(&after), &Synthetic { variant: 1, ..shape });
    let size = fs::metadata(&before).map(|m| m.len()).unwrap_or(0);
    println!(
        "lockprof commands on a synthetic trace: {locks} locks, {stacks} stacks, {:.0} MB of JSON (two generated in {}); {rounds} round{}{}",
        size as f64 / 1e6,
        seconds(generated),
        if rounds == 1 { "" } else { "s" },
        if quick { " (quick)" } else { "" }
    );

    let (svg, folded, diff_svg, timeline) =
        (file("out.svg"), file("out.folded"), file("diff.svg"), file("timeline.json"));
    let commands: Vec<(&str, Vec<&str>, bool)> = vec![
        ("report", vec!["report", &before], true),
        ("report --format json", vec!["report", &before, "--format", "json"], false),
        ("flamegraph", vec!["flamegraph", &before, "-o", &svg], true),
        ("flamegraph --folded", vec!["flamegraph", &before, "--folded", "-o", &folded], false),
        ("diff", vec!["diff", &before, &after, "-o", &diff_svg], true),
        ("timeline", vec!["timeline", &before, "-o", &timeline], false),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); commands.len()];
    // Rounds interleave the commands, so that a burst of load on the machine spreads over all.
    for _ in 0..rounds {
        for ((_, args, _), times) in commands.iter().zip(&mut times) {
            times.push(time(args));
        }
    }

    println!("{:<22}  {:>8}  {:>8}  {:>8}  verdict", "command", "fastest", "median", "budget");
    let mut over = false;
    for ((name, _, budgeted), times) in commands.iter().zip(&mut times) {
        times.sort();
        let (fastest, median) = (times[0], times[times.len() / 2]);
        let verdict = match (budgeted, quick) {
            (false, _) => "",
            (true, true) => "(not judged in quick mode)",
            (true, false) if fastest <= BUDGET => "ok",
            (true, false) => {
                over = true;
                "OVER BUDGET"
            }
        };
        let budget = if *budgeted { seconds(BUDGET) } else { "-".into() };
        println!("{name:<22}  {:>8}  {:>8}  {budget:>8}  {verdict}", seconds(fastest), seconds(median));
    }
    drop(scratch);
    if over && flag("LOCKPROF_BENCH_STRICT") {
        std::process::exit(1);
    }
}
