//! The return addresses on the calling thread's stack, to tell stacks apart without capturing or
//! symbolising them.
//!
//! The contention tables count every sampled wait and every contended release under its stack,
//! but keep one captured [`std::backtrace::Backtrace`] per distinct stack. std's capture takes
//! libstd's process-wide backtrace lock, which a symbolisation holds while it runs (about a
//! second the first time in a debug build); the walk here does not take it: it asks the
//! system unwinder (`_Unwind_Backtrace`, which libstd links on Unix) for the addresses, and
//! that unwinder is thread-safe. So a releasing holder whose stack is already in its table never
//! waits for a symbolisation in progress.
//!
//! On a platform without that unwinder (not Unix, or 32-bit ARM, whose unwinder has no
//! `_Unwind_GetIP` function) the list is empty: all the stacks of one lock are then counted
//! under the first one captured.

/// At most this many addresses are read: stacks that differ only deeper down count as one.
const MAX_FRAMES: usize = 256;

/// The return addresses of the calling thread's stack, innermost first (empty where the
/// platform's unwinder is not available, see the module's documentation).
#[inline(never)]
pub(crate) fn return_addresses() -> Vec<usize> {
    let mut addresses: Vec<usize> = Vec::with_capacity(32);
    #[cfg(all(unix, not(target_arch = "arm")))]
    // SAFETY: `_Unwind_Backtrace` walks the calling thread's stack and calls `push` once per
    // frame, on this thread, before it returns; `data` is `addresses`, borrowed mutably for the
    // whole call and used by nothing else meanwhile.
    unsafe {
        system::_Unwind_Backtrace(system::push, (&raw mut addresses).cast());
    }
    addresses
}

#[cfg(all(unix, not(target_arch = "arm")))]
mod system {
    //! The two functions of the system unwinder's interface (the Itanium C++ ABI's, which
    //! libgcc_s and LLVM's libunwind provide) that a stack walk needs.

    use std::ffi::{c_int, c_void};

    /// The unwinder's opaque state for one frame.
    #[repr(C)]
    pub(super) struct UnwindContext {
        _private: [u8; 0],
    }

    /// `_URC_NO_REASON`: go on to the next frame.
    const CONTINUE: c_int = 0;
    /// `_URC_END_OF_STACK`: stop (enough frames).
    const STOP: c_int = 5;

    unsafe extern "C" {
        /// Calls `trace` for each frame of the calling thread's stack, innermost first.
        pub(super) fn _Unwind_Backtrace(
            trace: extern "C" fn(*mut UnwindContext, *mut c_void) -> c_int,
            data: *mut c_void,
        ) -> c_int;
        /// The instruction pointer (return address) of the frame `context` stands for.
        fn _Unwind_GetIP(context: *mut UnwindContext) -> usize;
    }

    /// Appends the frame's address to the `Vec<usize>` that `data` points to.
    pub(super) extern "C" fn push(context: *mut UnwindContext, data: *mut c_void) -> c_int {
        // SAFETY: `data` is the `Vec<usize>` that `return_addresses` passed, alive and not
        // otherwise borrowed during the walk (see there).
        let addresses = unsafe { &mut *data.cast::<Vec<usize>>() };
        // SAFETY: `context` is the live context the unwinder passed for this frame.
        let address = unsafe { _Unwind_GetIP(context) };
        addresses.push(address);
        if addresses.len() >= super::MAX_FRAMES { STOP } else { CONTINUE }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn from_a() -> Vec<usize> {
        std::hint::black_box(return_addresses())
    }

    #[inline(never)]
    fn from_b() -> Vec<usize> {
        std::hint::black_box(return_addresses())
    }

    #[test]
    #[cfg(all(unix, not(target_arch = "arm")))]
    fn the_same_call_path_gives_the_same_addresses_and_another_path_others() {
        let (first, again) = (from_a(), from_a());
        assert!(first.len() > 3, "{first:x?}");
        assert!(first.iter().all(|&a| a != 0) || first.last() == Some(&0), "{first:x?}");
        // Called twice from one line: one loop, same return addresses all the way down.
        let twice: Vec<Vec<usize>> = (0..2).map(|_| from_a()).collect();
        assert_eq!(twice[0], twice[1]);
        assert_ne!(first, from_b(), "two functions, two stacks");
        assert_eq!(first.len(), again.len());
    }

    #[test]
    #[cfg(all(unix, not(target_arch = "arm")))]
    fn deep_stacks_are_cut_at_the_bound() {
        #[inline(never)]
        fn down(n: usize) -> Vec<usize> {
            if n == 0 { return_addresses() } else { std::hint::black_box(down(n - 1)) }
        }
        assert_eq!(down(MAX_FRAMES + 10).len(), MAX_FRAMES);
    }
}
