//! The acquire future: tokio's own, polled through this wrapper, which publishes the wait when
//! the first poll returns `Pending` and withdraws it on completion or drop.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use lockprof_profiler::async_holders::AsyncHolders;
use lockprof_profiler::tasks::{AsyncWait, AsyncWaitSpec};
use lockprof_profiler::{Access, LockState};

pin_project_lite::pin_project! {
    /// tokio's acquire future `F` for a lock with header `state`, instrumented.
    pub(crate) struct Acquire<'a, F> {
        // First, so that a dropped (cancelled) acquisition withdraws its published wait before
        // tokio's future leaves the queue: the graph never shows a wait that tokio has dropped.
        wait: Option<AsyncWait>,
        #[pin]
        inner: F,
        state: &'a LockState,
        holders: &'a AsyncHolders,
        at: &'static Location<'static>,
        access: Access,
        permits: u32,
        may_be_permanent: bool,
        // The lock's ticket before the first poll, once polled.
        before: Option<u64>,
    }
}

impl<'a, F> Acquire<'a, F> {
    pub(crate) fn new(
        inner: F,
        state: &'a LockState,
        holders: &'a AsyncHolders,
        at: &'static Location<'static>,
        access: Access,
        permits: u32,
    ) -> Self {
        // Semaphore waits are only watched, never relied on (see the README's limits).
        let may_be_permanent = access != Access::Permits;
        Acquire { wait: None, inner, state, holders, at, access, permits, may_be_permanent, before: None }
    }
}

impl<F: Future> Future for Acquire<'_, F> {
    /// tokio's output, and the node that acquired.
    type Output = (F::Output, u64);

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(report) = this.wait.as_ref().and_then(AsyncWait::condemned) {
            // The whole process was found asleep for good with this wait in a deadlock, under
            // `LOCKPROF_ON_DEADLOCK=panic`: the task ends with the report.
            std::panic::panic_any(report);
        }
        // With the task's cooperative budget spent, tokio's acquire returns `Pending` without
        // queueing (a forced yield, every 128 operations or so): that is no wait.
        let yielding = !::tokio::task::coop::has_budget_remaining();
        let first = this.before.is_none() && !yielding;
        let node = first.then(super::node::polling);
        if let Some(node) = node {
            // A blocking acquisition starts: the lock-order edges from what the task holds.
            this.state.async_acquiring(node, this.at, *this.access);
        }
        let before =
            if yielding { 0 } else { *this.before.get_or_insert_with(|| this.holders.ticket_before()) };
        match this.inner.poll(cx) {
            Poll::Ready(out) => {
                if let Some(wait) = this.wait.take() {
                    wait.acquired(this.state);
                }
                Poll::Ready((out, node.unwrap_or_else(super::node::polling)))
            }
            Poll::Pending => {
                if let Some(node) = node {
                    let spec = AsyncWaitSpec {
                        node,
                        blocking: false,
                        at: this.at,
                        access: *this.access,
                        permits: *this.permits,
                        holders: this.holders,
                        fifo: (before, this.holders.ticket_after()),
                        may_be_permanent: *this.may_be_permanent,
                        waker: Some(cx.waker()),
                    };
                    *this.wait = Some(this.state.async_wait_begin(spec));
                } else if let (Some(wait), false) = (this.wait.as_ref(), yielding) {
                    wait.repolled(cx.waker());
                }
                Poll::Pending
            }
        }
    }
}

/// A `blocking_*` call: `try_now` first (no wait), else the thread's wait published in its own
/// record (with the lockprof locks it holds) around `block`.
#[inline]
pub(crate) fn blocking<G>(
    state: &LockState,
    holders: &AsyncHolders,
    at: &'static Location<'static>,
    access: Access,
    permits: u32,
    try_now: impl FnOnce() -> Option<G>,
    block: impl FnOnce() -> G,
) -> G {
    state.async_acquiring(lockprof_profiler::current_thread_id(), at, access);
    if let Some(got) = try_now() {
        return got;
    }
    let before = holders.ticket_before();
    let spec = AsyncWaitSpec {
        node: lockprof_profiler::current_thread_id(),
        blocking: true,
        at,
        access,
        permits,
        holders,
        // Queued by `block`, after this: the ticket drawn now is no proof of order for this
        // wait's own queueing, so it claims to be behind nobody and ahead of nobody.
        fifo: (before, u64::MAX),
        may_be_permanent: access != Access::Permits,
        waker: None,
    };
    let wait = state.async_wait_begin(spec);
    let got = block();
    wait.acquired(state);
    got
}

pin_project_lite::pin_project! {
    /// An [`Acquire`] whose output `then` turns into the guard, in the same poll (one state
    /// machine instead of an `async` block around it).
    pub(crate) struct Then<'a, F, K> {
        #[pin]
        acquire: Acquire<'a, F>,
        then: Option<K>,
    }
}

impl<'a, F> Acquire<'a, F> {
    /// This acquisition, its output made into `then(output, node)`.
    pub(crate) fn then<K>(self, then: K) -> Then<'a, F, K> {
        Then { acquire: self, then: Some(then) }
    }
}

impl<F: Future, G, K: FnOnce(F::Output, u64) -> G> Future for Then<'_, F, K> {
    type Output = G;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<G> {
        let this = self.project();
        match this.acquire.poll(cx) {
            Poll::Ready((out, node)) => {
                let then = this.then.take().expect("an acquire future polled after it completed");
                Poll::Ready(then(out, node))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
