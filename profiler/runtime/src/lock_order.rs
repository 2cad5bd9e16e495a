//! The lock-order graph: an edge `A → B` the first time a thread acquires `B` (blocking) while
//! holding `A`, as lockdep, TSan and tracing-mutex record it. A cycle in it is a *potential*
//! deadlock: two (or more) orders that would deadlock if they ran at the same time, even if this
//! run never hung. The analysis is in `lockprof_analysis::potential_deadlocks`; this module records.
//!
//! Each edge keeps the sites of both acquisitions of its first occurrence, the stack at the
//! second, the threads that took it, and its *gate set*: the locks held on every occurrence
//! besides `A` (the intersection over occurrences). A cycle whose edges share a gate lock cannot
//! deadlock, because its orders never run at the same time.
//!
//! Cost: an edge a thread has recorded before, with no gate lock, costs one probe of the
//! thread's direct-mapped cache ([`crate::local`]). Otherwise the thread looks in its own map of
//! edges it has seen (no global lock), and only an edge new to the thread, or one whose gate set
//! this occurrence shrinks, takes the global graph's lock.
//!
//! `try_lock` adds no edge to the lock it takes (it cannot block), but the lock is then held, so
//! a blocking acquisition made while holding it does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use backtrace::Backtrace;
use lockprof_analysis::digraph::DiGraph;

use crate::config::InversionPolicy;
use crate::local::{Held, Local};
use crate::tag;
use lockprof_trace::Access;

/// At most this many edges are kept; more are counted as dropped (a program that nests locks of
/// millions of distinct objects should not exhaust memory through its profiler).
pub const MAX_EDGES: usize = 100_000;

/// One recorded edge `from → to`.
#[derive(Clone)]
pub(crate) struct EdgeRecord {
    pub from: u64,
    pub to: u64,
    /// Where `from` was acquired, at the first occurrence.
    pub from_at: &'static Location<'static>,
    /// Where `to` was acquired, at the first occurrence.
    pub to_at: &'static Location<'static>,
    /// The strongest access in which `from` was held / `to` taken over all occurrences
    /// ([`Access`] orders exclusive first, so the minimum is the strongest).
    pub from_access: Access,
    pub to_access: Access,
    /// The thread of the first occurrence, and its stack when acquiring `to`.
    pub thread: u64,
    pub stack: Arc<Backtrace>,
    /// Locks besides `from` held on every occurrence so far.
    pub gates: Vec<u64>,
    /// Distinct threads that took this edge (each thread records an edge at most once unless
    /// its gate set shrinks).
    pub threads: Vec<u64>,
}

#[derive(Default)]
pub(crate) struct OrderGraph {
    pub graph: DiGraph<()>,
    pub edges: HashMap<(u64, u64), EdgeRecord>,
    pub dropped: u64,
}

pub(crate) fn graph() -> MutexGuard<'static, OrderGraph> {
    static GRAPH: OnceLock<Mutex<OrderGraph>> = OnceLock::new();
    GRAPH.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// Every edge this thread has recorded, with the gate set it last knew of.
    static SEEN: RefCell<HashMap<(u64, u64), Vec<u64>>> = RefCell::new(HashMap::new());
}

/// Whether some held lock's edge to `to` (taken with `access`) is not in the thread's cache.
#[inline]
pub(crate) fn needs_recording(local: &Local, to: u64, access: Access) -> bool {
    local.holds_any() && {
        let to_key = tag::make(to, access, 0);
        local.held().any(|h| h.lock() != to && !local.edge_cached(cache_key(&h), to_key))
    }
}

/// The cache key of a held lock: its id and access, without a permit count.
#[inline]
fn cache_key(held: &Held) -> u64 {
    tag::make(held.lock(), held.access(), 0)
}

