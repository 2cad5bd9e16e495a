//! The thread half of the registry: a cheap id for every thread that touches a lock, and, for
//! threads that have ever waited, a record that says what they are waiting for right now.
//!
//! The id lives in the fast-path state ([`crate::local`]). Ids are never reused: a lock still
//! "owned" by a thread that exited while holding it can never be mistaken for a lock owned by a
//! newer thread.
//!
//! A [`ThreadRecord`] is created on a thread's first wait (never on the fast path). Its
//! [`WaitSlot`] is the thread's outgoing edge in the wait-for graph; see
//! [`crate::wait_for_graph`] for the protocol that reads it.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sharded_map::ShardedMap;

use std::time::Instant;

use crate::lock_state::LockState;
use lockprof_trace::Access;

thread_local! {
    static RECORD: RefCell<Option<RecordHandle>> = const { RefCell::new(None) };
    static IN_PROFILER: Cell<bool> = const { Cell::new(false) };
}

/// One wait episode: the lock a thread is blocked on, published while it waits.
pub(crate) struct Waiting {
    /// The lock waited for. Only dereferenced while the record's mutex is held: the waiting
    /// thread must take that mutex to end its episode, and it cannot return from the lock call
    /// (which borrows the lock) before, so the lock outlives every such dereference.
    pub lock: *const LockState,
    pub lock_id: u64,
    /// The access wanted, and for semaphores how many permits.
    pub access: Access,
    pub permits: u32,
    /// A wait that can end without acquiring (a timeout, a condition variable): published for
    /// the watchdog, never part of a deadlock.
    pub timed: bool,
    pub at: &'static Location<'static>,
    pub stack: Arc<Backtrace>,
    pub since: Instant,
    /// What the thread holds. Exact for the whole episode: a waiting thread acquires and
    /// releases nothing.
    pub held: Arc<[HeldCopy]>,
    /// Reader-writer locks: the probe of the raw lock's writer mark. Called, like `lock` is
    /// dereferenced, only with the slot's mutex held.
    pub writer_mark: Option<crate::raw_lock::WriterMark>,
    /// Async locks: the wait's place in the lock's FIFO queue, as tickets drawn before it was
    /// queued and after (see [`crate::tasks`]).
    pub fifo: Option<(u64, u64)>,
    /// Async locks: the lock's shared holders and moved flag. Read, like `lock`, only with the
    /// slot's mutex held.
    pub async_holders: Option<*const crate::async_holders::AsyncHolders>,
}

/// A lock a waiting thread holds, as published with its wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeldCopy {
    pub lock: u64,
    pub access: Access,
    pub permits: u32,
    pub at: &'static Location<'static>,
}

impl HeldCopy {
    /// The calling thread's held locks, as a wait publishes them.
    pub(crate) fn of_current_thread() -> Arc<[HeldCopy]> {
        crate::local::with(|l| {
            l.held()
                .map(|h| HeldCopy { lock: h.lock(), access: h.access(), permits: h.permits(), at: h.at })
                .collect()
        })
    }
}

/// A thread's outgoing wait-for edge, with a sequence number that changes on every episode start
/// and end (so a reader can tell "the same wait" from "a later wait on the same lock").
#[derive(Default)]
pub(crate) struct WaitSlot {
    pub seq: u64,
    pub waiting: Option<Waiting>,
    /// Set with `waiting` for a *signal wait* (a condition variable, a channel, a barrier: see
    /// `crate::waits::signal`), cleared with it.
    pub signal: Option<SignalWait>,
    /// Set with `waiting` for an async wait: how to wake the node, and the report its acquire
    /// future must panic with (see `crate::process_asleep`).
    pub wake: Option<AsyncWake>,
}

/// An async wait's waker, and the deadlock report set when the node is to panic out of it.
pub(crate) struct AsyncWake {
    pub waker: std::task::Waker,
    pub condemned: Option<String>,
}

/// How many async waits have been condemned (see [`ThreadRecord::condemn`]): while none has, an
/// acquire future's re-poll reads no slot.
static CONDEMNED: AtomicUsize = AtomicUsize::new(0);

/// Whether any async wait has been condemned in this process.
pub(crate) fn any_condemned() -> bool {
    // Set before the wake that makes the condemned node poll again, so that poll sees it.
    CONDEMNED.load(Ordering::Relaxed) != 0
}

/// What a signal wait publishes besides its [`Waiting`]: the object's progress counter, its value
/// when the wait began, and for a barrier its arrivals and party count. The pointers are read, as
/// `Waiting::lock` is dereferenced, only with the slot's mutex held, while the waiting thread is
/// still inside the call that borrows the object.
pub(crate) struct SignalWait {
    pub progress: *const AtomicU64,
    pub seen: u64,
    pub quorum: Option<(*const AtomicU64, u64)>,
    /// A channel's side: 1 a receive, 2 a send, 0 anything else.
    pub side: u8,
}

