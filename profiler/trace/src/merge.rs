//! Merging the traces of several processes (the test binaries of one `cargo test`, the shards of
//! a CI job) into one trace, so that one report, one check verdict or one flamegraph covers them
//! all.
//!
//! What the merge does, field by field:
//!
//! - **threads** are per process: every thread of every input gets a new id of its own.
//! - **locks** are identified across processes by their *identity*: kind, creation site and name.
//!   A lock that is the only one with its identity in its trace (a `static`, a singleton) becomes
//!   one lock of the merged trace, shared by every input where it is also the only one; so an
//!   order `ledger → audit` in one test binary and `audit → ledger` in another meet in the merged
//!   lock-order graph. Locks that share their identity with others *of the same trace* (the
//!   elements of a `Vec<Mutex<_>>`, two accounts made by one constructor) stay distinct, and are
//!   not unified with anything: their ids order them only by when each was first used in its
//!   process, which says nothing across processes, and pairing them up by position would make up
//!   cycles that no process had (or, collapsed into one, hide a cycle that one process did have).
//!   Such locks still meet across processes as *classes*, which the analysis works out from the
//!   creation sites ((`lockprof_analysis::potential_deadlocks`)). The merge of a single trace is therefore
//!   that trace, up to the numbering of its ids.
//! - **stacks** with the same frames become one stack.
//! - **deadlocks** are concatenated, in input order (each happened in one process).
//! - **lock-order edges** are kept one per pair of (merged) locks, as in a process: the first
//!   input's occurrence gives the sites, thread and stack; the gate locks are those every input
//!   held (the intersection); the thread counts add up (threads of different processes are
//!   different threads). Edges dropped at the size limit add up too.
//! - **process**: the schema has no place to say that a trace is a merge, so the merged trace
//!   says it with `pid` 0 and the command `["lockprof merge", <the inputs' labels>...]`. Its
//!   `reason` is `deadlock` if any input is a copy written when a deadlock was found (a process
//!   that may not have reached its exit), else `exit`; `wait_episodes` is the sum.
//!
//! Every struct of the schema is destructured exhaustively here, so adding a field to the schema
//! fails to compile until this module says how to merge it.

use std::collections::HashMap;

use crate::LockKind;
use crate::schema::{
    AwaitHoldingLock, CondvarWaitWhileHolding, Contention, CycleHop, Deadlock, Frame, LockContention,
    LockEntry, LongWait, OrderEdge, OrderMode, PermitGate, Process, Site, Stack, StackContention,
    TRACE_FORMAT, TRACE_VERSION, ThreadEntry, Timeline, TimelineSpan, Trace, WriteReason,
};

/// The first element of the merged trace's `process.command`.
pub const MERGE_COMMAND: &str = "lockprof merge";

/// The `pid` of a merged trace.
pub const MERGE_PID: u32 = 0;

/// Whether `trace` is the result of a [`merge`].
pub fn is_merge(trace: &Trace) -> bool {
    trace.process.pid == MERGE_PID && trace.process.command.first().is_some_and(|c| c == MERGE_COMMAND)
}

/// Merges `inputs`, each a label (usually the trace's path, recorded in the merged command) and
/// a trace, into one trace. See the [module documentation](self) for what is merged how.
///
/// ```
/// use lockprof_trace::merge::merge;
/// use lockprof_trace::schema::{Trace, WriteReason};
/// let a = Trace::empty(WriteReason::Exit);
/// let b = Trace::empty(WriteReason::Exit);
/// let merged = merge([("a.json", &a), ("b.json", &b)]);
/// assert_eq!(merged.process.pid, 0);
/// assert_eq!(merged.process.command, ["lockprof merge", "a.json", "b.json"]);
/// ```
pub fn merge<'a>(inputs: impl IntoIterator<Item = (&'a str, &'a Trace)>) -> Trace {
    let mut merger = Merger::default();
    for (label, trace) in inputs {
        merger.add(label, trace);
    }
    merger.finish()
}

/// What makes two locks of different processes the same lock.
type Identity = (LockKind, Site, Option<String>);

