//! `lockprof report TRACE [--sort KEY] [--top N] [--format text|json|html] [-o OUT]`: the whole
//! trace as a person reads it (text, or one self-contained HTML page: [`crate::html`]), or its
//! findings and contention figures for a program (JSON).
//!
//! The contention table is sorted by `--sort` (`wait`: total wait, the default; `max-wait`;
//! `contended`; `hold`: contended hold time; `acquisitions`), and it and the lists of top stacks
//! are cut at `--top N` (default 10).
//!
//! # The JSON report
//!
//! One object, pretty-printed; within `version` 1 fields are only added:
//!
//! ```json
//! {
//!   "format": "lockprof-report",
//!   "version": 1,
//!   "trace": "fixtures/traces/hot_counter_long.json",
//!   "process": { "pid": 4242, "command": ["hot_counter", "long"], "reason": "exit" },
//!   "findings": [
//!     { "rule": "deadlock", "fails_by_default": true, "title": "...",
//!       "sites": [ { "file": "src/main.rs", "line": 34, "column": 36, "role": "..." } ] }
//!   ],
//!   "contention": {
//!     "sort": "wait", "top": 10, "sample": 1,
//!     "locks_profiled": 2, "locks_contended": 1, "locks_omitted": 0, "dropped_stacks": 0,
//!     "locks": [
//!       { "id": 1, "label": "#1 \"hot\" (src/main.rs:56)", "kind": "mutex",
//!         "site": { "file": "src/main.rs", "line": 56, "column": 45 }, "name": "hot",
//!         "acquisitions": 15001, "contended": 163, "wait_ns": 146439484,
//!         "max_wait_ns": 12687080, "mean_wait_ns": 898401, "hold_ns": 2832065 }
//!     ],
//!     "waiting_stacks": [
//!       { "lock": 1, "label": "#1 \"hot\" (src/main.rs:56)", "stack": 0, "count": 163, "ns": 146439484,
//!         "frames": [ { "function": "hot_counter::bump_hot_counter", "file": "src/main.rs", "line": 37 } ] }
//!     ],
//!     "waiting_stacks_omitted": 0,
//!     "holding_stacks": [ ... ],
//!     "holding_stacks_omitted": 0
//!   }
//! }
//! ```
//!
//! - `findings`: every finding of the trace ([`lockprof_analysis::findings`]), in report order,
//!   each with its rule id (as `check --fail-on` and suppressions name it), whether it fails
//!   `check` by default, its one-line title, and its sites with what happens at each.
//! - `contention`: `null` if the trace has no contention profile. `locks` are the first `top`
//!   locks in `sort` order (ties by label), `locks_omitted` the rest; `label` is how the text
//!   report and flamegraphs name the lock; `name` is `null` for an unnamed lock; times are in
//!   nanoseconds; `mean_wait_ns` is `wait_ns / contended` (0 if never contended).
//! - `waiting_stacks` and `holding_stacks`: the first `top` stacks by `ns` (total wait; for
//!   holders, how long they kept others waiting), each with all its frames, innermost first
//!   (`file` and `line` are `null` when unknown).

use std::io::{self, Write};
use std::path::Path;

use lockprof_analysis::findings::findings;
use lockprof_analysis::report::{self, ContentionOptions, SortBy, contention_rows};
use lockprof_trace::LockKind;
use lockprof_trace::schema::{Frame, Site, StackContention, Trace, WriteReason};
use serde::Serialize;

use crate::input::load;
use crate::output::{dispose, write_file};
use crate::profile::Index;
use crate::shorten::shorten_lock_labels;
use crate::{Error, Status};

/// The output format of `lockprof report`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// The report as a person reads it.
    #[default]
    Text,
    /// A JSON object of the findings and the contention figures (see the module's docs).
    Json,
    /// One self-contained HTML page: findings, each cycle drawn, the contention table sortable,
    /// the flamegraph ([`crate::html`]).
    Html,
}

/// The sort key of the contention table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    /// Total wait.
    #[default]
    Wait,
    /// Longest single wait.
    MaxWait,
    /// Acquisitions that had to wait.
    Contended,
    /// Contended hold time: how long holders kept others waiting.
    Hold,
    /// All acquisitions.
    Acquisitions,
}

impl Sort {
    fn by(self) -> SortBy {
        match self {
            Sort::Wait => SortBy::Wait,
            Sort::MaxWait => SortBy::MaxWait,
            Sort::Contended => SortBy::Contended,
            Sort::Hold => SortBy::Hold,
            Sort::Acquisitions => SortBy::Acquisitions,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Sort::Wait => "wait",
            Sort::MaxWait => "max-wait",
            Sort::Contended => "contended",
            Sort::Hold => "hold",
            Sort::Acquisitions => "acquisitions",
        }
    }
}

/// How `lockprof report` shows a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// Text or JSON.
    pub format: ReportFormat,
    /// The contention table's sort key.
    pub sort: Sort,
    /// How many locks and stacks of each list to show.
    pub top: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { format: ReportFormat::Text, sort: Sort::Wait, top: ContentionOptions::default().top }
    }
}

/// Writes the report of the trace at `path` to `out`. A readable trace is a success whatever it
/// contains; use [`check`](crate::commands::check) for a verdict.
pub fn run(path: &Path, options: &ReportOptions, out: &mut dyn Write) -> Result<Status, Error> {
    run_to(path, options, None, out)
}

