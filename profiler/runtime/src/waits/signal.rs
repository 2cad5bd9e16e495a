//! Signal waits: a blocking wait that any thread may end, not only a holder (a condition
//! variable's `wait`, a channel's blocking `recv` or full `send`, a barrier's `wait`). Such a
//! wait is never part of a cycle of the wait-for graph (it is published as timed there), but it
//! takes part in the *all-asleep* rule (`crate::all_asleep`): when every thread of the process
//! is in an untimed wait that lockprof knows and nothing has happened since that could end any
//! of the signal waits, no thread can ever wake another.
//!
//! "Nothing has happened" is a [`Signal`]: a progress counter in the object, bumped (SeqCst) by
//! every operation that may end one of its waits (a notification, a send, a receive, a sender
//! or receiver dropped, a barrier's departure). A waiter reads the counter before it starts to
//! wait, then retries its operation without blocking: any event that retry did not see is
//! counted after that read (see [`Signal`]); the all-asleep check counts it asleep only while
//! the counter still has that value.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::Instant;

use lockprof_trace::Access;

use crate::lock_state::LockState;
use crate::threads::{Asleep, HeldCopy, SignalWait, ThreadRecord, Waiting, current_record, enter_profiler};

/// The progress counter of an object that signal waits wait on.
///
/// Why a waiter that reads it (SeqCst), then retries its operation without blocking and fails,
/// misses nothing: an event is the operation itself (a send, say) followed by a bump (a SeqCst
/// read-modify-write). If the bump came before the waiter's read in the counter's order, the
/// read took its value from it, so the operation happened before the retry, which would have
/// seen it; so any event the retry did not see is bumped after the value read, and the counter
/// has moved by the time anyone looks.
///
/// ```
/// use lockprof_profiler::Signal;
/// let signal = Signal::new();
/// let seen = signal.progress();
/// signal.bump();
/// assert_ne!(signal.progress(), seen);
/// ```
#[derive(Debug, Default)]
pub struct Signal {
    progress: AtomicU64,
}

impl Signal {
    /// A counter at zero; `const`, for `static` objects.
    pub const fn new() -> Self {
        Signal { progress: AtomicU64::new(0) }
    }

    /// Counts an event that may end a wait, after the event's own operation (a send, a receive,
    /// a dropped end of a channel, a departure from a barrier).
    #[inline]
    pub fn bump(&self) {
        self.progress.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks an event, for objects whose waiters only ask "has the counter moved" (a channel):
    /// stores a value no store before has written (this thread's next token), with release
    /// ordering. A plain store: no read-modify-write on the fast path of a send. Any store after
    /// a waiter's read leaves a value other than the one it read, as a bump does; one before it
    /// is visible to the read and, through release and acquire, so is its operation.
    ///
    /// ```
    /// use lockprof_profiler::Signal;
    /// let signal = Signal::new();
    /// let seen = signal.progress();
    /// signal.mark();
    /// let after = signal.progress();
    /// signal.mark();
    /// assert!(seen != after && after != signal.progress());
    /// ```
    #[inline]
    pub fn mark(&self) {
        self.progress.store(next_token(), Ordering::Release);
    }

    /// The counter's value now: read by a waiter before its last non-blocking retry.
    pub fn progress(&self) -> u64 {
        self.progress.load(Ordering::SeqCst)
    }

    /// The counter itself, for [`LockState::signal_wait`].
    pub fn counter(&self) -> &AtomicU64 {
        &self.progress
    }
}

thread_local! {
    /// This thread's next token for [`Signal::mark`] and the end of its block; (0, 0) until its
    /// first.
    static TOKENS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Tokens a thread reserves at a time.
const TOKEN_BLOCK: u64 = 1 << 20;

/// A value no other call returns: tokens come from blocks reserved from one 64-bit count (which
/// starts above 0, a counter's initial value), so no value repeats before 2^64 tokens (centuries
/// at a billion marks a second). A thread number in the top bits would wrap after its 2^bits-th
/// thread and repeat a value a waiter may have read (an event it would then miss).
#[inline]
fn next_token() -> u64 {
    TOKENS
        .try_with(|tokens| {
            let (mut next, mut end) = tokens.get();
            if next == end {
                next = reserve(TOKEN_BLOCK);
                end = next + TOKEN_BLOCK;
            }
            tokens.set((next + 1, end));
            next
        })
        // During the thread's teardown: a token of its own, reserved alone.
        .unwrap_or_else(|_| reserve(1))
}

/// Reserves `n` tokens, returning the first.
#[cold]
fn reserve(n: u64) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(n, Ordering::Relaxed)
}

/// What a signal wait waits for, as [`LockState::signal_wait`] publishes it.
#[derive(Debug, Clone, Copy)]
pub enum SignalShape<'a> {
    /// A notification (a condition variable).
    Notify,
    /// A message (a channel's blocking receive).
    Receive,
    /// Room, or a receiver (a bounded channel's blocking send). A send and a receive waiting on
    /// the same channel at once are never counted asleep: on a rendezvous channel they are about
    /// to meet inside std's blocking calls, which no counter sees.
    Send,
    /// The rest of a barrier's parties.
    Barrier(Quorum<'a>),
}

/// A barrier's quorum, for [`SignalShape::Barrier`]: its arrivals counter and its number of
/// parties. With the barrier's departures as the [`Signal`], a waiter is asleep only while no
/// thread has left the barrier since it arrived and fewer than `parties` threads are inside.
#[derive(Debug, Clone, Copy)]
pub struct Quorum<'a> {
    /// Threads that have arrived (incremented before entering the barrier's own wait).
    pub arrivals: &'a AtomicU64,
    /// The barrier's number of parties.
    pub parties: u64,
}

