//! Turns the live registry into a [`Trace`]: the only place where stacks are symbolised.

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::sync::Arc;

use crate::records::found_so_far;
use crate::wait_for_graph::{Blocks, Member};
use lockprof_trace::Access;
use lockprof_trace::schema::{
    AwaitHoldingLock, CondvarWaitWhileHolding, Contention, CycleHop, Deadlock, Frame, LockContention,
    LockEntry, LongWait, OrderEdge, OrderMode, PermitGate, Site, Stack, StackContention, ThreadEntry,
    Timeline, TimelineSpan, Trace, WriteReason,
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
        // std resolves under its backtrace lock, which a capture takes too: a lock taken while
        // it resolves (by an allocator built on lockprof's locks) must not capture a stack on
        // this thread, so it is taken unprofiled.
        let frames = {
            let _reentry = crate::threads::enter_profiler();
            crate::stacks::symbolise(stack)
        };
        let next = u32::try_from(self.stacks.len()).unwrap_or(u32::MAX);
        let id = *self.by_frames.entry(frames.clone()).or_insert_with(|| {
            self.stacks.push(Stack { id: next, frames });
            next
        });
        self.by_capture.insert(Arc::as_ptr(stack), id);
        id
    }
}

/// An edge of the order graph as the trace has it: its first mode in the edge's own fields,
/// with the strongest accesses of all.
fn order_edge(e: &crate::order_graph::EdgeRecord, stacks: &mut Stacks) -> OrderEdge {
    let modes: Vec<OrderMode> = e
        .modes
        .iter()
        .map(|m| OrderMode {
            from_access: m.from_access,
            to_access: m.to_access,
            timed: m.timed,
            from_site: Site::from_location(m.from_at),
            to_site: Site::from_location(m.to_at),
            thread: m.thread,
            stack: Some(stacks.intern(&m.stack)),
        })
        .collect();
    let first = &modes[0];
    OrderEdge {
        from: e.from,
        to: e.to,
        from_site: first.from_site.clone(),
        to_site: first.to_site.clone(),
        from_access: modes.iter().map(|m| m.from_access).min().unwrap_or_default(),
        to_access: modes.iter().map(|m| m.to_access).min().unwrap_or_default(),
        thread: first.thread,
        stack: first.stack,
        gates: e.gates.clone(),
        threads: e.threads.len() as u64,
        permit_gates: e
            .permit_gates
            .iter()
            .map(|&(semaphore, permits)| PermitGate { semaphore, permits })
            .collect(),
        seq: Some(e.seq),
        modes,
    }
}

/// A trace of everything recorded so far.
pub(crate) fn take(reason: WriteReason) -> Trace {
    // Every thread's batched lock-order edges (and the fresh locks they name) first.
    crate::order_batch::flush_all();
    let mut trace = Trace::empty(reason);
    trace.process.wait_episodes = crate::records::wait_episodes();
    let mut stacks = Stacks::default();
    trace.deadlocks = deadlocks(&mut |stack| Some(stacks.intern(stack)));
    {
        let graph = crate::order_graph::graph();
        let mut edges: Vec<_> = graph.edges.values().cloned().collect();
        trace.lock_order_dropped = graph.dropped;
        drop(graph); // symbolising is slow; do not hold up threads recording new edges
        edges.sort_by_key(|e| (e.from, e.to));
        trace.lock_order = edges.iter().map(|e| order_edge(e, &mut stacks)).collect();
    }

    let long_waits = crate::records::long_waits().lock().unwrap_or_else(|e| e.into_inner()).clone();
    trace.long_waits = long_waits
        .iter()
        .map(|w| LongWait {
            thread: w.thread,
            lock: w.lock,
            access: w.access,
            wait_site: Site::from_location(w.wait_at),
            waited_ms: u64::try_from(w.waited.as_millis()).unwrap_or(u64::MAX),
            stack: Some(stacks.intern(&w.stack)),
            holder: w.holder.as_ref().map(|(t, _, _)| *t),
            holder_site: w.holder.as_ref().map(|(_, at, _)| Site::from_location(at)),
            holder_stack: w.holder.as_ref().and_then(|(_, _, s)| s.as_ref()).map(|s| stacks.intern(s)),
            holder_exited: w.holder_exited,
        })
        .collect();
    let warnings = crate::records::warnings().lock().unwrap_or_else(|e| e.into_inner()).clone();
    trace.condvar_waits_while_holding = warnings
        .iter()
        .map(|w| CondvarWaitWhileHolding {
            thread: w.thread,
            condvar: w.condvar,
            wait_site: Site::from_location(w.wait_at),
            held: w.held,
            held_site: Site::from_location(w.held_at),
        })
        .collect();

    let awaits = crate::records::await_warnings().lock().unwrap_or_else(|e| e.into_inner()).clone();
    trace.awaits_holding_lock = awaits
        .iter()
        .map(|w| AwaitHoldingLock {
            task: w.task,
            lock: w.lock,
            held_site: Site::from_location(w.held_at),
            observer: w.observer,
            observed_site: Site::from_location(w.observed_at),
        })
        .collect();

    if crate::lock_stats::kept() {
        trace.contention = Some(contention(&mut stacks));
        let (spans, dropped) = crate::timeline::collect();
        let spans = spans
            .into_iter()
            .map(|s| TimelineSpan {
                thread: s.thread,
                lock: s.lock,
                kind: s.kind,
                start_ns: s.start_ns,
                end_ns: s.end_ns,
            })
            .collect();
        trace.timeline = Some(Timeline { spans, dropped });
    }

    registry_sections(&mut trace);
    trace.stacks = stacks.stacks;
    super::paths::relative_to_sites(&mut trace, std::env::current_dir().ok().as_deref());
    trace
}

