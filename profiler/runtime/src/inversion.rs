//! `LOCKPROF_ON_INVERSION=panic`: whether an edge just recorded (or an edge whose modes or gates
//! just changed) closes a lock-order cycle that is a potential deadlock *whatever happens later*,
//! by the analysis's rules (`lockprof_analysis::order_rules`), so that the panic never fires on
//! a cycle the analysis would drop.
//!
//! Each rule is applied in the direction that stays true as the run goes on:
//!
//! - **Access (read rules).** A cycle needs, at each lock, an acquisition into it that can wait
//!   for the hold out of it. An edge's modes only ever grow, so a choice that can wait now can
//!   wait later. An order into a read of a reader-writer lock counts only if the lock is
//!   *already* known to be written (it registers, written, on its first write): a lock not yet
//!   written may never be (case 1 of issue 11: `X.write → Y.read → Z.read → X.write` with `Z`
//!   never written is no finding), so such a cycle does not panic now. `read_recursive`
//!   re-entries add no edge at all (`lock_order::occurrences`).
//! - **Timeouts.** Only untimed modes are chosen: a cycle that needs a timed acquisition can
//!   stall until the timeout, which the analysis lists as a non-failing `potential-stall`.
//! - **Gates.** An edge's gate set only shrinks (the locks held exclusively on *every*
//!   occurrence), so a cycle with a common gate now may lose it later, and is then checked again
//!   (an edge whose gates shrink is re-checked); while it has one, no panic.
//! - **Permits.** A semaphore held on every edge of the cycle suppresses it when the edges need
//!   more permits than it has. The permits an edge needs (the fewest held on any occurrence)
//!   only shrink, and so does the set of common semaphores, so a semaphore that has too many
//!   permits now always will; one with too few now may not later (no panic now), and one whose
//!   capacity is not known yet (it registers later) means no panic now. A signal semaphore
//!   (`add_permits`) suppresses nothing.
//! - **Lifetimes.** A cycle through a lock that was dropped (and kept by the graph) can never
//!   close: every edge recorded now was first taken after that drop. Sequence numbers only grow,
//!   so this never changes.
//!
//! The cycles tried are the shortest path back from the new edge's end to its start, then other
//! simple paths (a bounded search): a dangerous one among them panics; if the search runs out,
//! no panic (the analysis of the trace still reports it).

use lockprof_analysis::order_rules::can_wait;
use lockprof_trace::LockKind;

use crate::order_graph::{Mode, OrderGraph};

/// Simple paths tried per check, at most (beyond the shortest).
const MAX_PATHS: usize = 64;

/// Longest path tried, in edges.
const MAX_PATH_EDGES: usize = 16;

/// Graph steps spent on the search, at most.
const MAX_STEPS: usize = 4096;

/// What the search has spent and found.
struct Search {
    paths: usize,
    steps: usize,
    found: Option<String>,
}

/// If the edge `from → to` (just recorded, or just changed) is on a cycle that is a potential
/// deadlock whatever happens later, a one-paragraph description of it.
pub(crate) fn closed_cycle(g: &OrderGraph, from: u64, to: u64) -> Option<String> {
    let path = g.graph.shortest_path(to, from)?;
    if let Some(message) = dangerous(g, from, &path) {
        return Some(message);
    }
    // Other ways back: depth-first over simple paths, bounded.
    let mut search = Search { paths: 1, steps: 0, found: None };
    paths(g, from, &mut vec![to], &mut search);
    search.found
}

/// Depth-first search of simple paths from the last node of `path` to `target`, trying each.
fn paths(g: &OrderGraph, target: u64, path: &mut Vec<u64>, search: &mut Search) {
    let last = *path.last().expect("a path has a start");
    if last == target {
        search.paths += 1;
        search.found = dangerous(g, target, path);
        return;
    }
    if path.len() > MAX_PATH_EDGES {
        return;
    }
    for &next in g.graph.successors(last) {
        search.steps += 1;
        if search.found.is_some() || search.paths >= MAX_PATHS || search.steps >= MAX_STEPS {
            return;
        }
        if path.contains(&next) {
            continue;
        }
        path.push(next);
        paths(g, target, path, search);
        path.pop();
    }
}

