//! The subcommands that read traces.

pub mod check;
pub mod report;
