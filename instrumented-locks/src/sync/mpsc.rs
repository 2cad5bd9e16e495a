//! [`lockprof::sync::mpsc`](crate::sync::mpsc): `std::sync::mpsc` with its blocking waits known
//! to lockprof.
//!
//! Thin wrappers over std's channels, with std's API: [`channel`], [`sync_channel`] (including
//! the rendezvous `sync_channel(0)`), [`Sender`], [`SyncSender`], [`Receiver`] and its
//! iterators; the error types are std's own. A blocking [`Receiver::recv`] and a blocking
//! [`SyncSender::send`] (a full bounded channel, or a rendezvous with no receiver waiting) are
//! *signal waits*: lockprof does not know which thread will send (senders move between threads,
//! so it never guesses), but when every thread of the process is asleep in waits it knows, and
//! no send, receive or dropped end has happened since, the deadlock is reported at once (the
//! all-asleep rule, see the README). Timed waits (`recv_timeout`) are std's, unpublished.
//!
//! ```
//! use lockprof::sync::mpsc;
//! let (tx, rx) = mpsc::sync_channel(1);
//! let worker = std::thread::spawn(move || rx.iter().sum::<i32>());
//! for n in 1..=4 {
//!     tx.send(n).unwrap();
//! }
//! drop(tx);
//! assert_eq!(worker.join().unwrap(), 10);
//! ```

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use lockprof_profiler::{LockKind, LockState, Signal, SignalShape};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

/// What both ends of a channel share: its header (id, creation site, for reports) and its
/// progress counters: `sent`, moved by every send (the events a receive waits for), and
/// `received`, moved by every receive of a bounded channel (the events a full send waits for);
/// a dropped end moves both. Each on its own cache line, so that a producer and a consumer do not
/// write one line.
struct Shared {
    state: LockState,
    sent: Line,
    received: Line,
    /// A bounded channel, whose senders can wait for a receive.
    bounded: bool,
    /// `sync_channel(0)`.
    rendezvous: bool,
    /// Senders in their grace period: they wait on `room` for at most the grace period (std has
    /// no timed send), woken by receives while there are any.
    grace_senders: AtomicUsize,
    room_lock: std::sync::Mutex<()>,
    room: std::sync::Condvar,
}

/// A progress counter alone on its cache line (128 bytes: two lines on x86's adjacent-line
/// prefetch).
#[repr(align(128))]
struct Line(Signal);

impl Shared {
    #[track_caller]
    fn new(bounded: bool, rendezvous: bool) -> Arc<Shared> {
        // A channel's sends and receives may never wait: the trace is written at exit anyway.
        lockprof_profiler::install_exit_hook();
        let state = LockState::new(LockKind::Channel, None);
        Arc::new(Shared {
            state,
            sent: Line(Signal::new()),
            received: Line(Signal::new()),
            bounded,
            rendezvous,
            grace_senders: AtomicUsize::new(0),
            room_lock: std::sync::Mutex::new(()),
            room: std::sync::Condvar::new(),
        })
    }

    /// Wakes the senders in their grace period, if any (a receive made room, or a receiver of a
    /// rendezvous channel is about to wait).
    #[inline]
    fn wake_grace_senders(&self) {
        if self.grace_senders.load(Ordering::Relaxed) != 0 {
            let _room = self.room_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.room.notify_all();
        }
    }
}

/// Back-off steps of a receive that finds the channel empty (spinning 1, 2, 4, ... 2^5 times,
/// then its grace period) or of a send that finds it full (then it is published and blocks).
const SPIN_STEPS: u32 = 6;

/// Creates an unbounded channel, as [`std::sync::mpsc::channel`].
///
/// ```
/// let (tx, rx) = lockprof::sync::mpsc::channel();
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// ```
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = std_mpsc::channel();
    let shared = Shared::new(false, false);
    (Sender { inner: tx, shared: End(Arc::clone(&shared)) }, Receiver { inner: rx, shared: End(shared) })
}

/// Creates a bounded channel of `bound` messages, as [`std::sync::mpsc::sync_channel`];
/// `sync_channel(0)` is a rendezvous: each send waits for a receive.
///
/// ```
/// let (tx, rx) = lockprof::sync::mpsc::sync_channel(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).is_err()); // full
/// assert_eq!(rx.recv(), Ok(1));
/// ```
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (tx, rx) = std_mpsc::sync_channel(bound);
    let shared = Shared::new(true, bound == 0);
    (SyncSender { inner: tx, shared: End(Arc::clone(&shared)) }, Receiver { inner: rx, shared: End(shared) })
}

