//! The `lockprof` command, as a library: the binary (`src/main.rs`) only parses the command line
//! and calls into here, so every command can be run and tested without a process boundary.
//!
//! - [`commands::report`]: a trace as a person reads it, as a self-contained HTML page ([`html`],
//!   cycles drawn by [`ring`]), or as JSON for programs.
//! - [`commands::flamegraph`]: the contention profile's stacks as a flamegraph, or folded
//!   ([`profile`]).
//! - [`commands::diff`]: two traces of one program compared, lock by lock and as a differential
//!   flamegraph (vanished stacks drawn from BEFORE, root bars labelled: [`flame`]).
//! - [`commands::timeline`]: the waits and holds over time, as Chrome trace-event JSON.
//! - [`commands::graph`]: the lock-order graph and the deadlocks' wait-for cycles as Graphviz
//!   DOT ([`dot`], from the graphs of [`lock_graph`]).
//! - [`commands::pprof`]: the contention profile as a gzipped pprof profile ([`pprof`], encoded
//!   with [`protobuf`]).
//! - [`commands::check`]: a CI verdict over one or more traces, as text, JUnit XML, SARIF or
//!   GitHub Actions annotations ([`format`](mod@format)), with `--fail-on` and suppressions ([`suppress`],
//!   [`verdict`]).
//! - [`commands::merge`]: the traces of several processes as one.
//! - [`commands::run`]: runs a command with every process it starts writing its own trace, then
//!   merges and checks them; ends hangs after `--timeout`.
//! - [`demo`]: a bundled deadlock, caught, reported and checked.
//! - [`shorten`]: overlong lock names and paths cut for tables people read.
//! - [`usage`]: command-line usage errors as one line.
//! - [`synthetic`]: large generated traces (hidden subcommand) for the benchmark and tests.
//!
//! Traces are read with [`input::load`] (bounded: [`input`]), merged with
//! [`lockprof_trace::merge`], and what is wrong with them comes from
//! [`lockprof_analysis::findings`]: every output format renders those generic findings (kind,
//! rule id, title, sites) and knows nothing about particular kinds.
//!
//! Exit codes: [`Status::Success`] (0), [`Status::Findings`] (1), [`Error::EXIT_CODE`] (2) for
//! anything that stopped a command from giving an answer, and for `run` the command's own exit
//! code ([`Status::Command`]) or 124 after `--timeout` ([`Status::TimedOut`]).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod commands;
pub mod demo;
pub mod dot;
pub mod duration;
pub mod error;
pub mod flame;
pub mod format;
pub mod html;
pub mod input;
pub mod kinds;
pub mod lock_graph;
pub mod output;
pub mod pprof;
pub mod profile;
pub mod protobuf;
pub mod ring;
pub mod shorten;
pub mod suppress;
pub mod synthetic;
pub mod usage;
pub mod verdict;

pub use error::Error;

/// How a command that ran to completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing to report against: exit code 0.
    Success,
    /// `check` found failing findings: exit code 1.
    Findings,
    /// `run`: the command failed (this non-zero exit code, or 128 + the signal that killed it)
    /// and no check failed; its exit code is passed on.
    Command(u8),
    /// `run --timeout`: the command was still running at the deadline and was killed: exit code
    /// [`Status::TIMED_OUT`], as `timeout(1)`.
    TimedOut,
}

impl Status {
    /// The exit code of `lockprof run` when it killed the command at its `--timeout`.
    pub const TIMED_OUT: u8 = 124;

    /// The process exit code for this status.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Findings => 1,
            Status::Command(code) => code,
            Status::TimedOut => Status::TIMED_OUT,
        }
    }
}
