//! The text verdict: per trace a `FAIL`/`ok` line with a summary, then every finding (its title
//! and one line per site), then one total line.
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
//! Findings of kinds the check does not fail on are listed as `not failing:`, suppressed ones as
//! `suppressed:` with the rule's reason and where the rule is. Everything from the trace is
//! printed with control characters escaped, so a crafted trace cannot break lines.

use std::fmt::Write as _;
use std::io::{self, Write};

use lockprof_analysis::findings::Finding;

use crate::error::one_line;
use crate::verdict::{Disposition, Judgement, count_by_kind};

/// Writes the verdict of every judgement, then the total line.
pub fn write(judgements: &[Judgement], out: &mut dyn Write) -> io::Result<()> {
    for judgement in judgements {
        out.write_all(verdict(judgement).as_bytes())?;
    }
    out.write_all(total(judgements).as_bytes())
}

/// The verdict on one trace: `FAIL` or `ok`, its source and summary, and its findings.
pub fn verdict(judgement: &Judgement) -> String {
    let mut out = String::new();
    let mark = if judgement.failing() > 0 { "FAIL" } else { "ok  " };
    let _ = writeln!(out, "{mark} {} ({})", one_line(&judgement.source), summary(judgement));
    for judged in &judgement.findings {
        match &judged.disposition {
            Disposition::Fails => {
                let _ = writeln!(out, "  {}", one_line(&judged.finding.title));
                out.push_str(&sites(&judged.finding, "    "));
            }
            Disposition::NotFailing => {
                let _ = writeln!(out, "  not failing: {}", one_line(&judged.finding.title));
                out.push_str(&sites(&judged.finding, "    "));
            }
            Disposition::Suppressed(rule) => {
                let _ = writeln!(out, "  suppressed: {}", one_line(&judged.finding.title));
                let _ = writeln!(out, "    reason: {} ({})", one_line(&rule.reason), one_line(&rule.origin));
            }
        }
    }
    out
}

/// One line per site of `finding`: `<indent><role> at <file:line:column>`.
pub fn sites(finding: &Finding, indent: &str) -> String {
    let mut out = String::new();
    for site in &finding.sites {
        let _ = writeln!(out, "{indent}{} at {}", one_line(&site.role), one_line(&site.site.to_string()));
    }
    out
}

/// `1 finding: 1 deadlock`, `no findings`, or `no failing findings; 1 suppressed`.
pub fn summary(judgement: &Judgement) -> String {
    let failing: Vec<&Finding> = judgement
        .findings
        .iter()
        .filter(|j| j.disposition == Disposition::Fails)
        .map(|j| &j.finding)
        .collect();
    let mut summary = if !failing.is_empty() {
        format!("{} {}: {}", failing.len(), plural(failing.len(), "finding"), count_by_kind(failing))
    } else if judgement.findings.is_empty() {
        "no findings".to_owned()
    } else {
        "no failing findings".to_owned()
    };
    if judgement.suppressed() > 0 {
        let _ = write!(summary, "; {} suppressed", judgement.suppressed());
    }
    let not_failing: Vec<&Finding> = judgement
        .findings
        .iter()
        .filter(|j| j.disposition == Disposition::NotFailing)
        .map(|j| &j.finding)
        .collect();
    if !not_failing.is_empty() {
        let _ = write!(summary, "; {} not failing: {}", not_failing.len(), count_by_kind(not_failing));
    }
    summary
}

/// The total line over every trace checked.
pub fn total(judgements: &[Judgement]) -> String {
    let total = judgements.len();
    let traces = plural(total, "trace");
    let failed = judgements.iter().filter(|j| j.failing() > 0).count();
    let failing: usize = judgements.iter().map(Judgement::failing).sum();
    let suppressed: usize = judgements.iter().map(Judgement::suppressed).sum();
    let not_failing: usize = judgements.iter().map(Judgement::not_failing).sum();
    let mut others = Vec::new();
    if suppressed > 0 {
        others.push(format!("{suppressed} suppressed"));
    }
    if not_failing > 0 {
        others.push(format!("{not_failing} not failing"));
    }
    if failed > 0 {
        let others: String = others.iter().map(|o| format!(", {o}")).collect();
        format!(
            "lockprof check: failed: {failing} {} in {failed} of {total} {traces}{others} (`lockprof report TRACE` shows the stacks)\n",
            plural(failing, "finding")
        )
    } else if others.is_empty() {
        format!("lockprof check: passed: no findings in {total} {traces}\n")
    } else {
        format!("lockprof check: passed: no failing findings in {total} {traces} ({})\n", others.join(", "))
    }
}

/// `noun` or `nouns`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { noun.to_owned() } else { format!("{noun}s") }
}
