//! `lockprof run --check -- cargo test` on a user's project: the fixture crate
//! `fixtures/ci-crate` (a workspace of its own, with lockprof behind a feature, as the README's CI
//! section sets it up), whose three test binaries each write a trace, one of them with a
//! lock-order inversion that does not hang.
//!
//! The crate is built and tested once per run of this file (both tests share the one run), in
//! `<target>/ci-crate`, offline: its dependencies are lockprof's own.

mod support;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lockprof_analysis::findings::findings;
use lockprof_trace::load::load;
use support::{Ran, acquisition_lines, lockprof, run_bounded, target_dir, workspace};

/// The crate's build dominates; a warm build and test run takes seconds.
const BOUND: Duration = Duration::from_secs(15 * 60);

struct CiRun {
    ran: Ran,
    /// The trace directory.
    dir: PathBuf,
}

/// Runs `lockprof run --check -- cargo test --offline --features lockprof` in the crate, once.
fn ci_run() -> &'static CiRun {
    static RUN: OnceLock<CiRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let target = target_dir().join("ci-crate");
        let dir = target.join("lockprof");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut command = lockprof(&["run", "--check", "--timeout", "10m", "--out"]);
        command
            .arg(&dir)
            .arg("--")
            .arg(cargo)
            .args(["test", "--offline", "--features", "lockprof"])
            .current_dir(workspace().join("fixtures/ci-crate"))
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_TERM_COLOR", "never");
        CiRun { ran: run_bounded(command, b"", BOUND), dir }
    })
}

/// The test binaries of the crate: `a`, `b`, `c` for `tests/a.rs`, ...
fn test_binaries() -> BTreeSet<String> {
    std::fs::read_dir(workspace().join("fixtures/ci-crate/tests"))
        .expect("list fixtures/ci-crate/tests")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_owned))
        .collect()
}

#[test]
fn every_test_binary_writes_a_trace_and_all_are_merged() {
    let CiRun { ran, dir } = ci_run();
    let binaries = test_binaries();
    assert_eq!(binaries.len(), 3, "{binaries:?}");
    // The crate's own tests all passed: its exit code does not decide this run's.
    assert_eq!(ran.stdout.matches("test result: ok.").count(), binaries.len(), "{}", ran.show());
    assert!(!ran.stdout.contains("FAILED"), "{}", ran.show());

    assert!(
        ran.stderr.contains(&format!("lockprof run: merged {} traces ", binaries.len())),
        "{}",
        ran.show()
    );
    // One trace per test binary, each named after its process.
    let mut written = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("list the trace directory") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if !(name.starts_with("trace-") && name.ends_with(".json")) {
            continue;
        }
        let trace = load(&dir.join(&name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name, format!("trace-{}.json", trace.process.pid));
        // The test binary `target/.../deps/a-<hash>`.
        let program = PathBuf::from(trace.process.command.first().cloned().unwrap_or_default());
        let stem = program.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        written.insert(stem.rsplit_once('-').map_or(stem.clone(), |(binary, _hash)| binary.to_owned()));
    }
    assert_eq!(written, binaries, "every test binary wrote a trace\n{}", ran.show());
    let merged = load(&dir.join("merged.json")).expect("the merged trace");
    assert_eq!(merged.process.command.len(), binaries.len() + 1, "{:?}", merged.process.command);
}

#[test]
fn the_lock_order_inversion_fails_the_run_and_its_sites_are_named() {
    let CiRun { ran, dir } = ci_run();
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    let lines = acquisition_lines("fixtures/ci-crate/src/lib.rs", "");
    assert_eq!(lines.len(), 4, "{lines:?}");

    // The contract: a finding with rule id `potential-deadlock` whose sites include the four
    // acquisitions (ledger then audit, audit then ledger).
    let merged = load(&dir.join("merged.json")).expect("the merged trace");
    let found = findings(&merged);
    let inversion = found
        .iter()
        .filter(|f| f.kind.rule_id() == "potential-deadlock")
        .find(|f| {
            lines.iter().all(|(_, line)| {
                f.sites.iter().any(|s| s.site.file.ends_with("src/lib.rs") && s.site.line == *line)
            })
        })
        .unwrap_or_else(|| panic!("no potential-deadlock finding names lines {lines:?}: {found:#?}"));
    assert!(
        inversion.title.contains("\"ledger\"") && inversion.title.contains("\"audit\""),
        "{inversion:#?}"
    );

    // The verdict, after the tests' output, names every site.
    let verdict =
        &ran.stdout[ran.stdout.find("FAIL ").unwrap_or_else(|| panic!("no verdict: {}", ran.show()))..];
    assert!(verdict.contains("potential-deadlock"), "{verdict}");
    for (label, line) in &lines {
        let site = format!(" at src/lib.rs:{line}:");
        assert!(verdict.contains(&site), "{label} ({site}) missing:\n{verdict}");
    }
}
