//! lockprof's analysis layer: everything that reads a trace to judge or describe it. The
//! [`findings`] (one shape for every output format), the [`potential_deadlocks`] found in the
//! lock-order graph, and the text [`report`].
//!
//! It imports only the trace model (`lockprof-trace`); the runtime (`lockprof-profiler`) uses it
//! to render a deadlock's message, and the CLI to report and check.
//!
//! ```
//! use lockprof_trace::schema::{Trace, WriteReason};
//! let trace = Trace::empty(WriteReason::Exit);
//! assert!(lockprof_analysis::findings::findings(&trace).is_empty());
//! ```

#![warn(missing_docs)]

pub mod digraph;
pub mod findings;
pub mod order_rules;
pub mod potential_deadlocks;
pub mod report;

/// How many findings of `trace` fail a check by default (see [`findings`]).
///
/// ```
/// let trace = lockprof_trace::schema::Trace::empty(lockprof_trace::schema::WriteReason::Exit);
/// assert_eq!(lockprof_analysis::failing_findings(&trace), 0);
/// ```
pub fn failing_findings(trace: &lockprof_trace::schema::Trace) -> usize {
    findings::findings(trace).iter().filter(|f| f.kind.fails_by_default()).count()
}
