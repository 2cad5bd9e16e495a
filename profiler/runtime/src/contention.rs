//! The contention profile: which lock, which call stacks, how long.
//!
//! Kept only when a trace will be written (`LOCKPROF_TRACE` set); otherwise the lock types pay
//! for deadlock detection alone.
//!
//! - **Per lock** ([`LockStats`], in a block the lock points to, from `lock_stats/blocks.rs`,
//!   so it survives moves of the lock, lets the trace list a lock that never registered, and is
//!   still there for the trace after the lock is dropped if the registry keeps it): acquisitions (the only
//!   fast-path cost: one counter bump), contended acquisitions, total and maximum wait, and the
//!   *contended hold time*: how long the lock was held while at least one other thread waited
//!   for it (the union of those intervals; `lock_state/hold.rs`). Only such holds are timed, each
//!   from the later of its acquisition and the first waiter's arrival to its release, because
//!   timing every hold would put a clock read on the fast path.
//! - **Per waiting stack**: a contended acquisition is counted under the waiter's stack (told
//!   apart by its return addresses, captured unresolved the first time it is seen) in a
//!   concurrent map with a count and the wait time. Waits long enough to be
//!   checked for deadlock already have a stack; of the shorter ones, one in `LOCKPROF_SAMPLE`
//!   (default 1: all) is captured. Per-lock counts and times stay exact whatever the sampling.
//! - **Per holding stack** (Go's mutex-profile view, blaming the holder): a waiter flags the
//!   lock, and so does a holder that acquires while others still wait; the holder, on release,
//!   sees the flag, captures its stack there (the frames where its guard lived) and is charged
//!   the contended hold time.
//!
//! Stacks are symbolised once, when the trace is written.

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::lock_stats::LockStats;
use crate::sharded_map::ShardedMap;

/// Nanoseconds since the profiler's clock started (for hold-time flags and the timeline).
pub(crate) fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// A stack's figures for one lock.
#[derive(Debug, Default)]
pub(crate) struct StackStats {
    pub count: AtomicU64,
    pub ns: AtomicU64,
}

/// Key of the stack tables: the lock and the stack's return addresses (`unwind.rs`).
type StackKey = (u64, Vec<usize>);

/// Waiting and holding stacks, with one representative capture each (for symbolising).
pub(crate) struct StackTable {
    pub entries: ShardedMap<StackKey, (Arc<Backtrace>, StackStats), crate::sharded_map::SipHash>,
}

/// At most this many distinct stacks are kept per table; more are counted as dropped. Each kept
/// stack holds one std capture (at most a few KB once symbolised, for 256 frames of names and
/// paths) and its address list (at most 2 KB), so the two tables stay under about 200 MB
/// whatever the workload; real programs have a few hundred contended stacks.
pub const MAX_STACKS: usize = 16_384;

static DROPPED_STACKS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn waiters() -> &'static StackTable {
    static WAITERS: OnceLock<StackTable> = OnceLock::new();
    WAITERS.get_or_init(|| StackTable { entries: ShardedMap::new() })
}

pub(crate) fn holders() -> &'static StackTable {
    static HOLDERS: OnceLock<StackTable> = OnceLock::new();
    HOLDERS.get_or_init(|| StackTable { entries: ShardedMap::new() })
}

/// Stacks not recorded because a table was full.
pub(crate) fn dropped_stacks() -> u64 {
    DROPPED_STACKS.load(Ordering::Relaxed)
}

