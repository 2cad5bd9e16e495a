//! The raw lock as the profiler needs it ([`RawLock`], a tiny trait in the manner of `lock_api`)
//! and the probe of a reader-writer lock's writer mark ([`WriterMark`]).

use std::time::Duration;

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
    /// raw lock of anything acquired with [`Access::Shared`](lockprof_trace::Access::Shared) should implement this.
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
