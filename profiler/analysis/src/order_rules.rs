//! The rules that decide whether a cycle of lock orders can deadlock: which way of taking each
//! edge (its *mode*) makes the cycle dangerous, and what keeps a cycle from ever closing (a gate
//! lock, too few permits, a lock dropped too early).
//!
//! The rules, lockdep's where lockdep has one:
//!
//! - **Access.** At each lock `L` of a cycle, the acquisition into `L` must be able to wait for
//!   the hold of `L` out of it. A write waits for any hold. A plain read (or an upgradable read)
//!   waits for a writer that holds `L`, or, the locks being writer-preferring, for a writer
//!   *queued* on `L` behind a reader: the latter only if someone ever takes `L` for writing. A
//!   recursive read (`read_recursive`) waits only for a writer that holds `L`. Permits can
//!   always run out.
//! - **Timeouts.** An edge taken only with a timeout (`try_lock_for`) ends by itself: a cycle that
//!   needs one can stall until the timeout, but not hang. Such cycles are reported apart.
//! - **Gates.** If one lock was held exclusively on every occurrence of every edge, the orders
//!   never run at the same time. If every edge was taken holding permits of one semaphore and
//!   together they need more permits than it has, they cannot all run at once either.
//! - **Lifetimes.** If a lock of the cycle was dropped before another edge of the cycle was
//!   first taken, the edges could never be held at the same time: the cycle can never close.
//!
//! ```
//! use lockprof_analysis::order_rules::can_wait;
//! use lockprof_trace::Access;
//! assert!(can_wait(Access::Exclusive, Access::Shared, false));
//! assert!(!can_wait(Access::Shared, Access::Shared, false)); // nobody writes: never waits
//! assert!(can_wait(Access::Shared, Access::Shared, true)); // a writer can queue between
//! assert!(!can_wait(Access::SharedRecursive, Access::Shared, true));
//! ```

use lockprof_trace::Access;
use lockprof_trace::schema::{OrderEdge, OrderMode, Trace};

/// Whether a thread acquiring a lock with `wanted` can wait for a thread that holds it with
/// `held`, given whether anyone ever `written` the lock.
pub fn can_wait(wanted: Access, held: Access, written: bool) -> bool {
    wanted == Access::Permits
        || held == Access::Permits
        || held.blocks(wanted)
        || (wanted.queues_behind_writers() && held != Access::Exclusive && written)
}

/// The modes of an edge: its recorded ones, or, in traces that predate them, its own fields.
///
/// ```
/// use lockprof_analysis::order_rules::modes_of;
/// # use lockprof_trace::schema::{OrderEdge, Site};
/// # let site = Site { file: "a.rs".into(), line: 1, column: 1 };
/// # let edge = OrderEdge { from: 1, to: 2, from_site: site.clone(), to_site: site, from_access: Default::default(),
/// #     to_access: Default::default(), thread: 1, stack: None, gates: vec![], threads: 1, modes: vec![],
/// #     permit_gates: vec![], seq: None };
/// assert_eq!(modes_of(&edge).len(), 1);
/// ```
pub fn modes_of(edge: &OrderEdge) -> Vec<OrderMode> {
    if !edge.modes.is_empty() {
        return edge.modes.clone();
    }
    vec![OrderMode {
        from_access: edge.from_access,
        to_access: edge.to_access,
        timed: false,
        from_site: edge.from_site.clone(),
        to_site: edge.to_site.clone(),
        thread: edge.thread,
        stack: edge.stack,
    }]
}

/// Whether lock `id` was ever taken for writing (a mutex always is; so is any lock the trace
/// does not know).
pub fn written(trace: &Trace, id: u64) -> bool {
    trace.lock(id).is_none_or(|l| l.kind == lockprof_trace::LockKind::Mutex || l.written)
}

/// How a cycle can deadlock: the mode of each edge that makes it dangerous, and whether that
/// needs a timed acquisition (then it can only stall).
#[derive(Debug, Clone, PartialEq)]
pub struct Witness {
    /// One mode per edge of the cycle, in cycle order.
    pub modes: Vec<OrderMode>,
    /// Some edge was only ever taken with a timeout.
    pub timed: bool,
}

/// The modes that make the cycle of `candidates` dangerous (candidate modes per edge, in cycle
/// order; `written[i]`: whether lock `i`, where edge `i - 1` ends and edge `i` starts, is ever
/// written), preferring modes without timeouts. `None`: no choice of modes can deadlock.
pub fn choose_modes(candidates: &[Vec<OrderMode>], written: &[bool]) -> Option<Witness> {
    for timed in [false, true] {
        let mut chosen = Vec::with_capacity(candidates.len());
        if search(candidates, written, timed, &mut chosen) {
            let timed = chosen.iter().any(|m: &&OrderMode| m.timed);
            return Some(Witness { modes: chosen.into_iter().cloned().collect(), timed });
        }
    }
    None
}

/// Depth-first choice of one mode per edge such that every lock can block.
fn search<'m>(
    candidates: &'m [Vec<OrderMode>],
    written: &[bool],
    allow_timed: bool,
    chosen: &mut Vec<&'m OrderMode>,
) -> bool {
    let i = chosen.len();
    let k = candidates.len();
    if i == k {
        // Close the cycle: lock 0 is taken by edge k - 1 and held by edge 0.
        return can_wait(chosen[k - 1].to_access, chosen[0].from_access, written[0]);
    }
    for mode in &candidates[i] {
        if mode.timed && !allow_timed {
            continue;
        }
        if i > 0 && !can_wait(chosen[i - 1].to_access, mode.from_access, written[i]) {
            continue;
        }
        chosen.push(mode);
        if search(candidates, written, allow_timed, chosen) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// A lock of the cycle that was dropped before another of its edges was first taken (so the
/// cycle can never close), if any. Sequence numbers compare only within one process: their
/// high 16 bits say which input of a merge they came from.
pub fn dropped_too_early(trace: &Trace, edges: &[usize]) -> Option<u64> {
    let epoch = |n: u64| n >> 48;
    edges.iter().map(|&e| trace.lock_order[e].from).find(|&lock| {
        let Some(dropped) = trace.lock(lock).and_then(|l| l.dropped) else { return false };
        edges
            .iter()
            .filter_map(|&e| trace.lock_order[e].seq)
            .any(|s| epoch(s) == epoch(dropped) && s > dropped)
    })
}

/// A semaphore whose permits, held on every edge of the cycle, are fewer than the edges need
/// together: `(semaphore, needed, capacity)`.
pub fn too_few_permits(trace: &Trace, edges: &[usize]) -> Option<(u64, u64, u32)> {
    let first = &trace.lock_order[*edges.first()?];
    first.permit_gates.iter().find_map(|gate| {
        let mut needed = 0u64;
        for &e in edges {
            let held = trace.lock_order[e].permit_gates.iter().find(|g| g.semaphore == gate.semaphore)?;
            needed += u64::from(held.permits.max(1));
        }
        let capacity = trace.lock(gate.semaphore)?.capacity?;
        (needed > u64::from(capacity)).then_some((gate.semaphore, needed, capacity))
    })
}

/// The locks held exclusively on every occurrence of every edge of the cycle.
pub fn common_gates(trace: &Trace, edges: &[usize]) -> Vec<u64> {
    let mut gates: Vec<u64> = edges.first().map(|&e| trace.lock_order[e].gates.clone()).unwrap_or_default();
    for &e in edges.iter().skip(1) {
        gates.retain(|g| trace.lock_order[e].gates.contains(g));
    }
    gates
}
