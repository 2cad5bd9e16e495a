//! Deadlocks confirmed by the whole process being asleep for good (`crate::os_asleep`): the only
//! way lockprof reports a deadlock with a task among its members, and the way it reports a hang
//! among threads that lockprof does not all know (tokio's workers, say).
//!
//! # When it is checked
//!
//! At once when a wait whose lock's holder waits too may have closed a cycle with a task in it
//! (`crate::wake_watchdog`), then after 1, 2, 4, … ms for up to a period, as the runtime's
//! workers park. And by the background re-check (`crate::watchdog`), every period, while some
//! published wait (of a thread or a task, of any kind) is older than the period. A check the operating system declines is not repeated while lockprof's waits stay
//! the same, for a time that doubles up to [`MAX_BACKOFF`]: a pool idling for hours beside a
//! busy thread costs a few reads of `/proc` a second.
//!
//! # What is reported, and why it is real
//!
//! Once `os_asleep` has shown that no thread will ever run again (its proof is there), no future
//! is polled again, no guard is dropped, no permit comes back: every wait published in a record
//! now, by a thread or a task, is permanent. The records are read after that instant, so they
//! are its final state. The report is then:
//! - a cycle of the blocking graph (`wait_for_graph::Blocking`, every published wait a member,
//!   with a semaphore wait blocked by the waiting holders of its borrowed permits), where there
//!   is one: the deadlock, with every member's wait, site and stack, and how each
//!   blocks the next;
//! - else, if a task waits, every published wait, as the all-asleep rule reports threads: a
//!   semaphore whose permits no one will return (owned permits are not attributed, nor any
//!   beyond a semaphore's table of eight holders), a lost wake-up, a wait behind a hang
//!   lockprof did not see begin. Threads alone without a cycle are left to the all-asleep rule,
//!   whose stricter rules keep a wait for a lock whose holder has exited (a leaked guard) for
//!   the watchdog's "abandoned" finding. A deadlock reported before, still standing, is not
//!   reported again: the first cycle no earlier report explains is.
//!
//! Under `LOCKPROF_ON_DEADLOCK=panic`, the task whose wait began last in it (the one that closed
//! the cycle) is woken, and its acquire future panics with the report when polled
//! (`ThreadRecord::condemn`). If the process is found asleep for good again with the same waits (it
//! had no waker, or the panic did not end the deadlock), it aborts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::threads::{ThreadRecord, live_records};
use crate::wait_for_graph::{Blocking, Blocks, FoundDeadlock, Member, Snapshot};
use lockprof_trace::{Access, DeadlockPolicy};

/// The most waits one report takes (the wait-for graph's own bound, for checks made while
/// threads run, is 4,096): beyond it, nothing is reported.
pub(crate) const MAX_WAITS: usize = 1 << 16;

/// The longest pause between two declined checks while lockprof's waits stay the same.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The last declined check: the waits it saw, and when to look again though they are the same.
struct Declined {
    waits: Vec<(u64, u64)>,
    next: Instant,
    pause: Duration,
}

fn declined() -> &'static Mutex<Option<Declined>> {
    static DECLINED: Mutex<Option<Declined>> = Mutex::new(None);
    &DECLINED
}

/// The check asked for by a wait that may have closed a deadlock among tasks
/// (`crate::wake_watchdog`): at once, whatever the waits' age; `true` if it reported.
pub(crate) fn check_now() -> bool {
    let records = records_of_this_process();
    crate::os_asleep::all_others_asleep_for_good() && report(&records).is_some()
}

fn records_of_this_process() -> Vec<Arc<ThreadRecord>> {
    let pid = std::process::id();
    live_records().into_iter().filter(|r| r.pid == pid).collect()
}

