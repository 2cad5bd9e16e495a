//! The limits on what the CLI reads (`--max-input-size BYTES`, `LOCKPROF_MAX_INPUT`), and the
//! loading of traces under them.
//!
//! Every input is read with bounded memory ([`lockprof_trace::input`]): only regular files (and
//! standard input, `-`) are read, refused from their metadata before they are opened otherwise,
//! and at most the limit is ever read. Traces are limited to [`MAX_BYTES`] (512 MiB; see there
//! why), suppression files to [`SUPPRESSIONS_MAX_BYTES`] (1 MiB: a hand-written file of rules
//! is a few KiB). `--max-input-size`, or else `LOCKPROF_MAX_INPUT`, sets one limit for both.

use std::path::Path;
use std::sync::OnceLock;

use lockprof_trace::load::{LoadError, load_limited};
use lockprof_trace::schema::Trace;

pub use lockprof_trace::load::MAX_BYTES;

use crate::Error;

/// The environment variable that sets the input limit when `--max-input-size` is not given.
pub const ENV: &str = "LOCKPROF_MAX_INPUT";

/// The largest suppression file read unless a limit is set.
pub const SUPPRESSIONS_MAX_BYTES: u64 = 1 << 20;

/// What to say after an error about an input's size.
pub const RAISE_HINT: &str = "raise the limit with --max-input-size BYTES or LOCKPROF_MAX_INPUT";

/// The largest inputs read, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A trace.
    pub trace: u64,
    /// A suppression file.
    pub suppressions: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { trace: MAX_BYTES, suppressions: SUPPRESSIONS_MAX_BYTES }
    }
}

impl Limits {
    /// The limits that `--max-input-size` (`flag`) or else `env` (the value of [`ENV`]) set.
    pub fn from(flag: Option<u64>, env: Option<&str>) -> Result<Limits, Error> {
        let set = match (flag, env) {
            (Some(bytes), _) => Some(bytes),
            (None, Some(text)) => {
                Some(parse_size(text).map_err(|why| Error::Usage(format!("{ENV}={text:?}: {why}")))?)
            }
            (None, None) => None,
        };
        Ok(set.map_or_else(Limits::default, |bytes| Limits { trace: bytes, suppressions: bytes }))
    }
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets the process's limits from `--max-input-size` and [`ENV`]; once, before any input is read.
pub fn configure(flag: Option<u64>) -> Result<(), Error> {
    let env = std::env::var(ENV).ok();
    let limits = Limits::from(flag, env.as_deref())?;
    let _ = LIMITS.set(limits);
    Ok(())
}

/// The limits in force: those [`configure`]d, else the defaults.
pub fn limits() -> Limits {
    LIMITS.get().copied().unwrap_or_default()
}

/// Reads and validates the trace at `path` (`-`: standard input) under [`limits`].
pub fn load(path: &Path) -> Result<Trace, LoadError> {
    load_limited(path, limits().trace)
}

/// Parses a size: a whole number of bytes, or with a binary unit `K`, `M`, `G` (or `KiB`, `MiB`,
/// `GiB`).
///
/// ```
/// use lockprof_cli::input::parse_size;
/// assert_eq!(parse_size("512M"), Ok(512 << 20));
/// assert_eq!(parse_size("1GiB"), Ok(1 << 30));
/// assert_eq!(parse_size("1000"), Ok(1000));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let expected = "expected a number of bytes, optionally with K, M or G: 1000, 64M, 2G";
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(format!("{text:?} is not a size ({expected})"));
    }
    let shift = match unit.trim() {
        "" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        other => return Err(format!("{text:?} has an unknown unit {other:?} ({expected})")),
    };
    let too_large = || format!("{text:?} is more bytes than this machine can address");
    let number: u64 = number.parse().map_err(|_| too_large())?;
    let bytes = number.checked_mul(1 << shift).ok_or_else(too_large)?;
    if bytes == 0 {
        return Err(format!("{text:?}: the limit must be more than zero"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment() {
        assert_eq!(Limits::from(None, None).unwrap(), Limits::default());
        assert_eq!(Limits::from(None, Some("2G")).unwrap(), Limits { trace: 2 << 30, suppressions: 2 << 30 });
        assert_eq!(Limits::from(Some(10), Some("2G")).unwrap().trace, 10);
        let error = Limits::from(None, Some("big")).unwrap_err().to_string();
        assert!(error.contains("LOCKPROF_MAX_INPUT=\"big\""), "{error}");
    }

    #[test]
    fn bad_sizes_say_what_is_expected() {
        for bad in ["", "M", "0", "1.5G", "-1", "10T", "99999999999999999999", "17179869184G"] {
            let error = parse_size(bad).expect_err(bad);
            assert!(!error.contains('\n') && !error.is_empty(), "{bad}: {error}");
        }
    }
}