impl SignalWait {
    /// Whether nothing that could end this wait has happened since it began: the counter has not
    /// moved and, for a barrier, fewer than its parties are inside it (see `crate::all_asleep`).
    ///
    /// # Safety
    /// Only with the slot's mutex held (the object is then alive, see above).
    pub unsafe fn still_asleep(&self) -> bool {
        // SAFETY: the caller holds the slot's mutex, so the waiter is still in the call that
        // borrows the object the pointers point into.
        let progress = unsafe { &*self.progress }.load(Ordering::SeqCst);
        if progress != self.seen {
            return false;
        }
        match self.quorum {
            None => true,
            Some((arrivals, parties)) => {
                // SAFETY: as above.
                let arrived = unsafe { &*arrivals }.load(Ordering::SeqCst);
                arrived.saturating_sub(progress) < parties
            }
        }
    }
}

/// Everything the detector may read about another thread.
pub(crate) struct ThreadRecord {
    pub id: u64,
    /// The operating system's id of the thread (Linux: `gettid`), 0 for a node that is not a
    /// thread (a task).
    pub tid: i32,
    /// The process the record was made in: after a `fork` the child inherits the parent's
    /// records, whose `tid`s name the parent's threads (and may be reused by the child's).
    pub pid: u32,
    slot: Mutex<WaitSlot>,
}

// SAFETY: the only non-Send/Sync fields are `Waiting::lock`, `Waiting::writer_mark` and the
// pointers of `SignalWait`, pointers
// used solely
// by `ThreadRecord::with_slot` callers while `slot`'s mutex is held; see `Waiting::lock` for why
// the pointee is alive then. All other fields are Send + Sync.
unsafe impl Send for ThreadRecord {}
// SAFETY: as for Send: shared access goes through the `slot` mutex.
unsafe impl Sync for ThreadRecord {}

impl ThreadRecord {
    /// Makes the async wait published here end with `report` (its acquire future panics with it
    /// when next polled, `tasks::AsyncWait::condemned`), and wakes its node; `false` if it has no
    /// waker (a `blocking_*` call, or a wait withdrawn meanwhile).
    pub(crate) fn condemn(&self, report: String) -> bool {
        let waker = self.with_slot(|slot| {
            let wake = slot.wake.as_mut()?;
            wake.condemned = Some(report);
            CONDEMNED.fetch_add(1, Ordering::Relaxed);
            Some(wake.waker.clone())
        });
        waker.map(std::task::Waker::wake).is_some()
    }

    /// Runs `f` with the slot locked. Poisoning cannot happen (no code that can panic runs under
    /// it), but is tolerated anyway so the profiler never panics inside a user's lock call.
    pub fn with_slot<R>(&self, f: impl FnOnce(&mut WaitSlot) -> R) -> R {
        let mut slot: MutexGuard<'_, WaitSlot> = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut slot)
    }
}

/// Live records by thread id (a thread's entry is removed when it exits).
fn live() -> &'static ShardedMap<u64, Arc<ThreadRecord>> {
    static LIVE: std::sync::OnceLock<ShardedMap<u64, Arc<ThreadRecord>>> = std::sync::OnceLock::new();
    LIVE.get_or_init(ShardedMap::new)
}

/// Names of every thread that ever waited, kept after exit for the trace.
pub(crate) fn seen() -> &'static ShardedMap<u64, Option<String>> {
    static SEEN: std::sync::OnceLock<ShardedMap<u64, Option<String>>> = std::sync::OnceLock::new();
    SEEN.get_or_init(ShardedMap::new)
}

/// Makes sure the calling thread (id `id`) is named in the trace (slow paths only).
pub(crate) fn note_current(id: u64) {
    if !seen().contains_key(&id) {
        seen().insert(id, std::thread::current().name().map(str::to_owned));
    }
}

/// Makes sure node `id` (a thread, a task, or a thread polling outside any task) is named in
/// the trace (slow paths only).
pub(crate) fn note_node(id: u64) {
    use crate::async_holders::{POLLING_THREAD_NODE, TASK_NODE};
    // Tasks are not kept here (a service may run millions): the trace names them from their
    // ids (`node_name`).
    if id & TASK_NODE != 0 || seen().contains_key(&id) {
        return;
    }
    let name = if id & POLLING_THREAD_NODE != 0 {
        let thread = std::thread::current();
        Some(format!("{} (polling)", thread.name().unwrap_or("thread")))
    } else {
        std::thread::current().name().map(str::to_owned)
    };
    seen().insert(id, name);
}

/// The name of a node that the registry does not keep: a task's (`task 7`).
pub(crate) fn node_name(id: u64) -> Option<String> {
    let task = crate::async_holders::TASK_NODE;
    (id & task != 0).then(|| format!("task {}", id & !task))
}

/// A record for a node that is not a thread (a task), to publish with [`publish_node`] while it
/// waits.
pub(crate) fn node_record(id: u64) -> Arc<ThreadRecord> {
    Arc::new(ThreadRecord { id, tid: 0, pid: std::process::id(), slot: Mutex::default() })
}

/// Makes `record` visible to the detector.
pub(crate) fn publish_node(record: &Arc<ThreadRecord>) {
    live().insert(record.id, Arc::clone(record));
}

