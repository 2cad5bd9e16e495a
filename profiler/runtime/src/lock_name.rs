//! A lock's name as its header keeps it ([`LockName`]): a `&'static str` or an owned string, in
//! two words.
//!
//! Why not `Option<Cow<'static, str>>`: that is three words, and the header is embedded in every
//! lock; a name given at run time (`format!("account-{id}")`) must not make every lock bigger.
//! The top bit of the length says whether the bytes are owned (a `Box<str>` to free on drop); a
//! `str` is never longer than `isize::MAX`, so that bit is free.

use std::borrow::Cow;
use std::fmt;
use std::ptr::NonNull;

/// Set in `len` when `ptr` came from `Box::<str>::into_raw`.
const OWNED: usize = 1 << (usize::BITS - 1);

/// A lock's name: borrowed for `'static`, or owned. `Option<LockName>` is two words.
///
/// ```
/// use lockprof_profiler::LockName;
/// const LEDGER: LockName = LockName::from_static("ledger");
/// assert_eq!(LEDGER.as_str(), "ledger");
/// let account = LockName::new(format!("account-{}", 7));
/// assert_eq!(account.as_str(), "account-7");
/// assert_eq!(std::mem::size_of::<Option<LockName>>(), 2 * std::mem::size_of::<usize>());
/// ```
pub struct LockName {
    ptr: NonNull<u8>,
    /// The length in bytes, with [`OWNED`] set when the bytes are ours to free.
    len: usize,
}

// SAFETY: a `LockName` is an immutable `str`, either `'static` or uniquely owned (like a
// `Box<str>`, which is Send and Sync); nothing mutates it through a shared reference.
unsafe impl Send for LockName {}
// SAFETY: see above.
unsafe impl Sync for LockName {}

impl LockName {
    /// A name borrowed for the whole program; `const`, for the header of a `static` lock.
    ///
    /// ```
    /// assert_eq!(lockprof_profiler::LockName::from_static("a").as_str(), "a");
    /// ```
    pub const fn from_static(name: &'static str) -> Self {
        // SAFETY: a reference is never null (an empty `str`'s pointer is dangling but non-null).
        let ptr = unsafe { NonNull::new_unchecked(name.as_ptr().cast_mut()) };
        LockName { ptr, len: name.len() }
    }

    /// A name from a `&'static str` (kept as it is) or a `String` (owned: freed with the lock).
    ///
    /// ```
    /// use lockprof_profiler::LockName;
    /// assert_eq!(LockName::new("static").as_str(), "static");
    /// assert_eq!(LockName::new(String::from("owned")).as_str(), "owned");
    /// ```
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        match name.into() {
            Cow::Borrowed(name) => LockName::from_static(name),
            Cow::Owned(name) => {
                let boxed = name.into_boxed_str();
                let len = boxed.len();
                // SAFETY: `Box::into_raw` never returns null.
                let ptr = unsafe { NonNull::new_unchecked(Box::into_raw(boxed).cast::<u8>()) };
                LockName { ptr, len: len | OWNED }
            }
        }
    }

    /// The name.
    ///
    /// ```
    /// assert_eq!(lockprof_profiler::LockName::new("x").as_str(), "x");
    /// ```
    pub fn as_str(&self) -> &str {
        // SAFETY: `ptr` and the length are those of a `str` that lives at least as long as
        // `self`: a `'static` one, or the `Box<str>` that `self` owns and frees only on drop.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr.as_ptr(), self.len & !OWNED))
        }
    }

    /// The name for the registry, which outlives the lock: a static name is borrowed (no
    /// allocation), an owned one copied.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use lockprof_profiler::LockName;
    /// assert!(matches!(LockName::new("s").to_cow(), Cow::Borrowed("s")));
    /// ```
    pub fn to_cow(&self) -> Cow<'static, str> {
        if self.len & OWNED == 0 {
            // SAFETY: without `OWNED`, the bytes are those of the `&'static str` given to
            // `from_static`.
            Cow::Borrowed(unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr.as_ptr(), self.len))
            })
        } else {
            Cow::Owned(self.as_str().to_owned())
        }
    }
}

impl Drop for LockName {
    fn drop(&mut self) {
        if self.len & OWNED != 0 {
            let bytes = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len & !OWNED);
            // SAFETY: with `OWNED`, `ptr` and the length came from `Box::<str>::into_raw` in
            // `new`, and this is the only place that frees them, once.
            drop(unsafe { Box::from_raw(bytes as *mut str) });
        }
    }
}

impl fmt::Debug for LockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_static_names_read_back_and_owned_ones_are_freed() {
        for n in 0..100 {
            let owned = LockName::new(format!("account-{n}"));
            assert_eq!(owned.as_str(), format!("account-{n}"));
            assert_eq!(owned.to_cow(), format!("account-{n}"));
        }
        assert_eq!(LockName::new(String::new()).as_str(), "");
        assert_eq!(LockName::from_static("").as_str(), "");
        assert_eq!(format!("{:?}", LockName::new("q\"")), r#""q\"""#);
    }
}
