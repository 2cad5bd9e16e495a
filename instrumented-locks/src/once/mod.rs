//! One-time initialisation in the wait-for graph: [`Once`], [`OnceLock`] and [`LazyLock`] with
//! std's API, each guarded by an *initialisation lock* that the initialising thread holds while
//! its initialiser runs.
//!
//! A thread that finds the value being initialised by another thread waits for that thread, as
//! std's types make it do; here the wait goes through the initialisation lock, an ordinary
//! instrumented mutex (`LockKind::Once`). So the deadlocks of lazy initialisation are cycles of
//! the wait-for graph, reported the moment they form: an initialiser that forces its own value
//! (re-entrant initialisation, a cycle of one), two lazies whose initialisers force each other on
//! two threads, an initialiser that takes a lock held by a thread that is forcing the value. The
//! initialisation lock is never poisoned; std's own poisoning of `Once` and `LazyLock` (an
//! initialiser that panicked) is kept, since the value lives in std's type.
//!
//! The fast path, a value already initialised, is std's own check (for [`LazyLock`], that of
//! an inner `OnceLock`).
//!
//! Left out: what std stabilised after this crate's minimum Rust version (1.85): `Once::wait`,
//! `Once::wait_force`, `OnceLock::wait` (1.86) and `LazyLock`'s `DerefMut` (1.89).

mod init_lock;
mod lazy_lock;
mod once_cell;
mod once_lock;

pub use lazy_lock::LazyLock;
pub use once_cell::Once;
pub use once_lock::OnceLock;
