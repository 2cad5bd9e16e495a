//! `lockprof run`: every process's trace collected, merged and checked; the command's input,
//! output and exit code passed through; hangs ended by `--timeout`.
//!
//! The programs run are the CLI's example `run_scenarios NAME` (see
//! `cli/examples/run_scenarios.rs`), built by `cargo test` (or here, if it is missing). Every child runs under a
//! time bound; none of these tests waits with a sleep.
//!
//! On a busy machine a child can take seconds to start, so no test here needs anything to happen
//! within less than [`TIMEOUT`]: a `--timeout` given to `lockprof run` either only bounds a hang
//! (the command is expected to end by itself), or is [`TIMEOUT`] for a scenario that hangs for
//! ever on purpose, and the test then asserts that the kill came no earlier than that.

mod support;

use std::fs;
use std::time::Duration;

use lockprof_trace::load::load;
use support::{LOCKPROF, Ran, Scratch, acquisition_lines, lockprof, run_bounded, scenarios};

/// Far above what these need (they end in about a second, or [`TIMEOUT`]); only a hang reaches
/// it.
const BOUND: Duration = Duration::from_secs(90);

/// The `--timeout` of the scenarios that hang on purpose: time enough, on a loaded machine, for
/// the scenario to start, print, and have its trace written before it is killed.
const TIMEOUT: Duration = Duration::from_secs(10);
const TIMEOUT_ARG: &str = "10s";

/// `lockprof run --out DIR RUN_ARGS -- run_scenarios SCENARIO...`, from the workspace root.
fn run(dir: &Scratch, run_args: &[&str], scenario: &[&str], stdin: &[u8]) -> Ran {
    let mut args = vec!["run", "--out", dir.str()];
    args.extend_from_slice(run_args);
    args.extend_from_slice(&["--", scenarios()]);
    args.extend_from_slice(scenario);
    run_bounded(lockprof(&args), stdin, BOUND)
}

fn trace_files(dir: &Scratch) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(&dir.0)
        .expect("list the trace directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("trace-") && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn run_check_on_an_abba_deadlock_says_deadlock_and_fails() {
    let dir = Scratch::new("run-abba");
    // The timeout only bounds a hang: the deadlock is caught (exit 1), not timed out (124).
    let ran = run(&dir, &["--check", "--timeout", "60s"], &["abba"], b"");
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    // The verdict comes after the command's own output, and says deadlock.
    let start = ran.stdout.find("scenario abba: start").unwrap_or_else(|| panic!("{}", ran.show()));
    let verdict = ran.stdout.find("FAIL ").unwrap_or_else(|| panic!("no verdict: {}", ran.show()));
    assert!(start < verdict, "{}", ran.show());
    let verdict = &ran.stdout[verdict..];
    assert!(verdict.contains("(1 finding: 1 deadlock)"), "{verdict}");
    assert!(verdict.contains("\n  deadlock: thread #"), "{verdict}");
    assert!(verdict.contains("lockprof check: failed: 1 finding"), "{verdict}");
    // Every acquisition of the cycle is named by file:line.
    let lines: Vec<_> =
        ["ab-", "ba-"].iter().flat_map(|p| acquisition_lines("cli/examples/run_scenarios.rs", p)).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (label, line) in lines {
        let site = format!(" at cli/examples/run_scenarios.rs:{line}:");
        assert!(verdict.contains(&site), "{label} ({site}) missing:\n{verdict}");
    }
    assert!(ran.stderr.contains("lockprof run: merged 1 trace "), "{}", ran.show());
    assert!(load(&dir.path("merged.json")).is_ok());
}

#[test]
fn run_check_on_heavily_contended_ordered_locks_passes() {
    let dir = Scratch::new("run-ordered");
    let ran = run(&dir, &["--check"], &["ordered"], b"");
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let expected: u32 =
        (0..4u32).flat_map(|t| (0..2000u32).map(move |i| ((i + t) % 7 + 1).count_ones())).sum();
    assert!(ran.stdout.contains(&format!("scenario ordered: {expected} increments")), "{}", ran.show());
    assert!(ran.stdout.ends_with("lockprof check: passed: no findings in 1 trace\n"), "{}", ran.show());
}

#[test]
fn every_process_writes_its_own_trace_and_all_are_merged() {
    let dir = Scratch::new("run-fan-out");
    let ran = run(&dir, &["--check"], &["fan-out", "3", "ordered"], b"");
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stderr.contains("lockprof run: merged 3 traces "), "{}", ran.show());
    let files = trace_files(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
    let merged = load(&dir.path("merged.json")).expect("the merged trace");
    assert_eq!(merged.process.command.len(), 4, "{:?}", merged.process.command);
    for file in &files {
        let trace = load(&dir.path(file)).expect("a process's trace");
        assert_eq!(file, &format!("trace-{}.json", trace.process.pid), "named after its pid");
    }
}

