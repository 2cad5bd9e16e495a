//! Async waits: a task (or a thread polling a future outside any task, or a thread in a
//! `blocking_*` call) waiting for an async lock, published as a node of the wait-for graph.
//!
//! `lockprof::tokio`'s acquire futures call [`LockState::async_wait_begin`] when their first poll
//! returns `Pending` (so a lock that is free, or handed over at once, costs nothing here), and
//! drop the returned [`AsyncWait`] when the acquisition completes or the future is dropped
//! (cancellation, a `select!` loser, a timeout): a cancelled wait is never part of a deadlock.
//!
//! A task has no thread of its own, so its wait lives in a record of its own, published in the
//! same registry as threads' ([`crate::threads`]) for as long as it waits. Where the detector needs
//! the assumptions that make a task's wait as frozen as a thread's, see
//! [`crate::wait_for_graph`] ("Tasks").

use std::backtrace::Backtrace;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::task::Waker;
use std::time::Instant;

use crate::sharded_map::ShardedMap;

use crate::async_holders::AsyncHolders;
use crate::lock_state::LockState;
use crate::threads::{AsyncWake, HeldCopy, ThreadRecord, Waiting, current_record, enter_profiler};
use lockprof_trace::Access;

/// The node id of tokio task `id`.
///
/// ```
/// let node = lockprof_profiler::tasks::task_node(3);
/// assert_ne!(node, 3);
/// ```
pub fn task_node(id: u64) -> u64 {
    crate::async_holders::TASK_NODE | id
}

/// The node of the calling thread when it polls a future outside any task (`block_on`).
///
/// ```
/// assert_ne!(lockprof_profiler::tasks::polling_thread_node(), lockprof_profiler::current_thread_id());
/// ```
pub fn polling_thread_node() -> u64 {
    crate::async_holders::POLLING_THREAD_NODE | crate::local::current_thread_id()
}

/// A node's record while it has waits under way, and how many.
struct Entry {
    record: Arc<ThreadRecord>,
    waits: usize,
}

fn nodes() -> &'static ShardedMap<u64, Entry> {
    static NODES: std::sync::OnceLock<ShardedMap<u64, Entry>> = std::sync::OnceLock::new();
    NODES.get_or_init(ShardedMap::new)
}

/// What an async wait is, as its acquire future describes it.
#[derive(Debug, Clone, Copy)]
pub struct AsyncWaitSpec<'a> {
    /// The waiting node: [`task_node`], [`polling_thread_node`], or the thread's own id for a
    /// `blocking_*` call (which then waits in the thread's own record, with its held locks).
    pub node: u64,
    /// A `blocking_*` call: the thread itself is blocked.
    pub blocking: bool,
    /// The user's acquisition site.
    pub at: &'static Location<'static>,
    /// The access wanted, and for semaphores how many permits.
    pub access: Access,
    /// Semaphores: permits wanted.
    pub permits: u32,
    /// The lock's shared holders and moved flag.
    pub holders: &'a AsyncHolders,
    /// The lock's tickets ([`AsyncHolders::ticket_before`], [`AsyncHolders::ticket_after`]) read
    /// before the first poll and drawn after it returned `Pending`.
    pub fifo: (u64, u64),
    /// Whether the wait can be permanent (false for semaphores: their waits are only watched).
    pub may_be_permanent: bool,
    /// The poll's waker (`None` for a `blocking_*` call): how the node is woken to panic out of
    /// a deadlock confirmed later (see `crate::process_asleep`).
    pub waker: Option<&'a Waker>,
}

/// A published async wait; dropping it ends it.
pub struct AsyncWait {
    node: u64,
    /// The record it is published in; `None` when it is not (inside lockprof's own machinery,
    /// or a second wait of the same node at once).
    record: Option<Arc<ThreadRecord>>,
    /// Whether `node` is counted in [`nodes`] (every non-blocking wait that was set up).
    counted: bool,
    lock_id: u64,
    start: Option<(Instant, u64)>,
    stack: Option<Arc<Backtrace>>,
}

