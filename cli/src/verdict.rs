//! From findings to a verdict: which findings fail the check (`--fail-on`), which are reported
//! without failing it, and which a suppression rule silences.
//!
//! Works on [`lockprof_analysis::findings`] only (kind, rule id, title, sites), so a new kind of
//! finding needs no change here.

use std::collections::BTreeSet;

use lockprof_analysis::findings::{Finding, FindingKind, findings};
use lockprof_trace::schema::Trace;

use crate::suppress::{Rule, Suppressions};

/// What fails a check and what is silenced.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Kinds whose findings fail the check; findings of other kinds are reported, not failed on.
    pub fail_on: BTreeSet<FindingKind>,
    /// Known findings that are reported as suppressed instead.
    pub suppressions: Suppressions,
}

impl Default for Policy {
    /// Fails on the kinds that fail by default, suppresses nothing.
    fn default() -> Self {
        Policy { fail_on: default_fail_on(), suppressions: Suppressions::default() }
    }
}

/// The kinds whose [`FindingKind::fails_by_default`] is true.
pub fn default_fail_on() -> BTreeSet<FindingKind> {
    FindingKind::ALL.into_iter().filter(|kind| kind.fails_by_default()).collect()
}

/// What a check makes of one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// It fails the check.
    Fails,
    /// Its kind is not one the check fails on: reported only.
    NotFailing,
    /// A suppression rule matches it: reported as suppressed, with the rule's reason.
    Suppressed(Rule),
}

/// A finding and what the check makes of it.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The finding.
    pub finding: Finding,
    /// Whether it fails, is only reported, or is suppressed.
    pub disposition: Disposition,
}

/// The check of one trace.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// How the trace is named in the output (its path).
    pub source: String,
    /// Every finding of the trace, in the order [`findings`] gives them.
    pub findings: Vec<Judged>,
}

impl Judgement {
    /// The findings with this disposition.
    fn count(&self, keep: impl Fn(&Disposition) -> bool) -> usize {
        self.findings.iter().filter(|j| keep(&j.disposition)).count()
    }

    /// How many findings fail the check.
    pub fn failing(&self) -> usize {
        self.count(|d| *d == Disposition::Fails)
    }

    /// How many are reported without failing it.
    pub fn not_failing(&self) -> usize {
        self.count(|d| *d == Disposition::NotFailing)
    }

    /// How many are suppressed.
    pub fn suppressed(&self) -> usize {
        self.count(|d| matches!(d, Disposition::Suppressed(_)))
    }
}

/// Checks `trace` (named `source` in the output) against `policy`.
pub fn judge(trace: &Trace, source: &str, policy: &Policy) -> Judgement {
    let findings = findings(trace)
        .into_iter()
        .map(|finding| {
            let disposition = match policy.suppressions.find(trace, &finding) {
                Some(rule) => Disposition::Suppressed(rule.clone()),
                None if policy.fail_on.contains(&finding.kind) => Disposition::Fails,
                None => Disposition::NotFailing,
            };
            Judged { finding, disposition }
        })
        .collect();
    Judgement { source: source.to_owned(), findings }
}

/// `1 deadlock, 2 potential-deadlock`: how many of `findings` there are of each kind, in
/// [`FindingKind::ALL`] order (the form of [`lockprof_analysis::report::summary`]).
pub fn count_by_kind<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> String {
    let kinds: Vec<FindingKind> = findings.into_iter().map(|f| f.kind).collect();
    FindingKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let n = kinds.iter().filter(|&&k| k == kind).count();
            (n > 0).then(|| format!("{n} {}", kind.rule_id()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
