//! The lock-order graph's shape: lock ids with their successors and predecessors both indexed,
//! so that a dropped lock's edges can be found and removed without a scan.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::id_hash::IdHash;

/// A directed graph of lock ids.
#[derive(Default)]
pub(crate) struct Adjacency {
    out: HashMap<u64, Vec<u64>, IdHash>,
    inc: HashMap<u64, Vec<u64>, IdHash>,
}

impl Adjacency {
    /// Adds `from → to` (once).
    pub(crate) fn add_edge(&mut self, from: u64, to: u64) {
        let out = self.out.entry(from).or_default();
        if !out.contains(&to) {
            out.push(to);
            self.inc.entry(to).or_default().push(from);
        }
    }

    /// Whether `node` has an edge.
    pub(crate) fn contains_node(&self, node: u64) -> bool {
        self.out.contains_key(&node) || self.inc.contains_key(&node)
    }

    /// The nodes `node` has edges to.
    pub(crate) fn successors(&self, node: u64) -> &[u64] {
        self.out.get(&node).map_or(&[], Vec::as_slice)
    }

    /// The nodes with edges to `node`.
    pub(crate) fn predecessors(&self, node: u64) -> &[u64] {
        self.inc.get(&node).map_or(&[], Vec::as_slice)
    }

    /// Removes `from → to`, and nodes left without edges.
    pub(crate) fn remove_edge(&mut self, from: u64, to: u64) {
        let prune = |map: &mut HashMap<u64, Vec<u64>, IdHash>, key: u64, value: u64| {
            if let Some(list) = map.get_mut(&key) {
                list.retain(|&n| n != value);
                if list.is_empty() {
                    map.remove(&key);
                }
            }
        };
        prune(&mut self.out, from, to);
        prune(&mut self.inc, to, from);
    }

    /// The shortest path `from → … → to` (both included), if any.
    pub(crate) fn shortest_path(&self, from: u64, to: u64) -> Option<Vec<u64>> {
        let mut came_from: HashMap<u64, u64> = HashMap::new();
        let mut seen: HashSet<u64> = HashSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            if node == to {
                let mut path = vec![to];
                let mut at = to;
                while let Some(&before) = came_from.get(&at) {
                    path.push(before);
                    at = before;
                }
                path.reverse();
                return Some(path);
            }
            for &next in self.successors(node) {
                if seen.insert(next) {
                    came_from.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_indexed_both_ways_and_removed_both_ways() {
        let mut g = Adjacency::default();
        g.add_edge(1, 2);
        g.add_edge(2, 3);
        g.add_edge(1, 2);
        assert_eq!(g.successors(1), [2]);
        assert_eq!(g.predecessors(3), [2]);
        assert_eq!(g.shortest_path(1, 3), Some(vec![1, 2, 3]));
        g.remove_edge(2, 3);
        assert!(!g.contains_node(3));
        assert_eq!(g.shortest_path(1, 3), None);
    }
}