/// The background check (see the module docs); `period` is the re-check period.
pub(crate) fn recheck(period: Duration) {
    let records = records_of_this_process();
    let mut waits = Vec::new();
    let mut old = false;
    for record in &records {
        record.with_slot(|slot| {
            if let Some(waiting) = slot.waiting.as_ref() {
                waits.push((record.id, slot.seq));
                old |= waiting.since.elapsed() >= period;
            }
        });
    }
    if !old {
        return;
    }
    waits.sort_unstable();
    let mut last = declined().lock().unwrap_or_else(|e| e.into_inner());
    if last.as_ref().is_some_and(|d| d.waits == waits && Instant::now() < d.next) {
        return;
    }
    // A new report: look again next period (under `panic`, to abort if the panic did not end
    // it). One reported before (`report` policy, say): back off as for a decline, instead of
    // re-reading /proc and the records every period for as long as the process hangs.
    if crate::os_asleep::all_others_asleep_for_good() && report(&records) == Some(true) {
        *last = None;
        return;
    }
    let pause = match last.as_ref() {
        Some(d) if d.waits == waits => (d.pause * 2).min(MAX_BACKOFF),
        _ => period,
    };
    *last = Some(Declined { waits, next: Instant::now() + pause, pause });
}

/// Reports what the records show, the process being asleep for good: `Some(true)` if it did,
/// `Some(false)` if deadlocks reported before explain it, `None` if there is nothing to report
/// (no cycle and no task waits). Threads asleep for good without a cycle are the
/// all-asleep rule's (`crate::all_asleep`), whose stricter rules keep, say, a wait for a lock
/// whose holder exited (a leaked guard) for the watchdog's "abandoned" finding.
fn report(records: &[Arc<ThreadRecord>]) -> Option<bool> {
    // Nothing runs any more, so the cost of a larger report is no one's latency.
    let snapshot = Snapshot::take_at_most(records, MAX_WAITS)?;
    let all: BTreeSet<u64> = snapshot.obs.keys().copied().collect();
    let &lowest = all.first()?;
    let mut blocking = Blocking::among(&snapshot, &all);
    let permits = permit_edges(&snapshot, &all);
    for &(waiter, holder, how) in &permits {
        blocking.add_edge(waiter, holder, how);
    }
    // A deadlock reported before explains a cycle if it still stands whole, or if the cycle's
    // waits are what is left of it (its reporter panicked out of its wait, the others still
    // wait). The first cycle no report explains is reported; with none, every wait, if a task
    // waits.
    let now: BTreeSet<(u64, u64)> = snapshot.obs.iter().map(|(&n, o)| (n, o.seq)).collect();
    let known = crate::records::found_so_far().lock().unwrap_or_else(|e| e.into_inner());
    let explained = |found: &FoundDeadlock| {
        known
            .iter()
            .any(|f| f.key.iter().all(|k| now.contains(k)) && f.key.iter().all(|k| found.key.contains(k)))
            || known.iter().any(|f| found.key.iter().all(|k| f.key.contains(k)))
    };
    let cycles: Vec<FoundDeadlock> = blocking
        .cycles()
        .into_iter()
        .filter_map(|(node, component)| blocking.describe(&snapshot, &component, node))
        .collect();
    let tasks = all.iter().any(|&node| crate::async_holders::is_async_node(node));
    let some_cycle = !cycles.is_empty();
    let unexplained = cycles.into_iter().find(|found| !explained(found));
    let found = match unexplained {
        Some(found) => Some(found),
        None if some_cycle => None,
        None if tasks => {
            let mut edges = blocking_of_all(&snapshot, &all);
            edges.extend(permits);
            Some(every_wait(&snapshot, &edges, lowest))
        }
        None => return None,
    };
    let found = found.filter(|found| !explained(found));
    drop(known);
    let Some(found) = found else {
        if crate::config::config().on_deadlock == DeadlockPolicy::Panic {
            // Still asleep for good in the waits of a deadlock reported (and panicked out of)
            // before: the panic did not end it.
            crate::diag::say(
                "lockprof: aborting: the deadlock reported above outlived the panic it was reported with; every thread is asleep for good (LOCKPROF_ON_DEADLOCK=panic)",
            );
            crate::trace::writer::write_configured(&crate::trace::snapshot::take(
                lockprof_trace::schema::WriteReason::Deadlock,
            ));
            std::process::abort();
        }
        return Some(false);
    };
    let start = found.cycle.first().map(|m| m.thread);
    let start = records.iter().find(|r| Some(r.id) == start)?;
    let to_panic = last_async_wait(records, &found);
    crate::deadlock::found_asleep(start, found, to_panic.as_deref());
    Some(true)
}

