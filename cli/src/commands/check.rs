//! `lockprof check TRACE... [--format text|junit|sarif|github] [--fail-on KIND]... [--suppress
//! FILE]`: a CI verdict. Fails (exit 1) when any trace has a finding of a kind it fails on
//! (default: the kinds that fail by default) that no suppression rule silences, and says enough
//! about each finding (its title and every site) for a CI log to be actionable without the full
//! report.
//!
//! ```text
//! FAIL fixtures/traces/abba.json (1 finding: 1 deadlock)
//!   deadlock: thread #1 "ab" → lock #2 "B" → thread #2 "ba" → lock #1 "A" → thread #1 "ab"
//!     thread #1 "ab" waits for lock #2 "B" at fixtures/src/bin/abba.rs:21:36
//!     thread #1 "ab" acquired lock #1 "A" at fixtures/src/bin/abba.rs:19:35
//!     thread #2 "ba" waits for lock #1 "A" at fixtures/src/bin/abba.rs:34:36
//!     thread #2 "ba" acquired lock #2 "B" at fixtures/src/bin/abba.rs:32:35
//! lockprof check: failed: 1 finding in 1 of 1 trace (`lockprof report TRACE` shows the stacks)
//! ```
//!
//! The other formats are in [`crate::format`]; suppressions in [`crate::suppress`].

use std::io::Write;
use std::path::PathBuf;

use lockprof_analysis::findings::FindingKind;
use lockprof_trace::schema::Trace;

use crate::format::{self, Format};
use crate::input::load;
use crate::suppress::Suppressions;
use crate::verdict::{Judgement, Policy, default_fail_on, judge};
use crate::{Error, Status};

/// The options of a check, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The output format.
    pub format: Format,
    /// The kinds that fail the check; empty means the default ([`default_fail_on`]).
    pub fail_on: Vec<FindingKind>,
    /// `--suppress FILE`; without it, `lockprof.toml` in the current directory if present.
    pub suppress: Option<PathBuf>,
}

impl CheckOptions {
    /// The policy these options stand for; reads the suppression file.
    pub fn policy(&self) -> Result<Policy, Error> {
        let fail_on =
            if self.fail_on.is_empty() { default_fail_on() } else { self.fail_on.iter().copied().collect() };
        Ok(Policy { fail_on, suppressions: Suppressions::load(self.suppress.as_deref())? })
    }
}

/// Checks every trace in `paths` and writes the verdict in the chosen format.
///
/// The suppression file and all traces are read before anything is written, so a bad one ends
/// the command with its error (and no partial verdict on stdout).
pub fn run(paths: &[PathBuf], options: &CheckOptions, out: &mut dyn Write) -> Result<Status, Error> {
    let policy = options.policy()?;
    let traces = paths
        .iter()
        .map(|path| load(path).map(|trace| (path.display().to_string(), trace)))
        .collect::<Result<Vec<_>, _>>()?;
    let traces: Vec<(&str, &Trace)> = traces.iter().map(|(source, trace)| (source.as_str(), trace)).collect();
    check(&traces, &policy, options.format, out)
}

/// Checks `traces`, each with the name it has in the output, under `policy`, and writes the
/// verdict in `format`. Shared by `check` and `run --check`.
pub fn check(
    traces: &[(&str, &Trace)],
    policy: &Policy,
    format: Format,
    out: &mut dyn Write,
) -> Result<Status, Error> {
    let judgements: Vec<Judgement> =
        traces.iter().map(|(source, trace)| judge(trace, source, policy)).collect();
    format::write(format, &judgements, policy, out)?;
    Ok(status(&judgements))
}

/// [`Status::Findings`] if any finding fails the check, else [`Status::Success`].
pub fn status(judgements: &[Judgement]) -> Status {
    if judgements.iter().any(|j| j.failing() > 0) { Status::Findings } else { Status::Success }
}

#[cfg(test)]
mod tests {
    use lockprof_analysis::report;
    use lockprof_trace::load::parse;

    use super::*;
    use crate::format::text::verdict;

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

    fn judged(trace: &Trace, policy: &Policy) -> Judgement {
        judge(trace, "t.json", policy)
    }

    #[test]
    fn a_self_deadlock_names_both_sites() {
        let trace = parse(SELF_DEADLOCK.as_bytes()).expect("valid test trace");
        assert_eq!(
            verdict(&judged(&trace, &Policy::default())),
            "FAIL t.json (1 finding: 1 deadlock)\n\
             \x20 deadlock: thread #3 → lock #7 → thread #3\n\
             \x20   thread #3 waits for lock #7 at src/a.rs:6:7\n\
             \x20   thread #3 acquired lock #7 at src/a.rs:4:5\n"
        );
    }

    #[test]
    fn labels_match_the_report() {
        let mut trace = parse(SELF_DEADLOCK.as_bytes()).expect("valid test trace");
        trace.threads[0].name = Some("worker".into());
        trace.locks[0].name = Some("accounts".into());
        let report = report::render_deadlock(&trace, &trace.deadlocks[0]);
        let verdict = verdict(&judged(&trace, &Policy::default()));
        let cycle = |text: &str, prefix: &str| {
            text.lines().find_map(|l| l.trim_start().strip_prefix(prefix).map(str::to_owned))
        };
        assert_eq!(cycle(&report, "cycle: "), cycle(&verdict, "deadlock: "));
    }

    #[test]
    fn the_default_summary_is_the_reports() {
        let trace = parse(SELF_DEADLOCK.as_bytes()).expect("valid test trace");
        let first =
            verdict(&judged(&trace, &Policy::default())).lines().next().unwrap_or_default().to_owned();
        assert!(first.ends_with(&format!("({})", report::summary(&trace))), "{first}");
    }

    #[test]
    fn kinds_outside_fail_on_are_reported_not_failed() {
        let trace = parse(SELF_DEADLOCK.as_bytes()).expect("valid test trace");
        let policy = Policy { fail_on: Default::default(), ..Policy::default() };
        let judgement = judged(&trace, &policy);
        assert_eq!(status(std::slice::from_ref(&judgement)), Status::Success);
        let text = verdict(&judgement);
        assert!(text.starts_with("ok   t.json (no failing findings; 1 not failing: 1 deadlock)\n"), "{text}");
        assert!(text.contains("  not failing: deadlock: "), "{text}");
    }

    #[test]
    fn suppressed_findings_show_their_reason() {
        let trace = parse(SELF_DEADLOCK.as_bytes()).expect("valid test trace");
        let suppressions = Suppressions::parse(
            "[[suppress]]\nrule = \"deadlock\"\nsite = \"src/a.rs:6\"\nreason = \"known\"\n",
            "lockprof.toml",
        )
        .expect("valid");
        let policy = Policy { suppressions, ..Policy::default() };
        let judgement = judged(&trace, &policy);
        assert_eq!(status(std::slice::from_ref(&judgement)), Status::Success);
        assert_eq!(
            verdict(&judgement),
            "ok   t.json (no failing findings; 1 suppressed)\n\
             \x20 suppressed: deadlock: thread #3 → lock #7 → thread #3\n\
             \x20   reason: known (lockprof.toml:1)\n"
        );
        assert_eq!(
            crate::format::text::total(&[judgement]),
            "lockprof check: passed: no failing findings in 1 trace (1 suppressed)\n"
        );
    }
}
