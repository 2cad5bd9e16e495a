//! Potential deadlocks: cycles in a trace's lock-order graph.
//!
//! Works on the trace (not the live process), so it gives the same answer in the profiled
//! process, in `lockprof report`/`check`, and on traces merged from several processes.
//!
//! # Rules
//!
//! - **Instance cycles.** A cycle of edges `L1 → L2 → … → L1`, across any threads and any
//!   time, is a potential deadlock: if its orders ran at the same time, each thread could hold the
//!   first lock of its order and wait for the next. It is a failing finding.
//! - **Gate locks.** If one lock `G` was held on every occurrence of every edge of the cycle, the
//!   orders can never run at the same time (each needs `G`), so the cycle cannot deadlock. It is
//!   reported as suppressed, with `G`, and does not fail. (TSan and go-deadlock report these.)
//! - **Access.** At each lock of a cycle, the order into it (acquiring it in some access) must
//!   be able to wait for the order out of it (holding it in some access). A recursive read
//!   (`read_recursive`) waits only for a writer, so a cycle that meets a lock as "held for
//!   reading, acquired by a recursive read" cannot deadlock there and is not reported. Two plain
//!   reads can: the lock is writer-preferring, and a writer queued between them blocks the
//!   second (lockdep's rule for fair rwlocks). Permits always can: a pool can run dry.
//! - **Classes.** Locks created at the same site form a class, as in lockdep. A cycle between
//!   different classes that no instance cycle explains (e.g. account→ledger in one place and
//!   ledger→account for *other* instances elsewhere) is reported as a class-level potential
//!   deadlock, informational by default: it is a real risk only if the instances can coincide,
//!   which the trace cannot tell. Nesting two locks of the *same* class (two accounts) is never a
//!   finding by itself: programs order such locks by address or id, and the instance graph
//!   catches it when they do not.
//!
//! # Bounds
//!
//! Strongly connected components are found with [`crate::digraph`]'s `tarjan_scc`; the elementary cycles
//! inside each are enumerated from their smallest lock, at most [`MAX_CYCLE_LEN`] edges long,
//! at most [`MAX_CYCLES`] of them, within [`MAX_STEPS`] search steps in all. A pathological graph
//! therefore cannot blow up a report; when a bound is hit, [`Analysis::truncated`] says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::digraph::DiGraph;

use lockprof_trace::Access;
use lockprof_trace::schema::{Site, Trace};

/// Longest cycle enumerated, in edges.
pub const MAX_CYCLE_LEN: usize = 8;
/// Most cycles reported per level (instance, class).
pub const MAX_CYCLES: usize = 1_000;
/// Search budget for cycle enumeration per level.
pub const MAX_STEPS: usize = 1_000_000;

/// A cycle of lock orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCycle {
    /// Indices into `trace.lock_order`, in cycle order: edge `i` ends where edge `i + 1` starts.
    pub edges: Vec<usize>,
    /// Locks held on every occurrence of every edge: non-empty means the cycle cannot deadlock.
    pub gates: Vec<u64>,
}

/// A cycle between lock classes (creation sites) that no instance cycle explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCycle {
    /// The classes, in cycle order.
    pub classes: Vec<Site>,
    /// For each class edge, one instance edge (an index into `trace.lock_order`) that took it.
    pub edges: Vec<usize>,
}

/// What the lock-order graph of a trace says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Instance cycles with no common gate: failing findings.
    pub potential: Vec<OrderCycle>,
    /// Instance cycles whose edges share a gate lock: reported as suppressed.
    pub suppressed: Vec<OrderCycle>,
    /// Instance cycles that are exactly the hold→wait orders of an actual deadlock in the same
    /// trace: already reported as that deadlock, not repeated.
    pub deadlocked: Vec<OrderCycle>,
    /// Class cycles no instance cycle explains: informational.
    pub class_cycles: Vec<ClassCycle>,
    /// Whether a bound stopped the enumeration early.
    pub truncated: bool,
}

