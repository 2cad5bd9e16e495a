//! Reading a trace back, with errors that say in one line what is wrong with the file.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::input::{InputError, read_limited};
use crate::schema::{TRACE_FORMAT, TRACE_VERSION, Trace};

/// Why a file is not a trace this build can read.
#[derive(Debug)]
pub enum TraceError {
    /// The file could not be read, is not a regular file, or is larger than the limit.
    Input(InputError),
    /// The file is empty.
    Empty,
    /// The JSON stops before it is complete (a crash while writing, or a cut copy).
    Truncated,
    /// The bytes are not JSON (or are nested too deeply to be a trace).
    NotJson(String),
    /// Valid JSON, but not a lockprof trace (no `"format": "lockprof-trace"`).
    Foreign(String),
    /// A lockprof trace from a newer lockprof.
    FutureVersion(u64),
    /// A lockprof trace of a known version whose content does not fit the schema.
    Malformed(String),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Input(e) => e.fmt(f),
            TraceError::Empty => write!(f, "the file is empty"),
            TraceError::Truncated => write!(f, "the file is truncated (its JSON ends early)"),
            TraceError::NotJson(e) => write!(f, "not JSON ({e})"),
            TraceError::Foreign(what) => write!(f, "not a lockprof trace ({what})"),
            TraceError::FutureVersion(v) => write!(
                f,
                "written by a newer lockprof (trace version {v}; this lockprof reads up to {TRACE_VERSION}); upgrade lockprof"
            ),
            TraceError::Malformed(e) => write!(f, "malformed lockprof trace: {e}"),
        }
    }
}

impl std::error::Error for TraceError {}

/// A [`TraceError`] with the path it is about.
#[derive(Debug)]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub error: TraceError,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for LoadError {}

/// The largest trace [`load`] reads: 512 MiB. Loading costs the file's size plus the parsed
/// trace, about as much again (so about 1 GiB at the limit, which a CI runner has); the largest
/// traces lockprof writes are far smaller (its tables are bounded: the synthetic trace of 10,000
/// locks and 100,000 stacks that the benchmark uses is 300 MB), and merges of many runs fit.
/// [`load_limited`] takes another limit.
pub const MAX_BYTES: u64 = 512 << 20;

/// Reads and validates the trace at `path` (standard input if `-`), of at most [`MAX_BYTES`].
pub fn load(path: &Path) -> Result<Trace, LoadError> {
    load_limited(path, MAX_BYTES)
}

/// Reads and validates the trace at `path` (standard input if `-`), which must be a regular file
/// of at most `limit` bytes ([`read_limited`]).
pub fn load_limited(path: &Path, limit: u64) -> Result<Trace, LoadError> {
    let wrap = |error| LoadError { path: path.to_path_buf(), error };
    let bytes = read_limited(path, limit).map_err(|e| wrap(TraceError::Input(e)))?;
    parse(&bytes).map_err(wrap)
}