impl LockState {
    /// Publishes the wait described by `spec` and looks for a deadlock through it; see the
    /// module docs. Call it when the acquire future's first poll returned `Pending`, or before a
    /// `blocking_*` call blocks.
    ///
    /// # Panics
    /// Under `LOCKPROF_ON_DEADLOCK=panic` (the default), when this is a `blocking_*` wait that
    /// closes a deadlock of threads. A task's wait never panics here: a deadlock with a task in it
    /// is confirmed later, and its acquire future panics then (see [`AsyncWait::condemned`]).
    #[cold]
    #[inline(never)]
    pub fn async_wait_begin(&self, spec: AsyncWaitSpec<'_>) -> AsyncWait {
        let lock_id = self.registered_async_id();
        let start = self.stats().map(|_| {
            let start_ns = crate::contention::now_ns();
            self.flag_waited(start_ns);
            (Instant::now(), start_ns)
        });
        let mut wait =
            AsyncWait { node: spec.node, record: None, counted: false, lock_id, start, stack: None };
        let Some(_reentry) = enter_profiler() else { return wait };
        crate::records::count_episode();
        let record = if spec.blocking {
            current_record()
        } else {
            wait.counted = true;
            join(spec.node)
        };
        let Some(record) = record else { return wait };
        // A blocking call's stack is its own; a task's wait borrows the stack of the first wait
        // at its site (see `site_stack`) until it shows it may close a cycle, below.
        let stack = if spec.blocking { Arc::new(crate::stacks::capture()) } else { site_stack(spec.at) };
        let held: Arc<[HeldCopy]> = if spec.blocking {
            HeldCopy::of_current_thread()
        } else {
            // A task holds no thread's locks: one shared empty list, no allocation per wait.
            static NONE: std::sync::OnceLock<Arc<[HeldCopy]>> = std::sync::OnceLock::new();
            Arc::clone(NONE.get_or_init(|| Arc::new([])))
        };
        crate::threads::note_node(spec.node);
        crate::watchdog::ensure_started();
        record.with_slot(|slot| {
            slot.seq += 1;
            slot.waiting = Some(Waiting {
                lock: self as *const LockState,
                lock_id,
                access: spec.access,
                permits: spec.permits,
                timed: !spec.may_be_permanent,
                at: spec.at,
                stack: Arc::clone(&stack),
                // The wait's start, when it was timed already (one clock read fewer).
                since: wait.start.map_or_else(Instant::now, |(start, _)| start),
                held,
                writer_mark: None,
                fifo: Some(spec.fifo),
                async_holders: Some(spec.holders as *const AsyncHolders),
            });
            slot.wake = spec.waker.map(|waker| AsyncWake { waker: waker.clone(), condemned: None });
        });
        wait.stack = Some(stack);
        wait.record = Some(record);
        // As in a thread's episode: orders this publication (and every owner word this node set
        // before) before the exploration's reads, against the same fence in every other wait.
        fence(Ordering::SeqCst);
        // Read after the fence: of two nodes closing a cycle at once, the one whose fence comes
        // last sees the other's wait.
        if !spec.blocking && self.may_close_cycle(&spec) {
            // Part of a deadlock's report, maybe: a stack of its own (semaphore waits, pools
            // often contended, keep their site's: a fresh stack costs microseconds).
            if spec.may_be_permanent {
                let own = Arc::new(crate::stacks::capture());
                if let Some(record) = &wait.record {
                    record.with_slot(|slot| {
                        if let Some(waiting) = slot.waiting.as_mut() {
                            waiting.stack = Arc::clone(&own);
                        }
                    });
                }
                wait.stack = Some(own);
            }
            // It may have closed a cycle, which only the whole process falling asleep confirms.
            crate::wake_watchdog::check_soon();
        }
        // A task's wait is never reported from here (a deadlock with a task in it is confirmed
        // only by the whole process falling asleep, `crate::process_asleep`), but a thread's
        // blocking wait may close a cycle of threads.
        if let (Some(record), true) = (&wait.record, spec.blocking) {
            if let Some(found) = crate::wait_for_graph::find_deadlock(record) {
                crate::deadlock::found(record, found);
            }
        }
        wait
    }
}

impl LockState {
    /// Whether the wait `spec` describes may close a cycle now: a holder of the lock (the
    /// exclusive one, or a recorded reader or borrowed-permit holder) is the waiting node itself,
    /// or waits too.
    fn may_close_cycle(&self, spec: &AsyncWaitSpec<'_>) -> bool {
        let blocks = |node: u64| node == spec.node || crate::threads::is_waiting(node);
        let table =
            matches!(self.kind(), lockprof_trace::LockKind::RwLock | lockprof_trace::LockKind::Semaphore);
        self.holder().is_some_and(|(holder, _, _)| blocks(holder))
            || (table && spec.holders.shared().iter().any(|&(node, _)| blocks(node)))
    }
}

