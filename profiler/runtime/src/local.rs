//! The per-thread state that the fast path touches, kept in one const-initialised thread-local
//! with no destructor, so reaching it is a single thread-local address computation and never
//! allocates: the thread's id, the stack of locks it holds, and a small cache of the lock-order
//! edges it has already recorded.
//!
//! Everything here is plain `Cell`s, read and written only by the owning thread.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::tag;
use lockprof_trace::Access;

/// How many held locks a thread tracks. Deeper nesting is counted but not recorded (the order
/// edges of the untracked locks are lost; nothing else is affected).
pub(crate) const MAX_HELD: usize = 32;

/// Slots of the direct-mapped edge cache.
const CACHE_SLOTS: usize = 64;

/// One lock the thread holds.
#[derive(Clone, Copy)]
pub(crate) struct Held {
    /// The lock's id, access and permits ([`crate::tag`]); a mutex's tag is its id.
    pub tag: u64,
    /// Where the thread acquired it.
    pub at: &'static Location<'static>,
}

impl Held {
    const EMPTY: Held = Held { tag: 0, at: Location::caller() };

    /// The lock's id.
    #[inline]
    pub(crate) fn lock(&self) -> u64 {
        tag::id(self.tag)
    }

    /// How it is held.
    pub(crate) fn access(&self) -> Access {
        tag::access(self.tag)
    }

    /// How many permits (semaphores only).
    pub(crate) fn permits(&self) -> u32 {
        tag::permits(self.tag)
    }
}

/// The fast-path state of one thread.
pub(crate) struct Local {
    thread: Cell<u64>,
    held_len: Cell<usize>,
    held: [Cell<Held>; MAX_HELD],
    /// `(from, to)` order edges known to be recorded globally with no gate lock, so that taking
    /// them again needs no further bookkeeping. `(0, 0)` is empty.
    cache: [Cell<(u64, u64)>; CACHE_SLOTS],
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            thread: Cell::new(0),
            held_len: Cell::new(0),
            held: [const { Cell::new(Held::EMPTY) }; MAX_HELD],
            cache: [const { Cell::new((0, 0)) }; CACHE_SLOTS],
        }
    };
}

static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

/// Runs `f` with the calling thread's state.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Local) -> R) -> R {
    LOCAL.with(f)
}

impl Local {
    /// The thread's lockprof id (never 0, never reused).
    #[inline]
    pub(crate) fn thread_id(&self) -> u64 {
        let id = self.thread.get();
        if id != 0 { id } else { self.first_touch() }
    }

    /// A thread's first lock call: give it an id.
    #[cold]
    #[inline(never)]
    fn first_touch(&self) -> u64 {
        let id = NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed);
        self.thread.set(id);
        // After the id is set: anything this takes a lock for sees the id and does not recurse.
        crate::liveness::started(id);
        id
    }

    /// Records that the thread now holds the lock of `tag`, acquired at `at`.
    #[inline]
    pub(crate) fn push_held(&self, tag: u64, at: &'static Location<'static>) {
        let n = self.held_len.get();
        if let Some(slot) = self.held.get(n) {
            slot.set(Held { tag, at });
        }
        self.held_len.set(n + 1);
    }

    /// Records that the thread released a hold whose [class key](class_key) is `key` (usually
    /// the last one it took). Matching the access class, not just the lock, keeps the recorded
    /// holds exact when one thread holds a lock in two ways (an upgradable and a plain read)
    /// and releases them out of order.
    #[inline]
    pub(crate) fn pop_held(&self, key: u64) {
        let n = self.held_len.get();
        // A mutex's key is its tag, so its release is one comparison.
        if n > 0 && n <= MAX_HELD && self.held[n - 1].get().tag == key {
            self.held_len.set(n - 1);
        } else {
            self.remove_held(|h| class_key(h.tag) == key);
        }
    }

    /// Records that the thread released exactly the hold `tag` (lock, access and permits): for
    /// holds that may differ only in their permit count.
    pub(crate) fn pop_held_exact(&self, tag: u64) {
        self.remove_held(|h| h.tag == tag);
    }

    /// Removes the most recent recorded hold that `matches` (or, if none does, one of the holds
    /// deeper than [`MAX_HELD`], which are counted but not recorded).
    #[cold]
    fn remove_held(&self, matches: impl Fn(&Held) -> bool) {
        let n = self.held_len.get();
        if n == 0 {
            return;
        }
        let stored = n.min(MAX_HELD);
        if let Some(i) = (0..stored).rev().find(|&i| matches(&self.held[i].get())) {
            for j in i..stored - 1 {
                self.held[j].set(self.held[j + 1].get());
            }
            if n > MAX_HELD {
                // The slot freed at the top belongs to an untracked hold: mark it unknown rather
                // than leave a duplicate, which would claim a hold the thread no longer has.
                self.held[stored - 1].set(Held::EMPTY);
            }
        }
        self.held_len.set(n - 1);
    }

    /// The locks the thread holds (those recorded), oldest first.
    #[inline]
    pub(crate) fn held(&self) -> impl Iterator<Item = Held> + '_ {
        // Tag 0 marks a slot whose hold is unknown (see `remove_held`); lock id 0 is never used.
        self.held[..self.held_len.get().min(MAX_HELD)].iter().map(Cell::get).filter(|h| h.tag != 0)
    }

    /// Whether the thread holds any lock.
    #[inline]
    pub(crate) fn holds_any(&self) -> bool {
        self.held_len.get() != 0
    }

    #[inline]
    fn cache_slot(from: u64, to: u64) -> usize {
        let h = (from.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ to).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        (h >> 58) as usize % CACHE_SLOTS
    }

    /// Whether `from → to` is known to be recorded with no gate lock.
    #[inline]
    pub(crate) fn edge_cached(&self, from: u64, to: u64) -> bool {
        self.cache[Self::cache_slot(from, to)].get() == (from, to)
    }

    /// Remembers that `from → to` is recorded with no gate lock.
    pub(crate) fn cache_edge(&self, from: u64, to: u64) {
        self.cache[Self::cache_slot(from, to)].set((from, to));
    }
}

