//! The trace: its schema, how the live registry becomes one, how it is written, and how it is
//! read back.

pub mod load;
pub mod merge;
pub mod schema;
pub(crate) mod snapshot;
pub(crate) mod writer;

pub use writer::{write_atomically, write_now};

/// A trace of everything this process has recorded so far (what would be written now), for
/// tests and for programs that inspect themselves.
///
/// ```
/// let trace = lockprof_profiler::trace::snapshot();
/// assert_eq!(trace.format, "lockprof-trace");
/// ```
pub fn snapshot() -> schema::Trace {
    snapshot::take(schema::WriteReason::Exit)
}
