//! The trace: its schema, how the live registry becomes one, how it is written, and how it is
//! read back.

pub mod load;
pub mod schema;
pub(crate) mod snapshot;
pub(crate) mod writer;

pub use writer::write_now;
