//! `lockprof timeline TRACE [-o OUT]`: the trace's timeline (waits, and the holds that others
//! waited for) as Chrome trace-event JSON, which Perfetto (<https://ui.perfetto.dev>) and
//! `chrome://tracing` open:
//!
//! ```json
//! {"traceEvents":[
//! {"name":"process_name","ph":"M","ts":0,"pid":1,"tid":0,"args":{"name":"hot_counter long"}},
//! {"name":"thread_name","ph":"M","ts":0,"pid":1,"tid":1,"args":{"name":"bumper-0"}},
//! {"name":"wait \"hot\" (src/main.rs:56)","cat":"wait","ph":"X","ts":0.17,"dur":4117.463,"pid":1,"tid":2,"args":{"lock":1}},
//! ...],
//! "displayTimeUnit":"ns",
//! "otherData":{"source":"t.json","command":"hot_counter long","spans":313,"dropped_spans":0}}
//! ```
//!
//! One complete (`"ph":"X"`) event per span, on the track of its thread (`tid` is lockprof's
//! thread id; named threads get a `thread_name` metadata event): `wait <lock>` while the thread
//! waited for the lock, `hold <lock>` while it held a lock another thread was waiting for. `ts`
//! and `dur` are in microseconds (the format's unit) since the profiler's clock started, with
//! nanosecond decimals.
//!
//! The profiler keeps a bounded ring of spans per thread; when one overflowed, its oldest spans
//! are gone: the count is `otherData.dropped_spans`, and a warning goes to standard error.
//! A trace without a timeline is an error (exit 2); a timeline without spans is an empty one.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use lockprof_trace::schema::{SpanKind, Trace};
use serde::Serialize;

use crate::commands::flamegraph::plural;
use crate::input::load;
use crate::output::{dispose, write_to};
use crate::profile::Index;
use crate::{Error, Status};

/// The process id of every event (one trace is one process).
const PID: u32 = 1;

/// Where `lockprof timeline` writes.
#[derive(Debug, Clone, Default)]
pub struct TimelineOptions {
    /// The output file (standard output if `None`).
    pub output: Option<PathBuf>,
}

#[derive(Serialize)]
struct Event<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'a str>,
    ph: &'a str,
    ts: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    pid: u32,
    tid: u64,
    args: Args<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Name { name: &'a str },
    Lock { lock: u64 },
}

#[derive(Serialize)]
struct OtherData<'a> {
    source: &'a str,
    command: &'a str,
    spans: usize,
    dropped_spans: u64,
}