/// Analyses the lock-order graph of `trace`.
///
/// ```
/// use lockprof_analysis::potential_deadlocks::analyse;
/// use lockprof_trace::schema::{Trace, WriteReason};
/// assert!(analyse(&Trace::empty(WriteReason::Exit)).potential.is_empty());
/// ```
pub fn analyse(trace: &Trace) -> Analysis {
    let mut analysis = Analysis::default();

    // Instance level.
    let pairs: Vec<(u64, u64)> = trace.lock_order.iter().map(|e| (e.from, e.to)).collect();
    let (cycles, truncated) = elementary_cycles(&pairs);
    analysis.truncated |= truncated;
    let mut explained: Vec<BTreeSet<(Site, Site)>> = Vec::new();
    let deadlock_orders: Vec<BTreeSet<(u64, u64)>> = trace
        .deadlocks
        .iter()
        .map(|d| d.cycle.iter().map(|hop| (hop.holds, hop.waits_for)).collect())
        .collect();
    for edges in cycles {
        if !every_lock_can_block(trace, &edges) {
            continue;
        }
        let mut gates: Vec<u64> = trace.lock_order[edges[0]].gates.clone();
        for &e in &edges[1..] {
            gates.retain(|g| trace.lock_order[e].gates.contains(g));
        }
        explained.push(edges.iter().map(|&e| class_pair(trace, e)).collect());
        let orders: BTreeSet<(u64, u64)> = edges.iter().map(|&e| pairs[e]).collect();
        let cycle = OrderCycle { edges, gates };
        if deadlock_orders.contains(&orders) {
            analysis.deadlocked.push(cycle);
        } else if cycle.gates.is_empty() {
            analysis.potential.push(cycle);
        } else {
            analysis.suppressed.push(cycle);
        }
    }

    // Class level: one class edge per distinct (class, class) pair of different classes.
    let mut class_ids: BTreeMap<Site, u64> = BTreeMap::new();
    let mut class_edges: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for (i, _) in trace.lock_order.iter().enumerate() {
        let (from, to) = class_pair(trace, i);
        if from == to {
            continue;
        }
        let next = class_ids.len() as u64;
        let from = *class_ids.entry(from).or_insert(next);
        let next = class_ids.len() as u64;
        let to = *class_ids.entry(to).or_insert(next);
        class_edges.entry((from, to)).or_insert(i);
    }
    let class_pairs: Vec<(u64, u64)> = class_edges.keys().copied().collect();
    let (cycles, truncated) = elementary_cycles(&class_pairs);
    analysis.truncated |= truncated;
    let site_of: HashMap<u64, Site> = class_ids.iter().map(|(site, &id)| (id, site.clone())).collect();
    for cycle in cycles {
        let edges: Vec<usize> = cycle.iter().map(|&c| class_edges[&class_pairs[c]]).collect();
        let pairs: BTreeSet<(Site, Site)> = edges.iter().map(|&e| class_pair(trace, e)).collect();
        if explained.iter().any(|instance| pairs.is_subset(instance)) {
            continue;
        }
        let classes = cycle.iter().map(|&c| site_of[&class_pairs[c].0].clone()).collect();
        analysis.class_cycles.push(ClassCycle { classes, edges });
    }
    analysis
}

/// Whether, at every lock of the cycle, the acquisition into it can wait for the hold out of it.
fn every_lock_can_block(trace: &Trace, edges: &[usize]) -> bool {
    let k = edges.len();
    (0..k).all(|i| {
        let into = &trace.lock_order[edges[i]]; // acquires lock L = into.to
        let out = &trace.lock_order[edges[(i + 1) % k]]; // holds L = out.from
        let (wanted, held) = (into.to_access, out.from_access);
        wanted == Access::Permits
            || held == Access::Permits
            || held.blocks(wanted)
            || (wanted.queues_behind_writers() && held != Access::Exclusive)
    })
}

/// The creation sites of an edge's two locks.
fn class_pair(trace: &Trace, edge: usize) -> (Site, Site) {
    let e = &trace.lock_order[edge];
    let site = |id| trace.lock(id).map(|l| l.site.clone()).unwrap_or_else(|| Site::unknown(id));
    (site(e.from), site(e.to))
}

/// The elementary cycles of the graph with these edges (self-loops ignored), each as indices into
/// `edges` in cycle order starting from its smallest node; and whether a bound cut the search.
fn elementary_cycles(edges: &[(u64, u64)]) -> (Vec<Vec<usize>>, bool) {
    let mut graph: DiGraph<usize> = DiGraph::new();
    for (i, &(a, b)) in edges.iter().enumerate() {
        if a != b {
            graph.add_edge(a, b, i);
        }
    }
    let mut search = CycleSearch { graph: &graph, cycles: Vec::new(), steps: 0, truncated: false };
    let mut components = graph.tarjan_scc();
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort();
    for component in components.iter().filter(|c| c.len() > 1) {
        let members: BTreeSet<u64> = component.iter().copied().collect();
        for &start in component {
            let allowed: BTreeSet<u64> = members.range(start..).copied().collect();
            let mut path = Vec::new();
            search.from(start, start, &allowed, &mut path);
        }
    }
    (search.cycles, search.truncated)
}

