//! Where per-lock statistics live when contention is profiled: [`StatsBlock`]s carved from
//! chunks that are never returned to the allocator, handed out and taken back through a
//! per-thread pool.
//!
//! # Why not one allocation per lock
//!
//! A traced lock used to allocate its statistics and enter the registry on its first
//! acquisition, so that a trace could list it while alive: a million create-lock-drop cycles cost
//! a million allocations and two million registry operations. A block instead carries what the
//! trace needs to list the lock (id, kind, creation site) beside its counters, and the trace
//! reads every chunk: a lock that nothing else refers to never enters the registry, and its
//! block goes back to the pool of the thread that drops it, with no atomic read-modify-write
//! (nobody else can refer to it then).
//!
//! # Consistency with a concurrent trace
//!
//! A block's identity (live, id, kind, site) is rewritten only by its one owner (the thread that
//! took it from a pool, or that gives it back), as a *seqlock*: the sequence word is odd while
//! it is rewritten. A trace reads the identity and the counters between two reads of the word and
//! keeps the row only if the word is even and unchanged, so it never pairs one lock's id with
//! another's site or counters. The counters themselves are atomics bumped by the lock's users as
//! before.
//!
//! # Ownership
//!
//! The lock's header owns its block from the first acquisition to its drop. A registry entry
//! that refers to the block ([`StatsRef`], made only when the header registers the lock, which
//! then sets its `REGISTERED` flag) counts one reference more; the last reference gives the
//! block back. A header that never registered is the block's only owner at its drop.
//!
//! Memory: the chunks stay allocated, so the blocks in all are the most locks with statistics
//! alive (or kept by the registry) at once, plus at most [`POOL_MAX`] spare ones per thread.

use std::cell::RefCell;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering, fence};
use std::sync::{Mutex, PoisonError};

use lockprof_trace::LockKind;

use super::LockStats;

/// Blocks allocated at once.
const CHUNK: usize = 256;

/// Spare blocks a thread keeps at most; beyond it, they go to the shared free list.
pub const POOL_MAX: usize = 1024;

/// One lock's statistics and what a trace needs to list the lock.
#[derive(Default)]
pub(crate) struct StatsBlock {
    /// The counters the lock's users bump.
    pub stats: LockStats,
    /// Seqlock word: odd while the identity below is rewritten.
    seq: AtomicU64,
    /// A lock owns the block (it is not in a pool).
    live: AtomicBool,
    kind: AtomicU8,
    id: AtomicU64,
    site: AtomicPtr<Location<'static>>,
    /// Owners: the header, and a registry entry if there is one.
    refs: AtomicU32,
}

/// Every chunk ever allocated, for the trace to read.
static CHUNKS: Mutex<Vec<&'static [StatsBlock]>> = Mutex::new(Vec::new());

/// Spare blocks no thread's pool keeps.
static FREE: Mutex<Vec<&'static StatsBlock>> = Mutex::new(Vec::new());

/// The calling thread's spare blocks, returned to [`FREE`] at its exit.
struct Pool(RefCell<Vec<&'static StatsBlock>>);

impl Drop for Pool {
    fn drop(&mut self) {
        let mut spare = std::mem::take(self.0.get_mut());
        FREE.lock().unwrap_or_else(PoisonError::into_inner).append(&mut spare);
    }
}

thread_local! {
    static POOL: Pool = const { Pool(RefCell::new(Vec::new())) };
}

const KINDS: [LockKind; 7] = [
    LockKind::Mutex,
    LockKind::RwLock,
    LockKind::Semaphore,
    LockKind::ReentrantMutex,
    LockKind::Condvar,
    LockKind::Thread,
    LockKind::Once,
];

fn kind_code(kind: LockKind) -> u8 {
    KINDS.iter().position(|&k| k == kind).map_or(0, |i| i as u8)
}

impl StatsBlock {
    /// Runs `write` as a seqlock writer: only by the block's one owner.
    fn rewrite(&self, write: impl FnOnce()) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        write();
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Makes the block lock `id`'s, its counters zeroed, owned by the lock's header alone.
    fn claim(&self, id: u64, kind: LockKind, site: &'static Location<'static>) {
        self.rewrite(|| self.write_identity(id, kind, site));
    }

    fn write_identity(&self, id: u64, kind: LockKind, site: &'static Location<'static>) {
        for counter in [
            &self.stats.acquisitions,
            &self.stats.contended,
            &self.stats.wait_ns,
            &self.stats.max_wait_ns,
            &self.stats.hold_ns,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.live.store(true, Ordering::Relaxed);
        self.kind.store(kind_code(kind), Ordering::Relaxed);
        self.id.store(id, Ordering::Relaxed);
        self.site.store(ptr::from_ref(site).cast_mut(), Ordering::Relaxed);
        self.refs.store(1, Ordering::Relaxed);
    }

    /// The id of the lock that owns the block (stable while it does).
    pub(crate) fn id(&self) -> u64 {
        self.id.load(Ordering::Relaxed)
    }

    /// Gives the block back (its last owner lets go of it).
    fn release(&'static self) {
        // No lock owns it now; the next claim rewrites the rest.
        self.rewrite(|| self.live.store(false, Ordering::Relaxed));
        let pooled = POOL
            .try_with(|pool| {
                let mut pool = pool.0.borrow_mut();
                (pool.len() < POOL_MAX).then(|| pool.push(self)).is_some()
            })
            .unwrap_or(false);
        if !pooled {
            FREE.lock().unwrap_or_else(PoisonError::into_inner).push(self);
        }
    }

    /// The header lets go of its block. `shared`: the lock registered, so a registry entry may
    /// refer to the block too.
    pub(crate) fn header_drops(&'static self, shared: bool) {
        if !shared || self.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.release();
        }
    }
}

/// A block for lock `id` (of `kind`, created at `site`), owned by the caller (the lock's header).
pub(crate) fn take(id: u64, kind: LockKind, site: &'static Location<'static>) -> &'static StatsBlock {
    let block = POOL.try_with(|pool| pool.0.borrow_mut().pop()).ok().flatten().unwrap_or_else(refill);
    block.claim(id, kind, site);
    block
}

