//! [`Named`] and [`NamedCondvar`]: naming locks in code that must compile whether lockprof is on
//! or compiled out.

use std::borrow::Cow;

/// Creating a lock with a name for lockprof's reports, in code that compiles the same whether
/// lockprof is on or compiled out (cargo feature `off`, where lockprof's types *are* std's and
/// parking_lot's, which have no `with_name`).
///
/// With lockprof on, every lock type has an inherent `with_name`, which this trait calls; with it off, this trait is what provides `with_name` (dropping the name) and `name`
/// (always `None`) for std's and parking_lot's types. Import it through [`crate::prelude`]
/// (a glob import is never reported as unused), or as `use lockprof::Named;` with
/// `#[allow(unused_imports)]` if the code only calls `with_name` (with lockprof on, the inherent
/// function is chosen and the import is unused). It is not `const`: a `static` needs
/// `new`, or a name given some other way, to compile in both modes. Names are `&'static str`s or
/// `String`s made at run time.
///
/// ```
/// use lockprof::prelude::*; // Mutex, RwLock, Condvar, Semaphore and Named
///
/// let ledger = Mutex::with_name(0u64, "ledger");
/// *ledger.lock().unwrap() += 1;
/// let routes = RwLock::with_name(Vec::<&str>::new(), "routes");
/// routes.write().unwrap().push("/");
/// let pool = Semaphore::with_name(4, "db-pool");
/// assert_eq!(pool.available_permits(), 4);
/// let account = Mutex::with_name(0u64, format!("account-{}", 17));
/// // Some("ledger") with lockprof on, None with it off:
/// let _ = Named::name(&ledger);
/// ```
///
/// Generic code can create any named lock:
///
/// ```
/// use lockprof::Named;
///
/// fn make<L: Named<Value = u32>>(name: String) -> L {
///     L::with_name(0, name)
/// }
/// let m: lockprof::Mutex<u32> = make("counter".to_owned());
/// assert_eq!(*m.lock().unwrap(), 0);
/// ```
pub trait Named: Sized {
    /// What the lock is made from: its data, or a semaphore's number of permits.
    type Value;

