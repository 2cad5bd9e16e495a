//! A thread's lock-order edges into *fresh* locks, kept in a small per-thread batch instead of
//! the global graph, so that short-lived locks taken under held ones (a million fresh mutexes
//! locked under one held mutex) cost no global lock per lock.
//!
//! # Which edges wait here
//!
//! An edge `A → B` waits in the recording thread's batch when `B` is fresh: no edge has referred
//! to it yet, and this thread has *claimed* it (the `PENDING` flag of its header, set once, so
//! no other thread ever batches edges into `B`); and the stack for the pair of acquisition
//! sites is already in the graph (the first edge of each pair of sites goes to the graph, which
//! captures its stack on the recording thread). Under `LOCKPROF_ON_INVERSION=panic` nothing
//! waits: the panic needs the whole graph at once.
//!
//! # When they leave
//!
//! - **Discarded** when `B` is dropped by the claiming thread while its edges are still here, `B`
//!   is still a pure sink (no edge here starts from it, and no other thread recorded an edge
//!   into it: that would have marked it `ORDERED`), and each edge's pair of classes (`A`,
//!   `B`'s creation site) already has its kept edge in the graph (this thread saw one dropped
//!   before). That is exactly what the graph would do on `B`'s drop: a lock with no edge out
//!   of it is on no cycle, so its edges are forgotten, except one per pair of lock classes.
//! - **Flushed** into the graph, in order, with the sequence numbers they got when they were
//!   taken (so the lifetime rule sees them as they happened): when the batch is full; before
//!   the thread blocks in a lock wait (a deadlocked thread keeps nothing here); at the thread's
//!   exit; before any trace is taken (every thread's batch); and when a claimed lock is dropped
//!   and the conditions above do not hold (every batch, then the graph decides as usual).
//!
//! Each batch is behind a spin flag ([`Batch`]) that its own thread takes for a push or a
//! discard (never contended but by a flush of every batch), listed in a global registry so that
//! a trace can flush them.

use std::borrow::Cow;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use lockprof_trace::{Access, LockKind};

use crate::lock_order::Occurrence;

/// Edges a batch holds at most: past it, it is flushed.
const BATCH: usize = 64;

/// Slots of the per-thread caches of known pairs (a power of two).
const KNOWN_SLOTS: usize = 64;

/// What a fresh lock's registry entry needs, when it is not registered yet: made when its
/// edges are flushed (so that the trace names it).
pub(crate) struct FreshLock {
    pub kind: LockKind,
    pub site: &'static Location<'static>,
    pub name: Option<Cow<'static, str>>,
    pub registered: bool,
}

/// One edge occurrence waiting in a batch.
pub(crate) struct PendingEdge {
    pub occurrence: Occurrence,
    pub to: u64,
    pub to_access: Access,
    pub timed: bool,
    pub to_at: &'static Location<'static>,
    pub to_site: &'static Location<'static>,
    pub thread: u64,
    pub seq: u64,
    /// The registry entry to make at the flush, if `to` was not registered.
    pub register: Option<LockKind>,
    /// Its name, if it has one and is registered at the flush (boxed: see the size below).
    pub name: Option<Box<Cow<'static, str>>>,
}

// An edge is moved into the batch and out of it once per fresh lock: at most 128 bytes, it is
// moved by a few vector stores instead of a call to `memcpy`.
const _: () = assert!(size_of::<PendingEdge>() <= 128);

/// A thread's batch. Its owner takes it for a few vector operations on every fresh lock taken
/// under a held one, other threads only to flush it: a spin flag costs the owner one atomic
/// exchange (its release is a plain store), where a `Mutex` costs two read-modify-writes. No
/// holder blocks, waits for a lock or calls user code while holding it.
pub(crate) struct Batch {
    busy: AtomicBool,
    edges: UnsafeCell<Vec<PendingEdge>>,
}

// SAFETY: `edges` is reached only through a `BatchGuard`, which exists while its creator alone
// has set `busy` (an Acquire exchange from false), and clears it (Release) when dropped: the
// accesses of successive holders are ordered, never concurrent.
unsafe impl Sync for Batch {}