/// Writes the timeline of the trace at `path`; the account of a written file, and any warning
/// about dropped spans, go to `log`.
pub fn run(
    path: &Path,
    options: &TimelineOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<Status, Error> {
    let trace = load(path)?;
    let Some(timeline) = &trace.timeline else {
        return Err(Error::Input {
            path: path.to_path_buf(),
            why: "no timeline in this trace (lockprof records one in every trace it writes; this one is from an older lockprof, or hand-made)".into(),
        });
    };
    if timeline.dropped > 0 {
        writeln!(
            log,
            "lockprof timeline: warning: {}: {} dropped (a thread's ring of spans was full, so its oldest spans are missing)",
            path.display(),
            if timeline.dropped == 1 {
                "1 span was".to_owned()
            } else {
                format!("{} spans were", timeline.dropped)
            }
        )?;
    }
    let source = path.display().to_string();
    write_to(options.output.as_deref(), out, |w| write_events(&trace, &source, w))?;
    let threads = {
        let mut threads: Vec<u64> = timeline.spans.iter().map(|s| s.thread).collect();
        threads.sort_unstable();
        threads.dedup();
        threads.len()
    };
    let spans = timeline.spans.len();
    dispose(trace);
    if spans == 0 {
        writeln!(log, "lockprof timeline: {}: no spans (no lock was waited for)", path.display())?;
    } else if let Some(file) = &options.output {
        writeln!(
            log,
            "lockprof timeline: {} of {} into {}",
            plural(spans, "span"),
            plural(threads, "thread"),
            file.display()
        )?;
    }
    Ok(Status::Success)
}

/// Writes the whole trace-event document.
fn write_events(trace: &Trace, source: &str, out: &mut dyn Write) -> io::Result<()> {
    let command = trace.process.command.join(" ");
    let (spans, dropped) = match &trace.timeline {
        Some(timeline) => (&timeline.spans[..], timeline.dropped),
        None => (&[][..], 0),
    };
    out.write_all(b"{\"traceEvents\":[\n")?;
    let mut first = true;
    let mut event = |out: &mut dyn Write, event: &Event<'_>| -> io::Result<()> {
        if !first {
            out.write_all(b",\n")?;
        }
        first = false;
        serde_json::to_writer(&mut *out, event).map_err(io::Error::from)
    };
    let metadata = |name, tid, value| Event {
        name,
        cat: None,
        ph: "M",
        ts: 0.0,
        dur: None,
        pid: PID,
        tid,
        args: Args::Name { name: value },
    };
    event(out, &metadata("process_name", 0, &command))?;
    for thread in &trace.threads {
        if let Some(name) = &thread.name {
            event(out, &metadata("thread_name", thread.id, name))?;
        }
    }
    let index = Index::new(trace);
    let mut names: HashMap<(u64, SpanKind), String> = HashMap::new();
    for span in spans {
        let name = names.entry((span.lock, span.kind)).or_insert_with(|| {
            let what = match span.kind {
                SpanKind::Wait => "wait",
                SpanKind::Hold => "hold",
            };
            format!("{what} {}", index.label(span.lock))
        });
        event(
            out,
            &Event {
                name,
                cat: Some(match span.kind {
                    SpanKind::Wait => "wait",
                    SpanKind::Hold => "hold",
                }),
                ph: "X",
                ts: micros(span.start_ns),
                dur: Some(micros(span.end_ns.saturating_sub(span.start_ns))),
                pid: PID,
                tid: span.thread,
                args: Args::Lock { lock: span.lock },
            },
        )?;
    }
    out.write_all(b"\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":")?;
    let other = OtherData { source, command: &command, spans: spans.len(), dropped_spans: dropped };
    serde_json::to_writer(&mut *out, &other).map_err(io::Error::from)?;
    out.write_all(b"}\n")
}

/// Nanoseconds as the format's microseconds.
fn micros(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_trace::LockKind;
    use lockprof_trace::schema::{LockEntry, Site, ThreadEntry, Timeline, TimelineSpan, WriteReason};

    #[test]
    fn spans_become_complete_events_on_their_threads_tracks() {
        let mut trace = Trace::empty(WriteReason::Exit);
        trace.process.command = vec!["prog".into()];
        trace.threads =
            vec![ThreadEntry { id: 1, name: Some("a".into()) }, ThreadEntry { id: 2, name: None }];
        trace.locks.push(LockEntry {
            id: 3,
            kind: LockKind::Mutex,
            site: Site { file: "src/x.rs".into(), line: 4, column: 1 },
            name: Some("hot".into()),
            written: false,
            dropped: None,
            capacity: None,
        });
        let span = |thread, kind, start_ns, end_ns| TimelineSpan { thread, lock: 3, kind, start_ns, end_ns };
        trace.timeline = Some(Timeline {
            spans: vec![span(1, SpanKind::Hold, 1_000, 2_500), span(2, SpanKind::Wait, 1_500, 1_200)],
            dropped: 4,
        });
        let mut out = Vec::new();
        write_events(&trace, "t.json", &mut out).expect("written");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        let events = doc["traceEvents"].as_array().expect("events");
        assert_eq!(events.len(), 4, "{doc}");
        assert_eq!(events[1]["args"]["name"], "a");
        assert_eq!(events[2]["name"], "hold #3 \"hot\" (src/x.rs:4)");
        assert_eq!(events[2]["ts"], 1.0);
        assert_eq!(events[2]["dur"], 1.5);
        assert_eq!(events[3]["cat"], "wait");
        assert_eq!(events[3]["dur"], 0.0, "a span that ends before it starts lasts 0");
        assert_eq!(doc["displayTimeUnit"], "ns");
        assert_eq!(doc["otherData"]["dropped_spans"], 4);
    }
}