/// [`run`], writing to the file `output` (whole or not at all) instead of `out` if there is one.
pub fn run_to(
    path: &Path,
    options: &ReportOptions,
    output: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Status, Error> {
    let mut trace = load(path)?;
    if options.format == ReportFormat::Text {
        shorten_lock_labels(&mut trace);
    }
    let source = path.display().to_string();
    let result = match output {
        Some(file) => {
            let mut text = Vec::new();
            write_report(&trace, &source, path, options, &mut text)
                .and_then(|()| write_file(file, |w| w.write_all(&text)))
        }
        None => write_report(&trace, &source, path, options, out),
    };
    dispose(trace);
    result.map(|()| Status::Success)
}

/// Writes the report of `trace` (read from `path`, named `source`) in `options.format`.
fn write_report(
    trace: &Trace,
    source: &str,
    path: &Path,
    options: &ReportOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    match options.format {
        ReportFormat::Text => {
            let contention = ContentionOptions { sort: options.sort.by(), top: options.top };
            out.write_all(report::render_with(trace, source, &contention).as_bytes())?;
        }
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &json_report(trace, source, options))
                .map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
        ReportFormat::Html => out.write_all(crate::html::render(trace, source, path)?.as_bytes())?,
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'t> {
    format: &'static str,
    version: u32,
    trace: &'t str,
    process: JsonProcess<'t>,
    findings: Vec<JsonFinding>,
    contention: Option<JsonContention<'t>>,
}

#[derive(Serialize)]
struct JsonProcess<'t> {
    pid: u32,
    command: &'t [String],
    reason: WriteReason,
}

#[derive(Serialize)]
struct JsonFinding {
    rule: &'static str,
    fails_by_default: bool,
    title: String,
    sites: Vec<JsonSite>,
}

#[derive(Serialize)]
struct JsonSite {
    file: String,
    line: u32,
    column: u32,
    role: String,
}

#[derive(Serialize)]
struct JsonContention<'t> {
    sort: &'static str,
    top: usize,
    sample: u64,
    locks_profiled: usize,
    locks_contended: usize,
    locks_omitted: usize,
    dropped_stacks: u64,
    locks: Vec<JsonLock<'t>>,
    waiting_stacks: Vec<JsonStack<'t>>,
    waiting_stacks_omitted: usize,
    holding_stacks: Vec<JsonStack<'t>>,
    holding_stacks_omitted: usize,
}

#[derive(Serialize)]
struct JsonLock<'t> {
    id: u64,
    label: String,
    kind: Option<LockKind>,
    site: Option<&'t Site>,
    name: Option<&'t str>,
    acquisitions: u64,
    contended: u64,
    wait_ns: u64,
    max_wait_ns: u64,
    mean_wait_ns: u64,
    hold_ns: u64,
}

#[derive(Serialize)]
struct JsonStack<'t> {
    lock: u64,
    label: String,
    stack: u32,
    count: u64,
    ns: u64,
    frames: &'t [Frame],
}

/// The JSON report of `trace` (read from `source`).
fn json_report<'t>(trace: &'t Trace, source: &'t str, options: &ReportOptions) -> JsonReport<'t> {
    let findings = findings(trace)
        .into_iter()
        .map(|f| JsonFinding {
            rule: f.kind.rule_id(),
            fails_by_default: f.kind.fails_by_default(),
            title: f.title,
            sites: f
                .sites
                .into_iter()
                .map(|s| JsonSite {
                    file: s.site.file,
                    line: s.site.line,
                    column: s.site.column,
                    role: s.role,
                })
                .collect(),
        })
        .collect();
    let contention = trace.contention.as_ref().map(|contention| {
        let index = Index::new(trace);
        let rows = contention_rows(trace, options.sort.by());
        let locks_contended = rows.iter().filter(|(l, _)| l.contended > 0).count();
        let locks_profiled = rows.len();
        let locks = rows
            .into_iter()
            .take(options.top)
            .map(|(l, label)| {
                let lock = index.lock(l.lock);
                JsonLock {
                    id: l.lock,
                    label,
                    kind: lock.map(|lock| lock.kind),
                    site: lock.map(|lock| &lock.site),
                    name: lock.and_then(|lock| lock.name.as_deref()),
                    acquisitions: l.acquisitions,
                    contended: l.contended,
                    wait_ns: l.wait_ns,
                    max_wait_ns: l.max_wait_ns,
                    mean_wait_ns: l.wait_ns.checked_div(l.contended).unwrap_or(0),
                    hold_ns: l.hold_ns,
                }
            })
            .collect();
        let stacks = |table: &'t [StackContention]| {
            let mut top: Vec<&StackContention> = table.iter().collect();
            top.sort_by(|a, b| b.ns.cmp(&a.ns).then_with(|| (a.lock, a.stack).cmp(&(b.lock, b.stack))));
            let shown: Vec<JsonStack<'t>> = top
                .iter()
                .take(options.top)
                .map(|row| JsonStack {
                    lock: row.lock,
                    label: index.label(row.lock),
                    stack: row.stack,
                    count: row.count,
                    ns: row.ns,
                    frames: index.stack(row.stack).map(|s| &s.frames[..]).unwrap_or_default(),
                })
                .collect();
            let omitted = table.len() - shown.len();
            (shown, omitted)
        };
        let (waiting_stacks, waiting_stacks_omitted) = stacks(&contention.waiters);
        let (holding_stacks, holding_stacks_omitted) = stacks(&contention.holders);
        JsonContention {
            sort: options.sort.name(),
            top: options.top,
            sample: contention.sample,
            locks_profiled,
            locks_contended,
            locks_omitted: locks_profiled.saturating_sub(options.top),
            dropped_stacks: contention.dropped_stacks,
            locks,
            waiting_stacks,
            waiting_stacks_omitted,
            holding_stacks,
            holding_stacks_omitted,
        }
    });
    JsonReport {
        format: "lockprof-report",
        version: 1,
        trace: source,
        process: JsonProcess {
            pid: trace.process.pid,
            command: &trace.process.command,
            reason: trace.process.reason,
        },
        findings,
        contention,
    }
}
