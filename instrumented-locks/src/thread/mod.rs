//! `std::thread` with joins in the wait-for graph: swap `std::thread` for `lockprof::thread` in
//! an import line and nothing else changes.
//!
//! ```
//! use lockprof::thread; // was: use std::thread;
//!
//! let handle = thread::spawn(|| 6 * 7);
//! assert_eq!(handle.join().unwrap(), 42);
//! ```
//!
//! A join is a wait for the joined thread: a thread that holds a lock and joins a thread that
//! waits for that lock is a deadlock, reported the moment it forms as any lock cycle is (by
//! default the thread whose wait closes it panics with the report). That includes the implicit
//! join at the end of [`scope`], which waits for every scoped thread still running; a panic cannot
//! end that wait (std's `scope` keeps waiting while it unwinds), so a deadlock found there aborts
//! the process after writing the trace. [`spawn`], [`Builder`], [`JoinHandle`], [`scope`],
//! [`Scope`] and [`ScopedJoinHandle`] are lockprof's, with std's API; everything else is std's own
//! (re-exported). Threads started with `std::thread` directly are not tracked: joining one is
//! never part of a reported deadlock. Left out: the Unix `JoinHandleExt` (`as_pthread_t`),
//! which std implements for its own `JoinHandle` only.

mod life;
mod scope;

use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::Arc;

pub use std::thread::{
    AccessError, LocalKey, Result, Thread, ThreadId, available_parallelism, current, panicking, park,
    park_timeout, sleep, yield_now,
};
#[allow(deprecated)]
pub use std::thread::{park_timeout_ms, sleep_ms};

pub use scope::{Scope, ScopedJoinHandle, scope};

use life::Life;

/// Spawns a thread, as [`std::thread::spawn`]; joining it is a wait in the wait-for graph.
///
/// ```
/// let h = lockprof::thread::spawn(|| "done");
/// assert_eq!(h.join().unwrap(), "done");
/// ```
///
/// # Panics
/// As std's, if the operating system cannot create the thread.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// Thread configuration, as [`std::thread::Builder`], for lockprof's [`JoinHandle`] and
/// [`ScopedJoinHandle`].
///
/// ```
/// let h = lockprof::thread::Builder::new().name("worker".into()).spawn(|| {
///     lockprof::thread::current().name().map(str::to_owned)
/// });
/// assert_eq!(h.unwrap().join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug)]
pub struct Builder {
    inner: std::thread::Builder,
}

impl Builder {
    /// A builder with std's defaults.
    ///
    /// ```
    /// let _ = lockprof::thread::Builder::new();
    /// ```
    #[allow(clippy::new_without_default)] // as std's
    pub fn new() -> Builder {
        Builder { inner: std::thread::Builder::new() }
    }

    /// Names the thread (in panic messages, and in lockprof's reports).
    ///
    /// ```
    /// let _ = lockprof::thread::Builder::new().name("io".into());
    /// ```
    pub fn name(self, name: String) -> Builder {
        Builder { inner: self.inner.name(name) }
    }

    /// Sets the thread's stack size in bytes.
    ///
    /// ```
    /// let _ = lockprof::thread::Builder::new().stack_size(1 << 20);
    /// ```
    pub fn stack_size(self, size: usize) -> Builder {
        Builder { inner: self.inner.stack_size(size) }
    }

    /// Spawns the thread, as std's `Builder::spawn`.
    ///
    /// ```
    /// let h = lockprof::thread::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    ///
    /// # Errors
    /// As std's, if the operating system cannot create the thread.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let life = Life::new();
        let theirs = Arc::clone(&life);
        let inner = self.inner.spawn(move || theirs.run(f))?;
        Ok(JoinHandle { inner, life })
    }

    /// Spawns a thread whose closure may borrow for less than `'static`, as std's
    /// `Builder::spawn_unchecked`.
    ///
    /// ```
    /// let h = unsafe { lockprof::thread::Builder::new().spawn_unchecked(|| 2) }.unwrap();
    /// assert_eq!(h.join().unwrap(), 2);
    /// ```
    ///
    /// # Safety
    /// As std's: the caller must make sure the thread does not outlive what `f` borrows (join
    /// it before that ends).
    ///
    /// # Errors
    /// As std's, if the operating system cannot create the thread.
    #[track_caller]
    pub unsafe fn spawn_unchecked<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let life = Life::new();
        let theirs = Arc::clone(&life);
        // SAFETY: the caller upholds std's contract for `f`; the lifetime added to it is an
        // `Arc` owned by the closure.
        let inner = unsafe { self.inner.spawn_unchecked(move || theirs.run(f)) }?;
        Ok(JoinHandle { inner, life })
    }

    /// Spawns a scoped thread, as std's `Builder::spawn_scoped`.
    ///
    /// ```
    /// let mut n = 1;
    /// lockprof::thread::scope(|s| {
    ///     lockprof::thread::Builder::new().spawn_scoped(s, || n += 1).unwrap();
    /// });
    /// assert_eq!(n, 2);
    /// ```
    ///
    /// # Errors
    /// As std's, if the operating system cannot create the thread.
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        scope.spawn_with(self.inner, f)
    }
}

/// An owned permission to join a thread, as [`std::thread::JoinHandle`]; its
/// [`join`](JoinHandle::join) is a wait in the wait-for graph.
///
/// ```
/// let h: lockprof::thread::JoinHandle<u8> = lockprof::thread::spawn(|| 3);
/// assert_eq!(h.join().unwrap(), 3);
/// ```
pub struct JoinHandle<T> {
    inner: std::thread::JoinHandle<T>,
    life: Arc<Life>,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns its result (`Err` with the panic payload if it
    /// panicked), as std's. If the thread waits, directly or through others, for a lock the
    /// caller holds, the deadlock is reported (by default this call panics with the report).
    ///
    /// ```
    /// let h = lockprof::thread::spawn(|| panic!("boom"));
    /// assert!(h.join().is_err());
    /// ```
    ///
    /// # Errors
    /// The joined thread's panic, as std's.
    #[track_caller]
    pub fn join(self) -> Result<T> {
        self.life.join(Location::caller(), true);
        self.inner.join()
    }

    /// The thread's handle.
    ///
    /// ```
    /// let h = lockprof::thread::Builder::new().name("n".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.thread().name(), Some("n"));
    /// ```
    pub fn thread(&self) -> &Thread {
        self.inner.thread()
    }

    /// Whether the thread has finished running its closure, as std's.
    ///
    /// ```
    /// let h = lockprof::thread::spawn(|| ());
    /// while !h.is_finished() {
    ///     lockprof::thread::yield_now();
    /// }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}