/// Waits for a tokio semaphore blocked by the waiting nodes that hold its permits through
/// borrowed permits (recorded like readers, in the semaphore's table of eight): with nothing
/// running, none comes back. Explanation only: the permits' count is not known (0 in the edge).
fn permit_edges(snapshot: &Snapshot, all: &BTreeSet<u64>) -> Vec<(u64, u64, Blocks)> {
    let mut edges = Vec::new();
    for (&node, o) in &snapshot.obs {
        if o.access != Access::Permits {
            continue;
        }
        for &(holder, at) in &o.async_shared {
            if all.contains(&holder) {
                edges.push((node, holder, Blocks::Holds { access: Access::Permits, permits: 0, at }));
            }
        }
    }
    edges
}

/// Who blocks whom, for the report of a deadlock without a cycle.
fn blocking_of_all(snapshot: &Snapshot, all: &BTreeSet<u64>) -> Vec<(u64, u64, Blocks)> {
    let mut edges = Vec::new();
    for (&node, o) in &snapshot.obs {
        for (b, how) in snapshot.blockers(o, all) {
            edges.push((node, b, how));
        }
    }
    edges
}

/// Every published wait as one deadlock (`all_asleep`), `first` listed first; each member with
/// the lock through which it blocks another's wait, where it does.
fn every_wait(snapshot: &Snapshot, edges: &[(u64, u64, Blocks)], first: u64) -> FoundDeadlock {
    // Each node's first waiter it blocks, found once (a search per node was quadratic).
    let mut blocked_first: BTreeMap<u64, (u64, Blocks)> = BTreeMap::new();
    for &(waiter, b, how) in edges {
        blocked_first.entry(b).or_insert((waiter, how));
    }
    let cycle: Vec<Member> = snapshot
        .obs
        .iter()
        .map(|(&node, o)| {
            let (blocks_on, blocks) = blocked_first
                .get(&node)
                .and_then(|&(waiter, how)| Some((snapshot.obs.get(&waiter)?.lock_id, how)))
                .unwrap_or_else(|| o.blocking_nothing());
            o.member(blocks_on, blocks)
        })
        .collect();
    let mut cycle = cycle;
    cycle.sort_by_key(|m| (m.thread != first, m.thread));
    let mut key: Vec<(u64, u64)> = snapshot.obs.iter().map(|(&n, o)| (n, o.seq)).collect();
    key.sort_unstable();
    FoundDeadlock { key, cycle, knot: Vec::new(), all_asleep: true }
}

/// The member of `found` with an async wait that began last: the one that closed it, which
/// panics with the report under the `panic` policy.
fn last_async_wait(records: &[Arc<ThreadRecord>], found: &FoundDeadlock) -> Option<Arc<ThreadRecord>> {
    let members: Vec<u64> = found.cycle.iter().chain(&found.knot).map(|m| m.thread).collect();
    records
        .iter()
        .filter(|r| members.contains(&r.id))
        .filter_map(|r| {
            r.with_slot(|slot| {
                let since = slot.waiting.as_ref()?.since;
                slot.wake.as_ref().map(|_| (since, Arc::clone(r)))
            })
        })
        .max_by_key(|(since, _)| *since)
        .map(|(_, r)| r)
}
