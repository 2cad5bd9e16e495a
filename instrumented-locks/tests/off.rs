//! lockprof compiled out (cargo feature `off`): its types are std's and parking_lot's own, so a
//! release build pays nothing; code written for lockprof still compiles.

#![cfg(feature = "off")]

use std::any::TypeId;
use std::mem::size_of;

#[test]
fn the_lock_types_are_literally_stds() {
    assert_eq!(TypeId::of::<lockprof::Mutex<u64>>(), TypeId::of::<std::sync::Mutex<u64>>());
    assert_eq!(TypeId::of::<lockprof::RwLock<u64>>(), TypeId::of::<std::sync::RwLock<u64>>());
    assert_eq!(TypeId::of::<lockprof::Condvar>(), TypeId::of::<std::sync::Condvar>());
    assert_eq!(
        TypeId::of::<lockprof::MutexGuard<'static, u64>>(),
        TypeId::of::<std::sync::MutexGuard<'static, u64>>()
    );
    assert_eq!(
        TypeId::of::<lockprof::RwLockReadGuard<'static, u64>>(),
        TypeId::of::<std::sync::RwLockReadGuard<'static, u64>>()
    );
    assert_eq!(
        TypeId::of::<lockprof::RwLockWriteGuard<'static, u64>>(),
        TypeId::of::<std::sync::RwLockWriteGuard<'static, u64>>()
    );
    assert_eq!(size_of::<lockprof::Mutex<u64>>(), size_of::<std::sync::Mutex<u64>>());
    assert_eq!(size_of::<lockprof::RwLock<u64>>(), size_of::<std::sync::RwLock<u64>>());
    assert_eq!(size_of::<lockprof::Condvar>(), size_of::<std::sync::Condvar>());
    assert_eq!(size_of::<lockprof::MutexGuard<'_, u64>>(), size_of::<std::sync::MutexGuard<'_, u64>>());
}

#[cfg(feature = "parking_lot")]
#[test]
fn the_parking_lot_flavour_is_literally_parking_lots() {
    use lockprof::parking_lot as lp;
    assert_eq!(TypeId::of::<lp::Mutex<u64>>(), TypeId::of::<parking_lot::Mutex<u64>>());
    assert_eq!(TypeId::of::<lp::RwLock<u64>>(), TypeId::of::<parking_lot::RwLock<u64>>());
    assert_eq!(TypeId::of::<lp::ReentrantMutex<u64>>(), TypeId::of::<parking_lot::ReentrantMutex<u64>>());
    assert_eq!(TypeId::of::<lp::Condvar>(), TypeId::of::<parking_lot::Condvar>());
    assert_eq!(
        TypeId::of::<lp::RwLockUpgradableReadGuard<'static, u64>>(),
        TypeId::of::<parking_lot::RwLockUpgradableReadGuard<'static, u64>>()
    );
    assert_eq!(size_of::<lp::Mutex<u64>>(), size_of::<parking_lot::Mutex<u64>>());
    assert_eq!(size_of::<lp::RwLock<u64>>(), size_of::<parking_lot::RwLock<u64>>());
    assert_eq!(size_of::<lp::ReentrantMutex<u64>>(), size_of::<parking_lot::ReentrantMutex<u64>>());
    assert_eq!(size_of::<lp::Condvar>(), size_of::<parking_lot::Condvar>());
    // With lockprof off, `with_name` is `Named`'s, and drops the name.
    use lockprof::Named;
    let m = lp::Mutex::with_name(1, "m");
    let r = lp::RwLock::with_name(2, "r");
    let re = lp::ReentrantMutex::with_name(3, "re");
    assert_eq!(*m.lock() + *r.read() + *re.lock(), 6);
    assert_eq!((m.name(), r.name(), re.name()), (None, None, None));
    static S: lp::Mutex<u8> = lp::const_mutex(0);
    *S.lock() += 1;
}

#[test]
fn code_written_for_lockprof_compiles_and_runs() {
    use lockprof::prelude::*;
    use std::sync::Arc;

    static HITS: Mutex<u64> = Mutex::new(0);
    *HITS.lock().unwrap() += 1;

    let ledger = Arc::new(Mutex::with_name(Vec::<u64>::new(), "ledger"));
    let routes = RwLock::with_name(0u32, "routes");
    assert_eq!(ledger.name(), None);
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = Arc::clone(&pair);
    let t = std::thread::spawn(move || {
        *p.0.lock().unwrap() = true;
        p.1.notify_one();
    });
    let ready = pair.1.wait_while(pair.0.lock().unwrap(), |ready| !*ready).unwrap();
    assert!(*ready);
    t.join().unwrap();
    ledger.lock().unwrap().push(1);
    *routes.write().unwrap() += 1;
    assert_eq!(*routes.read().unwrap(), 1);
}

#[test]
fn the_plain_semaphore_has_the_instrumented_ones_api() {
    use lockprof::{Named, Semaphore};
    use std::sync::Arc;

    static POOL: Semaphore = Semaphore::new(2);
    let a = POOL.acquire();
    assert_eq!(POOL.available_permits(), 1);
    drop(a);

    let pool = Arc::new(Semaphore::with_name(2, "pool"));
    assert_eq!(pool.name(), None);
    assert_eq!(Named::name(&*pool), None);
    let two = pool.acquire_many(2);
    assert_eq!(two.permits(), 2);
    assert!(pool.try_acquire().is_none());
    assert!(pool.try_acquire_many(1).is_none());
    // A waiter gets its permit when one comes back.
    let p = Arc::clone(&pool);
    let waiter = std::thread::spawn(move || p.acquire().permits());
    std::thread::sleep(std::time::Duration::from_millis(10));
    drop(two);
    assert_eq!(waiter.join().unwrap(), 1);
    assert_eq!(pool.available_permits(), 2);
    pool.acquire().forget();
    assert_eq!(pool.available_permits(), 1);
    pool.add_permits(3);
    assert_eq!(pool.available_permits(), 4);
    assert_eq!(format!("{pool:?}"), "Semaphore { available: 4, .. }");
    assert_eq!(format!("{:?}", pool.acquire()), "SemaphorePermit { permits: 1 }");
    let named: Semaphore = Named::with_name(1, "x");
    assert_eq!(named.available_permits(), 1);
}

#[test]
fn nothing_of_the_profiler_runs() {
    let m = lockprof::Mutex::new(0);
    for _ in 0..1000 {
        *m.lock().unwrap() += 1;
    }
    // The profiler never saw a lock: no thread got a lockprof id through a lock call, no wait.
    assert_eq!(lockprof_profiler::wait_episodes(), 0);
    assert_eq!(lockprof_profiler::deadlocks_found(), 0);
}
