//! Potential deadlocks: cycles in a trace's lock-order graph.
//!
//! Works on the trace (not the live process), so it gives the same answer in the profiled
//! process, in `lockprof report`/`check`, and on traces merged from several processes.
//!
//! # Rules
//!
//! - **Instance cycles.** A cycle of edges `L1 → L2 → … → L1`, across any threads and any
//!   time, is a potential deadlock if some choice of the ways each edge was taken (its modes)
//!   lets every lock of it block ([`crate::order_rules`]: reads wait only for writers, and for
//!   queued ones only on locks someone writes; a recursive read only for a held write; permits
//!   always can). It is a failing finding, named in the modes that make it dangerous. An edge
//!   from a lock to itself is a plain re-read of a lock the thread reads: a potential deadlock
//!   when someone writes the lock.
//! - **Stalls.** A cycle that can only close through an acquisition with a timeout stalls until
//!   the timeout: reported apart, not failing by default.
//! - **What keeps a cycle from closing.** A lock held exclusively on every occurrence of every
//!   edge (a gate), a semaphore held on every edge with fewer permits than the edges need
//!   together, or a lock dropped before another edge of the cycle was first taken: the cycle
//!   is reported as suppressed, with the reason. (TSan and go-deadlock report these.)
//! - **One finding per problem.** Dangerous cycles are grouped by the strongly connected set of
//!   locks they lie in; each set is one finding, its shortest cycle the witness, the set's other
//!   orders listed with it.
//! - **Classes.** Locks created at the same site form a class, as in lockdep. A cycle between
//!   different classes that no instance cycle explains (e.g. ledger→audit on one `Bank` and
//!   audit→ledger on another) is a potential deadlock of classes and fails by default: in one
//!   program, instances that meet deadlock. Nesting two locks of the *same* class (two
//!   accounts) is never a finding by itself: programs order such locks by address or id, and
//!   the instance graph catches it when they do not.
//!
//! # Bounds
//!
//! Strongly connected components are found with [`crate::digraph`]'s `tarjan_scc`; the elementary cycles
//! inside each are enumerated from their smallest lock, at most [`MAX_CYCLE_LEN`] edges long,
//! at most [`MAX_CYCLES`] of them, within [`MAX_STEPS`] search steps in all. A pathological graph
//! therefore cannot blow up a report; when a bound is hit, [`Analysis::truncated`] says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::digraph::DiGraph;

use crate::order_rules::{choose_modes, common_gates, dropped_too_early, modes_of, too_few_permits, written};
use lockprof_trace::schema::{OrderMode, Site, Trace};

/// Longest cycle enumerated, in edges.
pub const MAX_CYCLE_LEN: usize = 8;
/// Most cycles examined per level (instance, class).
pub const MAX_CYCLES: usize = 1_000;
/// Search budget for cycle enumeration per level.
pub const MAX_STEPS: usize = 1_000_000;
/// Modes tried per class edge (distinct ways of taking it).
const MAX_CLASS_MODES: usize = 16;

/// A cycle of lock orders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderCycle {
    /// Indices into `trace.lock_order`, in cycle order: edge `i` ends where edge `i + 1` starts.
    /// One edge from a lock to itself is a re-entrant read.
    pub edges: Vec<usize>,
    /// The mode of each edge that makes the cycle dangerous (the sites to show).
    pub modes: Vec<OrderMode>,
    /// Locks held on every occurrence of every edge: non-empty means the cycle cannot deadlock.
    pub gates: Vec<u64>,
    /// A semaphore held on every edge whose permits are fewer than the edges need together:
    /// `(semaphore, needed, capacity)`; the cycle cannot deadlock.
    pub permits: Option<(u64, u64, u32)>,
    /// A lock of the cycle dropped before another of its edges was first taken: the cycle can
    /// never close.
    pub dropped: Option<u64>,
    /// Other edges between locks of the same strongly connected set (the other orders of the
    /// same problem), for findings that stand for the whole set.
    pub others: Vec<usize>,
    /// How many dangerous cycles the set holds (this one, the shortest, included; within the
    /// enumeration's bounds).
    pub cycles: usize,
}

/// A cycle between lock classes (creation sites) that no instance cycle explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCycle {
    /// The classes, in cycle order.
    pub classes: Vec<Site>,
    /// For each class edge, the instance edge (an index into `trace.lock_order`) that makes it
    /// dangerous.
    pub edges: Vec<usize>,
    /// That edge's mode.
    pub modes: Vec<OrderMode>,
    /// Other instance edges between classes of the same strongly connected set of classes.
    pub others: Vec<usize>,
}

