//! Process-wide settings, read once from the environment the first time a thread touches a lock.
//!
//! That first touch is inside a user's lock call, so a setting that is not understood is
//! reported through [`crate::diag`] (never panics, never blocks), once.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lockprof_trace::DeadlockPolicy;

/// What the environment asked lockprof to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// `LOCKPROF_TRACE`: where to write the trace; `None` writes nothing. As given: a `%p` in
    /// it stands for the process id, and [`Config::trace_file`] replaces it when the trace is
    /// written, so that every process of a test run (which all inherit the same environment),
    /// and a child made by `fork` (which inherits this configuration), writes its own file.
    pub trace_path: Option<PathBuf>,
    /// `LOCKPROF_ON_DEADLOCK`: what to do when a deadlock is found.
    pub on_deadlock: DeadlockPolicy,
    /// `LOCKPROF_ON_INVERSION`: what to do when an acquisition closes a lock-order cycle.
    pub on_inversion: InversionPolicy,
    /// `LOCKPROF_GRACE_US`: how long a blocked acquisition waits on the raw lock before it is
    /// checked for deadlock (default [`GRACE`]; `0` checks every blocked acquisition).
    pub grace: Duration,
    /// `LOCKPROF_WATCHDOG_MS`: record a long-wait finding for any lock or condvar wait longer
    /// than this (off when unset).
    pub watchdog: Option<Duration>,
    /// `LOCKPROF_SAMPLE=N`: capture the stack of one in N brief contended waits (default 1).
    pub sample: u64,
    /// `LOCKPROF_RECHECK_MS=N`: re-check waits older than this for deadlocks in the background
    /// (default 100 ms; 0 turns it off).
    pub recheck: Option<Duration>,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// The configuration, read from the environment on first use.
pub fn config() -> &'static Config {
    CONFIG.get_or_init(|| Config {
        trace_path: std::env::var_os("LOCKPROF_TRACE").filter(|p| !p.is_empty()).map(PathBuf::from),
        on_deadlock: DeadlockPolicy::parse(std::env::var("LOCKPROF_ON_DEADLOCK").ok().as_deref())
            .unwrap_or_else(|(policy, warning)| {
                crate::diag::say(&warning);
                policy
            }),
        on_inversion: InversionPolicy::from_env(std::env::var("LOCKPROF_ON_INVERSION").ok().as_deref()),
        grace: grace_from_env(std::env::var("LOCKPROF_GRACE_US").ok().as_deref()),
        watchdog: watchdog_from_env(std::env::var("LOCKPROF_WATCHDOG_MS").ok().as_deref()),
        recheck: match std::env::var("LOCKPROF_RECHECK_MS").ok().map(|v| v.trim().parse::<u64>()) {
            None => Some(Duration::from_millis(100)),
            Some(Ok(0)) => None,
            Some(Ok(ms)) => Some(Duration::from_millis(ms)),
            Some(Err(_)) => {
                crate::diag::say(
                    "lockprof: LOCKPROF_RECHECK_MS is not a whole number of milliseconds; using 100",
                );
                Some(Duration::from_millis(100))
            }
        },
        sample: std::env::var("LOCKPROF_SAMPLE").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1).max(1),
    })
}

impl Config {
    /// The file the trace goes to now: [`Config::trace_path`] with `%p` replaced by the id of
    /// the process that is writing (read at each call, so a forked child names its own file).
    ///
    /// ```
    /// let config = lockprof_profiler::Config {
    ///     trace_path: Some("trace-%p.json".into()),
    ///     ..lockprof_profiler::config().clone()
    /// };
    /// let file = config.trace_file().unwrap();
    /// assert_eq!(file, std::path::Path::new(&format!("trace-{}.json", std::process::id())));
    /// ```
    pub fn trace_file(&self) -> Option<PathBuf> {
        let path = self.trace_path.as_ref()?;
        Some(expand_pid(&path.to_string_lossy(), std::process::id()))
    }
}

/// Replaces every `%p` in `path` with `pid`.
fn expand_pid(path: &str, pid: u32) -> PathBuf {
    PathBuf::from(path.replace("%p", &pid.to_string()))
}

/// Parses `LOCKPROF_WATCHDOG_MS` (milliseconds, > 0); unset or invalid means off.
fn watchdog_from_env(value: Option<&str>) -> Option<Duration> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    match v.parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => {
            crate::diag::say(&format!(
                "lockprof: LOCKPROF_WATCHDOG_MS={v:?} is not a positive number of milliseconds; watchdog off"
            ));
            None
        }
    }
}

/// Parses `LOCKPROF_GRACE_US` (microseconds); unset or invalid means [`GRACE`].
fn grace_from_env(value: Option<&str>) -> Duration {
    match value.map(str::trim) {
        None | Some("") => GRACE,
        Some(v) => v.parse().map(Duration::from_micros).unwrap_or_else(|_| {
            crate::diag::say(&format!(
                "lockprof: LOCKPROF_GRACE_US={v:?} is not a whole number of microseconds; using the default"
            ));
            GRACE
        }),
    }
}

/// How long a blocked acquisition waits on the raw lock before it becomes a wait episode, unless
/// `LOCKPROF_GRACE_US` says otherwise.
/// Short enough that a deadlock is reported within a fraction of a millisecond, long enough that
/// ordinary brief contention never pays for stack capture or graph exploration.
pub const GRACE: Duration = Duration::from_micros(50);

/// What to do when an acquisition closes a lock-order cycle (`LOCKPROF_ON_INVERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InversionPolicy {
    /// Record it; the trace's analysis reports it (the default).
    Record,
    /// Panic at the acquisition that closes the cycle, as tracing-mutex does.
    Panic,
}

impl InversionPolicy {
    /// Parses `LOCKPROF_ON_INVERSION`; unset or unknown values mean [`InversionPolicy::Record`].
    ///
    /// ```
    /// use lockprof_profiler::InversionPolicy;
    /// assert_eq!(InversionPolicy::from_env(Some("panic")), InversionPolicy::Panic);
    /// assert_eq!(InversionPolicy::from_env(None), InversionPolicy::Record);
    /// ```
    pub fn from_env(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("panic") => InversionPolicy::Panic,
            None | Some("") | Some("record") => InversionPolicy::Record,
            Some(other) => {
                crate::diag::say(&format!(
                    "lockprof: LOCKPROF_ON_INVERSION={other:?} is not one of record, panic; using record"
                ));
                InversionPolicy::Record
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_p_in_the_trace_path_becomes_the_pid() {
        assert_eq!(expand_pid("out/trace-%p.json", 42), PathBuf::from("out/trace-42.json"));
        assert_eq!(expand_pid("plain.json", 42), PathBuf::from("plain.json"));
    }

    #[test]
    fn watchdog_is_off_unless_a_positive_number() {
        assert_eq!(watchdog_from_env(Some("250")), Some(Duration::from_millis(250)));
        assert_eq!(watchdog_from_env(None), None);
        assert_eq!(watchdog_from_env(Some("0")), None);
        assert_eq!(watchdog_from_env(Some("x")), None);
    }

    #[test]
    fn grace_is_read_in_microseconds_and_defaults_when_invalid() {
        assert_eq!(grace_from_env(Some("0")), Duration::ZERO);
        assert_eq!(grace_from_env(Some("250")), Duration::from_micros(250));
        assert_eq!(grace_from_env(None), GRACE);
        assert_eq!(grace_from_env(Some("soon")), GRACE);
    }
}
