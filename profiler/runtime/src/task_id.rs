//! Which tokio task runs on the calling thread right now (feature `tokio`; without it, never
//! one), as a node id of the wait-for graph: held std locks remember the task that took them,
//! so that a guard held across `.await` is seen when another task runs on the same thread
//! ([`crate::warnings`]), and a task's lock orders include the std locks it holds.

/// The node ([`crate::tasks::task_node`]) of the tokio task being polled on this thread, or 0
/// outside any task (and always 0 without the `tokio` feature). A thread-local read in tokio.
///
/// ```
/// assert_eq!(lockprof_profiler::task_id::current(), 0); // not inside a tokio task
/// ```
#[inline]
pub fn current() -> u64 {
    match current_word() {
        0 => 0,
        word => crate::tasks::task_node(word),
    }
}

/// The [`id_word`] of the tokio task being polled on this thread, or 0 outside any task (and
/// always 0 without the `tokio` feature): [`current`] without making it a node, which the lock
/// fast path compares with the thread's last task as it is ([`crate::local::Local::enter_task_word`]).
///
/// ```
/// assert_eq!(lockprof_profiler::task_id::current_word(), 0); // not inside a tokio task
/// ```
#[inline]
pub fn current_word() -> u64 {
    #[cfg(feature = "tokio")]
    {
        tokio::task::try_id().map_or(0, id_word)
    }
    #[cfg(not(feature = "tokio"))]
    {
        0
    }
}

/// A tokio task id as a word: `tokio::task::Id` hashes as its one `u64`, which this hasher
/// keeps (tokio exposes no other way to read it).
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let (a, b) = rt.block_on(async {
///     let a = tokio::spawn(async { tokio::task::id() }).await.unwrap();
///     let b = tokio::spawn(async { tokio::task::id() }).await.unwrap();
///     (a, b)
/// });
/// assert_ne!(lockprof_profiler::task_id::id_word(a), lockprof_profiler::task_id::id_word(b));
/// # }
/// ```
#[cfg(feature = "tokio")]
#[inline]
pub fn id_word(id: tokio::task::Id) -> u64 {
    use std::hash::{Hash, Hasher};
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
