//! The header every instrumented lock embeds: who holds it, where they took it, its id (from
//! its first acquisition), and whether the registry or the lock-order graph knows it.
//!
//! # Registration is lazy
//!
//! A lock gets an id on its first acquisition, from the thread's own block of ids (no shared
//! counter touched per lock, see [`crate::locks::next_id`]), and enters the registry only when
//! something refers to it: a lock-order edge, a wait for it, a write of a reader-writer lock
//! (the order analysis needs to know), a caller of [`LockState::id`], or, when a trace will be
//! written, its first acquisition if it is named or neither a mutex nor a reader-writer lock
//! (an unnamed mutex or reader-writer lock only takes a statistics block, which the trace reads,
//! see `crate::lock_stats`; it registers at its drop if the registry still keeps dropped
//! locks' figures). A lock-order edge also marks the lock [`ORDERED`], so
//! that its drop tells the order graph. The edge's recording thread has the acquired lock's
//! header at hand, but not the held ones': their holds are marked, and their releases register
//! them. A lock that never took part in anything costs no global lock and no allocation at
//! creation, first acquisition or drop.
//!
//! This module holds the header and what the detector reads of it; how a lock call goes through
//! it (`lock`, `try_lock`, `releasing`) is in its child module `acquire`.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::lock_name::LockName;
use crate::lock_stats::{LockStats, StatsBlock};
use lockprof_trace::{Access, LockKind};

mod acquire;
// Re-exported by the crate root, not from here: the async hold path imports upward (the trace
// writer, contention), and this header must not import it back.
pub(crate) mod async_hold;
mod hold;

/// What [`LockState::releasing`] leaves for [`LockState::released`] to do after the raw lock is
/// released: the start of the contended part of the hold (0: nothing to charge).
#[must_use = "pass it to `LockState::released` once the raw lock is released"]
#[derive(Debug)]
pub struct Release(u64);

/// The holder word: thread id in the low 60 bits, access code in the high 4.
const OWNER_ACCESS_SHIFT: u32 = 60;

/// [`LockState::flags`]: a reader-writer lock was taken for writing (told to the registry).
const WRITTEN: u8 = 1;
/// [`LockState::flags`]: a semaphore's capacity was told to the registry.
const CAPACITY_NOTED: u8 = 2;
/// [`LockState::flags`]: a semaphore's use as a signal was told to the registry.
const SIGNAL_NOTED: u8 = 4;
/// [`LockState::flags`]: the registry has an entry for the lock (until its drop).
const REGISTERED: u8 = 8;
/// [`LockState::flags`]: a lock-order edge refers (or referred) to the lock: its drop asks the
/// order graph whether to keep the edges.
const ORDERED: u8 = 16;
/// [`LockState::flags`]: one thread claimed the lock while it was fresh (no edge referred to
/// it), and may keep edges into it in its batch (`crate::order_batch`).
const PENDING: u8 = 32;

/// The largest outstanding-permit count kept exactly; larger counts are stored as this, and the
/// detector then never relies on them.
pub(crate) const SATURATED_OUTSTANDING: u32 = 0x7FFF_FFFF;

/// A semaphore's counters as the detector sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PermitCounts {
    /// Permits free now.
    pub available: u32,
    /// Permits held through guards (a forgotten guard's permit stays counted: no thread will
    /// ever return it, so a wait for it is never reported).
    pub outstanding: u32,
    /// `add_permits` was called: permits can appear from a thread that holds none, so no wait
    /// on this semaphore is ever provably permanent.
    pub signal: bool,
}

