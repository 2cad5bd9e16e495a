//! The per-thread state that the fast path touches, kept in one const-initialised thread-local
//! with no destructor, so reaching it is a single thread-local address computation and never
//! allocates: the thread's id, the stack of locks it holds with the running *chain key* of each
//! prefix, and a small cache of the chains whose lock-order edges are already recorded.
//!
//! Everything here is plain `Cell`s, read and written only by the owning thread. Holds deeper
//! than the fixed array go to a bounded spill vector in a second thread-local (allocation only
//! past [`MAX_HELD`] nested locks, never on the steady-state path of shallower nesting).
//!
//! # The chain cache (lockdep's)
//!
//! Each held entry carries `chain = step(chain below, lock id and access)`: a one-word key of
//! the held stack up to it, computed when first needed (a probe under it), so that a lock taken
//! and released with nothing taken under it never computes one. Acquiring `B` under a stack whose top chain is `c` probes the cache
//! for `step(c, B)`; a hit means this thread has already recorded every edge of exactly this
//! stack into `B` with this access (and gate set: the held set is the same), so nothing is left
//! to do. The cost is one multiply and one compare at any depth. A miss records the edges
//! ([`crate::lock_order::record_edges`]) and then caches the key. Lock ids are never reused, so
//! a cached key that names a dropped lock can never be probed again; it just ages out.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::tag;
use lockprof_trace::Access;

/// How many held locks a thread keeps in its fixed array; deeper holds spill over.
pub(crate) const MAX_HELD: usize = 32;

/// Holds kept beyond [`MAX_HELD`], at most (memory stays bounded if a program forgets guards in
/// a loop). Deeper holds still are counted and unwind correctly, but take no part in order edges
/// or published held sets.
pub(crate) const MAX_SPILL: usize = 4096;

/// Slots of the direct-mapped chain cache (a power of two).
const CHAIN_SLOTS: usize = 512;

/// The chain key of the empty held stack.
pub(crate) const CHAIN_SEED: u64 = 0x243F_6A88_85A3_08D3;

/// The bit that marks a timed acquisition in a chain probe (above the tag's id and access bits,
/// which is where permits would go; chains never include permits).
pub(crate) const TIMED_BIT: u64 = 1 << 63;

/// Extends a chain key by one hold (`key`: the hold's [`order_key`]). One rotate, xor and
/// multiply; never 0, which marks an empty cache slot.
#[inline]
pub(crate) fn chain_step(chain: u64, key: u64) -> u64 {
    ((chain.rotate_left(23) ^ key).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1
}

/// A hold's identity for the chain: lock id and access, without permits.
#[inline]
pub(crate) fn order_key(tag: u64) -> u64 {
    tag & tag::ID_AND_ACCESS
}

/// One lock the thread holds.
#[derive(Clone, Copy)]
pub(crate) struct Held {
    /// The lock's id, access and permits ([`crate::tag`]); a mutex's tag is its id.
    pub tag: u64,
    /// Where the thread acquired it.
    pub at: &'static Location<'static>,
    /// The chain key of the held stack up to and including this hold; 0 until it is needed
    /// (computed by the first probe under it, so that a lock taken and released with nothing
    /// taken under it never pays for it).
    pub chain: u64,
    /// The tokio task that took it ([`crate::task_id`]), or 0 outside any task.
    pub task: u64,
}

impl Held {
    const EMPTY: Held = Held { tag: 0, at: Location::caller(), chain: CHAIN_SEED, task: 0 };

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
    /// The tokio task that made the thread's last lockprof call ([`crate::task_id`]; 0: none).
    task: Cell<u64>,
    /// The same task's id word ([`crate::task_id::current_word`]; 0: none), which the lock fast
    /// path compares as tokio gives it, without making it a node.
    task_word: Cell<u64>,
    /// The thread was named in the trace's thread list (on its first recorded order edge).
    named: Cell<bool>,
    /// Holds, including spilled and uncounted ones.
    held_len: Cell<usize>,
    held: [Cell<Held>; MAX_HELD],
    /// Chain keys whose edges are recorded (0: empty).
    chains: [Cell<u64>; CHAIN_SLOTS],
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            thread: Cell::new(0),
            task: Cell::new(0),
            task_word: Cell::new(0),
            named: Cell::new(false),
            held_len: Cell::new(0),
            held: [const { Cell::new(Held::EMPTY) }; MAX_HELD],
            chains: [const { Cell::new(0) }; CHAIN_SLOTS],
        }
    };
    /// Holds beyond [`MAX_HELD`], oldest first, at most [`MAX_SPILL`].
    static SPILL: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

