//! The trace file format, version 1. One definition, used by the writer in the profiled process
//! and by the CLI that reads it. Documented for users in the README ("The trace format").
//!
//! Compatibility rule: within a version, fields are only ever added, and readers ignore fields
//! they do not know; a change that an older reader would misread bumps [`TRACE_VERSION`].

use std::fmt;

use crate::access::Access;
use crate::lock_kind::LockKind;
use crate::policy::DeadlockPolicy;

/// The value of the top-level `"format"` field.
pub const TRACE_FORMAT: &str = "lockprof-trace";
/// The version this build writes, and the newest it reads.
pub const TRACE_VERSION: u32 = 1;

/// A whole trace file.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Trace {
    /// Always [`TRACE_FORMAT`].
    pub format: String,
    /// [`TRACE_VERSION`] of the writer.
    pub version: u32,
    /// The process that wrote it.
    pub process: Process,
    /// Locks that took part in a wait or a finding, by id.
    pub locks: Vec<LockEntry>,
    /// Threads that took part in a wait or a finding, by id.
    pub threads: Vec<ThreadEntry>,
    /// Actual deadlocks found, in the order they were found.
    pub deadlocks: Vec<Deadlock>,
    /// The lock-order graph: one edge per pair of locks taken one while holding the other.
    #[cfg_attr(feature = "read", serde(default))]
    pub lock_order: Vec<OrderEdge>,
    /// Edges not recorded because the graph reached its size limit.
    #[cfg_attr(feature = "read", serde(default))]
    pub lock_order_dropped: u64,
    /// Waits longer than `LOCKPROF_WATCHDOG_MS`, in the order the watchdog found them.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub long_waits: Vec<LongWait>,
    /// Waits on a condition variable while holding another lock ("sleeping while holding").
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub condvar_waits_while_holding: Vec<CondvarWaitWhileHolding>,
    /// tokio tasks that kept a std (or parking_lot) lockprof guard across an `.await`.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub awaits_holding_lock: Vec<AwaitHoldingLock>,
    /// The contention profile, when it was kept (a trace was being written).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Option::is_none"))]
    pub contention: Option<Contention>,
    /// Wait and contended-hold spans for `lockprof timeline`, when contention was profiled.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Option::is_none"))]
    pub timeline: Option<Timeline>,
    /// Symbolised stacks referenced by id from the rest of the trace.
    pub stacks: Vec<Stack>,
}

/// The writing process.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Process {
    /// Operating-system process id.
    pub pid: u32,
    /// Command line, program first.
    pub command: Vec<String>,
    /// Why this copy of the trace was written.
    pub reason: WriteReason,
    /// Blocked acquisitions that were checked for deadlock (those that outlasted the grace
    /// period).
    #[cfg_attr(feature = "read", serde(default))]
    pub wait_episodes: u64,
}

/// When a trace is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "read", serde(rename_all = "snake_case"))]
pub enum WriteReason {
    /// At process exit (return from `main` or `std::process::exit`).
    Exit,
    /// The moment a deadlock was found, before the policy applied.
    Deadlock,
    /// By the watchdog, when it recorded a new long wait (the process was still running).
    Watchdog,
}

/// A source location, as `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Site {
    /// Path as the compiler saw it (relative to the workspace for workspace crates).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Site {
    /// The site of a `#[track_caller]` location.
    pub fn from_location(location: &std::panic::Location<'_>) -> Self {
        Site { file: location.file().to_owned(), line: location.line(), column: location.column() }
    }
}

