//! A guard's record of its hold: released in the header (owner word or shared slot cleared)
//! right before tokio's own guard releases the lock.

use std::panic::Location;

use lockprof_profiler::async_holders::AsyncHolders;
use lockprof_profiler::{Access, AsyncHold, LockState};

/// Part of every guard, declared before tokio's guard so it is dropped first: lockprof clears
/// its record of the holder while the lock is still held.
pub(crate) struct Hold<'a> {
    pub(crate) state: &'a LockState,
    pub(crate) holders: &'a AsyncHolders,
    pub(crate) hold: AsyncHold,
}

impl<'a> Hold<'a> {
    /// Records the acquisition by `node` (through a borrowed guard).
    #[inline]
    pub(crate) fn taken(
        state: &'a LockState,
        holders: &'a AsyncHolders,
        node: u64,
        at: &'static Location<'static>,
        access: Access,
    ) -> Self {
        Hold { state, holders, hold: state.async_acquired(node, at, access, holders) }
    }

    /// Records an acquisition through an owned guard (made to be moved: holder not recorded).
    #[inline]
    pub(crate) fn taken_owned(
        state: &'a LockState,
        holders: &'a AsyncHolders,
        node: u64,
        at: &'static Location<'static>,
        access: Access,
    ) -> Self {
        Hold { state, holders, hold: state.async_acquired_owned(node, at, access, holders) }
    }

    /// A write hold becoming a read hold (`downgrade`): the exclusive record is released and
    /// the read is not recorded (the read that tokio hands over was never queued).
    pub(crate) fn downgrade(mut self) -> Self {
        let releaser = super::node::releasing(self.hold.node);
        self.state.async_releasing(self.hold, releaser, self.holders);
        self.hold = self.hold.downgraded();
        self
    }

    /// Re-borrows a hold for a longer-lived owner (owned guards keep their lock alive).
    ///
    /// # Safety
    /// The caller keeps the lock alive, at the same address, for as long as the result lives.
    pub(crate) unsafe fn extend(self) -> Hold<'static> {
        // SAFETY: the caller's promise; `Hold` only reads through its references.
        unsafe { std::mem::transmute::<Hold<'a>, Hold<'static>>(self) }
    }
}

impl Drop for Hold<'_> {
    #[inline]
    fn drop(&mut self) {
        let releaser = super::node::releasing(self.hold.node);
        self.state.async_releasing(self.hold, releaser, self.holders);
    }
}
