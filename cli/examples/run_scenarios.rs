//! Small programs for the tests of `lockprof run` (`run_scenarios NAME [ARGS]`), run as child
//! processes under `lockprof run`. An example of the CLI package, built by `cargo test` with the
//! lock crate as a dev-dependency: the `lockprof` binary itself links no part of lockprof's
//! runtime.
//!
//! - `abba`: two threads take locks "A" and "B" in opposite orders (a `std::sync::Barrier`, not
//!   instrumented, makes both hold their first lock first): a deadlock on every run, which
//!   lockprof ends by panicking a thread; exits 3.
//! - `ordered`: four threads hammer three locks, always in the same order: heavy contention, no
//!   finding; exits 0.
//! - `condvar-hang`: waits on a `std::sync::Condvar` that is never notified: a hang that no
//!   lock cycle explains.
//! - `held-hang`: the main thread waits for a lock whose holder waits on such a condvar: a wait
//!   on a lockprof lock that never ends, and no cycle.
//! - `exit CODE`: takes a lock, then exits with `CODE`.
//! - `cat`: copies standard input to standard output.
//! - `fan-out N SCENARIO [ARGS]`: runs `N` copies of another scenario as child processes, at the
//!   same time, and exits with the highest of their exit codes.
//!
//! Each prints `scenario NAME: ...` on stdout first, so a test can tell its output from what
//! `lockprof run` prints after it.

use std::io::Write;
use std::process::{Command, ExitCode};
use std::sync::{Arc, Barrier, Condvar};
use std::thread;

use lockprof::Mutex;

/// This program's name in its messages.
const COMMAND: &str = "run_scenarios";

/// Exit code for a scenario that could not run (unknown name, bad arguments).
const BAD_SCENARIO: u8 = 64;

/// Runs the scenario `args[0]` with the rest as its arguments; returns the exit code.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ExitCode::from(run(&args))
}

fn run(args: &[String]) -> u8 {
    let (name, rest) = match args.split_first() {
        Some((name, rest)) => (name.as_str(), rest),
        None => ("", &[][..]),
    };
    println!("scenario {name}: start");
    let _ = std::io::stdout().flush();
    match (name, rest) {
        ("abba", []) => abba(),
        ("ordered", []) => ordered(),
        ("condvar-hang", []) => condvar_hang(),
        ("held-hang", []) => held_hang(),
        ("exit", [code]) => match code.parse::<u8>() {
            Ok(code) => exit_with(code),
            Err(_) => bad(&format!("exit code {code:?} is not a number from 0 to 255")),
        },
        ("cat", []) => cat(),
        ("fan-out", [n, scenario @ ..]) if !scenario.is_empty() => match n.parse::<usize>() {
            Ok(n) => fan_out(n, scenario),
            Err(_) => bad(&format!("{n:?} is not a number of processes")),
        },
        _ => bad(&format!("no scenario {args:?}")),
    }
}

fn bad(why: &str) -> u8 {
    eprintln!("{COMMAND}: {why}");
    BAD_SCENARIO
}

fn abba() -> u8 {
    let a = Arc::new(Mutex::with_name(0u32, "A"));
    let b = Arc::new(Mutex::with_name(0u32, "B"));
    let both_hold_one = Arc::new(Barrier::new(2));
    let ab = {
        let (a, b, barrier) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both_hold_one));
        thread::Builder::new().name("ab".into()).spawn(move || {
            let mut first = a.lock().unwrap(); // ACQ ab-first
            barrier.wait();
            let mut second = b.lock().unwrap(); // ACQ ab-second
            *first += 1;
            *second += 1;
        })
    };
    let ba = {
        let (a, b, barrier) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both_hold_one));
        thread::Builder::new().name("ba".into()).spawn(move || {
            let mut first = b.lock().unwrap(); // ACQ ba-first
            barrier.wait();
            let mut second = a.lock().unwrap(); // ACQ ba-second
            *first += 1;
            *second += 1;
        })
    };
    // If one could not start, the other waits at the barrier for ever: returning ends it.
    let (Ok(ab), Ok(ba)) = (ab, ba) else { return bad("cannot start a thread") };
    // Under lockprof's default policy one thread panics with the deadlock report, which poisons
    // the lock it held, so the other fails too. Either way the program ends instead of hanging.
    let panicked = [ab.join(), ba.join()].iter().filter(|r| r.is_err()).count();
    if panicked > 0 { 3 } else { 0 }
}

