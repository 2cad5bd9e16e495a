//! The wait-for graph, and the protocol that finds a deadlock the moment its last edge appears
//! without ever reporting one that is not real.
//!
//! # The graph
//!
//! Nodes are threads and locks. A waiting thread has an edge to the lock it waits for; a lock has
//! edges to the threads that block that wait: its holders whose access conflicts (an exclusive
//! holder blocks everyone, readers block a writer), and, for a read on a writer-preferring lock,
//! the writers queued for it.
//!
//! The live graph is not kept in one global structure, because the holder edge changes on every
//! acquisition and the fast path may not touch shared state. Instead each edge lives where it is
//! cheap to keep:
//! - lock → exclusive holder: the `owner` word in the lock's own [`LockState`](crate::LockState),
//!   written by the holder only (set after acquiring, cleared before releasing);
//! - thread → lock, and thread's shared holds: the thread's wait slot
//!   ([`crate::threads`]), published when a *wait episode* starts and cleared when it ends
//!   (after the raw lock has been acquired and before the owner word is set). It carries a copy
//!   of the locks the thread holds, which is exact for the whole episode: a waiting thread
//!   acquires and releases nothing.
//!
//! When a thread starts an episode it publishes its slot, issues a SeqCst fence, and reads every
//! published slot (with the owner word and, for semaphores, the permit counts of the lock in it).
//!
//! # Which waits are permanent
//!
//! From those observations it computes the set `PB` of threads that are *permanently blocked*,
//! as the greatest set in which every member is justified by other members:
//! - a wait for a mutex, a write lock or a read lock (AND-resources: the waiter needs every
//!   conflicting holder gone) is justified if **some** blocker is in `PB`: a conflicting holder,
//!   or, for a read that queues behind writers, a writer queued for the same lock, provided the
//!   lock's *writer mark* is observed set with no holder and no timed writer in flight: then a
//!   writer that waits until it gets the lock holds the mark and waits for the readers to leave,
//!   and no new reader gets in (a writer that is merely queued, not holding the mark, does not
//!   count; nor does a timed exclusive attempt, `try_write_for` or lockprof's own grace period,
//!   which may lift the mark when it gives up);
//! - a semaphore wait (an OR-wait: any permit coming back would do) is justified only if **every**
//!   outstanding permit is held by members of `PB`, fewer permits are free than it needs, and no
//!   thread has ever called `add_permits` on that semaphore (such a semaphore is a signal, whose
//!   permits may come from anyone). A full pool with one slow holder is therefore never reported.
//! - timed waits (`try_lock_for`, condition variables) are never in `PB`: they end by themselves.
//! - one-time initialisation (`lockprof::sync::{Once, OnceLock, LazyLock}`) adds no new kind of
//!   wait: the initialiser runs under the cell's *initialisation lock* (`LockKind::Once`), an
//!   ordinary mutex taken and released through the lock path, and a thread that finds the value
//!   being initialised waits for that lock. Everything below holds for it as for any mutex.
//! - a join (`lockprof::thread`) is a wait for the joined thread's *lifetime*, a header of kind
//!   `LockKind::Thread` whose owner word the thread sets itself when it starts and clears itself
//!   when its closure has returned or unwound, before the lifetime's raw lock (an end flag)
//!   becomes acquirable (`crate::waits::join`). It is justified as an exclusive wait: if the
//!   joined thread, its owner, is in `PB`. A thread started with `std::thread` directly has no
//!   lifetime header, so a join of it is never published and never justified.
//!
//! A deadlock is reported when the detecting thread is in `PB` **and on a cycle** of it (its
//! strongly connected component has more than one node, or it blocks itself). Threads merely
//! waiting behind a deadlock they are not part of are left to the deadlock's own members. The
//! components come from `lockprof_analysis::digraph` (Tarjan's algorithm; its tests check every
//! component against mutual reachability on random graphs), so "on a cycle" means exactly that:
//! the argument below relies on nothing else of it.
//!
//! # Why a reported deadlock is real (zero false positives)
//!
//! A `PB` set computed from one pass can be an illusion: a holder read at one instant may have
//! released the lock and started waiting by the time its slot is read. So the set is confirmed by
//! two more passes over its members: pass 2 re-reads every slot, owner word and permit count;
//! pass 3 re-reads every slot's sequence number. It is reported only if all three agree.
//!
//! Three facts about the implementation:
//!
//! 1. *An untimed episode ends only by acquiring its lock*, and a thread acquires nothing else
//!    and releases nothing during an episode: it sits in the raw lock's blocking call. So the set
//!    of locks a thread holds is frozen for the duration of each of its episodes, and equal to
//!    the copy it published (or a superset of it, for a thread nested deeper than the held
//!    stack keeps, 32 + 4,096: the deepest holds are left out of the copy; what follows only
//!    uses that every hold in a copy is real, so a copy that omits holds can miss a deadlock,
//!    never make one up). A *read* episode ends atomically with its acquisition: the reader
//!    gives back the read its blocking call took and takes it again with a try under its slot's
//!    mutex, clearing the slot there. So a reader that holds the lock is never seen waiting
//!    for it, except for that given-back read, which no justification counts (it is in no
//!    copy) and after which the reader waits behind the writer mark again if one is set.
//! 2. *An owner word names a holder.* It is set only by the thread that holds the raw lock, after
//!    acquiring it, and cleared by that thread before releasing it.
//! 3. *A slot is read with its mutex held, and an episode cannot end while another thread holds
//!    that mutex* (ending requires it). So an owner word read under a waiter's slot mutex is read
//!    while that waiter's episode is in progress, and the lock (borrowed by its lock call) is
//!    alive.
//!
//! Each member `T` of the confirmed set was seen in the same episode `E(T)` (same sequence
//! number) in passes 1 and 3, so `E(T)` was in progress throughout pass 2. In pass 2, `T`'s
//! justification was read while `E(T)` and every blocker's episode were in progress. An owner
//! value naming blocker `B` was not stale: `B` clears nothing during `E(B)` (fact 1), anything it
//! cleared before was ordered before the slot publication that pass 1 synchronised with (mutex
//! hand-off), and a later set would have ended `E(B)` first (seen by pass 3). So at that moment
//! `B` held the lock, inside `E(B)`, and hence (fact 1) for all of `E(B)`. Likewise for shared
//! holds and permits, which come from the frozen copies. Then:
//! - an AND-wait `E(T)` can end only once blocker `B` is gone: once `B` released the lock, or for
//!   a queued writer, once `B` has acquired and released it; both need `E(B)` to have ended. So
//!   `end(E(T)) > end(E(B))`;
//! - a join `E(T)` of thread `B` can end only once `B`'s closure is over, which `B` cannot reach
//!   while inside `E(B)`; its lifetime is held through all of `E(B)` (facts 1 and 2 hold for it:
//!   the owner word is written by `B` only, set before any episode of `B`, cleared after its
//!   last), so `end(E(T)) > end(E(B))`. The implicit join at the end of `thread::scope` is such
//!   a join; it differs only in what the policy does (a panic cannot end it, so it aborts);
//! - a semaphore wait `E(T)` can end only once enough permits are free; with every outstanding
//!   permit held by members, none comes back before some member's episode has ended (and no
//!   `add_permits`, the one stated assumption), so `end(E(T)) > end(E(M))` for some member `M`.
//!
//! Every member's end is after some other member's end, in a finite set: no episode in it can
//! ever end. The threads are deadlocked, permanently, at the moment of the report.
//!
//! Each specific illusion is excluded by one of these: a holder that was about to release (its
//! owner word or slot changes between passes), a waiter that got the lock by a racing try or a
//! timed attempt (its episode ends, so its sequence number changes), a thread that has exited (it
//! has no live record and cannot be in an episode, so it justifies nothing).
//!
//! # Why no deadlock is missed
//!
//! Consider the member of a real deadlock whose episode's SeqCst fence comes last. Every other
//! member's slot, and every owner word (set before its holder's own episode started, fact 1), was
//! written before the other fences, so by the fence rule that thread's pass 1 sees all of them,
//! and they never change again, so all three passes agree. Two threads closing a cycle at once
//! cannot both miss each other (the same fence argument); if both see it, the report is
//! deduplicated by its set of episodes.
//!
//! # Tasks (async locks)
//!
//! `lockprof::tokio`'s locks add *nodes* that are not threads: a tokio task, a thread polling a
//! future outside any task (`block_on`), and a thread in a `blocking_*` call (which is the
//! thread itself, with its own record and held stack). Their edges live as the threads' do
//! ([`crate::tasks`]):
//! - lock → exclusive holder: the owner word, naming the node (set by the taker after tokio's
//!   acquisition, cleared by the guard before tokio's release);
//! - lock → shared holders: the lock's [`AsyncHolders`](crate::async_holders::AsyncHolders)
//!   table, with the same discipline (a full table records fewer readers: an AND-wait needs
//!   only one blocker, so fewer is never a false justification);
//! - node → lock: the node's record, published when the acquire future's first poll returned
//!   `Pending` (so the wait is queued in tokio's FIFO), withdrawn (sequence number bumped)
//!   under the slot's mutex when the future completes or is dropped (cancellation, a
//!   `select!` loser, a timeout that fired). A `Pending` forced by tokio's cooperative budget
//!   queues nothing and publishes nothing.
//! - read → writer queued ahead: tokio's reader-writer lock is a FIFO semaphore in which a
//!   queued writer takes every permit released after its queueing until it has all of them, so
//!   a read queued after it cannot be served before it (or before it is dropped). A reader
//!   reads the lock's ticket counter before its first poll (`before`), a waiter increments it
//!   after that poll returned `Pending` (`after`): a writer with `after <= before` of a reader
//!   incremented the counter before the reader read it, and had queued before that, so it is
//!   ahead of the reader.
//!
//! The proof above does **not** carry over to tasks, and nothing here reports a deadlock with a
//! task (or a future polled outside any task) among its members: [`find_deadlock`] returns
//! nothing for one. A thread's episode is frozen (fact 1) because a blocked thread runs nothing
//! else. A task is not so: while one of its futures waits for a lock, another future of the
//! same task (a `join!` branch, a `select!` loser kept alive, a `FuturesUnordered` member) may
//! hold a guard of the cycle and be woken by a timer, a socket or a signal, and release it; a
//! guard may also have moved to another task. Nothing in tokio's public API tells, when the
//! cycle closes, which future holds a guard or whether it will be polled again (`join!` and
//! `select!` hand every branch the task's own waker; tokio's poll hooks and task dumps need
//! `tokio_unstable`). The fixture `tokio_join_branch` is such a cycle, released by a timer.
//!
//! Such a deadlock is reported instead once the whole process is asleep for good
//! (`crate::process_asleep`): the operating system shows every thread blocked in a wait that
//! only a thread of the process could end (`crate::os_asleep`, where that proof is). From then
//! on no future is polled and no guard dropped, so every published wait is permanent, whatever
//! futures hold what; this module's graph then only *explains* the deadlock (who holds what,
//! who waits for whom). The price is that a deadlock among tasks is reported only when nothing
//! else in the process can happen: a program with a timer due, an open socket, a signal handler
//! or a busy thread is not reported (the watchdog's long waits still name the waits).
//!
//! What the explanation relies on, and is true of the implementation: an owner word is set by
//! the taker after tokio's acquisition and cleared by the guard before tokio's release (a
//! borrowed guard released by another node marks its lock *moved*, whose holds are then not
//! shown; owned guards, made to move, are never attributed); and a record's slot is read with
//! its mutex held, while the acquire future that published it borrows the lock (or owns its
//! `Arc`), so the lock and its tables are alive. Semaphore waits of tasks are published with
//! `timed` set: tokio hands released permits to the head of its queue a few at a time, so
//! "every missing permit is held by a member" is not observable while tasks run. Once nothing
//! runs, a task's borrowed permits (recorded, without their count, in the semaphore's table of
//! holders) explain a semaphore knot among tasks as a cycle (`crate::process_asleep`).
//!
//! No deadlock among tasks is missed once the process sleeps for good: the watchdog checks
//! every re-check period while a published wait is older than a period (backing off to once a
//! second while the operating system declines with lockprof's waits unchanged).
//!
//! # All threads asleep
//!
//! Signal waits (condition variables, channels, barriers) are published as timed: no cycle of
//! this graph goes through them. The all-asleep rule (`crate::all_asleep`, where its proof is)
//! reuses this module's observations and justifications with one change: the signal waiters
//! that it has shown cannot be woken (every thread of the process is asleep, and their objects'
//! progress counters have not moved) are members of `PB` without a blocker
//! ([`Snapshot::permanently_blocked_given`]); every other member must be justified as above.
//!
//! Exploration is bounded ([`MAX_THREADS`] waiting threads).

