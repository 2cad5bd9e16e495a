//! Golden tests: the built `lockprof` binary over every trace in `fixtures/traces`.
//!
//! For each `NAME.json` there, `NAME.report.txt` is the expected stdout of `lockprof report`,
//! `NAME.check.txt` that of `lockprof check`, and `NAME.expect` their exit codes. A trace with a
//! contention profile also has `NAME.folded.txt`, the expected stdout of `lockprof flamegraph
//! --folded` (of a trace without one, that command must fail with one line). Each
//! `BEFORE.vs.AFTER.diff.txt` is the expected stdout of `lockprof diff BEFORE.json AFTER.json`.
//! The commands run in the workspace root with the traces' workspace-relative paths, as a user
//! would.
//!
//! `LOCKPROF_BLESS=1 cargo test -p lockprof-cli --test golden` rewrites the expected files from
//! the current output instead of comparing (review the diff before committing it). To add a
//! diff, create an empty `BEFORE.vs.AFTER.diff.txt` and bless.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ is inside the workspace").to_path_buf()
}

const TRACES: &str = "fixtures/traces";

/// `lockprof ARGS` in the workspace root, with a clean lockprof environment and backtraces on (so
/// that a panic could not hide).
fn lockprof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockprof"))
        .args(args)
        .current_dir(workspace())
        .env_remove("LOCKPROF_TRACE")
        .env_remove("LOCKPROF_ON_DEADLOCK")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run the lockprof binary")
}

/// The names of the traces, sorted: `abba` for `fixtures/traces/abba.json`.
fn trace_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(workspace().join(TRACES))
        .expect("read fixtures/traces")
        .map(|entry| entry.expect("list fixtures/traces").file_name().to_string_lossy().into_owned())
        .filter_map(|file| file.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The exit codes recorded in a `NAME.expect` file.
#[derive(Debug, PartialEq)]
struct Expect {
    report: i32,
    check: i32,
}

impl Expect {
    fn parse(text: &str) -> Option<Expect> {
        let mut report = None;
        let mut check = None;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (key, value) = line.split_once(':')?;
            let value = value.trim().parse().ok()?;
            match key.trim() {
                "report" => report = Some(value),
                "check" => check = Some(value),
                _ => return None,
            }
        }
        Some(Expect { report: report?, check: check? })
    }

    fn render(&self) -> String {
        format!(
            "# Exit codes of `lockprof report` and `lockprof check` on this trace.\nreport: {}\ncheck: {}\n",
            self.report, self.check
        )
    }
}

fn blessing() -> bool {
    std::env::var_os("LOCKPROF_BLESS").is_some_and(|v| v == "1")
}

/// `None` if `actual` is what `file` holds, else a description of the first difference.
fn compare(file: &Path, actual: &str) -> Option<String> {
    let expected = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return Some(format!("{}: cannot read it ({e})", file.display())),
    };
    if expected == actual {
        return None;
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let line = e.iter().zip(&a).position(|(e, a)| e != a).unwrap_or(e.len().min(a.len()));
    Some(format!(
        "{}: differs at line {}\n    expected: {:?}\n    actual:   {:?}",
        file.display(),
        line + 1,
        e.get(line).copied().unwrap_or("<end of file>"),
        a.get(line).copied().unwrap_or("<end of output>"),
    ))
}

