//! JUnit XML: what CI systems (GitLab, Jenkins, Azure Pipelines, test-report actions) show as
//! test results.
//!
//! One `<testsuite>` per trace, in one `<testsuites>`. In each, one `<testcase name="RULE-ID">`
//! per kind of finding the check fails on, with a `<failure>` per failing finding of that kind
//! (its title as the message, its sites as the text); kinds the check does not fail on are
//! `<skipped>` testcases. Findings that are not failed on, or suppressed, are listed in the
//! testcase's `<system-out>`, suppressed ones with their reason.
//!
//! ```xml
//! <testsuite name="fixtures/traces/abba.json" tests="2" failures="1" errors="0" skipped="1">
//!   <testcase classname="lockprof" name="deadlock">
//!     <failure type="deadlock" message="deadlock: thread #1 &quot;ab&quot; → …">…</failure>
//!   </testcase>
//!   …
//! ```

use std::fmt::Write as _;
use std::io::{self, Write};

use lockprof_analysis::findings::FindingKind;

use crate::format::text;
use crate::verdict::{Disposition, Judgement, Policy};

/// The `classname` of every testcase.
const CLASS: &str = "lockprof";

/// Writes the JUnit XML document.
pub fn write(judgements: &[Judgement], policy: &Policy, out: &mut dyn Write) -> io::Result<()> {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for judgement in judgements {
        let suite = testsuite(judgement, policy);
        tests += suite.tests;
        failures += suite.failures;
        skipped += suite.skipped;
        suites.push_str(&suite.xml);
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"lockprof check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">"
    );
    xml.push_str(&suites);
    xml.push_str("</testsuites>\n");
    out.write_all(xml.as_bytes())
}

struct Suite {
    xml: String,
    tests: usize,
    failures: usize,
    skipped: usize,
}

fn testsuite(judgement: &Judgement, policy: &Policy) -> Suite {
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for kind in FindingKind::ALL {
        let checked = policy.fail_on.contains(&kind);
        let of_kind: Vec<_> = judgement.findings.iter().filter(|j| j.finding.kind == kind).collect();
        let mut body = String::new();
        if !checked {
            skipped += 1;
            let _ = writeln!(
                body,
                "      <skipped message=\"{}\"/>",
                escape(&format!("{} findings do not fail this check (see --fail-on)", kind.rule_id()))
            );
        }
        let mut failed = false;
        let mut system_out = String::new();
        for judged in of_kind {
            let title = &judged.finding.title;
            let details = format!("{title}\n{}", text::sites(&judged.finding, "  "));
            match &judged.disposition {
                Disposition::Fails => {
                    failed = true;
                    let _ = writeln!(
                        body,
                        "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                        escape(kind.rule_id()),
                        escape(title),
                        escape_text(&details)
                    );
                }
                Disposition::NotFailing => {
                    let _ = write!(system_out, "not failing: {details}");
                }
                Disposition::Suppressed(rule) => {
                    let _ = writeln!(
                        system_out,
                        "suppressed: {title}\n  reason: {} ({})",
                        rule.reason, rule.origin
                    );
                }
            }
        }
        if failed {
            failures += 1;
        }
        if !system_out.is_empty() {
            let _ = writeln!(body, "      <system-out>{}</system-out>", escape_text(&system_out));
        }
        let name = escape(kind.rule_id());
        if body.is_empty() {
            let _ = writeln!(cases, "    <testcase classname=\"{CLASS}\" name=\"{name}\"/>");
        } else {
            let _ = write!(
                cases,
                "    <testcase classname=\"{CLASS}\" name=\"{name}\">\n{body}    </testcase>\n"
            );
        }
    }
    let tests = FindingKind::ALL.len();
    let mut xml = String::new();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        escape(&judgement.source)
    );
    xml.push_str(&cases);
    xml.push_str("  </testsuite>\n");
    Suite { xml, tests, failures, skipped }
}

/// `text` as XML 1.0 character data between tags: as [`escape`], but line breaks and tabs
/// stay as they are.
///
/// ```
/// use lockprof_cli::format::junit::escape_text;
/// assert_eq!(escape_text("a < b\n\"c\"\r"), "a &lt; b\n\"c\"&#13;");
/// ```
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' | '"' | '\'' => out.push(c),
            c => out.push_str(&escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

/// `text` as XML 1.0 character data that is also valid in an attribute value: markup
/// characters and quotes as entities, line breaks and tabs as character references (which
/// attribute normalisation would otherwise turn into spaces), and the characters XML 1.0 cannot
/// hold at all (other control characters, U+FFFE, U+FFFF) as a visible `\u{..}`.
///
/// ```
/// use lockprof_cli::format::junit::escape;
/// assert_eq!(escape("a<b & \"c\"\n"), "a&lt;b &amp; &quot;c&quot;&#10;");
/// assert_eq!(escape("bell\u{7}"), "bell\\u{7}");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}
