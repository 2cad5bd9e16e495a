//! A trace's graphs as nodes and edges, for drawing: the lock-order graph (locks, and an edge
//! for every lock taken while holding another) with the edges on cycles marked, and each actual
//! deadlock's wait-for cycle (threads and locks, in cycle order). `lockprof graph` writes them
//! as Graphviz DOT ([`crate::dot`]); the HTML report draws the cycles as SVG rings
//! ([`crate::ring`]).
//!
//! Labels come from the report's helpers (`lock #1 "A"`, `thread #2 "ba"`), made printable
//! ([`printable`]): a crafted name cannot break a line or a format.

use std::collections::{BTreeMap, BTreeSet};

use lockprof_analysis::potential_deadlocks::{Analysis, OrderCycle};
use lockprof_analysis::report::{lock_label, thread_label};
use lockprof_trace::schema::{Deadlock, OrderEdge, Site, Trace};

use crate::profile::printable;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A lock (a box).
    Lock,
    /// A thread (an ellipse).
    Thread,
}

/// A node: a lock or a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// An identifier, unique within its graph, made of `[a-z0-9_]` only.
    pub id: String,
    /// Lock or thread.
    pub kind: NodeKind,
    /// `lock #1 "A"`, `thread #2 "ba"`.
    pub title: String,
    /// A second line: `mutex created at src/x.rs:3:17` for a lock; empty for a thread.
    pub detail: String,
}

/// Why an edge is highlighted; the strongest applies when it is on several cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// On no cycle.
    Plain,
    /// On a lock-order cycle that a common gate lock makes harmless (suppressed).
    Gated,
    /// On a potential deadlock: a lock-order cycle without a gate.
    Potential,
    /// On an actual deadlock's cycle (its wait-for edges, and the lock orders that deadlocked).
    Deadlock,
}

/// A directed edge between two nodes of one graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The id of the node it leaves.
    pub from: String,
    /// The id of the node it enters.
    pub to: String,
    /// What it says, one item a line.
    pub label: Vec<String>,
    /// Its highlight.
    pub mark: Mark,
}

/// A graph of nodes and edges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// What it shows.
    pub title: String,
    /// Its nodes; a cycle's are in cycle order.
    pub nodes: Vec<Node>,
    /// Its edges.
    pub edges: Vec<Edge>,
}

fn lock_node(trace: &Trace, prefix: &str, id: u64) -> Node {
    Node {
        id: format!("{prefix}lock_{id}"),
        kind: NodeKind::Lock,
        title: printable(&lock_label(trace, id)),
        detail: match trace.lock(id) {
            Some(lock) => printable(&format!("{} created at {}", lock.kind.as_str(), lock.site)),
            None => "not in the trace".to_owned(),
        },
    }
}

fn thread_node(trace: &Trace, prefix: &str, id: u64) -> Node {
    Node {
        id: format!("{prefix}thread_{id}"),
        kind: NodeKind::Thread,
        title: printable(&thread_label(trace, id)),
        detail: String::new(),
    }
}

fn site(site: &Site) -> String {
    printable(&site.to_string())
}

/// The lock-order graph of `trace`: every lock on an edge, every edge labelled with the sites
/// of its first occurrence and its thread(s), marked by the strongest cycle of `analysis` it is
/// on.
pub fn lock_order(trace: &Trace, analysis: &Analysis) -> Graph {
    let mut marks: BTreeMap<usize, Mark> = BTreeMap::new();
    let mut mark = |cycles: &[OrderCycle], mark: Mark| {
        for cycle in cycles {
            for &e in &cycle.edges {
                let entry = marks.entry(e).or_insert(mark);
                *entry = (*entry).max(mark);
            }
        }
    };
    mark(&analysis.suppressed, Mark::Gated);
    mark(&analysis.potential, Mark::Potential);
    mark(&analysis.deadlocked, Mark::Deadlock);
    let locks: BTreeSet<u64> = trace.lock_order.iter().flat_map(|e| [e.from, e.to]).collect();
    Graph {
        title: "lock-order graph: an edge A → B for every lock B taken while holding A".to_owned(),
        nodes: locks.into_iter().map(|id| lock_node(trace, "", id)).collect(),
        edges: trace
            .lock_order
            .iter()
            .enumerate()
            .map(|(i, edge)| order_edge(trace, "", edge, marks.get(&i).copied().unwrap_or(Mark::Plain)))
            .collect(),
    }
}

fn order_edge(trace: &Trace, prefix: &str, edge: &OrderEdge, mark: Mark) -> Edge {
    let mut label =
        vec![format!("held since {}", site(&edge.from_site)), format!("then took {}", site(&edge.to_site))];
    let thread = printable(&thread_label(trace, edge.thread));
    label.push(match edge.threads {
        0 | 1 => thread,
        n => format!("{thread} and {} more", n - 1),
    });
    if !edge.gates.is_empty() {
        let gates: Vec<String> = edge.gates.iter().map(|&g| printable(&lock_label(trace, g))).collect();
        label.push(format!("holding also {}", gates.join(", ")));
    }
    Edge { from: format!("{prefix}lock_{}", edge.from), to: format!("{prefix}lock_{}", edge.to), label, mark }
}

