//! The subcommands.

pub mod check;
pub mod merge;
pub mod report;
pub mod run;
