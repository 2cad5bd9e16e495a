//! Merging traces (`lockprof_trace::merge`), judged by what the analysis then finds: an inversion
//! split across processes meets in the merge; one trace merged alone keeps its findings.

use lockprof_analysis::findings::{FindingKind, findings};
use lockprof_trace::load::parse;
use lockprof_trace::merge::{is_merge, merge};
use lockprof_trace::schema::*;
use lockprof_trace::{Access, DeadlockPolicy, LockKind};

fn site(file: &str, line: u32) -> Site {
    Site { file: file.into(), line, column: 5 }
}

fn lock(id: u64, line: u32, name: Option<&str>) -> LockEntry {
    LockEntry {
        id,
        kind: LockKind::Mutex,
        site: site("src/lib.rs", line),
        name: name.map(Into::into),
        written: false,
        dropped: None,
        capacity: None,
    }
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
        all_asleep: false,
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
        modes: vec![],
        permit_gates: vec![],
        seq: None,
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

#[test]
fn tasks_stay_tasks_in_a_merge_and_keep_their_names() {
    // Task 7 of one process and task 7 of another: two entries, both still tasks, named by
    // tokio's id, and the deadlock between them still names tasks.
    let mut one = abba(0);
    for thread in &mut one.threads {
        thread.name = Some(format!("task {}", thread.id + 6));
        thread.id |= TASK_BIT;
    }
    for deadlock in &mut one.deadlocks {
        deadlock.detected_by |= TASK_BIT;
        for hop in &mut deadlock.cycle {
            hop.thread |= TASK_BIT;
        }
    }
    assert_loadable(&one);
    let merged = merge([("one", &one), ("two", &one)]);
    assert_loadable(&merged);
    assert_eq!(merged.threads.len(), 4);
    assert!(merged.threads.iter().all(|t| t.id & TASK_BIT != 0), "{:?}", merged.threads);
    let text = lockprof_analysis::report::render(&merged, "merged");
    assert!(text.contains("task 7 → lock") && text.contains("2 tasks, each waiting"), "{text}");
    assert!(!text.contains("thread #"), "{text}");
}