#[derive(Default)]
struct Merger {
    labels: Vec<String>,
    /// The most telling reason among the inputs: a copy written at a deadlock, or by the
    /// watchdog of a process that may never have reached its exit.
    reason: Option<WriteReason>,
    wait_episodes: u64,
    locks: Vec<LockEntry>,
    /// Merged lock ids of the locks that were alone with their identity in their trace.
    shared_locks: HashMap<Identity, u64>,
    threads: Vec<ThreadEntry>,
    deadlocks: Vec<Deadlock>,
    lock_order: Vec<OrderEdge>,
    /// Index in `lock_order` of the edge between two merged locks.
    edge_index: HashMap<(u64, u64), usize>,
    lock_order_dropped: u64,
    long_waits: Vec<LongWait>,
    condvar_waits_while_holding: Vec<CondvarWaitWhileHolding>,
    awaits_holding_lock: Vec<AwaitHoldingLock>,
    contention: Option<Contention>,
    timeline: Option<Timeline>,
    stacks: Vec<Stack>,
    stack_ids: HashMap<Vec<Frame>, u32>,
    /// Ids handed out for references to ids that no entry of their trace defines (only in
    /// traces that did not come through `load`, which rejects them): fresh ids, so they stay
    /// dangling rather than pointing at another trace's entries.
    next_dangling: u64,
}

/// The id maps of one input: its ids to merged ids.
#[derive(Default)]
struct IdMap {
    locks: HashMap<u64, u64>,
    threads: HashMap<u64, u64>,
    stacks: HashMap<u32, u32>,
}

impl Merger {
    fn add(&mut self, label: &str, trace: &Trace) {
        let Trace {
            format: _,
            version: _,
            process,
            locks,
            threads,
            deadlocks,
            lock_order,
            lock_order_dropped,
            long_waits,
            condvar_waits_while_holding,
            awaits_holding_lock,
            contention,
            timeline,
            stacks,
        } = trace;
        let Process { pid: _, command: _, reason, wait_episodes } = process;
        self.labels.push(label.to_owned());
        self.reason = match (self.reason, *reason) {
            (Some(WriteReason::Deadlock), _) | (_, WriteReason::Deadlock) => Some(WriteReason::Deadlock),
            (Some(WriteReason::Watchdog), _) | (_, WriteReason::Watchdog) => Some(WriteReason::Watchdog),
            _ => Some(WriteReason::Exit),
        };
        self.wait_episodes = self.wait_episodes.saturating_add(*wait_episodes);
        self.lock_order_dropped = self.lock_order_dropped.saturating_add(*lock_order_dropped);

        let mut ids = IdMap::default();
        self.add_locks(locks, &mut ids);
        for ThreadEntry { id, name } in threads {
            // Tasks stay tasks (their entries are numbered as threads are, with the bit kept).
            let new = (self.threads.len() as u64 + 1) | (id & crate::schema::TASK_BIT);
            self.threads.push(ThreadEntry { id: new, name: name.clone() });
            ids.threads.insert(*id, new);
        }
        for Stack { id, frames } in stacks {
            let next = u32::try_from(self.stacks.len()).unwrap_or(u32::MAX);
            let new = *self.stack_ids.entry(frames.clone()).or_insert_with(|| {
                self.stacks.push(Stack { id: next, frames: frames.clone() });
                next
            });
            ids.stacks.insert(*id, new);
        }
        for deadlock in deadlocks {
            let merged = self.map_deadlock(deadlock, &mut ids);
            self.deadlocks.push(merged);
        }
        for edge in lock_order {
            self.add_edge(edge, &mut ids);
        }
        for wait in long_waits {
            let LongWait {
                thread,
                lock,
                access,
                wait_site,
                waited_ms,
                stack,
                holder,
                holder_site,
                holder_stack,
                holder_exited,
            } = wait;
            let merged = LongWait {
                thread: self.thread(&mut ids, *thread),
                lock: self.lock(&mut ids, *lock),
                access: *access,
                wait_site: wait_site.clone(),
                waited_ms: *waited_ms,
                stack: stack.map(|s| self.stack(&mut ids, s)),
                holder: holder.map(|h| self.thread(&mut ids, h)),
                holder_site: holder_site.clone(),
                holder_stack: holder_stack.map(|s| self.stack(&mut ids, s)),
                holder_exited: *holder_exited,
            };
            self.long_waits.push(merged);
        }
        if let Some(contention) = contention {
            self.add_contention(contention, &mut ids);
        }
        if let Some(Timeline { spans, dropped }) = timeline {
            let merged = self.timeline.get_or_insert_with(|| Timeline { spans: Vec::new(), dropped: 0 });
            merged.dropped = merged.dropped.saturating_add(*dropped);
            let spans: Vec<TimelineSpan> = spans
                .iter()
                .map(|TimelineSpan { thread, lock, kind, start_ns, end_ns }| TimelineSpan {
                    thread: self.thread(&mut ids, *thread),
                    lock: self.lock(&mut ids, *lock),
                    kind: *kind,
                    start_ns: *start_ns,
                    end_ns: *end_ns,
                })
                .collect();
            if let Some(merged) = self.timeline.as_mut() {
                merged.spans.extend(spans);
            }
        }
        for warning in condvar_waits_while_holding {
            let CondvarWaitWhileHolding { thread, condvar, wait_site, held, held_site } = warning;
            let merged = CondvarWaitWhileHolding {
                thread: self.thread(&mut ids, *thread),
                condvar: self.lock(&mut ids, *condvar),
                wait_site: wait_site.clone(),
                held: self.lock(&mut ids, *held),
                held_site: held_site.clone(),
            };
            self.condvar_waits_while_holding.push(merged);
        }
        for warning in awaits_holding_lock {
            let AwaitHoldingLock { task, lock, held_site, observer, observed_site } = warning;
            let merged = AwaitHoldingLock {
                task: self.thread(&mut ids, *task),
                lock: self.lock(&mut ids, *lock),
                held_site: held_site.clone(),
                observer: self.thread(&mut ids, *observer),
                observed_site: observed_site.clone(),
            };
            self.awaits_holding_lock.push(merged);
        }
    }