#[test]
fn the_exit_code_and_the_input_are_the_commands() {
    let dir = Scratch::new("run-passthrough");
    for run_args in [&[][..], &["--check"]] {
        let ran = run(&dir, run_args, &["exit", "7"], b"");
        assert_eq!(ran.code, Some(7), "{run_args:?}: {}", ran.show());
    }
    let ran = run(&dir, &[], &["cat"], b"input for the command\n");
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stdout.contains("input for the command\n"), "{}", ran.show());
    assert!(ran.stderr.contains("lockprof run: 1 trace in "), "{}", ran.show());
}

#[test]
fn stale_traces_go_and_nothing_else_does() {
    let dir = Scratch::new("run-stale");
    // Garbage under a trace's name: checking it would be an error, so it must be gone.
    dir.file("trace-1.json", b"not a trace");
    dir.file(".trace-1.json.1.0.tmp", b"half a trace");
    dir.file("merged.json", b"an old merge");
    dir.file("notes.txt", b"the user's");
    let ran = run(&dir, &["--check"], &["exit", "0"], b"");
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(!dir.path("trace-1.json").exists() && !dir.path(".trace-1.json.1.0.tmp").exists());
    assert!(load(&dir.path("merged.json")).is_ok(), "merged.json is this run's");
    assert_eq!(fs::read(dir.path("notes.txt")).expect("notes.txt is kept"), b"the user's");
}

#[test]
fn timeout_ends_a_condvar_hang() {
    let dir = Scratch::new("run-condvar");
    let ran = run(&dir, &["--timeout", TIMEOUT_ARG], &["condvar-hang"], b"");
    assert_eq!(ran.code, Some(124), "{}", ran.show());
    assert!(ran.elapsed >= TIMEOUT, "killed before its timeout: {:?}", ran.elapsed);
    assert!(ran.stdout.contains("waiting for a notification that never comes"), "{}", ran.show());
    assert!(ran.stderr.contains("lockprof run: timed out: "), "{}", ran.show());
    assert!(ran.stderr.contains(&format!("after {TIMEOUT_ARG}")), "{}", ran.show());
    // A condvar is not a lockprof lock: nothing can have recorded the wait.
    assert!(ran.stderr.contains("no trace recorded a wait"), "{}", ran.show());
}

#[test]
fn timeout_kills_the_whole_process_group() {
    // Two hung grandchildren hold lockprof's stdout: the run's output only closes (and this
    // test only ends) once they are dead.
    let dir = Scratch::new("run-group");
    let ran = run(
        &dir,
        &["--timeout", TIMEOUT_ARG, "--check", "--format", "sarif"],
        &["fan-out", "2", "condvar-hang"],
        b"",
    );
    assert_eq!(ran.code, Some(124), "{}", ran.show());
    assert!(ran.elapsed >= TIMEOUT, "killed before its timeout: {:?}", ran.elapsed);
    assert_eq!(
        ran.stdout.matches("waiting for a notification that never comes").count(),
        2,
        "{}",
        ran.show()
    );
}

