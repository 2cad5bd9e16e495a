//! The watchdog (`LOCKPROF_WATCHDOG_MS`): waits that are not cycles but take too long (a
//! condition variable never notified, a lock held across slow I/O, a hang behind a thread stuck
//! elsewhere). It records a long-wait finding with the waiter's stack and, where known, the
//! holder's acquisition site and stack, as go-deadlock does, without killing the process; and it
//! rewrites the trace, so a process killed later (say by `lockprof run --timeout`) leaves its
//! last known waits behind.
//!
//! The same background thread re-checks waits for deadlocks (`LOCKPROF_RECHECK_MS`, default
//! 100 ms): a thread is checked when it *starts* to wait, which catches a deadlock the moment its
//! last edge appears as a new wait; but an edge can also form inside a wait already under way
//! (a queued writer that takes the lock's writer mark later). Every untimed wait older than the
//! period is checked again, with the same confirmation as at the start of a wait.
//!
//! A wait for a lock whose holder thread has exited without releasing it (a leaked guard) will
//! never end: its finding names the lock as abandoned.
//!
//! The thread starts with the first wait episode (again in a child made by `fork`), wakes every half watchdog threshold or every
//! re-check period (whichever is shorter), and uses no lockprof lock.

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::threads::live_records;

/// Whether this process's watchdog has been started. A child made by `fork` has no watchdog (only
/// the forking thread goes on in it): the child handler clears the flag, and the child's first
/// wait starts its own. A flag, not a `Once`: a fork while another thread is starting the
/// watchdog would leave a `Once` running for ever in the child, and its first wait would hang.
static STARTED: AtomicBool = AtomicBool::new(false);

/// Starts the background thread once per process, if the watchdog or the re-check is on.
pub(crate) fn ensure_started() {
    if STARTED.load(Ordering::Acquire) {
        return;
    }
    let config = crate::config::config();
    let (watchdog, recheck) = (config.watchdog, config.recheck);
    let Some(period) = [watchdog.map(|t| t / 2), recheck].into_iter().flatten().min() else { return };
    if STARTED.swap(true, Ordering::AcqRel) {
        return; // another thread starts it
    }
    // Registered once per program (a child inherits the registration). A flag again, for the
    // same reason: a `Once` caught running by a fork would hang the child here.
    static AT_FORK: AtomicBool = AtomicBool::new(false);
    if !AT_FORK.swap(true, Ordering::AcqRel) {
        // SAFETY: `forked_child` is an `extern "C" fn()` that only stores to atomics, which is
        // async-signal-safe, as a handler that runs in the child of a multi-threaded fork must be.
        unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
    }
    let period = period.max(Duration::from_millis(5));
    let spawned = crate::threads::spawn_internal("lockprof-watchdog", move || run(period, watchdog, recheck));
    if let Err(error) = spawned {
        crate::diag::say(&format!("lockprof: could not start the watchdog: {error}"));
    }
}

/// `pthread_atfork`'s child handler: the child has no watchdog yet.
extern "C" fn forked_child() {
    STARTED.store(false, Ordering::Release);
    crate::wake_watchdog::forget_watchdog();
}

fn run(period: Duration, watchdog: Option<Duration>, recheck: Option<Duration>) {
    crate::wake_watchdog::register_watchdog();
    let mut reported: Reported = HashMap::new();
    loop {
        let asked = sleep_unless_asked(period);
        if let (true, Some(older_than)) = (asked, recheck) {
            check_asleep_soon(older_than);
        }
        if let Some(older_than) = recheck {
            recheck_waits(older_than);
            // Every thread asleep, one of them for a whole period: a lost wake-up, say (its
            // notifier has exited), which no thread is left to find as it falls asleep.
            crate::all_asleep::recheck(older_than);
            // The same, as the operating system shows it: every thread, known to lockprof or not
            // (tokio's workers), asleep for good; the only report of a deadlock among tasks.
            // Not right after the checks a wait asked for, which have just looked.
            if !asked {
                crate::process_asleep::recheck(older_than);
            }
        }
        if let Some(threshold) = watchdog {
            if scan(threshold, &mut reported) {
                // Written by the background writer, so this thread keeps scanning meanwhile.
                crate::trace::writer::write_soon(lockprof_trace::schema::WriteReason::Watchdog);
            }
        }
    }
}

/// Sleeps for `period`, or less if a wait asks for a check meanwhile (`crate::wake_watchdog`);
/// returns whether one did.
fn sleep_unless_asked(period: Duration) -> bool {
    let until = Instant::now() + period;
    loop {
        if crate::wake_watchdog::take_request() {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::park_timeout(until - now);
    }
}

/// A wait may just have closed a deadlock among tasks: looks for the process asleep for good at
/// once, then after 1, 2, 4, … ms (the workers may still be on their way to parking), for at
/// most `within`.
fn check_asleep_soon(within: Duration) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    while !crate::process_asleep::check_now() && start.elapsed() + pause < within {
        std::thread::sleep(pause);
        pause *= 2;
    }
}

/// At most this many waits are re-checked per period.
const MAX_RECHECKS: usize = 64;