/// The deadlocks found so far, with their waiting stacks as `stack` gives them.
fn deadlocks(stack: &mut dyn FnMut(&Arc<Backtrace>) -> Option<u32>) -> Vec<Deadlock> {
    let found = found_so_far().lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut all = Vec::with_capacity(found.len());
    for deadlock in &found {
        let mut hop = |m: &Member| {
            let (hold_access, hold_permits, hold_at, queued) = match m.blocks {
                Blocks::Holds { access, permits, at } => (access, permits, at, false),
                Blocks::QueuedWriter { at } => (Access::Exclusive, 0, at, true),
            };
            CycleHop {
                thread: m.thread,
                holds: m.blocks_on,
                hold_site: Site::from_location(hold_at),
                hold_access,
                hold_permits,
                queued,
                waits_for: m.waits_for,
                wait_access: m.wait_access,
                wait_permits: m.wait_permits,
                wait_site: Site::from_location(m.wait_at),
                stack: stack(&m.stack),
            }
        };
        // In the cycle, member i waits for what member i + 1 blocks it with: the hop of member
        // i names what member i holds that member i - 1 waits for, as the schema says.
        let cycle = deadlock.cycle.iter().map(|m| hop(m)).collect();
        let knot = deadlock.knot.iter().map(|m| hop(m)).collect();
        all.push(Deadlock {
            detected_by: deadlock.detected_by,
            background: deadlock.background,
            all_asleep: deadlock.all_asleep,
            policy: deadlock.policy,
            cycle,
            knot,
        });
    }
    all
}

/// What a deadlock's report needs, at once: the deadlocks with their sites, the locks and the
/// threads, but no stacks (symbolising them takes a second and more; the full trace, written
/// afterwards off the waiting thread, has them).
pub(crate) fn sites_only(reason: WriteReason) -> Trace {
    let mut trace = Trace::empty(reason);
    trace.deadlocks = deadlocks(&mut |_| None);
    registry_sections(&mut trace);
    trace
}

/// The lock and thread tables, with every thread the trace refers to.
fn registry_sections(trace: &mut Trace) {
    // Dropped locks the order graph keeps, with when they were dropped.
    let drops = crate::order_graph::graph().drops.clone();
    trace.locks = crate::locks::registry().collect(|&id, entry| {
        Some(LockEntry {
            id,
            kind: entry.kind,
            site: Site::from_location(entry.site),
            name: entry.name.as_deref().map(str::to_owned),
            written: entry.written,
            dropped: drops.get(&id).copied(),
            capacity: entry.capacity,
        })
    });
    // Locks with contention figures that never registered are listed from their statistics
    // blocks (see `lock_stats/blocks.rs`).
    let listed: std::collections::HashSet<u64> = trace.locks.iter().map(|l| l.id).collect();
    trace.locks.extend(crate::lock_stats::live_rows().into_iter().filter(|r| !listed.contains(&r.id)).map(
        |r| LockEntry {
            id: r.id,
            kind: r.kind,
            site: Site::from_location(r.site),
            name: None,
            written: false,
            dropped: None,
            capacity: None,
        },
    ));
    trace.locks.sort_by_key(|l| l.id);
    trace.locks.dedup_by_key(|l| l.id);

    trace.threads = crate::threads::seen().collect(|&id, name| Some(ThreadEntry { id, name: name.clone() }));
    // A thread can be referred to without ever having waited (the holder of a long wait, say):
    // list it too, so that every reference in the trace resolves.
    for id in referenced_threads(trace) {
        if !trace.threads.iter().any(|t| t.id == id) {
            // A task is named from its id; a holder that exited holding a lock has never
            // waited, but its name was kept.
            let name = crate::threads::node_name(id).or_else(|| crate::liveness::exited_name(id));
            trace.threads.push(ThreadEntry { id, name });
        }
    }
    trace.threads.sort_by_key(|t| t.id);
}

