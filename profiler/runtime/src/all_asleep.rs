//! The all-asleep rule (Go's "all goroutines are asleep"): when every live thread of the process
//! is blocked in an untimed wait that lockprof knows (a lock episode, a join, an initialisation,
//! or a *signal wait*: a condition variable, a channel, a barrier, see `crate::waits::signal`),
//! and nothing has happened since that could end any of the signal waits, no thread can ever
//! wake another: that is a deadlock, reported with every thread's wait, site and stack.
//!
//! # When it is checked
//!
//! Two counters make the pre-check two loads: threads with a record (which know their OS id) and
//! threads in an untimed known wait. Only when they match does a thread that has just published
//! an untimed wait (it is then the last to fall asleep) run the check; so does the background
//! re-check every period (`crate::watchdog`), which catches a wait that became permanent later:
//! a lost wake-up, whose notifier has exited since.
//!
//! # Why a report is never false
//!
//! The check reads the operating system's list of the process's threads (Linux:
//! `/proc/self/task`), then three passes over the records of those threads, then the list again:
//!
//! - every listed thread other than the profiler's own (the watchdog and the trace writer, which
//!   run no user code) has a live record (a thread lockprof does not know, which may be about to
//!   notify anyone, means no report), and the two lists are equal;
//! - pass 1 observes every thread's wait as the wait-for graph does ([`Snapshot`]). Each must be
//!   an untimed lock wait (not an async lock's) or a signal wait whose object has not moved
//!   (`SignalWait::still_asleep`: its counter still has the value read when the wait began, and
//!   for a barrier fewer threads are inside it than its parties). A timed wait, a thread with
//!   no published wait (running), or a moved counter means no report; so does a send and a
//!   receive waiting on the same channel (on a rendezvous channel each retry may fail because the
//!   other had not yet entered std's blocking call, where they then meet, with no counter
//!   moved). Every lock wait must then
//!   be justified as in `wait_for_graph` with the signal waiters as members: some conflicting
//!   holder is a member (so a lock whose holder has exited, or which is free while its waiter is
//!   being woken, justifies nothing);
//! - pass 2 observes every thread again (same observation: owner words, permit counts, sequence
//!   numbers) and re-reads every signal condition; pass 3 re-reads every sequence number.
//!
//! Then there is an instant (during pass 2) at which every thread of the process was inside the
//! episode seen in pass 1: each was seen in it, with the same sequence number, before and after
//! pass 2, and a thread created after the first list was made by a thread that was running then,
//! before its episode, and has exited before the second list (else the lists differ), having
//! released nothing it did not take itself (a lock it still holds names it, and it is no member)
//! and bumped the counter of every object it operated on (so no signal waiter whose wait began
//! before is counted asleep). From that instant on:
//!
//! - a lock wait ends only when a member releases, and members release nothing during their
//!   episodes (fact 1 of `wait_for_graph`);
//! - a signal wait ends only through an event on its object: a notification, a send, a receive,
//!   a dropped end of a channel, a departure from a barrier, each of which a running thread
//!   performs, and each counted after the counter value the waiter read (for a channel, an
//!   operation is followed by its mark, a release store of a value never stored before, and the
//!   waiter reads the counter, acquiring, before a non-blocking retry that fails: a mark before
//!   that read would have made its operation visible to the retry, see `Signal`. An earlier
//!   operation whose mark was overwritten by another thread's is ordered before that one by
//!   std's channel itself, whose sends and receives are read-modify-writes on its own atomics,
//!   so it is visible too. For a condition variable, the bump and the read are under the lock
//!   its waiters and notifiers share, and a notifier wakes before it releases that lock). For a barrier of `n`: a waiter
//!   reads the departures before arriving, counts its arrival, and only then enters std's wait;
//!   every thread counts its departure after std's wait returns. If a waiter's round were
//!   complete, its `n` threads all arrived, and none departed before the round completed (after
//!   the waiter entered, so after its read): with the departures unchanged since that read, all
//!   `n` are still inside, contradicting "fewer than `n` inside". A round that a thread still
//!   in its arrival would complete is the same: it has arrived, so it is counted inside. (The
//!   arrival that completes a round by lockprof's count is not published at all.) One
//!   assumption is stated: an
//!   untimed `Condvar::wait` does not return without a notification. std allows spurious
//!   wake-ups; on Linux its futex-based wait retries a wait that a signal interrupted, so it
//!   returns early only after a wake-up aimed at its address that no notification sent (the
//!   kernel allows a stale one, left by code that used the same memory before), and a program
//!   that needs such a wake-up to make progress has a lost-wake-up bug anyway.
//!   (Signal-handling crates such as `ctrlc` and `signal-hook` run a thread of their own, which
//!   lockprof does not know: no report while it lives.)
//!
//! No thread runs, so no event happens: every wait is permanent. What the assumption and the
//! rules leave open is reported nowhere: the check only ever declines.
//!
//! # Why it is found
//!
//! The last thread to fall asleep increments the asleep counter after publishing its wait and
//! issuing the SeqCst fence; the counters then match for it (or for the background re-check,
//! within a period), and the list, the records and the counters are all stable: the three
//! passes agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::threads::{ThreadRecord, all_known_may_be_asleep, internal_tids, live_records};
use crate::wait_for_graph::{Blocks, FoundDeadlock, Member, Obs, Snapshot, observe};