/// A hold's key for matching its release: lock id and access class (a recursive read is a
/// read), without a permit count.
#[inline]
pub(crate) fn class_key(tag: u64) -> u64 {
    let access = match tag::access(tag) {
        Access::SharedRecursive => Access::Shared,
        other => other,
    };
    tag::make(tag::id(tag), access, 0)
}

/// The calling thread's lockprof id (never 0, never reused).
///
/// ```
/// let me = lockprof_profiler::current_thread_id();
/// assert_ne!(me, 0);
/// assert_eq!(me, lockprof_profiler::current_thread_id());
/// let other = std::thread::spawn(lockprof_profiler::current_thread_id).join().unwrap();
/// assert_ne!(me, other);
/// ```
#[inline]
pub fn current_thread_id() -> u64 {
    with(Local::thread_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_ids() -> Vec<u64> {
        with(|l| l.held().map(|h| h.lock()).collect())
    }

    #[test]
    fn held_stack_handles_lifo_and_out_of_order_release() {
        std::thread::spawn(|| {
            let at = Location::caller();
            with(|l| {
                l.push_held(1, at);
                l.push_held(2, at);
                l.push_held(3, at);
            });
            assert_eq!(held_ids(), [1, 2, 3]);
            with(|l| l.pop_held(2));
            assert_eq!(held_ids(), [1, 3]);
            with(|l| l.pop_held(3));
            with(|l| l.pop_held(1));
            assert!(held_ids().is_empty());
            assert!(!with(Local::holds_any));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn nesting_deeper_than_tracked_is_counted_and_unwinds() {
        std::thread::spawn(|| {
            let at = Location::caller();
            let depth = MAX_HELD as u64 + 5;
            with(|l| (1..=depth).for_each(|id| l.push_held(id, at)));
            assert_eq!(held_ids().len(), MAX_HELD);
            with(|l| (1..=depth).rev().for_each(|id| l.pop_held(id)));
            assert!(!with(Local::holds_any));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_lock_held_two_ways_released_out_of_order_keeps_the_right_hold() {
        std::thread::spawn(|| {
            let at = Location::caller();
            let upgradable = tag::make(5, Access::Upgradable, 0);
            let read = tag::make(5, Access::Shared, 0);
            with(|l| {
                l.push_held(upgradable, at);
                l.push_held(read, at);
                l.pop_held(class_key(upgradable)); // the upgradable guard goes first
                let left: Vec<_> = l.held().map(|h| h.access()).collect();
                assert_eq!(left, [Access::Shared]);
            });
        })
        .join()
        .unwrap();
    }

    #[test]
    fn an_overflowed_stack_never_keeps_a_duplicate() {
        std::thread::spawn(|| {
            let at = Location::caller();
            let depth = MAX_HELD as u64 + 1; // locks 1..=33; 33 is counted, not recorded
            with(|l| {
                (1..=depth).for_each(|id| l.push_held(id, at));
                l.pop_held(1); // out of order: everything shifts down one
                l.pop_held(32);
                let ids: Vec<u64> = l.held().map(|h| h.lock()).collect();
                assert_eq!(ids, (2..=31).collect::<Vec<_>>(), "no phantom 32, nothing twice");
            });
        })
        .join()
        .unwrap();
    }

    #[test]
    fn edge_cache_remembers_exact_pairs() {
        std::thread::spawn(|| {
            with(|l| {
                assert!(!l.edge_cached(1, 2));
                l.cache_edge(1, 2);
                assert!(l.edge_cached(1, 2));
                assert!(!l.edge_cached(2, 1));
            });
        })
        .join()
        .unwrap();
    }
}