/// A spare block when the thread's pool is empty: from the shared free list, or a new chunk; the
/// rest of what was taken goes to the pool.
#[cold]
#[inline(never)]
fn refill() -> &'static StatsBlock {
    let mut spare = {
        let mut free = FREE.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = free.len().saturating_sub(CHUNK);
        free.split_off(keep)
    };
    if spare.is_empty() {
        let chunk: &'static [StatsBlock] =
            Box::leak((0..CHUNK).map(|_| StatsBlock::default()).collect::<Box<[StatsBlock]>>());
        CHUNKS.lock().unwrap_or_else(PoisonError::into_inner).push(chunk);
        spare.extend(chunk.iter());
    }
    let block = spare.pop().unwrap_or_else(|| unreachable!("a chunk is never empty"));
    if let Err(std::thread::AccessError { .. }) = POOL.try_with(|pool| pool.0.borrow_mut().append(&mut spare))
    {
        FREE.lock().unwrap_or_else(PoisonError::into_inner).append(&mut spare);
    }
    block
}

/// A registry entry's reference to a lock's block.
pub(crate) struct StatsRef(&'static StatsBlock);

impl StatsRef {
    /// A reference more to `block`, which its header owns.
    pub(crate) fn new(block: &'static StatsBlock) -> Self {
        block.refs.fetch_add(1, Ordering::Relaxed);
        StatsRef(block)
    }
}

impl Clone for StatsRef {
    fn clone(&self) -> Self {
        StatsRef::new(self.0)
    }
}

impl Drop for StatsRef {
    fn drop(&mut self) {
        if self.0.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.release();
        }
    }
}

impl std::ops::Deref for StatsRef {
    type Target = LockStats;
    fn deref(&self) -> &LockStats {
        &self.0.stats
    }
}

impl std::fmt::Debug for StatsRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.stats.fmt(f)
    }
}

/// A live lock's identity and figures, as one consistent read of its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockRow {
    pub id: u64,
    pub kind: LockKind,
    pub site: &'static Location<'static>,
    pub acquisitions: u64,
    pub contended: u64,
    pub wait_ns: u64,
    pub max_wait_ns: u64,
    pub hold_ns: u64,
}

/// Every block a lock owns now (seqlock readers; a block rewritten meanwhile is skipped: its
/// lock was just dropped, or is just being acquired the first time).
pub(crate) fn live_rows() -> Vec<BlockRow> {
    let chunks: Vec<&'static [StatsBlock]> = CHUNKS.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut rows = Vec::new();
    for block in chunks.iter().flat_map(|chunk| chunk.iter()) {
        let seq = block.seq.load(Ordering::Acquire);
        if seq % 2 == 1 || !block.live.load(Ordering::Relaxed) {
            continue;
        }
        let site = block.site.load(Ordering::Relaxed);
        let row = (
            block.id.load(Ordering::Relaxed),
            block.kind.load(Ordering::Relaxed),
            block.stats.acquisitions.load(Ordering::Relaxed),
            block.stats.contended.load(Ordering::Relaxed),
            block.stats.wait_ns.load(Ordering::Relaxed),
            block.stats.max_wait_ns.load(Ordering::Relaxed),
            block.stats.hold_ns.load(Ordering::Relaxed),
        );
        fence(Ordering::Acquire);
        if block.seq.load(Ordering::Relaxed) != seq {
            continue;
        }
        // SAFETY: `site` was stored from a `&'static Location` by `rewrite`, and the unchanged
        // even sequence word says it belongs with the `live` flag read above (never null then).
        let Some(site) = (unsafe { site.as_ref() }) else { continue };
        let (id, kind, acquisitions, contended, wait_ns, max_wait_ns, hold_ns) = row;
        rows.push(BlockRow {
            id,
            kind: KINDS.get(usize::from(kind)).copied().unwrap_or(LockKind::Mutex),
            site,
            acquisitions,
            contended,
            wait_ns,
            max_wait_ns,
            hold_ns,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_block_is_reused_and_listed_only_while_a_lock_owns_it() {
        let here = Location::caller();
        let first = take(u64::MAX - 1, LockKind::RwLock, here);
        first.stats.acquisitions.store(7, Ordering::Relaxed);
        let row = live_rows().into_iter().find(|r| r.id == u64::MAX - 1);
        assert_eq!(row.map(|r| (r.kind, r.site, r.acquisitions)), Some((LockKind::RwLock, here, 7)));
        // Shared with a registry entry: the header's drop leaves it to the entry.
        let entry = StatsRef::new(first);
        first.header_drops(true);
        assert!(live_rows().iter().any(|r| r.id == u64::MAX - 1), "the entry still owns it");
        assert_eq!(entry.acquisitions.load(Ordering::Relaxed), 7);
        drop(entry);
        assert!(!live_rows().iter().any(|r| r.id == u64::MAX - 1), "given back");
        // The pool hands the same block out again, its counters zeroed.
        let second = take(u64::MAX - 2, LockKind::Mutex, here);
        assert!(ptr::eq(first, second));
        assert_eq!(second.stats.acquisitions.load(Ordering::Relaxed), 0);
        second.header_drops(false);
        assert!(!live_rows().iter().any(|r| r.id == u64::MAX - 2));
    }
}