/// What the lock-order graph of a trace says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// One per strongly connected set of locks with a dangerous cycle (its shortest as the
    /// witness): failing findings.
    pub potential: Vec<OrderCycle>,
    /// Cycles that can deadlock only through an acquisition with a timeout: they can stall until
    /// it expires. One per strongly connected set; not failing by default.
    pub stalls: Vec<OrderCycle>,
    /// Cycles that cannot deadlock because of a gate lock, too few permits, or a lock dropped
    /// too early: one per strongly connected set, reported as suppressed.
    pub suppressed: Vec<OrderCycle>,
    /// Instance cycles that are exactly the hold→wait orders of an actual deadlock in the same
    /// trace: already reported as that deadlock, not repeated.
    pub deadlocked: Vec<OrderCycle>,
    /// Class cycles no instance cycle explains, one per strongly connected set of classes:
    /// failing findings.
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
    let (mut cycles, truncated) = elementary_cycles(&pairs);
    analysis.truncated |= truncated;
    // A plain re-read of a lock the thread reads is a cycle of one edge (rule 2).
    cycles.extend((0..pairs.len()).filter(|&i| pairs[i].0 == pairs[i].1).map(|i| vec![i]));
    cycles.sort_by_key(Vec::len); // shortest first: each set's witness is its shortest cycle
    let set_of = strongly_connected_sets(&pairs);
    let mut explained: Vec<BTreeSet<(Site, Site)>> = Vec::new();
    let deadlock_orders: Vec<BTreeSet<(u64, u64)>> = trace
        .deadlocks
        .iter()
        .map(|d| d.cycle.iter().map(|hop| (hop.holds, hop.waits_for)).collect())
        .collect();
    let mut potential: BTreeMap<usize, OrderCycle> = BTreeMap::new();
    let mut stalls: BTreeMap<usize, OrderCycle> = BTreeMap::new();
    let mut suppressed: BTreeMap<usize, OrderCycle> = BTreeMap::new();
    for edges in cycles {
        explained.push(edges.iter().map(|&e| class_pair(trace, e)).collect());
        let candidates: Vec<Vec<OrderMode>> = edges.iter().map(|&e| modes_of(&trace.lock_order[e])).collect();
        let writes: Vec<bool> = edges.iter().map(|&e| written(trace, trace.lock_order[e].from)).collect();
        let Some(witness) = choose_modes(&candidates, &writes) else { continue };
        let set = set_of.get(&pairs[edges[0]].0).copied().unwrap_or(usize::MAX);
        let orders: BTreeSet<(u64, u64)> = edges.iter().map(|&e| pairs[e]).collect();
        let cycle = OrderCycle {
            gates: common_gates(trace, &edges),
            permits: too_few_permits(trace, &edges),
            dropped: dropped_too_early(trace, &edges),
            modes: witness.modes,
            edges,
            others: Vec::new(),
            cycles: 1,
        };
        let into = if deadlock_orders.contains(&orders) {
            analysis.deadlocked.push(cycle);
            continue;
        } else if !cycle.gates.is_empty() || cycle.permits.is_some() || cycle.dropped.is_some() {
            &mut suppressed
        } else if witness.timed {
            &mut stalls
        } else {
            &mut potential
        };
        // A self-edge is its own problem (a re-read), whatever set its lock is in.
        let key = if cycle.edges.len() == 1 { usize::MAX - 1 - cycle.edges[0] } else { set };
        match into.get_mut(&key) {
            Some(kept) => kept.cycles += 1,
            None => {
                into.insert(key, cycle);
            }
        }
    }
    for (set, mut cycle) in potential {
        cycle.others = (0..pairs.len())
            .filter(|&e| {
                let (a, b) = pairs[e];
                a != b
                    && set_of.get(&a) == Some(&set)
                    && set_of.get(&b) == Some(&set)
                    && !cycle.edges.contains(&e)
            })
            .collect();
        analysis.potential.push(cycle);
    }
    analysis.stalls = stalls.into_values().collect();
    analysis.suppressed = suppressed.into_values().collect();

    analyse_classes(trace, &explained, &mut analysis);
    analysis
}