impl LockState {
    /// Runs `block`, an untimed wait on the object this header belongs to (a condition variable,
    /// a channel, a barrier), as a published *signal wait*: `progress` is the object's
    /// progress counter ([`Signal::counter`], or a counter bumped with SeqCst under the lock that
    /// orders the object's events), `seen` its value when the wait began (read before the last
    /// non-blocking retry, or under that lock), `shape` what it waits for. If this thread is
    /// the last of the process to fall asleep and the all-asleep rule confirms that no thread can
    /// wake another, the deadlock is reported here, under the deadlock policy (a panic leaves
    /// before `block` runs).
    ///
    /// ```
    /// use lockprof_profiler::{LockKind, LockState, Signal, SignalShape};
    /// let state = LockState::new(LockKind::Condvar, None);
    /// let signal = Signal::new();
    /// let seen = signal.progress();
    /// signal.bump(); // a notification since: this wait is not asleep (this thread is alone)
    /// let wait = || 7; // std's blocking call, in a real object
    /// assert_eq!(state.signal_wait(std::panic::Location::caller(), signal.counter(), seen, SignalShape::Notify, wait), 7);
    /// ```
    ///
    /// # Panics
    /// Under the `panic` deadlock policy, when every thread of the process is asleep.
    pub fn signal_wait<R>(
        &self,
        at: &'static Location<'static>,
        progress: &AtomicU64,
        seen: u64,
        shape: SignalShape<'_>,
        block: impl FnOnce() -> R,
    ) -> R {
        if self.kind() == lockprof_trace::LockKind::Condvar {
            crate::warnings::check_condvar_wait(self, at);
        }
        let episode = match (enter_profiler(), current_record()) {
            (Some(_reentry), Some(record)) => {
                let episode = SignalEpisode::begin(record, self, at, progress, seen, shape);
                crate::all_asleep::check_after_sleeping(&episode.record, true);
                Some(episode)
            }
            _ => None,
        };
        let result = block();
        drop(episode);
        result
    }
}

/// A published signal wait; dropping it (also during unwinding) ends it.
struct SignalEpisode {
    record: Arc<ThreadRecord>,
    _asleep: Asleep,
}

