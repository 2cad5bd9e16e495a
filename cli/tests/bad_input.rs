//! Bad input to every subcommand that takes a trace: exactly one `lockprof: error: <path>:
//! <reason>` line on stderr, nothing on stdout, exit code 2, and never a panic or a backtrace
//! (with `RUST_BACKTRACE=1` set to make sure).
//!
//! The inputs are every file in `fixtures/bad-input`, plus cases made here: a missing file, a
//! directory, deeply nested JSON (too big to commit), and a file name with a line break.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ is inside the workspace").to_path_buf()
}

fn lockprof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockprof"))
        .args(args)
        .current_dir(workspace())
        .env_remove("LOCKPROF_TRACE")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run the lockprof binary")
}

/// The trace-taking invocations of `path`, each as its argument list.
fn invocations(path: &str) -> Vec<Vec<String>> {
    let good = "fixtures/traces/abba.json".to_owned();
    // A good trace with a contention profile, for the commands that need one.
    let profiled = "fixtures/traces/hot_counter_short.json".to_owned();
    let args = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<String>>();
    vec![
        args(&["report", path]),
        args(&["report", path, "--format", "json"]),
        args(&["check", path]),
        // A bad trace among good ones still fails the whole command, before any verdict.
        args(&["check", &good, path, &good]),
        args(&["flamegraph", path]),
        args(&["flamegraph", path, "--folded"]),
        args(&["diff", path, &profiled]),
        args(&["diff", &profiled, path]),
        args(&["timeline", path]),
    ]
}

/// Every way `path` is rejected, as failure descriptions (empty if all is well).
/// `shown` is how the path must appear in the message, or `None` to skip that part.
fn rejected_properly(path: &str, shown: Option<&str>) -> Vec<String> {
    let mut failures = Vec::new();
    for args in invocations(path) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = lockprof(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let what = format!("lockprof {args:?}");
        if output.status.code() != Some(2) {
            failures.push(format!("{what}: exit {:?}, expected 2", output.status.code()));
        }
        if !output.stdout.is_empty() {
            failures.push(format!("{what}: wrote to stdout: {:?}", String::from_utf8_lossy(&output.stdout)));
        }
        if stderr.lines().count() != 1 || !stderr.ends_with('\n') {
            failures.push(format!("{what}: stderr is not exactly one line: {stderr:?}"));
        }
        let prefix = match shown {
            Some(shown) => format!("lockprof: error: {shown}: "),
            None => "lockprof: error: ".to_owned(),
        };
        if !stderr.starts_with(&prefix) || stderr.trim_end().len() <= prefix.len() {
            failures.push(format!("{what}: stderr is not `{prefix}<reason>`: {stderr:?}"));
        }
        if stderr.contains("panicked") || stderr.contains("stack backtrace") {
            failures.push(format!("{what}: panicked: {stderr}"));
        }
    }
    failures
}

#[test]
fn every_bad_input_file_is_one_clear_error() {
    let dir = workspace().join("fixtures/bad-input");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("read fixtures/bad-input")
        .map(|entry| entry.expect("list fixtures/bad-input").file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && name != "README.md")
        .map(|name| format!("fixtures/bad-input/{name}"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected the bad inputs in {}, found {files:?}", dir.display());
    let failures: Vec<String> = files.iter().flat_map(|f| rejected_properly(f, Some(f))).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A scratch directory for generated inputs, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("lockprof-cli-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    fn file(&self, name: &str, content: &[u8]) -> String {
        let path = self.0.join(name);
        fs::write(&path, content).expect("write a scratch file");
        path.to_str().expect("UTF-8 temp path").to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn generated_bad_inputs_are_one_clear_error() {
    let scratch = Scratch::new("bad-input");
    const DEPTH: usize = 100_000;
    let header = r#"{"format": "lockprof-trace", "version": 1, "process": "#;
    let cases = [
        scratch.file("nested-arrays.json", "[".repeat(DEPTH).as_bytes()),
        scratch.file(
            "nested-arrays-closed.json",
            format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)).as_bytes(),
        ),
        scratch.file("nested-objects.json", r#"{"a":"#.repeat(DEPTH).as_bytes()),
        scratch.file(
            "nested-inside-a-trace.json",
            format!("{header}{}{}}}", "[".repeat(DEPTH), "]".repeat(DEPTH)).as_bytes(),
        ),
        scratch.file("zeros.json", &vec![0u8; 1 << 16]),
    ];
    let mut failures: Vec<String> = cases.iter().flat_map(|f| rejected_properly(f, Some(f))).collect();

    let missing = scratch.0.join("does-not-exist.json");
    let missing = missing.to_str().expect("UTF-8 temp path");
    failures.extend(rejected_properly(missing, Some(missing)));
    let directory = scratch.0.to_str().expect("UTF-8 temp path");
    failures.extend(rejected_properly(directory, Some(directory)));
    // The message stays on one line even when the file name does not.
    let broken_name = scratch.file("line\nbreak.json", b"");
    failures.extend(rejected_properly(&broken_name, None));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["check"],
        &["report"],
        &["report", "a.json", "b.json"],
        &["frobnicate"],
        &["--bogus"],
        &["flamegraph"],
        &["diff", "a.json"],
        &["timeline"],
    ] {
        let output = lockprof(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "lockprof {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
}

#[test]
fn help_and_version_succeed() {
    for args in [&["--help"][..], &["--version"], &["check", "--help"]] {
        let output = lockprof(args);
        assert_eq!(output.status.code(), Some(0), "lockprof {args:?}");
        assert!(!output.stdout.is_empty());
    }
    let help = String::from_utf8(lockprof(&["--help"]).stdout).expect("UTF-8");
    assert!(!help.contains("__demo"), "the demo's child command is hidden: {help}");
    assert!(!help.contains("__synthetic"), "the synthetic trace writer is hidden: {help}");
    for command in ["flamegraph", "diff", "timeline"] {
        assert!(help.contains(command), "{command} is listed: {help}");
    }
}