use std::backtrace::Backtrace;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::Location;
use std::sync::Arc;

use lockprof_analysis::digraph::DiGraph;

use crate::lock_state::{PermitCounts, SATURATED_OUTSTANDING};
use crate::threads::{HeldCopy, ThreadRecord, live_records};
use lockprof_trace::Access;
use lockprof_trace::LockKind;

/// How many waiting threads one exploration may consider before giving up (a guard against
/// pathological programs; the cost is paid only by waits that outlast the grace period).
pub const MAX_THREADS: usize = 4096;

/// One waiting thread as observed: what it waits for and the state of that lock.
#[derive(Clone)]
pub(crate) struct Obs {
    pub record: Arc<ThreadRecord>,
    pub seq: u64,
    pub lock_id: u64,
    kind: LockKind,
    pub access: Access,
    pub permits: u32,
    pub timed: bool,
    pub wait_at: &'static Location<'static>,
    pub stack: Arc<Backtrace>,
    owner: Option<(u64, Access, &'static Location<'static>)>,
    counts: PermitCounts,
    /// Reader-writer locks: timed exclusive attempts in flight on the lock.
    timed_writers: u64,
    /// Reader-writer locks: whether the raw lock's writer mark was set.
    writer_marked: bool,
    held: Arc<[HeldCopy]>,
    /// Async locks: the wait's FIFO tickets (before, after its queueing).
    pub fifo: Option<(u64, u64)>,
    /// Async locks: the shared holders recorded in the lock.
    pub async_shared: Vec<(u64, &'static Location<'static>)>,
    /// Async locks: guards of this lock have moved between nodes, so its holds justify nothing.
    async_moved: bool,
}