/// The waiting stack of an unsuspicious wait: the one captured at the first wait at the same
/// acquisition site (capturing a stack costs microseconds, and contended async locks wait often).
/// Bounded by the program's acquisition sites.
fn site_stack(at: &'static Location<'static>) -> Arc<Backtrace> {
    static STACKS: std::sync::OnceLock<ShardedMap<usize, Arc<Backtrace>>> = std::sync::OnceLock::new();
    let stacks = STACKS.get_or_init(ShardedMap::new);
    let key = std::ptr::from_ref(at) as usize;
    if let Some(stack) = stacks.with(&key, Arc::clone) {
        return stack;
    }
    let stack = Arc::new(crate::stacks::capture());
    stacks.insert(key, Arc::clone(&stack));
    stack
}

/// Counts a wait of `node` and returns the record to publish it in, or `None` if the node
/// already has a wait under way (two acquisitions polled at once, in a `join!` say): a node has
/// one slot, so the second is not published.
fn join(node: u64) -> Option<Arc<ThreadRecord>> {
    // Under the map's shard lock, as the release in `AsyncWait::drop` is.
    let make = || Entry { record: crate::threads::node_record(node), waits: 0 };
    nodes().with_or_insert_mut(node, make, |entry| {
        entry.waits += 1;
        (entry.waits == 1).then(|| {
            crate::threads::publish_node(&entry.record);
            Arc::clone(&entry.record)
        })
    })
}

impl AsyncWait {
    /// The acquire future was polled again and is still pending: the node was woken by
    /// something other than the lock (a `select!` or `join!` sibling, a timer). `waker` is this
    /// poll's, kept to wake the node under the panic policy. The node may have run its last
    /// step before the whole process falls asleep (a futurelock whose other future's timer just
    /// fired): the watchdog is asked to look.
    pub fn repolled(&self, waker: &Waker) {
        if let Some(record) = &self.record {
            record.with_slot(|slot| {
                if let Some(wake) = slot.wake.as_mut() {
                    if !wake.waker.will_wake(waker) {
                        wake.waker = waker.clone();
                    }
                }
            });
            crate::wake_watchdog::check_soon();
        }
    }

    /// The deadlock report this wait must end with, once: set when the whole process was found
    /// asleep for good with this wait in a deadlock, under `LOCKPROF_ON_DEADLOCK=panic`, and the
    /// node woken for it. The acquire future then panics with it, so its task ends with the
    /// report.
    pub fn condemned(&self) -> Option<String> {
        // Set before the wake that makes the node poll again, so the poll sees it.
        if !crate::threads::any_condemned() {
            return None;
        }
        let record = self.record.as_ref()?;
        record.with_slot(|slot| slot.wake.as_mut()?.condemned.take())
    }

    /// The wait for `lock` ended with the acquisition: records it in the contention profile.
    pub fn acquired(self, lock: &LockState) {
        if let Some((start, start_ns)) = self.start {
            let waited = start.elapsed();
            if let Some(stats) = lock.stats() {
                stats.count_wait(waited);
            }
            crate::contention::record_wait_of(self.node, self.lock_id, waited, self.stack.clone(), start_ns);
        }
    }
}

impl Drop for AsyncWait {
    fn drop(&mut self) {
        if let Some(record) = &self.record {
            record.with_slot(|slot| {
                if slot.waiting.is_some() {
                    slot.seq += 1;
                    slot.waiting = None;
                }
                slot.wake = None;
            });
        }
        if self.counted {
            let node = self.node;
            let last = nodes().with_mut(&node, |e| {
                e.waits -= 1;
                e.waits == 0
            });
            if last == Some(true) {
                // Under the map's shard lock, so no wait of the node starts in between.
                nodes().remove_if(&node, |e| {
                    let idle = e.waits == 0;
                    if idle {
                        crate::threads::retire_node(node);
                    }
                    idle
                });
            }
        }
    }
}

impl std::fmt::Debug for AsyncWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncWait").field("node", &self.node).field("lock", &self.lock_id).finish()
    }
}
