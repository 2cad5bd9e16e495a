//! `lockprof::parking_lot` behaves as `parking_lot`: every scenario here runs against both, in
//! the same test, and must give the same results.

#![cfg(all(feature = "parking_lot", not(feature = "off")))]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The real thing.
mod real {
    pub use ::parking_lot::*;
}

/// lockprof's instrumented flavour.
mod ours {
    pub use lockprof::parking_lot::*;
}

const SHORT: Duration = Duration::from_millis(3);

macro_rules! mutex_scenario {
    ($m:ident) => {{
        let mut out: Vec<String> = Vec::new();
        let m = Arc::new($m::Mutex::new(1u32));
        out.push(format!("{m:?} locked={}", m.is_locked()));
        {
            let mut g = m.lock();
            *g += 1;
            out.push(format!("{m:?} {g:?} {g} locked={}", m.is_locked()));
            out.push(format!("try_lock={:?}", m.try_lock().map(|g| *g)));
            // Timed, on a lock this thread holds: times out, no deadlock.
            out.push(format!("try_lock_for={:?}", m.try_lock_for(SHORT).map(|g| *g)));
            out.push(format!("try_lock_until={:?}", m.try_lock_until(Instant::now() + SHORT).map(|g| *g)));
            let m2 = Arc::clone(&m);
            let other = thread::spawn(move || {
                (m2.try_lock().is_some(), m2.try_lock_for(SHORT).is_some(), m2.is_locked())
            });
            out.push(format!("other thread: {:?}", other.join().unwrap()));
            // SAFETY: this thread holds the lock.
            out.push(format!("data_ptr={}", unsafe { *m.data_ptr() }));
            out.push(format!("guard's mutex is m: {}", std::ptr::eq($m::MutexGuard::mutex(&g), &*m)));
        }
        out.push(format!("try_lock_for={:?}", m.try_lock_for(SHORT).map(|g| *g)));
        out.push(format!("try_lock_until={:?}", m.try_lock_until(Instant::now()).map(|g| *g)));
        let mut m = Arc::try_unwrap(m).unwrap();
        *m.get_mut() += 10;
        out.push(format!("into_inner={}", m.into_inner()));
        out.push(format!("{:?} {:?}", $m::Mutex::<Vec<u8>>::default(), $m::Mutex::from("x")));
        static S: $m::Mutex<u8> = $m::const_mutex(4);
        *S.lock() += 1;
        out.push(format!("static={:?} alt={:#?}", S, $m::Mutex::new([1, 2])));
        let unsized_: &$m::Mutex<[u8]> = &$m::Mutex::new([1u8, 2, 3]);
        out.push(format!("unsized={:?}", &*unsized_.lock()));
        out
    }};
}

#[test]
fn mutex_gives_parking_lots_results() {
    assert_eq!(mutex_scenario!(real), mutex_scenario!(ours));
}

