//! The lock-order graph: an edge `A → B` the first time a thread acquires `B` (blocking) while
//! holding `A`, as lockdep, TSan and tracing-mutex record it. A cycle in it is a *potential*
//! deadlock: orders that would deadlock if they ran at the same time, even if this run never
//! hung. The analysis is in `lockprof_analysis::potential_deadlocks`; this module records.
//!
//! Each edge keeps:
//! - its *modes*: the first occurrence of each combination of how `A` was held, how `B` was
//!   taken, and whether the acquisition was timed, with the sites of both acquisitions and a
//!   stack, so a finding names the occurrence that makes a cycle dangerous;
//! - its *gate set*: the locks held exclusively on every occurrence besides `A` and `B`, and the
//!   semaphore permits held on every occurrence (its *permit gates*): a cycle whose edges share
//!   a gate cannot deadlock, nor one whose edges need more permits of a semaphore than it has;
//! - the threads that took it, and a sequence number: when it was first taken, compared with
//!   when its locks were dropped (a cycle through a lock dropped before another of its edges was
//!   first taken can never close).
//!
//! Read rules, at recording time: a recursive read (`read_recursive`) of a lock the thread
//! already holds for reading can never block, so it adds no edge into that lock; a plain read of
//! a lock the thread holds for reading adds the self-edge `A → A`, which deadlocks as soon as a
//! writer queues between the two reads (the analysis reports it if anyone writes `A`).
//!
//! Cost: the thread-local chain cache ([`crate::local`]) makes a held stack the thread has
//! taken `B` under before cost one probe, at any depth. A miss takes the global graph's lock
//! once for all the held locks. A new edge's stack is captured once per pair of acquisition
//! sites (edges between short-lived locks created in a loop share it) and only after the edge
//! cap is checked.
//!
//! Memory: when a lock is dropped and is on no cycle of the graph, its edges are forgotten
//! (a cycle through it could now only be closed by an edge taken after its drop, which cannot
//! run at the same time as its own edges), except one per pair of lock classes, for the class
//! level. Edges, stacks and kept class edges are capped.
//!
//! `try_lock` adds no edge to the lock it takes (it cannot block), but the lock is then held, so
//! a blocking acquisition made while holding it does.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use backtrace::Backtrace;

use crate::config::InversionPolicy;
use crate::id_hash::IdHash;
use crate::local::{Held, Local};
use crate::tag;
use lockprof_trace::Access;

/// At most this many edges are kept; more are counted as dropped (a program that nests locks of
/// millions of distinct live objects should not exhaust memory through its profiler).
pub const MAX_EDGES: usize = 100_000;

/// Modes kept per edge (more are folded into the edge's strongest accesses only).
const MAX_MODES: usize = 8;

/// Distinct stacks kept for edges, by pair of acquisition sites.
const MAX_STACKS: usize = 4096;

/// Pairs of lock classes whose edge is kept after their locks are dropped, at most.
const MAX_CLASS_EDGES: usize = 4096;

/// Graph steps spent deciding whether a dropped lock is on a cycle; past it, it is kept.
const DROP_SEARCH_STEPS: usize = 4096;

/// One occurrence of an edge in one mode: its first, with sites, thread and stack.
#[derive(Clone)]
pub(crate) struct Mode {
    /// How `from` was held, and `to` taken.
    pub from_access: Access,
    pub to_access: Access,
    /// The acquisition of `to` had a timeout (it ends by itself).
    pub timed: bool,
    pub from_at: &'static Location<'static>,
    pub to_at: &'static Location<'static>,
    pub thread: u64,
    pub stack: Arc<Backtrace>,
}

/// One recorded edge `from → to`.
#[derive(Clone)]
pub(crate) struct EdgeRecord {
    pub from: u64,
    pub to: u64,
    /// The first occurrence of each mode, first occurrence of all first.
    pub modes: Vec<Mode>,
    /// Locks besides `from` and `to` held exclusively on every occurrence so far.
    pub gates: Vec<u64>,
    /// Semaphores held on every occurrence so far, with the fewest permits held of each.
    pub permit_gates: Vec<(u64, u32)>,
    /// Distinct threads that took this edge (at most 1024 are named).
    pub threads: Vec<u64>,
    /// When it was first taken, on the graph's clock of firsts and drops.
    pub seq: u64,
}