static CHECKS: AtomicU64 = AtomicU64::new(0);

/// How many times the all-asleep check has looked at the process's threads (its pre-check
/// passed): tests use it to show that it ran, and declined.
///
/// ```
/// let _ = lockprof_profiler::all_asleep_checks();
/// ```
pub fn all_asleep_checks() -> u64 {
    CHECKS.load(Ordering::SeqCst)
}

/// Called by a thread that has just published an untimed wait: if every thread may now be asleep,
/// checks, and reports the deadlock from this thread. `can_unwind`: whether a panic of this
/// thread ends its wait (see `crate::deadlock::found_where_panic_cannot_end_it`).
pub(crate) fn check_after_sleeping(record: &Arc<ThreadRecord>, can_unwind: bool) {
    if !all_known_may_be_asleep() {
        return;
    }
    if let Some(Found::New(found)) = find(Some(record.id), None) {
        if can_unwind {
            crate::deadlock::found(record, found);
        } else {
            crate::deadlock::found_where_panic_cannot_end_it(record, found);
        }
    }
}

/// The background re-check: reports only if every thread has been waiting for `older_than`
/// (a thread that has just fallen asleep reports its own).
pub(crate) fn recheck(older_than: Duration) {
    if !all_known_may_be_asleep() {
        return;
    }
    match find(None, Some(older_than)) {
        Some(Found::New(found)) => {
            // Reported from the first thread's wait (the lowest id: the same one each period).
            let first = found.cycle.first().map(|m| m.thread);
            if let Some(record) = live_records().into_iter().find(|r| Some(r.id) == first) {
                crate::deadlock::found_in_background(&record, found);
            }
        }
        Some(Found::Reported)
            if crate::config::config().on_deadlock == lockprof_trace::DeadlockPolicy::Panic =>
        {
            // The panic of the thread that reported it did not end it (a barrier's other
            // parties, say, still wait): a panic cannot end it, so the process aborts, as for any
            // deadlock no thread can be made to panic out of. The trace has it already.
            crate::diag::say(
                "lockprof: aborting: the deadlock reported above outlived the panic of the thread that found it; every remaining thread is still asleep (LOCKPROF_ON_DEADLOCK=panic)",
            );
            crate::trace::writer::write_configured(&crate::trace::snapshot::take(
                lockprof_trace::schema::WriteReason::Deadlock,
            ));
            std::process::abort();
        }
        _ => {}
    }
}

/// What a check found: a new deadlock, or all threads still asleep in one reported before.
enum Found {
    New(FoundDeadlock),
    Reported,
}

/// One thread's signal condition as read under its slot's mutex: sequence number, and whether
/// its signal wait (if it has one) is still asleep, and how long it has waited.
fn signal_state(record: &ThreadRecord) -> (u64, Option<bool>, Duration, u8) {
    record.with_slot(|slot| {
        // SAFETY: the slot's mutex is held (see `SignalWait::still_asleep`).
        let asleep = slot.signal.as_ref().map(|s| unsafe { s.still_asleep() });
        let side = slot.signal.as_ref().map_or(0, |s| s.side);
        let waited = slot.waiting.as_ref().map(|w| w.since.elapsed()).unwrap_or_default();
        (slot.seq, asleep, waited, side)
    })
}

/// Whether a thread's observed wait is one the rule may count: an untimed lock wait of a thread
/// (not an async lock's), or a signal wait, which `signal` says is still asleep.
fn countable(o: &Obs, signal: Option<bool>) -> bool {
    let async_wait = o.fifo.is_some() || !o.async_shared.is_empty();
    match signal {
        Some(asleep) => asleep,
        None => !o.timed && !async_wait,
    }
}

