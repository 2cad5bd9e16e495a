//! The text report: how a trace reads to a person. Used by the CLI's `report` and by the deadlock
//! policy (the panic message and stderr report are the same text).
//!
//! Sites are printed as `file:line:column` so editors and terminals can jump to them.

use std::fmt::Write;

use crate::trace::schema::{CycleHop, Deadlock, Trace};

/// How many frames of a stack a report shows.
pub const MAX_FRAMES: usize = 16;

/// `thread #2 "worker"`, or `thread #2` if unnamed. Names are quoted and escaped as Rust string
/// literals, so a name from a crafted trace cannot break lines or send terminal escapes.
///
/// ```
/// # use lockprof_profiler::trace::schema::{Trace, ThreadEntry, WriteReason};
/// let mut trace = Trace::empty(WriteReason::Exit);
/// trace.threads.push(ThreadEntry { id: 2, name: Some("worker\n".into()) });
/// assert_eq!(lockprof_profiler::report::thread_label(&trace, 2), r#"thread #2 "worker\n""#);
/// ```
pub fn thread_label(trace: &Trace, id: u64) -> String {
    match trace.thread(id).and_then(|t| t.name.as_deref()) {
        Some(name) => format!("thread #{id} {name:?}"),
        None => format!("thread #{id}"),
    }
}

/// `lock #3 "accounts"`, or `lock #3` if unnamed (escaped as [`thread_label`] does).
pub fn lock_label(trace: &Trace, id: u64) -> String {
    match trace.lock(id).and_then(|l| l.name.as_deref()) {
        Some(name) => format!("lock #{id} {name:?}"),
        None => format!("lock #{id}"),
    }
}

/// A deadlock's cycle on one line: `thread #1 "a" → lock #2 "B" → thread #2 "b" → … → thread #1 "a"`.
pub fn cycle_line(trace: &Trace, deadlock: &Deadlock) -> String {
    let mut cycle = String::new();
    for hop in &deadlock.cycle {
        let _ =
            write!(cycle, "{} → {} → ", thread_label(trace, hop.thread), lock_label(trace, hop.waits_for));
    }
    if let Some(first) = deadlock.cycle.first() {
        cycle.push_str(&thread_label(trace, first.thread));
    }
    cycle
}

/// `(mutex created at src/x.rs:3:17)`.
fn lock_origin(trace: &Trace, id: u64) -> String {
    trace.lock(id).map(|l| format!("({} created at {})", l.kind.as_str(), l.site)).unwrap_or_default()
}

/// Renders one deadlock: the cycle drawn thread → lock → thread, then each thread with what it
/// holds, what it waits for, and its stack.
pub fn render_deadlock(trace: &Trace, deadlock: &Deadlock) -> String {
    let mut out = String::new();
    let k = deadlock.cycle.len();
    let headline = if k == 1 {
        "a thread waits for a lock it already holds".to_owned()
    } else {
        format!("{k} threads, each waiting for a lock the next one holds")
    };
    let _ = writeln!(
        out,
        "DEADLOCK: {headline} (found by {}, policy: {})",
        thread_label(trace, deadlock.detected_by),
        deadlock.policy.as_str()
    );
    let mut cycle = String::new();
    for hop in &deadlock.cycle {
        let _ =
            write!(cycle, "{} → {} → ", thread_label(trace, hop.thread), lock_label(trace, hop.waits_for));
    }
    if let Some(first) = deadlock.cycle.first() {
        cycle.push_str(&thread_label(trace, first.thread));
    }
    let _ = writeln!(out, "  cycle: {cycle}");
    for hop in &deadlock.cycle {
        render_hop(trace, hop, &mut out);
    }
    out
}

fn render_hop(trace: &Trace, hop: &CycleHop, out: &mut String) {
    let _ = writeln!(out);
    let _ = writeln!(out, "  {}", thread_label(trace, hop.thread));
    let _ = writeln!(out, "    holds    {} {}", lock_label(trace, hop.holds), lock_origin(trace, hop.holds));
    let _ = writeln!(out, "             acquired at {}", hop.hold_site);
    let _ = writeln!(
        out,
        "    waits on {} {}",
        lock_label(trace, hop.waits_for),
        lock_origin(trace, hop.waits_for)
    );
    let _ = writeln!(out, "             waiting at {}", hop.wait_site);
    let Some(stack) = hop.stack.and_then(|s| trace.stack(s)) else { return };
    let _ = writeln!(out, "    stack while waiting:");
    for frame in stack.frames.iter().take(MAX_FRAMES) {
        match (&frame.file, frame.line) {
            (Some(file), Some(line)) => {
                let _ = writeln!(out, "      {}\n          at {file}:{line}", frame.function);
            }
            _ => {
                let _ = writeln!(out, "      {}", frame.function);
            }
        }
    }
    if stack.frames.len() > MAX_FRAMES {
        let _ = writeln!(out, "      ... {} more frames", stack.frames.len() - MAX_FRAMES);
    }
}

/// Renders a whole trace: a header, then every finding, deadlocks first.
pub fn render(trace: &Trace, source: &str) -> String {
    let mut out = String::new();
    let command = trace.process.command.join(" ");
    let _ = writeln!(out, "lockprof report: {source}");
    let _ = writeln!(
        out,
        "process {} `{}`, {} and {} recorded",
        trace.process.pid,
        command,
        plural(trace.locks.len(), "lock"),
        plural(trace.threads.len(), "thread")
    );
    let _ = writeln!(out);
    if trace.deadlocks.is_empty() {
        let _ = writeln!(out, "No deadlocks.");
    } else {
        let n = trace.deadlocks.len();
        let _ = writeln!(out, "{n} deadlock{} found.", if n == 1 { "" } else { "s" });
        for deadlock in &trace.deadlocks {
            let _ = writeln!(out);
            out.push_str(&render_deadlock(trace, deadlock));
        }
    }
    out
}

/// One-line summary of what `check` found, e.g. `1 deadlock` or `no findings`.
pub fn summary(trace: &Trace) -> String {
    match trace.failing_findings() {
        0 => "no findings".to_owned(),
        1 => "1 finding: 1 deadlock".to_owned(),
        n => format!("{n} findings: {n} deadlocks"),
    }
}

/// `1 lock`, `2 locks`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}
