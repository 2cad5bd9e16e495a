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
//! once for all the held locks, unless `B` is fresh: then its edges wait in the thread's batch
//! ([`crate::order_batch`]), and usually go with `B` when it is dropped. A new edge's stack is captured once per pair of acquisition
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

use std::backtrace::Backtrace;
use std::cell::Cell;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::InversionPolicy;
use crate::local::{Held, Local};
use crate::order_batch::{FreshLock, PendingEdge};
pub(crate) use crate::order_graph::{EdgeRecord, Mode, OrderGraph, graph};
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

/// The graph's clock: edges' firsts and locks' drops take their sequence numbers from it, when
/// they happen (an edge waiting in a thread's batch keeps the number it was taken with).
static SEQ: AtomicU64 = AtomicU64::new(0);

/// The next sequence number.
pub(crate) fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// The clock's reading, without advancing it: the number of an edge that waits in a batch (one
/// atomic read-modify-write less per fresh lock). The lifetime rule asks only whether an
/// edge's number is greater than a drop's (`order_rules::dropped_too_early`), and a reading
/// taken before a drop's increment (in the clock's modification order) is at most the drop's
/// number, one taken after it greater: the rule sees the reading as it would the increment.
pub(crate) fn current_seq() -> u64 {
    SEQ.load(Ordering::Relaxed)
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
pub(crate) struct Occurrence {
    pub from: EdgeFrom,
    pub gates: Vec<u64>,
    pub permit_gates: Vec<(u64, u32)>,
}

impl Occurrence {
    /// The locks a new edge of this occurrence must tell they are ordered: the one it starts
    /// from and its gates (exclusive locks and semaphores held around it).
    fn locks_to_tell(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.from.lock())
            .chain(self.gates.iter().copied())
            .chain(self.permit_gates.iter().map(|&(s, _)| s))
    }
}

/// What an edge needs of the hold it starts from: its tag and acquisition site (a [`Held`]
/// without its chain key and task, so that a batched edge stays small, see `order_batch`).
#[derive(Clone, Copy)]
pub(crate) struct EdgeFrom {
    pub tag: u64,
    pub at: &'static Location<'static>,
}

impl EdgeFrom {
    /// The lock's id.
    pub(crate) fn lock(&self) -> u64 {
        tag::id(self.tag)
    }

    /// How it is held.
    pub(crate) fn access(&self) -> Access {
        tag::access(self.tag)
    }
}

/// What recording an acquisition's edges did.
pub(crate) struct Recorded {
    /// The acquisition is the end of at least one edge in the graph: the acquired lock must
    /// tell the graph when it is dropped.
    pub ordered: bool,
    /// The description of the cycle this closes, if `LOCKPROF_ON_INVERSION=panic` asks to fail
    /// on it (the caller panics, so that the panic points at the user's lock call).
    pub inversion: Option<String>,
}

/// Records the calling thread's edges from every held lock to `to`, then caches `probe` (the
/// chain from [`needs_recording`]). The caller holds the profiler's reentry guard. The holds
/// that new edges start from or are gated by are marked wanted, so that their locks learn it
/// when released (their headers are not at hand here).
#[cold]
#[inline(never)]
pub(crate) fn record_edges(
    to: u64,
    access: Access,
    timed: bool,
    at: &'static Location<'static>,
    probe: u64,
    fresh: Option<FreshLock>,
) -> Recorded {
    let thread = crate::local::current_thread_id();
    let recorded = crate::local::with(|l| {
        l.with_held(|held| {
            let (wanted, recorded) = record(held, to, access, timed, at, thread, fresh);
            if !wanted.is_empty() {
                l.mark_wanted(&wanted);
            }
            recorded
        })
    });
    crate::local::with(|l| l.cache_chain(probe));
    recorded
}