macro_rules! rwlock_scenario {
    ($m:ident) => {{
        let mut out: Vec<String> = Vec::new();
        let l = Arc::new($m::RwLock::new(vec![1u32]));
        let state = |l: &$m::RwLock<Vec<u32>>| {
            format!(
                "{l:?} locked={} exclusive={} try_read={} try_write={} try_up={}",
                l.is_locked(),
                l.is_locked_exclusive(),
                l.try_read().is_some(),
                l.try_write().is_some(),
                l.try_upgradable_read().is_some()
            )
        };
        out.push(state(&l));
        {
            let r1 = l.read();
            let r2 = l.read();
            let r3 = l.read_recursive();
            out.push(format!("{r1:?} {r2:?} {r3:?} {}", state(&l)));
            out.push(format!(
                "try_write_for={} try_read_for={} try_read_recursive={}",
                l.try_write_for(SHORT).is_some(),
                l.try_read_for(SHORT).is_some(),
                l.try_read_recursive().is_some()
            ));
            let l2 = Arc::clone(&l);
            let other = thread::spawn(move || {
                (
                    l2.try_write_until(Instant::now() + SHORT).is_some(),
                    l2.try_read_until(Instant::now() + SHORT).is_some(),
                    l2.try_read_recursive_for(SHORT).is_some(),
                    l2.try_read_recursive_until(Instant::now() + SHORT).is_some(),
                )
            });
            out.push(format!("other thread while read: {:?}", other.join().unwrap()));
            out.push(format!("guard's lock: {}", std::ptr::eq($m::RwLockReadGuard::rwlock(&r1), &*l)));
        }
        {
            let mut w = l.write();
            w.push(2);
            out.push(format!("{w:?} {}", state(&l)));
            let l2 = Arc::clone(&l);
            let other = thread::spawn(move || {
                (
                    l2.try_read_for(SHORT).is_some(),
                    l2.try_read_recursive_for(SHORT).is_some(),
                    l2.try_upgradable_read_for(SHORT).is_some(),
                    l2.try_upgradable_read_until(Instant::now() + SHORT).is_some(),
                )
            });
            out.push(format!("other thread while written: {:?}", other.join().unwrap()));
            // Downgrade: readers get in, writers do not.
            let r = $m::RwLockWriteGuard::downgrade(w);
            out.push(format!("downgraded {r:?} {}", state(&l)));
        }
        {
            let up = l.upgradable_read();
            out.push(format!("upgradable {up:?} {}", state(&l)));
            let r = l.read();
            let up = match $m::RwLockUpgradableReadGuard::try_upgrade(up) {
                Ok(_) => panic!("upgraded past a reader"),
                Err(up) => up,
            };
            let up = match $m::RwLockUpgradableReadGuard::try_upgrade_for(up, SHORT) {
                Ok(_) => panic!("upgraded past a reader"),
                Err(up) => up,
            };
            let up = match $m::RwLockUpgradableReadGuard::try_upgrade_until(up, Instant::now() + SHORT) {
                Ok(_) => panic!("upgraded past a reader"),
                Err(up) => up,
            };
            out.push(format!("still upgradable after failed upgrades: {}", state(&l)));
            drop(r);
            let mut w = $m::RwLockUpgradableReadGuard::upgrade(up);
            w.push(3);
            out.push(format!("upgraded {w:?} {}", state(&l)));
            let up = $m::RwLockWriteGuard::downgrade_to_upgradable(w);
            out.push(format!("down to upgradable {up:?} {}", state(&l)));
            let w = $m::RwLockUpgradableReadGuard::try_upgrade(up).ok().unwrap();
            out.push(format!("try_upgrade {w:?}"));
            drop(w);
            let up = l.try_upgradable_read().unwrap();
            let w = $m::RwLockUpgradableReadGuard::try_upgrade_for(up, SHORT).ok().unwrap();
            drop(w);
            let up = l.upgradable_read();
            let r = $m::RwLockUpgradableReadGuard::downgrade(up);
            out.push(format!("up downgraded {r:?} {}", state(&l)));
        }
        let mut l = Arc::try_unwrap(l).unwrap();
        l.get_mut().push(4);
        // SAFETY: no guard exists.
        out.push(format!("data_ptr len={}", unsafe { (*l.data_ptr()).len() }));
        out.push(format!("into_inner={:?}", l.into_inner()));
        static S: $m::RwLock<u8> = $m::const_rwlock(1);
        *S.write() += 1;
        out.push(format!("{S:?} {:?} {:?}", $m::RwLock::<u8>::default(), $m::RwLock::from(2u8)));
        out
    }};
}

#[test]
fn rwlock_gives_parking_lots_results() {
    assert_eq!(rwlock_scenario!(real), rwlock_scenario!(ours));
}

