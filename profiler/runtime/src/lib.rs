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
//! `lockprof::Mutex::lock` → [`LockState::lock`] (`lock_state/acquire.rs`) → (only if the lock is
//! taken) `LockState::wait` (`episode.rs`) → [`wait_for_graph`]'s `find_deadlock`.
//!
//! Inside, modules import downward too (no import circle spans more than two files): the
//! configuration, the raw-lock trait, the profiler's own stderr messages (`diag`), and the
//! thread-local held stack with the set of running threads (`liveness`) at the bottom; the lock
//! header, the lock and thread registries and the contention counters above them; then the
//! wait-for graph and lock-order recording; then what the process has found (`records`), its
//! trace snapshot and writer; then the deadlock policy, warnings and watchdog; and at the top the
//! wait episode and the acquisition path that calls it.
//!
//! # Environment
//! - `LOCKPROF_TRACE=path`: write the trace there at exit and when a deadlock is found.
//! - `LOCKPROF_ON_DEADLOCK=panic|abort|report`: see [`DeadlockPolicy`].
//! - `LOCKPROF_ON_INVERSION=record|panic`: see [`InversionPolicy`].
//! - `LOCKPROF_GRACE_US=N`: see [`Config::grace`].
//! - `LOCKPROF_WATCHDOG_MS=N`: see [`Config::watchdog`].

#![warn(missing_docs)]

mod adjacency;
mod all_asleep;
pub mod async_holders;
mod config;
pub mod contention;
mod deadlock;
mod diag;
mod episode;
mod id_hash;
mod inversion;
mod liveness;
mod local;
mod lock_name;
mod lock_order;
mod lock_state;
mod lock_stats;
mod locks;
mod order_batch;
mod order_graph;
mod os_asleep;
mod process_asleep;
mod raw_lock;
mod records;
mod sharded_map;
mod stack_text;
mod stacks;
mod tag;
mod task_held;
pub mod task_id;
mod task_order;
pub mod tasks;
mod threads;
mod timeline;
pub mod trace;
mod unwind;
pub mod wait_for_graph;
mod waits;
mod wake_watchdog;
mod warnings;
mod watchdog;

pub use all_asleep::all_asleep_checks;
pub use config::{Config, GRACE, InversionPolicy, config};
pub use local::current_thread_id;
pub use lock_name::LockName;
pub use lock_order::MAX_EDGES;
pub use lock_state::async_hold::AsyncHold;
pub use lock_state::{LockState, Release};
pub use lockprof_trace::{Access, DeadlockPolicy, LockKind};
pub use raw_lock::{RawLock, WriterMark};
pub use records::{deadlocks_found, long_waits_found, wait_episodes};
pub use trace::{install_exit_hook, write_now};
pub use waits::signal::{Quorum, Signal, SignalShape};