/// The cycle `from → path[0] → … → path[last] (= from)` if it is dangerous whatever happens
/// later (see the module docs), described.
fn dangerous(g: &OrderGraph, from: u64, path: &[u64]) -> Option<String> {
    // Cycle order: the new edge first, then the path back.
    let mut locks = vec![from];
    locks.extend_from_slice(&path[..path.len() - 1]);
    if path.last() != Some(&from) {
        return None;
    }
    let k = locks.len();
    let edges: Vec<_> =
        (0..k).map(|i| g.edges.get(&(locks[i], locks[(i + 1) % k]))).collect::<Option<_>>()?;
    // Lifetimes: a dropped lock on the cycle means it can never close.
    if locks.iter().any(|l| g.drops.contains_key(l)) {
        return None;
    }
    // Gates: any lock held exclusively on every edge.
    let mut gates = edges[0].gates.clone();
    for e in &edges[1..] {
        gates.retain(|gate| e.gates.contains(gate));
    }
    if !gates.is_empty() {
        return None;
    }
    // Permits: a semaphore held on every edge, with too few permits or an unknown capacity.
    for &(semaphore, _) in &edges[0].permit_gates {
        let mut needed = 0u64;
        for e in &edges {
            match e.permit_gates.iter().find(|(t, _)| *t == semaphore) {
                Some(&(_, n)) => needed += u64::from(n.max(1)),
                None => {
                    needed = 0;
                    break;
                }
            }
        }
        if needed == 0 {
            continue; // not held on every edge
        }
        match crate::locks::registry().with(&semaphore, |info| info.capacity) {
            Some(Some(capacity)) if needed > u64::from(capacity) => return None,
            Some(_) => {}        // enough permits, or a signal: suppresses nothing, ever
            None => return None, // capacity not known yet
        }
    }
    // Access: lock i is where edge i - 1 ends and edge i starts.
    let written: Vec<bool> = locks.iter().map(|&l| written(l)).collect();
    let candidates: Vec<Vec<&Mode>> =
        edges.iter().map(|e| e.modes.iter().filter(|m| !m.timed).collect()).collect();
    let mut chosen = Vec::with_capacity(k);
    if !choose(&candidates, &written, &mut chosen) {
        return None;
    }
    let lines: Vec<String> = (0..k)
        .map(|i| {
            let m = chosen[i];
            format!(
                "  lock #{} ({} at {}) then lock #{} ({} at {}), by thread #{}{}",
                locks[i],
                m.from_access.as_str(),
                m.from_at,
                locks[(i + 1) % k],
                m.to_access.as_str(),
                m.to_at,
                m.thread,
                if i == 0 { " <- this acquisition" } else { "" }
            )
        })
        .collect();
    Some(format!(
        "lockprof: lock-order inversion (potential deadlock): this acquisition closes a cycle of lock orders:\n{}\n(LOCKPROF_ON_INVERSION=panic)",
        lines.join("\n")
    ))
}

/// A choice of one mode per edge such that every lock of the cycle can block (as
/// `lockprof_analysis::order_rules::choose_modes`, untimed modes only).
fn choose<'m>(candidates: &[Vec<&'m Mode>], written: &[bool], chosen: &mut Vec<&'m Mode>) -> bool {
    let i = chosen.len();
    let k = candidates.len();
    if i == k {
        return can_wait(chosen[k - 1].to_access, chosen[0].from_access, written[0]);
    }
    for &mode in &candidates[i] {
        if i > 0 && !can_wait(chosen[i - 1].to_access, mode.from_access, written[i]) {
            continue;
        }
        chosen.push(mode);
        if choose(candidates, written, chosen) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// Whether lock `id` is known to be written by now: a mutex, or a reader-writer lock whose
/// first write registered it as written. Unknown: no (the sound direction here).
fn written(id: u64) -> bool {
    crate::locks::registry().with(&id, |info| info.kind != LockKind::RwLock || info.written).unwrap_or(false)
}
