//! The wait-for graph, and the protocol that finds a deadlock the moment its last edge appears
//! without ever reporting one that is not real.
//!
//! # The graph
//!
//! Nodes are threads and locks. A thread has an edge to the lock it is blocked on; a lock has an
//! edge to the thread that holds it. A cycle is a deadlock.
//!
//! The live graph is not kept in one global structure, because the holder edge changes on every
//! acquisition and the fast path may not touch shared state. Instead each edge lives where it is
//! cheap to keep:
//! - lock → holder: the `owner` word in the lock's own [`LockState`](crate::LockState), written
//!   by the holder only (set after acquiring, cleared before releasing);
//! - thread → lock: the thread's [`WaitSlot`](crate::threads), a sequence number and the lock,
//!   published when a *wait episode* starts and cleared when it ends (after the raw lock has been
//!   acquired and before the owner word is set).
//!
//! When a thread starts an episode it publishes its slot, issues a SeqCst fence, and explores the
//! graph from itself: it reads each reached thread's slot and the owner word of the lock in it,
//! building a petgraph [`DiGraphMap`]. A path back to itself is a *candidate* cycle.
//!
//! # Why a reported cycle is real (zero false positives)
//!
//! A candidate seen in one pass can be an illusion: a holder read at one instant may have released
//! the lock and started waiting by the time its slot is read. So a candidate is confirmed by two
//! more passes over the same threads, in cycle order: pass 2 re-reads every slot and owner word,
//! pass 3 re-reads every slot's sequence number. It is reported only if all three agree.
//!
//! Write the cycle as threads `T0 .. Tk-1` (`T0` the detector), `Ti` in episode `Ei` waiting for
//! lock `Li`, and `Li` held by `Ti+1` (indices mod k). Three facts about the implementation:
//!
//! 1. *An episode ends only by acquiring its lock*, and a thread acquires nothing else and
//!    releases nothing during an episode: it sits in the raw lock's blocking call. So the set of
//!    locks a thread holds is frozen for the duration of each of its episodes.
//! 2. *An owner word names a holder.* It is set only by the thread that holds the raw lock, after
//!    acquiring it, and cleared by that thread before releasing it.
//! 3. *A slot is read with its mutex held, and an episode cannot end while another thread holds
//!    that mutex* (ending requires it). The owner word of `Li` is read under `Ti`'s slot mutex, so
//!    `Ei` is in progress at the moment `mi` of that read, and `Li` (borrowed by `Ti`'s lock call)
//!    is alive.
//!
//! Now take the pass-2 read `mi` of `Li`'s owner word, which returned `Ti+1`. Passes 1 and 3 saw
//! `Ti+1` in episode `Ei+1` (same sequence number, so the same episode) before and after `mi`;
//! hence `Ei+1` was in progress at `mi`. The owner value was not stale: `Ti+1` cleared nothing
//! after publishing `Ei+1` (fact 1), and anything it cleared before was ordered before the slot
//! publication that pass 1 synchronised with (mutex hand-off), so `Ti+1` held `Li` at `mi`, inside
//! `Ei+1`, and therefore (fact 1) for the whole of `Ei+1`. `Ei` was in progress at `mi` (fact 3)
//! and can only end by acquiring `Li`, which `Ti+1` releases only after `Ei+1` has ended. So
//! `end(Ei) > end(Ei+1)` for every `i`, around a cycle: no episode in it can ever end. The threads
//! are deadlocked, permanently, at the moment of the report. (For the detector itself, `E0` is in
//! progress throughout by construction.)
//!
//! Each specific illusion is excluded by one of these: a holder that was about to release (its
//! owner word or slot changes between passes), a waiter that got the lock by a racing try or a
//! timed attempt (its episode ends, so its sequence number changes), a thread that has exited
//! (it has no live record and cannot be in an episode; its stale owner word is never followed into
//! a cycle, since a dead thread has no outgoing edge).
//!
//! # Why no deadlock is missed
//!
//! Consider the episode of a real deadlock whose SeqCst fence comes last. Every other episode in
//! the cycle, and every owner word, was written before the other fences (owner words are set
//! before the holder's own episode starts, fact 1), so by the fence rule the last thread's
//! exploration sees all of them, and they never change again, so all three passes agree. Two
//! threads closing a cycle at once cannot both miss each other (the same fence argument), and if
//! both see it, the report is deduplicated by its set of episodes.
//!
//! Exploration is bounded ([`MAX_THREADS`]), and threads waiting behind a cycle they are not part
//! of find no path back to themselves: the cycle's own members report it.

use std::collections::{HashMap, VecDeque};
use std::panic::Location;
use std::sync::Arc;

use backtrace::Backtrace;
use petgraph::graphmap::DiGraphMap;

use crate::threads::{ThreadRecord, record_of};

/// How many threads one exploration may visit before giving up (a guard against pathological
/// graphs; a real deadlock with this many threads would be reported by a smaller exploration
/// started from one of its members).
pub const MAX_THREADS: usize = 4096;

/// A node of the wait-for graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Node {
    Thread(u64),
    Lock(u64),
}

/// One thread's outgoing edges as observed: the lock it waits for, and that lock's holder.
#[derive(Clone)]
pub(crate) struct Hop {
    pub thread: Arc<ThreadRecord>,
    pub seq: u64,
    pub lock_id: u64,
    pub wait_at: &'static Location<'static>,
    pub stack: Arc<Backtrace>,
    /// The holder of `lock_id` and where it acquired it.
    pub holder: Option<(u64, &'static Location<'static>)>,
}

