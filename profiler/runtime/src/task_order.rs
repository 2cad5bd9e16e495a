//! Lock-order edges taken by tokio tasks: the acquisition of `B` (an async lock, or a std lock
//! taken inside the task) while the task holds async locks ([`crate::task_held`]) or std locks
//! taken by it on this thread records an edge from each of them to `B`, through the same
//! recording as threads' ([`crate::lock_order`]), with the task as the edge's taker. The
//! thread's chain cache memoises it, keyed by the combined held set: a task that takes `B`
//! under the same holds again costs a fold over a few words, without the graph's lock.

use std::panic::Location;

use lockprof_trace::Access;

use crate::local::{self, Held};

/// Records the edges of task `node` acquiring `to` with `access` (`timed`: with a timeout) at
/// `at`, while it holds `thread_held` (std locks on this thread) and its recorded async locks.
/// Returns whether `to` now ends edges in the graph (the caller marks it ordered; a chain cache
/// hit means it was marked before), and the description of the cycle this closes under
/// `LOCKPROF_ON_INVERSION=panic`.
#[cold]
#[inline(never)]
pub(crate) fn record(
    node: u64,
    mut held: Vec<Held>,
    to: u64,
    access: Access,
    timed: bool,
    at: &'static Location<'static>,
) -> crate::lock_order::Recorded {
    let nothing = crate::lock_order::Recorded { ordered: false, inversion: None };
    held.extend(crate::task_held::held(node));
    if held.is_empty() {
        return nothing;
    }
    let chain = held.iter().fold(local::CHAIN_SEED, |c, h| local::chain_step(c, local::order_key(h.tag)));
    let key = crate::tag::make(to, access, 0) | if timed { local::TIMED_BIT } else { 0 };
    let probe = local::chain_step(chain, key);
    if local::with(|l| l.chain_cached(probe)) {
        return nothing;
    }
    let Some(_reentry) = crate::threads::enter_profiler() else { return nothing };
    crate::threads::note_node(node);
    let recorded = crate::lock_order::record_edges_held(&held, node, to, access, timed, at);
    local::with(|l| l.cache_chain(probe));
    recorded
}

/// The std locks the calling thread holds that task `node` took (its holds on this thread).
pub(crate) fn thread_held_by(node: u64) -> Vec<Held> {
    local::with(|l| if l.holds_any() { l.held().filter(|h| h.task == node).collect() } else { Vec::new() })
}
