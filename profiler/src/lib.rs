//! The engine of [lockprof](https://docs.rs/lockprof): the lock and thread registry, the
//! wait-for graph that finds deadlocks the moment they form, stack capture and symbolisation, the
//! trace schema and its writer, and the deadlock policy.
//!
//! Users add the `lockprof` crate (the drop-in lock types); this crate is what those types call,
//! and what the `lockprof` CLI reads traces with.
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

pub mod access;
mod config;
pub mod contention;
mod deadlock;
mod episode;
pub mod findings;
mod local;
mod lock_order;
mod lock_state;
mod locks;
mod policy;
pub mod potential_deadlocks;
pub mod report;
mod stacks;
mod threads;
mod timeline;
pub mod trace;
pub mod wait_for_graph;
mod warnings;
mod watchdog;

pub use access::Access;
pub use config::{Config, config};
pub use deadlock::deadlocks_found;
pub use episode::{GRACE, RawLock, WriterMark, wait_episodes};
pub use local::current_thread_id;
pub use lock_order::{InversionPolicy, MAX_EDGES};
pub use lock_state::{LockKind, LockState};
pub use policy::DeadlockPolicy;
pub use trace::write_now;
