//! The header every instrumented lock embeds: who holds it, where they took it, and (once the
//! lock has mattered to the profiler) its registry id.
//!
//! Hooks are called by the lock types in `lockprof` around their raw lock:
//! [`LockState::acquired`] right after the raw lock is taken, [`LockState::releasing`] right
//! before it is released, and [`LockState::wait`] instead of a plain blocking acquire.
//!
//! The fast path is [`acquired`](LockState::acquired) + [`releasing`](LockState::releasing):
//! three plain stores into this header and one thread-local load. No clock, no allocation, no
//! global lock, no backtrace.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::threads::current_thread_id;

/// Which primitive a lock is, as written in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// A mutual-exclusion lock (`lockprof::Mutex`).
    Mutex,
}

impl LockKind {
    /// The lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Mutex => "mutex",
        }
    }
}

/// Per-lock profiler state, embedded in each instrumented lock. `const`-constructible so that
/// `static M: lockprof::Mutex<u64> = lockprof::Mutex::new(0);` works.
///
/// ```
/// use lockprof_profiler::{LockKind, LockState};
/// static STATE: LockState = LockState::new(LockKind::Mutex, None);
/// assert_eq!(STATE.site().file(), file!());
/// ```
pub struct LockState {
    /// Id of the holding thread, 0 when free. Written only by the holder, while it holds the raw
    /// lock: set (Release) after acquiring, cleared (Release) before releasing. So a non-zero
    /// value names a thread that holds the lock, and the detector reads it with Acquire.
    owner: AtomicU64,
    /// Where the current holder acquired it (the `#[track_caller]` location of its lock call).
    acquired_at: AtomicPtr<Location<'static>>,
    /// Registry id, 0 until the lock is first waited for (see [`crate::locks`]).
    id: AtomicU64,
    site: &'static Location<'static>,
    name: Option<&'static str>,
    kind: LockKind,
}

impl LockState {
    /// A header for a lock created at the caller's location.
    #[track_caller]
    pub const fn new(kind: LockKind, name: Option<&'static str>) -> Self {
        LockState {
            owner: AtomicU64::new(0),
            acquired_at: AtomicPtr::new(ptr::null_mut()),
            id: AtomicU64::new(0),
            site: Location::caller(),
            name,
            kind,
        }
    }

    /// Where the lock was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The name given at creation, if any.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }

    /// The primitive this header belongs to.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// Fast path: the calling thread has just acquired the raw lock at `at`.
    #[inline]
    pub fn acquired(&self, at: &'static Location<'static>) {
        // Site first, then owner with Release: a detector that reads this owner (Acquire) also
        // sees this site.
        self.acquired_at.store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
        self.owner.store(current_thread_id(), Ordering::Release);
    }

    /// Fast path: the calling thread is about to release the raw lock.
    #[inline]
    pub fn releasing(&self) {
        self.owner.store(0, Ordering::Release);
    }

    /// The holding thread's id and acquisition site, as the detector sees them.
    pub(crate) fn holder(&self) -> Option<(u64, &'static Location<'static>)> {
        let owner = self.owner.load(Ordering::SeqCst);
        if owner == 0 {
            return None;
        }
        let at = self.acquired_at.load(Ordering::Relaxed);
        // SAFETY: `acquired_at` only ever holds null or a `&'static Location` stored by
        // `acquired`; it is non-null whenever `owner` is non-zero, because it was stored first
        // and the Acquire-ordered (SeqCst) load of `owner` above synchronises with that store.
        let at = unsafe { at.as_ref() }.unwrap_or(self.site);
        Some((owner, at))
    }

    /// The registry id of this lock, registering it on first call (slow path only).
    pub(crate) fn id(&self) -> u64 {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 {
            return id;
        }
        let fresh = crate::locks::register(self);
        match self.id.compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => fresh,
            Err(winner) => {
                crate::locks::forget(fresh);
                winner
            }
        }
    }
}

impl std::fmt::Debug for LockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockState")
            .field("kind", &self.kind)
            .field("site", &format_args!("{}", self.site))
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
