//! The lock-order graph's data: its edges with their modes, gates and sequence numbers, the
//! dropped locks it keeps, and the process's one graph. Recording is in `lock_order.rs`, the
//! `panic` policy's reading of it in `inversion.rs`.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use lockprof_trace::Access;
use std::backtrace::Backtrace;

use crate::id_hash::IdHash;

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
    /// Edges not kept because [`crate::lock_order::MAX_EDGES`] were.
    pub dropped: u64,
    /// Dropped locks kept because they are on a cycle: id → drop's sequence number.
    pub drops: HashMap<u64, u64, IdHash>,
    /// One stack per pair of acquisition sites (addresses of the two locations).
    pub stacks: HashMap<(usize, usize), Arc<Backtrace>, IdHash>,
    /// The edge kept for each pair of lock classes (creation sites' addresses) after its
    /// locks were dropped.
    pub class_edges: HashMap<(usize, usize), (u64, u64), IdHash>,
}

/// The process's lock-order graph, locked.
pub(crate) fn graph() -> MutexGuard<'static, OrderGraph> {
    static GRAPH: OnceLock<Mutex<OrderGraph>> = OnceLock::new();
    GRAPH.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner())
}
