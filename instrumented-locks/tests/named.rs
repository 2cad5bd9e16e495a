//! Code that names its locks compiles, warning-free, both with lockprof on and compiled out
//! (feature `off`): this file is built in both modes (`#![deny(warnings)]` keeps it honest).

#![deny(warnings)]

use lockprof::prelude::*;

struct Bank {
    ledger: Mutex<Vec<i64>>,
    routes: RwLock<Vec<&'static str>>,
    pool: Semaphore,
}

fn bank() -> Bank {
    Bank {
        ledger: Mutex::with_name(Vec::new(), "ledger"),
        routes: RwLock::with_name(vec!["/"], "routes"),
        pool: Semaphore::with_name(2, "pool"),
    }
}

/// Any lock `Named` can make.
fn make<L: Named<Value = u32>>(name: &'static str) -> L {
    L::with_name(7, name)
}

#[test]
fn names_made_at_run_time_and_condvar_names_work_in_either_mode() {
    let accounts: Vec<Mutex<u64>> = (0..3).map(|n| Mutex::with_name(0, format!("account-{n}"))).collect();
    *accounts[2].lock().unwrap() += 5;
    let pool = Semaphore::with_name(1, String::from("pool-") + "b");
    let ready = Condvar::with_name("ready");
    let queue = Condvar::with_name(format!("queue-{}", 1));
    ready.notify_all();
    queue.notify_one();
    let names = (Named::name(&accounts[2]), Named::name(&pool), NamedCondvar::name(&queue));
    if cfg!(feature = "off") {
        assert_eq!(names, (None, None, None));
    } else {
        assert_eq!(names, (Some("account-2"), Some("pool-b"), Some("queue-1")));
    }
}

#[test]
fn named_locks_work_in_either_mode() {
    let bank = bank();
    bank.ledger.lock().unwrap().push(10);
    assert_eq!(bank.routes.read().unwrap().len(), 1);
    let permit = bank.pool.acquire();
    assert_eq!(bank.pool.available_permits(), 1);
    drop(permit);
    let counter: Mutex<u32> = make("counter");
    assert_eq!(*counter.lock().unwrap(), 7);

    let names = (
        Named::name(&bank.ledger),
        Named::name(&bank.routes),
        Named::name(&bank.pool),
        Named::name(&counter),
    );
    if cfg!(feature = "off") {
        assert_eq!(names, (None, None, None, None));
    } else {
        assert_eq!(names, (Some("ledger"), Some("routes"), Some("pool"), Some("counter")));
    }
}

#[cfg(feature = "parking_lot")]
#[test]
fn named_parking_lot_locks_work_in_either_mode() {
    use lockprof::parking_lot::{Mutex, ReentrantMutex, RwLock};
    let m: Mutex<u32> = make("pl-mutex");
    let r: RwLock<u32> = make("pl-rwlock");
    let re: ReentrantMutex<u32> = make("pl-reentrant");
    assert_eq!(*m.lock() + *r.read() + *re.lock(), 21);
    let expected = if cfg!(feature = "off") { None } else { Some("pl-mutex") };
    assert_eq!(Named::name(&m), expected);
}