/// The sending half of [`channel`], as [`std::sync::mpsc::Sender`]: `Clone`, `Send`, `Sync`.
pub struct Sender<T> {
    inner: std_mpsc::Sender<T>,
    /// Last: dropped after `inner` (see [`End`]).
    shared: End,
}

impl<T> Sender<T> {
    /// Sends a value; never blocks. `Err` (with the value) if the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = lockprof::sync::mpsc::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(5).unwrap_err().0, 5);
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        let sent = self.inner.send(t);
        self.shared.sent.0.mark();
        sent
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { inner: self.inner.clone(), shared: self.shared.clone() }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The sending half of [`sync_channel`], as [`std::sync::mpsc::SyncSender`].
pub struct SyncSender<T> {
    inner: std_mpsc::SyncSender<T>,
    /// Last: dropped after `inner` (see [`End`]).
    shared: End,
}

impl<T> SyncSender<T> {
    /// Sends a value, waiting while the channel is full (for a rendezvous channel, until a
    /// receiver takes it). `Err` (with the value) if the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = lockprof::sync::mpsc::sync_channel(0);
    /// let t = std::thread::spawn(move || tx.send(3).unwrap());
    /// assert_eq!(rx.recv(), Ok(3));
    /// t.join().unwrap();
    /// ```
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        match self.inner.try_send(t) {
            Ok(()) => {
                self.shared.sent.0.mark();
                Ok(())
            }
            Err(TrySendError::Disconnected(t)) => Err(SendError(t)),
            Err(TrySendError::Full(t)) => self.send_blocking(t, Location::caller()),
        }
    }