impl Hop {
    /// What must not change between passes for the observation to be the same.
    fn key(&self) -> (u64, u64, u64, Option<u64>) {
        (self.thread.id, self.seq, self.lock_id, self.holder.map(|(h, _)| h))
    }
}

/// Reads `record`'s slot and, if it is waiting, the owner word of the lock it waits for.
fn observe(record: &Arc<ThreadRecord>) -> Option<Hop> {
    record.with_slot(|slot| {
        let waiting = slot.waiting.as_ref()?;
        // SAFETY: `waiting.lock` points to the lock this thread is blocked on. We hold the slot's
        // mutex, and the waiting thread must take it to clear `waiting` before it can return from
        // the lock call that borrows the lock, so the lock is alive here (see `Waiting::lock`).
        let lock = unsafe { &*waiting.lock };
        Some(Hop {
            thread: Arc::clone(record),
            seq: slot.seq,
            lock_id: waiting.lock_id,
            wait_at: waiting.at,
            stack: Arc::clone(&waiting.stack),
            holder: lock.holder(),
        })
    })
}

/// Pass 1: explores the graph reachable from `start`.
fn explore(start: &Arc<ThreadRecord>) -> (DiGraphMap<Node, ()>, HashMap<u64, Hop>) {
    let mut graph = DiGraphMap::new();
    let mut hops: HashMap<u64, Hop> = HashMap::new();
    let mut queue = VecDeque::from([Arc::clone(start)]);
    while let Some(record) = queue.pop_front() {
        if hops.len() >= MAX_THREADS {
            break;
        }
        let Some(hop) = observe(&record) else { continue };
        graph.add_edge(Node::Thread(record.id), Node::Lock(hop.lock_id), ());
        if let Some((holder, _)) = hop.holder {
            let seen = graph.contains_node(Node::Thread(holder));
            graph.add_edge(Node::Lock(hop.lock_id), Node::Thread(holder), ());
            if !seen {
                // A holder without a live record is a thread that exited: no outgoing edge.
                queue.extend(record_of(holder));
            }
        }
        hops.insert(record.id, hop);
    }
    (graph, hops)
}

/// The threads of a cycle through `start`, in wait order starting with `start`.
fn cycle_through(graph: &DiGraphMap<Node, ()>, start: u64) -> Option<Vec<u64>> {
    let from = Node::Thread(start);
    let first_lock = graph.neighbors(from).next()?;
    let (_, path) = petgraph::algo::astar(graph, first_lock, |n| n == from, |_| 1u32, |_| 0u32)?;
    let mut threads = vec![start];
    threads.extend(path.into_iter().filter_map(|n| match n {
        Node::Thread(t) if t != start => Some(t),
        _ => None,
    }));
    Some(threads)
}

/// Looks for a deadlock that `start`'s current wait is part of. Returns the cycle's hops, in wait
/// order starting with `start`, only once the three passes described in the module docs agree.
pub(crate) fn find_deadlock(start: &Arc<ThreadRecord>) -> Option<Vec<Hop>> {
    let (graph, mut hops) = explore(start);
    let cycle = cycle_through(&graph, start.id)?;
    let first: Vec<Hop> = cycle.iter().map(|t| hops.remove(t)).collect::<Option<_>>()?;
    // Pass 2: every slot and owner word again, in cycle order.
    for hop in &first {
        if observe(&hop.thread).map(|h| h.key()) != Some(hop.key()) {
            return None;
        }
    }
    // Pass 3: every episode still the same one.
    for hop in &first {
        if hop.thread.with_slot(|slot| slot.seq) != hop.seq {
            return None;
        }
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(Node, Node)]) -> DiGraphMap<Node, ()> {
        let mut g = DiGraphMap::new();
        for &(a, b) in edges {
            g.add_edge(a, b, ());
        }
        g
    }

    use Node::{Lock as L, Thread as T};

    #[test]
    fn self_cycle_is_a_cycle_of_one_thread() {
        let g = graph(&[(T(1), L(7)), (L(7), T(1))]);
        assert_eq!(cycle_through(&g, 1), Some(vec![1]));
    }

    #[test]
    fn ring_of_three_in_wait_order() {
        let g = graph(&[
            (T(1), L(10)),
            (L(10), T(2)),
            (T(2), L(20)),
            (L(20), T(3)),
            (T(3), L(30)),
            (L(30), T(1)),
        ]);
        assert_eq!(cycle_through(&g, 1), Some(vec![1, 2, 3]));
        assert_eq!(cycle_through(&g, 2), Some(vec![2, 3, 1]));
    }

    #[test]
    fn chain_without_return_is_no_cycle() {
        let g = graph(&[(T(1), L(10)), (L(10), T(2)), (T(2), L(20))]);
        assert_eq!(cycle_through(&g, 1), None);
    }

    #[test]
    fn waiting_behind_someone_elses_cycle_is_not_our_cycle() {
        // T1 waits for a lock held by T2, which is deadlocked with T3; T1 is not in the cycle.
        let g = graph(&[
            (T(1), L(10)),
            (L(10), T(2)),
            (T(2), L(20)),
            (L(20), T(3)),
            (T(3), L(30)),
            (L(30), T(2)),
        ]);
        assert_eq!(cycle_through(&g, 1), None);
        assert_eq!(cycle_through(&g, 2), Some(vec![2, 3]));
    }

    #[test]
    fn thread_that_waits_for_nothing_has_no_cycle() {
        let g = graph(&[(L(10), T(2))]);
        assert_eq!(cycle_through(&g, 2), None);
    }
}
