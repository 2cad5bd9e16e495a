//! GitHub Actions workflow commands: each failing finding becomes an `::error` annotation at its
//! first site (shown on the pull request's diff and the run's summary), each finding of a kind
//! the check does not fail on a `::warning`; suppressed findings are plain log lines. The text
//! total line ends the output.
//!
//! ```text
//! ::error file=fixtures/src/bin/abba.rs,line=21,col=36,title=lockprof deadlock::deadlock: thread #1 "ab" → …%0Athread #1 "ab" waits for lock #2 "B" at fixtures/src/bin/abba.rs:21:36%0A…
//! ```
//!
//! Escaping follows the runner's rules: in the message `%`, `\r` and `\n`; in properties also
//! `:` and `,`.

use std::fmt::Write as _;
use std::io::{self, Write};

use lockprof_analysis::findings::Finding;

use crate::error::one_line;
use crate::format::text;
use crate::verdict::{Disposition, Judgement};

/// Writes one workflow command (or log line) per finding, then the total line.
pub fn write(judgements: &[Judgement], out: &mut dyn Write) -> io::Result<()> {
    let mut lines = String::new();
    for judgement in judgements {
        for judged in &judgement.findings {
            let finding = &judged.finding;
            match &judged.disposition {
                Disposition::Fails => lines.push_str(&command("error", finding)),
                Disposition::NotFailing => lines.push_str(&command("warning", finding)),
                Disposition::Suppressed(rule) => {
                    let _ = writeln!(
                        lines,
                        "lockprof: suppressed ({}, {}): {}",
                        one_line(&rule.reason),
                        one_line(&rule.origin),
                        one_line(&finding.title)
                    );
                }
            }
        }
    }
    lines.push_str(&text::total(judgements));
    out.write_all(lines.as_bytes())
}

/// `::LEVEL file=…,line=…,col=…,title=…::MESSAGE` for `finding`, located at its first site.
pub fn command(level: &str, finding: &Finding) -> String {
    let mut properties = Vec::new();
    if let Some(first) = finding.sites.first() {
        properties.push(format!("file={}", escape_property(&first.site.file)));
        if first.site.line >= 1 {
            properties.push(format!("line={}", first.site.line));
            if first.site.column >= 1 {
                properties.push(format!("col={}", first.site.column));
            }
        }
    }
    properties.push(format!("title={}", escape_property(&format!("lockprof {}", finding.kind.rule_id()))));
    let message = format!("{}\n{}", finding.title, text::sites(finding, ""));
    format!("::{level} {}::{}\n", properties.join(","), escape_data(message.trim_end()))
}

/// A command's message: `%`, `\r`, `\n` escaped.
///
/// ```
/// use lockprof_cli::format::github::escape_data;
/// assert_eq!(escape_data("100%\r\nok"), "100%25%0D%0Aok");
/// ```
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A command's property value: as [`escape_data`], and `:` and `,`.
///
/// ```
/// use lockprof_cli::format::github::escape_property;
/// assert_eq!(escape_property("C:/a,b.rs"), "C%3A/a%2Cb.rs");
/// ```
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
