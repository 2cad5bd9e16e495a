//! The `lockprof` command, as a library: the binary (`src/main.rs`) only parses the command line
//! and calls into here, so every command can be run and tested without a process boundary.
//!
//! - [`commands::report`]: a trace as a person reads it.
//! - [`commands::check`]: a CI verdict over one or more traces.
//! - [`demo`]: a bundled deadlock, caught, reported and checked.
//!
//! Traces are read with [`lockprof_profiler::trace::load::load`] and rendered with
//! [`lockprof_profiler::report`]: the CLI has no trace types or report wording of its own.
//!
//! Exit codes: [`Status::Success`] (0), [`Status::Findings`] (1), and [`Error::EXIT_CODE`] (2)
//! for anything that stopped a command from giving an answer.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod commands;
pub mod demo;
pub mod error;
pub mod output;

pub use error::Error;

/// How a command that ran to completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing to report against: exit code 0.
    Success,
    /// `check` found failing findings: exit code 1.
    Findings,
}

impl Status {
    /// The process exit code for this status.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Findings => 1,
        }
    }
}
