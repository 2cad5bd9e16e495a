//! The hand-written trace writer against the serde reader: every schema field, and every variant
//! of every enum, survives write → read, and the bytes are serde_json's pretty output.

use lockprof_trace::schema::*;
use lockprof_trace::{Access, DeadlockPolicy, LockKind, json_writer, load};

fn site(n: u32) -> Site {
    Site { file: format!("src/f{n}.rs"), line: n, column: n + 1 }
}

/// A trace with every field set to something other than its default, ids that resolve, and
/// strings that need escaping.
fn full_trace(reason: WriteReason) -> Trace {
    let kinds = [
        LockKind::Mutex,
        LockKind::RwLock,
        LockKind::Semaphore,
        LockKind::ReentrantMutex,
        LockKind::Condvar,
        LockKind::Thread,
        LockKind::Once,
        LockKind::Channel,
        LockKind::Barrier,
    ];
    let locks = kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| LockEntry {
            id: i as u64 + 1,
            kind,
            site: site(i as u32),
            name: (i % 2 == 0).then(|| format!("lock \"{i}\"\\\n\t\u{1} ünï")),
            written: i % 2 == 1,
            dropped: (i % 3 == 0).then_some(i as u64 + 40),
            capacity: (i % 4 == 0).then_some(i as u32 + 3),
        })
        .collect();
    let hop = |thread, holds, waits_for, hold_access, wait_access, permits: u32, queued| CycleHop {
        thread,
        holds,
        hold_site: site(10),
        hold_access,
        hold_permits: permits,
        queued,
        waits_for,
        wait_access,
        wait_permits: permits * 2,
        wait_site: site(11),
        stack: (thread == 1).then_some(0),
    };
    Trace {
        format: TRACE_FORMAT.into(),
        version: TRACE_VERSION,
        process: Process {
            pid: 4242,
            command: vec!["prog".into(), "--x=\"y\"".into()],
            reason,
            wait_episodes: 7,
        },
        locks,
        threads: vec![ThreadEntry { id: 1, name: Some("main".into()) }, ThreadEntry { id: 2, name: None }],
        deadlocks: vec![
            Deadlock {
                detected_by: 1,
                background: true,
                all_asleep: false,
                policy: DeadlockPolicy::Abort,
                cycle: vec![
                    hop(1, 1, 2, Access::Shared, Access::Upgradable, 0, true),
                    hop(2, 2, 1, Access::SharedRecursive, Access::Permits, 3, false),
                ],
                knot: vec![hop(2, 3, 3, Access::Permits, Access::Exclusive, 1, false)],
            },
            Deadlock {
                detected_by: 2,
                background: false,
                all_asleep: true,
                policy: DeadlockPolicy::Panic,
                cycle: vec![hop(2, 1, 1, Access::Exclusive, Access::Exclusive, 0, false)],
                knot: vec![],
            },
            Deadlock {
                detected_by: 2,
                background: false,
                all_asleep: false,
                policy: DeadlockPolicy::Report,
                cycle: vec![hop(1, 1, 1, Access::Exclusive, Access::Exclusive, 0, false)],
                knot: vec![],
            },
        ],
        lock_order: vec![OrderEdge {
            from: 1,
            to: 2,
            from_site: site(20),
            to_site: site(21),
            from_access: Access::Shared,
            to_access: Access::Upgradable,
            thread: 2,
            stack: Some(1),
            gates: vec![3, 4],
            threads: 2,
            modes: vec![
                OrderMode {
                    from_access: Access::Shared,
                    to_access: Access::Exclusive,
                    timed: false,
                    from_site: site(20),
                    to_site: site(21),
                    thread: 2,
                    stack: Some(1),
                },
                OrderMode {
                    from_access: Access::Exclusive,
                    to_access: Access::Upgradable,
                    timed: true,
                    from_site: site(22),
                    to_site: site(23),
                    thread: 1,
                    stack: None,
                },
            ],
            permit_gates: vec![PermitGate { semaphore: 4, permits: 2 }],
            seq: Some(7),
        }],
        lock_order_dropped: 5,
        long_waits: vec![
            LongWait {
                thread: 1,
                lock: 5,
                access: Access::Shared,
                wait_site: site(30),
                waited_ms: 1500,
                stack: Some(0),
                holder: Some(2),
                holder_site: Some(site(31)),
                holder_stack: Some(1),
                holder_exited: true,
            },
            LongWait {
                thread: 2,
                lock: 1,
                access: Access::Exclusive,
                wait_site: site(32),
                waited_ms: 1,
                stack: None,
                holder: None,
                holder_site: None,
                holder_stack: None,
                holder_exited: false,
            },
        ],
        condvar_waits_while_holding: vec![CondvarWaitWhileHolding {
            thread: 1,
            condvar: 5,
            wait_site: site(40),
            held: 1,
            held_site: site(41),
        }],
        awaits_holding_lock: vec![AwaitHoldingLock {
            task: 1,
            lock: 1,
            held_site: site(42),
            observer: 1,
            observed_site: site(43),
        }],
        contention: Some(Contention {
            sample: 3,
            locks: vec![LockContention {
                lock: 1,
                acquisitions: u64::MAX,
                contended: 2,
                wait_ns: 3,
                max_wait_ns: 4,
                hold_ns: 5,
            }],
            waiters: vec![StackContention { lock: 1, stack: 0, count: 6, ns: 7 }],
            holders: vec![StackContention { lock: 2, stack: 1, count: 8, ns: 9 }],
            dropped_stacks: 10,
        }),
        timeline: Some(Timeline {
            spans: vec![
                TimelineSpan { thread: 1, lock: 1, kind: SpanKind::Wait, start_ns: 1, end_ns: 2 },
                TimelineSpan { thread: 2, lock: 1, kind: SpanKind::Hold, start_ns: 3, end_ns: 4 },
            ],
            dropped: 11,
        }),
        stacks: vec![
            Stack {
                id: 0,
                frames: vec![
                    Frame {
                        function: "a::b::{{closure}}".into(),
                        file: Some("src/a.rs".into()),
                        line: Some(3),
                    },
                    Frame { function: "??".into(), file: None, line: None },
                ],
            },
            Stack { id: 1, frames: vec![] },
        ],
    }
}

#[test]
fn every_field_survives_write_then_read() {
    for reason in [WriteReason::Exit, WriteReason::Deadlock, WriteReason::Watchdog] {
        let trace = full_trace(reason);
        let read = load::parse(&json_writer::to_vec(&trace)).expect("the written trace loads");
        assert_eq!(read, trace);
    }
}

#[test]
fn optional_sections_left_out_read_back_as_absent() {
    let mut trace = full_trace(WriteReason::Exit);
    trace.long_waits.clear();
    trace.condvar_waits_while_holding.clear();
    trace.awaits_holding_lock.clear();
    trace.contention = None;
    trace.timeline = None;
    let json = json_writer::to_vec(&trace);
    assert_eq!(load::parse(&json).expect("loads"), trace);
    let text = String::from_utf8(json).unwrap();
    assert!(!text.contains("long_waits") && !text.contains("contention") && !text.contains("timeline"));
}

#[test]
fn the_bytes_are_serde_jsons_pretty_output() {
    for trace in [full_trace(WriteReason::Exit), Trace::empty(WriteReason::Deadlock)] {
        let ours = String::from_utf8(json_writer::to_vec(&trace)).unwrap();
        let serde = serde_json::to_string_pretty(&trace).unwrap();
        assert_eq!(ours, serde);
    }
}