#[test]
fn every_trace_matches_its_golden_output() {
    let names = trace_names();
    assert!(names.len() >= 2, "expected golden traces in {TRACES}, found {names:?}");
    let dir = workspace().join(TRACES);
    let mut failures = Vec::new();
    for name in &names {
        let trace = format!("{TRACES}/{name}.json");
        let report = lockprof(&["report", &trace]);
        let check = lockprof(&["check", &trace]);
        for (command, output) in [("report", &report), ("check", &check)] {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if !stderr.is_empty() {
                failures.push(format!("lockprof {command} {trace}: unexpected stderr:\n{stderr}"));
            }
        }
        let report_out = String::from_utf8(report.stdout.clone()).expect("report output is UTF-8");
        let check_out = String::from_utf8(check.stdout.clone()).expect("check output is UTF-8");
        let codes = Expect {
            report: report.status.code().expect("report exited"),
            check: check.status.code().expect("check exited"),
        };
        let files = [
            (dir.join(format!("{name}.report.txt")), report_out),
            (dir.join(format!("{name}.check.txt")), check_out),
            (dir.join(format!("{name}.expect")), codes.render()),
        ];
        if blessing() {
            for (file, content) in &files {
                fs::write(file, content).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
            }
            failures.extend(check_folded(name, &trace, &dir));
            continue;
        }
        failures.extend(check_folded(name, &trace, &dir));
        for (file, content) in &files[..2] {
            failures.extend(compare(file, content));
        }
        let expect_file = &files[2].0;
        match fs::read_to_string(expect_file).ok().as_deref().and_then(Expect::parse) {
            Some(expected) if expected == codes => {}
            Some(expected) => failures.push(format!("{name}: exit codes {codes:?}, expected {expected:?}")),
            None => failures.push(format!("{}: missing or unreadable", expect_file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es) (rerun with LOCKPROF_BLESS=1 to accept the new output):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Whether the trace at `path` (workspace-relative) has a contention profile.
fn has_contention(path: &str) -> bool {
    let text = fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let trace: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    trace.get("contention").is_some_and(|c| !c.is_null())
}

/// `lockprof flamegraph --folded` on the trace `name`: its golden output if it has a contention
/// profile (blessed when blessing), else a one-line error and no golden file.
fn check_folded(name: &str, trace: &str, dir: &Path) -> Vec<String> {
    let output = lockprof(&["flamegraph", "--folded", trace]);
    let stdout = String::from_utf8(output.stdout).expect("folded output is UTF-8");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = dir.join(format!("{name}.folded.txt"));
    let mut failures = Vec::new();
    if has_contention(trace) {
        if output.status.code() != Some(0) || !stderr.is_empty() {
            failures.push(format!(
                "lockprof flamegraph --folded {trace}: exit {:?}: {stderr}",
                output.status.code()
            ));
        } else if blessing() {
            fs::write(&file, &stdout).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        } else {
            failures.extend(compare(&file, &stdout));
        }
    } else {
        if output.status.code() != Some(2)
            || stderr.lines().count() != 1
            || !stderr.contains("no contention profile")
        {
            failures.push(format!(
                "lockprof flamegraph --folded {trace} (no contention profile): exit {:?}, stderr {stderr:?}",
                output.status.code()
            ));
        }
        if file.exists() {
            failures.push(format!("{}: {name} has no contention profile", file.display()));
        }
    }
    failures
}

/// The `BEFORE.vs.AFTER.diff.txt` files: (file name, before, after).
fn diff_files() -> Vec<(String, String, String)> {
    let mut files: Vec<(String, String, String)> = fs::read_dir(workspace().join(TRACES))
        .expect("read fixtures/traces")
        .map(|entry| entry.expect("list fixtures/traces").file_name().to_string_lossy().into_owned())
        .filter_map(|file| {
            let (before, after) = file.strip_suffix(".diff.txt")?.split_once(".vs.")?;
            Some((file.clone(), before.to_owned(), after.to_owned()))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_diff_matches_its_golden_output() {
    let diffs = diff_files();
    assert!(!diffs.is_empty(), "expected BEFORE.vs.AFTER.diff.txt files in {TRACES}");
    let dir = workspace().join(TRACES);
    let mut failures = Vec::new();
    for (file, before, after) in &diffs {
        let (before, after) = (format!("{TRACES}/{before}.json"), format!("{TRACES}/{after}.json"));
        let output = lockprof(&["diff", &before, &after]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(0) || !stderr.is_empty() {
            failures
                .push(format!("lockprof diff {before} {after}: exit {:?}: {stderr}", output.status.code()));
            continue;
        }
        let stdout = String::from_utf8(output.stdout).expect("diff output is UTF-8");
        let file = dir.join(file);
        if blessing() {
            fs::write(&file, &stdout).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        } else {
            failures.extend(compare(&file, &stdout));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es) (rerun with LOCKPROF_BLESS=1 to accept the new output):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_golden_file_belongs_to_a_trace() {
    let names = trace_names();
    let orphans: Vec<String> = fs::read_dir(workspace().join(TRACES))
        .expect("read fixtures/traces")
        .map(|entry| entry.expect("list fixtures/traces").file_name().to_string_lossy().into_owned())
        .filter(|file| {
            [".report.txt", ".check.txt", ".expect", ".folded.txt"]
                .iter()
                .find_map(|suffix| file.strip_suffix(suffix))
                .is_some_and(|name| !names.iter().any(|n| n == name))
        })
        .chain(
            diff_files()
                .into_iter()
                .filter(|(_, before, after)| !names.contains(before) || !names.contains(after))
                .map(|(file, _, _)| file),
        )
        .collect();
    assert!(orphans.is_empty(), "golden files without a trace in {TRACES}: {orphans:?}");
}

#[test]
fn the_golden_set_has_clean_and_deadlocking_traces() {
    let codes: Vec<i32> = trace_names()
        .iter()
        .map(|n| lockprof(&["check", &format!("{TRACES}/{n}.json")]).status.code().unwrap_or(-1))
        .collect();
    assert!(codes.contains(&0), "no clean trace in {TRACES}");
    assert!(codes.contains(&1), "no trace with findings in {TRACES}");
}

/// `check` over all the traces at once says, per trace, what it says of each alone, then one
/// total line; it fails if any one fails.
#[test]
fn check_over_all_traces_at_once() {
    let traces: Vec<String> = trace_names().iter().map(|n| format!("{TRACES}/{n}.json")).collect();
    let mut args = vec!["check"];
    args.extend(traces.iter().map(String::as_str));
    let all = lockprof(&args);
    assert_eq!(all.status.code(), Some(1), "{}", String::from_utf8_lossy(&all.stderr));
    assert!(all.stderr.is_empty(), "{}", String::from_utf8_lossy(&all.stderr));

    let mut expected = String::new();
    let (mut failed, mut findings) = (0, 0);
    for trace in &traces {
        let one = lockprof(&["check", trace]);
        let text = String::from_utf8(one.stdout).expect("UTF-8");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.pop(); // its total line
        for line in lines {
            expected.push_str(line);
            expected.push('\n');
        }
        if one.status.code() == Some(1) {
            failed += 1;
            let first = text.lines().next().unwrap_or_default();
            findings += first
                .split_once(" (")
                .and_then(|(_, rest)| rest.split_once(' '))
                .and_then(|(n, _)| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("no finding count in {first:?}"));
        }
    }
    let word = if findings == 1 { "finding" } else { "findings" };
    expected.push_str(&format!(
        "lockprof check: failed: {findings} {word} in {failed} of {} traces (`lockprof report TRACE` shows the stacks)\n",
        traces.len()
    ));
    assert_eq!(String::from_utf8(all.stdout).expect("UTF-8"), expected);
}
