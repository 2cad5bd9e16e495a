//! `lockprof check TRACE...`: a CI verdict. Fails (exit 1) when any trace has failing findings,
//! and says enough about each deadlock (its cycle and every acquisition site) for a CI log to be
//! actionable without the full report.
//!
//! ```text
//! FAIL fixtures/traces/abba.json (1 finding: 1 deadlock)
//!   deadlock 1: thread #2 "ba" → lock #2 "A" → thread #1 "ab" → lock #1 "B" → thread #2 "ba"
//!     thread #2 "ba" acquired lock #1 "B" at fixtures/src/bin/abba.rs:32:35, waits for lock #2 "A" at fixtures/src/bin/abba.rs:34:36
//!     thread #1 "ab" acquired lock #2 "A" at fixtures/src/bin/abba.rs:19:35, waits for lock #1 "B" at fixtures/src/bin/abba.rs:21:36
//! lockprof check: failed: 1 finding in 1 of 1 trace (`lockprof report TRACE` shows the stacks)
//! ```

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use lockprof_profiler::report;
use lockprof_profiler::trace::load::load;
use lockprof_profiler::trace::schema::{Deadlock, Trace};

use crate::{Error, Status};

/// Checks every trace in `paths` and writes one verdict per trace, then a total line.
///
/// All traces are read before anything is written, so an unreadable trace ends the command with
/// its error (and no partial verdict on stdout).
pub fn run(paths: &[PathBuf], out: &mut dyn Write) -> Result<Status, Error> {
    let traces =
        paths.iter().map(|path| load(path).map(|trace| (path, trace))).collect::<Result<Vec<_>, _>>()?;
    let mut failed = 0;
    let mut findings = 0;
    for (path, trace) in &traces {
        out.write_all(verdict(trace, &path.display().to_string()).as_bytes())?;
        if trace.failing_findings() > 0 {
            failed += 1;
            findings += trace.failing_findings();
        }
    }
    let total = traces.len();
    let traces_word = if total == 1 { "trace" } else { "traces" };
    if failed == 0 {
        writeln!(out, "lockprof check: passed: no findings in {total} {traces_word}")?;
        Ok(Status::Success)
    } else {
        let findings_word = if findings == 1 { "finding" } else { "findings" };
        writeln!(
            out,
            "lockprof check: failed: {findings} {findings_word} in {failed} of {total} {traces_word} (`lockprof report TRACE` shows the stacks)"
        )?;
        Ok(Status::Findings)
    }
}

/// The verdict on one trace: `ok` or `FAIL`, the source, the [`report::summary`], and for each
/// deadlock its cycle on one line and one line per thread with its acquisition sites.
pub fn verdict(trace: &Trace, source: &str) -> String {
    let mut out = String::new();
    let mark = if trace.failing_findings() > 0 { "FAIL" } else { "ok  " };
    let _ = writeln!(out, "{mark} {source} ({})", report::summary(trace));
    for (n, deadlock) in trace.deadlocks.iter().enumerate() {
        write_deadlock(trace, n + 1, deadlock, &mut out);
    }
    out
}

fn write_deadlock(trace: &Trace, n: usize, deadlock: &Deadlock, out: &mut String) {
    let _ = writeln!(out, "  deadlock {n}: {}", report::cycle_line(trace, deadlock));
    for hop in &deadlock.cycle {
        let _ = writeln!(
            out,
            "    {} acquired {} at {}, waits for {} at {}",
            report::thread_label(trace, hop.thread),
            report::lock_label(trace, hop.holds),
            hop.hold_site,
            report::lock_label(trace, hop.waits_for),
            hop.wait_site,
        );
    }
}

#[cfg(test)]
mod tests {
    use lockprof_profiler::trace::load::parse;

    use super::*;

    const SELF_DEADLOCK: &str = r#"{
        "format": "lockprof-trace", "version": 1,
        "process": {"pid": 1, "command": ["t"], "reason": "exit"},
        "locks": [{"id": 7, "kind": "mutex", "site": {"file": "src/a.rs", "line": 1, "column": 2}, "name": null}],
        "threads": [{"id": 3, "name": null}],
        "deadlocks": [{"detected_by": 3, "policy": "panic", "cycle": [{
            "thread": 3, "holds": 7, "hold_site": {"file": "src/a.rs", "line": 4, "column": 5},
            "waits_for": 7, "wait_site": {"file": "src/a.rs", "line": 6, "column": 7}, "stack": null}]}],
        "stacks": []
    }"#;

    #[test]
    fn a_self_deadlock_names_both_sites() {
        let trace = parse(SELF_DEADLOCK.as_bytes()).expect("valid test trace");
        assert_eq!(
            verdict(&trace, "t.json"),
            "FAIL t.json (1 finding: 1 deadlock)\n\
             \x20 deadlock 1: thread #3 → lock #7 → thread #3\n\
             \x20   thread #3 acquired lock #7 at src/a.rs:4:5, waits for lock #7 at src/a.rs:6:7\n"
        );
    }

    #[test]
    fn labels_match_the_report() {
        let mut trace = parse(SELF_DEADLOCK.as_bytes()).expect("valid test trace");
        trace.threads[0].name = Some("worker".into());
        trace.locks[0].name = Some("accounts".into());
        let report = report::render_deadlock(&trace, &trace.deadlocks[0]);
        let verdict = verdict(&trace, "t.json");
        let cycle = |text: &str, prefix: &str| {
            text.lines().find_map(|l| l.trim_start().strip_prefix(prefix).map(str::to_owned))
        };
        assert_eq!(cycle(&report, "cycle: "), cycle(&verdict, "deadlock 1: "));
    }
}