macro_rules! reentrant_scenario {
    ($m:ident) => {{
        use std::cell::RefCell;
        let mut out: Vec<String> = Vec::new();
        let m = Arc::new($m::ReentrantMutex::new(RefCell::new(0u32)));
        out.push(format!("{m:?} locked={} owned={}", m.is_locked(), m.is_owned_by_current_thread()));
        {
            let a = m.lock();
            *a.borrow_mut() += 1;
            let b = m.lock();
            *b.borrow_mut() += 1;
            let c = m.try_lock().unwrap();
            let d = m.try_lock_for(SHORT).unwrap();
            let e = m.try_lock_until(Instant::now()).unwrap();
            out.push(format!(
                "{m:?} {a:?} {} locked={} owned={}",
                *e.borrow(),
                m.is_locked(),
                m.is_owned_by_current_thread()
            ));
            let m2 = Arc::clone(&m);
            let other = thread::spawn(move || {
                (
                    m2.try_lock().is_some(),
                    m2.try_lock_for(SHORT).is_some(),
                    m2.is_owned_by_current_thread(),
                    format!("{m2:?}"),
                )
            });
            out.push(format!("other thread: {:?}", other.join().unwrap()));
            // Out of order: only the last guard releases.
            drop(a);
            drop(c);
            out.push(format!("after two drops: locked={}", m.is_locked()));
            drop(e);
            drop(b);
            drop(d);
            out.push(format!("after all drops: locked={}", m.is_locked()));
            out.push(format!(
                "guard's mutex: {}",
                std::ptr::eq($m::ReentrantMutexGuard::remutex(&m.lock()), &*m)
            ));
        }
        let m2 = Arc::clone(&m);
        out.push(format!(
            "other thread, free: {}",
            thread::spawn(move || m2.try_lock().is_some()).join().unwrap()
        ));
        let mut m = Arc::try_unwrap(m).unwrap();
        *m.get_mut().get_mut() += 1;
        // SAFETY: no guard exists.
        out.push(format!("data_ptr={}", unsafe { *(*m.data_ptr()).borrow() }));
        out.push(format!("into_inner={:?}", m.into_inner()));
        static S: $m::ReentrantMutex<u8> = $m::const_reentrant_mutex(3);
        out.push(format!(
            "{S:?} {:?} {:?}",
            $m::ReentrantMutex::<u8>::default(),
            $m::ReentrantMutex::from(9u8)
        ));
        out
    }};
}

#[test]
fn reentrant_mutex_gives_parking_lots_results() {
    assert_eq!(reentrant_scenario!(real), reentrant_scenario!(ours));
}

macro_rules! condvar_scenario {
    ($m:ident) => {{
        let mut out: Vec<String> = Vec::new();
        let cv = $m::Condvar::new();
        out.push(format!(
            "{cv:?} {:?} notify_one={} notify_all={}",
            $m::Condvar::default(),
            cv.notify_one(),
            cv.notify_all()
        ));
        let m = $m::Mutex::new(0u32);
        let mut g = m.lock();
        out.push(format!("wait_for={:?}", cv.wait_for(&mut g, SHORT)));
        out.push(format!("wait_until={:?}", cv.wait_until(&mut g, Instant::now() + SHORT)));
        out.push(format!("wait_until past={:?}", cv.wait_until(&mut g, Instant::now())));
        out.push(format!("wait_while_for false={:?}", cv.wait_while_for(&mut g, |n| *n == 1, SHORT)));
        out.push(format!("wait_while_for true={:?}", cv.wait_while_for(&mut g, |n| *n == 0, SHORT)));
        out.push(format!(
            "wait_while_until true={:?}",
            cv.wait_while_until(&mut g, |n| *n == 0, Instant::now() + SHORT)
        ));
        out.push(format!("still locked: {} value {}", m.is_locked(), *g));
        cv.wait_while(&mut g, |n| *n == 1);
        drop(g);

        // One waiter: `notify_one` says true exactly when one is asleep (no spurious wake-ups).
        let pair = Arc::new(($m::Mutex::new(0u32), $m::Condvar::new()));
        let waiter = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                let mut g = pair.0.lock();
                pair.1.wait(&mut g);
                *g += 1;
                *g
            })
        };
        while !pair.1.notify_one() {
            thread::yield_now();
        }
        out.push(format!("woken waiter saw {}", waiter.join().unwrap()));

        // Three waiters, counted in before they sleep; `notify_all` says how many it woke.
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let pair = Arc::clone(&pair);
                thread::spawn(move || {
                    let mut g = pair.0.lock();
                    *g += 10;
                    let r = pair.1.wait_while_for(&mut g, |n| *n < 100, Duration::from_secs(30));
                    r.timed_out()
                })
            })
            .collect();
        let woken = loop {
            let mut g = pair.0.lock();
            if *g == 31 {
                *g = 100;
                break pair.1.notify_all();
            }
            drop(g);
            thread::yield_now();
        };
        out.push(format!("notify_all woke {woken}"));
        let timed_out: Vec<bool> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        out.push(format!("timed out: {timed_out:?}"));
        out
    }};
}