/// The class level: a cycle between different classes that no instance cycle explains.
fn analyse_classes(trace: &Trace, explained: &[BTreeSet<(Site, Site)>], analysis: &mut Analysis) {
    let mut class_ids: BTreeMap<Site, u64> = BTreeMap::new();
    // Per class edge, its instance edges, one per distinct mode (bounded).
    let mut class_edges: BTreeMap<(u64, u64), Vec<(usize, OrderMode)>> = BTreeMap::new();
    for (i, edge) in trace.lock_order.iter().enumerate() {
        let (from, to) = class_pair(trace, i);
        if from == to {
            continue;
        }
        let next = class_ids.len() as u64;
        let from = *class_ids.entry(from).or_insert(next);
        let next = class_ids.len() as u64;
        let to = *class_ids.entry(to).or_insert(next);
        let modes = class_edges.entry((from, to)).or_default();
        for mode in modes_of(edge) {
            let same = |(_, m): &(usize, OrderMode)| {
                (m.from_access, m.to_access, m.timed) == (mode.from_access, mode.to_access, mode.timed)
            };
            if modes.len() < MAX_CLASS_MODES && !modes.iter().any(same) {
                modes.push((i, mode));
            }
        }
    }
    let class_pairs: Vec<(u64, u64)> = class_edges.keys().copied().collect();
    let (mut cycles, truncated) = elementary_cycles(&class_pairs);
    analysis.truncated |= truncated;
    cycles.sort_by_key(Vec::len);
    let set_of = strongly_connected_sets(&class_pairs);
    let site_of: HashMap<u64, Site> = class_ids.iter().map(|(site, &id)| (id, site.clone())).collect();
    let mut found: BTreeMap<usize, ClassCycle> = BTreeMap::new();
    for cycle in cycles {
        let set = set_of.get(&class_pairs[cycle[0]].0).copied().unwrap_or(usize::MAX);
        if found.contains_key(&set) {
            continue;
        }
        let options: Vec<&Vec<(usize, OrderMode)>> =
            cycle.iter().map(|&c| &class_edges[&class_pairs[c]]).collect();
        let candidates: Vec<Vec<OrderMode>> =
            options.iter().map(|o| o.iter().map(|(_, m)| m.clone()).collect()).collect();
        // A class is written if any of its instances met here is.
        let writes: Vec<bool> = options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let before = options[(i + options.len() - 1) % options.len()];
                o.iter().any(|&(e, _)| written(trace, trace.lock_order[e].from))
                    || before.iter().any(|&(e, _)| written(trace, trace.lock_order[e].to))
            })
            .collect();
        let Some(witness) = choose_modes(&candidates, &writes) else { continue };
        if witness.timed {
            continue;
        }
        let edges: Vec<usize> = options
            .iter()
            .zip(&witness.modes)
            .map(|(o, m)| o.iter().find(|(_, n)| n == m).map_or(o[0].0, |&(e, _)| e))
            .collect();
        let pairs: BTreeSet<(Site, Site)> = edges.iter().map(|&e| class_pair(trace, e)).collect();
        if explained.iter().any(|instance| pairs.is_subset(instance)) {
            continue;
        }
        if !common_gates(trace, &edges).is_empty() || too_few_permits(trace, &edges).is_some() {
            continue;
        }
        let classes = cycle.iter().map(|&c| site_of[&class_pairs[c].0].clone()).collect();
        found.insert(set, ClassCycle { classes, edges, modes: witness.modes, others: Vec::new() });
    }
    for (set, mut cycle) in found {
        let in_set = |site: &Site| class_ids.get(site).and_then(|id| set_of.get(id)) == Some(&set);
        cycle.others = (0..trace.lock_order.len())
            .filter(|&e| {
                let (a, b) = class_pair(trace, e);
                a != b && in_set(&a) && in_set(&b) && !cycle.edges.contains(&e)
            })
            .take(32)
            .collect();
        analysis.class_cycles.push(cycle);
    }
}