    /// A lock made from `value`, called `name` in lockprof's reports (with lockprof off, the
    /// name is dropped).
    ///
    /// ```
    /// use lockprof::Named;
    /// let m = <lockprof::RwLock<u8> as Named>::with_name(1, "flags");
    /// assert_eq!(*m.read().unwrap(), 1);
    /// ```
    #[track_caller]
    fn with_name(value: Self::Value, name: impl Into<Cow<'static, str>>) -> Self;

    /// The name given at creation, if any; always `None` with lockprof off.
    ///
    /// ```
    /// use lockprof::Named;
    /// let m = <lockprof::Mutex<u8> as Named>::with_name(1, "flags");
    /// // Some("flags") with lockprof on, None with it off.
    /// assert!(matches!(Named::name(&m), Some("flags") | None));
    /// ```
    fn name(&self) -> Option<&str>;
}

/// Implements [`Named`] for lock types that have inherent `with_name` and `name` (lockprof's).
#[cfg(all(feature = "profiler", not(feature = "off")))]
macro_rules! named_by_inherent {
    ($($ty:ty => $value:ty),* $(,)?) => {$(
        impl<T> Named for $ty {
            type Value = $value;
            #[track_caller]
            fn with_name(value: $value, name: impl Into<Cow<'static, str>>) -> Self {
                <$ty>::with_name(value, name)
            }
            fn name(&self) -> Option<&str> {
                <$ty>::name(self)
            }
        }
    )*};
}

/// Implements [`Named`] for std's and parking_lot's types: the name is dropped.
#[cfg(any(feature = "off", not(feature = "profiler")))]
macro_rules! named_by_new {
    ($($ty:ty),* $(,)?) => {$(
        impl<T> Named for $ty {
            type Value = T;
            fn with_name(value: T, _name: impl Into<Cow<'static, str>>) -> Self {
                <$ty>::new(value)
            }
            fn name(&self) -> Option<&str> {
                None
            }
        }
    )*};
}

#[cfg(all(feature = "profiler", not(feature = "off")))]
named_by_inherent!(crate::Mutex<T> => T, crate::RwLock<T> => T);

#[cfg(all(feature = "profiler", not(feature = "off"), feature = "parking_lot"))]
named_by_inherent!(
    crate::parking_lot::Mutex<T> => T,
    crate::parking_lot::RwLock<T> => T,
    crate::parking_lot::ReentrantMutex<T> => T,
);

#[cfg(any(feature = "off", not(feature = "profiler")))]
named_by_new!(std::sync::Mutex<T>, std::sync::RwLock<T>);

#[cfg(all(any(feature = "off", not(feature = "profiler")), feature = "parking_lot"))]
named_by_new!(::parking_lot::Mutex<T>, ::parking_lot::RwLock<T>, ::parking_lot::ReentrantMutex<T>);

impl Named for crate::Semaphore {
    type Value = usize;
    #[track_caller]
    fn with_name(permits: usize, name: impl Into<Cow<'static, str>>) -> Self {
        crate::Semaphore::with_name(permits, name)
    }
    fn name(&self) -> Option<&str> {
        crate::Semaphore::name(self)
    }
}

/// [`Named`] for condition variables, which are made from nothing but their name: a `Condvar`
/// named in reports (a wait that outlasts the watchdog, a wait while holding another lock), in
/// code that compiles the same with lockprof on and off.
///
/// ```
/// use lockprof::prelude::*;
///
/// let queue = Mutex::with_name(Vec::<u32>::new(), "queue");
/// let not_empty = Condvar::with_name("queue not empty");
/// queue.lock().unwrap().push(1);
/// not_empty.notify_one();
/// // Some("queue not empty") with lockprof on, None with it off:
/// let _ = NamedCondvar::name(&not_empty);
/// ```
pub trait NamedCondvar: Sized {
    /// A condition variable called `name` in lockprof's reports (dropped with lockprof off).
    ///
    /// ```
    /// use lockprof::NamedCondvar;
    /// let cv = <lockprof::Condvar as NamedCondvar>::with_name(format!("worker-{}", 2));
    /// cv.notify_all();
    /// ```
    #[track_caller]
    fn with_name(name: impl Into<Cow<'static, str>>) -> Self;

    /// The name given at creation, if any; always `None` with lockprof off.
    ///
    /// ```
    /// use lockprof::NamedCondvar;
    /// let cv = <lockprof::Condvar as NamedCondvar>::with_name("ready");
    /// assert!(matches!(NamedCondvar::name(&cv), Some("ready") | None));
    /// ```
    fn name(&self) -> Option<&str>;
}

/// Implements [`NamedCondvar`] for lockprof's condition variables.
#[cfg(all(feature = "profiler", not(feature = "off")))]
macro_rules! named_condvar_by_inherent {
    ($($ty:ty),* $(,)?) => {$(
        impl NamedCondvar for $ty {
            #[track_caller]
            fn with_name(name: impl Into<Cow<'static, str>>) -> Self {
                <$ty>::with_name(name)
            }
            fn name(&self) -> Option<&str> {
                <$ty>::name(self)
            }
        }
    )*};
}

/// Implements [`NamedCondvar`] for std's and parking_lot's: the name is dropped.
#[cfg(any(feature = "off", not(feature = "profiler")))]
macro_rules! named_condvar_by_new {
    ($($ty:ty),* $(,)?) => {$(
        impl NamedCondvar for $ty {
            fn with_name(_name: impl Into<Cow<'static, str>>) -> Self {
                <$ty>::new()
            }
            fn name(&self) -> Option<&str> {
                None
            }
        }
    )*};
}

#[cfg(all(feature = "profiler", not(feature = "off")))]
named_condvar_by_inherent!(crate::Condvar);

#[cfg(all(feature = "profiler", not(feature = "off"), feature = "parking_lot"))]
named_condvar_by_inherent!(crate::parking_lot::Condvar);

#[cfg(any(feature = "off", not(feature = "profiler")))]
named_condvar_by_new!(std::sync::Condvar);

#[cfg(all(any(feature = "off", not(feature = "profiler")), feature = "parking_lot"))]
named_condvar_by_new!(::parking_lot::Condvar);
