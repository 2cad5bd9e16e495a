//! `lockprof graph TRACE [-o OUT]`: the lock-order graph, and the wait-for cycle of every
//! deadlock, as Graphviz DOT ([`crate::dot`]): `lockprof graph t.json | dot -Tsvg > graph.svg`.
//!
//! Edges on a deadlock cycle, actual or potential, are red; edges on a cycle that a gate lock
//! makes harmless are orange and dashed. Output goes to `OUT`, written whole or not at all, or
//! to standard output.

use std::io::Write;
use std::path::{Path, PathBuf};

use lockprof_analysis::potential_deadlocks::analyse;

use crate::commands::flamegraph::plural;
use crate::input::load;
use crate::output::{dispose, write_to};
use crate::profile::printable;
use crate::{Error, Status, dot, lock_graph};

/// Where `lockprof graph` writes.
#[derive(Debug, Clone, Default)]
pub struct GraphOptions {
    /// The output file (standard output if `None`).
    pub output: Option<PathBuf>,
}

/// The DOT document of the trace at `path` (read from `source`).
pub fn render(trace: &lockprof_trace::schema::Trace, source: &str) -> String {
    let analysis = analyse(trace);
    let order = lock_graph::lock_order(trace, &analysis);
    let deadlocks: Vec<_> = trace
        .deadlocks
        .iter()
        .enumerate()
        .map(|(i, d)| lock_graph::deadlock_cycle(trace, d, &format!("d{}_", i + 1)))
        .collect();
    dot::document(&printable(&format!("lockprof graph: {source}")), &order, &deadlocks)
}

/// Writes the graph of the trace at `path`; a one-line account of a written file goes to `log`.
pub fn run(
    path: &Path,
    options: &GraphOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<Status, Error> {
    let trace = load(path)?;
    let text = render(&trace, &path.display().to_string());
    write_to(options.output.as_deref(), out, |w| w.write_all(text.as_bytes()))?;
    if let Some(file) = &options.output {
        writeln!(
            log,
            "lockprof graph: {} and {} into {} (try: dot -Tsvg {} -o graph.svg)",
            plural(trace.lock_order.len(), "lock-order edge"),
            plural(trace.deadlocks.len(), "deadlock"),
            file.display(),
            file.display()
        )?;
    }
    dispose(trace);
    Ok(Status::Success)
}
