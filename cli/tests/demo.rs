//! `lockprof demo` on a fresh build: catches its bundled deadlock, reports it with the source
//! lines of the acquisitions, and exits 0.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn demo_catches_and_reports_the_deadlock() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_lockprof"))
        .arg("demo")
        .env_remove("LOCKPROF_TRACE")
        .env("LOCKPROF_ON_DEADLOCK", "report") // the demo must override it
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run lockprof demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30), "the demo took {:?}", started.elapsed());
    assert!(stdout.contains("DEADLOCK"), "{stdout}");
    assert!(stdout.contains("lockprof check: failed"), "{stdout}");
    assert!(!stderr.contains("panicked") && !stderr.contains("stack backtrace"), "{stderr}");

    // Every `.lock()` of the scenario appears in the report as `file:line:column`.
    let file = "fixtures/src/bin/lockprof-demo.rs";
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file))
        .expect("read the demo program's source");
    let lock_lines: Vec<usize> =
        source.lines().enumerate().filter(|(_, l)| l.contains(".lock()")).map(|(i, _)| i + 1).collect();
    assert_eq!(lock_lines.len(), 4, "the scenario has four acquisitions");
    for line in lock_lines {
        let site = format!("{file}:{line}:");
        assert!(
            stdout.contains(&format!("acquired at {site}")) || stdout.contains(&format!("waiting at {site}")),
            "the report does not name {site}\n{stdout}"
        );
    }
}

/// Leaves no trace file behind.
#[test]
fn demo_cleans_up() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_lockprof")).arg("demo").output().expect("run lockprof demo");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("LOCKPROF_TRACE="))
        .expect("the demo names its trace file");
    assert!(!Path::new(path).exists(), "{path} is left behind");
}