pub(crate) type ObsKey = (u64, u64, Option<(u64, Access)>, PermitCounts, u64, bool, Vec<u64>, bool);

impl Obs {
    /// What must not change between passes for the observation to be the same. The held copy
    /// belongs to the episode, so the sequence number covers it.
    pub(crate) fn key(&self) -> ObsKey {
        (
            self.record.id,
            self.seq,
            self.owner.map(|(t, a, _)| (t, a)),
            self.counts,
            self.timed_writers,
            self.writer_marked,
            self.async_shared.iter().map(|(n, _)| *n).collect(),
            self.async_moved,
        )
    }
}

impl Obs {
    /// This wait as a member of a reported deadlock, blocking another member's wait through
    /// `blocks_on` in the way `blocks` says.
    pub(crate) fn member(&self, blocks_on: u64, blocks: Blocks) -> Member {
        Member {
            thread: self.record.id,
            waits_for: self.lock_id,
            wait_access: self.access,
            wait_permits: self.permits,
            wait_at: self.wait_at,
            stack: Arc::clone(&self.stack),
            blocks_on,
            blocks,
        }
    }

    /// How the all-asleep reports show a member that blocks no other member's lock wait: as
    /// blocking through what it waits for.
    pub(crate) fn blocking_nothing(&self) -> (u64, Blocks) {
        (self.lock_id, Blocks::Holds { access: self.access, permits: self.permits, at: self.wait_at })
    }
}

