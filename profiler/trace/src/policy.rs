//! What happens once a deadlock has been found and the trace written (`LOCKPROF_ON_DEADLOCK`).

use serde::{Deserialize, Serialize};

/// The deadlock policy.
///
/// ```
/// use lockprof_trace::DeadlockPolicy;
/// assert_eq!(DeadlockPolicy::from_env(Some("abort")), DeadlockPolicy::Abort);
/// assert_eq!(DeadlockPolicy::from_env(None), DeadlockPolicy::Panic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadlockPolicy {
    /// The thread whose wait closed the cycle panics with the report (the default), so a test
    /// fails instead of hanging. Its guards unwind, which poisons the locks it held.
    Panic,
    /// Print the report to stderr and abort the process.
    Abort,
    /// Print the report to stderr and keep waiting (for production, where a dump is wanted but
    /// the process must not be killed by the profiler).
    Report,
}

impl DeadlockPolicy {
    /// Parses the value of `LOCKPROF_ON_DEADLOCK`; unset or unknown values mean [`Panic`].
    /// An unknown value is reported once on stderr rather than silently ignored.
    ///
    /// [`Panic`]: DeadlockPolicy::Panic
    pub fn from_env(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            None | Some("") | Some("panic") => DeadlockPolicy::Panic,
            Some("abort") => DeadlockPolicy::Abort,
            Some("report") => DeadlockPolicy::Report,
            Some(other) => {
                eprintln!(
                    "lockprof: LOCKPROF_ON_DEADLOCK={other:?} is not one of panic, abort, report; using panic"
                );
                DeadlockPolicy::Panic
            }
        }
    }

    /// The name used in the environment variable and in the trace.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlockPolicy::Panic => "panic",
            DeadlockPolicy::Abort => "abort",
            DeadlockPolicy::Report => "report",
        }
    }
}