/// Records the calling thread's edges from every held lock to `to`. Returns the description of
/// the cycle this closes if `LOCKPROF_ON_INVERSION=panic` asks to fail on it (the caller panics,
/// so that the panic points at the user's lock call).
#[cold]
#[inline(never)]
pub(crate) fn record_edges(to: u64, access: Access, at: &'static Location<'static>) -> Option<String> {
    let to_key = tag::make(to, access, 0);
    let _reentry = crate::threads::enter_profiler()?;
    let (held, thread) = crate::local::with(|l| (l.held().collect::<Vec<Held>>(), l.thread_id()));
    let mut inversion = None;
    for from in held.iter().filter(|h| h.lock() != to) {
        if crate::local::with(|l| l.edge_cached(cache_key(from), to_key)) {
            continue;
        }
        // Gates must be held exclusively: two orders under a shared (read) hold of G can still
        // run at the same time.
        let others: Vec<u64> = held
            .iter()
            .filter(|h| h.access() == Access::Exclusive)
            .map(Held::lock)
            .filter(|&l| l != from.lock() && l != to)
            .collect();
        let key = (cache_key(from), to_key);
        let known = SEEN.try_with(|seen| seen.borrow().get(&key).cloned()).ok().flatten();
        let gates = match known {
            // Seen before, and this occurrence holds every gate: nothing changes.
            Some(gates) if gates.iter().all(|g| others.contains(g)) => gates,
            _ => {
                let (gates, closed) = record_globally(*from, to, access, at, &others, thread);
                inversion = inversion.or(closed);
                gates
            }
        };
        if gates.is_empty() {
            crate::local::with(|l| l.cache_edge(key.0, key.1));
        }
        let _ = SEEN.try_with(|seen| seen.borrow_mut().insert(key, gates));
    }
    inversion
}

/// Adds or updates `from → to` in the global graph; returns its gate set, and the description
/// of the cycle it closes if `LOCKPROF_ON_INVERSION=panic` should fail on it.
fn record_globally(
    from: Held,
    to: u64,
    to_access: Access,
    to_at: &'static Location<'static>,
    others: &[u64],
    thread: u64,
) -> (Vec<u64>, Option<String>) {
    let stack = Arc::new(crate::stacks::capture());
    let mut g = graph();
    if let Some(edge) = g.edges.get_mut(&(from.lock(), to)) {
        edge.gates.retain(|gate| others.contains(gate));
        edge.from_access = edge.from_access.min(from.access());
        edge.to_access = edge.to_access.min(to_access);
        if !edge.threads.contains(&thread) && edge.threads.len() < 1024 {
            edge.threads.push(thread);
        }
        return (edge.gates.clone(), None);
    }
    if g.edges.len() >= MAX_EDGES {
        g.dropped += 1;
        return (Vec::new(), None);
    }
    crate::locks::pin(from.lock());
    crate::locks::pin(to);
    for &gate in others {
        crate::locks::pin(gate);
    }
    crate::threads::note_current(thread);
    g.graph.add_edge(from.lock(), to, ());
    g.edges.insert(
        (from.lock(), to),
        EdgeRecord {
            from: from.lock(),
            to,
            from_at: from.at,
            to_at,
            from_access: from.access(),
            to_access,
            thread,
            stack,
            gates: others.to_vec(),
            threads: vec![thread],
        },
    );
    let closed = (crate::config::config().on_inversion == InversionPolicy::Panic)
        .then(|| closed_cycle(&g, from.lock(), to, others))
        .flatten();
    (others.to_vec(), closed)
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
        lines.push(format!(
            "  lock #{} (acquired at {}) then lock #{} (at {}), by thread #{}",
            edge.from, edge.from_at, edge.to, edge.to_at, edge.thread
        ));
    }
    if !gates.is_empty() {
        return None; // every order of the cycle runs under a common gate lock
    }
    let new = g.edges.get(&(from, to))?;
    lines.push(format!(
        "  lock #{} (acquired at {}) then lock #{} (at {}), by thread #{} <- this acquisition",
        new.from, new.from_at, new.to, new.to_at, new.thread
    ));
    Some(format!(
        "lockprof: lock-order inversion (potential deadlock): this acquisition closes a cycle of lock orders:\n{}\n(LOCKPROF_ON_INVERSION=panic)",
        lines.join("\n")
    ))
}