/// Reads `record`'s slot and, if it is waiting, the state of the lock it waits for.
pub(crate) fn observe(record: &Arc<ThreadRecord>) -> Option<Obs> {
    record.with_slot(|slot| {
        let waiting = slot.waiting.as_ref()?;
        // SAFETY: `waiting.lock` points to the lock this thread is blocked on. We hold the slot's
        // mutex, and the waiting thread must take it to clear `waiting` before it can return from
        // the lock call that borrows the lock, so the lock is alive here (see `Waiting::lock`).
        let lock = unsafe { &*waiting.lock };
        Some(Obs {
            record: Arc::clone(record),
            seq: slot.seq,
            lock_id: waiting.lock_id,
            kind: lock.kind(),
            access: waiting.access,
            permits: waiting.permits,
            timed: waiting.timed,
            wait_at: waiting.at,
            stack: Arc::clone(&waiting.stack),
            owner: lock.holder(),
            counts: if lock.kind() == LockKind::Semaphore {
                lock.permit_counts()
            } else {
                PermitCounts::default()
            },
            timed_writers: if lock.kind() == LockKind::RwLock { lock.timed_writers() } else { 0 },
            // SAFETY: as for `lock` above: the slot's mutex is held, so the raw lock the probe
            // reads (part of the borrowed lock) is alive.
            writer_marked: waiting.writer_mark.is_some_and(|mark| unsafe { mark.is_set() }),
            held: Arc::clone(&waiting.held),
            fifo: waiting.fifo,
            // SAFETY: as for `lock` above: the table is part of the borrowed lock, alive while
            // the slot's mutex is held.
            async_shared: waiting.async_holders.map(|h| unsafe { &*h }.shared()).unwrap_or_default(),
            // SAFETY: as above.
            async_moved: waiting.async_holders.is_some_and(|h| unsafe { &*h }.moved()),
        })
    })
}

