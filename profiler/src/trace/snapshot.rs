//! Turns the live registry into a [`Trace`]: the only place where stacks are symbolised.

use std::collections::HashMap;
use std::sync::Arc;

use backtrace::Backtrace;

use crate::deadlock::found_so_far;
use crate::trace::schema::{
    CycleHop, Deadlock, Frame, LockEntry, OrderEdge, Site, Stack, ThreadEntry, Trace, WriteReason,
};

/// Interns stacks: the same captured stack (by pointer) or the same frames get one id.
#[derive(Default)]
struct Stacks {
    by_capture: HashMap<*const Backtrace, u32>,
    by_frames: HashMap<Vec<Frame>, u32>,
    stacks: Vec<Stack>,
}

impl Stacks {
    fn intern(&mut self, stack: &Arc<Backtrace>) -> u32 {
        if let Some(&id) = self.by_capture.get(&Arc::as_ptr(stack)) {
            return id;
        }
        let frames = crate::stacks::symbolise(stack);
        let next = u32::try_from(self.stacks.len()).unwrap_or(u32::MAX);
        let id = *self.by_frames.entry(frames.clone()).or_insert_with(|| {
            self.stacks.push(Stack { id: next, frames });
            next
        });
        self.by_capture.insert(Arc::as_ptr(stack), id);
        id
    }
}

/// A trace of everything recorded so far.
pub(crate) fn take(reason: WriteReason) -> Trace {
    let mut trace = Trace::empty(reason);
    trace.process.wait_episodes = crate::wait_episodes();
    let mut stacks = Stacks::default();

    let found = found_so_far().lock().unwrap_or_else(|e| e.into_inner()).clone();
    for deadlock in &found {
        let cycle = deadlock
            .hops
            .iter()
            .map(|hop| CycleHop {
                thread: hop.thread,
                holds: hop.holds,
                hold_site: Site::from_location(hop.hold_at),
                waits_for: hop.waits_for,
                wait_site: Site::from_location(hop.wait_at),
                stack: Some(stacks.intern(&hop.stack)),
            })
            .collect();
        trace.deadlocks.push(Deadlock { detected_by: deadlock.detected_by, policy: deadlock.policy, cycle });
    }

    {
        let graph = crate::lock_order::graph();
        let mut edges: Vec<_> = graph.edges.values().cloned().collect();
        trace.lock_order_dropped = graph.dropped;
        drop(graph); // symbolising is slow; do not hold up threads recording new edges
        edges.sort_by_key(|e| (e.from, e.to));
        trace.lock_order = edges
            .iter()
            .map(|e| OrderEdge {
                from: e.from,
                to: e.to,
                from_site: Site::from_location(e.from_at),
                to_site: Site::from_location(e.to_at),
                thread: e.thread,
                stack: Some(stacks.intern(&e.stack)),
                gates: e.gates.clone(),
                threads: e.threads.len() as u64,
            })
            .collect();
    }

    trace.locks = crate::locks::registry()
        .iter()
        .map(|entry| LockEntry {
            id: *entry.key(),
            kind: entry.kind,
            site: Site::from_location(entry.site),
            name: entry.name.map(str::to_owned),
        })
        .collect();
    trace.locks.sort_by_key(|l| l.id);

    trace.threads = crate::threads::seen()
        .iter()
        .map(|entry| ThreadEntry { id: *entry.key(), name: entry.value().clone() })
        .collect();
    trace.threads.sort_by_key(|t| t.id);

    trace.stacks = stacks.stacks;
    trace
}