/// Runs the check described in the module docs; `detector` (else the thread of the lowest id) is
/// listed first in the report.
fn find(detector: Option<u64>, older_than: Option<Duration>) -> Option<Found> {
    let found = confirm(detector, older_than);
    CHECKS.fetch_add(1, Ordering::SeqCst);
    let found = found?;
    let known = crate::records::found_so_far().lock().unwrap_or_else(|e| e.into_inner());
    // Threads still asleep in the very waits of an all-asleep deadlock reported before, without
    // the thread that reported it: it has left its wait (panicked out of it), and the others
    // are still asleep. (While the reporter's panic hook runs, its wait is still published: the
    // set then includes it, and is left alone.)
    let left_by_reporter = |f: &crate::records::Found| {
        f.all_asleep
            && found.key.iter().all(|k| f.key.contains(k))
            && found.key.iter().all(|&(t, _)| t != f.detected_by)
    };
    if known.iter().any(left_by_reporter) {
        return Some(Found::Reported);
    }
    // A deadlock already reported among these same waits (a cycle found by its own members) is
    // not reported again as "all asleep".
    if known.iter().any(|f| f.key.iter().all(|k| found.key.contains(k))) {
        return None;
    }
    Some(Found::New(found))
}

fn confirm(detector: Option<u64>, older_than: Option<Duration>) -> Option<FoundDeadlock> {
    let listed = crate::os_asleep::os_threads()?;
    let internal = internal_tids();
    // Records made in this process only: after a `fork`, the parent's records (and its threads'
    // ids, which the child's threads may get) describe threads the child does not have.
    let pid = std::process::id();
    let by_tid: HashMap<i32, Arc<ThreadRecord>> =
        live_records().into_iter().filter(|r| r.tid != 0 && r.pid == pid).map(|r| (r.tid, r)).collect();
    let mut members = Vec::new();
    for tid in &listed {
        if !internal.contains(tid) {
            members.push(Arc::clone(by_tid.get(tid)?));
        }
    }
    let detector = detector.or_else(|| members.iter().map(|m| m.id).min())?;
    if !members.iter().any(|m| m.id == detector) {
        return None;
    }

    // Pass 1.
    let first = Snapshot::take(&members)?;
    let mut asleep = BTreeSet::new();
    let mut seqs = BTreeMap::new();
    let mut sides: HashMap<u64, u8> = HashMap::new();
    for m in &members {
        let o = first.obs.get(&m.id)?;
        let (seq, signal, waited, side) = signal_state(m);
        if seq != o.seq || !countable(o, signal) || older_than.is_some_and(|t| waited < t) {
            return None;
        }
        if signal.is_some() {
            asleep.insert(m.id);
        }
        // A send and a receive waiting on one channel are about to meet (a rendezvous).
        *sides.entry(o.lock_id).or_default() |= side;
        seqs.insert(m.id, seq);
    }
    if sides.values().any(|&s| s == 3) {
        return None;
    }
    let pb = first.permanently_blocked_given(&asleep);
    if pb.len() != members.len() {
        return None;
    }

    // Pass 2: the same observations, and every signal still asleep.
    for m in &members {
        let o = &first.obs[&m.id];
        if observe(m).map(|again| again.key()) != Some(o.key()) {
            return None;
        }
        let (seq, signal, _, _) = signal_state(m);
        if seq != seqs[&m.id] || signal != asleep.contains(&m.id).then_some(true) {
            return None;
        }
    }
    // Pass 3: the same episodes, and the same threads.
    for m in &members {
        if m.with_slot(|slot| slot.seq) != seqs[&m.id] {
            return None;
        }
    }
    if crate::os_asleep::os_threads()? != listed {
        return None;
    }

    // The report: every thread, the detector first, each with the lock through which it blocks
    // another member's lock wait, if any.
    let mut blocks: HashMap<u64, (u64, Blocks)> = HashMap::new();
    for o in first.obs.values() {
        for (b, how) in first.blockers(o, &pb) {
            blocks.entry(b).or_insert((o.lock_id, how));
        }
    }
    let mut order: Vec<u64> = pb.iter().copied().collect();
    order.sort_by_key(|&t| (t != detector, t));
    let cycle: Vec<Member> = order
        .iter()
        .map(|t| {
            let o = &first.obs[t];
            let (blocks_on, blocks) = blocks.get(t).copied().unwrap_or_else(|| o.blocking_nothing());
            o.member(blocks_on, blocks)
        })
        .collect();
    let mut key: Vec<(u64, u64)> = seqs.into_iter().collect();
    key.sort_unstable();
    Some(FoundDeadlock { key, cycle, knot: Vec::new(), all_asleep: true })
}
