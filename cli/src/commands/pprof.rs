//! `lockprof pprof TRACE [-o OUT]`: the contention profile as a gzipped pprof profile
//! ([`crate::pprof`]), for `go tool pprof -http=: OUT` and other pprof readers.
//!
//! Output goes to `OUT`, written whole or not at all, or to standard output unless that is a
//! terminal (a binary file is no use there: a usage error). A trace without a contention profile
//! is an error (exit 2); a profile in which nothing waited gives a valid profile without samples,
//! and a note on standard error (exit 0).

use std::io::Write;
use std::path::{Path, PathBuf};

use lockprof_analysis::report::duration;

use crate::commands::flamegraph::plural;
use crate::input::load;
use crate::output::{dispose, write_to};
use crate::{Error, Status, pprof, profile};

/// Where `lockprof pprof` writes.
#[derive(Debug, Clone, Default)]
pub struct PprofOptions {
    /// The output file (standard output if `None`).
    pub output: Option<PathBuf>,
    /// Whether standard output is a terminal (then an output file is required).
    pub stdout_is_terminal: bool,
}

/// Writes the pprof profile of the trace at `path`; a one-line account (or a note on an empty
/// profile) goes to `log`.
pub fn run(
    path: &Path,
    options: &PprofOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<Status, Error> {
    if options.output.is_none() && options.stdout_is_terminal {
        return Err(Error::Usage(
            "pprof: the profile is a binary (gzipped) file: give -o FILE, or redirect standard output".into(),
        ));
    }
    let trace = load(path)?;
    let contention = profile::contention(&trace, path)?;
    let profile = pprof::encode(&trace, contention, &path.display().to_string());
    dispose(trace);
    write_to(options.output.as_deref(), out, |w| profile.write_gzipped(w))?;
    if profile.is_empty() {
        writeln!(
            log,
            "lockprof pprof: {}: no contention (no waiting or holding stack), so the profile has no samples",
            path.display()
        )?;
    } else if let Some(file) = &options.output {
        writeln!(
            log,
            "lockprof pprof: {} waiting ({} of waits) and {} holding, {} into {} (try: go tool pprof -http=: {})",
            plural(profile.waiting, "stack"),
            duration(profile.wait_ns),
            plural(profile.holding, "stack"),
            plural(profile.locations, "location"),
            file.display(),
            file.display()
        )?;
    }
    Ok(Status::Success)
}
