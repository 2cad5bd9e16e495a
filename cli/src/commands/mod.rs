//! The subcommands.

pub mod check;
pub mod diff;
pub mod flamegraph;
pub mod graph;
pub mod merge;
pub mod pprof;
pub mod report;
pub mod run;
pub mod timeline;
