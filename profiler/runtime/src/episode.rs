//! The slow path of every blocking acquisition: a *wait episode*.
//!
//! A lock call that cannot take its raw lock at once calls `LockState::wait`. It first gives the
//! raw lock a short grace period ([`GRACE`]) to hand over normally, which is what the raw lock
//! would do anyway, and costs the profiler nothing. Only a wait that outlasts it becomes an
//! episode: the thread captures its stack (unresolved), publishes the wait in its slot, and looks
//! for a cycle through itself in the wait-for graph ([`crate::wait_for_graph`]). Then it blocks
//! on the raw lock, and clears its slot once it has the lock.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use backtrace::Backtrace;

use crate::lock_state::LockState;
use crate::threads::{HeldCopy, ThreadRecord, Waiting, current_record, enter_profiler};
use lockprof_trace::Access;

/// How long a blocked acquisition waits on the raw lock before it becomes a wait episode, unless
/// `LOCKPROF_GRACE_US` says otherwise.
/// Short enough that a deadlock is reported within a fraction of a millisecond, long enough that
/// ordinary brief contention never pays for stack capture or graph exploration.
pub const GRACE: Duration = Duration::from_micros(50);

/// The acquiring operations of a raw lock, as the profiler needs them: a tiny trait in the
/// manner of `lock_api`, implemented by the lock types in `lockprof` for their raw locks.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::{Duration, Instant};
/// use lockprof_profiler::RawLock;
///
/// struct Spin(AtomicBool);
/// impl RawLock for Spin {
///     fn try_acquire(&self) -> bool {
///         !self.0.swap(true, Ordering::Acquire)
///     }
///     fn acquire_within(&self, timeout: Duration) -> bool {
///         let deadline = Instant::now() + timeout;
///         while !self.try_acquire() {
///             if Instant::now() >= deadline {
///                 return false;
///             }
///             std::hint::spin_loop();
///         }
///         true
///     }
///     fn acquire(&self) {
///         while !self.try_acquire() {
///             std::hint::spin_loop();
///         }
///     }
/// }
/// let raw = Spin(AtomicBool::new(false));
/// assert!(raw.try_acquire());
/// assert!(!raw.acquire_within(Duration::from_millis(1)));
/// ```
pub trait RawLock {
    /// Acquires if free, without blocking. Returns whether it acquired.
    fn try_acquire(&self) -> bool;
    /// Tries to acquire, blocking for at most `timeout`. Returns whether it acquired.
    fn acquire_within(&self, timeout: Duration) -> bool;
    /// Acquires, blocking as long as it takes.
    fn acquire(&self);

    /// Reader-writer locks: a probe of the lock's *writer mark*, which a writer sets while it
    /// holds the lock or waits for the readers to leave, and which keeps new readers out. The
    /// detector needs it to tell a writer that is really ahead of a reader from one that is only
    /// queued. Other locks: `None` (the default).
    fn writer_mark(&self) -> Option<WriterMark> {
        None
    }

    /// Shared (read) acquisitions only: gives back one read that [`acquire`](RawLock::acquire)
    /// took, and returns `true`; the default gives back nothing and returns `false`.
    ///
    /// A read wait that was checked for deadlock ends by taking the read *again* with
    /// [`try_acquire`](RawLock::try_acquire) under the waiter's slot lock, atomically with
    /// ending its published wait: a reader that already holds the lock must never look as if it
    /// still waited (a writer arriving after it could otherwise seem to be ahead of it). So the
    /// raw lock of anything acquired with [`Access::Shared`] should implement this.
    ///
    /// # Safety
    /// The calling thread holds a read taken through this raw lock's `acquire`.
    unsafe fn release_shared(&self) -> bool {
        false
    }
}

/// A probe of a raw reader-writer lock's writer mark: a function and the lock it reads.
#[derive(Clone, Copy)]
pub struct WriterMark {
    probe: unsafe fn(*const ()) -> bool,
    lock: *const (),
}

impl WriterMark {
    /// A probe that reads the mark of the raw lock at `lock` with `probe`.
    ///
    /// # Safety
    /// `probe(lock)` must be safe to call, and return whether the mark is set, for as long as
    /// the raw lock at `lock` is alive. The profiler calls it only while a thread waits inside a
    /// lock call that borrows that lock.
    pub unsafe fn new(probe: unsafe fn(*const ()) -> bool, lock: *const ()) -> Self {
        WriterMark { probe, lock }
    }

    /// Whether the mark is set.
    ///
    /// # Safety
    /// The raw lock must still be alive (see [`WriterMark::new`]).
    pub(crate) unsafe fn is_set(&self) -> bool {
        // SAFETY: the caller guarantees the lock is alive; `new`'s caller guaranteed that
        // `probe` is then safe to call on it.
        unsafe { (self.probe)(self.lock) }
    }
}

static EPISODES: AtomicU64 = AtomicU64::new(0);

/// How many wait episodes this process has run: blocked acquisitions that outlasted [`GRACE`] and
/// so were checked for deadlock. Tests use it to show the detector actually ran.
pub fn wait_episodes() -> u64 {
    EPISODES.load(Ordering::Relaxed)
}

