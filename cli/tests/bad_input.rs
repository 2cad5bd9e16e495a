//! Bad input to every subcommand that takes a trace: exactly one `lockprof: error: <path>:
//! <reason>` line on stderr, nothing on stdout, exit code 2, and never a panic or a backtrace
//! (with `RUST_BACKTRACE=1` set to make sure).
//!
//! The inputs are every file in `fixtures/bad-input`, plus cases made here: a missing file, a
//! directory, deeply nested JSON (too big to commit), a file name with a line break, and what
//! must be refused without being read: `/dev/zero`, a FIFO with no writer, a sparse file over
//! the input limit. Every run is bounded ([`support::run_bounded`]): a hang fails the test.

mod support;

use std::fs;
use std::time::Duration;

use support::{Ran, Scratch, run_bounded, workspace};

/// Only a hang reaches it.
const HANG_BOUND: Duration = Duration::from_secs(60);

fn lockprof(args: &[&str]) -> Ran {
    lockprof_with(args, &[])
}

fn lockprof_with(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = support::lockprof(args);
    command.env("RUST_BACKTRACE", "1").env_remove("LOCKPROF_MAX_INPUT");
    for (key, value) in env {
        command.env(key, value);
    }
    run_bounded(command, b"", HANG_BOUND)
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
        args(&["report", path, "--format", "html"]),
        args(&["graph", path]),
        args(&["pprof", path]),
        args(&["merge", path]),
        args(&["merge", &good, path]),
    ]
}

