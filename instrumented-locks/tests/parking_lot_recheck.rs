//! A deadlock whose last edge forms inside a wait already under way is found by the background
//! re-check. The scenario (an upgradable holder lets go while an upgradable reader and a writer
//! are queued; the writer may take the lock's writer mark first, and then waits for a reader who
//! waits for a mutex the upgradable reader holds) deadlocks in some runs and not in others. What
//! must hold every time: the process never hangs. It either finishes, or the deadlock is
//! reported and the process aborts (LOCKPROF_ON_DEADLOCK=abort).
//!
//! The test runs its own binary as a child process (the scenario is the `scenario` test below,
//! which does nothing unless LOCKPROF_RECHECK_SCENARIO is set), under a time bound.
#![cfg(all(feature = "parking_lot", not(feature = "off")))]

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use lockprof::parking_lot::{Mutex, RwLock};

const SCENARIO_ENV: &str = "LOCKPROF_RECHECK_SCENARIO";

#[test]
fn scenario() {
    if std::env::var_os(SCENARIO_ENV).is_none() {
        return;
    }
    let l = Arc::new(RwLock::with_name(0u32, "recheck-l"));
    let m = Arc::new(Mutex::with_name(0u32, "recheck-m"));
    let release = Arc::new(AtomicBool::new(false));
    let up_held = Arc::new(Barrier::new(2));
    let slow = {
        let (l, release, up_held) = (Arc::clone(&l), Arc::clone(&release), Arc::clone(&up_held));
        thread::spawn(move || {
            let up = l.upgradable_read();
            up_held.wait();
            while !release.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            drop(up);
        })
    };
    up_held.wait();
    let read_held = Arc::new(Barrier::new(2));
    let (go, wanted) = mpsc::channel::<()>();
    let reader = {
        let (l, m, read_held) = (Arc::clone(&l), Arc::clone(&m), Arc::clone(&read_held));
        thread::spawn(move || {
            let r = l.read();
            read_held.wait();
            wanted.recv().unwrap();
            *m.lock() += 1;
            drop(r);
        })
    };
    read_held.wait();
    let m_held = Arc::new(Barrier::new(2));
    let upgradable = {
        let (l, m, m_held) = (Arc::clone(&l), Arc::clone(&m), Arc::clone(&m_held));
        thread::spawn(move || {
            let gm = m.lock();
            m_held.wait();
            let up = l.upgradable_read();
            drop((up, gm));
        })
    };
    m_held.wait();
    // Ordering only (the outcome is checked either way): let the upgradable reader queue, then
    // the writer, then the reader ask for the mutex, then let the slow holder go.
    thread::sleep(Duration::from_millis(50));
    let writer = {
        let l = Arc::clone(&l);
        thread::spawn(move || *l.write() += 1)
    };
    thread::sleep(Duration::from_millis(50));
    go.send(()).unwrap();
    thread::sleep(Duration::from_millis(100));
    release.store(true, Ordering::SeqCst);
    for t in [slow, reader, upgradable, writer] {
        t.join().unwrap();
    }
}

#[test]
fn the_racy_upgrade_scenario_never_hangs_it_finishes_or_is_reported() {
    let exe = std::env::current_exe().unwrap();
    let mut deadlocked = 0;
    for _ in 0..6 {
        let mut child = Command::new(&exe)
            .args(["--exact", "scenario", "--nocapture", "--test-threads", "1"])
            .env(SCENARIO_ENV, "1")
            .env("LOCKPROF_ON_DEADLOCK", "abort")
            .env_remove("LOCKPROF_RECHECK_MS")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let reader = thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut stderr, &mut s).ok();
            s
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("the scenario hung: a deadlock was neither avoided nor reported");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let stderr = reader.join().unwrap();
        if !status.success() {
            assert!(stderr.contains("DEADLOCK"), "ended badly without a report:\n{stderr}");
            deadlocked += 1;
        }
    }
    eprintln!("{deadlocked} of 6 runs deadlocked (and were reported); the rest finished");
}