impl StackTable {
    /// Adds one occurrence of the calling thread's stack on `lock` lasting `ns`. The stack is
    /// told apart by its return addresses; `stack` gives its capture, called only for a stack
    /// the table has not seen (a capture takes std's backtrace lock, the addresses do not).
    pub(crate) fn add(&self, lock: u64, stack: impl FnOnce() -> Arc<Backtrace>, ns: u64) {
        let key = (lock, crate::unwind::return_addresses());
        let count = |entry: &(Arc<Backtrace>, StackStats)| {
            entry.1.count.fetch_add(1, Ordering::Relaxed);
            entry.1.ns.fetch_add(ns, Ordering::Relaxed);
        };
        if self.entries.with(&key, count).is_some() {
            return;
        }
        if self.entries.len() >= MAX_STACKS {
            DROPPED_STACKS.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.entries.with_or_insert(key, || (stack(), StackStats::default()), count);
    }
}

/// Whether this brief wait's stack should be captured (one in `LOCKPROF_SAMPLE`).
pub(crate) fn sample_this_one() -> bool {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let every = crate::config::config().sample;
    every <= 1 || COUNTER.fetch_add(1, Ordering::Relaxed) % every == 0
}

/// Records a finished contended wait of `waited` on lock `id` (slow path): its stack (the
/// episode's, or a sampled capture), and its timeline span.
pub(crate) fn record_wait(id: u64, waited: Duration, episode_stack: Option<Arc<Backtrace>>, start_ns: u64) {
    record_wait_of(crate::local::current_thread_id(), id, waited, episode_stack, start_ns);
}

/// [`record_wait`] for a wait of `node` (a task, or the calling thread).
pub(crate) fn record_wait_of(
    node: u64,
    id: u64,
    waited: Duration,
    episode_stack: Option<Arc<Backtrace>>,
    start_ns: u64,
) {
    let Some(_reentry) = crate::threads::enter_profiler() else { return };
    crate::locks::pin(id);
    let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
    // A wait long enough to be an episode has its stack already; of the others, one in
    // `LOCKPROF_SAMPLE` is counted.
    if let Some(stack) = episode_stack {
        waiters().add(id, || stack, ns);
    } else if sample_this_one() {
        waiters().add(id, || Arc::new(crate::stacks::capture()), ns);
    }
    let thread = node;
    crate::threads::note_node(thread);
    crate::timeline::record(crate::timeline::Span {
        thread,
        lock: id,
        kind: crate::timeline::SpanKind::Wait,
        start_ns,
        end_ns: start_ns.saturating_add(ns),
    });
}

/// Charges the releasing holder of lock `id` for `since..now` (profiler clock), the part of its
/// hold during which someone waited (slow path).
pub(crate) fn record_hold(id: u64, stats: &LockStats, since: u64, now: u64) {
    record_hold_of(crate::local::current_thread_id(), id, stats, since, now);
}

/// [`record_hold`] for a hold by `node` (a task, or the calling thread).
pub(crate) fn record_hold_of(node: u64, id: u64, stats: &LockStats, since: u64, now: u64) {
    let Some(_reentry) = crate::threads::enter_profiler() else { return };
    let held = now.saturating_sub(since);
    stats.hold_ns.fetch_add(held, Ordering::Relaxed);
    holders().add(id, || Arc::new(crate::stacks::capture()), held);
    let thread = node;
    crate::threads::note_node(thread);
    crate::timeline::record(crate::timeline::Span {
        thread,
        lock: id,
        kind: crate::timeline::SpanKind::Hold,
        start_ns: since,
        end_ns: now,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds one occurrence on lock 1 from this function's call site, counting captures.
    #[inline(never)]
    fn add_here(table: &StackTable, captures: &AtomicU64, ns: u64) {
        let capture = || {
            captures.fetch_add(1, Ordering::Relaxed);
            Arc::new(Backtrace::disabled())
        };
        table.add(1, capture, ns);
    }

    /// The same, one call deeper: another stack.
    #[inline(never)]
    fn add_elsewhere(table: &StackTable, captures: &AtomicU64, ns: u64) {
        add_here(table, captures, ns);
        std::hint::black_box(());
    }

    #[test]
    #[cfg(all(unix, not(target_arch = "arm")))]
    fn a_known_stack_is_counted_without_a_capture_and_another_stack_gets_its_own() {
        let table = StackTable { entries: ShardedMap::new() };
        let captures = AtomicU64::new(0);
        for ns in [10, 20, 30] {
            add_here(&table, &captures, ns);
        }
        assert_eq!(captures.load(Ordering::Relaxed), 1, "one capture for one stack");
        assert_eq!(table.entries.len(), 1);
        add_elsewhere(&table, &captures, 5);
        assert_eq!(captures.load(Ordering::Relaxed), 2);
        let mut figures: Vec<(u64, u64)> = table.entries.collect(|_, (_, stats)| {
            Some((stats.count.load(Ordering::Relaxed), stats.ns.load(Ordering::Relaxed)))
        });
        figures.sort_unstable();
        assert_eq!(figures, [(1, 5), (3, 60)]);
    }
}
