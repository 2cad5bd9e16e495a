//! The bundled deadlock that `lockprof demo` runs in a child process (the hidden subcommand
//! [`COMMAND`]): two threads take the named locks "A" and "B" in opposite orders. A
//! `std::sync::Barrier` (not instrumented) makes both hold their first lock before either asks
//! for its second, so the deadlock happens on every run, without sleeps.

use std::panic;
use std::sync::{Arc, Barrier, PoisonError};
use std::thread;

use lockprof::Mutex;

/// The hidden subcommand that runs the scenario.
pub const COMMAND: &str = "__demo-scenario";

/// How the scenario ended, passed to the parent as the child's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// lockprof found the deadlock and stopped a thread of the cycle (the expected end).
    Caught,
    /// Both threads finished although their locks were taken in opposite orders.
    Finished,
    /// A thread panicked, but not because lockprof found a deadlock.
    OtherPanic,
    /// A thread could not be started.
    NoThread,
}

impl Outcome {
    const ALL: [Outcome; 4] = [Outcome::Caught, Outcome::Finished, Outcome::OtherPanic, Outcome::NoThread];

    /// The child's exit code for this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Caught => 0,
            Outcome::Finished => 3,
            Outcome::OtherPanic => 4,
            Outcome::NoThread => 5,
        }
    }

    /// The outcome a child's exit code stands for, if any.
    pub fn from_code(code: i32) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| i32::from(o.code()) == code)
    }

    /// What the outcome means, for the parent's messages.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Caught => "lockprof found the deadlock and stopped a thread of the cycle",
            Outcome::Finished => "both threads finished: lockprof did not stop the deadlock",
            Outcome::OtherPanic => "a thread panicked, but lockprof reported no deadlock",
            Outcome::NoThread => "a thread of the scenario could not be started",
        }
    }
}

/// Runs the scenario in this process. Expects `LOCKPROF_ON_DEADLOCK=panic`, and
/// `LOCKPROF_TRACE` set for the trace.
pub fn run() -> Outcome {
    silence_the_deadlock_panic();

    let a = Arc::new(Mutex::with_name(0u32, "A"));
    let b = Arc::new(Mutex::with_name(0u32, "B"));
    let both_hold_one = Arc::new(Barrier::new(2));

    // Whichever thread closes the cycle panics with the report; its guard unwinds and poisons
    // the lock it held, which the other thread then takes (poisoned) and finishes.
    let ab = {
        let (a, b, barrier) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both_hold_one));
        thread::Builder::new().name("ab".into()).spawn(move || {
            let mut first = a.lock().unwrap_or_else(PoisonError::into_inner);
            barrier.wait();
            let mut second = b.lock().unwrap_or_else(PoisonError::into_inner);
            *first += 1;
            *second += 1;
        })
    };
    let ba = {
        let (a, b, barrier) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both_hold_one));
        thread::Builder::new().name("ba".into()).spawn(move || {
            let mut first = b.lock().unwrap_or_else(PoisonError::into_inner);
            barrier.wait();
            let mut second = a.lock().unwrap_or_else(PoisonError::into_inner);
            *first += 1;
            *second += 1;
        })
    };
    // If one thread could not start, the other waits at the barrier for ever: returning from
    // `main` ends it.
    let (Ok(ab), Ok(ba)) = (ab, ba) else { return Outcome::NoThread };
    let panicked = [ab.join(), ba.join()].iter().filter(|r| r.is_err()).count();
    match (panicked, lockprof_profiler::deadlocks_found()) {
        (0, _) => Outcome::Finished,
        (_, 0) => Outcome::OtherPanic,
        _ => Outcome::Caught,
    }
}

/// The deadlock panic is the expected end of the scenario and the parent prints the report from
/// the trace, so its panic message (and backtrace, under `RUST_BACKTRACE`) would only repeat it.
/// Any other panic is printed as usual.
fn silence_the_deadlock_panic() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message =
            payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
        let is_deadlock_report = message.is_some_and(|m| m.starts_with("lockprof: "));
        if !(is_deadlock_report && lockprof_profiler::deadlocks_found() > 0) {
            default(info);
        }
    }));
}