    /// Sums the figures of locks merged into one, and of equal (lock, stack) rows.
    fn add_contention(&mut self, contention: &Contention, ids: &mut IdMap) {
        let Contention { sample, locks, waiters, holders, dropped_stacks } = contention;
        let mut merged = self.contention.take().unwrap_or(Contention {
            sample: 1,
            locks: Vec::new(),
            waiters: Vec::new(),
            holders: Vec::new(),
            dropped_stacks: 0,
        });
        merged.sample = merged.sample.max(*sample);
        merged.dropped_stacks = merged.dropped_stacks.saturating_add(*dropped_stacks);
        for LockContention { lock, acquisitions, contended, wait_ns, max_wait_ns, hold_ns } in locks {
            let lock = self.lock(ids, *lock);
            match merged.locks.iter_mut().find(|l| l.lock == lock) {
                Some(l) => {
                    l.acquisitions = l.acquisitions.saturating_add(*acquisitions);
                    l.contended = l.contended.saturating_add(*contended);
                    l.wait_ns = l.wait_ns.saturating_add(*wait_ns);
                    l.max_wait_ns = l.max_wait_ns.max(*max_wait_ns);
                    l.hold_ns = l.hold_ns.saturating_add(*hold_ns);
                }
                None => merged.locks.push(LockContention {
                    lock,
                    acquisitions: *acquisitions,
                    contended: *contended,
                    wait_ns: *wait_ns,
                    max_wait_ns: *max_wait_ns,
                    hold_ns: *hold_ns,
                }),
            }
        }
        for (rows, into) in [(waiters, &mut merged.waiters), (holders, &mut merged.holders)] {
            for StackContention { lock, stack, count, ns } in rows {
                let (lock, stack) = (self.lock(ids, *lock), self.stack(ids, *stack));
                match into.iter_mut().find(|r| r.lock == lock && r.stack == stack) {
                    Some(r) => {
                        r.count = r.count.saturating_add(*count);
                        r.ns = r.ns.saturating_add(*ns);
                    }
                    None => into.push(StackContention { lock, stack, count: *count, ns: *ns }),
                }
            }
        }
        self.contention = Some(merged);
    }