/// How a blocker keeps a waiter from its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocks {
    /// It holds the lock in a conflicting access (or holds permits of the semaphore).
    Holds { access: Access, permits: u32, at: &'static Location<'static> },
    /// It is a writer queued for the lock, which a fair lock serves before a new reader.
    QueuedWriter { at: &'static Location<'static> },
}

/// The observations of one pass, indexed for the justification rules.
pub(crate) struct Snapshot {
    pub obs: BTreeMap<u64, Obs>,
    /// Lock id → (thread, held copy) for every waiting thread's held locks.
    holders: HashMap<u64, Vec<(u64, HeldCopy)>>,
}

impl Snapshot {
    pub(crate) fn take(records: &[Arc<ThreadRecord>]) -> Option<Snapshot> {
        Self::take_at_most(records, MAX_THREADS)
    }

    /// [`Snapshot::take`] with another bound on the waits it takes (`None` beyond it).
    pub(crate) fn take_at_most(records: &[Arc<ThreadRecord>], most: usize) -> Option<Snapshot> {
        let mut obs = BTreeMap::new();
        for record in records {
            if let Some(o) = observe(record) {
                obs.insert(record.id, o);
                if obs.len() > most {
                    return None;
                }
            }
        }
        let mut holders: HashMap<u64, Vec<(u64, HeldCopy)>> = HashMap::new();
        for (&thread, o) in &obs {
            for held in o.held.iter() {
                holders.entry(held.lock).or_default().push((thread, *held));
            }
        }
        // Async locks' shared holders, from the tables read with each wait for the lock (the
        // same table may be read by several waiters; `blockers` takes each holder once).
        for o in obs.values() {
            for &(node, at) in &o.async_shared {
                let copy = HeldCopy { lock: o.lock_id, access: Access::Shared, permits: 0, at };
                holders.entry(o.lock_id).or_default().push((node, copy));
            }
        }
        Some(Snapshot { obs, holders })
    }

