//! What the tests that need a trace share: re-running one test of this binary in a child
//! process with `LOCKPROF_TRACE` set, so that contention figures are kept and no other test's
//! locks share the process.

/// Runs the test `name` of the current test binary alone, in a child process with
/// `LOCKPROF_TRACE` set to a temporary path (removed afterwards), and fails unless it passed.
pub fn run_traced_in_child(name: &str) {
    let dir = std::env::temp_dir().join(format!("lockprof-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1"])
        .env("LOCKPROF_TRACE", dir.join("trace.json"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "traced run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "the traced run ran the test: {stdout}");
}