/// Hides node `id` from the detector again (its last wait ended).
pub(crate) fn retire_node(id: u64) {
    live().remove(&id);
}

/// Whether node `id` has a published wait right now (slow path).
pub(crate) fn is_waiting(id: u64) -> bool {
    live().with(&id, |record| record.with_slot(|slot| slot.waiting.is_some())).unwrap_or(false)
}

/// The records of all live threads that have ever waited.
pub(crate) fn live_records() -> Vec<Arc<ThreadRecord>> {
    live().collect(|_, r| Some(Arc::clone(r)))
}

/// Owned by the thread's TLS; removes the thread from the live set when the thread exits.
struct RecordHandle(Arc<ThreadRecord>);

impl Drop for RecordHandle {
    fn drop(&mut self) {
        live().remove(&self.0.id);
        KNOWN_THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Threads with a live record (which know their OS id), for the all-asleep pre-check.
static KNOWN_THREADS: AtomicUsize = AtomicUsize::new(0);
/// Threads in an untimed wait that lockprof knows (a lock episode, a signal wait) right now.
static ASLEEP_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The all-asleep pre-check: whether every thread with a record may be in an untimed wait (two
/// loads; the check itself confirms against the operating system's list of threads).
pub(crate) fn all_known_may_be_asleep() -> bool {
    let known = KNOWN_THREADS.load(Ordering::SeqCst);
    known > 0 && ASLEEP_THREADS.load(Ordering::SeqCst) >= known
}

/// Counts the calling thread as asleep (in an untimed known wait) while it lives.
pub(crate) struct Asleep(());

impl Asleep {
    pub(crate) fn enter() -> Asleep {
        ASLEEP_THREADS.fetch_add(1, Ordering::SeqCst);
        Asleep(())
    }
}

impl Drop for Asleep {
    fn drop(&mut self) {
        ASLEEP_THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The calling thread's id at the operating system (Linux), 0 where there is none.
pub(crate) fn os_tid() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        unsafe { libc::gettid() }
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// The profiler's own threads, as (process, OS id): a child made by `fork` inherits the list, but
/// not the threads, whose ids its own threads may get.
fn internal() -> &'static Mutex<Vec<(u32, i32)>> {
    static INTERNAL: Mutex<Vec<(u32, i32)>> = Mutex::new(Vec::new());
    &INTERNAL
}

/// Marks the calling thread as one of the profiler's own (the watchdog, the trace writer): it
/// never runs user code, so the all-asleep rule leaves it out.
fn mark_internal() {
    let tid = os_tid();
    if tid != 0 {
        internal().lock().unwrap_or_else(|e| e.into_inner()).push((std::process::id(), tid));
    }
}

/// Starts one of the profiler's own threads, and returns once it has marked itself internal
/// (so an all-asleep check never mistakes it for a thread lockprof does not know).
pub(crate) fn spawn_internal(name: &str, run: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let (marked, wait) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new().name(name.into()).spawn(move || {
        mark_internal();
        let _ = marked.send(());
        run();
    })?;
    let _ = wait.recv();
    Ok(())
}

/// The OS ids of the profiler's own threads in this process.
pub(crate) fn internal_tids() -> Vec<i32> {
    let pid = std::process::id();
    let internal = internal().lock().unwrap_or_else(|e| e.into_inner());
    internal.iter().filter(|&&(p, _)| p == pid).map(|&(_, tid)| tid).collect()
}

/// The calling thread's record, created on first use. `None` while the thread is being torn down
/// (its TLS is gone), in which case the caller must not profile.
pub(crate) fn current_record() -> Option<Arc<ThreadRecord>> {
    RECORD
        .try_with(|cell| {
            let mut cell = cell.try_borrow_mut().ok()?;
            if let Some(handle) = cell.as_ref() {
                return Some(Arc::clone(&handle.0));
            }
            let id = crate::local::current_thread_id();
            let name = std::thread::current().name().map(str::to_owned);
            let pid = std::process::id();
            let record = Arc::new(ThreadRecord { id, tid: os_tid(), pid, slot: Mutex::default() });
            seen().insert(id, name);
            KNOWN_THREADS.fetch_add(1, Ordering::SeqCst);
            live().insert(id, Arc::clone(&record));
            *cell = Some(RecordHandle(Arc::clone(&record)));
            Some(record)
        })
        .ok()
        .flatten()
}

/// Marks the calling thread as inside the profiler's slow path for the lifetime of the returned
/// guard. Returns `None` if it already is: a lock taken by the profiler's own machinery (say, an
/// allocator built on lockprof locks) must then be taken without profiling, never recursively.
pub(crate) fn enter_profiler() -> Option<ReentryGuard> {
    IN_PROFILER.try_with(|flag| (!flag.replace(true)).then_some(ReentryGuard)).ok().flatten()
}

pub(crate) struct ReentryGuard;

impl Drop for ReentryGuard {
    fn drop(&mut self) {
        let _ = IN_PROFILER.try_with(|flag| flag.set(false));
    }
}
