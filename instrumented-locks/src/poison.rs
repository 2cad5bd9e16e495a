//! Poisoning exactly as std does it: a lock is poisoned when a guard is dropped while its thread
//! is panicking, unless the thread was already panicking when it took the guard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError};
use std::thread;

/// `Ok(value)`, or `Err` carrying it when the lock is `poisoned`: what std's lock methods return.
pub(crate) fn result<T>(poisoned: bool, value: T) -> LockResult<T> {
    if poisoned { Err(PoisonError::new(value)) } else { Ok(value) }
}

/// The poison flag of one lock.
pub(crate) struct Flag(AtomicBool);

impl Flag {
    pub(crate) const fn new() -> Self {
        Flag(AtomicBool::new(false))
    }

    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Called when a guard is created: remembers whether the thread was already panicking.
    #[inline]
    pub(crate) fn guard(&self) -> Guard {
        Guard { panicking: thread::panicking() }
    }

    /// Called when a guard is dropped.
    #[inline]
    pub(crate) fn done(&self, guard: &Guard) {
        if !guard.panicking && thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Whether the thread was panicking when the guard was taken.
pub(crate) struct Guard {
    panicking: bool,
}