    /// The members of `pb` that block `t`'s wait, and how; empty if `t` is not justified.
    pub(crate) fn blockers(&self, t: &Obs, pb: &BTreeSet<u64>) -> Vec<(u64, Blocks)> {
        let holders = self.holders.get(&t.lock_id).map(Vec::as_slice).unwrap_or(&[]);
        if t.access == Access::Permits {
            let counts = t.counts;
            if counts.signal || counts.outstanding == 0 || counts.available >= t.permits {
                return Vec::new();
            }
            // Counts that did not fit (saturated) are not relied on: the sums could match by
            // accident.
            let saturated = counts.outstanding >= SATURATED_OUTSTANDING
                || holders.iter().any(|(_, c)| c.permits >= crate::tag::MAX_PERMITS);
            if saturated {
                return Vec::new();
            }
            let members: Vec<_> = holders.iter().filter(|(h, _)| pb.contains(h)).collect();
            let held: u64 = members.iter().map(|(_, c)| u64::from(c.permits)).sum();
            if held != u64::from(counts.outstanding) {
                return Vec::new(); // some permit is held by a thread that may return it
            }
            return members
                .iter()
                .map(|&&(h, c)| (h, Blocks::Holds { access: Access::Permits, permits: c.permits, at: c.at }))
                .collect();
        }
        let mut found = Vec::new();
        if t.async_moved {
            // Guards of this lock travel between nodes: who holds it is not known.
            return self.queued_writers_ahead(t, pb, found);
        }
        if let Some((owner, access, at)) = t.owner {
            if pb.contains(&owner) && access.blocks(t.access) {
                found.push((owner, Blocks::Holds { access, permits: 0, at }));
            }
        }
        for &(h, copy) in holders {
            if pb.contains(&h) && copy.access.blocks(t.access) && !found.iter().any(|(f, _)| *f == h) {
                found.push((h, Blocks::Holds { access: copy.access, permits: 0, at: copy.at }));
            }
        }
        // A queued writer keeps readers out only while the lock's writer mark is set (observed,
        // `writer_marked`) with no holder of the lock (so the mark belongs to a writer waiting
        // for the readers to leave, not to a holder), and no timed writer in flight (which may
        // lift the mark when it gives up, `timed_writers`). Then some writer that waits until it
        // gets the lock holds the mark and waits for the readers; with a member of the set among
        // those readers, the mark is never lifted. A writer merely queued (woken, racing the
        // reader for the lock) does not count: it has not set the mark.
        let timed_in_flight = t.timed_writers & 0xFFFF_FFFF;
        let marked = t.writer_marked && t.owner.is_none() && timed_in_flight == 0;
        if t.access.queues_behind_writers() && t.kind == LockKind::RwLock && marked {
            for (&w, o) in &self.obs {
                let queued = o.lock_id == t.lock_id && o.access == Access::Exclusive && !o.timed;
                if queued && w != t.record.id && pb.contains(&w) && !found.iter().any(|(f, _)| *f == w) {
                    found.push((w, Blocks::QueuedWriter { at: o.wait_at }));
                }
            }
        }
        self.queued_writers_ahead(t, pb, found)
    }

    /// Async (FIFO) reader-writer locks: a read waits behind every writer queued before it, and
    /// a queued writer holds back the permits released meanwhile, so a read is blocked by any
    /// untimed writer whose queueing is proved earlier by the tickets (`after` of the writer at
    /// most `before` of the reader: the reader's load saw the writer's increment, which followed
    /// the writer's queueing, and preceded its own).
    fn queued_writers_ahead(
        &self,
        t: &Obs,
        pb: &BTreeSet<u64>,
        mut found: Vec<(u64, Blocks)>,
    ) -> Vec<(u64, Blocks)> {
        let Some((before, _)) = t.fifo else { return found };
        if !t.access.queues_behind_writers() || t.kind != LockKind::RwLock {
            return found;
        }
        for (&w, o) in &self.obs {
            let ahead = o.fifo.is_some_and(|(_, after)| after <= before);
            let queued = o.lock_id == t.lock_id && o.access == Access::Exclusive && !o.timed && ahead;
            if queued && w != t.record.id && pb.contains(&w) && !found.iter().any(|(f, _)| *f == w) {
                found.push((w, Blocks::QueuedWriter { at: o.wait_at }));
            }
        }
        found
    }

    /// The greatest set of untimed waiters each justified by members of the set.
    fn permanently_blocked(&self) -> BTreeSet<u64> {
        self.permanently_blocked_given(&BTreeSet::new())
    }

    /// [`Snapshot::permanently_blocked`], with the threads of `asleep` (observed threads in
    /// signal waits that nothing can end, see `crate::all_asleep`) members without a blocker.
    pub(crate) fn permanently_blocked_given(&self, asleep: &BTreeSet<u64>) -> BTreeSet<u64> {
        let mut pb: BTreeSet<u64> =
            self.obs.iter().filter(|(t, o)| !o.timed || asleep.contains(t)).map(|(&t, _)| t).collect();
        loop {
            let unjustified: Vec<u64> = pb
                .iter()
                .copied()
                .filter(|t| !asleep.contains(t) && self.blockers(&self.obs[t], &pb).is_empty())
                .collect();
            if unjustified.is_empty() {
                return pb;
            }
            for t in unjustified {
                pb.remove(&t);
            }
        }
    }
}