struct CycleSearch<'g> {
    graph: &'g DiGraph<usize>,
    cycles: Vec<Vec<usize>>,
    steps: usize,
    truncated: bool,
}

impl CycleSearch<'_> {
    /// Depth-first search for paths from `node` back to `start` through `allowed` nodes (all
    /// greater than `start`, so each cycle is found once, from its smallest node).
    fn from(&mut self, start: u64, node: u64, allowed: &BTreeSet<u64>, path: &mut Vec<(u64, usize)>) {
        let mut next: Vec<(u64, usize)> = self.graph.edges(node).map(|(to, &i)| (to, i)).collect();
        next.sort_unstable();
        for (to, edge) in next {
            self.steps += 1;
            if self.steps > MAX_STEPS || self.cycles.len() >= MAX_CYCLES {
                self.truncated = true;
                return;
            }
            if to == start {
                let mut cycle: Vec<usize> = path.iter().map(|&(_, e)| e).collect();
                cycle.push(edge);
                self.cycles.push(cycle);
            } else if allowed.contains(&to) && to != start && !path.iter().any(|&(n, _)| n == to) {
                if path.len() + 1 >= MAX_CYCLE_LEN {
                    self.truncated = true;
                    continue;
                }
                path.push((to, edge));
                self.from(start, to, allowed, path);
                path.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_trace::Access;
    use lockprof_trace::LockKind;
    use lockprof_trace::schema::{LockEntry, OrderEdge, ThreadEntry, WriteReason};

    fn site(line: u32) -> Site {
        Site { file: "src/lib.rs".into(), line, column: 1 }
    }

    /// A trace with locks 1..=n (lock i created at line `class_of(i)`) and the given edges.
    fn trace(n: u64, class_of: impl Fn(u64) -> u32, edges: &[(u64, u64, &[u64])]) -> Trace {
        let mut t = Trace::empty(WriteReason::Exit);
        t.threads.push(ThreadEntry { id: 1, name: None });
        t.locks = (1..=n)
            .map(|id| LockEntry { id, kind: LockKind::Mutex, site: site(class_of(id)), name: None })
            .collect();
        t.lock_order = edges
            .iter()
            .map(|&(from, to, gates)| OrderEdge {
                from,
                to,
                from_site: site(100 + from as u32),
                to_site: site(200 + to as u32),
                from_access: Access::Exclusive,
                to_access: Access::Exclusive,
                thread: 1,
                stack: None,
                gates: gates.to_vec(),
                threads: 1,
            })
            .collect();
        t
    }

    fn distinct(id: u64) -> u32 {
        id as u32
    }

    fn with_access(mut t: Trace, accesses: &[(Access, Access)]) -> Trace {
        for (edge, &(from, to)) in t.lock_order.iter_mut().zip(accesses) {
            edge.from_access = from;
            edge.to_access = to;
        }
        t
    }

    #[test]
    fn two_read_orders_on_a_writer_preferring_lock_can_still_deadlock() {
        use Access::{Exclusive, Shared};
        // A read-held, then B; B held, then A read: a writer queued on A blocks the second read.
        let t = with_access(
            trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]),
            &[(Shared, Exclusive), (Exclusive, Shared)],
        );
        assert_eq!(analyse(&t).potential.len(), 1);
    }

    #[test]
    fn a_recursive_read_against_a_read_hold_cannot_deadlock() {
        use Access::{Exclusive, Shared, SharedRecursive};
        let t = with_access(
            trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]),
            &[(Shared, Exclusive), (Exclusive, SharedRecursive)],
        );
        assert!(analyse(&t).potential.is_empty());
        // Against a write hold it can.
        let t = with_access(
            trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]),
            &[(Exclusive, Exclusive), (Exclusive, SharedRecursive)],
        );
        assert_eq!(analyse(&t).potential.len(), 1);
    }

    #[test]
    fn semaphore_orders_count() {
        use Access::{Exclusive, Permits};
        let t = with_access(
            trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]),
            &[(Permits, Exclusive), (Exclusive, Permits)],
        );
        assert_eq!(analyse(&t).potential.len(), 1);
    }

    #[test]
    fn abba_is_one_potential_deadlock() {
        let a = analyse(&trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]));
        assert_eq!(a.potential, vec![OrderCycle { edges: vec![0, 1], gates: vec![] }]);
        assert!(a.suppressed.is_empty() && a.class_cycles.is_empty() && !a.truncated);
    }

    #[test]
    fn the_orders_of_an_actual_deadlock_are_not_repeated_as_potential() {
        use lockprof_trace::DeadlockPolicy;
        use lockprof_trace::schema::{CycleHop, Deadlock};
        let mut t = trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]);
        let hop = |thread, holds, waits_for| CycleHop {
            thread,
            holds,
            hold_site: site(1),
            hold_access: Access::Exclusive,
            hold_permits: 0,
            queued: false,
            waits_for,
            wait_access: Access::Exclusive,
            wait_permits: 0,
            wait_site: site(2),
            stack: None,
        };
        t.deadlocks.push(Deadlock {
            detected_by: 1,
            background: false,
            policy: DeadlockPolicy::Panic,
            knot: vec![],
            cycle: vec![hop(1, 2, 1), hop(1, 1, 2)],
        });
        let a = analyse(&t);
        assert!(a.potential.is_empty());
        assert_eq!(a.deadlocked.len(), 1);
    }

    #[test]
    fn consistent_order_has_no_cycle() {
        let edges: Vec<(u64, u64, &[u64])> =
            (1..8).flat_map(|a| (a + 1..=8).map(move |b| (a, b, &[][..]))).collect();
        let a = analyse(&trace(8, distinct, &edges));
        assert_eq!(a, Analysis::default());
    }

    #[test]
    fn a_three_lock_ring_is_one_cycle_found_once() {
        let a = analyse(&trace(3, distinct, &[(1, 2, &[]), (2, 3, &[]), (3, 1, &[])]));
        assert_eq!(a.potential.len(), 1);
        assert_eq!(a.potential[0].edges, vec![0, 1, 2]);
    }

    #[test]
    fn a_common_gate_suppresses_the_cycle() {
        let a = analyse(&trace(3, distinct, &[(1, 2, &[3]), (2, 1, &[3])]));
        assert!(a.potential.is_empty());
        assert_eq!(a.suppressed, vec![OrderCycle { edges: vec![0, 1], gates: vec![3] }]);
    }

    #[test]
    fn a_gate_on_only_one_order_does_not_suppress() {
        let a = analyse(&trace(3, distinct, &[(1, 2, &[3]), (2, 1, &[])]));
        assert_eq!(a.potential.len(), 1);
    }

    #[test]
    fn same_class_nesting_alone_is_not_a_class_finding() {
        // Two accounts (same creation site) nested both ways: an instance cycle, but no class
        // cycle (same class), so exactly one finding.
        let a = analyse(&trace(2, |_| 10, &[(1, 2, &[]), (2, 1, &[])]));
        assert_eq!(a.potential.len(), 1);
        assert!(a.class_cycles.is_empty());
        // Ordered by id: no finding at all.
        let a = analyse(&trace(2, |_| 10, &[(1, 2, &[])]));
        assert_eq!(a, Analysis::default());
    }

    #[test]
    fn class_cycle_without_instance_cycle_is_reported() {
        // accounts (1, 3) at line 10, ledgers (2, 4) at line 20: account1 → ledger2, and
        // ledger4 → account3. No instance cycle, but the classes invert.
        let class = |id: u64| if id % 2 == 1 { 10 } else { 20 };
        let a = analyse(&trace(4, class, &[(1, 2, &[]), (4, 3, &[])]));
        assert!(a.potential.is_empty());
        assert_eq!(a.class_cycles.len(), 1);
        assert_eq!(a.class_cycles[0].classes.len(), 2);
    }

    #[test]
    fn class_cycle_explained_by_an_instance_cycle_is_not_repeated() {
        let a = analyse(&trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]));
        assert!(a.class_cycles.is_empty());
    }

    #[test]
    fn a_complete_graph_is_bounded() {
        let n = 14u64;
        let edges: Vec<(u64, u64, &[u64])> =
            (1..=n).flat_map(|a| (1..=n).filter(move |&b| b != a).map(move |b| (a, b, &[][..]))).collect();
        let a = analyse(&trace(n, distinct, &edges));
        assert!(a.truncated);
        assert!(a.potential.len() <= MAX_CYCLES);
    }
}
