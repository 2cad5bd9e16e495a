//! The output formats of a check. Each renders [`Judgement`]s, that is generic findings (kind,
//! rule id, title, sites) with what the check made of them, and knows nothing about particular
//! kinds of findings.
//!
//! - [`text`]: for people and CI logs (the default).
//! - [`junit`]: JUnit XML, which CI systems show as test results.
//! - [`sarif`]: SARIF 2.1.0, for GitHub code scanning and other static-analysis viewers.
//! - [`github`]: GitHub Actions workflow commands, which show as annotations on the code.

pub mod github;
pub mod junit;
pub mod sarif;
pub mod text;

use std::io::{self, Write};

use crate::verdict::{Judgement, Policy};

/// An output format of `lockprof check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A verdict per trace and a total line, for people and CI logs.
    #[default]
    Text,
    /// A JUnit XML report: one testcase per kind of finding, a `<failure>` per finding.
    Junit,
    /// A SARIF 2.1.0 log: one result per finding, located at its sites.
    Sarif,
    /// GitHub Actions workflow commands: one `::error` annotation per failing finding.
    Github,
}

/// Writes `judgements` (made under `policy`) in `format`.
pub fn write(
    format: Format,
    judgements: &[Judgement],
    policy: &Policy,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write(judgements, out),
        Format::Junit => junit::write(judgements, policy, out),
        Format::Sarif => sarif::write(judgements, policy, out),
        Format::Github => github::write(judgements, out),
    }
}
