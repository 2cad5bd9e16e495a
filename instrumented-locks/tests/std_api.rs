//! `lockprof::Mutex` behaves as `std::sync::Mutex`: the same results from the same calls.

// lockprof compiled out (feature `off`) has nothing to test here: see off.rs.
#![cfg(not(feature = "off"))]

use std::sync::{Arc, TryLockError};
use std::thread;

use lockprof::Mutex;

static GLOBAL: Mutex<u64> = Mutex::new(0);

fn assert_send_sync<T: Send + Sync>() {}
fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

#[test]
fn auto_traits_match_std() {
    assert_send_sync::<Mutex<u64>>();
    assert_send_sync::<Mutex<std::cell::Cell<u64>>>(); // Send but !Sync data: Sync mutex, as std
    assert_unwind_safe::<Mutex<u64>>();
    fn guard_is_sync<T: Sync>() {}
    guard_is_sync::<lockprof::MutexGuard<'static, u64>>();
}

#[test]
fn static_const_new_works() {
    *GLOBAL.lock().unwrap() += 5;
    assert_eq!(*GLOBAL.lock().unwrap(), 5);
    assert_eq!(GLOBAL.site().file(), file!());
}

#[test]
fn debug_output_is_stds() {
    let ours = Mutex::new(vec![1, 2]);
    let std = std::sync::Mutex::new(vec![1, 2]);
    assert_eq!(format!("{ours:?}"), format!("{std:?}"));
    let _held = ours.lock().unwrap();
    let _std_held = std.lock().unwrap();
    assert_eq!(format!("{ours:?}"), format!("{std:?}"));
}

#[test]
fn default_from_into_inner_get_mut() {
    let m: Mutex<String> = Mutex::default();
    assert_eq!(*m.lock().unwrap(), "");
    let mut m = Mutex::from(3);
    *m.get_mut().unwrap() += 1;
    assert_eq!(m.into_inner().unwrap(), 4);
}

#[test]
fn try_lock_would_block_while_held_by_another_thread() {
    let m = Arc::new(Mutex::new(0));
    let held = m.lock().unwrap();
    let m2 = Arc::clone(&m);
    let result = thread::spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock))).join();
    assert!(result.unwrap());
    drop(held);
    assert!(m.try_lock().is_ok());
}

#[test]
fn poisoning_matches_std_and_the_lock_keeps_working() {
    fn poison<M: Send + Sync + 'static>(m: &Arc<M>, lock: fn(&M)) {
        let m = Arc::clone(m);
        let _ = thread::spawn(move || lock(&m)).join();
    }
    let ours = Arc::new(Mutex::new(1));
    let std = Arc::new(std::sync::Mutex::new(1));
    poison(&ours, |m| {
        let _g = m.lock().unwrap();
        panic!("while holding");
    });
    poison(&std, |m| {
        let _g = m.lock().unwrap();
        panic!("while holding");
    });
    assert_eq!(ours.is_poisoned(), std.is_poisoned());
    assert!(ours.is_poisoned());
    // lock() hands the guard out inside the error, and the data is intact.
    let guard = ours.lock().unwrap_err().into_inner();
    assert_eq!(*guard, 1);
    drop(guard);
    assert!(matches!(ours.try_lock(), Err(TryLockError::Poisoned(_))));
    ours.clear_poison();
    assert!(!ours.is_poisoned());
    *ours.lock().unwrap() += 1;
    assert_eq!(*ours.lock().unwrap(), 2);
}

#[test]
fn a_guard_taken_while_already_panicking_does_not_poison() {
    struct LockOnDrop(Arc<Mutex<u32>>);
    impl Drop for LockOnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() += 1;
        }
    }
    let m = Arc::new(Mutex::new(0));
    let m2 = Arc::clone(&m);
    let _ = thread::spawn(move || {
        let _d = LockOnDrop(m2);
        panic!("unwinding drops LockOnDrop");
    })
    .join();
    assert!(!m.is_poisoned(), "std does not poison here either");
    assert_eq!(*m.lock().unwrap(), 1);
}

#[test]
fn into_inner_and_get_mut_report_poison() {
    let m = Arc::new(Mutex::new(9));
    let m2 = Arc::clone(&m);
    let _ = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("poison");
    })
    .join();
    let mut m = Arc::try_unwrap(m).unwrap();
    assert_eq!(*m.get_mut().unwrap_err().into_inner(), 9);
    assert_eq!(m.into_inner().unwrap_err().into_inner(), 9);
}

#[test]
fn guard_display_and_debug_forward_to_the_data() {
    let m = Mutex::new(5);
    let g = m.lock().unwrap();
    assert_eq!(format!("{g} {g:?}"), "5 5");
}