    #[cold]
    #[inline(never)]
    fn send_blocking(&self, mut t: T, at: &'static Location<'static>) -> Result<(), SendError<T>> {
        // A few retries, backing off as std's own send does before it blocks; then a grace
        // period, as a blocked lock gets, waiting for a receive (std has no timed send).
        for step in 0..SPIN_STEPS {
            for _ in 0..1u32 << step {
                std::hint::spin_loop();
            }
            match self.inner.try_send(t) {
                Ok(()) => {
                    self.shared.sent.0.mark();
                    return Ok(());
                }
                Err(TrySendError::Disconnected(back)) => return Err(SendError(back)),
                Err(TrySendError::Full(back)) => t = back,
            }
        }
        let shared = &self.shared;
        let grace = lockprof_profiler::config().grace;
        // (A rendezvous send hands over only to a receiver inside std's wait, which a grace
        // period here cannot see coming: it waits in std's send, published, at once.)
        if !grace.is_zero() && !shared.rendezvous {
            match self.send_within(t, grace) {
                Ok(()) => {
                    shared.sent.0.mark();
                    return Ok(());
                }
                Err(TrySendError::Disconnected(back)) => return Err(SendError(back)),
                Err(TrySendError::Full(back)) => t = back,
            }
        }
        // The counter is read before the last retry (see `lockprof_profiler::Signal`).
        let seen = shared.received.0.progress();
        let sent = match self.inner.try_send(t) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(back)) => Err(SendError(back)),
            Err(TrySendError::Full(back)) => {
                let counter = shared.received.0.counter();
                shared.state.signal_wait(at, counter, seen, SignalShape::Send, || self.inner.send(back))
            }
        };
        if sent.is_ok() {
            shared.sent.0.mark();
        }
        sent
    }

    /// Retries `try_send` for at most `grace`, woken by receives: a timed send, unpublished (a
    /// timed wait never takes part in a deadlock).
    fn send_within(&self, mut t: T, grace: Duration) -> Result<(), TrySendError<T>> {
        let shared = &self.shared;
        let deadline = std::time::Instant::now() + grace;
        shared.grace_senders.fetch_add(1, Ordering::SeqCst);
        let mut room = shared.room_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = 'waiting: loop {
            // After each wake-up a few retries with back-off: a rendezvous receiver wakes this
            // sender just before it enters std's wait, where the hand-over can happen.
            for step in 0..SPIN_STEPS {
                match self.inner.try_send(t) {
                    Err(TrySendError::Full(back)) => t = back,
                    done => break 'waiting done,
                }
                for _ in 0..1u32 << step {
                    std::hint::spin_loop();
                }
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                break Err(TrySendError::Full(t));
            }
            room = match shared.room.wait_timeout(room, deadline - now) {
                Ok((room, _)) => room,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        drop(room);
        shared.grace_senders.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Sends a value if there is room now (or, for a rendezvous channel, a receiver waiting).
    ///
    /// ```
    /// use lockprof::sync::mpsc::{sync_channel, TrySendError};
    /// let (tx, _rx) = sync_channel(0);
    /// assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    /// ```
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        let sent = self.inner.try_send(t);
        if sent.is_ok() {
            self.shared.sent.0.mark();
        }
        sent
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender { inner: self.inner.clone(), shared: self.shared.clone() }
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

/// The receiving half of a channel, as [`std::sync::mpsc::Receiver`]: `Send`, not `Sync`.
pub struct Receiver<T> {
    inner: std_mpsc::Receiver<T>,
    /// Last: dropped after `inner` (see [`End`]).
    shared: End,
}

impl<T> Receiver<T> {
    /// Receives a value if one is there now.
    ///
    /// ```
    /// use lockprof::sync::mpsc::{channel, TryRecvError};
    /// let (tx, rx) = channel::<i32>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let got = self.inner.try_recv();
        if got.is_ok() {
            self.after_receive();
        }
        got
    }

    /// Waits for a value. `Err` once every sender is gone and the channel is empty.
    ///
    /// ```
    /// let (tx, rx) = lockprof::sync::mpsc::channel();
    /// std::thread::spawn(move || tx.send("hi").unwrap());
    /// assert_eq!(rx.recv(), Ok("hi"));
    /// assert!(rx.recv().is_err()); // the sender is gone
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        match self.inner.try_recv() {
            Ok(t) => {
                self.after_receive();
                Ok(t)
            }
            Err(TryRecvError::Disconnected) => Err(RecvError),
            Err(TryRecvError::Empty) => self.recv_blocking(Location::caller()),
        }
    }

    #[cold]
    #[inline(never)]
    fn recv_blocking(&self, at: &'static Location<'static>) -> Result<T, RecvError> {
        // A few retries, backing off as std's own receive does before it blocks, then a grace
        // period, as a blocked lock gets: most waits end within them, unpublished.
        for step in 0..SPIN_STEPS {
            for _ in 0..1u32 << step {
                std::hint::spin_loop();
            }
            match self.inner.try_recv() {
                Ok(t) => {
                    self.after_receive();
                    return Ok(t);
                }
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {}
            }
        }
        let grace = lockprof_profiler::config().grace;
        if !grace.is_zero() {
            match self.inner.recv_timeout(grace) {
                Ok(t) => {
                    self.after_receive();
                    return Ok(t);
                }
                Err(RecvTimeoutError::Disconnected) => return Err(RecvError),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        // The counter is read before the last retry (see `lockprof_profiler::Signal`).
        let shared = &self.shared;
        let seen = shared.sent.0.progress();
        let got = match self.inner.try_recv() {
            Ok(t) => Ok(t),
            Err(TryRecvError::Disconnected) => Err(RecvError),
            Err(TryRecvError::Empty) => {
                let counter = shared.sent.0.counter();
                shared.state.signal_wait(at, counter, seen, SignalShape::Receive, || self.inner.recv())
            }
        };
        if got.is_ok() {
            self.after_receive();
        }
        got
    }

    /// Waits for a value for at most `timeout` (std's own wait, not published: a timed wait
    /// never takes part in a deadlock).
    ///
    /// ```
    /// use std::time::Duration;
    /// use lockprof::sync::mpsc::{channel, RecvTimeoutError};
    /// let (_tx, rx) = channel::<u8>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let got = self.inner.recv_timeout(timeout);
        if got.is_ok() {
            self.after_receive();
        }
        got
    }

    /// An iterator that waits for each value, ending when every sender is gone.
    ///
    /// ```
    /// let (tx, rx) = lockprof::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values there now, without waiting.
    ///
    /// ```
    /// let (tx, rx) = lockprof::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// A receive made room in a bounded channel: a waiting sender may go on.
    #[inline]
    fn after_receive(&self) {
        if self.shared.bounded {
            self.shared.received.0.mark();
            self.shared.wake_grace_senders();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// An end's share of the channel. It is the end's last field, so it is dropped after the std
/// half: a dropped end (which may disconnect the channel, ending the other side's waits with an
/// error) is counted once it has happened, as a send is.
struct End(Arc<Shared>);

impl std::ops::Deref for End {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Clone for End {
    fn clone(&self) -> Self {
        End(Arc::clone(&self.0))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        self.0.sent.0.mark();
        self.0.received.0.mark();
    }
}

/// Waits for each value, as [`std::sync::mpsc::Iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// The values there now, as [`std::sync::mpsc::TryIter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Waits for each value of an owned receiver, as [`std::sync::mpsc::IntoIter`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
