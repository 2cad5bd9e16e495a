//! This process's trace: how the live registry becomes a [`lockprof_trace::schema::Trace`]
//! (`snapshot`) and when it is written (`writer`).

mod paths;
pub(crate) mod snapshot;
pub(crate) mod writer;

pub use writer::{install_exit_hook, write_now};

/// A trace of everything this process has recorded so far (what would be written now), for
/// tests and for programs that inspect themselves.
///
/// Without `LOCKPROF_TRACE`, locks register lazily (`lock_state.rs`): a lock that an order edge
/// starts from is named in the trace from its release on (the edge itself is there at once).
///
/// ```
/// let trace = lockprof_profiler::trace::snapshot();
/// assert_eq!(trace.format, "lockprof-trace");
/// ```
pub fn snapshot() -> lockprof_trace::schema::Trace {
    snapshot::take(lockprof_trace::schema::WriteReason::Exit)
}
