//! The async locks each tokio task holds through borrowed guards, for the lock-order graph: a
//! task that holds tokio Mutex `A` and acquires `B` (tokio's or a std lock) records `A → B`.
//!
//! A task's guards are held across `.await` and the task resumes on any worker thread, so its
//! holds cannot live in a thread's held stack ([`crate::local`]). They live in a fixed table,
//! direct-mapped by task id (tokio's ids are a counter, so live tasks spread over it): a slot is
//! claimed by the task's first hold (one compare-and-swap) and freed by the task when its last
//! hold goes. Only the owning task fills entries; a guard released by another task (moved into
//! it) clears its own entry, never the slot. A task whose slot is taken by another task, or
//! whose entries are full, is not recorded: it loses edges (a missed potential deadlock), never
//! gains one. Memory is the fixed table.
//!
//! Owned guards (`lock_owned` & co.) and semaphore permits are not recorded: they are made to
//! move between tasks.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use crate::local::Held;

/// Slots of the table (a power of two).
const SLOTS: usize = 512;

/// Holds recorded per task.
const ENTRIES: usize = 8;

struct Slot {
    /// The task node that owns the slot (0: free).
    node: AtomicU64,
    /// Held locks' tags ([`crate::tag`]; 0: free entry).
    tags: [AtomicU64; ENTRIES],
    sites: [AtomicPtr<Location<'static>>; ENTRIES],
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        node: AtomicU64::new(0),
        tags: [const { AtomicU64::new(0) }; ENTRIES],
        sites: [const { AtomicPtr::new(ptr::null_mut()) }; ENTRIES],
    }
}; SLOTS];

#[inline]
fn slot(node: u64) -> &'static Slot {
    &TABLE[(node as usize) % SLOTS]
}

/// Whether task `node` (0: none) holds an async lock that is recorded here. One load.
#[inline]
pub(crate) fn holds_any(node: u64) -> bool {
    node != 0 && slot(node).node.load(Ordering::Relaxed) == node
}

/// Records that task `node` holds the lock of `tag`, taken at `at`; returns the entry + 1 to
/// release it by, or 0 if it is not recorded.
#[inline]
pub(crate) fn push(node: u64, tag: u64, at: &'static Location<'static>) -> u8 {
    let s = slot(node);
    let owner = s.node.load(Ordering::Relaxed);
    if owner != node
        && (owner != 0 || s.node.compare_exchange(0, node, Ordering::Acquire, Ordering::Relaxed).is_err())
    {
        return 0;
    }
    // Only the owner turns a free entry into a hold (and a hold is cleared once, by whoever
    // releases it), so plain stores suffice: site first, then the tag that publishes it.
    for (i, entry) in s.tags.iter().enumerate() {
        if entry.load(Ordering::Relaxed) == 0 {
            s.sites[i].store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
            entry.store(tag, Ordering::Release);
            return i as u8 + 1;
        }
    }
    0
}

/// Releases entry `entry` (as returned by [`push`]; 0 does nothing) of task `node`'s hold of
/// `tag`, by node `releaser`. The owner frees its slot with its last hold.
#[inline]
pub(crate) fn remove(node: u64, entry: u8, tag: u64, releaser: u64) {
    let Some(i) = usize::from(entry).checked_sub(1) else { return };
    let s = slot(node);
    // The slot is the taker's until the taker frees it, which it does only once every entry,
    // this one included, is clear: so this entry still holds this hold.
    debug_assert_eq!(s.tags[i].load(Ordering::Relaxed), tag);
    s.tags[i].store(0, Ordering::Release);
    if releaser == node && s.tags.iter().all(|t| t.load(Ordering::Relaxed) == 0) {
        s.node.store(0, Ordering::Release);
    }
}

/// The holds recorded for task `node`, as held-stack entries of that task (slow path).
pub(crate) fn held(node: u64) -> Vec<Held> {
    let s = slot(node);
    if s.node.load(Ordering::Acquire) != node {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, entry) in s.tags.iter().enumerate() {
        let tag = entry.load(Ordering::Acquire);
        if tag != 0 {
            let at = s.sites[i].load(Ordering::Acquire);
            // SAFETY: `sites` only ever holds null or a `&'static Location` stored by `push`.
            let at = unsafe { at.as_ref() }.unwrap_or(Location::caller());
            out.push(Held { tag, at, chain: 0, task: node });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        remove(node, b, 12, node);
        assert!(!holds_any(node), "the slot is free again");
    }

    #[test]
    fn another_task_on_the_same_slot_is_not_recorded_and_a_moved_guard_keeps_the_slot() {
        let node = crate::tasks::task_node(2_000_003);
        let other = node + SLOTS as u64;
        let here = Location::caller();
        let a = push(node, 21, here);
        assert_eq!(push(other, 22, here), 0, "the slot is the first task's");
        assert!(held(other).is_empty());
        remove(node, a, 21, other); // released by another task: entry cleared, slot kept
        assert!(held(node).is_empty() && holds_any(node));
        let b = push(node, 23, here);
        remove(node, b, 23, node);
        assert!(!holds_any(node));
    }
}
