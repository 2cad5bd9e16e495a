//! lockprof's trace model, the lowest of its three layers: the trace [`schema`], how a trace file
//! is [`write`]n and [`load`]ed, and how traces of several processes [`merge`] into one.
//!
//! The layers import in one direction: this crate imports neither of the others;
//! `lockprof-analysis` (findings, potential deadlocks, the text report) reads traces through it;
//! `lockprof-profiler` (the runtime linked into profiled programs) builds and writes them through
//! it. The `lockprof` CLI uses this crate and the analysis, never the runtime.
//!
//! ```
//! let trace = lockprof_trace::load::parse(br#"{"format": "lockprof-trace", "version": 1}"#)
//!     .expect("a minimal trace");
//! assert!(trace.locks.is_empty());
//! ```

#![warn(missing_docs)]

pub mod access;
pub mod load;
pub mod lock_kind;
pub mod merge;
pub mod policy;
pub mod schema;
pub mod write;

pub use access::Access;
pub use lock_kind::LockKind;
pub use policy::DeadlockPolicy;
