//! lockprof's trace model, the lowest of its three layers: the trace [`schema`], how a trace file
//! is [`write`]n and [`load`]ed (through [`input`], which bounds what a read costs), and how traces of several processes [`merge`] into one.
//!
//! The layers import in one direction: this crate imports neither of the others;
//! `lockprof-analysis` (findings, potential deadlocks, the text report) reads traces through it;
//! `lockprof-profiler` (the runtime linked into profiled programs) builds and writes them through
//! it. The `lockprof` CLI uses this crate and the analysis, never the runtime.
//!
//! Features: without any, this crate has no dependencies: the schema types and their
//! [`json_writer`], which is all a profiled program links. `read` adds what readers need: serde's
//! `Serialize` and `Deserialize` on the schema types and the [`load`]er (serde_json). It is kept
//! out of profiled programs because serde_json's trait impls on std types change the user's type
//! inference.
//!
//! ```
//! use lockprof_trace::schema::{Trace, WriteReason};
//! let trace = Trace::empty(WriteReason::Exit);
//! let json = lockprof_trace::json_writer::to_vec(&trace);
//! # #[cfg(feature = "read")] {
//! let read = lockprof_trace::load::parse(&json).expect("and reads back");
//! assert!(read.locks.is_empty() && read.format == "lockprof-trace");
//! # }
//! ```

#![warn(missing_docs)]

pub mod access;
pub mod input;
pub mod json_writer;
#[cfg(feature = "read")]
pub mod load;
pub mod lock_kind;
pub mod merge;
pub mod policy;
pub mod schema;
pub mod write;

pub use access::Access;
pub use lock_kind::LockKind;
pub use policy::DeadlockPolicy;
