//! The async locks each tokio task holds through borrowed guards, for the lock-order graph: a
//! task that holds tokio Mutex `A` and acquires `B` (tokio's or a std lock) records `A → B`.
//!
//! A task's guards are held across `.await` and the task resumes on any worker thread, so its
//! holds cannot live in a thread's held stack ([`crate::local`]). They live in a fixed table,
//! direct-mapped by task id (tokio's ids are a counter, so live tasks spread over it).
//!
//! A slot's *word* holds the owning task's node and which of its entries are in use (a bit
//! each), so that claiming an entry and releasing one are each one compare-and-swap on one
//! word: the slot is claimed by the task's first hold and freed by whoever releases its last
//! one, the task itself or another task its guard was moved into (a task that ends while a
//! guard it took lives on in another task would otherwise keep its slot for good). Only the
//! owning task claims entries; a hold is released once, by whoever drops its guard. A task
//! whose slot is taken by another task, or whose entries are full, is not recorded: it loses
//! edges (a missed potential deadlock), never gains one. Memory is the fixed table.
//!
//! Owned guards (`lock_owned` & co.) and semaphore permits are not recorded: they are made to
//! move between tasks; nor are the holds of a lock whose guards have been seen to move (released
//! by another task than their taker, [`AsyncHolders::moved`](crate::async_holders::AsyncHolders::moved)):
//! a moved guard would give its taker edges it does not have.
//!
//! Slots are 128-byte aligned (two cache lines, which adjacent-line prefetchers fetch together),
//! so that a task's claims and releases do not invalidate the line other tasks' slots are read
//! from on every lock call ([`holds_any`]); the sites, read only when an edge is recorded, are in
//! a table of their own.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use crate::local::Held;

/// Slots of the table (a power of two).
const SLOTS: usize = 512;

/// Holds recorded per task (one bit each in a slot's word).
const ENTRIES: usize = 8;

/// Where a slot's word keeps its entries' in-use bits; below it, the owner's node (task nodes
/// use bits 0 to 48, see [`crate::async_holders::TASK_NODE`]).
const USED_SHIFT: u32 = 56;

/// The owner's node in a slot's word.
const NODE_BITS: u64 = (1 << USED_SHIFT) - 1;

#[repr(align(128))]
struct Slot {
    /// The owning task's node and its entries in use (0: free; never an owner without an entry).
    word: AtomicU64,
    /// Held locks' tags ([`crate::tag`]; 0: free entry, or one being filled).
    tags: [AtomicU64; ENTRIES],
}