impl SignalEpisode {
    fn begin(
        record: Arc<ThreadRecord>,
        object: &LockState,
        at: &'static Location<'static>,
        progress: &AtomicU64,
        seen: u64,
        shape: SignalShape<'_>,
    ) -> Self {
        crate::trace::writer::install_exit_hook();
        let stack = Arc::new(crate::stacks::capture());
        let held = HeldCopy::of_current_thread();
        crate::threads::note_current(record.id);
        crate::watchdog::ensure_started();
        record.with_slot(|slot| {
            slot.seq += 1;
            slot.signal = Some(SignalWait {
                progress: progress as *const AtomicU64,
                seen,
                quorum: match shape {
                    SignalShape::Barrier(q) => Some((q.arrivals as *const AtomicU64, q.parties)),
                    _ => None,
                },
                side: match shape {
                    SignalShape::Receive => 1,
                    SignalShape::Send => 2,
                    _ => 0,
                },
            });
            slot.waiting = Some(Waiting {
                lock: object as *const LockState,
                lock_id: object.id(),
                access: Access::Exclusive,
                permits: 0,
                // Never part of a cycle of the wait-for graph (anyone may end it); only the
                // all-asleep rule counts it, through `slot.signal`.
                timed: true,
                at,
                stack,
                since: Instant::now(),
                held,
                writer_mark: None,
                fifo: None,
                async_holders: None,
            });
        });
        let asleep = Asleep::enter();
        // As in a lock episode: orders the publication before the all-asleep check's reads.
        fence(Ordering::SeqCst);
        SignalEpisode { record, _asleep: asleep }
    }
}

impl Drop for SignalEpisode {
    fn drop(&mut self) {
        self.record.with_slot(|slot| {
            slot.seq += 1;
            slot.waiting = None;
            slot.signal = None;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(progress: &AtomicU64, seen: u64, quorum: Option<(&AtomicU64, u64)>) -> SignalWait {
        SignalWait {
            progress: progress as *const AtomicU64,
            seen,
            quorum: quorum.map(|(a, n)| (a as *const AtomicU64, n)),
            side: 0,
        }
    }

    #[test]
    fn a_wait_is_asleep_until_its_counter_moves() {
        let signal = Signal::new();
        let seen = signal.progress();
        let w = wait(signal.counter(), seen, None);
        // SAFETY: the counter outlives the wait (no slot involved in this test).
        assert!(unsafe { w.still_asleep() });
        signal.mark();
        // SAFETY: as above.
        assert!(!unsafe { w.still_asleep() });
    }

    #[test]
    fn a_barrier_wait_is_asleep_only_while_fewer_than_its_parties_are_inside() {
        let (departures, arrivals) = (Signal::new(), AtomicU64::new(0));
        let seen = departures.progress();
        arrivals.fetch_add(2, Ordering::SeqCst); // two of three parties inside
        let w = wait(departures.counter(), seen, Some((&arrivals, 3)));
        // SAFETY: the counters outlive the wait.
        assert!(unsafe { w.still_asleep() });
        arrivals.fetch_add(1, Ordering::SeqCst); // the third arrives: the round completes
        // SAFETY: as above.
        assert!(!unsafe { w.still_asleep() });
        let w = wait(departures.counter(), seen, Some((&arrivals, 4)));
        departures.bump(); // someone left since the wait began
        // SAFETY: as above.
        assert!(!unsafe { w.still_asleep() });
    }

    #[test]
    fn tokens_never_repeat_across_blocks_and_are_never_zero() {
        let theirs = std::thread::spawn(|| (0..10).map(|_| next_token()).collect::<Vec<_>>());
        let mine: Vec<u64> = (0..TOKEN_BLOCK + 10).map(|_| next_token()).collect();
        let theirs = theirs.join().unwrap();
        let all: std::collections::HashSet<u64> = mine.iter().chain(&theirs).copied().collect();
        assert_eq!(all.len() as u64, TOKEN_BLOCK + 20);
        assert!(!all.contains(&0));
    }

    #[test]
    fn tokens_never_repeat_across_threads() {
        let mine: Vec<u64> = (0..1000).map(|_| next_token()).collect();
        let theirs: Vec<u64> =
            std::thread::spawn(|| (0..1000).map(|_| next_token()).collect()).join().unwrap();
        let all: std::collections::HashSet<u64> = mine.iter().chain(&theirs).copied().collect();
        assert_eq!(all.len(), 2000);
    }
}