/// Runs `f` with the calling thread's state.
#[inline(always)]
pub(crate) fn with<R>(f: impl FnOnce(&Local) -> R) -> R {
    // Only the address comes out of `LocalKey::with`: its closure stays tiny, so it is always
    // inlined, and the fast path's inlining no longer depends on how big `f` is.
    let local: *const Local = LOCAL.with(std::ptr::from_ref);
    // SAFETY: `LOCAL` is const-initialised and has no destructor, so its storage is valid for
    // the whole life of the calling thread, which outlives this call; the reference does not
    // outlive `f`, and `Local` is not `Sync` (it is made of `Cell`s), so `f` cannot hand it to
    // another thread.
    f(unsafe { &*local })
}

/// [`Local::push_held`] past the fixed array (out of line: the fast path stays small enough to
/// be inlined into the user's lock call).
#[cold]
#[inline(never)]
fn push_spilled(local: &Local, tag: u64, at: &'static Location<'static>) {
    let below = local.top_chain();
    let n = local.held_len.get();
    if n - MAX_HELD < MAX_SPILL {
        with_spill(|s| {
            s.push(Held { tag, at, chain: chain_step(below, order_key(tag)), task: local.current_task() })
        });
    }
    local.held_len.set(n + 1);
}

/// Runs `f` on the spill vector (empty if the thread's storage is being torn down).
fn with_spill<R>(f: impl FnOnce(&mut Vec<Held>) -> R) -> R {
    let mut f = Some(f);
    let result = SPILL.try_with(|s| match s.try_borrow_mut() {
        Ok(mut s) => (f.take().expect("called once"))(&mut s),
        Err(_) => (f.take().expect("called once"))(&mut Vec::new()),
    });
    match result {
        Ok(r) => r,
        Err(_) => (f.take().expect("not called yet"))(&mut Vec::new()),
    }
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

    /// Whether this is the first time the thread asks (and from now on, it is not): for work
    /// done once per thread, such as naming it in the trace.
    pub(crate) fn first_time_named(&self) -> bool {
        !self.named.replace(true)
    }

    /// Notes that tokio task `task` (a node, or 0 outside any task) makes a lockprof call at
    /// `at` on this thread. One compare while the same task keeps calling; when another task
    /// (or the thread outside any task) takes over while holds taken by a task are on the
    /// stack, that task has yielded holding them: returns true, and the caller checks them
    /// ([`crate::warnings::check_task_switch`]).
    #[inline(always)]
    #[must_use]
    pub(crate) fn enter_task(&self, task: u64) -> bool {
        // Without the `tokio` feature there are no tasks (`task` is always 0): nothing to do.
        cfg!(feature = "tokio") && self.task.get() != task && self.task_switched(task)
    }

    #[cold]
    #[inline(never)]
    fn task_switched(&self, task: u64) -> bool {
        self.task.set(task);
        self.task_word.set(task & !crate::async_holders::TASK_NODE);
        self.holds_any()
    }

    /// [`Local::enter_task`] for the task of id word `word` ([`crate::task_id::current_word`];
    /// 0: none): one compare with the last task's word while the same task keeps calling.
    #[inline(always)]
    #[must_use]
    pub(crate) fn enter_task_word(&self, word: u64) -> bool {
        cfg!(feature = "tokio") && self.task_word.get() != word && self.task_word_switched(word)
    }

    #[cold]
    #[inline(never)]
    fn task_word_switched(&self, word: u64) -> bool {
        // The node as `crate::tasks::task_node` makes it (not called: `tasks` imports this module).
        self.task_switched(if word == 0 { 0 } else { crate::async_holders::TASK_NODE | word })
    }

    /// The task of the thread's last lockprof call, for a new hold (always 0 without the
    /// `tokio` feature, a constant the fast path folds).
    #[inline(always)]
    pub(crate) fn current_task(&self) -> u64 {
        if cfg!(feature = "tokio") { self.task.get() } else { 0 }
    }

    /// The task of the thread's last lockprof call (0: none).
    #[inline]
    pub(crate) fn task(&self) -> u64 {
        self.task.get()
    }

    /// Records that the thread now holds the lock of `tag`, acquired at `at` (by the task of
    /// the last [`Local::enter_task`]).
    #[inline]
    pub(crate) fn push_held(&self, tag: u64, at: &'static Location<'static>) {
        let n = self.held_len.get();
        if n < MAX_HELD {
            self.held[n].set(Held { tag, at, chain: 0, task: self.current_task() });
            self.held_len.set(n + 1);
        } else {
            push_spilled(self, tag, at);
        }
    }

    /// The chain key of everything the thread holds (of the recorded holds).
    #[inline]
    pub(crate) fn top_chain(&self) -> u64 {
        let n = self.held_len.get();
        if n == 0 {
            CHAIN_SEED
        } else if n <= MAX_HELD {
            self.chain_at(n - 1)
        } else {
            self.spilled_top_chain()
        }
    }

    /// The chain key of the fixed array's holds up to and including `i`.
    #[inline]
    fn chain_at(&self, i: usize) -> u64 {
        let chain = self.held[i].get().chain;
        if chain != 0 { chain } else { self.compute_chains(i) }
    }

    /// Computes (and keeps) the chain keys of the holds up to `i` that have none yet.
    #[cold]
    #[inline(never)]
    fn compute_chains(&self, i: usize) -> u64 {
        let known = (0..=i).rev().find(|&j| self.held[j].get().chain != 0);
        let mut chain = known.map_or(CHAIN_SEED, |j| self.held[j].get().chain);
        for slot in &self.held[known.map_or(0, |j| j + 1)..=i] {
            let h = slot.get();
            chain = chain_step(chain, order_key(h.tag));
            slot.set(Held { chain, ..h });
        }
        chain
    }

    #[cold]
    fn spilled_top_chain(&self) -> u64 {
        with_spill(|s| s.last().map(|h| h.chain)).unwrap_or_else(|| self.chain_at(MAX_HELD - 1))
    }

    /// Whether `chain` (a probe: the top chain extended by a new acquisition) is cached.
    #[inline]
    pub(crate) fn chain_cached(&self, chain: u64) -> bool {
        self.chains[Self::chain_slot(chain)].get() == chain
    }

    /// Remembers that the edges of `chain` are recorded.
    #[inline]
    pub(crate) fn cache_chain(&self, chain: u64) {
        self.chains[Self::chain_slot(chain)].set(chain);
    }

    #[inline]
    fn chain_slot(chain: u64) -> usize {
        // The multiply in `chain_step` mixes into the high bits.
        (chain >> 55) as usize % CHAIN_SLOTS
    }

    /// Records that the thread released a hold whose [class key](class_key) is `key` (usually
    /// the last one it took). Matching the access class, not just the lock, keeps the recorded
    /// holds exact when one thread holds a lock in two ways (an upgradable and a plain read)
    /// and releases them out of order. Returns whether the hold was marked
    /// [`WANTED`](tag::WANTED) (a lock-order edge refers to its lock).
    #[cfg(test)]
    pub(crate) fn pop_held(&self, key: u64) -> bool {
        !self.pop_top(key) && self.pop_held_slow(key)
    }

    /// The release's fast path: pops the top hold if it is `key`'s, unmarked. A mutex's key is
    /// its tag, so this is one comparison (a wanted hold's tag never equals a key).
    #[inline]
    pub(crate) fn pop_top(&self, key: u64) -> bool {
        let n = self.held_len.get();
        if n > 0 && n <= MAX_HELD && self.held[n - 1].get().tag == key {
            self.held_len.set(n - 1);
            true
        } else {
            false
        }
    }

    /// [`Local::pop_held`] past its fast path: returns whether the hold was wanted.
    #[cold]
    #[inline(never)]
    pub(crate) fn pop_held_slow(&self, key: u64) -> bool {
        self.remove_held(|h| class_key(h.tag) == key).is_some_and(|t| t & tag::WANTED != 0)
    }

    /// Records that the thread released exactly the hold `tag` (lock, access and permits): for
    /// holds that may differ only in their permit count. Returns whether it was wanted.
    pub(crate) fn pop_held_exact(&self, tag: u64) -> bool {
        self.remove_held(|h| h.tag & !tag::WANTED == tag).is_some_and(|t| t & tag::WANTED != 0)
    }

    /// Marks every recorded hold of the locks in `locks` as [`WANTED`](tag::WANTED).
    #[cold]
    pub(crate) fn mark_wanted(&self, locks: &[u64]) {
        let n = self.held_len.get();
        for slot in &self.held[..n.min(MAX_HELD)] {
            let h = slot.get();
            if locks.contains(&h.lock()) {
                slot.set(Held { tag: h.tag | tag::WANTED, ..h });
            }
        }
        if n > MAX_HELD {
            with_spill(|s| {
                for h in s.iter_mut().filter(|h| locks.contains(&tag::id(h.tag))) {
                    h.tag |= tag::WANTED;
                }
            });
        }
    }

    /// Removes the most recent recorded hold that `matches` (or, if none does, one of the holds
    /// too deep to be recorded), and recomputes the chain keys above it. Returns the removed
    /// hold's tag, if a recorded one was removed.
    #[cold]
    #[inline(never)]
    fn remove_held(&self, matches: impl Fn(&Held) -> bool) -> Option<u64> {
        let n = self.held_len.get();
        if n == 0 {
            return None;
        }
        if n <= MAX_HELD {
            // In place, without allocating: a semaphore's release comes this way every time.
            let found = (0..n).rev().find(|&i| matches(&self.held[i].get()));
            let i = found.unwrap_or(n - 1);
            let removed = found.map(|i| self.held[i].get().tag);
            let mut chain = if i == 0 { CHAIN_SEED } else { self.chain_at(i - 1) };
            for j in i..n - 1 {
                let h = self.held[j + 1].get();
                chain = chain_step(chain, order_key(h.tag));
                self.held[j].set(Held { chain, ..h });
            }
            self.held_len.set(n - 1);
            return removed;
        }
        let mut all = self.held_vec_with_unknown();
        let recorded = all.len();
        let mut removed = None;
        if let Some(i) = (0..recorded).rev().find(|&i| matches(&all[i])) {
            removed = Some(all.remove(i).tag);
            // The hold counted but not recorded (past the spill) keeps its place as unknown:
            // never a duplicate claiming a hold the thread no longer has.
            if n > recorded {
                all.push(Held::EMPTY);
            }
        } else if n <= recorded {
            // Not found and nothing untracked: the release of a hold this stack never saw
            // (recorded before the thread's storage went away); keep the count consistent.
            all.pop();
        }
        self.held_len.set(n - 1);
        self.store_held(&all);
        removed
    }

    /// The recorded holds (including unknown slots), oldest first.
    fn held_vec_with_unknown(&self) -> Vec<Held> {
        let n = self.held_len.get();
        let mut all: Vec<Held> = self.held[..n.min(MAX_HELD)].iter().map(Cell::get).collect();
        if n > MAX_HELD {
            with_spill(|s| all.extend_from_slice(s));
        }
        all
    }

    /// Stores `all` (oldest first, at most the thread's recorded depth) as the held stack, with
    /// fresh chain keys.
    fn store_held(&self, all: &[Held]) {
        let mut chain = CHAIN_SEED;
        let mut spill = Vec::new();
        for (i, h) in all.iter().enumerate() {
            chain = chain_step(chain, order_key(h.tag));
            let h = Held { chain, ..*h };
            match self.held.get(i) {
                Some(slot) => slot.set(h),
                None => spill.push(h),
            }
        }
        with_spill(|s| *s = spill);
    }

    /// The locks the thread holds (those recorded), oldest first.
    pub(crate) fn held(&self) -> std::vec::IntoIter<Held> {
        // Tag 0 marks a slot whose hold is unknown (see `remove_held`); lock id 0 is never used.
        let mut all = self.held_vec_with_unknown();
        all.retain(|h| h.tag != 0);
        all.into_iter()
    }

    /// Runs `f` on the locks the thread holds (those recorded), oldest first: from a copy on
    /// the stack when they fit in the fixed array (no allocation), else from [`Local::held`].
    pub(crate) fn with_held<R>(&self, f: impl FnOnce(&[Held]) -> R) -> R {
        let n = self.held_len.get();
        if n <= 4 {
            // The common case, without filling a whole array first.
            let mut copy = [Held::EMPTY; 4];
            for (to, from) in copy.iter_mut().zip(&self.held[..n]) {
                *to = from.get();
            }
            f(&copy[..n])
        } else if n <= MAX_HELD {
            let mut copy = [Held::EMPTY; MAX_HELD];
            for (to, from) in copy.iter_mut().zip(&self.held[..n]) {
                *to = from.get();
            }
            f(&copy[..n])
        } else {
            f(self.held().as_slice())
        }
    }

    /// Whether the thread holds any lock.
    #[inline]
    pub(crate) fn holds_any(&self) -> bool {
        self.held_len.get() != 0
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
    fn nesting_deeper_than_the_array_spills_over_and_unwinds() {
        std::thread::spawn(|| {
            let at = Location::caller();
            let depth = MAX_HELD as u64 * 2;
            with(|l| (1..=depth).for_each(|id| l.push_held(id, at)));
            assert_eq!(held_ids(), (1..=depth).collect::<Vec<_>>());
            with(|l| l.pop_held(5)); // out of order, across the array and the spill
            assert_eq!(held_ids().len(), depth as usize - 1);
            assert!(!held_ids().contains(&5));
            with(|l| {
                (1..=depth).rev().filter(|&id| id != 5).for_each(|id| {
                    l.pop_held(id);
                })
            });
            assert!(!with(Local::holds_any));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_chain_key_names_the_held_stack_whatever_the_way_it_was_reached() {
        std::thread::spawn(|| {
            let at = Location::caller();
            let direct = with(|l| {
                l.push_held(1, at);
                l.push_held(3, at);
                l.top_chain()
            });
            with(|l| {
                l.pop_held(3);
                l.push_held(2, at);
                l.push_held(3, at);
                l.pop_held(2); // out of order: the chain of [1, 3] is recomputed
                assert_eq!(l.top_chain(), direct);
                l.pop_held(3);
                l.pop_held(1);
            });
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
    fn a_stack_deeper_than_kept_never_keeps_a_duplicate() {
        std::thread::spawn(|| {
            let at = Location::caller();
            let kept = (MAX_HELD + MAX_SPILL) as u64;
            let depth = kept + 1; // the last one is counted, not recorded
            with(|l| {
                (1..=depth).for_each(|id| l.push_held(id, at));
                l.pop_held(1); // out of order: everything shifts down one
                l.pop_held(kept);
                let ids: Vec<u64> = l.held().map(|h| h.lock()).collect();
                assert_eq!(ids, (2..kept).collect::<Vec<_>>(), "no phantom, nothing twice");
            });
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_chain_cache_remembers_exact_chains() {
        std::thread::spawn(|| {
            with(|l| {
                let probe = chain_step(l.top_chain(), 7);
                assert!(!l.chain_cached(probe));
                l.cache_chain(probe);
                assert!(l.chain_cached(probe));
                assert!(!l.chain_cached(chain_step(l.top_chain(), 8)));
            });
        })
        .join()
        .unwrap();
    }
}