    fn add_locks(&mut self, locks: &[LockEntry], ids: &mut IdMap) {
        let epoch = self.epoch();
        let mut count: HashMap<Identity, usize> = HashMap::new();
        for LockEntry { id: _, kind, site, name, .. } in locks {
            *count.entry((*kind, site.clone(), name.clone())).or_default() += 1;
        }
        for LockEntry { id, kind, site, name, written, dropped, capacity } in locks {
            let identity = (*kind, site.clone(), name.clone());
            let new_entry = |merged: &mut Vec<LockEntry>| {
                let new = merged.len() as u64 + 1;
                merged.push(LockEntry {
                    id: new,
                    kind: *kind,
                    site: site.clone(),
                    name: name.clone(),
                    written: *written,
                    dropped: dropped.map(|d| d | epoch),
                    capacity: *capacity,
                });
                new
            };
            let new = if count[&identity] == 1 {
                match self.shared_locks.get(&identity) {
                    Some(&shared) => {
                        // One lock across processes: written if written anywhere; a drop in
                        // one process says nothing of the others, so it is forgotten.
                        let merged = &mut self.locks[shared as usize - 1];
                        merged.written |= *written;
                        merged.dropped = None;
                        if merged.capacity != *capacity {
                            merged.capacity = None;
                        }
                        shared
                    }
                    None => {
                        let new = new_entry(&mut self.locks);
                        self.shared_locks.insert(identity, new);
                        new
                    }
                }
            } else {
                new_entry(&mut self.locks)
            };
            ids.locks.insert(*id, new);
        }
    }

    /// The high bits that keep the current input's sequence numbers (edges' firsts, locks'
    /// drops) in a range of their own: they compare only within one process.
    fn epoch(&self) -> u64 {
        (self.labels.len() as u64) << 48
    }

    fn map_deadlock(&mut self, deadlock: &Deadlock, ids: &mut IdMap) -> Deadlock {
        let Deadlock { detected_by, background, all_asleep, policy, cycle, knot } = deadlock;
        let mut map_hop = |hop: &CycleHop| {
            let CycleHop {
                thread,
                holds,
                hold_site,
                hold_access,
                hold_permits,
                queued,
                waits_for,
                wait_access,
                wait_permits,
                wait_site,
                stack,
            } = hop;
            CycleHop {
                thread: self.thread(ids, *thread),
                holds: self.lock(ids, *holds),
                hold_site: hold_site.clone(),
                hold_access: *hold_access,
                hold_permits: *hold_permits,
                queued: *queued,
                waits_for: self.lock(ids, *waits_for),
                wait_access: *wait_access,
                wait_permits: *wait_permits,
                wait_site: wait_site.clone(),
                stack: stack.map(|s| self.stack(ids, s)),
            }
        };
        let cycle = cycle.iter().map(&mut map_hop).collect();
        let knot = knot.iter().map(&mut map_hop).collect();
        Deadlock {
            detected_by: self.thread(ids, *detected_by),
            background: *background,
            all_asleep: *all_asleep,
            policy: *policy,
            cycle,
            knot,
        }
    }