impl Site {
    /// A placeholder for a lock missing from a trace (malformed input).
    pub fn unknown(lock: u64) -> Self {
        Site { file: format!("<unknown lock {lock}>"), line: 0, column: 0 }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A lock, identified by its creation site and optional name.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct LockEntry {
    /// Id, unique within the trace.
    pub id: u64,
    /// Which primitive it is.
    pub kind: LockKind,
    /// Where it was created.
    pub site: Site,
    /// The name it was given, if any.
    pub name: Option<String>,
    /// Reader-writer locks: whether anyone ever took it for writing (a read that can only wait
    /// for writers never waits on a lock nobody writes). Absent: not known to be written.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "is_false"))]
    pub written: bool,
    /// When it was dropped, on the clock of [`OrderEdge::seq`] (absent: alive at the end, or
    /// not known). Kept for dropped locks on a lock-order cycle.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Option::is_none"))]
    pub dropped: Option<u64>,
    /// Semaphores: how many permits it has in all (absent: unknown, or it was used as a signal
    /// with `add_permits`).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Option::is_none"))]
    pub capacity: Option<u32>,
}

/// The bit of a [`ThreadEntry`] id that marks a tokio task rather than a thread (the owners and
/// waiters of async locks are tasks); such an entry is named `task N`, N being tokio's task id.
/// Merging keeps the bit.
pub const TASK_BIT: u64 = 1 << 48;

/// A thread (or, with [`TASK_BIT`] in its id, a tokio task).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct ThreadEntry {
    /// lockprof's id (not the OS thread id), unique within the trace.
    pub id: u64,
    /// `std::thread` name, if it had one.
    pub name: Option<String>,
}

/// An actual deadlock: a cycle of threads, each waiting for a lock the next one holds.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Deadlock {
    /// The thread whose wait closed the cycle (with `background`, the thread whose long wait
    /// the re-check started from).
    pub detected_by: u64,
    /// Found by the background re-check of long waits: the cycle's last edge formed inside a
    /// wait already under way (a queued writer taking the writer mark, say).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "is_false"))]
    pub background: bool,
    /// Found by the all-asleep rule: every live thread of the process was in an untimed wait
    /// that only another of them could end (a lock, a condition variable, a channel, a join, a
    /// barrier, an initialisation). `cycle` then lists every thread, each with what it waits
    /// for and, where it blocks another thread's lock wait, what it holds (else `holds` is the
    /// object it waits for, `hold_site` its wait site).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "is_false"))]
    pub all_asleep: bool,
    /// The policy applied after it was found.
    pub policy: DeadlockPolicy,
    /// The threads in wait order, starting with `detected_by`: thread `i` waits for the lock that
    /// thread `i + 1` holds (or is queued for), and the last waits for the first's.
    pub cycle: Vec<CycleHop>,
    /// Further threads deadlocked with the cycle's (a semaphore knot: every permit holder
    /// blocked), each with the lock through which it blocks another member.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub knot: Vec<CycleHop>,
}

/// One thread of a deadlock cycle.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct CycleHop {
    /// The thread.
    pub thread: u64,
    /// The lock it holds that the previous thread of the cycle waits for (or, with `queued`, the
    /// lock it is queued for ahead of that thread).
    pub holds: u64,
    /// Where it acquired `holds` (exact, even on the fast path), or with `queued` where it waits.
    pub hold_site: Site,
    /// How it holds `holds` (absent: exclusively).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Access::is_exclusive"))]
    pub hold_access: Access,
    /// Semaphores: how many permits of `holds` it holds.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "is_zero"))]
    pub hold_permits: u32,
    /// It blocks the previous thread not as a holder but as a writer queued for `holds`, which
    /// the lock serves before that thread's read.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "is_false"))]
    pub queued: bool,
    /// The lock it waits for.
    pub waits_for: u64,
    /// How it wants `waits_for` (absent: exclusively).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Access::is_exclusive"))]
    pub wait_access: Access,
    /// Semaphores: how many permits it waits for.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "is_zero"))]
    pub wait_permits: u32,
    /// Where it waits for `waits_for`.
    pub wait_site: Site,
    /// Its stack while waiting (an id in `stacks`); the frame that holds `holds` is on it unless
    /// the guard was returned out of the function that took it.
    pub stack: Option<u32>,
}

#[cfg(feature = "read")]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(feature = "read")]
fn is_false(b: &bool) -> bool {
    !*b
}

