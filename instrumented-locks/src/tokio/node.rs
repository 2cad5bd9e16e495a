//! Who is acquiring: the current tokio task's node, or, outside any task, the thread's.

use std::hash::{Hash, Hasher};

use lockprof_profiler::tasks::{polling_thread_node, task_node};

/// The node of the code polling right now: its task, or the thread polling outside any task.
#[inline]
pub(crate) fn polling() -> u64 {
    match ::tokio::task::try_id() {
        Some(id) => task_node(id_word(id)),
        None => polling_thread_node(),
    }
}

/// The node a hold taken by `taker` is released by now: a thread's `blocking_*` hold is
/// compared with the thread, anything else with [`polling`].
#[inline]
pub(crate) fn releasing(taker: u64) -> u64 {
    use lockprof_profiler::async_holders::{POLLING_THREAD_NODE, TASK_NODE};
    match ::tokio::task::try_id() {
        Some(id) => task_node(id_word(id)),
        None if taker & (TASK_NODE | POLLING_THREAD_NODE) == 0 => lockprof_profiler::current_thread_id(),
        None => polling_thread_node(),
    }
}

/// A task id as a word: `tokio::task::Id` hashes as its one `u64`, which this hasher keeps.
#[inline]
fn id_word(id: ::tokio::task::Id) -> u64 {
    struct Word(u64);
    impl Hasher for Word {
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(b);
            }
        }
        fn write_u64(&mut self, n: u64) {
            self.0 = n;
        }
        fn finish(&self) -> u64 {
            self.0
        }
    }
    let mut word = Word(0);
    id.hash(&mut word);
    // Task ids are a counter, far below 2^47 in any process; the node bits stay free.
    word.0 & ((1 << 47) - 1)
}

/// The node of a non-blocking call (`try_lock`): the task, or outside any task the thread
/// itself (its own node, as for `blocking_*`, since a thread that is not polling is itself).
#[inline]
pub(crate) fn polling_or_thread() -> u64 {
    match ::tokio::task::try_id() {
        Some(id) => task_node(id_word(id)),
        None => lockprof_profiler::current_thread_id(),
    }
}