    fn add_edge(&mut self, edge: &OrderEdge, ids: &mut IdMap) {
        let OrderEdge {
            from,
            to,
            from_site,
            to_site,
            from_access,
            to_access,
            thread,
            stack,
            gates,
            threads,
            modes,
            permit_gates,
            seq,
        } = edge;
        let epoch = self.epoch();
        let from = self.lock(ids, *from);
        let to = self.lock(ids, *to);
        let gates: Vec<u64> = gates.iter().map(|&g| self.lock(ids, g)).collect();
        let permit_gates: Vec<PermitGate> = permit_gates
            .iter()
            .map(|g| PermitGate { semaphore: self.lock(ids, g.semaphore), permits: g.permits })
            .collect();
        let modes: Vec<OrderMode> = modes
            .iter()
            .map(|m| OrderMode {
                thread: self.thread(ids, m.thread),
                stack: m.stack.map(|s| self.stack(ids, s)),
                ..m.clone()
            })
            .collect();
        match self.edge_index.get(&(from, to)) {
            Some(&i) => {
                let merged = &mut self.lock_order[i];
                merged.gates.retain(|g| gates.contains(g));
                merged.permit_gates.retain_mut(|g| {
                    match permit_gates.iter().find(|p| p.semaphore == g.semaphore) {
                        Some(p) => {
                            g.permits = g.permits.min(p.permits);
                            true
                        }
                        None => false,
                    }
                });
                merged.from_access = merged.from_access.min(*from_access);
                merged.to_access = merged.to_access.min(*to_access);
                merged.threads = merged.threads.saturating_add(*threads);
                for m in modes {
                    let same = |n: &OrderMode| {
                        (n.from_access, n.to_access, n.timed) == (m.from_access, m.to_access, m.timed)
                    };
                    if !merged.modes.iter().any(same) {
                        merged.modes.push(m);
                    }
                }
                // Taken in several processes: its first is not comparable with one drop.
                merged.seq = None;
            }
            None => {
                let edge = OrderEdge {
                    from,
                    to,
                    from_site: from_site.clone(),
                    to_site: to_site.clone(),
                    from_access: *from_access,
                    to_access: *to_access,
                    thread: self.thread(ids, *thread),
                    stack: stack.map(|s| self.stack(ids, s)),
                    gates,
                    threads: *threads,
                    modes,
                    permit_gates,
                    seq: seq.map(|q| q | epoch),
                };
                self.edge_index.insert((from, to), self.lock_order.len());
                self.lock_order.push(edge);
            }
        }
    }

    fn lock(&mut self, ids: &mut IdMap, id: u64) -> u64 {
        self.mapped(&mut ids.locks, id)
    }

    fn thread(&mut self, ids: &mut IdMap, id: u64) -> u64 {
        self.mapped(&mut ids.threads, id)
    }

    /// The merged id of `id` in `table`, or a fresh dangling one for an id no entry defined.
    fn mapped(&mut self, table: &mut HashMap<u64, u64>, id: u64) -> u64 {
        *table.entry(id).or_insert_with(|| self.dangling())
    }

    fn stack(&mut self, ids: &mut IdMap, id: u32) -> u32 {
        if let Some(&new) = ids.stacks.get(&id) {
            return new;
        }
        let new = u32::try_from(self.dangling()).unwrap_or(u32::MAX);
        ids.stacks.insert(id, new);
        new
    }

    /// A fresh id above any that entries can get (entries number from the bottom; these from
    /// the top of the `u32` range, so that they fit stack ids too).
    fn dangling(&mut self) -> u64 {
        self.next_dangling += 1;
        u64::from(u32::MAX) - self.next_dangling
    }

    fn finish(self) -> Trace {
        let Merger {
            labels,
            reason,
            wait_episodes,
            locks,
            shared_locks: _,
            threads,
            deadlocks,
            lock_order,
            edge_index: _,
            lock_order_dropped,
            long_waits,
            condvar_waits_while_holding,
            awaits_holding_lock,
            contention,
            timeline,
            stacks,
            stack_ids: _,
            next_dangling: _,
        } = self;
        let mut command = vec![MERGE_COMMAND.to_owned()];
        command.extend(labels);
        Trace {
            format: TRACE_FORMAT.to_owned(),
            version: TRACE_VERSION,
            process: Process {
                pid: MERGE_PID,
                command,
                reason: reason.unwrap_or(WriteReason::Exit),
                wait_episodes,
            },
            locks,
            threads,
            deadlocks,
            lock_order,
            lock_order_dropped,
            long_waits,
            condvar_waits_while_holding,
            awaits_holding_lock,
            contention,
            timeline,
            stacks,
        }
    }
}