/// The contention profile: per-lock figures from the registry and from the statistics blocks of
/// locks that never registered, and the stack tables.
fn contention(stacks: &mut Stacks) -> Contention {
    use std::sync::atomic::Ordering::Relaxed;
    let mut locks: Vec<LockContention> = crate::locks::registry().collect(|&lock, entry| {
        let stats = entry.stats.as_ref()?;
        Some(LockContention {
            lock,
            acquisitions: stats.acquisitions.load(Relaxed),
            contended: stats.contended.load(Relaxed),
            wait_ns: stats.wait_ns.load(Relaxed),
            max_wait_ns: stats.max_wait_ns.load(Relaxed),
            hold_ns: stats.hold_ns.load(Relaxed),
        })
    });
    let counted: std::collections::HashSet<u64> = locks.iter().map(|l| l.lock).collect();
    locks.extend(crate::lock_stats::live_rows().into_iter().filter(|r| !counted.contains(&r.id)).map(|r| {
        LockContention {
            lock: r.id,
            acquisitions: r.acquisitions,
            contended: r.contended,
            wait_ns: r.wait_ns,
            max_wait_ns: r.max_wait_ns,
            hold_ns: r.hold_ns,
        }
    }));
    locks.retain(|l| l.acquisitions > 0);
    locks.sort_by_key(|l| l.lock);
    locks.dedup_by_key(|l| l.lock);
    let mut table = |table: &crate::contention::StackTable| -> Vec<StackContention> {
        let entries: Vec<(u64, std::sync::Arc<Backtrace>, u64, u64)> = table.entries.collect(|key, value| {
            Some((
                key.0,
                std::sync::Arc::clone(&value.0),
                value.1.count.load(Relaxed),
                value.1.ns.load(Relaxed),
            ))
        });
        let mut rows: Vec<StackContention> = entries
            .iter()
            .map(|(lock, bt, count, ns)| StackContention {
                lock: *lock,
                stack: stacks.intern(bt),
                count: *count,
                ns: *ns,
            })
            .collect();
        // The same symbolised stack may come from several captures: merge them.
        rows.sort_by_key(|r| (r.lock, r.stack));
        rows.dedup_by(|b, a| {
            let same = a.lock == b.lock && a.stack == b.stack;
            if same {
                a.count += b.count;
                a.ns += b.ns;
            }
            same
        });
        rows
    };
    let waiters = table(crate::contention::waiters());
    let holders = table(crate::contention::holders());
    Contention {
        sample: crate::config::config().sample,
        locks,
        waiters,
        holders,
        dropped_stacks: crate::contention::dropped_stacks(),
    }
}

/// Every thread id the trace's sections refer to.
fn referenced_threads(trace: &Trace) -> Vec<u64> {
    let mut ids: Vec<u64> = Vec::new();
    for d in &trace.deadlocks {
        ids.push(d.detected_by);
        ids.extend(d.cycle.iter().chain(&d.knot).map(|h| h.thread));
    }
    ids.extend(trace.lock_order.iter().map(|e| e.thread));
    for w in &trace.long_waits {
        ids.push(w.thread);
        ids.extend(w.holder);
    }
    ids.extend(trace.condvar_waits_while_holding.iter().map(|w| w.thread));
    ids.extend(trace.awaits_holding_lock.iter().flat_map(|w| [w.task, w.observer]));
    if let Some(timeline) = &trace.timeline {
        ids.extend(timeline.spans.iter().map(|s| s.thread));
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}