fn ordered() -> u8 {
    const THREADS: usize = 4;
    const ITERATIONS: usize = 2_000;
    let locks = Arc::new([
        Mutex::with_name(0u64, "first"),
        Mutex::with_name(0u64, "second"),
        Mutex::with_name(0u64, "third"),
    ]);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let locks = Arc::clone(&locks);
            thread::spawn(move || {
                for i in 0..ITERATIONS {
                    // Always ascending: a non-empty subset of the three locks, in index order.
                    let subset = (i + t) % 7 + 1;
                    let mut guards: Vec<_> =
                        (0..3).filter(|k| subset & (1 << k) != 0).map(|k| locks[k].lock().unwrap()).collect();
                    for guard in &mut guards {
                        **guard += 1;
                    }
                }
            })
        })
        .collect();
    let failed = workers.into_iter().map(thread::JoinHandle::join).filter(Result::is_err).count();
    let total: u64 = locks.iter().map(|l| *l.lock().unwrap()).sum();
    println!("scenario ordered: {total} increments");
    if failed > 0 { 1 } else { 0 }
}

fn condvar_hang() -> u8 {
    // A lockprof lock first, so that this is a process lockprof knows.
    *Mutex::with_name(0u32, "before-the-hang").lock().unwrap() += 1;
    let notified = std::sync::Mutex::new(false);
    let never = Condvar::new();
    println!("scenario condvar-hang: waiting for a notification that never comes");
    let _ = std::io::stdout().flush();
    let mut guard = notified.lock().unwrap_or_else(|e| e.into_inner());
    while !*guard {
        guard = never.wait(guard).unwrap_or_else(|e| e.into_inner());
    }
    0
}

fn held_hang() -> u8 {
    let lock = Arc::new(Mutex::with_name(0u32, "held"));
    let holding = Arc::new(Barrier::new(2));
    let holder = {
        let (lock, holding) = (Arc::clone(&lock), Arc::clone(&holding));
        thread::Builder::new().name("holder".into()).spawn(move || {
            let _held = lock.lock().unwrap_or_else(|e| e.into_inner()); // ACQ holder
            holding.wait();
            let notified = std::sync::Mutex::new(false);
            let never = Condvar::new();
            let mut guard = notified.lock().unwrap_or_else(|e| e.into_inner());
            while !*guard {
                guard = never.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        })
    };
    if holder.is_err() {
        return bad("cannot start a thread");
    }
    holding.wait();
    println!("scenario held-hang: waiting for a lock whose holder never lets it go");
    let _ = std::io::stdout().flush();
    *lock.lock().unwrap_or_else(|e| e.into_inner()) += 1; // ACQ waiter
    0
}

fn exit_with(code: u8) -> u8 {
    *Mutex::with_name(0u32, "exit").lock().unwrap() += 1;
    // `process::exit` runs the exit hook, which writes the trace, as a return from `main` does.
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code))
}

fn cat() -> u8 {
    *Mutex::with_name(0u32, "cat").lock().unwrap() += 1;
    match std::io::copy(&mut std::io::stdin().lock(), &mut std::io::stdout().lock()) {
        Ok(_) => 0,
        Err(e) => bad(&format!("cat: {e}")),
    }
}

fn fan_out(n: usize, scenario: &[String]) -> u8 {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return bad(&format!("cannot find this executable: {e}")),
    };
    let children: Vec<_> = (0..n).map(|_| Command::new(&exe).args(scenario).spawn()).collect();
    let mut worst = 0u8;
    for child in children {
        let code = match child.and_then(|mut c| c.wait()) {
            Ok(status) => status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1),
            Err(e) => bad(&format!("cannot run a child: {e}")),
        };
        worst = worst.max(code);
    }
    worst
}
