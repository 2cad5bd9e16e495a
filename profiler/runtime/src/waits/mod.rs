//! Blocking waits other than a lock acquisition that take part in the wait-for graph: each kind
//! in its own module, modelled as a wait for a lock-like header ([`crate::LockState`]) so that
//! the detector's rules and proof apply to it (see [`crate::wait_for_graph`]).

mod join;
pub(crate) mod signal;