/// One thread of a found deadlock.
pub(crate) struct Member {
    pub thread: u64,
    pub waits_for: u64,
    pub wait_access: Access,
    pub wait_permits: u32,
    pub wait_at: &'static Location<'static>,
    pub stack: Arc<Backtrace>,
    /// The lock through which it blocks the member listed before it (in the cycle), or some
    /// other member (in the knot), and how.
    pub blocks_on: u64,
    pub blocks: Blocks,
}

/// A confirmed deadlock through the detecting thread.
pub(crate) struct FoundDeadlock {
    /// The episodes it consists of, sorted: the same deadlock seen by two of its threads has the
    /// same key.
    pub key: Vec<(u64, u64)>,
    /// An elementary cycle through the detecting thread, in wait order starting with it: member
    /// `i` waits for the lock through which member `i + 1` blocks it.
    pub cycle: Vec<Member>,
    /// The other threads deadlocked with them (a semaphore knot, more readers).
    pub knot: Vec<Member>,
    /// Found by the all-asleep rule (`crate::all_asleep`): `cycle` is every thread of the
    /// process, each in an untimed wait that only another of them could end.
    pub all_asleep: bool,
}

/// Looks for a deadlock that `start`'s current wait is part of, and returns it only once the
/// three passes described in the module docs agree. A deadlock with a task (or a future polled
/// outside any task) among its members is not returned: it is reported only once the whole
/// process is asleep for good (`crate::process_asleep`), see "Tasks" in the module docs.
pub(crate) fn find_deadlock(start: &Arc<ThreadRecord>) -> Option<FoundDeadlock> {
    let records = live_records();
    let first = Snapshot::take(&records)?;
    let pb = first.permanently_blocked();
    if !pb.contains(&start.id) {
        return None;
    }
    let blocking = Blocking::among(&first, &pb);
    let component = blocking.component_of(start.id)?;
    if component.iter().any(|&node| crate::async_holders::is_async_node(node)) {
        // Confirmed only once the whole process is asleep for good, which may be in a moment.
        crate::wake_watchdog::check_soon();
        return None;
    }

    // Passes 2 and 3 over every member of PB (whose justifications the component relies on).
    let members: Vec<&Obs> = pb.iter().map(|t| &first.obs[t]).collect();
    for o in &members {
        if observe(&o.record).map(|again| again.key()) != Some(o.key()) {
            return None;
        }
    }
    for o in &members {
        if o.record.with_slot(|slot| slot.seq) != o.seq {
            return None;
        }
    }
    blocking.describe(&first, &component, start.id)
}

/// The blocking graph among the members of a set `PB`: node → the nodes that block its wait (per
/// node, not per lock, since who blocks a wait depends on the access it wants), and how.
pub(crate) struct Blocking {
    graph: DiGraph<()>,
    how: HashMap<(u64, u64), Blocks>,
}

impl Blocking {
    pub(crate) fn among(snapshot: &Snapshot, pb: &BTreeSet<u64>) -> Blocking {
        let mut graph: DiGraph<()> = DiGraph::new();
        let mut how: HashMap<(u64, u64), Blocks> = HashMap::new();
        for &t in pb {
            graph.add_node(t);
            for (b, blocks) in snapshot.blockers(&snapshot.obs[&t], pb) {
                graph.add_edge(t, b, ());
                how.entry((t, b)).or_insert(blocks);
            }
        }
        Blocking { graph, how }
    }

    /// Adds that `waiter` is blocked by `holder` (`how`): an edge that only explains a report
    /// made once nothing runs any more (`crate::process_asleep`).
    pub(crate) fn add_edge(&mut self, waiter: u64, holder: u64, how: Blocks) {
        self.graph.add_edge(waiter, holder, ());
        self.how.entry((waiter, holder)).or_insert(how);
    }

    /// The strongly connected component of `node`, if it is on a cycle (more than one node, or a
    /// node that blocks itself); `None` for a node merely waiting behind someone else's cycle.
    pub(crate) fn component_of(&self, node: u64) -> Option<Vec<u64>> {
        let component = self.graph.tarjan_scc().into_iter().find(|c| c.contains(&node))?;
        let cycle = component.len() > 1 || self.graph.contains_edge(node, node);
        cycle.then_some(component)
    }

