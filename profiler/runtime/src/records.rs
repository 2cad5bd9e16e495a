//! What this process has found and counted so far, kept until the trace is written: wait
//! episodes, deadlocks, long waits and warnings. The modules that find them write here; the
//! trace snapshot reads here.

use std::backtrace::Backtrace;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use lockprof_trace::{Access, DeadlockPolicy};

use crate::wait_for_graph::Member;

static EPISODES: AtomicU64 = AtomicU64::new(0);

/// How many wait episodes this process has run: blocked acquisitions that outlasted
/// [`GRACE`](crate::config::GRACE) and so were checked for deadlock. Tests use it to show the
/// detector actually ran.
pub fn wait_episodes() -> u64 {
    EPISODES.load(Ordering::Relaxed)
}

/// Counts one wait episode.
pub(crate) fn count_episode() {
    EPISODES.fetch_add(1, Ordering::Relaxed);
}

/// A deadlock as kept in memory until the trace is written.
#[derive(Clone)]
pub(crate) struct Found {
    /// The episodes it consists of (see [`FoundDeadlock::key`]).
    pub key: Vec<(u64, u64)>,
    pub detected_by: u64,
    /// Found by the background re-check (`crate::watchdog`), not by a thread starting to wait.
    pub background: bool,
    /// Found by the all-asleep rule: every thread of the process waits (`crate::all_asleep`).
    pub all_asleep: bool,
    pub policy: DeadlockPolicy,
    pub cycle: Vec<Arc<Member>>,
    pub knot: Vec<Arc<Member>>,
}

pub(crate) fn found_so_far() -> &'static Mutex<Vec<Found>> {
    static FOUND: OnceLock<Mutex<Vec<Found>>> = OnceLock::new();
    FOUND.get_or_init(Mutex::default)
}

/// How many distinct deadlocks this process has found.
///
/// ```
/// assert_eq!(lockprof_profiler::deadlocks_found(), 0);
/// ```
pub fn deadlocks_found() -> usize {
    found_so_far().lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// How many long waits (`LOCKPROF_WATCHDOG_MS`) the watchdog has recorded in this process.
///
/// ```
/// assert_eq!(lockprof_profiler::long_waits_found(), 0);
/// ```
pub fn long_waits_found() -> usize {
    long_waits().lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// One wait that outlasted the threshold.
#[derive(Clone)]
pub(crate) struct LongWait {
    pub thread: u64,
    pub lock: u64,
    pub access: Access,
    pub wait_at: &'static Location<'static>,
    pub waited: Duration,
    pub stack: Arc<Backtrace>,
    pub holder: Option<(u64, &'static Location<'static>, Option<Arc<Backtrace>>)>,
    /// The holder's thread had exited, still holding the lock: the lock is abandoned.
    pub holder_exited: bool,
}

/// At most this many long waits are kept.
pub(crate) const MAX_LONG_WAITS: usize = 1_000;

pub(crate) fn long_waits() -> &'static Mutex<Vec<LongWait>> {
    static LONG: OnceLock<Mutex<Vec<LongWait>>> = OnceLock::new();
    LONG.get_or_init(Mutex::default)
}

/// One warning, kept until the trace is written. Each distinct pair of sites is kept once.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct CondvarWhileHolding {
    pub condvar: u64,
    pub wait_at: &'static Location<'static>,
    pub held: u64,
    pub held_at: &'static Location<'static>,
    pub thread: u64,
}

/// A tokio task kept a std (or parking_lot) lockprof guard across a yield: another node
/// (`observer`) made a lockprof call on the same thread while the task still held it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AwaitHoldingLock {
    /// The task that holds the guard (a task node).
    pub task: u64,
    pub lock: u64,
    /// Where the task took the guard.
    pub held_at: &'static Location<'static>,
    /// The task (or the thread, outside any task) that ran on the thread meanwhile.
    pub observer: u64,
    /// Where the observer's lockprof call was.
    pub observed_at: &'static Location<'static>,
}

/// The `.await`-holding-lock warnings, each distinct pair of sites once (at most
/// [`MAX_WARNINGS`]).
pub(crate) fn await_warnings() -> &'static Mutex<Vec<AwaitHoldingLock>> {
    static WARNINGS: OnceLock<Mutex<Vec<AwaitHoldingLock>>> = OnceLock::new();
    WARNINGS.get_or_init(Mutex::default)
}

/// At most this many distinct warnings are kept.
pub(crate) const MAX_WARNINGS: usize = 1_000;

pub(crate) fn warnings() -> &'static Mutex<Vec<CondvarWhileHolding>> {
    static WARNINGS: OnceLock<Mutex<Vec<CondvarWhileHolding>>> = OnceLock::new();
    WARNINGS.get_or_init(Mutex::default)
}
