//! How the demo program ended, read from its exit code (the numbers its `main` returns in
//! `fixtures/src/bin/lockprof-demo.rs`).

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
