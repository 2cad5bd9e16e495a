//! The slow path of every blocking acquisition: a *wait episode*.
//!
//! A lock call that cannot take its raw lock at once calls `LockState::wait`. It first gives the
//! raw lock a short grace period ([`GRACE`]) to hand over normally, which is what the raw lock
//! would do anyway, and costs the profiler nothing. Only a wait that outlasts it becomes an
//! episode: the thread captures its stack (unresolved), publishes the wait in its slot, and looks
//! for a cycle through itself in the wait-for graph ([`crate::wait_for_graph`]). Then it blocks
//! on the raw lock, and clears its slot once it has the lock.

use std::backtrace::Backtrace;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::Instant;

use crate::lock_state::LockState;
use crate::raw_lock::{RawLock, WriterMark};
use crate::threads::{HeldCopy, ThreadRecord, Waiting, current_record, enter_profiler};
use lockprof_trace::Access;

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
        self.wait_unwinding(at, raw, access, permits, true)
    }

    /// [`LockState::wait`], saying whether a panic of the waiting thread can end a deadlock it
    /// finds: not in the implicit join at the end of `thread::scope`, which still waits for the
    /// scoped threads while it unwinds (the process then aborts, after the trace).
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(crate) fn wait_unwinding(
        &self,
        at: &'static Location<'static>,
        raw: &dyn RawLock,
        access: Access,
        permits: u32,
        can_unwind: bool,
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
        crate::records::count_episode();
        let episode = Episode::begin(record, self, at, access, permits, false, raw.writer_mark());
        let _asleep = crate::threads::Asleep::enter();
        if let Some(found) = crate::wait_for_graph::find_deadlock(&episode.record) {
            if can_unwind {
                crate::deadlock::found(&episode.record, found);
            } else {
                crate::deadlock::found_where_panic_cannot_end_it(&episode.record, found);
            }
        } else {
            crate::all_asleep::check_after_sleeping(&episode.record, can_unwind);
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
        let stack = Arc::new(crate::stacks::capture());
        let lock_id = lock.id();
        let held = HeldCopy::of_current_thread();
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
                fifo: None,
                async_holders: None,
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