/// Per-lock profiler state, embedded in each instrumented lock. `const`-constructible so that
/// `static M: lockprof::Mutex<u64> = lockprof::Mutex::new(0);` works.
///
/// ```
/// use lockprof_profiler::{LockKind, LockName, LockState};
/// static STATE: LockState = LockState::new(LockKind::Mutex, None);
/// assert_eq!(STATE.site().file(), file!());
/// let named = LockState::new(LockKind::Condvar, Some(LockName::new(format!("queue-{}", 3))));
/// assert_eq!(named.name(), Some("queue-3"));
/// ```
pub struct LockState {
    /// The exclusive (or upgradable) holder: thread id and access, 0 when none. Written only by
    /// the holder, while it holds the raw lock: set (Release) after acquiring, cleared (Release)
    /// before releasing. So a non-zero value names a thread that holds the lock, and the
    /// detector reads it with Acquire. Shared holders are not recorded here (there can be many);
    /// the detector learns them from the held sets that waiting threads publish.
    owner: AtomicU64,
    /// Where the current holder acquired it (the `#[track_caller]` location of its lock call).
    acquired_at: AtomicPtr<Location<'static>>,
    /// The lock's id, 0 until it is first acquired (see [`crate::locks::next_id`]).
    id: AtomicU64,
    /// Contention statistics (a block from `lock_stats`, which the registry may share), null
    /// unless contention is profiled.
    stats: AtomicPtr<StatsBlock>,
    /// When the current hold started making someone wait (profiler clock, ns; 0: nobody). See
    /// `lock_state/hold.rs`.
    waited_since: AtomicU64,
    /// Profiled waiters queued for the lock right now (counted only when contention is
    /// profiled), so that a hand-over to one of several waiters charges the next holder too.
    waiters: AtomicU32,
    /// Semaphores: available (low 32 bits), outstanding (next 31), signal (top bit).
    /// Reader-writer locks: how many timed exclusive attempts are in flight (a writer that may
    /// give up, so readers queued behind it are not provably stuck).
    permits: AtomicU64,
    /// What the registry has been told once in the lock's life ([`WRITTEN`], ...), so that it
    /// is told only once.
    flags: AtomicU8,
    site: &'static Location<'static>,
    name: Option<LockName>,
    kind: LockKind,
}

impl LockState {
    /// A header for a lock created at the caller's location.
    #[track_caller]
    pub const fn new(kind: LockKind, name: Option<LockName>) -> Self {
        LockState {
            owner: AtomicU64::new(0),
            acquired_at: AtomicPtr::new(ptr::null_mut()),
            id: AtomicU64::new(0),
            stats: AtomicPtr::new(ptr::null_mut()),
            waited_since: AtomicU64::new(0),
            waiters: AtomicU32::new(0),
            permits: AtomicU64::new(0),
            flags: AtomicU8::new(0),
            site: Location::caller(),
            name,
            kind,
        }
    }

