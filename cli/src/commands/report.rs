//! `lockprof report TRACE`: the whole trace as a person reads it.

use std::io::Write;
use std::path::Path;

use lockprof_profiler::report;
use lockprof_profiler::trace::load::load;

use crate::{Error, Status};

/// Writes the report of the trace at `path` to `out`. A readable trace is a success whatever it
/// contains; use [`check`](crate::commands::check) for a verdict.
pub fn run(path: &Path, out: &mut dyn Write) -> Result<Status, Error> {
    let trace = load(path)?;
    out.write_all(report::render(&trace, &path.display().to_string()).as_bytes())?;
    Ok(Status::Success)
}
