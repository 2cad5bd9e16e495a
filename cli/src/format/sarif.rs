//! SARIF 2.1.0, the static-analysis results format that GitHub code scanning uploads
//! (`github/codeql-action/upload-sarif`) and many viewers read.
//!
//! One run of the tool `lockprof`, whose rules are every [`FindingKind`] (rule id, description,
//! default level); one result per finding, with its rule, a level (`error` if the check fails on
//! its kind, else `warning`), a message (the title, with links to the other sites), its first
//! site as its location and every other site as a related location, each with its role as the
//! message. Suppressed findings carry a `suppressions` entry with the rule's reason. Relative
//! paths are relative to `%SRCROOT%`, which for GitHub is the repository root: run lockprof from
//! there.

use std::fmt::Write as _;
use std::io::{self, Write};

use lockprof_analysis::findings::{FindingKind, FindingSite};
use serde_json::{Value, json};

use crate::verdict::{Disposition, Judgement, Policy};

/// The `$schema` of the log.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Writes the SARIF log, pretty-printed.
pub fn write(judgements: &[Judgement], policy: &Policy, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(judgements, policy))?;
    out.write_all(b"\n")
}

/// The SARIF log of `judgements`.
pub fn log(judgements: &[Judgement], policy: &Policy) -> Value {
    let rules: Vec<Value> = FindingKind::ALL.into_iter().map(rule).collect();
    let results: Vec<Value> = judgements
        .iter()
        .flat_map(|judgement| {
            judgement.findings.iter().map(move |judged| {
                let finding = &judged.finding;
                let kind = finding.kind;
                let level = match &judged.disposition {
                    Disposition::NotFailing => "warning",
                    Disposition::Fails => "error",
                    Disposition::Suppressed(_) if policy.fail_on.contains(&kind) => "error",
                    Disposition::Suppressed(_) => "warning",
                };
                let mut result = json!({
                    "ruleId": kind.rule_id(),
                    "ruleIndex": FindingKind::ALL.iter().position(|&k| k == kind).unwrap_or(0),
                    "level": level,
                    "message": { "text": message(&finding.title, &finding.sites) },
                    "properties": { "trace": judgement.source },
                });
                let located = match finding.sites.split_first() {
                    Some((first, others)) => {
                        result["relatedLocations"] = others
                            .iter()
                            .enumerate()
                            .map(|(i, site)| {
                                let mut location = location(site);
                                location["id"] = json!(i + 1);
                                location
                            })
                            .collect();
                        location(first)
                    }
                    // A finding without a site is located at the trace it comes from.
                    None => {
                        json!({ "physicalLocation": { "artifactLocation": artifact(&judgement.source) } })
                    }
                };
                result["locations"] = json!([located]);
                if let Disposition::Suppressed(rule) = &judged.disposition {
                    result["suppressions"] = json!([{
                        "kind": "external",
                        "status": "accepted",
                        "justification": format!("{} ({})", rule.reason, rule.origin),
                    }]);
                }
                result
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "lockprof",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "results": results,
        }],
    })
}

/// The reporting descriptor of `kind`.
fn rule(kind: FindingKind) -> Value {
    let name: String = kind
        .rule_id()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    json!({
        "id": kind.rule_id(),
        "name": name,
        "shortDescription": { "text": kind.description() },
        "fullDescription": { "text": kind.description() },
        "defaultConfiguration": { "level": if kind.fails_by_default() { "error" } else { "warning" } },
        "properties": { "tags": ["concurrency"] },
    })
}

/// The title, the first site's role, and links to the other sites (`[role](id)`, which viewers
/// turn into links to the related locations). Literal brackets and backslashes are escaped, as
/// SARIF plain-text messages require.
fn message(title: &str, sites: &[FindingSite]) -> String {
    let mut text = escape(title);
    if let Some((first, others)) = sites.split_first() {
        let _ = write!(text, " (here: {}", escape(&first.role));
        if !others.is_empty() {
            let links: Vec<String> =
                others.iter().enumerate().map(|(i, s)| format!("[{}]({})", escape(&s.role), i + 1)).collect();
            let _ = write!(text, "; see also {}", links.join(", "));
        }
        text.push(')');
    }
    text
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]")
}

/// A location at `site`, with its role as the message.
fn location(site: &FindingSite) -> Value {
    let mut physical = json!({ "artifactLocation": artifact(&site.site.file) });
    let mut region = serde_json::Map::new();
    if site.site.line >= 1 {
        region.insert("startLine".into(), json!(site.site.line));
        if site.site.column >= 1 {
            region.insert("startColumn".into(), json!(site.site.column));
        }
    }
    if !region.is_empty() {
        physical["region"] = Value::Object(region);
    }
    json!({ "physicalLocation": physical, "message": { "text": site.role } })
}

/// The artifact location of a file path: a relative URI against `%SRCROOT%`, or a `file:` URI
/// for an absolute path (a dependency outside the checkout).
fn artifact(path: &str) -> Value {
    let path = path.replace('\\', "/");
    if path.starts_with('/') {
        json!({ "uri": format!("file://{}", percent_encode(&path)) })
    } else {
        json!({ "uri": percent_encode(&path), "uriBaseId": "%SRCROOT%" })
    }
}

/// `path` with every byte outside the URI path characters percent-encoded (`:` too, which in the
/// first segment of a relative reference would read as a scheme).
///
/// ```
/// use lockprof_cli::format::sarif::percent_encode;
/// assert_eq!(percent_encode("src/my file#1.rs"), "src/my%20file%231.rs");
/// ```
pub fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
