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

use std::sync::Arc;

use crate::contention::LockStats;
use crate::episode::RawLock;
use crate::local;
use lockprof_trace::{Access, LockKind};

/// The holder word: thread id in the low 60 bits, access code in the high 4.
const OWNER_ACCESS_SHIFT: u32 = 60;

/// The largest outstanding-permit count kept exactly; larger counts are stored as this, and the
/// detector then never relies on them.
pub(crate) const SATURATED_OUTSTANDING: u32 = 0x7FFF_FFFF;

/// A semaphore's counters as the detector sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PermitCounts {
    /// Permits free now.
    pub available: u32,
    /// Permits held through guards (a forgotten guard's permit stays counted: no thread will
    /// ever return it, so a wait for it is never reported).
    pub outstanding: u32,
    /// `add_permits` was called: permits can appear from a thread that holds none, so no wait
    /// on this semaphore is ever provably permanent.
    pub signal: bool,
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
    /// The exclusive (or upgradable) holder: thread id and access, 0 when none. Written only by
    /// the holder, while it holds the raw lock: set (Release) after acquiring, cleared (Release)
    /// before releasing. So a non-zero value names a thread that holds the lock, and the
    /// detector reads it with Acquire. Shared holders are not recorded here (there can be many);
    /// the detector learns them from the held sets that waiting threads publish.
    owner: AtomicU64,
    /// Where the current holder acquired it (the `#[track_caller]` location of its lock call).
    acquired_at: AtomicPtr<Location<'static>>,
    /// Registry id, 0 until the lock is first acquired (see [`crate::locks`]).
    id: AtomicU64,
    /// Contention statistics (an `Arc` the registry shares), null unless contention is profiled.
    stats: AtomicPtr<LockStats>,
    /// When the current hold started making someone wait (profiler clock, ns; 0: nobody).
    waited_since: AtomicU64,
    /// Semaphores: available (low 32 bits), outstanding (next 31), signal (top bit).
    /// Reader-writer locks: how many timed exclusive attempts are in flight (a writer that may
    /// give up, so readers queued behind it are not provably stuck).
    permits: AtomicU64,
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
            stats: AtomicPtr::new(ptr::null_mut()),
            waited_since: AtomicU64::new(0),
            permits: AtomicU64::new(0),
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

    /// Acquires `raw` exclusively (blocking) for the caller at `at`, with all of lockprof's
    /// bookkeeping: lock-order edges from the locks the thread holds, deadlock detection if it
    /// has to wait, and the record of the new holder.
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
        self.lock_as(at, raw, Access::Exclusive, 0);
    }

    /// [`LockState::lock`] for any access: `Shared` for a read lock, `Permits` with a count for
    /// a semaphore. `raw` must acquire in that access.
    ///
    /// # Panics
    /// As [`LockState::lock`].
    #[inline]
    #[track_caller]
    pub fn lock_as<R: RawLock>(&self, at: &'static Location<'static>, raw: &R, access: Access, permits: u32) {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 && !local::with(local::Local::holds_any) && raw.try_acquire() {
            self.acquired_as(id, at, access, permits);
        } else {
            self.lock_slow(at, raw, access, permits);
        }
    }

    /// Everything [`LockState::lock`] keeps off its straight line: the first acquisition
    /// (registration), order edges when other locks are held, and waiting.
    #[inline(never)]
    #[track_caller]
    fn lock_slow(&self, at: &'static Location<'static>, raw: &dyn RawLock, access: Access, permits: u32) {
        let id = self.id();
        self.record_order(id, access, at);
        if !raw.try_acquire() {
            self.wait_profiled(id, at, raw, access, permits);
        }
        self.acquired_as(id, at, access, permits);
    }

    /// [`LockState::wait`], timed and recorded in the contention profile when it is kept.
    #[track_caller]
    fn wait_profiled(
        &self,
        id: u64,
        at: &'static Location<'static>,
        raw: &dyn RawLock,
        access: Access,
        permits: u32,
    ) {
        let Some(stats) = self.stats() else {
            self.wait(at, raw, access, permits);
            return;
        };
        let start = std::time::Instant::now();
        let start_ns = crate::contention::now_ns();
        // Flag the hold as contended, so that its release charges the holder.
        let _ = self.waited_since.compare_exchange(0, start_ns, Ordering::Relaxed, Ordering::Relaxed);
        let episode_stack = self.wait(at, raw, access, permits);
        let waited = start.elapsed();
        stats.count_wait(waited);
        crate::contention::record_wait(id, waited, episode_stack, start_ns);
    }

    /// Records the order edges from every held lock to this one (taken with `access`).
    #[inline]
    #[track_caller]
    fn record_order(&self, id: u64, access: Access, at: &'static Location<'static>) {
        if local::with(|l| crate::lock_order::needs_recording(l, id, access)) {
            // Outside the thread-local closure, so that `#[track_caller]` points a panic at the
            // user's lock call.
            if let Some(inversion) = crate::lock_order::record_edges(id, access, at) {
                std::panic::panic_any(inversion);
            }
        }
    }

    /// Acquires `raw` within `timeout` (a timed acquisition such as `try_lock_for`). Records
    /// order edges, since it blocks, but its wait is never part of a reported deadlock: it ends
    /// by itself. Returns whether it acquired.
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_INVERSION=panic`, as [`LockState::lock`].
    #[track_caller]
    pub fn lock_within<R: RawLock>(
        &self,
        at: &'static Location<'static>,
        raw: &R,
        access: Access,
        permits: u32,
        timeout: std::time::Duration,
    ) -> bool {
        let id = self.id();
        self.record_order(id, access, at);
        let counted =
            self.kind == LockKind::RwLock && matches!(access, Access::Exclusive | Access::Upgradable);
        if counted {
            self.permits.fetch_add(1, Ordering::SeqCst);
        }
        let acquired = raw.try_acquire() || self.wait_timed(at, raw, access, permits, timeout);
        if counted {
            self.permits.fetch_sub(1, Ordering::SeqCst);
        }
        if acquired {
            self.acquired_as(id, at, access, permits);
        }
        acquired
    }

    /// Acquires `raw` exclusively if it is free, without blocking (and so without lock-order
    /// edges or deadlock detection). Returns whether it acquired.
    #[inline]
    pub fn try_lock<R: RawLock>(&self, at: &'static Location<'static>, raw: &R) -> bool {
        self.try_lock_as(at, raw, Access::Exclusive, 0)
    }

    /// [`LockState::try_lock`] for any access.
    #[inline]
    pub fn try_lock_as<R: RawLock>(
        &self,
        at: &'static Location<'static>,
        raw: &R,
        access: Access,
        permits: u32,
    ) -> bool {
        let acquired = raw.try_acquire();
        if acquired {
            self.acquired_as(self.id(), at, access, permits);
        }
        acquired
    }

    /// Records an acquisition the lock type made on its raw lock by itself (a re-entrant
    /// re-lock, an upgrade), so the held set and holder stay exact.
    #[inline]
    pub fn note_acquired(&self, at: &'static Location<'static>, access: Access, permits: u32) {
        self.acquired_as(self.id(), at, access, permits);
    }

    /// The contention statistics, if they are kept.
    #[inline]
    fn stats(&self) -> Option<&LockStats> {
        // SAFETY: `stats` is null or a pointer from `Arc::into_raw` that this header owns one
        // reference of until it is dropped (see `Drop`), so it is valid while `self` is.
        unsafe { self.stats.load(Ordering::Acquire).as_ref() }
    }

    /// Records the calling thread as a holder (acquired at `at`).
    #[inline]
    fn acquired_as(&self, id: u64, at: &'static Location<'static>, access: Access, permits: u32) {
        if let Some(stats) = self.stats() {
            stats.count_acquisition(access == Access::Exclusive);
        }
        local::with(|l| {
            if matches!(access, Access::Exclusive | Access::Upgradable) {
                // Site first, then owner with Release: a detector that reads this owner
                // (Acquire) also sees this site.
                self.acquired_at.store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
                self.owner.store(
                    l.thread_id() | (crate::tag::code(access) << OWNER_ACCESS_SHIFT),
                    Ordering::Release,
                );
            }
            l.push_held(crate::tag::make(id, access, permits), at);
        });
    }

    /// Fast path: the calling thread is about to release the exclusive hold of the raw lock.
    #[inline]
    pub fn releasing(&self) {
        self.releasing_as(Access::Exclusive);
    }

    /// The calling thread is about to release a hold of `access`.
    #[inline]
    pub fn releasing_as(&self, access: Access) {
        let id = self.id.load(Ordering::Relaxed);
        let key = local::class_key(crate::tag::make(id, access, 0));
        local::with(|l| l.pop_held(key));
        if matches!(access, Access::Exclusive | Access::Upgradable) {
            self.owner.store(0, Ordering::Release);
        }
        self.release_contended_hold(id);
    }

    /// If someone waited during this hold, charges the releasing holder (cold).
    #[inline]
    fn release_contended_hold(&self, id: u64) {
        if self.waited_since.load(Ordering::Relaxed) != 0 {
            self.charge_holder(id);
        }
    }

    #[cold]
    #[inline(never)]
    fn charge_holder(&self, id: u64) {
        let since = self.waited_since.swap(0, Ordering::Relaxed);
        if let (Some(stats), true) = (self.stats(), since != 0) {
            crate::contention::record_hold(id, stats, since);
        }
    }

    /// The calling thread is about to return `permits` permits it took in one acquisition.
    pub fn releasing_permits(&self, permits: u32) {
        let id = self.id.load(Ordering::Relaxed);
        let tag = crate::tag::make(id, Access::Permits, permits);
        local::with(|l| l.pop_held_exact(tag));
        self.release_contended_hold(id);
    }

    /// Semaphores: publishes the counters the detector needs (call after every change, under
    /// the semaphore's own lock).
    /// Counts that do not fit are saturated (outstanding at 2³¹ - 1), and the detector never
    /// relies on a saturated count.
    pub fn set_permit_counts(&self, available: u32, outstanding: u32, signal: bool) {
        let outstanding = u64::from(outstanding.min(SATURATED_OUTSTANDING));
        let word = u64::from(available) | (outstanding << 32) | (u64::from(signal) << 63);
        self.permits.store(word, Ordering::Release);
    }

    /// Runs a timed acquisition attempt. On a reader-writer lock, an exclusive or upgradable one is
    /// counted as in flight meanwhile: such a writer may set the writer mark and lift it again
    /// when it gives up, so readers queued behind it are not provably stuck while it runs.
    pub(crate) fn timed_attempt(&self, access: Access, attempt: impl FnOnce() -> bool) -> bool {
        let counted =
            self.kind == LockKind::RwLock && matches!(access, Access::Exclusive | Access::Upgradable);
        if counted {
            // In flight (low half) and started (high half, wrapping): an attempt that starts
            // between two reads of the detector changes the word even if it is over by the second.
            self.permits.fetch_add(1 | (1 << 32), Ordering::SeqCst);
        }
        let acquired = attempt();
        if counted {
            self.permits.fetch_sub(1, Ordering::SeqCst);
        }
        acquired
    }

    /// Reader-writer locks: timed exclusive attempts, in flight (low 32 bits) and started (high
    /// 32 bits). The detector compares the whole word between its passes.
    pub(crate) fn timed_writers(&self) -> u64 {
        self.permits.load(Ordering::SeqCst)
    }

    pub(crate) fn permit_counts(&self) -> PermitCounts {
        let word = self.permits.load(Ordering::Acquire);
        PermitCounts {
            available: word as u32,
            outstanding: ((word >> 32) & 0x7FFF_FFFF) as u32,
            signal: word >> 63 == 1,
        }
    }

    /// The exclusive (or upgradable) holder's thread id, access and acquisition site, as the
    /// detector sees them.
    pub(crate) fn holder(&self) -> Option<(u64, Access, &'static Location<'static>)> {
        let word = self.owner.load(Ordering::SeqCst);
        if word == 0 {
            return None;
        }
        let at = self.acquired_at.load(Ordering::Relaxed);
        // SAFETY: `acquired_at` only ever holds null or a `&'static Location` stored by
        // `acquired_as`; it is non-null whenever `owner` is non-zero, because it was stored
        // first and the Acquire-ordered (SeqCst) load of `owner` above synchronises with that
        // store.
        let at = unsafe { at.as_ref() }.unwrap_or(self.site);
        let thread = word & ((1 << OWNER_ACCESS_SHIFT) - 1);
        Some((thread, crate::tag::from_code(word >> OWNER_ACCESS_SHIFT), at))
    }

    /// The registry id of this lock, registering it on first call.
    #[inline]
    pub fn id(&self) -> u64 {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 { id } else { self.register() }
    }

    #[cold]
    #[inline(never)]
    fn register(&self) -> u64 {
        let stats = crate::contention::enabled().then(|| Arc::new(LockStats::default()));
        let fresh = crate::locks::register(self, stats.clone());
        match self.id.compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                if let Some(stats) = stats {
                    self.stats.store(Arc::into_raw(stats).cast_mut(), Ordering::Release);
                }
                fresh
            }
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
        let stats = *self.stats.get_mut();
        if !stats.is_null() {
            // SAFETY: the pointer came from `Arc::into_raw` in `register`, and this is the one
            // place that gives that reference back.
            drop(unsafe { Arc::from_raw(stats) });
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