/// The acquisition sites of a slot's entries.
#[repr(align(64))]
struct Sites([AtomicPtr<Location<'static>>; ENTRIES]);

static TABLE: [Slot; SLOTS] =
    [const { Slot { word: AtomicU64::new(0), tags: [const { AtomicU64::new(0) }; ENTRIES] } }; SLOTS];

static SITES: [Sites; SLOTS] = [const { Sites([const { AtomicPtr::new(ptr::null_mut()) }; ENTRIES]) }; SLOTS];

#[inline]
fn index(node: u64) -> usize {
    (node as usize) % SLOTS
}

/// Whether task `node` (0: none) holds an async lock that is recorded here. One load.
#[inline]
pub(crate) fn holds_any(node: u64) -> bool {
    node != 0 && TABLE[index(node)].word.load(Ordering::Relaxed) & NODE_BITS == node
}

/// Records that task `node` holds the lock of `tag`, taken at `at`; returns the entry + 1 to
/// release it by, or 0 if it is not recorded.
#[inline]
pub(crate) fn push(node: u64, tag: u64, at: &'static Location<'static>) -> u8 {
    debug_assert!(node != 0 && node & !NODE_BITS == 0);
    let s = &TABLE[index(node)];
    let mut word = s.word.load(Ordering::Relaxed);
    let i = loop {
        if word != 0 && word & NODE_BITS != node {
            return 0; // another task's slot
        }
        let used = (word >> USED_SHIFT) as u8;
        if used == u8::MAX {
            return 0; // every entry in use
        }
        let i = used.trailing_ones();
        let claimed = node | (u64::from(used | 1 << i) << USED_SHIFT);
        // Acquire: the release that freed this entry (its tag cleared) happens before the new
        // tag is stored.
        match s.word.compare_exchange_weak(word, claimed, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => break i as usize,
            Err(now) => word = now,
        }
    };
    // The entry is this hold's until it is released: site first, then the tag that publishes it.
    SITES[index(node)].0[i].store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
    s.tags[i].store(tag, Ordering::Release);
    i as u8 + 1
}

/// Releases entry `entry` (as returned by [`push`]; 0 does nothing) of task `node`'s hold of
/// `tag`, by node `releaser` (the taker, or a task its guard moved into); the release of a
/// slot's last entry frees the slot.
#[inline]
pub(crate) fn remove(node: u64, entry: u8, tag: u64, releaser: u64) {
    let Some(i) = usize::from(entry).checked_sub(1) else { return };
    let s = &TABLE[index(node)];
    // The slot is the taker's until its last entry, this one included, is released: so this
    // entry still holds this hold.
    debug_assert_eq!(s.tags[i].load(Ordering::Relaxed), tag);
    s.tags[i].store(0, Ordering::Relaxed);
    let bit = 1u64 << (USED_SHIFT + i as u32);
    // The taker releasing its only entry (the common case) frees the slot with a plain store:
    // nobody else can change the word meanwhile, since no other task claims an owned slot, the
    // taker is here (a task runs on one thread at a time), and no other entry is in use for a
    // task its guard moved into to release.
    if releaser == node && s.word.load(Ordering::Relaxed) == node | bit {
        s.word.store(0, Ordering::Release);
        return;
    }
    // Release: the tag's clearing happens before a new claim of the entry (or the slot).
    let _ = s.word.fetch_update(Ordering::Release, Ordering::Relaxed, |word| {
        debug_assert!(word & NODE_BITS == node && word & bit != 0);
        Some(if word & !NODE_BITS == bit { 0 } else { word & !bit })
    });
}

/// The holds recorded for task `node`, as held-stack entries of that task (slow path).
pub(crate) fn held(node: u64) -> Vec<Held> {
    let s = &TABLE[index(node)];
    if s.word.load(Ordering::Acquire) & NODE_BITS != node {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, entry) in s.tags.iter().enumerate() {
        let tag = entry.load(Ordering::Acquire);
        if tag != 0 {
            let at = SITES[index(node)].0[i].load(Ordering::Relaxed);
            // SAFETY: `SITES` only ever holds null or a `&'static Location` stored by `push`.
            let at = unsafe { at.as_ref() }.unwrap_or(Location::caller());
            out.push(Held { tag, at, chain: 0, task: node });
        }
    }
    // Its last entry released meanwhile by a task its guard moved into, the slot may have gone
    // to another task, whose tags were read above. Once freed, it is not the caller's again
    // before this returns (only a task claims a slot for itself, and the caller is here).
    if s.word.load(Ordering::Acquire) & NODE_BITS != node {
        return Vec::new();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_holders::AsyncHolders;
    use crate::lock_state::LockState;
    use lockprof_trace::{Access, LockKind};

    #[test]
    fn a_task_holds_what_it_pushed_until_it_releases_it() {
        let node = crate::tasks::task_node(1_000_003);
        let here = Location::caller();
        assert!(!holds_any(node));
        let a = push(node, 11, here);
        let b = push(node, 12, here);
        assert!(a != 0 && b != 0 && holds_any(node));
        let tags: Vec<u64> = held(node).iter().map(|h| h.tag).collect();
        assert_eq!(tags, [11, 12]);
        remove(node, a, 11, node);
        assert!(holds_any(node), "one hold left");
        let c = push(node, 13, here);
        assert_eq!(c, a, "the released entry is reused");
        remove(node, b, 12, node);
        remove(node, c, 13, node);
        assert!(!holds_any(node), "the slot is free again");
    }

    #[test]
    fn another_task_on_the_same_slot_is_not_recorded() {
        let node = crate::tasks::task_node(2_000_003);
        let other = node + SLOTS as u64;
        let here = Location::caller();
        let a = push(node, 21, here);
        assert_eq!(push(other, 22, here), 0, "the slot is the first task's");
        assert!(held(other).is_empty() && !holds_any(other));
        remove(node, a, 21, node);
        let b = push(other, 23, here);
        assert!(b != 0, "free again");
        assert_eq!(held(other).iter().map(|h| h.tag).collect::<Vec<_>>(), [23]);
        remove(other, b, 23, other);
    }

    #[test]
    fn a_full_slot_records_no_more() {
        let node = crate::tasks::task_node(3_000_003);
        let here = Location::caller();
        let entries: Vec<u8> = (0..ENTRIES as u64).map(|t| push(node, 31 + t, here)).collect();
        assert!(entries.iter().all(|&e| e != 0));
        assert_eq!(push(node, 99, here), 0);
        for (t, e) in entries.into_iter().enumerate() {
            remove(node, e, 31 + t as u64, node);
        }
        assert!(!holds_any(node));
    }

    /// A guard moved into another task and released there by its last entry: the slot of the
    /// task that took it (which may have ended) is free for the tasks that map to it.
    #[test]
    fn a_moved_guards_release_frees_its_takers_slot() {
        let (state, holders) = (LockState::new(LockKind::Mutex, None), AsyncHolders::new());
        let taker = crate::tasks::task_node(4_000_003);
        let mover = crate::tasks::task_node(4_000_004);
        let later = taker + SLOTS as u64; // a later task on the same slot
        let here = Location::caller();
        let hold = state.async_acquired(taker, here, Access::Exclusive, &holders);
        assert!(holds_any(taker));
        // The guard moved into `mover`, which drops it; `taker` never runs again.
        state.async_releasing(hold, mover, &holders);
        assert!(!holds_any(taker), "the taker's slot is free");
        let entry = push(later, 41, here);
        assert!(entry != 0, "a later task on the same slot is recorded");
        remove(later, entry, 41, later);
    }

    /// Three tasks at once on one slot: the owner takes holds and hands some to a second task,
    /// which releases them (moved guards), while a third task on the same slot keeps trying.
    /// Nobody ever sees another task's hold as its own, and the slot ends free.
    #[test]
    fn moved_releases_racing_the_owner_and_a_rival_never_mix_their_holds() {
        const ROUNDS: u64 = 20_000;
        let owner = crate::tasks::task_node(6_000_003);
        let rival = owner + SLOTS as u64;
        let mover = crate::tasks::task_node(6_000_004);
        let here = Location::caller();
        let (moved, to_mover) = std::sync::mpsc::channel::<(u8, u64)>();
        let release_moved = std::thread::spawn(move || {
            for (entry, tag) in to_mover {
                remove(owner, entry, tag, mover);
            }
        });
        let compete = std::thread::spawn(move || {
            let mut recorded = 0;
            for round in 0..ROUNDS {
                let tag = 2_000_000 + round;
                let entry = push(rival, tag, here);
                if entry != 0 {
                    recorded += 1;
                    let tags: Vec<u64> = held(rival).iter().map(|h| h.tag).collect();
                    assert!(tags.iter().all(|t| *t == tag), "the rival sees {tags:?}");
                    remove(rival, entry, tag, rival);
                }
            }
            recorded
        });
        for round in 0..ROUNDS {
            let (kept, handed) = (1_000_000 + 2 * round, 1_000_001 + 2 * round);
            let first = push(owner, handed, here);
            let second = push(owner, kept, here);
            let tags: Vec<u64> = held(owner).iter().map(|h| h.tag).collect();
            assert!(tags.iter().all(|t| (1_000_000..2_000_000).contains(t)), "the owner sees {tags:?}");
            if first != 0 {
                moved.send((first, handed)).unwrap();
            }
            remove(owner, second, kept, owner);
        }
        drop(moved);
        release_moved.join().unwrap();
        let _rival_recorded = compete.join().unwrap();
        assert!(!holds_any(owner) && !holds_any(rival), "the slot ends free");
    }

    /// Once a lock's guards have been seen to move between tasks, its borrowed holds are not
    /// recorded: a moved guard would give its taker edges out of a lock it no longer holds.
    #[test]
    fn a_lock_whose_guards_move_gives_its_takers_no_edges() {
        let (state, holders) = (LockState::new(LockKind::Mutex, None), AsyncHolders::new());
        let taker = crate::tasks::task_node(5_000_003);
        let mover = crate::tasks::task_node(5_000_004);
        let here = Location::caller();
        let first = state.async_acquired(taker, here, Access::Exclusive, &holders);
        assert!(holds_any(taker), "not known to move yet");
        state.async_releasing(first, mover, &holders);
        let second = state.async_acquired(taker, here, Access::Exclusive, &holders);
        assert!(!holds_any(taker) && held(taker).is_empty(), "its guards move: not the taker's");
        state.async_releasing(second, taker, &holders);
    }
}