/// [`record_edges`] on a copy of the held stack: the locks to mark wanted, and what it recorded.
fn record(
    held: &[Held],
    to: u64,
    access: Access,
    timed: bool,
    at: &'static Location<'static>,
    thread: u64,
    fresh: Option<FreshLock>,
) -> (Vec<u64>, Recorded) {
    let mut occurrences = occurrences(held, to, access);
    let any = !occurrences.is_empty();
    let mut inversion = None;
    // The locks new edges start from or are gated by must learn it: registered ones now (a guard
    // never released would never tell them), the others when their holds are released (their
    // headers are not at hand here). A hold already marked, or a lock just told, is skipped.
    let mut wanted: Vec<u64> = Vec::new();
    let marked = |l: u64| held.iter().any(|h| h.lock() == l && h.tag & tag::WANTED != 0);
    let mut want = |o: &Occurrence| {
        for l in o.locks_to_tell() {
            if !wanted.contains(&l) && !marked(l) && !noted(l) {
                wanted.push(l);
            }
        }
    };
    // Into a fresh lock claimed by this thread, with known stacks: into the thread's batch.
    let batched = match fresh {
        Some(fresh) if any && occurrences.iter().all(|o| crate::order_batch::stack_known(o.from.at, at)) => {
            occurrences.iter().for_each(&mut want);
            let mut register = (!fresh.registered).then_some((fresh.kind, fresh.name.map(Box::new)));
            let pending = occurrences.drain(..).map(|occurrence| {
                let (kind, name) = register.take().map_or((None, None), |(kind, name)| (Some(kind), name));
                PendingEdge {
                    occurrence,
                    to,
                    to_access: access,
                    timed,
                    to_at: at,
                    to_site: fresh.site,
                    thread,
                    seq: current_seq(),
                    register: kind,
                    name,
                }
            });
            match crate::order_batch::defer(pending) {
                None => true,
                Some(pending) => {
                    let mut g = graph();
                    pending.for_each(|e| record_flushed(&mut g, e));
                    false
                }
            }
        }
        _ => {
            if any {
                let mut g = graph();
                for occurrence in &occurrences {
                    let (new, closed) =
                        record_globally(&mut g, occurrence, to, access, timed, at, thread, next_seq());
                    if new {
                        want(occurrence);
                    }
                    inversion = inversion.or(closed);
                }
                drop(g);
                for o in &occurrences {
                    crate::order_batch::note_stack_known(o.from.at, at);
                }
            }
            false
        }
    };
    spare_occurrences(occurrences);
    (wanted, Recorded { ordered: any && !batched, inversion })
}

thread_local! {
    /// An emptied vector of occurrences, kept for the thread's next recording: a fresh lock
    /// taken under a held one (a million short-lived locks) allocates none.
    static SPARE: Cell<Vec<Occurrence>> = const { Cell::new(Vec::new()) };
}

/// Keeps `v`'s buffer for the next [`occurrences`], if it is small.
fn spare_occurrences(mut v: Vec<Occurrence>) {
    v.clear();
    if v.capacity() <= 64 {
        let _ = SPARE.try_with(|spare| spare.set(v));
    }
}

thread_local! {
    /// The last lock this thread told the registry it is ordered (so that a held lock that
    /// fresh locks are taken under, again and again, is told once).
    static NOTED: Cell<u64> = const { Cell::new(0) };
}

/// Tells the registry that lock `id` is ordered, unless this thread just did; whether it is
/// registered.
fn noted(id: u64) -> bool {
    if NOTED.try_with(Cell::get).ok() == Some(id) {
        return true;
    }
    let registered = crate::locks::note_ordered(id);
    if registered {
        let _ = NOTED.try_with(|n| n.set(id));
    }
    registered
}

/// Records an edge from a thread's batch in the graph (never under the `panic` policy: nothing
/// is batched then).
pub(crate) fn record_flushed(g: &mut OrderGraph, e: PendingEdge) {
    let _ = record_globally(g, &e.occurrence, e.to, e.to_access, e.timed, e.to_at, e.thread, e.seq);
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
    let mut out: Vec<Occurrence> = SPARE.try_with(Cell::take).unwrap_or_default();
    out.reserve(held.len());
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
        // Plain loops: with one lock held (the common case) both stay empty, unallocated.
        let mut gates: Vec<u64> = Vec::new();
        for h in held {
            let l = h.lock();
            if h.access() == Access::Exclusive && l != from.lock() && l != to && gates.last() != Some(&l) {
                gates.push(l);
            }
        }
        let mut permit_gates: Vec<(u64, u32)> = Vec::new();
        for &(s, n) in &permits {
            if s != from.lock() && s != to {
                permit_gates.push((s, n));
            }
        }
        out.push(Occurrence { from: EdgeFrom { tag: from.tag, at: from.at }, gates, permit_gates });
    }
    out
}