/// The process's lock-order graph.
#[derive(Default)]
pub(crate) struct OrderGraph {
    pub graph: crate::adjacency::Adjacency,
    pub edges: HashMap<(u64, u64), EdgeRecord, IdHash>,
    /// Edges not kept because [`MAX_EDGES`] were.
    pub dropped: u64,
    /// The next sequence number (edges' firsts and locks' drops share it).
    pub next_seq: u64,
    /// Dropped locks kept because they are on a cycle: id → drop's sequence number.
    pub drops: HashMap<u64, u64, IdHash>,
    /// One stack per pair of acquisition sites (addresses of the two locations).
    stacks: HashMap<(usize, usize), Arc<Backtrace>, IdHash>,
    /// The edge kept for each pair of lock classes (creation sites' addresses) after its
    /// locks were dropped.
    class_edges: HashMap<(usize, usize), (u64, u64), IdHash>,
}

pub(crate) fn graph() -> MutexGuard<'static, OrderGraph> {
    static GRAPH: OnceLock<Mutex<OrderGraph>> = OnceLock::new();
    GRAPH.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner())
}

/// The chain probe of acquiring `to` with `access` under the thread's held stack, if its edges
/// still need recording (`None`: nothing held, or this chain was recorded before). One multiply
/// and one compare, whatever the depth.
#[inline]
pub(crate) fn needs_recording(local: &Local, to: u64, access: Access, timed: bool) -> Option<u64> {
    if !local.holds_any() {
        return None;
    }
    let key = tag::make(to, access, 0) | if timed { crate::local::TIMED_BIT } else { 0 };
    let probe = crate::local::chain_step(local.top_chain(), key);
    (!local.chain_cached(probe)).then_some(probe)
}

/// Whether the edges of acquiring `to` with `access` (untimed) under the thread's held stack
/// are recorded: the chain cache's probe, inlined into the fast path.
#[inline(always)]
pub(crate) fn recorded(local: &Local, to: u64, access: Access) -> bool {
    local.chain_cached(crate::local::chain_step(local.top_chain(), tag::make(to, access, 0)))
}

/// One edge occurrence to record.
struct Occurrence {
    from: Held,
    gates: Vec<u64>,
    permit_gates: Vec<(u64, u32)>,
}

/// Records the calling thread's edges from every held lock to `to`, then caches `probe` (the
/// chain from [`needs_recording`]). The caller holds the profiler's reentry guard. Returns the
/// description of the cycle this closes if `LOCKPROF_ON_INVERSION=panic` asks to fail on it
/// (the caller panics, so that the panic points at the user's lock call).
#[cold]
#[inline(never)]
pub(crate) fn record_edges(
    to: u64,
    access: Access,
    timed: bool,
    at: &'static Location<'static>,
    probe: u64,
) -> Option<String> {
    let (held, thread) = crate::local::with(|l| (l.held().collect::<Vec<Held>>(), l.thread_id()));
    let occurrences = occurrences(&held, to, access);
    let mut inversion = None;
    if !occurrences.is_empty() {
        let mut g = graph();
        for occurrence in &occurrences {
            let closed = record_globally(&mut g, occurrence, to, access, timed, at, thread);
            inversion = inversion.or(closed);
        }
    }
    crate::local::with(|l| l.cache_chain(probe));
    inversion
}

/// The edges that acquiring `to` with `access` under `held` takes, by the read rules.
fn occurrences(held: &[Held], to: u64, access: Access) -> Vec<Occurrence> {
    let read_held = held.iter().any(|h| h.lock() == to && h.access() != Access::Exclusive);
    if access == Access::SharedRecursive && read_held {
        return Vec::new(); // a recursive read of a lock the thread reads never waits
    }
    let mut permits: Vec<(u64, u32)> = Vec::new();
    for h in held.iter().filter(|h| h.access() == Access::Permits) {
        match permits.iter_mut().find(|(s, _)| *s == h.lock()) {
            Some((_, n)) => *n = n.saturating_add(h.permits()),
            None => permits.push((h.lock(), h.permits())),
        }
    }
    let mut out: Vec<Occurrence> = Vec::new();
    for from in held {
        let self_edge = from.lock() == to;
        // A plain read of a lock the thread reads: the self-edge of rule 2. Any other re-take
        // of a held lock is an actual self-deadlock (or a re-entrant lock), for the detector.
        if self_edge && !(access == Access::Shared && from.access() != Access::Exclusive) {
            continue;
        }
        if out.iter().any(|o| o.from.lock() == from.lock() && o.from.access() == from.access()) {
            continue;
        }
        // Gates must be held exclusively: two orders under a shared (read) hold of G can still
        // run at the same time.
        let mut gates: Vec<u64> = held
            .iter()
            .filter(|h| h.access() == Access::Exclusive)
            .map(Held::lock)
            .filter(|&l| l != from.lock() && l != to)
            .collect();
        gates.dedup();
        let permit_gates = permits.iter().copied().filter(|&(s, _)| s != from.lock() && s != to).collect();
        out.push(Occurrence { from: *from, gates, permit_gates });
    }
    out
}