/// A lock-order edge: some thread acquired `to` (blocking) while holding `from`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct OrderEdge {
    /// The lock held.
    pub from: u64,
    /// The lock acquired while holding it.
    pub to: u64,
    /// Where `from` was acquired, in the first occurrence.
    pub from_site: Site,
    /// Where `to` was acquired, in the first occurrence.
    pub to_site: Site,
    /// The strongest access in which `from` was held over all occurrences (absent: exclusive).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Access::is_exclusive"))]
    pub from_access: Access,
    /// The strongest access in which `to` was acquired over all occurrences.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Access::is_exclusive"))]
    pub to_access: Access,
    /// The thread of the first occurrence.
    pub thread: u64,
    /// That thread's stack when it acquired `to` (an id in `stacks`).
    pub stack: Option<u32>,
    /// Locks (besides `from`) held on every occurrence: if every edge of a cycle shares one,
    /// the cycle cannot deadlock.
    #[cfg_attr(feature = "read", serde(default))]
    pub gates: Vec<u64>,
    /// How many distinct threads took this edge.
    pub threads: u64,
    /// The first occurrence of each way the edge was taken (how `from` was held, how `to` was
    /// taken, with or without a timeout), first occurrence first. Absent in older traces: then
    /// the edge's own fields are its one mode.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub modes: Vec<OrderMode>,
    /// Semaphores held on every occurrence, with the fewest permits held of each.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub permit_gates: Vec<PermitGate>,
    /// When the edge was first taken: a sequence number shared with [`LockEntry::dropped`]
    /// within one process (merged traces keep each input's numbers in a range of their own).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Option::is_none"))]
    pub seq: Option<u64>,
}

/// One way a lock-order edge was taken, at its first occurrence.
///
/// ```
/// use lockprof_trace::Access;
/// use lockprof_trace::schema::{OrderMode, Site};
/// let m = OrderMode {
///     from_access: Access::Shared,
///     to_access: Access::Exclusive,
///     timed: false,
///     from_site: Site { file: "src/a.rs".into(), line: 3, column: 9 },
///     to_site: Site { file: "src/a.rs".into(), line: 4, column: 9 },
///     thread: 1,
///     stack: None,
/// };
/// assert!(!m.timed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct OrderMode {
    /// How `from` was held.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Access::is_exclusive"))]
    pub from_access: Access,
    /// How `to` was taken.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Access::is_exclusive"))]
    pub to_access: Access,
    /// Whether `to` was taken with a timeout (`try_lock_for`): such a wait ends by itself.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "is_false"))]
    pub timed: bool,
    /// Where `from` was acquired.
    pub from_site: Site,
    /// Where `to` was acquired.
    pub to_site: Site,
    /// The thread.
    pub thread: u64,
    /// Its stack when it acquired `to` (an id in `stacks`).
    pub stack: Option<u32>,
}

/// A semaphore held on every occurrence of an edge.
///
/// ```
/// let g = lockprof_trace::schema::PermitGate { semaphore: 3, permits: 1 };
/// assert_eq!(g.permits, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct PermitGate {
    /// The semaphore's lock id.
    pub semaphore: u64,
    /// The fewest permits of it held on an occurrence.
    pub permits: u32,
}

/// A wait that outlasted the watchdog's threshold.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct LongWait {
    /// The waiting thread.
    pub thread: u64,
    /// The lock (or condition variable) it waited for.
    pub lock: u64,
    /// How it wanted the lock.
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "Access::is_exclusive"))]
    pub access: Access,
    /// Where it waited.
    pub wait_site: Site,
    /// How long it had waited when the watchdog saw it (at least this long in all).
    pub waited_ms: u64,
    /// Its stack while waiting.
    pub stack: Option<u32>,
    /// The thread holding the lock (exclusively) then, if any.
    pub holder: Option<u64>,
    /// Where the holder acquired it.
    pub holder_site: Option<Site>,
    /// The holder's stack, if it was itself waiting.
    pub holder_stack: Option<u32>,
    /// The holder's thread had exited, still holding the lock (its guard was leaked): the lock
    /// is abandoned, no thread will ever release it. Optional: `false` when absent (traces of
    /// earlier versions).
    #[cfg_attr(feature = "read", serde(default, skip_serializing_if = "std::ops::Not::not"))]
    pub holder_exited: bool,
}

/// A thread waited on a condition variable while holding another lock.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct CondvarWaitWhileHolding {
    /// The thread.
    pub thread: u64,
    /// The condition variable.
    pub condvar: u64,
    /// Where it waited.
    pub wait_site: Site,
    /// The lock it held meanwhile.
    pub held: u64,
    /// Where it had acquired that lock.
    pub held_site: Site,
}

/// A tokio task kept a std (or parking_lot) lockprof guard while another task (or the thread,
/// outside any task) made a lockprof call on the same thread: which it can only do once the
/// first task has yielded at an `.await`, or while the first task is blocked inside its poll
/// in `block_in_place` under a runtime that runs other tasks on that thread.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct AwaitHoldingLock {
    /// The task holding the guard (an entry of `threads`, named `task N`).
    pub task: u64,
    /// The lock it held.
    pub lock: u64,
    /// Where the task acquired it.
    pub held_site: Site,
    /// The task (or thread) that ran on the same thread meanwhile.
    pub observer: u64,
    /// Where the observer's lockprof call was.
    pub observed_site: Site,
}