/// The strongly connected set (an index) of each node of the graph of these edges that is on
/// some cycle of two or more nodes.
fn strongly_connected_sets(edges: &[(u64, u64)]) -> HashMap<u64, usize> {
    let mut graph: DiGraph<()> = DiGraph::new();
    for &(a, b) in edges.iter().filter(|(a, b)| a != b) {
        graph.add_edge(a, b, ());
    }
    let mut components = graph.tarjan_scc();
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort();
    let mut set_of = HashMap::new();
    for (i, component) in components.iter().enumerate().filter(|(_, c)| c.len() > 1) {
        for &node in component {
            set_of.insert(node, i);
        }
    }
    set_of
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
            .map(|id| LockEntry {
                id,
                kind: LockKind::Mutex,
                site: site(class_of(id)),
                name: None,
                written: false,
                dropped: None,
                capacity: None,
            })
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
                modes: vec![],
                permit_gates: vec![],
                seq: None,
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
        assert_eq!(a.potential.len(), 1);
        assert_eq!(
            (a.potential[0].edges.as_slice(), a.potential[0].gates.as_slice()),
            (&[0, 1][..], &[][..])
        );
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
            all_asleep: false,
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
        assert_eq!(a.suppressed.len(), 1);
        assert_eq!(
            (a.suppressed[0].edges.as_slice(), a.suppressed[0].gates.as_slice()),
            (&[0, 1][..], &[3][..])
        );
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
    fn rw(mut t: Trace, ids: &[u64], written: bool) -> Trace {
        for l in t.locks.iter_mut().filter(|l| ids.contains(&l.id)) {
            l.kind = LockKind::RwLock;
            l.written = written;
        }
        t
    }

    #[test]
    fn reads_of_a_lock_nobody_writes_never_wait() {
        use Access::{Exclusive, Shared};
        let edges: &[(u64, u64, &[u64])] = &[(1, 2, &[]), (2, 1, &[])];
        let accesses = [(Shared, Exclusive), (Exclusive, Shared)];
        let t = rw(with_access(trace(2, distinct, edges), &accesses), &[1], false);
        assert!(analyse(&t).potential.is_empty());
        let t = rw(with_access(trace(2, distinct, edges), &accesses), &[1], true);
        assert_eq!(analyse(&t).potential.len(), 1);
    }

    #[test]
    fn a_plain_reread_is_a_cycle_of_one_edge_when_the_lock_is_written() {
        use Access::Shared;
        let t = rw(with_access(trace(1, distinct, &[(1, 1, &[])]), &[(Shared, Shared)]), &[1], true);
        let a = analyse(&t);
        assert_eq!(a.potential.len(), 1);
        assert_eq!(a.potential[0].edges, vec![0]);
        let t = rw(with_access(trace(1, distinct, &[(1, 1, &[])]), &[(Shared, Shared)]), &[1], false);
        assert!(analyse(&t).potential.is_empty());
    }

    #[test]
    fn a_cycle_that_needs_a_timed_order_only_stalls() {
        let mut t = trace(2, distinct, &[(1, 2, &[]), (2, 1, &[])]);
        let mut mode = modes_of(&t.lock_order[1]).remove(0);
        mode.timed = true;
        t.lock_order[1].modes = vec![mode];
        let a = analyse(&t);
        assert!(a.potential.is_empty());
        assert_eq!(a.stalls.len(), 1);
    }

    #[test]
    fn more_permits_than_the_semaphore_has_suppress_the_cycle() {
        use lockprof_trace::schema::PermitGate;
        // A ring of three, each order under one permit of semaphore 4.
        let mut t = trace(4, distinct, &[(1, 2, &[]), (2, 3, &[]), (3, 1, &[])]);
        for e in &mut t.lock_order {
            e.permit_gates = vec![PermitGate { semaphore: 4, permits: 1 }];
        }
        t.locks[3].kind = LockKind::Semaphore;
        t.locks[3].capacity = Some(2);
        let a = analyse(&t);
        assert!(a.potential.is_empty());
        assert_eq!(a.suppressed[0].permits, Some((4, 3, 2)));
        t.locks[3].capacity = Some(3);
        assert_eq!(analyse(&t).potential.len(), 1);
    }

    #[test]
    fn a_lock_dropped_before_the_last_order_was_first_taken_closes_nothing() {
        let mut t = trace(3, distinct, &[(1, 2, &[]), (2, 3, &[]), (3, 1, &[])]);
        for (i, e) in t.lock_order.iter_mut().enumerate() {
            e.seq = Some(i as u64);
        }
        t.locks[1].dropped = Some(1); // lock 2: after 1 -> 2 and 2 -> 3, before 3 -> 1
        let a = analyse(&t);
        assert!(a.potential.is_empty());
        assert_eq!(a.suppressed[0].dropped, Some(2));
        // Another process's numbers do not compare.
        t.locks[1].dropped = Some(1 | (1 << 48));
        assert_eq!(analyse(&t).potential.len(), 1);
    }

    #[test]
    fn every_cycle_among_one_set_of_locks_is_one_finding_with_the_shortest_witness() {
        // Two groups of three, every pair ordered both ways: 6 locks, one set.
        let mut edges: Vec<(u64, u64, &[u64])> = Vec::new();
        for a in 1..=3 {
            for b in 4..=6 {
                edges.push((a, b, &[]));
                edges.push((b, a, &[]));
            }
        }
        let a = analyse(&trace(6, distinct, &edges));
        assert_eq!(a.potential.len(), 1);
        assert_eq!(a.potential[0].edges.len(), 2);
        assert_eq!(a.potential[0].others.len(), edges.len() - 2);
        assert!(a.potential[0].cycles > 1);
    }

    #[test]
    fn a_class_cycle_fails_by_default() {
        use crate::findings::{FindingKind, findings};
        let class = |id: u64| if id % 2 == 1 { 10 } else { 20 };
        let t = trace(4, class, &[(1, 2, &[]), (4, 3, &[])]);
        let found = findings(&t);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, FindingKind::PotentialClassDeadlock);
        assert!(found[0].kind.fails_by_default());
    }
}
