//! `std::thread` for programs that use lockprof: swap `std::thread` for `lockprof::thread` in an
//! import line and nothing else changes.
//!
//! ```
//! use lockprof::thread; // was: use std::thread;
//!
//! let handle = thread::spawn(|| 6 * 7);
//! assert_eq!(handle.join().unwrap(), 42);
//! ```

pub use std::thread::*;