impl LockState {
    /// Slow path: blocks on `raw` until it is acquired (in `access`, with `permits` for a
    /// semaphore), checking for a deadlock first if the wait is not brief. The caller records
    /// the acquisition afterwards, as on the fast path.
    ///
    /// # Panics
    /// Under the `panic` deadlock policy, when this wait closes a deadlock: at the user's lock
    /// call (thanks to `#[track_caller]`), without acquiring.
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(crate) fn wait(
        &self,
        at: &'static Location<'static>,
        raw: &dyn RawLock,
        access: Access,
        permits: u32,
    ) -> Option<Arc<Backtrace>> {
        let grace = crate::config::config().grace;
        // A zero grace skips the raw lock's own spinning too: every blocked wait is checked.
        if !grace.is_zero() && self.timed_attempt(access, || raw.acquire_within(grace)) {
            return None;
        }
        // A lock taken by the profiler's own machinery (an allocator built on lockprof locks,
        // say), or during thread teardown, is taken without profiling rather than recursively.
        let (Some(_reentry), Some(record)) = (enter_profiler(), current_record()) else {
            raw.acquire();
            return None;
        };
        EPISODES.fetch_add(1, Ordering::Relaxed);
        let episode = Episode::begin(record, self, at, access, permits, false, raw.writer_mark());
        if let Some(found) = crate::wait_for_graph::find_deadlock(&episode.record) {
            crate::deadlock::found(&episode.record, found);
        }
        let stack = episode.stack();
        if access == Access::Shared {
            episode.end_read_wait(raw);
        } else {
            raw.acquire();
        }
        drop(episode);
        stack
    }

    /// A timed wait: like [`LockState::wait`], but it gives up after `timeout`, so it is
    /// published (for the watchdog) without ever taking part in a deadlock.
    #[cold]
    #[inline(never)]
    pub(crate) fn wait_timed(
        &self,
        at: &'static Location<'static>,
        raw: &dyn RawLock,
        access: Access,
        permits: u32,
        timeout: std::time::Duration,
    ) -> bool {
        let grace = crate::config::config().grace.min(timeout);
        if self.timed_attempt(access, || raw.acquire_within(grace)) {
            return true;
        }
        let (Some(_reentry), Some(record)) = (enter_profiler(), current_record()) else {
            return raw.acquire_within(timeout.saturating_sub(grace));
        };
        let episode = Episode::begin(record, self, at, access, permits, true, raw.writer_mark());
        let acquired = raw.acquire_within(timeout.saturating_sub(grace));
        drop(episode);
        acquired
    }

    /// Runs `block`, a wait on this condition variable, as a published wait that never takes
    /// part in a deadlock (any thread may notify). The caller has already released its mutex
    /// (so the graph shows it released) and re-acquires it afterwards through
    /// [`LockState::lock`] (so the re-acquisition records order edges and is checked for
    /// deadlock). If the thread still holds other lockprof locks while it waits, a warning is
    /// recorded with both sites ("sleeping while holding").
    pub fn condvar_wait<R>(&self, at: &'static Location<'static>, block: impl FnOnce() -> R) -> R {
        crate::warnings::check_condvar_wait(self, at);
        let episode = if crate::config::config().watchdog.is_some() {
            match (enter_profiler(), current_record()) {
                (Some(_reentry), Some(record)) => {
                    Some(Episode::begin(record, self, at, Access::Exclusive, 0, true, None))
                }
                _ => None,
            }
        } else {
            None
        };
        let result = block();
        drop(episode);
        result
    }
}

/// A published wait; dropping it (also during unwinding) ends the episode.
struct Episode {
    record: Arc<ThreadRecord>,
}

impl Episode {
    fn begin(
        record: Arc<ThreadRecord>,
        lock: &LockState,
        at: &'static Location<'static>,
        access: Access,
        permits: u32,
        timed: bool,
        writer_mark: Option<WriterMark>,
    ) -> Self {
        let stack = Arc::new(Backtrace::new_unresolved());
        let lock_id = lock.id();
        let held: Arc<[HeldCopy]> = crate::local::with(|l| {
            l.held()
                .map(|h| HeldCopy { lock: h.lock(), access: h.access(), permits: h.permits(), at: h.at })
                .collect()
        });
        crate::threads::note_current(record.id);
        crate::watchdog::ensure_started();
        record.with_slot(|slot| {
            slot.seq += 1;
            slot.waiting = Some(Waiting {
                lock: lock as *const LockState,
                lock_id,
                access,
                permits,
                timed,
                at,
                stack,
                since: Instant::now(),
                held,
                writer_mark,
            });
        });
        // Orders this publication (and every owner word this thread set before it) before the
        // exploration's reads, against the same fence in every other episode: of two threads
        // closing a cycle at once, at least one sees the other (see `wait_for_graph`).
        fence(Ordering::SeqCst);
        Episode { record }
    }
}
impl Episode {
    /// Ends a read wait atomically with taking the read (see [`RawLock::release_shared`]): block
    /// until a read is possible, give that read back, and take it again with a try under the
    /// slot's lock, clearing the slot in the same critical section; if a writer got in between,
    /// wait again.
    fn end_read_wait(&self, raw: &dyn RawLock) {
        loop {
            raw.acquire();
            // SAFETY: `acquire` just took a read through this raw lock, and this thread holds it.
            if !unsafe { raw.release_shared() } {
                return; // cannot give it back: keep it, and end the episode as any other
            }
            let taken = self.record.with_slot(|slot| {
                let taken = raw.try_acquire();
                if taken {
                    slot.seq += 1;
                    slot.waiting = None;
                }
                taken
            });
            if taken {
                return;
            }
        }
    }

    /// The stack the episode published.
    fn stack(&self) -> Option<Arc<Backtrace>> {
        self.record.with_slot(|slot| slot.waiting.as_ref().map(|w| Arc::clone(&w.stack)))
    }
}

impl Drop for Episode {
    fn drop(&mut self) {
        self.record.with_slot(|slot| {
            if slot.waiting.is_some() {
                slot.seq += 1;
                slot.waiting = None;
            }
        });
    }
}
