//! A spawned thread's lifetime as the wait-for graph sees it: a header the thread holds from its
//! start until its closure returns, and a "raw lock" that can be acquired once it has (see the
//! runtime's `waits::join`).

use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use lockprof_profiler::{LockKind, LockState, RawLock};

/// One spawned thread's lifetime, shared by the thread and its join handle.
pub(crate) struct Life {
    state: LockState,
    end: End,
}

impl Life {
    /// A lifetime whose site is the caller's (the spawn's) location.
    #[track_caller]
    pub(crate) fn new() -> Arc<Life> {
        Arc::new(Life { state: LockState::new(LockKind::Thread, None), end: End::default() })
    }

    /// Runs `f` as the thread's closure: the lifetime is held while it runs, and ends when it
    /// returns or unwinds.
    pub(crate) fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        /// Ends the lifetime also when `f` unwinds.
        struct Ending<'a>(&'a Life);
        impl Drop for Ending<'_> {
            fn drop(&mut self) {
                self.0.state.thread_ending();
                self.0.end.set();
            }
        }
        self.state.thread_started();
        let _ending = Ending(self);
        f()
    }

    /// Waits for the lifetime to end, as a wait in the graph, for a join at `at`. `can_unwind`:
    /// see `LockState::join_wait`.
    pub(crate) fn join(&self, at: &'static Location<'static>, can_unwind: bool) {
        self.state.join_wait(at, &self.end, can_unwind);
    }

    /// Ends a lifetime whose thread could not be started, so that no join waits for it.
    pub(crate) fn never_started(&self) {
        self.end.set();
    }

    /// Whether the thread's closure has returned (or unwound).
    pub(crate) fn ended(&self) -> bool {
        self.end.try_acquire()
    }
}

/// The end of a lifetime as a raw lock: "acquired" once the closure is over, never released.
#[derive(Default)]
struct End {
    ended: parking_lot::Mutex<bool>,
    changed: parking_lot::Condvar,
}

impl End {
    fn set(&self) {
        *self.ended.lock() = true;
        self.changed.notify_all();
    }
}

impl RawLock for End {
    fn try_acquire(&self) -> bool {
        *self.ended.lock()
    }

    fn acquire_within(&self, timeout: Duration) -> bool {
        let mut ended = self.ended.lock();
        let _ = self.changed.wait_while_for(&mut ended, |e| !*e, timeout);
        *ended
    }

    fn acquire(&self) {
        let mut ended = self.ended.lock();
        self.changed.wait_while(&mut ended, |e| !*e);
    }
}
