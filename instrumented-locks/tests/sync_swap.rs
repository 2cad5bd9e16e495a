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
