//! Which lockprof thread ids belong to threads still running, so that a lock whose holder has
//! exited while holding it (its guard leaked) can be named as abandoned.
//!
//! A thread is counted in when it gets its id, on its first lock call (off the fast path from
//! then on), by a thread-local guard whose destructor counts it out when the thread exits. The
//! set holds only running threads, so it is as small as the process's thread count. A thread
//! that exits while it still holds a lock leaves its name behind (up to [`MAX_EXITED_HOLDING`]),
//! since it may never have waited, which is how other threads get named in the trace.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

fn running() -> &'static Mutex<HashSet<u64>> {
    static RUNNING: OnceLock<Mutex<HashSet<u64>>> = OnceLock::new();
    RUNNING.get_or_init(Mutex::default)
}

/// At most this many names of threads that exited holding a lock are kept.
pub(crate) const MAX_EXITED_HOLDING: usize = 1_000;

/// Names of threads that exited while holding a lock, by id.
fn exited_holding() -> &'static Mutex<HashMap<u64, Option<String>>> {
    static EXITED: OnceLock<Mutex<HashMap<u64, Option<String>>>> = OnceLock::new();
    EXITED.get_or_init(Mutex::default)
}

/// Counts its thread out of [`running`] when the thread exits; keeps the thread's name.
struct CountedIn {
    id: Cell<u64>,
    name: Cell<Option<String>>,
}

impl Drop for CountedIn {
    fn drop(&mut self) {
        let id = self.id.get();
        if id == 0 {
            return;
        }
        running().lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        // The held stack has no destructor, so it can still be read here.
        if crate::local::with(crate::local::Local::holds_any) {
            let mut exited = exited_holding().lock().unwrap_or_else(|e| e.into_inner());
            if exited.len() < MAX_EXITED_HOLDING {
                exited.insert(id, self.name.take());
            }
        }
    }
}

thread_local! {
    static COUNTED_IN: CountedIn = const { CountedIn { id: Cell::new(0), name: Cell::new(None) } };
}

/// The name of a thread that exited while holding a lock, if it had one.
pub(crate) fn exited_name(id: u64) -> Option<String> {
    exited_holding().lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned().flatten()
}

/// The calling thread has just been given lockprof id `id`.
pub(crate) fn started(id: u64) {
    // During the thread's own teardown there is no thread-local left to count it out with; it is
    // then as good as gone, and is left out.
    // A name lookup that fails (a thread far into its teardown) must not fail the lock call.
    let name = std::panic::catch_unwind(|| std::thread::current().name().map(str::to_owned)).ok().flatten();
    let _ = COUNTED_IN.try_with(|counted| {
        counted.id.set(id);
        counted.name.set(name);
        running().lock().unwrap_or_else(|e| e.into_inner()).insert(id);
    });
}

/// Whether the thread of `id` has exited (or was exiting when it got its id).
pub(crate) fn has_exited(id: u64) -> bool {
    // Tasks and polling threads (async locks' nodes) are not threads: whether they ended is not
    // known here, so they are never called exited.
    use crate::async_holders::{POLLING_THREAD_NODE, TASK_NODE};
    if id & (TASK_NODE | POLLING_THREAD_NODE) != 0 {
        return false;
    }
    !running().lock().unwrap_or_else(|e| e.into_inner()).contains(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_running_until_it_exits() {
        let (id, running_inside) = std::thread::spawn(|| {
            let id = crate::local::current_thread_id();
            (id, !has_exited(id))
        })
        .join()
        .unwrap();
        assert!(running_inside);
        assert!(has_exited(id), "counted out at exit");
        assert!(!has_exited(crate::local::current_thread_id()));
        assert_eq!(exited_name(id), None, "it held nothing");
    }

    #[test]
    fn a_thread_that_exits_holding_a_lock_leaves_its_name() {
        let id = std::thread::Builder::new()
            .name("leaker".into())
            .spawn(|| {
                let id = crate::local::current_thread_id();
                crate::local::with(|l| {
                    l.push_held(
                        crate::tag::make(u64::MAX >> 8, lockprof_trace::Access::Exclusive, 0),
                        std::panic::Location::caller(),
                    )
                });
                id
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(has_exited(id));
        assert_eq!(exited_name(id).as_deref(), Some("leaker"));
    }
}
