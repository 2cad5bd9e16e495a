//! The header every instrumented lock embeds: who holds it, where they took it, and (once the
//! lock has mattered to the profiler) its registry id.
//!
//! The lock types in `lockprof` acquire their raw lock through [`LockState::lock`] and
//! [`LockState::try_lock`], and call [`LockState::releasing`] right before releasing it.
//!
//! The fast path is `lock` on a free lock with nothing else held, and `releasing`: plain stores into this header and into the thread's own
//! state ([`crate::local`]). No clock, no allocation, no global lock, no backtrace. The one
//! exception is a lock's very first acquisition, which gives it an id and registers it.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::episode::RawLock;
use crate::local;

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
    /// Registry id, 0 until the lock is first acquired (see [`crate::locks`]).
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

    /// Acquires `raw` (blocking) for the caller at `at`, with all of lockprof's bookkeeping:
    /// lock-order edges from the locks the thread holds, deadlock detection if it has to wait,
    /// and the record of the new holder.
    ///
    /// The straight-line path (an already-registered lock, nothing else held, free) is a raw
    /// `try_acquire` and a few plain stores; everything else is out of line.
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_DEADLOCK=panic` (the default) when this wait closes a deadlock, and
    /// under `LOCKPROF_ON_INVERSION=panic` when it closes a lock-order cycle; in both cases
    /// without acquiring.
    #[inline]
    #[track_caller]
    pub fn lock<R: RawLock>(&self, at: &'static Location<'static>, raw: &R) {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 && !local::with(local::Local::holds_any) && raw.try_acquire() {
            self.acquired_as(id, at);
        } else {
            self.lock_slow(at, raw);
        }
    }

    /// Everything [`LockState::lock`] keeps off its straight line: the first acquisition
    /// (registration), order edges when other locks are held, and waiting.
    #[inline(never)]
    #[track_caller]
    fn lock_slow(&self, at: &'static Location<'static>, raw: &dyn RawLock) {
        let id = self.id();
        if local::with(|l| crate::lock_order::needs_recording(l, id)) {
            // Outside the thread-local closure, so that `#[track_caller]` points a panic at the
            // user's lock call.
            if let Some(inversion) = crate::lock_order::record_edges(id, at) {
                std::panic::panic_any(inversion);
            }
        }
        if !raw.try_acquire() {
            self.wait(at, raw);
        }
        self.acquired_as(id, at);
    }

    /// Acquires `raw` if it is free, without blocking (and so without lock-order edges or
    /// deadlock detection). Returns whether it acquired.
    #[inline]
    pub fn try_lock<R: RawLock>(&self, at: &'static Location<'static>, raw: &R) -> bool {
        let acquired = raw.try_acquire();
        if acquired {
            self.acquired_as(self.id(), at);
        }
        acquired
    }

    /// Records the calling thread as the holder (acquired at `at`).
    #[inline]
    fn acquired_as(&self, id: u64, at: &'static Location<'static>) {
        local::with(|l| {
            // Site first, then owner with Release: a detector that reads this owner (Acquire)
            // also sees this site.
            self.acquired_at.store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
            self.owner.store(l.thread_id(), Ordering::Release);
            l.push_held(id, at);
        });
    }

    /// Fast path: the calling thread is about to release the raw lock.
    #[inline]
    pub fn releasing(&self) {
        let id = self.id.load(Ordering::Relaxed);
        local::with(|l| l.pop_held(id));
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

    /// The registry id of this lock, registering it on first call.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 { id } else { self.register() }
    }

    #[cold]
    #[inline(never)]
    fn register(&self) -> u64 {
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

impl Drop for LockState {
    /// Forgets the lock, unless a finding or a lock-order edge still refers to it.
    fn drop(&mut self) {
        let id = *self.id.get_mut();
        if id != 0 {
            crate::locks::unregister(id);
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