    /// Every strongly connected component on a cycle, with its lowest node, lowest first: what
    /// [`Self::component_of`] gives for each node that has one, in one pass of Tarjan's
    /// algorithm for all of them (thousands of waiting tasks made a pass per node take minutes).
    pub(crate) fn cycles(&self) -> Vec<(u64, Vec<u64>)> {
        let mut cycles: Vec<(u64, Vec<u64>)> = self
            .graph
            .tarjan_scc()
            .into_iter()
            .filter(|c| c.len() > 1 || c.first().is_some_and(|&n| self.graph.contains_edge(n, n)))
            .filter_map(|c| Some((*c.iter().min()?, c)))
            .collect();
        cycles.sort_by_key(|&(node, _)| node);
        cycles
    }

    /// The deadlock of `component` as reported: an elementary cycle through `start` (the
    /// shortest), then the rest of the component.
    pub(crate) fn describe(&self, first: &Snapshot, component: &[u64], start: u64) -> Option<FoundDeadlock> {
        let order = shortest_cycle(&self.graph, start)?;
        let member = |t: u64, blocked: u64| -> Option<Member> {
            let blocks = self.how.get(&(blocked, t)).copied()?;
            Some(first.obs[&t].member(first.obs[&blocked].lock_id, blocks))
        };
        let k = order.len();
        let cycle: Vec<Member> =
            (0..k).map(|i| member(order[i], order[(i + k - 1) % k])).collect::<Option<_>>()?;
        let knot: Vec<Member> = component
            .iter()
            .copied()
            .filter(|t| !order.contains(t))
            .filter_map(|t| {
                let blocked = self
                    .how
                    .keys()
                    .filter(|(w, b)| *b == t && component.contains(w))
                    .map(|(w, _)| *w)
                    .min()?;
                member(t, blocked)
            })
            .collect();
        let mut key: Vec<(u64, u64)> =
            cycle.iter().chain(&knot).map(|m| (m.thread, first.obs[&m.thread].seq)).collect();
        key.sort_unstable();
        Some(FoundDeadlock { key, cycle, knot, all_asleep: false })
    }
}

/// The shortest cycle through `start` in `graph`, as the threads in edge order starting with
/// `start` (so thread `i` is blocked by thread `i + 1`).
fn shortest_cycle(graph: &DiGraph<()>, start: u64) -> Option<Vec<u64>> {
    if graph.contains_edge(start, start) {
        return Some(vec![start]);
    }
    let mut parent: HashMap<u64, u64> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(t) = queue.pop_front() {
        let mut next: Vec<u64> = graph.neighbors(t).collect();
        next.sort_unstable();
        for n in next {
            if n == start {
                let mut path = vec![t];
                while let Some(&p) = parent.get(path.last()?) {
                    path.push(p);
                }
                path.reverse(); // start, …, t
                return Some(path);
            }
            if n != start && !parent.contains_key(&n) {
                parent.insert(n, t);
                queue.push_back(n);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(u64, u64)]) -> DiGraph<()> {
        let mut g = DiGraph::new();
        for &(a, b) in edges {
            g.add_edge(a, b, ());
        }
        g
    }

    #[test]
    fn a_self_loop_is_a_cycle_of_one() {
        assert_eq!(shortest_cycle(&graph(&[(1, 1)]), 1), Some(vec![1]));
    }

    #[test]
    fn ring_of_three_in_blocking_order() {
        let g = graph(&[(1, 2), (2, 3), (3, 1)]);
        assert_eq!(shortest_cycle(&g, 1), Some(vec![1, 2, 3]));
        assert_eq!(shortest_cycle(&g, 2), Some(vec![2, 3, 1]));
    }

    #[test]
    fn the_shortest_of_two_cycles_is_chosen() {
        let g = graph(&[(1, 2), (2, 1), (2, 3), (3, 1)]);
        assert_eq!(shortest_cycle(&g, 1), Some(vec![1, 2]));
    }

    #[test]
    fn a_thread_behind_someone_elses_cycle_has_none() {
        let g = graph(&[(1, 2), (2, 3), (3, 2)]);
        assert_eq!(shortest_cycle(&g, 1), None);
        assert_eq!(shortest_cycle(&g, 2), Some(vec![2, 3]));
    }
}
