//! Fuzzing the CLI in the normal test suite: deterministic mutants of the recorded traces go
//! through every command that reads a trace (in process, through the library), and mutants of
//! suppression files through the suppression parser. Every call must return, an answer or an
//! error, and never panic: a panic here is what a user would see as exit 101.
//!
//! The mutator is `profiler/trace/tests/support/mutate.rs` (shared with the trace loader's fuzz
//! test, which also bounds what parsing allocates). A failure names its mutant, to replay it; the
//! input that found a bug belongs in `fixtures/bad-input` (or, if it is a valid trace, a test).

#[path = "../../profiler/trace/tests/support/mutate.rs"]
mod mutate;
mod support;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use lockprof_cli::commands::check::CheckOptions;
use lockprof_cli::commands::diff::DiffOptions;
use lockprof_cli::commands::flamegraph::FlamegraphOptions;
use lockprof_cli::commands::graph::GraphOptions;
use lockprof_cli::commands::pprof::PprofOptions;
use lockprof_cli::commands::report::{ReportFormat, ReportOptions};
use lockprof_cli::commands::timeline::TimelineOptions;
use lockprof_cli::commands::{check, diff, flamegraph, graph, pprof, report, timeline};
use lockprof_cli::format::Format;
use lockprof_cli::suppress::{SitePattern, Suppressions};
use mutate::{Rng, mutate_bytes, mutate_json, seeds};
use support::{Scratch, workspace};

/// A command run in process: (its output, its log).
type Call<'a> = Box<dyn FnMut(&mut Vec<u8>, &mut Vec<u8>) + 'a>;

/// Every trace-reading command on `path`; the names of those that panicked.
fn every_command(path: &Path, other: &Path, no_rules: &Path) -> Vec<&'static str> {
    let mut sink = Vec::new();
    let mut log = Vec::new();
    let paths = [path.to_path_buf()];
    let mut calls: Vec<(&'static str, Call)> = Vec::new();
    for format in [ReportFormat::Text, ReportFormat::Json, ReportFormat::Html] {
        calls.push((
            "report",
            Box::new(move |out, _| {
                let _ = report::run(path, &ReportOptions { format, ..ReportOptions::default() }, out);
            }),
        ));
    }
    for format in [Format::Text, Format::Junit, Format::Sarif, Format::Github] {
        let paths = paths.clone();
        let no_rules = no_rules.to_path_buf();
        calls.push((
            "check",
            Box::new(move |out, _| {
                // An empty suppression file: not a lockprof.toml that the working directory has.
                let options = CheckOptions { format, suppress: Some(no_rules.clone()), ..Default::default() };
                let _ = check::run(&paths, &options, out);
            }),
        ));
    }
    for folded in [false, true] {
        calls.push((
            "flamegraph",
            Box::new(move |out, log| {
                let _ = flamegraph::run(path, &FlamegraphOptions { folded, ..Default::default() }, out, log);
            }),
        ));
    }
    calls.push((
        "diff",
        Box::new(move |out, log| drop(diff::run(path, other, &DiffOptions::default(), out, log))),
    ));
    calls.push((
        "diff",
        Box::new(move |out, log| drop(diff::run(other, path, &DiffOptions::default(), out, log))),
    ));
    calls.push((
        "timeline",
        Box::new(move |out, log| drop(timeline::run(path, &TimelineOptions::default(), out, log))),
    ));
    calls.push((
        "graph",
        Box::new(move |out, log| drop(graph::run(path, &GraphOptions { output: None }, out, log))),
    ));
    calls.push((
        "pprof",
        Box::new(move |out, log| {
            drop(pprof::run(path, &PprofOptions { output: None, stdout_is_terminal: false }, out, log))
        }),
    ));
    let mut panicked = Vec::new();
    for (name, mut call) in calls {
        sink.clear();
        log.clear();
        if catch_unwind(AssertUnwindSafe(|| call(&mut sink, &mut log))).is_err() {
            panicked.push(name);
        }
        let _ = log.flush();
    }
    panicked
}

#[test]
fn mutated_traces_never_make_a_command_panic() {
    // Panics are caught and counted; their messages would only bury the summary.
    std::panic::set_hook(Box::new(|_| {}));
    let scratch = Scratch::new("fuzz");
    let fixtures = workspace().join("fixtures/traces");
    let traces: Vec<(String, serde_json::Value)> = seeds(&fixtures, Some("json"))
        .into_iter()
        .filter(|(n, _)| n != "hot_counter_long.json")
        .filter_map(|(n, b)| Some((n, serde_json::from_slice(&b).ok()?)))
        .collect();
    assert!(traces.len() >= 8, "expected the recorded traces, found {}", traces.len());
    let other = fixtures.join("hot_counter_short.json");
    let path = scratch.path("mutant.json");
    let no_rules = PathBuf::from(scratch.file("lockprof.toml", b""));
    let mut failures = Vec::new();
    let mut readable = 0;
    const MUTANTS: u64 = 150;
    for n in 0..MUTANTS {
        let mut rng = Rng::new(n + (2 << 32));
        let (name, seed) = rng.pick(&traces);
        let mut mutant = mutate_json(&mut rng, seed);
        if rng.below(2) == 0 {
            mutant = mutate_json(&mut rng, &mutant);
        }
        let bytes = serde_json::to_vec(&mutant).expect("serialise");
        std::fs::write(&path, &bytes).expect("write the mutant");
        readable += usize::from(lockprof_trace::load::parse(&bytes).is_ok());
        let panicked = every_command(&path, &other, &no_rules);
        if !panicked.is_empty() {
            let kept = scratch.file(&format!("panic-{n}.json"), &bytes);
            failures.push(format!("mutant {n} of {name} ({kept}): {panicked:?} panicked"));
        }
    }
    let _ = std::panic::take_hook();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(readable * 10 > MUTANTS as usize, "only {readable} of {MUTANTS} mutants were readable traces");
}

#[test]
fn mutated_suppression_files_parse_or_fail_in_one_line() {
    let seeds: Vec<Vec<u8>> = vec![
        b"# Known findings.\n[[suppress]]\nrule = \"deadlock\"  # the kind\nsite = \"src/bank.rs:42:7\"\nreason = \"tracked in \\\"#123\\\"\"\n\n[[ suppress ]]\nrule = 'potential'\nlock = \"ledger\"\nreason = 'a literal \\ string'\n".to_vec(),
        b"[[suppress]]\nrule = \"potential-deadlock\"\nsite = \"a.rs:99999999999999999999\"\nreason = \"\\u00e9\\U0001F600\"\n".to_vec(),
        b"[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs:1:2:3:4\"\nreason = \"r\"\n".to_vec(),
    ];
    let mut failures = Vec::new();
    for n in 0..3000u64 {
        let mut rng = Rng::new(n + (3 << 32));
        let seed = rng.pick(&seeds).clone();
        let other = rng.pick(&seeds).clone();
        let rounds = 1 + rng.below(3);
        let bytes = mutate_bytes(&mut rng, &seed, &other, rounds);
        let text = String::from_utf8_lossy(&bytes);
        match catch_unwind(|| Suppressions::parse(&text, "f.toml")) {
            Err(_) => failures.push(format!("mutant {n} panicked: {text:?}")),
            Ok(Err(error)) if error.contains('\n') || !error.starts_with("f.toml:") => {
                failures.push(format!("mutant {n}: the error is not one line naming the file: {error:?}"));
            }
            Ok(_) => {}
        }
        if catch_unwind(|| SitePattern::parse(&text)).is_err() {
            failures.push(format!("mutant {n}: SitePattern::parse panicked on {text:?}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
