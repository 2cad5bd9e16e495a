//! [`DiGraph`]: the small directed graph that the lock-order analysis and the runtime's
//! detectors search (strongly connected components, neighbours, shortest paths).
//!
//! Why not petgraph (which this replaced): the runtime links this crate into every profiled
//! program, and petgraph brought seven crates for the three algorithms below. Nodes are ids
//! (`u64`: threads or locks), kept in order, so every search visits them deterministically.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// A directed graph over `u64` nodes with at most one edge, of weight `W`, per ordered pair.
///
/// ```
/// use lockprof_analysis::digraph::DiGraph;
/// let mut g = DiGraph::new();
/// g.add_edge(1, 2, ());
/// g.add_edge(2, 1, ());
/// g.add_edge(2, 3, ());
/// let mut sccs = g.tarjan_scc();
/// sccs.iter_mut().for_each(|c| c.sort());
/// sccs.sort();
/// assert_eq!(sccs, [vec![1, 2], vec![3]]);
/// assert_eq!(g.shortest_path(1, 3), Some(vec![1, 2, 3]));
/// ```
#[derive(Debug, Clone)]
pub struct DiGraph<W> {
    /// Each node's out-edges, in insertion order.
    out: BTreeMap<u64, Vec<(u64, W)>>,
}

impl<W> Default for DiGraph<W> {
    fn default() -> Self {
        DiGraph { out: BTreeMap::new() }
    }
}

impl<W> DiGraph<W> {
    /// An empty graph.
    ///
    /// ```
    /// assert!(!lockprof_analysis::digraph::DiGraph::<()>::new().contains_edge(1, 1));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `node` (without edges) if it is not there.
    ///
    /// ```
    /// let mut g = lockprof_analysis::digraph::DiGraph::<()>::new();
    /// g.add_node(4);
    /// assert_eq!(g.tarjan_scc(), [vec![4]]);
    /// ```
    pub fn add_node(&mut self, node: u64) {
        self.out.entry(node).or_default();
    }

    /// Adds the edge `from → to` with `weight` (both nodes too), replacing the weight of an edge
    /// already there.
    ///
    /// ```
    /// let mut g = lockprof_analysis::digraph::DiGraph::new();
    /// g.add_edge(1, 2, "a");
    /// g.add_edge(1, 2, "b");
    /// assert_eq!(g.edges(1).collect::<Vec<_>>(), [(2, &"b")]);
    /// ```
    pub fn add_edge(&mut self, from: u64, to: u64, weight: W) {
        self.add_node(to);
        let edges = self.out.entry(from).or_default();
        match edges.iter_mut().find(|(t, _)| *t == to) {
            Some(edge) => edge.1 = weight,
            None => edges.push((to, weight)),
        }
    }

    /// Whether the edge `from → to` is there.
    ///
    /// ```
    /// let mut g = lockprof_analysis::digraph::DiGraph::new();
    /// g.add_edge(1, 2, ());
    /// assert!(g.contains_edge(1, 2) && !g.contains_edge(2, 1));
    /// ```
    pub fn contains_edge(&self, from: u64, to: u64) -> bool {
        self.out.get(&from).is_some_and(|edges| edges.iter().any(|(t, _)| *t == to))
    }