/// Adds or updates an occurrence's edge in the global graph; returns the description of the
/// cycle a new edge closes if `LOCKPROF_ON_INVERSION=panic` should fail on it.
fn record_globally(
    g: &mut OrderGraph,
    o: &Occurrence,
    to: u64,
    to_access: Access,
    timed: bool,
    to_at: &'static Location<'static>,
    thread: u64,
) -> Option<String> {
    let from = o.from;
    let from_access = from.access();
    if let Some(edge) = g.edges.get(&(from.lock(), to)) {
        let new_mode = edge.modes.len() < MAX_MODES
            && !edge
                .modes
                .iter()
                .any(|m| (m.from_access, m.to_access, m.timed) == (from_access, to_access, timed));
        let stack = new_mode.then(|| stack_for(g, from.at, to_at));
        let edge = g.edges.get_mut(&(from.lock(), to))?;
        edge.gates.retain(|gate| o.gates.contains(gate));
        edge.permit_gates.retain_mut(|(s, n)| match o.permit_gates.iter().find(|(t, _)| t == s) {
            Some(&(_, m)) => {
                *n = (*n).min(m);
                true
            }
            None => false,
        });
        if !edge.threads.contains(&thread) && edge.threads.len() < 1024 {
            edge.threads.push(thread);
        }
        if let Some(stack) = stack {
            edge.modes.push(Mode { from_access, to_access, timed, from_at: from.at, to_at, thread, stack });
        }
        return None;
    }
    if g.edges.len() >= MAX_EDGES {
        g.dropped += 1;
        return None;
    }
    let stack = stack_for(g, from.at, to_at);
    crate::locks::note_ordered(from.lock());
    crate::locks::note_ordered(to);
    for &gate in o.gates.iter().chain(o.permit_gates.iter().map(|(s, _)| s)) {
        crate::locks::note_ordered(gate);
    }
    g.graph.add_edge(from.lock(), to);
    let seq = g.next_seq;
    g.next_seq += 1;
    let mode = Mode { from_access, to_access, timed, from_at: from.at, to_at, thread, stack };
    g.edges.insert(
        (from.lock(), to),
        EdgeRecord {
            from: from.lock(),
            to,
            modes: vec![mode],
            gates: o.gates.clone(),
            permit_gates: o.permit_gates.clone(),
            threads: vec![thread],
            seq,
        },
    );
    if timed || crate::config::config().on_inversion != InversionPolicy::Panic {
        return None;
    }
    closed_cycle(g, from.lock(), to, &o.gates)
}

/// The stack for an edge first taken at `from_at` then `to_at`: shared by every edge with the
/// same two sites, captured the first time.
fn stack_for(
    g: &mut OrderGraph,
    from_at: &'static Location<'static>,
    to_at: &'static Location<'static>,
) -> Arc<Backtrace> {
    let key = (std::ptr::from_ref(from_at) as usize, std::ptr::from_ref(to_at) as usize);
    if let Some(stack) = g.stacks.get(&key) {
        return Arc::clone(stack);
    }
    let stack = Arc::new(crate::stacks::capture());
    if g.stacks.len() < MAX_STACKS {
        g.stacks.insert(key, Arc::clone(&stack));
    }
    stack
}