    /// Where the lock was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The name given at creation, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(LockName::as_str)
    }

    /// The primitive this header belongs to.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// The contention statistics, if they are kept.
    #[inline]
    pub(crate) fn stats(&self) -> Option<&LockStats> {
        // SAFETY: `stats` is null or a pointer from a `&'static StatsBlock` (blocks are never
        // deallocated), which this header owns until it is dropped (see `Drop`).
        unsafe { self.stats.load(Ordering::Acquire).as_ref() }.map(|block| &block.stats)
    }

    /// Semaphores: publishes the counters the detector needs (call after every change, under
    /// the semaphore's own lock).
    /// Counts that do not fit are saturated (outstanding at 2³¹ - 1), and the detector never
    /// relies on a saturated count.
    pub fn set_permit_counts(&self, available: u32, outstanding: u32, signal: bool) {
        let outstanding = u64::from(outstanding.min(SATURATED_OUTSTANDING));
        let word = u64::from(available) | (outstanding << 32) | (u64::from(signal) << 63);
        self.permits.store(word, Ordering::Release);
        self.note_permits(word);
    }

    /// Tells the registry a semaphore's capacity from its permit word, if it is registered and
    /// has not been told (or has just become a signal).
    fn note_permits(&self, word: u64) {
        let (available, outstanding, signal) =
            (word as u32, ((word >> 32) & 0x7FFF_FFFF) as u32, word >> 63 == 1);
        let id = self.id.load(Ordering::Relaxed);
        let flags = self.flags.load(Ordering::Acquire);
        if flags & REGISTERED != 0 && (flags & CAPACITY_NOTED == 0 || (signal && flags & SIGNAL_NOTED == 0)) {
            self.note_capacity(id, available.saturating_add(outstanding), signal);
        }
    }

    /// Tells the registry a semaphore's capacity (the lock-order analysis needs it to know
    /// that a cycle needs more permits than there are), or that it has none fixed (a signal).
    #[cold]
    fn note_capacity(&self, id: u64, capacity: u32, signal: bool) {
        self.flags.fetch_or(CAPACITY_NOTED | if signal { SIGNAL_NOTED } else { 0 }, Ordering::Relaxed);
        crate::locks::note_capacity(id, (!signal).then_some(capacity));
    }

    /// Reader-writer locks: notes that the lock is being taken for writing, the first time.
    #[inline]
    pub(crate) fn note_written(&self, id: u64) {
        if self.kind == LockKind::RwLock && self.flags.load(Ordering::Relaxed) & WRITTEN == 0 {
            self.first_write(id);
        }
    }

    #[cold]
    #[inline(never)]
    fn first_write(&self, id: u64) {
        // Registered, so that the order analysis (and the `panic` policy at record time) knows
        // the lock is written; the registration copies the flag.
        let before = self.flags.fetch_or(WRITTEN, Ordering::AcqRel);
        if before & REGISTERED != 0 {
            crate::locks::note_written(id);
        } else {
            self.register(id);
        }
    }

    /// Marks the lock as referred to by a lock-order edge, and registers it (so that the trace
    /// can name it): called by the thread acquiring it or releasing it, which has the header at
    /// hand.
    #[inline]
    pub(crate) fn note_ordered(&self, id: u64) {
        if self.flags.load(Ordering::Acquire) & (ORDERED | REGISTERED) != ORDERED | REGISTERED {
            self.first_order(id);
        }
    }

    /// Claims the lock for the calling thread's batch of edges, if no edge has referred to it
    /// and nobody has claimed it; with what its registry entry needs. Never under
    /// `LOCKPROF_ON_INVERSION=panic` (the panic needs every edge in the graph at once).
    pub(crate) fn claim_fresh(&self) -> Option<crate::order_batch::FreshLock> {
        if crate::config::config().on_inversion == crate::config::InversionPolicy::Panic
            || self.flags.load(Ordering::Acquire) & (ORDERED | PENDING) != 0
        {
            return None;
        }
        let before = self.flags.fetch_or(PENDING, Ordering::AcqRel);
        (before & (ORDERED | PENDING) == 0).then(|| crate::order_batch::FreshLock {
            kind: self.kind,
            site: self.site,
            name: if before & REGISTERED != 0 { None } else { self.name.as_ref().map(LockName::to_cow) },
            registered: before & REGISTERED != 0,
        })
    }

    #[cold]
    #[inline(never)]
    fn first_order(&self, id: u64) {
        self.flags.fetch_or(ORDERED, Ordering::AcqRel);
        self.ensure_registered(id);
    }

    /// Runs a timed acquisition attempt. On a reader-writer lock, an exclusive or upgradable one is
    /// counted as in flight meanwhile: such a writer may set the writer mark and lift it again
    /// when it gives up, so readers queued behind it are not provably stuck while it runs.
    pub(crate) fn timed_attempt(&self, access: Access, attempt: impl FnOnce() -> bool) -> bool {
        let counted =
            self.kind == LockKind::RwLock && matches!(access, Access::Exclusive | Access::Upgradable);
        if counted {
            // In flight (low half) and started (high half, wrapping): an attempt that starts
            // between two reads of the detector changes the word even if it is over by the second.
            self.permits.fetch_add(1 | (1 << 32), Ordering::SeqCst);
        }
        let acquired = attempt();
        if counted {
            self.permits.fetch_sub(1, Ordering::SeqCst);
        }
        acquired
    }

    /// Reader-writer locks: timed exclusive attempts, in flight (low 32 bits) and started (high
    /// 32 bits). The detector compares the whole word between its passes.
    pub(crate) fn timed_writers(&self) -> u64 {
        self.permits.load(Ordering::SeqCst)
    }

    pub(crate) fn permit_counts(&self) -> PermitCounts {
        let word = self.permits.load(Ordering::Acquire);
        PermitCounts {
            available: word as u32,
            outstanding: ((word >> 32) & 0x7FFF_FFFF) as u32,
            signal: word >> 63 == 1,
        }
    }

    /// The exclusive (or upgradable) holder's thread id, access and acquisition site, as the
    /// detector sees them.
    pub(crate) fn holder(&self) -> Option<(u64, Access, &'static Location<'static>)> {
        let word = self.owner.load(Ordering::SeqCst);
        if word == 0 {
            return None;
        }
        let at = self.acquired_at.load(Ordering::Relaxed);
        // SAFETY: `acquired_at` only ever holds null or a `&'static Location` stored by
        // `acquired_as`; it is non-null whenever `owner` is non-zero, because it was stored
        // first and the Acquire-ordered (SeqCst) load of `owner` above synchronises with that
        // store.
        let at = unsafe { at.as_ref() }.unwrap_or(self.site);
        let thread = word & ((1 << OWNER_ACCESS_SHIFT) - 1);
        Some((thread, crate::tag::from_code(word >> OWNER_ACCESS_SHIFT), at))
    }

    /// A thread's lifetime ([`LockKind::Thread`]): records the calling thread as the exclusive
    /// holder in the owner word only, without a held-stack entry (so the locks the thread takes
    /// meanwhile keep their fast path and get no order edge from it). See `crate::waits::join`.
    pub(crate) fn own_without_holding(&self, at: &'static Location<'static>) {
        let thread = crate::local::current_thread_id();
        self.acquired_at.store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
        self.owner
            .store(thread | (crate::tag::code(Access::Exclusive) << OWNER_ACCESS_SHIFT), Ordering::Release);
    }

    /// Clears the owner word set by [`LockState::own_without_holding`] (by the same thread).
    pub(crate) fn disown(&self) {
        self.owner.store(0, Ordering::Release);
    }

    /// The lock's id, registering the lock (see the module docs) if it is not yet.
    #[inline]
    pub fn id(&self) -> u64 {
        let id = self.allocated_id();
        self.ensure_registered(id);
        id
    }

    /// The lock's id, giving it one on first call (without registering it).
    #[inline]
    pub(crate) fn allocated_id(&self) -> u64 {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 { id } else { self.allocate_id() }
    }

    #[cold]
    #[inline(never)]
    fn allocate_id(&self) -> u64 {
        // A lock that takes a statistics block takes its id with it: the block's attachment (one
        // compare-exchange) decides the id, which every thread then copies from the block (the
        // same value), so that its first acquisition costs one atomic read-modify-write, not two.
        if self.takes_block()
            && let Some(block) = self.stats_block(0)
        {
            let id = block.id();
            self.id.store(id, Ordering::Release);
            return id;
        }
        let fresh = crate::locks::next_id();
        // Two threads may acquire a fresh lock at once: one id wins, the other is never used
        // (ids need not be dense).
        match self.id.compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => fresh,
            Err(winner) => winner,
        }
    }

    /// Registers the lock (id `id`) unless the registry has it already.
    #[inline]
    pub(crate) fn ensure_registered(&self, id: u64) {
        if self.flags.load(Ordering::Acquire) & REGISTERED == 0 {
            self.register(id);
        }
    }

    /// Whether the lock gets a statistics block on its first acquisition without registering:
    /// contention is profiled, and it is an unnamed mutex or reader-writer lock (the trace lists
    /// it from its block; see `crate::lock_stats`). Its id then comes with the block.
    pub(crate) fn takes_block(&self) -> bool {
        self.name.is_none()
            && matches!(self.kind, LockKind::Mutex | LockKind::RwLock)
            && crate::lock_stats::kept()
    }

    /// The lock's statistics block, attached now if contention is profiled and it has none: once
    /// per lock, a racing attachment reuses the winner's. `id` 0: the lock has no id yet, and the
    /// block brings a fresh one (see `allocate_id`).
    pub(crate) fn stats_block(&self, id: u64) -> Option<&'static StatsBlock> {
        let current = self.stats.load(Ordering::Acquire);
        // SAFETY: as in `stats`: null or from a `&'static StatsBlock`.
        if let Some(block) = unsafe { current.as_ref() } {
            return Some(block);
        }
        if !crate::lock_stats::kept() {
            return None;
        }
        let id = if id == 0 { crate::locks::next_id() } else { id };
        let fresh = crate::lock_stats::take(id, self.kind, self.site);
        match self.stats.compare_exchange(
            ptr::null_mut(),
            ptr::from_ref(fresh).cast_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(fresh),
            Err(winner) => {
                // Never shared: this thread is its only owner.
                fresh.header_drops(false);
                // SAFETY: as in `stats`; non-null, since the exchange from null failed.
                unsafe { winner.as_ref() }
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn register(&self, id: u64) {
        let stats = self.stats_block(id);
        let flags = self.flags.load(Ordering::Acquire);
        crate::locks::register(
            id,
            self.kind,
            self.site,
            self.name.as_ref().map(LockName::to_cow),
            stats,
            flags & WRITTEN != 0,
        );
        let before = self.flags.fetch_or(REGISTERED, Ordering::AcqRel);
        // A first write between the load above and the registration: tell it again (the
        // read-modify-writes of `flags` are ordered, so one of the two sees the other's bit).
        if before & WRITTEN != 0 && flags & WRITTEN == 0 {
            crate::locks::note_written(id);
        }
        // A semaphore's counters, if it has published them (its first acquisition registers it
        // before: then the next publication tells the capacity).
        let word = self.permits.load(Ordering::Acquire);
        if self.kind == LockKind::Semaphore && word != 0 {
            self.note_permits(word);
        }
    }
}

impl Drop for LockState {
    /// Forgets the lock, unless a finding or a lock-order edge still refers to it. A lock that
    /// never took part in anything has nothing to forget: no global lock is taken.
    fn drop(&mut self) {
        let id = *self.id.get_mut();
        // A lock that never registered but has contention figures registers now, so that the
        // registry keeps them (within its bound) as it keeps a registered lock's.
        if *self.flags.get_mut() & REGISTERED == 0
            && self.stats().is_some_and(|s| s.acquisitions.load(Ordering::Relaxed) > 0)
            && crate::locks::keeping_figures()
        {
            self.register(id);
        }
        let flags = *self.flags.get_mut();
        // The order graph outside the registry's shard lock (never taken under it).
        // A registered lock may be ordered without its header knowing: an edge out of it (or
        // gated by it) recorded in the graph while it was registered only marks its registry
        // entry (`lock_order::noted`). Then the graph must decide, with its batched edges.
        let ordered_elsewhere = || flags & REGISTERED != 0 && crate::locks::is_ordered(id);
        if flags & PENDING != 0
            && flags & ORDERED == 0
            && !ordered_elsewhere()
            && crate::order_batch::discard(id, self.site)
        {
            // A pure sink whose edges were all in this thread's batch: gone, as the graph would
            // have forgotten them.
            if flags & REGISTERED != 0 && crate::locks::unregister(id, None) {
                let kept_by_order = crate::lock_order::lock_dropped(id);
                crate::locks::unregister(id, Some(kept_by_order));
            }
        } else if flags & PENDING != 0 {
            // Its edges may be in any thread's batch: all into the graph, which decides.
            let sources = crate::order_batch::sources_of(id);
            crate::order_batch::flush_all();
            let kept_by_order = crate::lock_order::lock_dropped(id);
            // Registered by the flush, perhaps, if not before.
            crate::locks::unregister(id, Some(kept_by_order));
            crate::order_batch::note_classes_known(&sources, self.site);
        } else if flags & ORDERED != 0 {
            // Edges out of it may wait in any thread's batch (a fresh lock taken under it there):
            // all into the graph first, or a cycle through them would be decided without them.
            crate::order_batch::flush_all();
            let kept_by_order = crate::lock_order::lock_dropped(id);
            if flags & REGISTERED != 0 {
                crate::locks::unregister(id, Some(kept_by_order));
            }
        } else if flags & REGISTERED != 0 && crate::locks::unregister(id, None) {
            // Its edges were recorded while it was held by a guard never released (forgotten).
            let kept_by_order = crate::lock_order::lock_dropped(id);
            crate::locks::unregister(id, Some(kept_by_order));
        }
        // SAFETY: as in `stats`: null or from a `&'static StatsBlock`.
        if let Some(block) = unsafe { self.stats.get_mut().as_ref() } {
            // Only a registration made a registry entry that may share it.
            block.header_drops(flags & REGISTERED != 0);
        }
    }
}

impl std::fmt::Debug for LockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockState")
            .field("kind", &self.kind)
            .field("site", &format_args!("{}", self.site))
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
