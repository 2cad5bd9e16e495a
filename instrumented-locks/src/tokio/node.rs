//! Who is acquiring: the current tokio task's node, or, outside any task, the thread's.

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

use lockprof_profiler::task_id::id_word;

/// The node of a non-blocking call (`try_lock`): the task, or outside any task the thread
/// itself (its own node, as for `blocking_*`, since a thread that is not polling is itself).
#[inline]
pub(crate) fn polling_or_thread() -> u64 {
    match ::tokio::task::try_id() {
        Some(id) => task_node(id_word(id)),
        None => lockprof_profiler::current_thread_id(),
    }
}
