//! The runtime of [lockprof](https://docs.rs/lockprof), the top of its three layers: the lock and
//! thread registry, held stacks, wait episodes, the wait-for graph that finds deadlocks the moment
//! they form, lock-order recording, contention, the timeline, the watchdog, stack capture and the
//! deadlock policy.
//!
//! Users add the `lockprof` crate (the drop-in lock types); this crate is what those types call.
//! It builds its trace with the trace model (`lockprof-trace`) and renders a deadlock's message
//! with the analysis (`lockprof-analysis`); neither of those imports it, and the `lockprof` CLI
//! reads traces without it.
//!
//! A lock call from the user's code reaches the graph in three hops:
//! `lockprof::Mutex::lock` → [`LockState::lock`] → (only if the lock is taken) `LockState::wait`
//! in [`episode`](crate::LockState) → [`wait_for_graph`]'s `find_deadlock`.
//!
//! # Environment
//! - `LOCKPROF_TRACE=path`: write the trace there at exit and when a deadlock is found.
//! - `LOCKPROF_ON_DEADLOCK=panic|abort|report`: see [`DeadlockPolicy`].
//! - `LOCKPROF_ON_INVERSION=record|panic`: see [`InversionPolicy`].
//! - `LOCKPROF_GRACE_US=N`: see [`Config::grace`].
//! - `LOCKPROF_WATCHDOG_MS=N`: see [`Config::watchdog`].

#![warn(missing_docs)]

mod config;
pub mod contention;
mod deadlock;
mod episode;
mod local;
mod lock_order;
mod lock_state;
mod locks;
mod stacks;
mod tag;
mod threads;
mod timeline;
pub mod trace;
pub mod wait_for_graph;
mod warnings;
mod watchdog;

pub use config::{Config, config};
pub use deadlock::deadlocks_found;
pub use episode::{GRACE, RawLock, WriterMark, wait_episodes};
pub use local::current_thread_id;
pub use lock_order::{InversionPolicy, MAX_EDGES};
pub use lock_state::LockState;
pub use lockprof_trace::{Access, DeadlockPolicy, LockKind};
pub use trace::write_now;