#[test]
fn condvar_gives_parking_lots_results() {
    assert_eq!(condvar_scenario!(real), condvar_scenario!(ours));
}

#[test]
fn auto_traits_match_parking_lots() {
    use std::cell::Cell;
    fn send_sync<T: Send + Sync>() {}
    fn sync<T: Sync>() {}
    // `Cell` is Send but not Sync: a mutex makes it Sync, as parking_lot's does.
    send_sync::<ours::Mutex<Cell<u8>>>();
    send_sync::<real::Mutex<Cell<u8>>>();
    send_sync::<ours::ReentrantMutex<Cell<u8>>>();
    send_sync::<real::ReentrantMutex<Cell<u8>>>();
    send_sync::<ours::RwLock<u8>>();
    send_sync::<ours::Condvar>();
    sync::<ours::MutexGuard<'static, u8>>();
    sync::<ours::RwLockReadGuard<'static, u8>>();
    sync::<ours::RwLockWriteGuard<'static, u8>>();
    sync::<ours::RwLockUpgradableReadGuard<'static, u8>>();
    sync::<ours::ReentrantMutexGuard<'static, u8>>();
}

macro_rules! mapped_scenario {
    ($m:ident) => {{
        use $m::{
            FairMutex, MappedMutexGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, MutexGuard,
            Once, RwLock, RwLockReadGuard, RwLockWriteGuard,
        };
        let mut out = Vec::new();
        let m = Arc::new(Mutex::new((1, vec![10])));
        {
            let mut v: MappedMutexGuard<'_, Vec<i32>> = MutexGuard::map(m.lock(), |p| &mut p.1);
            v.push(11);
            let mut first = MappedMutexGuard::map(v, |v| &mut v[0]);
            *first += 1;
            out.push(format!("mapped {first} locked {}", m.is_locked()));
        }
        out.push(format!("after {:?} locked {}", *m.lock(), m.is_locked()));
        out.push(format!("try_map none {}", MutexGuard::try_map(m.lock(), |p| p.1.get_mut(9)).is_err()));
        // Another thread gets the mutex while `unlocked` runs, and after a fair unlock.
        let mut g = m.lock();
        let seen = MutexGuard::unlocked(&mut g, || {
            let other = Arc::clone(&m);
            thread::spawn(move || other.lock().0 += 1).join().unwrap();
            m.lock().0
        });
        out.push(format!("unlocked saw {seen} now {}", g.0));
        MutexGuard::bump(&mut g);
        MutexGuard::unlock_fair(g);
        out.push(format!("fair unlocked {}", m.is_locked()));

        let rw = RwLock::new((String::from("a"), 2));
        {
            let name: MappedRwLockReadGuard<'_, String> = RwLockReadGuard::map(rw.read(), |p| &p.0);
            let again = rw.read();
            out.push(format!("read mapped {} {}", *name, again.1));
        }
        {
            let mut n: MappedRwLockWriteGuard<'_, i32> = RwLockWriteGuard::map(rw.write(), |p| &mut p.1);
            *n += 1;
            out.push(format!("write mapped locked {}", rw.is_locked_exclusive()));
        }
        out.push(format!("rw {:?} free {}", *rw.read(), !rw.is_locked()));
        out.push(format!("try_map {}", RwLockReadGuard::try_map(rw.read(), |p| p.0.get(5..)).is_err()));

        let fair = FairMutex::new(0);
        *fair.lock() += 1;
        let once = Once::new();
        let mut runs = 0;
        once.call_once(|| runs += 1);
        once.call_once(|| runs += 1);
        out.push(format!("fair {} once {runs} {:?}", *fair.lock(), once.state().done()));
        out
    }};
}

#[test]
fn mapped_guards_unlocked_fair_mutex_and_once_give_parking_lots_results() {
    assert_eq!(mapped_scenario!(real), mapped_scenario!(ours));
}