/// A lock-order cycle as a ring of its locks (`prefix` keeps its ids apart from other graphs'),
/// its edges marked `mark`.
pub fn order_cycle(trace: &Trace, cycle: &OrderCycle, prefix: &str, mark: Mark) -> Graph {
    let edges: Vec<&OrderEdge> = cycle.edges.iter().filter_map(|&e| trace.lock_order.get(e)).collect();
    let mut title = format!(
        "{}: {}",
        if mark == Mark::Gated { "harmless lock-order cycle" } else { "potential deadlock" },
        printable(&lockprof_analysis::report::order_cycle_line(trace, &cycle.edges))
    );
    if !cycle.gates.is_empty() {
        let gates: Vec<String> = cycle.gates.iter().map(|&g| printable(&lock_label(trace, g))).collect();
        title.push_str(&format!(" (every order held {})", gates.join(", ")));
    }
    Graph {
        title,
        nodes: edges.iter().map(|e| lock_node(trace, prefix, e.from)).collect(),
        edges: edges.iter().map(|e| order_edge(trace, prefix, e, mark)).collect(),
    }
}

/// An actual deadlock's cycle as a ring: thread, the lock it waits for, the thread holding that
/// lock, and so on (knot members after the cycle). Edges `thread → lock` say where it waits;
/// `lock → thread` where the holder took it. `prefix` keeps its ids apart from other graphs'.
pub fn deadlock_cycle(trace: &Trace, deadlock: &Deadlock, prefix: &str) -> Graph {
    let mut graph = Graph {
        title: printable(&format!("deadlock: {}", lockprof_analysis::report::cycle_line(trace, deadlock))),
        ..Graph::default()
    };
    let hops: Vec<_> = deadlock.cycle.iter().chain(&deadlock.knot).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut add = |graph: &mut Graph, node: Node| {
        if seen.insert(node.id.clone()) {
            graph.nodes.push(node);
        }
    };
    for hop in &hops {
        add(&mut graph, thread_node(trace, prefix, hop.thread));
        add(&mut graph, lock_node(trace, prefix, hop.waits_for));
    }
    for hop in &hops {
        add(&mut graph, lock_node(trace, prefix, hop.holds));
        graph.edges.push(Edge {
            from: format!("{prefix}thread_{}", hop.thread),
            to: format!("{prefix}lock_{}", hop.waits_for),
            label: vec![format!("waits at {}", site(&hop.wait_site))],
            mark: Mark::Deadlock,
        });
        graph.edges.push(Edge {
            from: format!("{prefix}lock_{}", hop.holds),
            to: format!("{prefix}thread_{}", hop.thread),
            label: vec![format!(
                "{} {}",
                if hop.queued { "queued at" } else { "held since" },
                site(&hop.hold_site)
            )],
            mark: Mark::Deadlock,
        });
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_analysis::potential_deadlocks::analyse;
    use lockprof_trace::load::parse;

    fn fixture(name: &str) -> Trace {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/traces").join(name);
        parse(&std::fs::read(path).expect("fixture")).expect("a trace")
    }

    #[test]
    fn an_abba_deadlock_is_a_ring_of_two_threads_and_two_locks() {
        let trace = fixture("abba.json");
        let ring = deadlock_cycle(&trace, &trace.deadlocks[0], "d1_");
        let ids: Vec<&str> = ring.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["d1_thread_1", "d1_lock_2", "d1_thread_2", "d1_lock_1"]);
        assert_eq!(ring.edges.len(), 4);
        assert!(ring.edges.iter().all(|e| e.mark == Mark::Deadlock));
        assert_eq!(ring.nodes[1].title, "lock #2 \"B\"");
        assert_eq!(ring.nodes[1].detail, "mutex created at fixtures/src/bin/abba.rs:11:22");
        // The lock orders that deadlocked are marked as such in the lock-order graph.
        let graph = lock_order(&trace, &analyse(&trace));
        assert!(graph.edges.iter().all(|e| e.mark == Mark::Deadlock), "{graph:?}");
    }

    #[test]
    fn a_potential_deadlock_marks_its_edges() {
        let trace = fixture("bank_transfer_naive.json");
        let analysis = analyse(&trace);
        let graph = lock_order(&trace, &analysis);
        assert!(!analysis.potential.is_empty());
        assert!(graph.edges.iter().any(|e| e.mark == Mark::Potential), "{graph:?}");
        let ring = order_cycle(&trace, &analysis.potential[0], "p1_", Mark::Potential);
        assert_eq!(ring.nodes.len(), ring.edges.len());
        assert!(ring.title.starts_with("potential deadlock: lock #"), "{}", ring.title);
    }
}