/// Every way `path` is rejected, as failure descriptions (empty if all is well).
/// `shown` is how the path must appear in the message, or `None` to skip that part.
fn rejected_properly(path: &str, shown: Option<&str>) -> Vec<String> {
    let mut failures = Vec::new();
    for args in invocations(path) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = lockprof(&args);
        let stderr = &output.stderr;
        let what = format!("lockprof {args:?}");
        if output.code != Some(2) {
            failures.push(format!("{what}: exit {:?}, expected 2", output.code));
        }
        if !output.stdout.is_empty() {
            failures.push(format!("{what}: wrote to stdout: {:?}", output.stdout));
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
fn every_bad_input_file_is_one_clear_error_from_every_command() {
    let dir = workspace().join("fixtures/bad-input");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("read fixtures/bad-input")
        .map(|entry| entry.expect("list fixtures/bad-input").file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && name != "README.md")
        .map(|name| format!("fixtures/bad-input/{name}"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected the bad inputs in {}, found {files:?}", dir.display());
    let mut failures: Vec<String> = files.iter().flat_map(|f| rejected_properly(f, Some(f))).collect();
    // The suppression files are also given as what they are meant to be.
    let toml: Vec<&String> = files.iter().filter(|f| f.ends_with(".toml")).collect();
    assert!(toml.len() >= 3, "expected bad suppression files, found {toml:?}");
    for file in toml {
        for command in [
            &["check", "fixtures/traces/abba.json", "--suppress", file][..],
            &["run", "--check", "--suppress", file, "--", "true"],
        ] {
            let ran = lockprof(command);
            let what = format!("lockprof {command:?}: {}", ran.show());
            if ran.code != Some(2) || !ran.stdout.is_empty() || ran.stderr.lines().count() != 1 {
                failures.push(format!("{what}: expected exit 2, nothing on stdout, one line on stderr"));
            } else if !ran.stderr.starts_with(&format!("lockprof: error: {file}:"))
                || ran.stderr.contains("panicked")
            {
                failures.push(format!("{what}: expected `lockprof: error: {file}:<line>: <reason>`"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

    let missing = scratch.path("does-not-exist.json");
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
fn usage_errors_are_one_line_and_exit_2() {
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
        &["report", "--sort", "nonsense", "a.json"],
        &["report", "--top", "0", "a.json"],
        &["run", "--timeout", "307445734561825860m", "--", "true"],
        &["run", "--timeout", "18446744073709551615s", "--", "true"],
        &["--max-input-size", "lots", "report", "a.json"],
        &["frob\nnicate"],
    ] {
        let output = lockprof(args);
        let what = format!("lockprof {args:?}: {}", output.show());
        assert_eq!(output.code, Some(2), "{what}");
        assert!(output.stdout.is_empty(), "{what}");
        assert_eq!(output.stderr.lines().count(), 1, "{what}");
        assert!(output.stderr.starts_with("lockprof: error: "), "{what}");
        assert!(output.stderr.trim_end().ends_with("--help)"), "{what}");
        assert!(!output.stderr.contains("panicked"), "{what}");
    }
    // The line says what is wrong, and where to read more.
    let unknown = lockprof(&["check", "--bogus", "t.json"]).stderr;
    assert!(unknown.contains("--bogus") && unknown.contains("(see lockprof check --help)"), "{unknown}");
    let overflow = lockprof(&["run", "--timeout", "307445734561825860m", "--", "true"]).stderr;
    assert!(overflow.contains("307445734561825860m"), "{overflow}");
}

#[test]
fn help_and_version_succeed() {
    for args in [&["--help"][..], &["--version"], &["check", "--help"]] {
        let output = lockprof(args);
        assert_eq!(output.code, Some(0), "lockprof {args:?}");
        assert!(!output.stdout.is_empty());
    }
    let help = lockprof(&["--help"]).stdout;
    assert!(!help.contains("__demo"), "the demo's child command is hidden: {help}");
    assert!(!help.contains("__synthetic"), "the synthetic trace writer is hidden: {help}");
    for command in ["flamegraph", "diff", "timeline"] {
        assert!(help.contains(command), "{command} is listed: {help}");
    }
}

/// Exactly one `lockprof: error: ` line on stderr containing `needle`, nothing on stdout, exit 2.
fn one_error_line(ran: &Ran, what: &str, needle: &str) {
    let what = format!("{what}: {}", ran.show());
    assert_eq!(ran.code, Some(2), "{what}");
    assert!(ran.stdout.is_empty(), "{what}");
    assert_eq!(ran.stderr.lines().count(), 1, "{what}");
    assert!(ran.stderr.starts_with("lockprof: error: "), "{what}");
    assert!(ran.stderr.contains(needle), "expected {needle:?}: {what}");
    assert!(!ran.stderr.contains("panicked"), "{what}");
}

#[cfg(unix)]
#[test]
fn what_cannot_be_read_whole_is_refused_before_it_is_read() {
    let scratch = Scratch::new("unbounded");
    let fifo = scratch.path("no-writer.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo");
    let fifo = fifo.to_str().expect("UTF-8 temp path").to_owned();
    // Sparse: 513 MiB that take no disk, one more than the default limit of 512 MiB.
    let sparse = scratch.path("sparse.json");
    fs::File::create(&sparse).and_then(|f| f.set_len((512 << 20) + 1)).expect("a sparse file");
    let sparse = sparse.to_str().expect("UTF-8 temp path").to_owned();
    let cases = [
        ("/dev/zero", "it is a character device"),
        (fifo.as_str(), "it is a FIFO"),
        (scratch.str(), "it is a directory"),
        (sparse.as_str(), "larger than the input limit of 512 MiB (raise the limit with --max-input-size"),
    ];
    for (path, needle) in cases {
        for args in invocations(path) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            one_error_line(&lockprof(&args), &format!("lockprof {args:?}"), needle);
        }
        let suppress = ["check", "fixtures/traces/abba.json", "--suppress", path];
        let needle = needle.replace("larger", "the suppression file is larger").replace("512 MiB", "1 MiB");
        one_error_line(&lockprof(&suppress), &format!("lockprof {suppress:?}"), &needle);
    }
}

#[test]
fn the_input_limit_can_be_lowered_and_raised() {
    let scratch = Scratch::new("limit");
    let trace = "fixtures/traces/abba.json";
    let size = fs::metadata(workspace().join(trace)).expect("the fixture").len();
    let below = (size - 1).to_string();
    one_error_line(
        &lockprof(&["--max-input-size", &below, "check", trace]),
        "--max-input-size",
        &format!("larger than the input limit of {below} bytes"),
    );
    one_error_line(
        &lockprof_with(&["check", trace], &[("LOCKPROF_MAX_INPUT", &below)]),
        "LOCKPROF_MAX_INPUT",
        "larger than the input limit",
    );
    // The flag wins over the environment; at the limit is within it.
    let exact = size.to_string();
    let ran = lockprof_with(&["check", "--max-input-size", &exact, trace], &[("LOCKPROF_MAX_INPUT", "1")]);
    assert_eq!(ran.code, Some(1), "abba has a deadlock: {}", ran.show());
    // Suppression files: over 1 MiB by default, allowed when the limit is raised.
    let mut big = b"[[suppress]]\nrule = \"deadlock\"\nlock = \"A\"\nreason = \"known\"\n".to_vec();
    big.extend(std::iter::repeat_n(b'#', 1 << 20));
    big.push(b'\n');
    let big = scratch.file("big.toml", &big);
    one_error_line(&lockprof(&["check", trace, "--suppress", &big]), "big suppressions", "1 MiB");
    let ran = lockprof(&["check", trace, "--suppress", &big, "--max-input-size", "2M"]);
    assert_eq!(ran.code, Some(0), "the deadlock is suppressed: {}", ran.show());
}

#[test]
fn a_trace_can_come_from_standard_input() {
    let trace = fs::read(workspace().join("fixtures/traces/abba.json")).expect("the fixture");
    let ran = run_bounded(support::lockprof(&["check", "-"]), &trace, HANG_BOUND);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    assert!(ran.stdout.starts_with("FAIL - "), "{}", ran.show());
}

#[cfg(target_os = "linux")]
#[test]
fn outputs_that_cannot_be_written_are_one_clear_error() {
    use std::os::unix::fs::FileTypeExt;
    let scratch = Scratch::new("outputs");
    let trace = "fixtures/traces/hot_counter_short.json";
    for args in [
        &["merge", trace, "-o", "/dev/full"][..],
        &["flamegraph", trace, "-o", "/dev/full"],
        &["timeline", trace, "-o", "/dev/full"],
        &["merge", trace, "-o", scratch.str()],
    ] {
        let needle = if args.contains(&"/dev/full") { "No space left on device" } else { "directory" };
        one_error_line(&lockprof(args), &format!("lockprof {args:?}"), needle);
    }
    // /dev/null is written to, and stays what it is (as root, it used to become a regular file).
    let ran = lockprof(&["merge", trace, "-o", "/dev/null"]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(fs::metadata("/dev/null").expect("/dev/null").file_type().is_char_device());
    assert_eq!(fs::read_dir(&scratch.0).expect("list").count(), 0, "the directory is left alone");
}