#[test]
fn check_options_need_check() {
    let dir = Scratch::new("run-usage");
    let ran = run(&dir, &["--format", "sarif"], &["exit", "0"], b"");
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert!(ran.stdout.is_empty(), "the command must not run: {}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
    let ran = run(&dir, &["--timeout", "soon"], &["exit", "0"], b"");
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert!(ran.stderr.contains("500ms, 30s, 2m or 1h"), "{}", ran.show());
}

#[test]
fn a_bad_suppression_file_stops_the_run_before_the_command_starts() {
    let dir = Scratch::new("run-bad-suppress");
    let bad = dir.file("bad.toml", b"[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs\"\n");
    let ran = run(&dir, &["--check", "--suppress", &bad], &["exit", "0"], b"");
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert!(ran.stdout.is_empty(), "the command must not run: {}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
    assert!(ran.stderr.starts_with(&format!("lockprof: error: {bad}:1: ")), "{}", ran.show());
}

#[test]
fn nothing_to_check_is_an_error_unless_the_command_failed_anyway() {
    let dir = Scratch::new("run-no-trace");
    // `lockprof --version` takes no lock, so writes no trace.
    let ran = run_bounded(
        lockprof(&["run", "--out", dir.str(), "--check", "--", LOCKPROF, "--version"]),
        b"",
        BOUND,
    );
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert!(ran.stderr.contains("no process wrote a trace"), "{}", ran.show());
    // An unknown scenario fails (exit 64) before taking any lock: its own failure is passed on.
    let ran = run(&dir, &["--check"], &["no-such-scenario"], b"");
    assert_eq!(ran.code, Some(64), "{}", ran.show());
    assert!(ran.stderr.contains("no process wrote a trace"), "{}", ran.show());
}

#[test]
fn a_command_that_cannot_start_is_one_clear_error() {
    let dir = Scratch::new("run-missing");
    let ran = run_bounded(
        lockprof(&["run", "--out", dir.str(), "--", "/nonexistent/lockprof-test-command"]),
        b"",
        BOUND,
    );
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
    assert!(ran.stderr.contains("cannot run `/nonexistent/lockprof-test-command`"), "{}", ran.show());
}

#[test]
fn the_help_lists_the_commands_and_no_hidden_ones() {
    let ran = run_bounded(lockprof(&["--help"]), b"", BOUND);
    assert_eq!(ran.code, Some(0));
    assert!(!ran.stdout.contains("__"), "{}", ran.stdout);
    assert!(ran.stdout.contains("run") && ran.stdout.contains("merge"), "{}", ran.stdout);
}

#[test]
fn after_a_timeout_the_findings_recorded_before_the_kill_are_shown() {
    // Under the `report` policy the deadlock is recorded and the trace written, and then the
    // threads keep waiting: a hang with a finding, which is what a watchdog's long waits are.
    let dir = Scratch::new("run-report-policy");
    let mut command =
        lockprof(&["run", "--out", dir.str(), "--timeout", TIMEOUT_ARG, "--", scenarios(), "abba"]);
    command.env("LOCKPROF_ON_DEADLOCK", "report");
    let ran = run_bounded(command, b"", BOUND);
    assert_eq!(ran.code, Some(124), "{}", ran.show());
    assert!(ran.stderr.contains("lockprof run: timed out: "), "{}", ran.show());
    let shown =
        ran.stderr.find("lockprof run: recorded before the kill").unwrap_or_else(|| panic!("{}", ran.show()));
    let shown = &ran.stderr[shown..];
    assert!(shown.contains("\n  deadlock: thread #"), "{shown}");
    assert!(shown.contains(" at cli/examples/run_scenarios.rs:"), "{shown}");
}

#[test]
fn signals_to_lockprof_reach_the_command_in_its_own_group() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;

    let dir = Scratch::new("run-signal");
    let mut command =
        lockprof(&["run", "--out", dir.str(), "--timeout", "5m", "--", scenarios(), "condvar-hang"]);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("run lockprof");
    let pid = child.id().to_string();
    let stdout = child.stdout.take().expect("piped stdout");
    let (line, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line.send(l);
        }
    });
    // Once the command says it waits, lockprof is waiting for it: interrupt lockprof alone.
    loop {
        let l = lines.recv_timeout(BOUND).expect("the scenario starts waiting");
        if l.contains("waiting for a notification that never comes") {
            break;
        }
    }
    let sent = std::process::Command::new("kill").args(["-s", "INT", &pid]).status().expect("run kill");
    assert!(sent.success());
    let (done, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match ended.recv_timeout(BOUND) {
        Ok(output) => output.expect("wait for lockprof"),
        Err(_) => {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
            panic!("lockprof did not pass the interrupt on to its command");
        }
    };
    // The command died of the interrupt (128 + SIGINT), and lockprof ended normally after it.
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn after_a_timeout_the_last_known_waits_are_shown() {
    // The main thread waits for a lock whose holder waits on a condvar for ever: no cycle, so
    // only lockprof's watchdog sees it, and rewrites the trace while the process still runs.
    let dir = Scratch::new("run-held");
    let mut command =
        lockprof(&["run", "--out", dir.str(), "--timeout", TIMEOUT_ARG, "--", scenarios(), "held-hang"]);
    command.env("LOCKPROF_WATCHDOG_MS", "100"); // kept: `run` sets it only when unset
    let ran = run_bounded(command, b"", BOUND);
    assert_eq!(ran.code, Some(124), "{}", ran.show());
    let shown =
        ran.stderr.find("lockprof run: recorded before the kill").unwrap_or_else(|| panic!("{}", ran.show()));
    let shown = &ran.stderr[shown..];
    let lines: std::collections::BTreeMap<String, u32> =
        acquisition_lines("cli/examples/run_scenarios.rs", "").into_iter().collect();
    for (label, role) in [("waiter", "waited"), ("holder", "held")] {
        let site = format!(" at cli/examples/run_scenarios.rs:{}:", lines[label]);
        assert!(
            shown.lines().any(|l| l.contains(role) && l.contains(&site)),
            "the {label} ({role}{site}) is not named:\n{}",
            ran.show()
        );
    }
}
