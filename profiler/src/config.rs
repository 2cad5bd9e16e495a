//! Process-wide settings, read once from the environment the first time a thread touches a lock.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::policy::DeadlockPolicy;

/// What the environment asked lockprof to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// `LOCKPROF_TRACE`: where to write the trace; `None` writes nothing.
    pub trace_path: Option<PathBuf>,
    /// `LOCKPROF_ON_DEADLOCK`: what to do when a deadlock is found.
    pub on_deadlock: DeadlockPolicy,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// The configuration, read from the environment on first use.
pub fn config() -> &'static Config {
    CONFIG.get_or_init(|| Config {
        trace_path: std::env::var_os("LOCKPROF_TRACE").filter(|p| !p.is_empty()).map(PathBuf::from),
        on_deadlock: DeadlockPolicy::from_env(std::env::var("LOCKPROF_ON_DEADLOCK").ok().as_deref()),
    })
}
