//! `lockprof demo`: runs a bundled ABBA deadlock under lockprof in a child process (the program
//! `lockprof-demo` of the fixtures package, found beside this executable or built from this
//! source tree with cargo; see [`program`]), then shows the report and the check verdict of the
//! trace it left. The CLI itself links no part of lockprof's runtime.
//!
//! The child has [`TIME_LIMIT`] to end by itself; if lockprof failed to break the deadlock it
//! would hang, so it is killed then and the demo fails.

pub mod outcome;
pub mod program;

use outcome::Outcome;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use lockprof_analysis::report;
use lockprof_trace::load::load;

use crate::commands::check;
use crate::format::Format;
use crate::verdict::Policy;
use crate::{Error, Status};

/// How long the scenario may run before the demo gives up on it.
pub const TIME_LIMIT: Duration = Duration::from_secs(30);

/// Runs the demo, writing its story to `out`. Succeeds if the deadlock was caught, reported and
/// failed by `check` as expected; the error says which step did not happen otherwise.
pub fn run(out: &mut dyn Write) -> Result<Status, Error> {
    let exe = program::find_or_build()?;
    let trace = TempTrace::new();
    let path = trace.path();

    writeln!(
        out,
        "lockprof demo: two threads take locks \"A\" and \"B\" in opposite orders (an ABBA deadlock)."
    )?;
    writeln!(
        out,
        "Running it under lockprof with LOCKPROF_TRACE={} LOCKPROF_ON_DEADLOCK=panic ...",
        path.display()
    )?;
    out.flush()?;

    let status = run_scenario(&exe, path)?;
    match status.code().map(Outcome::from_code) {
        Some(Some(Outcome::Caught)) => {}
        Some(Some(outcome)) => {
            return Err(Error::Demo(format!("the scenario failed: {}", outcome.describe())));
        }
        _ => return Err(Error::Demo(format!("the scenario ended unexpectedly ({status})"))),
    }
    let recorded = load(path).map_err(|e| Error::Demo(format!("the scenario's trace is unusable: {e}")))?;
    if lockprof_analysis::failing_findings(&recorded) == 0 {
        return Err(Error::Demo(format!(
            "the scenario's trace {} records no deadlock, although a thread was stopped",
            path.display()
        )));
    }

    writeln!(out)?;
    writeln!(out, "$ lockprof report {}", path.display())?;
    out.write_all(report::render(&recorded, &path.display().to_string()).as_bytes())?;
    writeln!(out)?;
    writeln!(out, "$ lockprof check {}", path.display())?;
    // The demo's verdict is lockprof's defaults: no `lockprof.toml` of the current directory.
    let shown = path.display().to_string();
    let verdict = check::check(&[(shown.as_str(), &recorded)], &Policy::default(), Format::Text, out)?;
    if verdict != Status::Findings {
        return Err(Error::Demo("`lockprof check` passed a trace with a deadlock".into()));
    }
    writeln!(out, "(exit code {}: a CI job running this check fails)", verdict.exit_code())?;
    writeln!(out)?;
    writeln!(
        out,
        "What happened: \"ab\" held A and waited for B while \"ba\" held B and waited for A, so neither could go on."
    )?;
    writeln!(
        out,
        "lockprof found the cycle as it formed, wrote the trace, and panicked the thread that closed it: the program ended instead of hanging."
    )?;
    Ok(Status::Success)
}

/// Runs the scenario and waits for it, at most [`TIME_LIMIT`].
fn run_scenario(exe: &Path, trace: &Path) -> Result<ExitStatus, Error> {
    let mut child = Command::new(exe)
        .env("LOCKPROF_TRACE", trace)
        .env("LOCKPROF_ON_DEADLOCK", "panic")
        // The demo shows lockprof's defaults, whatever this shell's tuning.
        .env_remove("LOCKPROF_GRACE_US")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| Error::Demo(format!("cannot start the scenario ({}): {e}", exe.display())))?;
    let deadline = Instant::now() + TIME_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                stop(&mut child);
                return Err(Error::Demo(format!(
                    "the scenario was still running after {} s, so lockprof did not break the deadlock; killed it",
                    TIME_LIMIT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                stop(&mut child);
                return Err(Error::Demo(format!("cannot wait for the scenario: {e}")));
            }
        }
    }
}

fn stop(child: &mut Child) {
    // Errors mean it has already ended; either way it must not outlive the demo.
    let _ = child.kill();
    let _ = child.wait();
}

/// The trace file of this demo run, removed when the demo ends (however it ends).
struct TempTrace(PathBuf);

impl TempTrace {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("lockprof-demo-{}.json", std::process::id()));
        // A leftover from an earlier run with the same pid must not pass for this run's trace.
        let _ = std::fs::remove_file(&path);
        TempTrace(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempTrace {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
