//! Why a command could not give an answer. Every error prints as exactly one line, so that
//! `lockprof: error: <path>: <reason>` is the whole of what a failing run writes to stderr.

use std::fmt;
use std::path::PathBuf;

use lockprof_trace::input::InputError;
use lockprof_trace::load::{LoadError, TraceError};

use crate::input::RAISE_HINT;

/// An error that ends a command with [`Error::EXIT_CODE`].
#[derive(Debug)]
pub enum Error {
    /// A trace named on the command line could not be read; its `Display` is `<path>: <reason>`.
    Trace(LoadError),
    /// Writing the command's output failed (other than the reader going away, which is not an
    /// error: see [`crate::output::PipeSafe`]).
    Output(std::io::Error),
    /// `lockprof demo` did not show what it is meant to show.
    Demo(String),
    /// The suppression file could not be read or is not valid; the message starts with
    /// `<path>:<line>:` (or `<path>:` when it is about the whole file).
    Suppressions(String),
    /// A combination of options that the command line parser cannot rule out by itself.
    Usage(String),
    /// `lockprof run` could not start the command, or could not collect what it left.
    Run(String),
    /// A readable trace lacks what the command needs (a contention profile, a timeline); its
    /// `Display` is `<path>: <why>`.
    Input {
        /// The trace.
        path: PathBuf,
        /// What it lacks.
        why: String,
    },
    /// An output file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

impl Error {
    /// The exit code of a command that ended with an error.
    pub const EXIT_CODE: u8 = 2;
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = match self {
            Error::Trace(error) => match &error.error {
                TraceError::Input(InputError::TooLarge { .. }) => format!("{error} ({RAISE_HINT})"),
                _ => error.to_string(),
            },
            Error::Output(error) => format!("cannot write the output: {error}"),
            Error::Demo(why) => format!("demo: {why}"),
            Error::Suppressions(why) => why.clone(),
            Error::Usage(why) => why.clone(),
            Error::Run(why) => format!("run: {why}"),
            Error::Input { path, why } => format!("{}: {why}", path.display()),
            Error::Write { path, error } => format!("{}: cannot write it: {error}", path.display()),
        };
        f.write_str(&one_line(&message))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Trace(error) => Some(error),
            Error::Output(error) | Error::Write { error, .. } => Some(error),
            Error::Demo(_)
            | Error::Suppressions(_)
            | Error::Usage(_)
            | Error::Run(_)
            | Error::Input { .. } => None,
        }
    }
}

impl From<LoadError> for Error {
    fn from(error: LoadError) -> Self {
        Error::Trace(error)
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Output(error)
    }
}

/// `message` with line breaks and other control characters escaped, so that it stays on one
/// line whatever a file name or a file's content put into it.
///
/// ```
/// assert_eq!(lockprof_cli::error::one_line("a\nb\tc"), "a\\nb\\tc");
/// ```
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_every_control_character() {
        assert_eq!(one_line("x\r\ny\u{1b}[31m"), "x\\r\\ny\\u{1b}[31m");
        assert_eq!(one_line("plain → text"), "plain → text");
    }
}