/// Called when lock `id`, which has (or had) order edges, is dropped. Keeps its edges if it is
/// on a cycle of the graph (noting when it was dropped); otherwise forgets them, except the
/// first edge of each pair of lock classes (creation sites), which the class-level analysis
/// needs (two tests that each build their own `Bank` meet only as classes). Returns whether
/// the lock is still needed.
pub(crate) fn lock_dropped(id: u64) -> bool {
    let mut g = graph();
    if !g.graph.contains_node(id) {
        return false;
    }
    let seq = g.next_seq;
    if on_cycle(&g.graph, id) {
        g.next_seq += 1;
        g.drops.insert(id, seq);
        return true;
    }
    let incident: Vec<(u64, u64)> = g
        .graph
        .successors(id)
        .iter()
        .map(|&b| (id, b))
        .chain(g.graph.predecessors(id).iter().map(|&a| (a, id)))
        .collect();
    let mut kept = false;
    for key in incident {
        let classes = (crate::locks::site_of(key.0), crate::locks::site_of(key.1));
        let class_key = match classes {
            // A nesting within one class is kept too: the trace shows it was ordered.
            (Some(a), Some(b)) => (std::ptr::from_ref(a) as usize, std::ptr::from_ref(b) as usize),
            _ => (0, 0), // unknown: no class edge to keep
        };
        let representative = g.class_edges.get(&class_key).copied();
        if class_key != (0, 0)
            && (representative == Some(key)
                || representative.is_none() && g.class_edges.len() < MAX_CLASS_EDGES)
        {
            g.class_edges.insert(class_key, key);
            kept = true;
            continue;
        }
        g.edges.remove(&key);
        g.graph.remove_edge(key.0, key.1);
    }
    if kept {
        g.next_seq += 1;
        g.drops.insert(id, seq);
    }
    kept
}

/// Whether `id` is on a cycle of `graph` (true also when the search runs out of steps).
fn on_cycle(graph: &crate::adjacency::Adjacency, id: u64) -> bool {
    if graph.predecessors(id).is_empty() || graph.successors(id).is_empty() {
        return false;
    }
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<u64> = graph.successors(id).to_vec();
    let mut steps = 0;
    while let Some(n) = stack.pop() {
        if n == id {
            return true;
        }
        steps += 1;
        if steps > DROP_SEARCH_STEPS {
            return true;
        }
        if seen.insert(n) {
            stack.extend_from_slice(graph.successors(n));
        }
    }
    false
}

/// If the new edge `from → to` closes an ungated cycle, a one-paragraph description of it.
fn closed_cycle(g: &OrderGraph, from: u64, to: u64, others: &[u64]) -> Option<String> {
    let path = g.graph.shortest_path(to, from)?;
    // path: to → … → from; with the new edge from → to it is a cycle.
    let mut gates: Vec<u64> = others.to_vec();
    let mut lines = Vec::new();
    for pair in path.windows(2) {
        let edge = g.edges.get(&(pair[0], pair[1]))?;
        gates.retain(|gate| edge.gates.contains(gate));
        if edge.modes.iter().all(|m| m.timed) {
            return None; // an order taken only with a timeout cannot hang
        }
        let m = &edge.modes[0];
        lines.push(format!(
            "  lock #{} (acquired at {}) then lock #{} (at {}), by thread #{}",
            edge.from, m.from_at, edge.to, m.to_at, m.thread
        ));
    }
    if !gates.is_empty() {
        return None; // every order of the cycle runs under a common gate lock
    }
    let new = g.edges.get(&(from, to))?;
    let m = &new.modes[0];
    lines.push(format!(
        "  lock #{} (acquired at {}) then lock #{} (at {}), by thread #{} <- this acquisition",
        new.from, m.from_at, new.to, m.to_at, m.thread
    ));
    Some(format!(
        "lockprof: lock-order inversion (potential deadlock): this acquisition closes a cycle of lock orders:\n{}\n(LOCKPROF_ON_INVERSION=panic)",
        lines.join("\n")
    ))
}

/// [`record_edges`] for a held set that is not the calling thread's own stack: a tokio task's
/// (its async locks, and the std locks it holds on this thread), taken by node `node`. The
/// caller holds the profiler's reentry guard and caches the chain ([`crate::task_order`]).
pub(crate) fn record_edges_held(
    held: &[Held],
    node: u64,
    to: u64,
    access: Access,
    timed: bool,
    at: &'static Location<'static>,
) -> Option<String> {
    let occurrences = occurrences(held, to, access);
    let mut inversion = None;
    if !occurrences.is_empty() {
        let mut g = graph();
        for occurrence in &occurrences {
            let closed = record_globally(&mut g, occurrence, to, access, timed, at, node);
            inversion = inversion.or(closed);
        }
    }
    inversion
}