impl Batch {
    fn new() -> Self {
        Batch { busy: AtomicBool::new(false), edges: UnsafeCell::new(Vec::with_capacity(BATCH)) }
    }

    fn lock(&self) -> BatchGuard<'_> {
        while self.busy.swap(true, Ordering::Acquire) {
            // Held for a few vector operations by its owner, or by a flush.
            std::thread::yield_now();
        }
        BatchGuard(self)
    }
}

/// Access to a [`Batch`]'s edges while holding its flag.
struct BatchGuard<'a>(&'a Batch);

impl Deref for BatchGuard<'_> {
    type Target = Vec<PendingEdge>;
    fn deref(&self) -> &Vec<PendingEdge> {
        // SAFETY: this guard holds the batch's flag (see `Batch`'s `Sync`).
        unsafe { &*self.0.edges.get() }
    }
}

impl DerefMut for BatchGuard<'_> {
    fn deref_mut(&mut self) -> &mut Vec<PendingEdge> {
        // SAFETY: this guard holds the batch's flag (see `Batch`'s `Sync`).
        unsafe { &mut *self.0.edges.get() }
    }
}

impl Drop for BatchGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

/// Every live thread's batch.
fn batches() -> MutexGuard<'static, Vec<Arc<Batch>>> {
    static ALL: OnceLock<Mutex<Vec<Arc<Batch>>>> = OnceLock::new();
    ALL.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner)
}

/// The calling thread's batch; flushed and unlisted when the thread exits.
struct Mine(RefCell<Option<Arc<Batch>>>);

impl Drop for Mine {
    fn drop(&mut self) {
        if let Some(batch) = self.0.get_mut().take() {
            flush(&batch);
            batches().retain(|b| !Arc::ptr_eq(b, &batch));
        }
    }
}

thread_local! {
    static MINE: Mine = const { Mine(RefCell::new(None)) };
    /// Pairs of acquisition sites whose stack the graph has.
    static STACKS_KNOWN: [Cell<(usize, usize)>; KNOWN_SLOTS] = const { [const { Cell::new((0, 0)) }; KNOWN_SLOTS] };
    /// Pairs (lock, creation site) whose pair of classes has its kept edge in the graph.
    static CLASSES_KNOWN: [Cell<(usize, usize)>; KNOWN_SLOTS] = const { [const { Cell::new((0, 0)) }; KNOWN_SLOTS] };
}

