//! Mapped guards ([`MappedMutexGuard`], [`MappedRwLockReadGuard`], [`MappedRwLockWriteGuard`]):
//! a guard narrowed by `map` to a part of the locked data, which still releases the whole lock.
//!
//! A mapped guard keeps the lock's header and raw lock, not the lock itself (whose data type it
//! no longer names), so it releases through the same two calls as the guard it came from: the
//! header's `releasing` (the held stack and owner word), then the raw unlock.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use lockprof_profiler::{Access, LockState};

use crate::raw::{RawMutex, RawRwLock};

/// Declares a mapped guard type: its fields, `map`/`try_map`, `Deref`, `Debug`, `Display`.
macro_rules! mapped_guard {
    ($(#[$doc:meta])* $name:ident, $raw:ty, $marker:ty, $($m:tt)?) => {
        $(#[$doc])*
        #[must_use = "if unused the lock will immediately unlock"]
        pub struct $name<'a, T: ?Sized + 'a> {
            state: &'a LockState,
            raw: &'a $raw,
            data: NonNull<T>,
            /// The borrow the guard stands for, and not `Send` (the profiler records the holder
            /// by thread), as parking_lot's guards.
            _marker: PhantomData<($marker, *const ())>,
        }

        // SAFETY: a shared reference to the guard only gives `&T`.
        unsafe impl<T: ?Sized + Sync> Sync for $name<'_, T> {}

        impl<'a, T: ?Sized> $name<'a, T> {
            /// # Safety
            /// The calling thread must hold the lock of `state` and `raw` in this guard's access,
            /// hand that hold over to the new guard, and `data` must be valid for the guard's
            /// access while the lock is held.
            pub(super) unsafe fn from_parts(state: &'a LockState, raw: &'a $raw, data: NonNull<T>) -> Self {
                $name { state, raw, data, _marker: PhantomData }
            }

            /// Narrows the guard further to a part of the data, as parking_lot's.
            pub fn map<U: ?Sized, F>(s: Self, f: F) -> $name<'a, U>
            where
                F: FnOnce(&$($m)? T) -> &$($m)? U,
            {
                // SAFETY: the guard holds the lock; a panic in `f` drops `s`, which releases it.
                let data = NonNull::from(f(unsafe { &$($m)? *s.data.as_ptr() }));
                let (state, raw) = (s.state, s.raw);
                std::mem::forget(s);
                // SAFETY: the hold passes from the forgotten `s` to the new guard.
                unsafe { $name::from_parts(state, raw, data) }
            }

            /// Like `map`, but `f` may decline, giving the guard back.
            pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<$name<'a, U>, Self>
            where
                F: FnOnce(&$($m)? T) -> Option<&$($m)? U>,
            {
                // SAFETY: as in `map`.
                let Some(data) = f(unsafe { &$($m)? *s.data.as_ptr() }).map(NonNull::from) else {
                    return Err(s);
                };
                let (state, raw) = (s.state, s.raw);
                std::mem::forget(s);
                // SAFETY: as in `map`.
                Ok(unsafe { $name::from_parts(state, raw, data) })
            }
        }

        impl<T: ?Sized> Deref for $name<'_, T> {
            type Target = T;
            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: the guard holds the lock, and `data` points into the locked data.
                unsafe { self.data.as_ref() }
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display> fmt::Display for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                (**self).fmt(f)
            }
        }
    };
}

mapped_guard!(
    /// A [`MutexGuard`](super::MutexGuard) narrowed to part of the data by
    /// [`MutexGuard::map`](super::MutexGuard::map); it unlocks the whole mutex when dropped.
    ///
    /// ```
    /// use lockprof::parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
    /// let m = Mutex::new((1, String::from("a")));
    /// let mut name: MappedMutexGuard<'_, String> = MutexGuard::map(m.lock(), |pair| &mut pair.1);
    /// name.push('b');
    /// drop(name);
    /// assert_eq!(m.lock().1, "ab");
    /// ```
    MappedMutexGuard, RawMutex, &'a mut T, mut
);

mapped_guard!(
    /// An [`RwLockReadGuard`](super::RwLockReadGuard) narrowed by
    /// [`RwLockReadGuard::map`](super::RwLockReadGuard::map); it releases its read when dropped.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockReadGuard};
    /// let lock = RwLock::new(vec![1, 2]);
    /// let first = RwLockReadGuard::map(lock.read(), |v| &v[0]);
    /// assert_eq!(*first, 1);
    /// ```
    MappedRwLockReadGuard, RawRwLock, &'a T,
);

mapped_guard!(
    /// An [`RwLockWriteGuard`](super::RwLockWriteGuard) narrowed by
    /// [`RwLockWriteGuard::map`](super::RwLockWriteGuard::map); it releases the write lock when
    /// dropped.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(vec![1, 2]);
    /// *RwLockWriteGuard::map(lock.write(), |v| &mut v[1]) = 5;
    /// assert_eq!(*lock.read(), [1, 5]);
    /// ```
    MappedRwLockWriteGuard, RawRwLock, &'a mut T, mut
);

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the mutex, and `&mut self` proves no other reference through it.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock, and `&mut self` proves no other reference.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let release = self.state.releasing();
        // SAFETY: this guard holds the mutex (handed over at construction); its single release.
        unsafe { self.raw.unlock() };
        self.state.released(release);
    }
}

impl<T: ?Sized> Drop for MappedRwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let release = self.state.releasing_as(Access::Shared);
        // SAFETY: this guard holds a read (handed over at construction); its single release.
        unsafe { self.raw.unlock_read() };
        self.state.released(release);
    }
}

impl<T: ?Sized> Drop for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let release = self.state.releasing();
        // SAFETY: this guard holds the write lock (handed over at construction); its single
        // release.
        unsafe { self.raw.unlock_write() };
        self.state.released(release);
    }
}