/// Re-checks every untimed wait older than `older_than` for a deadlock it is now part of.
fn recheck_waits(older_than: Duration) {
    let records = live_records();
    // Threads waiting (untimed) for at least `older_than`: the re-check's candidates, and the
    // only threads it lets a deadlock it reports consist of.
    let old: Vec<u64> = records
        .iter()
        .filter(|r| {
            // A task's wait is never part of a deadlock `find_deadlock` returns (only
            // `crate::process_asleep` reports those): re-checking it would cost a snapshot of every
            // record per period and find nothing.
            !crate::async_holders::is_async_node(r.id)
                && r.with_slot(|s| {
                    s.waiting.as_ref().is_some_and(|w| !w.timed && w.since.elapsed() >= older_than)
                })
        })
        .map(|r| r.id)
        .collect();
    let candidates = records.iter().filter(|r| old.contains(&r.id)).take(MAX_RECHECKS);
    for record in candidates {
        if let Some(found) = crate::wait_for_graph::find_deadlock(record) {
            // A member that began waiting only just now runs its own check as it joins, and the
            // last to join a deadlock finds it (see `wait_for_graph`): the report, and the policy
            // that goes with it, are its own. The re-check takes only deadlocks whose every
            // member has been waiting for a whole period, which no thread can report any more;
            // a younger one is seen again next period if it still stands.
            if found.cycle.iter().chain(&found.knot).all(|m| old.contains(&m.thread)) {
                crate::deadlock::found_in_background(record, found);
                return; // one per period: the others of the same deadlock are deduplicated anyway
            }
        }
    }
}

/// The waits recorded so far, by thread and episode, and whether their lock is known abandoned.
type Reported = HashMap<(u64, u64), bool>;

/// The lock's exclusive holder as a finding names it: thread, acquisition site, stack if it is
/// itself waiting; and whether it has exited, leaving the lock abandoned.
type Holder = (Option<(u64, &'static std::panic::Location<'static>, Option<Arc<Backtrace>>)>, bool);

fn holder_of(lock: &crate::lock_state::LockState, waiting_stacks: &[(u64, Arc<Backtrace>)]) -> Holder {
    let holder = lock.holder().map(|(thread, _, at)| {
        let stack = waiting_stacks.iter().find(|(t, _)| *t == thread).map(|(_, s)| Arc::clone(s));
        (thread, at, stack)
    });
    // Abandoned: the holder is gone and the lock still names it. A thread releases before it
    // exits, and only it writes its id into the holder word, so a holder word that still names
    // it after its exit was seen will never change.
    let exited = holder.as_ref().is_some_and(|&(thread, _, _)| {
        crate::liveness::has_exited(thread) && lock.holder().is_some_and(|(t, _, _)| t == thread)
    });
    (holder, exited)
}

/// Records every published wait older than `threshold` not reported yet, and marks a reported
/// one whose holder has exited since as abandoned; returns whether anything changed.
fn scan(threshold: Duration, reported: &mut Reported) -> bool {
    let records = live_records();
    // Stacks of waiting threads, so a holder that is itself waiting gets its stack too.
    let waiting_stacks: Vec<(u64, Arc<Backtrace>)> = records
        .iter()
        .filter_map(|r| r.with_slot(|s| s.waiting.as_ref().map(|w| (r.id, Arc::clone(&w.stack)))))
        .collect();
    let mut found = Vec::new();
    let mut abandoned = Vec::new();
    for record in &records {
        record.with_slot(|slot| {
            let Some(waiting) = slot.waiting.as_ref() else { return };
            let waited = waiting.since.elapsed();
            let key = (record.id, slot.seq);
            if waited < threshold || reported.get(&key) == Some(&true) {
                return;
            }
            // SAFETY: as in `wait_for_graph::observe`: the slot's mutex is held, so the waiting
            // thread is still inside the lock call that borrows the lock.
            let lock = unsafe { &*waiting.lock };
            let (holder, holder_exited) = holder_of(lock, &waiting_stacks);
            let wait = crate::records::LongWait {
                thread: record.id,
                lock: waiting.lock_id,
                access: waiting.access,
                wait_at: waiting.at,
                waited,
                stack: Arc::clone(&waiting.stack),
                holder,
                holder_exited,
            };
            match reported.insert(key, holder_exited) {
                None => found.push(wait),
                // Reported while its holder still ran; the holder has exited since.
                Some(false) if holder_exited => abandoned.push(wait),
                Some(_) => {}
            }
        });
    }
    if found.is_empty() && abandoned.is_empty() {
        return false;
    }
    let mut all = crate::records::long_waits().lock().unwrap_or_else(|e| e.into_inner());
    for wait in abandoned {
        let earlier = all.iter_mut().rev().find(|w| {
            w.thread == wait.thread
                && w.lock == wait.lock
                && std::ptr::eq(w.wait_at, wait.wait_at)
                && !w.holder_exited
        });
        if let Some(earlier) = earlier {
            *earlier = wait;
        }
    }
    for wait in found {
        if all.len() < crate::records::MAX_LONG_WAITS {
            crate::locks::pin(wait.lock);
            all.push(wait);
        }
    }
    true
}
