//! From findings to a verdict: which findings fail the check (`--fail-on`), which are reported
//! without failing it, and which a suppression rule silences.
//!
//! Works on [`lockprof_analysis::findings`] only (kind, rule id, title, sites), so a new kind of
//! finding needs no change here.

use std::collections::BTreeSet;

use lockprof_analysis::findings::{Finding, FindingKind, findings};
use lockprof_trace::schema::Trace;

use crate::suppress::{Rule, Suppressions};

/// Short names accepted besides the rule ids, as `(alias, rule id)`.
const ALIASES: [(&str, &str); 1] = [("potential", "potential-deadlock")];

/// The kind named `name`: a rule id (`deadlock`, `potential-deadlock`, ...) or a short alias
/// (`potential`). The error lists what this build knows.
///
/// ```
/// use lockprof_cli::verdict::parse_kind;
/// use lockprof_analysis::findings::FindingKind;
/// assert_eq!(parse_kind("deadlock"), Ok(FindingKind::Deadlock));
/// assert!(parse_kind("deadlocks").is_err());
/// ```
pub fn parse_kind(name: &str) -> Result<FindingKind, String> {
    let name = name.trim();
    let rule_id = ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, id)| id);
    FindingKind::ALL
        .into_iter()
        .find(|kind| kind.rule_id() == rule_id)
        .ok_or_else(|| format!("unknown finding kind {name:?} (known: {})", known_kinds()))
}

/// The kinds this build knows, with their aliases: `deadlock, potential-deadlock (or
/// potential), ...`.
pub fn known_kinds() -> String {
    FindingKind::ALL
        .into_iter()
        .map(|kind| {
            let aliases: Vec<&str> =
                ALIASES.iter().filter(|(_, id)| *id == kind.rule_id()).map(|(alias, _)| *alias).collect();
            if aliases.is_empty() {
                kind.rule_id().to_owned()
            } else {
                format!("{} (or {})", kind.rule_id(), aliases.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_by_its_rule_id() {
        for kind in FindingKind::ALL {
            assert_eq!(parse_kind(kind.rule_id()), Ok(kind));
        }
    }

    #[test]
    fn unknown_kinds_list_the_known_ones() {
        let error = parse_kind("livelock").unwrap_err();
        assert!(error.contains("deadlock"), "{error}");
    }

    #[test]
    fn aliases_name_known_kinds() {
        for (alias, id) in ALIASES {
            if let Ok(kind) = parse_kind(id) {
                assert_eq!(parse_kind(alias), Ok(kind));
            }
        }
    }
}
