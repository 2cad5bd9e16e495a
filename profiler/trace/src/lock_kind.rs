//! Which primitive a lock is ([`LockKind`]), as written in the trace.

/// Which primitive a lock is, as written in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "read", serde(rename_all = "snake_case"))]
pub enum LockKind {
    /// A mutual-exclusion lock (`lockprof::Mutex`, `lockprof::parking_lot::Mutex`).
    Mutex,
    /// A reader-writer lock.
    RwLock,
    /// A counting semaphore.
    Semaphore,
    /// A mutex its holder may lock again (`lockprof::parking_lot::ReentrantMutex`).
    ReentrantMutex,
    /// A condition variable (waited on, never held).
    Condvar,
    /// A thread's lifetime, as a join sees it (`lockprof::thread`): held by the thread from its
    /// start until its closure returns, waited for by every join; its site is the spawn's.
    Thread,
    /// The initialisation lock of a one-time cell (`lockprof::sync::{Once, OnceLock, LazyLock}`),
    /// held by the thread whose initialiser runs.
    Once,
    /// A channel (`lockprof::sync::mpsc`): waited on by a blocking receive or a blocking send on
    /// a full bounded channel, never held; its site is the `channel`/`sync_channel` call.
    Channel,
    /// A barrier (`lockprof::sync::Barrier`): waited on, never held.
    Barrier,
}

impl LockKind {
    /// The lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Mutex => "mutex",
            LockKind::RwLock => "rwlock",
            LockKind::Semaphore => "semaphore",
            LockKind::ReentrantMutex => "reentrant mutex",
            LockKind::Condvar => "condvar",
            LockKind::Thread => "thread",
            LockKind::Once => "lazy initialisation",
            LockKind::Channel => "channel",
            LockKind::Barrier => "barrier",
        }
    }
}