/// Adds or updates an occurrence's edge in the global graph; returns whether the edge is new,
/// and the description of the cycle a new edge closes if `LOCKPROF_ON_INVERSION=panic` should
/// fail on it.
#[allow(clippy::too_many_arguments)]
fn record_globally(
    g: &mut OrderGraph,
    o: &Occurrence,
    to: u64,
    to_access: Access,
    timed: bool,
    to_at: &'static Location<'static>,
    thread: u64,
    seq: u64,
) -> (bool, Option<String>) {
    let from = o.from;
    let from_access = from.access();
    if let Some(edge) = g.edges.get(&(from.lock(), to)) {
        let new_mode = edge.modes.len() < MAX_MODES
            && !edge
                .modes
                .iter()
                .any(|m| (m.from_access, m.to_access, m.timed) == (from_access, to_access, timed));
        let stack = new_mode.then(|| stack_for(g, from.at, to_at));
        let Some(edge) = g.edges.get_mut(&(from.lock(), to)) else { return (false, None) };
        let gated = (edge.gates.len(), edge.permit_gates.len());
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
        let ungated = gated != (edge.gates.len(), edge.permit_gates.len());
        if let Some(stack) = stack {
            edge.modes.push(Mode { from_access, to_access, timed, from_at: from.at, to_at, thread, stack });
        }
        // A new untimed mode, or a gate lost, can make a cycle through the edge dangerous now.
        let check = (new_mode && !timed) || ungated;
        if !check || crate::config::config().on_inversion != InversionPolicy::Panic {
            return (false, None);
        }
        return (false, crate::inversion::closed_cycle(g, from.lock(), to));
    }
    if g.edges.len() >= MAX_EDGES {
        g.dropped += 1;
        return (false, None);
    }
    let stack = stack_for(g, from.at, to_at);
    g.graph.add_edge(from.lock(), to);
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
        return (true, None);
    }
    (true, crate::inversion::closed_cycle(g, from.lock(), to))
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
    let seq = next_seq();
    if on_cycle(&g.graph, id) {
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
/// [`record_edges`] for a held set that is not the calling thread's own stack: a tokio task's
/// (its async locks, and the std locks it holds on this thread), taken by node `node`. The
/// caller holds the profiler's reentry guard and caches the chain ([`crate::task_order`]).
/// Nothing is batched: the edges go to the graph at once; the caller marks `to` ordered if
/// [`Recorded::ordered`]. The locks new edges start from or are
/// gated by are told they are ordered: async locks are registered at their first acquisition;
/// the thread's own holds among them are marked wanted, as [`record_edges`] does.
pub(crate) fn record_edges_held(
    held: &[Held],
    node: u64,
    to: u64,
    access: Access,
    timed: bool,
    at: &'static Location<'static>,
) -> Recorded {
    let occurrences = occurrences(held, to, access);
    if occurrences.is_empty() {
        return Recorded { ordered: false, inversion: None };
    }
    let mut inversion = None;
    let mut wanted: Vec<u64> = Vec::new();
    let mut g = graph();
    for occurrence in &occurrences {
        let (new, closed) = record_globally(&mut g, occurrence, to, access, timed, at, node, next_seq());
        if new {
            for l in occurrence.locks_to_tell() {
                if !wanted.contains(&l) && !noted(l) {
                    wanted.push(l);
                }
            }
        }
        inversion = inversion.or(closed);
    }
    drop(g);
    if !wanted.is_empty() {
        crate::local::with(|l| l.mark_wanted(&wanted));
    }
    // `to` ends edges in the graph: the caller marks it ordered, so that its drop tells the graph.
    Recorded { ordered: true, inversion }
}