    /// The nodes `node` has edges to, in the order the edges were added.
    ///
    /// ```
    /// let mut g = lockprof_analysis::digraph::DiGraph::new();
    /// g.add_edge(1, 3, ());
    /// g.add_edge(1, 2, ());
    /// assert_eq!(g.neighbors(1).collect::<Vec<_>>(), [3, 2]);
    /// ```
    pub fn neighbors(&self, node: u64) -> impl Iterator<Item = u64> + '_ {
        self.edges(node).map(|(to, _)| to)
    }

    /// The edges out of `node` as `(to, weight)`, in the order they were added.
    ///
    /// ```
    /// let mut g = lockprof_analysis::digraph::DiGraph::new();
    /// g.add_edge(1, 2, 7);
    /// assert_eq!(g.edges(1).collect::<Vec<_>>(), [(2, &7)]);
    /// ```
    pub fn edges(&self, node: u64) -> impl Iterator<Item = (u64, &W)> + '_ {
        self.out.get(&node).into_iter().flatten().map(|(to, w)| (*to, w))
    }

    /// The strongly connected components (Tarjan's algorithm, without recursion, so a long
    /// chain cannot overflow the stack): every node in exactly one, in no particular order.
    ///
    /// ```
    /// let mut g = lockprof_analysis::digraph::DiGraph::new();
    /// g.add_edge(1, 1, ());
    /// assert_eq!(g.tarjan_scc(), [vec![1]]);
    /// ```
    pub fn tarjan_scc(&self) -> Vec<Vec<u64>> {
        let mut t = Tarjan::default();
        for &root in self.out.keys() {
            if t.index.contains_key(&root) {
                continue;
            }
            t.visit(root);
            while let Some(&mut (node, ref mut followed)) = t.calls.last_mut() {
                let edges = self.out.get(&node).map(Vec::as_slice).unwrap_or(&[]);
                if let Some(&(next, _)) = edges.get(*followed) {
                    *followed += 1;
                    if !t.index.contains_key(&next) {
                        t.visit(next);
                    } else if t.on_stack.contains(&next) {
                        let lowest = t.low[&node].min(t.index[&next]);
                        t.low.insert(node, lowest);
                    }
                    continue;
                }
                t.calls.pop();
                if let Some(&(parent, _)) = t.calls.last() {
                    let lowest = t.low[&parent].min(t.low[&node]);
                    t.low.insert(parent, lowest);
                }
                if t.low[&node] == t.index[&node] {
                    let mut component = Vec::new();
                    while let Some(member) = t.stack.pop() {
                        t.on_stack.remove(&member);
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    t.components.push(component);
                }
            }
        }
        t.components
    }

    /// A shortest path (fewest edges) from `from` to `to`, both included; `[from]` when they are
    /// the same node. Breadth-first, following edges in the order they were added.
    ///
    /// ```
    /// let mut g = lockprof_analysis::digraph::DiGraph::new();
    /// g.add_edge(1, 2, ());
    /// assert_eq!(g.shortest_path(2, 1), None);
    /// assert_eq!(g.shortest_path(2, 2), Some(vec![2]));
    /// ```
    pub fn shortest_path(&self, from: u64, to: u64) -> Option<Vec<u64>> {
        if from == to {
            return Some(vec![from]);
        }
        let mut parent: HashMap<u64, u64> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            for next in self.neighbors(node) {
                if next == from || parent.contains_key(&next) {
                    continue;
                }
                parent.insert(next, node);
                if next == to {
                    let mut path = vec![to];
                    while let Some(&p) = parent.get(path.last()?) {
                        path.push(p);
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
        None
    }
}

/// Tarjan's state: each node's discovery index and low link, the component stack, and the
/// depth-first search's own stack (a node and how many of its edges it has followed).
#[derive(Default)]
struct Tarjan {
    index: HashMap<u64, usize>,
    low: HashMap<u64, usize>,
    on_stack: HashSet<u64>,
    stack: Vec<u64>,
    calls: Vec<(u64, usize)>,
    components: Vec<Vec<u64>>,
}

impl Tarjan {
    fn visit(&mut self, node: u64) {
        let n = self.index.len();
        self.index.insert(node, n);
        self.low.insert(node, n);
        self.stack.push(node);
        self.on_stack.insert(node);
        self.calls.push((node, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random graphs from a fixed seed (xorshift), each checked against brute force.
    fn graphs() -> impl Iterator<Item = (u64, Vec<(u64, u64)>)> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..300).map(move |_| {
            let nodes = 1 + next() % 9;
            let edges = (0..next() % 20).map(|_| (next() % nodes, next() % nodes)).collect();
            (nodes, edges)
        })
    }

    /// Who reaches whom, by repeated relaxation (every node reaches itself).
    fn reach(nodes: u64, edges: &[(u64, u64)]) -> Vec<Vec<bool>> {
        let n = nodes as usize;
        let mut r = vec![vec![false; n]; n];
        for (i, row) in r.iter_mut().enumerate() {
            row[i] = true;
        }
        for _ in 0..n {
            for &(a, b) in edges {
                for row in r.iter_mut() {
                    if row[a as usize] {
                        row[b as usize] = true;
                    }
                }
            }
        }
        r
    }

    fn build(nodes: u64, edges: &[(u64, u64)]) -> DiGraph<()> {
        let mut g = DiGraph::new();
        (0..nodes).for_each(|n| g.add_node(n));
        edges.iter().for_each(|&(a, b)| g.add_edge(a, b, ()));
        g
    }

    #[test]
    fn components_are_the_mutually_reachable_sets() {
        for (nodes, edges) in graphs() {
            let r = reach(nodes, &edges);
            let components = build(nodes, &edges).tarjan_scc();
            let mut seen = HashSet::new();
            for component in &components {
                for &a in component {
                    assert!(seen.insert(a), "{a} in two components: {components:?}");
                    for b in 0..nodes {
                        let together = component.contains(&b);
                        let mutual = r[a as usize][b as usize] && r[b as usize][a as usize];
                        assert_eq!(together, mutual, "{a}, {b} in {edges:?}: {components:?}");
                    }
                }
            }
            assert_eq!(seen.len() as u64, nodes);
        }
    }

    #[test]
    fn shortest_paths_are_paths_and_shortest() {
        for (nodes, edges) in graphs() {
            let g = build(nodes, &edges);
            let r = reach(nodes, &edges);
            for a in 0..nodes {
                // Distances by breadth-first levels over the edge list.
                let mut dist = vec![u64::MAX; nodes as usize];
                dist[a as usize] = 0;
                for level in 0..nodes {
                    for &(x, y) in &edges {
                        if dist[x as usize] == level && dist[y as usize] == u64::MAX {
                            dist[y as usize] = level + 1;
                        }
                    }
                }
                for b in 0..nodes {
                    match g.shortest_path(a, b) {
                        Some(path) => {
                            assert_eq!((path[0], *path.last().unwrap()), (a, b));
                            assert!(path.windows(2).all(|p| g.contains_edge(p[0], p[1])), "{path:?}");
                            assert_eq!(path.len() as u64 - 1, dist[b as usize], "{a}→{b} in {edges:?}");
                        }
                        None => assert!(!r[a as usize][b as usize], "{a}→{b} in {edges:?}"),
                    }
                }
            }
        }
    }
}
