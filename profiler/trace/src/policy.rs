//! What happens once a deadlock has been found and the trace written (`LOCKPROF_ON_DEADLOCK`).

/// The deadlock policy.
///
/// ```
/// use lockprof_trace::DeadlockPolicy;
/// assert_eq!(DeadlockPolicy::from_env(Some("abort")), DeadlockPolicy::Abort);
/// assert_eq!(DeadlockPolicy::from_env(None), DeadlockPolicy::Panic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "read", serde(rename_all = "lowercase"))]
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
        Self::parse(value).unwrap_or_else(|(policy, warning)| {
            eprintln!("{warning}");
            policy
        })
    }

    /// [`DeadlockPolicy::from_env`] without printing: an unknown value gives the policy used
    /// instead and the warning to show, for callers that print it their own way (the runtime,
    /// which must not panic inside a lock call when stderr is closed).
    ///
    /// ```
    /// use lockprof_trace::DeadlockPolicy;
    /// assert_eq!(DeadlockPolicy::parse(Some("report")), Ok(DeadlockPolicy::Report));
    /// assert_eq!(DeadlockPolicy::parse(Some("x")).unwrap_err().0, DeadlockPolicy::Panic);
    /// ```
    pub fn parse(value: Option<&str>) -> Result<Self, (Self, String)> {
        match value.map(str::trim) {
            None | Some("") | Some("panic") => Ok(DeadlockPolicy::Panic),
            Some("abort") => Ok(DeadlockPolicy::Abort),
            Some("report") => Ok(DeadlockPolicy::Report),
            Some(other) => Err((
                DeadlockPolicy::Panic,
                format!(
                    "lockprof: LOCKPROF_ON_DEADLOCK={other:?} is not one of panic, abort, report; using panic"
                ),
            )),
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
