//! `lockprof merge TRACE... [-o MERGED]`: the traces of several processes (the test binaries of
//! one `cargo test`, CI shards) as one trace, for one report, one check or one flamegraph. The
//! merge itself is [`lockprof_trace::merge`]: threads stay per process, locks are
//! identified across processes by creation site, name and kind, identical stacks are stored once,
//! deadlocks and lock-order edges are combined.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use lockprof_trace::merge::merge;
use lockprof_trace::schema::Trace;

use crate::input::load;
use crate::{Error, Status};

/// Merges the traces at `paths` and writes the result to `output` (stdout if `None`); a
/// one-line account goes to `log`. All inputs are read before anything is written.
pub fn run(
    paths: &[PathBuf],
    output: Option<&Path>,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<Status, Error> {
    let traces = paths
        .iter()
        .map(|path| load(path).map(|trace| (path.display().to_string(), trace)))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = merge(traces.iter().map(|(label, trace)| (label.as_str(), trace)));
    match output {
        Some(path) => {
            write_trace(path, &merged).map_err(|error| Error::Write { path: path.to_path_buf(), error })?;
            writeln!(log, "lockprof merge: {} into {}", describe(traces.len(), &merged), path.display())?;
        }
        None => {
            // Standard output is line-buffered: without a buffer of its own, pretty JSON is a
            // `write` call per line.
            let mut buffered = io::BufWriter::with_capacity(lockprof_trace::write::BUFFER_BYTES, &mut *out);
            serde_json::to_writer_pretty(&mut buffered, &merged).map_err(io::Error::from)?;
            buffered.write_all(b"\n")?;
            buffered.flush()?;
        }
    }
    Ok(Status::Success)
}

/// `merged 3 traces (4 locks, 6 threads, 1 deadlock)`.
pub fn describe(inputs: usize, merged: &Trace) -> String {
    let plural = |n: usize, noun: &str| if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") };
    format!(
        "merged {} ({}, {}, {})",
        plural(inputs, "trace"),
        plural(merged.locks.len(), "lock"),
        plural(merged.threads.len(), "thread"),
        plural(merged.deadlocks.len(), "deadlock")
    )
}

/// Writes `trace` to `path` as lockprof does ([`lockprof_trace::write`]): pretty JSON, to a
/// temporary file in the target's directory renamed over it (so a reader never sees half a
/// trace), or straight into a character device or FIFO.
pub fn write_trace(path: &Path, trace: &Trace) -> io::Result<()> {
    lockprof_trace::write::write_atomically(path, trace)
}
