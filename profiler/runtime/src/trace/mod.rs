//! This process's trace: how the live registry becomes a [`lockprof_trace::schema::Trace`]
//! (`snapshot`) and when it is written (`writer`).

mod paths;
pub(crate) mod snapshot;
pub(crate) mod writer;

pub use writer::write_now;

/// A trace of everything this process has recorded so far (what would be written now), for
/// tests and for programs that inspect themselves.
///
/// ```
/// let trace = lockprof_profiler::trace::snapshot();
/// assert_eq!(trace.format, "lockprof-trace");
/// ```
pub fn snapshot() -> lockprof_trace::schema::Trace {
    snapshot::take(lockprof_trace::schema::WriteReason::Exit)
}
