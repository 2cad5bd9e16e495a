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
//!   creation sites ([`crate::potential_deadlocks`]). The merge of a single trace is therefore
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

use crate::lock_state::LockKind;
use crate::trace::schema::{
    CondvarWaitWhileHolding, Contention, CycleHop, Deadlock, Frame, LockContention, LockEntry, LongWait,
    OrderEdge, Process, Site, Stack, StackContention, TRACE_FORMAT, TRACE_VERSION, ThreadEntry, Timeline,
    TimelineSpan, Trace, WriteReason,
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
/// use lockprof_profiler::trace::merge::merge;
/// use lockprof_profiler::trace::schema::{Trace, WriteReason};
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
            let new = self.threads.len() as u64 + 1;
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
        let mut count: HashMap<Identity, usize> = HashMap::new();
        for LockEntry { id: _, kind, site, name } in locks {
            *count.entry((*kind, site.clone(), name.clone())).or_default() += 1;
        }
        for LockEntry { id, kind, site, name } in locks {
            let identity = (*kind, site.clone(), name.clone());
            let new_entry = |merged: &mut Vec<LockEntry>| {
                let new = merged.len() as u64 + 1;
                merged.push(LockEntry { id: new, kind: *kind, site: site.clone(), name: name.clone() });
                new
            };
            let new = if count[&identity] == 1 {
                match self.shared_locks.get(&identity) {
                    Some(&shared) => shared,
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

    fn map_deadlock(&mut self, deadlock: &Deadlock, ids: &mut IdMap) -> Deadlock {
        let Deadlock { detected_by, background, policy, cycle, knot } = deadlock;
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
            policy: *policy,
            cycle,
            knot,
        }
    }

    fn add_edge(&mut self, edge: &OrderEdge, ids: &mut IdMap) {
        let OrderEdge { from, to, from_site, to_site, from_access, to_access, thread, stack, gates, threads } =
            edge;
        let from = self.lock(ids, *from);
        let to = self.lock(ids, *to);
        let gates: Vec<u64> = gates.iter().map(|&g| self.lock(ids, g)).collect();
        match self.edge_index.get(&(from, to)) {
            Some(&i) => {
                let merged = &mut self.lock_order[i];
                merged.gates.retain(|g| gates.contains(g));
                merged.from_access = merged.from_access.min(*from_access);
                merged.to_access = merged.to_access.min(*to_access);
                merged.threads = merged.threads.saturating_add(*threads);
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
            contention,
            timeline,
            stacks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Access;
    use crate::findings::{FindingKind, findings};
    use crate::policy::DeadlockPolicy;
    use crate::trace::load::parse;

    fn site(file: &str, line: u32) -> Site {
        Site { file: file.into(), line, column: 5 }
    }

    fn lock(id: u64, line: u32, name: Option<&str>) -> LockEntry {
        LockEntry { id, kind: LockKind::Mutex, site: site("src/lib.rs", line), name: name.map(Into::into) }
    }

    fn frames(function: &str) -> Vec<Frame> {
        vec![Frame { function: function.into(), file: Some("src/lib.rs".into()), line: Some(7) }]
    }

    /// An ABBA deadlock between locks created at lines 10 ("A") and 11 ("B"), with thread and
    /// lock ids offset by `offset` (as in a process where other things were registered first).
    fn abba(offset: u64) -> Trace {
        let mut t = Trace::empty(WriteReason::Exit);
        t.process.pid = 100 + offset as u32;
        t.process.wait_episodes = 2;
        t.locks = vec![lock(1 + offset, 10, Some("A")), lock(2 + offset, 11, Some("B"))];
        t.threads = vec![
            ThreadEntry { id: 1 + offset, name: Some("ab".into()) },
            ThreadEntry { id: 2 + offset, name: Some("ba".into()) },
        ];
        t.stacks = vec![Stack { id: 0, frames: frames("ab") }, Stack { id: 1, frames: frames("ba") }];
        t.deadlocks = vec![Deadlock {
            detected_by: 1 + offset,
            background: false,
            policy: DeadlockPolicy::Panic,
            knot: vec![],
            cycle: vec![
                CycleHop {
                    thread: 1 + offset,
                    holds: 1 + offset,
                    hold_site: site("src/lib.rs", 20),
                    hold_access: Access::Exclusive,
                    hold_permits: 0,
                    queued: false,
                    waits_for: 2 + offset,
                    wait_access: Access::Exclusive,
                    wait_permits: 0,
                    wait_site: site("src/lib.rs", 21),
                    stack: Some(0),
                },
                CycleHop {
                    thread: 2 + offset,
                    holds: 2 + offset,
                    hold_site: site("src/lib.rs", 30),
                    hold_access: Access::Exclusive,
                    hold_permits: 0,
                    queued: false,
                    waits_for: 1 + offset,
                    wait_access: Access::Exclusive,
                    wait_permits: 0,
                    wait_site: site("src/lib.rs", 31),
                    stack: Some(1),
                },
            ],
        }];
        t
    }

    fn edge(from: u64, to: u64, line: u32, thread: u64, gates: &[u64]) -> OrderEdge {
        OrderEdge {
            from,
            to,
            from_site: site("src/lib.rs", line),
            to_site: site("src/lib.rs", line + 1),
            from_access: Access::Exclusive,
            to_access: Access::Exclusive,
            thread,
            stack: None,
            gates: gates.to_vec(),
            threads: 1,
        }
    }

    /// A process with the named singletons "ledger" (line 1) and "audit" (line 2), and the given
    /// lock-order edges between them (1 = ledger, 2 = audit).
    fn bank(edges: &[(u64, u64, u32)]) -> Trace {
        let mut t = Trace::empty(WriteReason::Exit);
        t.locks = vec![lock(1, 1, Some("ledger")), lock(2, 2, Some("audit"))];
        t.threads = vec![ThreadEntry { id: 1, name: Some("main".into()) }];
        t.lock_order = edges.iter().map(|&(from, to, line)| edge(from, to, line, 1, &[])).collect();
        t
    }

    /// The merged trace is valid: it survives a JSON round trip through the loader, which checks
    /// that every id it mentions is defined.
    fn assert_loadable(trace: &Trace) {
        let json = serde_json::to_vec(trace).expect("serialise");
        let back = parse(&json).unwrap_or_else(|e| panic!("the merged trace does not load: {e}"));
        assert_eq!(&back, trace);
    }

    #[test]
    fn the_merged_process_says_it_is_a_merge() {
        let a = abba(0);
        let mut b = abba(0);
        b.process.reason = WriteReason::Deadlock;
        b.process.wait_episodes = 5;
        let merged = merge([("a.json", &a), ("b.json", &b)]);
        assert_eq!(merged.process.pid, 0);
        assert_eq!(merged.process.command, ["lockprof merge", "a.json", "b.json"]);
        assert_eq!(merged.process.reason, WriteReason::Deadlock);
        assert_eq!(merged.process.wait_episodes, 7);
        assert!(is_merge(&merged) && !is_merge(&a));
        assert_eq!(merge([("a.json", &a)]).process.reason, WriteReason::Exit);
    }

    #[test]
    fn merging_one_trace_renumbers_nothing_else() {
        let original = abba(40);
        let merged = merge([("a.json", &original)]);
        assert_loadable(&merged);
        // Same content, ids from 1.
        let mut expected = abba(0);
        expected.process = merged.process.clone();
        assert_eq!(merged, expected);
        assert_eq!(findings(&merged), findings(&abba(0)));
    }

    #[test]
    fn singleton_locks_are_one_lock_threads_are_not_and_deadlocks_add_up() {
        let merged = merge([("a.json", &abba(0)), ("b.json", &abba(7))]);
        assert_loadable(&merged);
        assert_eq!(merged.locks.len(), 2, "A and B of both processes: {:#?}", merged.locks);
        assert_eq!(merged.threads.len(), 4);
        let names: Vec<_> = merged.threads.iter().map(|t| t.name.as_deref().unwrap_or("")).collect();
        assert_eq!(names, ["ab", "ba", "ab", "ba"]);
        assert_eq!(merged.deadlocks.len(), 2);
        // The second process's deadlock names its own threads and the shared locks.
        let second = &merged.deadlocks[1];
        assert_eq!(second.detected_by, 3);
        assert_eq!(second.cycle.iter().map(|h| h.thread).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(second.cycle.iter().map(|h| h.waits_for).collect::<Vec<_>>(), [2, 1]);
        // Identical stacks are stored once.
        assert_eq!(merged.stacks.len(), 2);
        assert_eq!(second.cycle[0].stack, merged.deadlocks[0].cycle[0].stack);
        assert_eq!(findings(&merged).iter().filter(|f| f.kind == FindingKind::Deadlock).count(), 2);
    }

    #[test]
    fn locks_differ_by_site_name_or_kind() {
        let mut a = Trace::empty(WriteReason::Exit);
        a.locks = vec![lock(1, 10, Some("A"))];
        let mut other_name = a.clone();
        other_name.locks[0].name = Some("Z".into());
        let mut unnamed = a.clone();
        unnamed.locks[0].name = None;
        let mut other_line = a.clone();
        other_line.locks[0].site.line = 12;
        let mut other_file = a.clone();
        other_file.locks[0].site.file = "src/main.rs".into();
        let merged = merge([
            ("a", &a),
            ("same", &a),
            ("name", &other_name),
            ("unnamed", &unnamed),
            ("line", &other_line),
            ("file", &other_file),
        ]);
        assert_eq!(merged.locks.len(), 5);
    }

    #[test]
    fn locks_that_share_a_site_within_a_process_stay_apart() {
        // Two accounts made by one constructor, nested both ways in one process: an instance
        // cycle, a failing finding, which the merge must neither hide nor move.
        let mut two = Trace::empty(WriteReason::Exit);
        two.locks = vec![lock(1, 10, None), lock(2, 10, None)];
        two.threads = vec![ThreadEntry { id: 1, name: None }];
        two.lock_order = vec![edge(1, 2, 40, 1, &[]), edge(2, 1, 50, 1, &[])];
        // Another process with one lock from that site: not unified with either.
        let mut one = Trace::empty(WriteReason::Exit);
        one.locks = vec![lock(9, 10, None)];
        let merged = merge([("two", &two), ("one", &one), ("two again", &two)]);
        assert_loadable(&merged);
        assert_eq!(merged.locks.len(), 5);
        let potential =
            |t: &Trace| findings(t).iter().filter(|f| f.kind == FindingKind::PotentialDeadlock).count();
        assert_eq!(potential(&two), 1);
        assert_eq!(potential(&merged), 2, "one per process that had it");
    }

    #[test]
    fn an_inversion_split_across_processes_meets_in_the_merge() {
        // ledger → audit in one test binary, audit → ledger in another: neither trace has a
        // cycle, the merge does.
        let credit = bank(&[(1, 2, 10)]);
        let audit = bank(&[(2, 1, 20)]);
        assert!(findings(&credit).is_empty() && findings(&audit).is_empty());
        let merged = merge([("credit", &credit), ("audit", &audit)]);
        assert_loadable(&merged);
        let potential: Vec<_> =
            findings(&merged).into_iter().filter(|f| f.kind == FindingKind::PotentialDeadlock).collect();
        assert_eq!(potential.len(), 1, "{potential:#?}");
        let lines: Vec<u32> = potential[0].sites.iter().map(|s| s.site.line).collect();
        for line in [10, 11, 20, 21] {
            assert!(lines.contains(&line), "line {line} missing from {lines:?}");
        }
    }

    #[test]
    fn one_edge_per_pair_with_gates_intersected_and_threads_added() {
        let mut a = bank(&[]);
        a.locks.push(lock(3, 3, Some("gate")));
        a.locks.push(lock(4, 4, Some("other")));
        a.lock_order = vec![edge(1, 2, 10, 1, &[3, 4])];
        let mut b = a.clone();
        b.lock_order = vec![edge(1, 2, 60, 1, &[4])];
        b.lock_order[0].threads = 2;
        b.lock_order_dropped = 3;
        let merged = merge([("a", &a), ("b", &b)]);
        assert_loadable(&merged);
        assert_eq!(merged.lock_order.len(), 1);
        let edge = &merged.lock_order[0];
        assert_eq!(edge.from_site.line, 10, "the first occurrence's sites");
        assert_eq!(edge.gates, [4]);
        assert_eq!(edge.threads, 3);
        assert_eq!(edge.thread, 1);
        assert_eq!(merged.lock_order_dropped, 3);
    }

    #[test]
    fn stacks_are_renumbered_and_shared_by_content() {
        let mut a = bank(&[(1, 2, 10)]);
        a.stacks = vec![Stack { id: 5, frames: frames("credit") }];
        a.lock_order[0].stack = Some(5);
        let mut b = bank(&[(2, 1, 20)]);
        b.stacks = vec![Stack { id: 0, frames: frames("audit") }, Stack { id: 1, frames: frames("credit") }];
        b.lock_order[0].stack = Some(1);
        let merged = merge([("a", &a), ("b", &b)]);
        assert_loadable(&merged);
        assert_eq!(merged.stacks.iter().map(|s| s.id).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(merged.lock_order[0].stack, Some(0));
        assert_eq!(merged.lock_order[1].stack, Some(0), "b's credit stack is a's");
    }

    #[test]
    fn merging_nothing_is_an_empty_merge() {
        let merged = merge([]);
        assert_loadable(&merged);
        assert_eq!(merged.process.command, ["lockprof merge"]);
        assert!(merged.locks.is_empty() && merged.threads.is_empty() && merged.deadlocks.is_empty());
    }

    #[test]
    fn dangling_references_stay_dangling() {
        let mut t = abba(0);
        t.locks.pop(); // lock 2 is still named by the deadlock
        let merged = merge([("bad", &t), ("good", &abba(0))]);
        let json = serde_json::to_vec(&merged).expect("serialise");
        assert!(parse(&json).is_err(), "the loader must still reject the dangling reference");
    }
}