fn slot(key: (usize, usize)) -> usize {
    let h = (key.0 as u64 ^ (key.1 as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 58) as usize % KNOWN_SLOTS
}

fn known(
    cache: &'static std::thread::LocalKey<[Cell<(usize, usize)>; KNOWN_SLOTS]>,
    key: (usize, usize),
) -> bool {
    cache.try_with(|c| c[slot(key)].get() == key).unwrap_or(false)
}

fn remember(cache: &'static std::thread::LocalKey<[Cell<(usize, usize)>; KNOWN_SLOTS]>, key: (usize, usize)) {
    let _ = cache.try_with(|c| c[slot(key)].set(key));
}

fn sites(a: &'static Location<'static>, b: &'static Location<'static>) -> (usize, usize) {
    (std::ptr::from_ref(a) as usize, std::ptr::from_ref(b) as usize)
}

/// Whether the graph has the stack of an edge first taken at `from_at` then `to_at` (as far as
/// this thread knows).
pub(crate) fn stack_known(from_at: &'static Location<'static>, to_at: &'static Location<'static>) -> bool {
    known(&STACKS_KNOWN, sites(from_at, to_at))
}

/// Remembers that the graph has the stack of the pair `from_at`, `to_at`.
pub(crate) fn note_stack_known(from_at: &'static Location<'static>, to_at: &'static Location<'static>) {
    remember(&STACKS_KNOWN, sites(from_at, to_at));
}

fn class_key(from: u64, to_site: &'static Location<'static>) -> (usize, usize) {
    (from as usize, std::ptr::from_ref(to_site) as usize)
}

/// Adds `edges` to the calling thread's batch (flushing it first if full). Returns them,
/// unadded, if the thread's storage is being torn down (the caller records them itself).
pub(crate) fn defer<I: ExactSizeIterator<Item = PendingEdge>>(edges: I) -> Option<I> {
    let mut edges = Some(edges);
    let done = MINE.try_with(|mine| {
        let mut mine = mine.0.borrow_mut();
        let batch = mine.get_or_insert_with(|| {
            let batch = Arc::new(Batch::new());
            batches().push(Arc::clone(&batch));
            batch
        });
        let edges = edges.take().expect("taken once");
        let mut pending = batch.lock();
        // One acquisition's edges are never split by a flush: `discard` sees all of a lock's
        // edges here or none (a split would leave the flushed ones in the graph for good).
        if !pending.is_empty() && pending.len() + edges.len() > BATCH {
            drop(pending);
            flush(batch);
            pending = batch.lock();
        }
        pending.extend(edges);
    });
    done.err().and(edges)
}

/// The claiming thread drops fresh lock `id` (created at `site`): discards its edges from the
/// batch if that is what the graph would do (see the module docs). Returns whether it did;
/// if not, the caller flushes every batch and lets the graph decide.
pub(crate) fn discard(id: u64, site: &'static Location<'static>) -> bool {
    MINE.try_with(|mine| {
        let mine = mine.0.borrow();
        let Some(batch) = mine.as_ref() else { return false };
        let mut pending = batch.lock();
        let mut into = 0;
        for e in pending.iter() {
            if e.occurrence.from.lock() == id || (e.to != id && e.occurrence.gates.contains(&id)) {
                return false; // not a pure sink, or a gate of another edge
            }
            if e.to == id {
                if !known(&CLASSES_KNOWN, class_key(e.occurrence.from.lock(), site)) {
                    return false;
                }
                into += 1;
            }
        }
        if into == 0 {
            return false;
        }
        pending.retain(|e| e.to != id);
        true
    })
    .unwrap_or(false)
}

/// The locks this thread's batch has edges from into `id` (before a flush on `id`'s drop, so
/// that the pairs of classes can be remembered once the graph has decided).
pub(crate) fn sources_of(id: u64) -> Vec<u64> {
    MINE.try_with(|mine| {
        let Some(batch) = mine.0.borrow().as_ref().map(Arc::clone) else { return Vec::new() };
        let pending = batch.lock();
        pending.iter().filter(|e| e.to == id).map(|e| e.occurrence.from.lock()).collect()
    })
    .unwrap_or_default()
}

/// Remembers that the pairs of classes of `sources` → a lock created at `site` have their kept
/// edge (the graph has just decided on such a lock's drop).
pub(crate) fn note_classes_known(sources: &[u64], site: &'static Location<'static>) {
    for &from in sources {
        remember(&CLASSES_KNOWN, class_key(from, site));
    }
}

/// Flushes the calling thread's batch into the graph.
pub(crate) fn flush_own() {
    let batch = MINE.try_with(|mine| mine.0.borrow().as_ref().map(Arc::clone)).ok().flatten();
    if let Some(batch) = batch {
        flush(&batch);
    }
}

/// Flushes every thread's batch into the graph (before a trace, or a claimed lock's drop that
/// the graph must decide).
pub(crate) fn flush_all() {
    let all: Vec<Arc<Batch>> = batches().clone();
    for batch in &all {
        flush(batch);
    }
}

/// Moves `batch`'s edges into the graph. The graph's lock is taken first and held from the
/// moment the edges leave the batch until they are in the graph: a lock dropped meanwhile
/// (whose drop flushes every batch, then asks the graph whether the lock is on a cycle) can
/// never find them in neither place. (Lock order: the graph, then a batch's flag.)
fn flush(batch: &Batch) {
    let mut g = crate::lock_order::graph();
    let pending = std::mem::take(&mut *batch.lock());
    for e in &pending {
        if let Some(kind) = e.register {
            crate::locks::register(e.to, kind, e.to_site, e.name.as_deref().cloned(), None, false);
        }
    }
    for e in pending {
        crate::lock_order::record_flushed(&mut g, e);
    }
}
