//! The size of each lock type against std's (and parking_lot's), as the README's table states
//! them: a change to a lock's header shows here, and the README is updated with it. Pinned for
//! 64-bit Linux, where the table was measured.

#![cfg(all(feature = "profiler", not(feature = "off"), target_os = "linux", target_pointer_width = "64"))]

use std::mem::size_of;

#[test]
fn lock_sizes_are_the_readmes() {
    let sizes = [
        ("Mutex<u64>", size_of::<lockprof::Mutex<u64>>(), size_of::<std::sync::Mutex<u64>>()),
        ("RwLock<u64>", size_of::<lockprof::RwLock<u64>>(), size_of::<std::sync::RwLock<u64>>()),
        ("Condvar", size_of::<lockprof::Condvar>(), size_of::<std::sync::Condvar>()),
        ("Semaphore", size_of::<lockprof::Semaphore>(), 0),
        (
            "MutexGuard<u64>",
            size_of::<lockprof::MutexGuard<'_, u64>>(),
            size_of::<std::sync::MutexGuard<'_, u64>>(),
        ),
    ];
    println!("{sizes:?}");
    assert_eq!(
        sizes,
        [
            ("Mutex<u64>", 96, 16),
            ("RwLock<u64>", 104, 24),
            ("Condvar", 104, 4),
            ("Semaphore", 120, 0),
            ("MutexGuard<u64>", 16, 16),
        ]
    );
}

#[cfg(feature = "parking_lot")]
#[test]
fn parking_lot_lock_sizes_are_the_readmes() {
    use lockprof::parking_lot as lp;
    let sizes = [
        ("Mutex<u64>", size_of::<lp::Mutex<u64>>(), size_of::<parking_lot::Mutex<u64>>()),
        ("RwLock<u64>", size_of::<lp::RwLock<u64>>(), size_of::<parking_lot::RwLock<u64>>()),
        (
            "ReentrantMutex<u64>",
            size_of::<lp::ReentrantMutex<u64>>(),
            size_of::<parking_lot::ReentrantMutex<u64>>(),
        ),
        ("Condvar", size_of::<lp::Condvar>(), size_of::<parking_lot::Condvar>()),
    ];
    println!("{sizes:?}");
    assert_eq!(
        sizes,
        [
            ("Mutex<u64>", 96, 16),
            ("RwLock<u64>", 96, 16),
            ("ReentrantMutex<u64>", 112, 32),
            ("Condvar", 96, 8)
        ]
    );
}