/// Parses and validates a trace from bytes.
///
/// ```
/// use lockprof_trace::load::{parse, TraceError};
/// assert!(matches!(parse(b""), Err(TraceError::Empty)));
/// assert!(matches!(parse(br#"{"format": "lockprof-trace", "version": 9}"#), Err(TraceError::FutureVersion(9))));
/// ```
pub fn parse(bytes: &[u8]) -> Result<Trace, TraceError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(TraceError::Empty);
    }
    // Fast path: a well-formed trace deserialises straight into the schema types, in one pass
    // and without an intermediate `Value` (several times faster on large traces). Only a file
    // that does not goes through the reading below, which says what is wrong with it.
    if let Ok(trace) = serde_json::from_slice::<Trace>(bytes) {
        if trace.format == TRACE_FORMAT && (1..=TRACE_VERSION).contains(&trace.version) {
            check_references(&trace).map_err(TraceError::Malformed)?;
            return Ok(trace);
        }
    }
    // serde_json refuses nesting deeper than 128 levels with an error rather than recursing
    // without bound, so hostile input cannot overflow the stack here.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| if e.is_eof() { TraceError::Truncated } else { TraceError::NotJson(e.to_string()) })?;
    let object = value
        .as_object()
        .ok_or_else(|| TraceError::Foreign(format!("top level is {}, not an object", kind_of(&value))))?;
    match object.get("format").and_then(|f| f.as_str()) {
        Some(TRACE_FORMAT) => {}
        Some(other) => return Err(TraceError::Foreign(format!("its format is {other:?}"))),
        None => return Err(TraceError::Foreign(format!("no \"format\": \"{TRACE_FORMAT}\" field"))),
    }
    let version = object
        .get("version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| TraceError::Malformed("\"version\" is missing or not a whole number".into()))?;
    if version > u64::from(TRACE_VERSION) {
        return Err(TraceError::FutureVersion(version));
    }
    if version == 0 {
        return Err(TraceError::Malformed("version 0 does not exist".into()));
    }
    // The path (`locks[0].kind: unknown variant ...`) tells the reader where the file is wrong.
    let trace: Trace = serde_path_to_error::deserialize(value)
        .map_err(|e| TraceError::Malformed(format!("{}: {}", e.path(), e.inner())))?;
    check_references(&trace).map_err(TraceError::Malformed)?;
    Ok(trace)
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Every id a finding mentions must be defined in the trace.
fn check_references(trace: &Trace) -> Result<(), String> {
    // Sets of the ids, built once: `Trace::lock` and friends are linear scans, and a large
    // profile has 10^5 rows referring to 10^4 locks and 10^5 stacks.
    let locks: HashSet<u64> = trace.locks.iter().map(|l| l.id).collect();
    let threads: HashSet<u64> = trace.threads.iter().map(|t| t.id).collect();
    let stacks: HashSet<u32> = trace.stacks.iter().map(|s| s.id).collect();
    let no_lock = |id: u64| !locks.contains(&id);
    let no_thread = |id: u64| !threads.contains(&id);
    let no_stack = |id: u32| !stacks.contains(&id);
    for (n, deadlock) in trace.deadlocks.iter().enumerate() {
        let n = n + 1;
        if deadlock.cycle.is_empty() {
            return Err(format!("deadlock {n} has an empty cycle"));
        }
        for hop in deadlock.cycle.iter().chain(&deadlock.knot) {
            if no_thread(hop.thread) {
                return Err(format!("deadlock {n} names thread {} which is not in \"threads\"", hop.thread));
            }
            for lock in [hop.holds, hop.waits_for] {
                if no_lock(lock) {
                    return Err(format!("deadlock {n} names lock {lock} which is not in \"locks\""));
                }
            }
            if let Some(stack) = hop.stack.filter(|&s| no_stack(s)) {
                return Err(format!("deadlock {n} names stack {stack} which is not in \"stacks\""));
            }
        }
    }
    for (n, wait) in trace.long_waits.iter().enumerate() {
        let threads = std::iter::once(wait.thread).chain(wait.holder);
        if let Some(t) = threads.into_iter().find(|&t| no_thread(t)) {
            return Err(format!("long_waits[{n}] names thread {t} which is not in \"threads\""));
        }
        if no_lock(wait.lock) {
            return Err(format!("long_waits[{n}] names lock {} which is not in \"locks\"", wait.lock));
        }
        if let Some(s) = [wait.stack, wait.holder_stack].into_iter().flatten().find(|&s| no_stack(s)) {
            return Err(format!("long_waits[{n}] names stack {s} which is not in \"stacks\""));
        }
    }
    for (n, w) in trace.condvar_waits_while_holding.iter().enumerate() {
        if no_thread(w.thread) {
            return Err(format!(
                "condvar_waits_while_holding[{n}] names thread {} which is not in \"threads\"",
                w.thread
            ));
        }
        if let Some(l) = [w.condvar, w.held].into_iter().find(|&l| no_lock(l)) {
            return Err(format!("condvar_waits_while_holding[{n}] names lock {l} which is not in \"locks\""));
        }
    }
    for (n, w) in trace.awaits_holding_lock.iter().enumerate() {
        if let Some(t) = [w.task, w.observer].into_iter().find(|&t| no_thread(t)) {
            return Err(format!("awaits_holding_lock[{n}] names thread {t} which is not in \"threads\""));
        }
        if no_lock(w.lock) {
            return Err(format!("awaits_holding_lock[{n}] names lock {} which is not in \"locks\"", w.lock));
        }
    }
    if let Some(contention) = &trace.contention {
        for l in &contention.locks {
            if no_lock(l.lock) {
                return Err(format!("contention names lock {} which is not in \"locks\"", l.lock));
            }
        }
        for row in contention.waiters.iter().chain(&contention.holders) {
            if no_lock(row.lock) || no_stack(row.stack) {
                return Err(format!(
                    "contention names lock {} / stack {} not in the trace",
                    row.lock, row.stack
                ));
            }
        }
    }
    if let Some(timeline) = &trace.timeline {
        if let Some(span) = timeline.spans.iter().find(|s| no_lock(s.lock) || no_thread(s.thread)) {
            return Err(format!(
                "timeline names lock {} / thread {} not in the trace",
                span.lock, span.thread
            ));
        }
    }
    for (n, edge) in trace.lock_order.iter().enumerate() {
        for lock in [edge.from, edge.to].into_iter().chain(edge.gates.iter().copied()) {
            if no_lock(lock) {
                return Err(format!("lock_order[{n}] names lock {lock} which is not in \"locks\""));
            }
        }
        if no_thread(edge.thread) {
            return Err(format!("lock_order[{n}] names thread {} which is not in \"threads\"", edge.thread));
        }
        if let Some(stack) = edge.stack.filter(|&s| no_stack(s)) {
            return Err(format!("lock_order[{n}] names stack {stack} which is not in \"stacks\""));
        }
    }
    Ok(())
}
