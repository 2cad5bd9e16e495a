//! `lockprof::sync` and `lockprof::thread` are one-line swaps for `std::sync` and `std::thread`:
//! one program, using every stable item of `std::sync`, compiles against both and gives the same
//! transcript.

mod with_std {
    use std::sync;
    use std::thread;
    include!("sync_swap/program.rs");
}

mod with_lockprof {
    use lockprof::sync;
    use lockprof::thread;
    include!("sync_swap/program.rs");
}

#[test]
fn the_same_program_behaves_the_same_with_std_and_with_lockprof() {
    let std = with_std::run();
    let lockprof = with_lockprof::run();
    assert_eq!(std, lockprof);
    assert!(std.contains(&"leaders 1".to_owned()), "{std:?}");
}

#[test]
fn the_imports_users_try_first_resolve_at_the_crate_root() {
    use lockprof::{Arc, Mutex, mpsc};
    let total = Arc::new(Mutex::new(0));
    let (tx, rx) = mpsc::channel();
    tx.send(2).unwrap();
    *total.lock().unwrap() += rx.recv().unwrap();
    assert_eq!(*total.lock().unwrap(), 2);
}

/// What a `LazyLock` whose initialiser panicked does afterwards, and an uninitialised `OnceLock`
/// whose initialiser panicked.
macro_rules! poisoned_lazy {
    ($sync:path) => {{
        use std::panic::{AssertUnwindSafe, catch_unwind};
        use $sync as sync;
        let lazy: sync::LazyLock<u32> = sync::LazyLock::new(|| panic!("init failed"));
        let first = catch_unwind(AssertUnwindSafe(|| *lazy)).is_err();
        let again = catch_unwind(AssertUnwindSafe(|| *lazy)).err().and_then(|p| {
            p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned())
        });
        let cell = sync::OnceLock::new();
        let failed =
            catch_unwind(AssertUnwindSafe(|| *cell.get_or_init(|| -> u32 { panic!("no") }))).is_err();
        (first, again, failed, *cell.get_or_init(|| 9))
    }};
}

#[test]
fn a_lazy_whose_initialiser_panicked_stays_poisoned_as_std_s() {
    let std = poisoned_lazy!(std::sync);
    let ours = poisoned_lazy!(lockprof::sync);
    assert_eq!(std, ours);
    assert!(std.1.as_deref().is_some_and(|m| m.contains("poisoned")), "{std:?}");
}