/// The contention profile.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Contention {
    /// `LOCKPROF_SAMPLE`: one in this many brief waits had its stack captured (waits long
    /// enough to be checked for deadlock always do). Per-lock figures are exact.
    pub sample: u64,
    /// Per-lock figures, for every lock with at least one acquisition.
    pub locks: Vec<LockContention>,
    /// Waiting stacks per lock: how often and how long threads waited there.
    pub waiters: Vec<StackContention>,
    /// Holding stacks per lock: where holders released a lock others were waiting for, and how
    /// long they had kept them waiting (the holder's blame).
    pub holders: Vec<StackContention>,
    /// Stacks not kept because a table reached its size limit.
    #[cfg_attr(feature = "read", serde(default))]
    pub dropped_stacks: u64,
}

/// One lock's contention figures.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct LockContention {
    /// The lock.
    pub lock: u64,
    /// Every acquisition.
    pub acquisitions: u64,
    /// Acquisitions that had to wait.
    pub contended: u64,
    /// Total wait, in nanoseconds.
    pub wait_ns: u64,
    /// Longest wait, in nanoseconds.
    pub max_wait_ns: u64,
    /// Time holders kept the lock while someone waited for it, in nanoseconds.
    pub hold_ns: u64,
}

/// One stack's figures on one lock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct StackContention {
    /// The lock.
    pub lock: u64,
    /// The stack (an id in `stacks`).
    pub stack: u32,
    /// How many waits (or contended holds) it accounts for.
    pub count: u64,
    /// Their total duration, in nanoseconds.
    pub ns: u64,
}

/// Timeline spans, kept in a bounded ring per thread.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Timeline {
    /// Spans, by start time.
    pub spans: Vec<TimelineSpan>,
    /// Spans dropped because a thread's ring was full (the oldest go first).
    pub dropped: u64,
}

/// A span of a thread on a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct TimelineSpan {
    /// The thread.
    pub thread: u64,
    /// The lock.
    pub lock: u64,
    /// Waiting for the lock, or holding it while another waited.
    pub kind: SpanKind,
    /// Start and end, in nanoseconds since the profiler's clock started.
    pub start_ns: u64,
    /// End of the span.
    pub end_ns: u64,
}

/// What a timeline span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "read", serde(rename_all = "snake_case"))]
pub enum SpanKind {
    /// The thread waited for the lock.
    Wait,
    /// The thread held the lock while another waited for it.
    Hold,
}

/// A symbolised stack, innermost frame first, with lockprof's own frames and the runtime's
/// start-up frames removed.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Stack {
    /// Id, unique within the trace.
    pub id: u32,
    /// Frames, innermost first.
    pub frames: Vec<Frame>,
}

/// One frame of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
pub struct Frame {
    /// Demangled function name without hash, or `??` when unknown.
    pub function: String,
    /// Source file, relative to the same base as the sites (the directory cargo compiled in)
    /// where it lies below it.
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
}

impl Trace {
    /// An empty trace written by this process now.
    pub fn empty(reason: WriteReason) -> Self {
        Trace {
            format: TRACE_FORMAT.to_owned(),
            version: TRACE_VERSION,
            process: Process {
                pid: std::process::id(),
                command: std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect(),
                reason,
                wait_episodes: 0,
            },
            locks: Vec::new(),
            threads: Vec::new(),
            deadlocks: Vec::new(),
            lock_order: Vec::new(),
            lock_order_dropped: 0,
            long_waits: Vec::new(),
            condvar_waits_while_holding: Vec::new(),
            awaits_holding_lock: Vec::new(),
            contention: None,
            timeline: None,
            stacks: Vec::new(),
        }
    }

    /// The lock with this id.
    pub fn lock(&self, id: u64) -> Option<&LockEntry> {
        self.locks.iter().find(|l| l.id == id)
    }

    /// The thread with this id.
    pub fn thread(&self, id: u64) -> Option<&ThreadEntry> {
        self.threads.iter().find(|t| t.id == id)
    }

    /// The stack with this id.
    pub fn stack(&self, id: u32) -> Option<&Stack> {
        self.stacks.iter().find(|s| s.id == id)
    }
}
