//! [`Barrier`]: `std::sync::Barrier` with its wait known to lockprof.

use std::fmt;
use std::panic::Location;
use std::sync::BarrierWaitResult;
use std::sync::atomic::{AtomicU64, Ordering};

use lockprof_profiler::{LockKind, LockState, Quorum, Signal, SignalShape};

/// A barrier with the API of [`std::sync::Barrier`] (std's own underneath, and std's
/// [`BarrierWaitResult`]).
///
/// A [`wait`](Barrier::wait) is a *signal wait*: when every thread of the process is asleep in
/// waits lockprof knows, with fewer threads inside this barrier than its parties and none having
/// left it since, the deadlock (a party that never comes, because it waits for a lock, say) is
/// reported at once (the all-asleep rule, see the README).
///
/// ```
/// use std::sync::Arc;
/// let barrier = Arc::new(lockprof::sync::Barrier::new(2));
/// let b = Arc::clone(&barrier);
/// let t = std::thread::spawn(move || b.wait().is_leader());
/// let here = barrier.wait().is_leader();
/// assert!(here ^ t.join().unwrap()); // exactly one leader
/// ```
pub struct Barrier {
    inner: std::sync::Barrier,
    state: LockState,
    /// Threads that have entered `wait` (before entering std's).
    arrivals: AtomicU64,
    /// Threads that have left `wait`: the progress counter of its signal waits.
    departures: Signal,
    parties: u64,
}

impl Barrier {
    /// A barrier for `n` threads; `const`, as std's.
    ///
    /// ```
    /// static START: lockprof::sync::Barrier = lockprof::sync::Barrier::new(1);
    /// assert!(START.wait().is_leader());
    /// ```
    #[track_caller]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            inner: std::sync::Barrier::new(n),
            state: LockState::new(LockKind::Barrier, None),
            arrivals: AtomicU64::new(0),
            departures: Signal::new(),
            parties: n as u64,
        }
    }

    /// Blocks until `n` threads have called `wait`; one of each round is the leader.
    ///
    /// ```
    /// assert!(lockprof::sync::Barrier::new(1).wait().is_leader());
    /// ```
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        // A barrier's waits may all end at once: the trace is written at exit anyway.
        lockprof_profiler::install_exit_hook();
        if self.parties <= 1 {
            return self.inner.wait(); // never waits
        }
        // The order is the all-asleep rule's argument (`lockprof_profiler`'s `all_asleep`):
        // departures read before arriving, arrival counted before publishing and before std's
        // wait, departure counted after it.
        let seen = self.departures.progress();
        let arrived = self.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
        let result = if arrived % self.parties == 0 {
            // By this count, the arrival that completes a round: std returns at once (the rare
            // arrival that std counts in another order is left unpublished, so it can only make
            // the rule report less, never more).
            self.inner.wait()
        } else {
            let quorum = Quorum { arrivals: &self.arrivals, parties: self.parties };
            let at = Location::caller();
            self.state.signal_wait(at, self.departures.counter(), seen, SignalShape::Barrier(quorum), || {
                self.inner.wait()
            })
        };
        self.departures.bump();
        result
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
