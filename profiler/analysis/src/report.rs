//! The text report: how a trace reads to a person. Used by the CLI's `report` and by the deadlock
//! policy (the panic message and stderr report are the same text).
//!
//! Sites are printed as `file:line:column` so editors and terminals can jump to them.

use std::fmt::Write;

use crate::findings::mode_note;
use crate::potential_deadlocks::{Analysis, analyse};
use lockprof_trace::Access;
use lockprof_trace::LockKind;
use lockprof_trace::schema::{
    CycleHop, Deadlock, LockContention, LockEntry, OrderMode, Stack, StackContention, Trace,
};

/// How many frames of a stack a report shows.
pub const MAX_FRAMES: usize = 16;

/// `thread #2 "worker"`, or `thread #2` if unnamed. Names are quoted and escaped as Rust string
/// literals, so a name from a crafted trace cannot break lines or send terminal escapes.
///
/// ```
/// # use lockprof_trace::schema::{Trace, ThreadEntry, WriteReason};
/// let mut trace = Trace::empty(WriteReason::Exit);
/// trace.threads.push(ThreadEntry { id: 2, name: Some("worker\n".into()) });
/// assert_eq!(lockprof_analysis::report::thread_label(&trace, 2), r#"thread #2 "worker\n""#);
/// ```
///
/// A tokio task (an id with [`TASK_BIT`](lockprof_trace::schema::TASK_BIT)) is `task 7`, by
/// tokio's task id:
///
/// ```
/// # use lockprof_trace::schema::{TASK_BIT, Trace, ThreadEntry, WriteReason};
/// let mut trace = Trace::empty(WriteReason::Exit);
/// trace.threads.push(ThreadEntry { id: TASK_BIT | 7, name: Some("task 7".into()) });
/// assert_eq!(lockprof_analysis::report::thread_label(&trace, TASK_BIT | 7), "task 7");
/// ```
pub fn thread_label(trace: &Trace, id: u64) -> String {
    if id & lockprof_trace::schema::TASK_BIT != 0 {
        return task_label(trace, id);
    }
    match trace.thread(id).and_then(|t| t.name.as_deref()) {
        Some(name) => format!("thread #{id} {name:?}"),
        None => format!("thread #{id}"),
    }
}

/// `task 7` (the name the runtime gives a task entry), or `task #ID` (the entry's id without
/// the task bit) when the entry has no such name (a crafted or merged trace).
fn task_label(trace: &Trace, id: u64) -> String {
    let name = trace.thread(id).and_then(|t| t.name.as_deref());
    match name.and_then(|n| n.strip_prefix("task ")) {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => format!("task {n}"),
        _ => format!("task #{}", id & !lockprof_trace::schema::TASK_BIT),
    }
}

/// `lock #3 "accounts"`, or `lock #3` if unnamed (escaped as [`thread_label`] does).
pub fn lock_label(trace: &Trace, id: u64) -> String {
    if let Some(thread) = trace.lock(id).filter(|l| l.kind == LockKind::Thread) {
        // A thread's lifetime, which joins wait for (`lockprof::thread`).
        return format!("the thread spawned at {}", thread.site);
    }
    let noun = match trace.lock(id).map(|l| l.kind) {
        Some(LockKind::Channel) => "channel",
        Some(LockKind::Barrier) => "barrier",
        Some(LockKind::Condvar) => "condvar",
        _ => "lock",
    };
    match trace.lock(id).and_then(|l| l.name.as_deref()) {
        Some(name) => format!("{noun} #{id} {name:?}"),
        None => format!("{noun} #{id}"),
    }
}

/// A deadlock's cycle on one line: `thread #1 "a" → lock #2 "B" → thread #2 "b" → … → thread #1 "a"`.
/// For a deadlock of the all-asleep rule, which need not be a cycle: every thread with what it
/// waits for, `thread #1 "a" waits on channel #2; thread #2 "b" waits on lock #3`.
pub fn cycle_line(trace: &Trace, deadlock: &Deadlock) -> String {
    if deadlock.all_asleep {
        let waits: Vec<String> = deadlock
            .cycle
            .iter()
            .map(|hop| {
                format!("{} waits on {}", thread_label(trace, hop.thread), lock_label(trace, hop.waits_for))
            })
            .collect();
        return waits.join("; ");
    }
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

/// A cycle of lock orders on one line: `lock #1 "ledger" → lock #2 "audit" → lock #1 "ledger"`.
pub fn order_cycle_line(trace: &Trace, edges: &[usize]) -> String {
    let mut line = String::new();
    for &e in edges {
        let _ = write!(line, "{} → ", lock_label(trace, trace.lock_order[e].from));
    }
    if let Some(&first) = edges.first() {
        line.push_str(&lock_label(trace, trace.lock_order[first].from));
    }
    line
}

/// What a deadlock's members are: `threads`, `tasks` (tokio's), or `tasks and threads`.
fn members_noun(deadlock: &Deadlock) -> &'static str {
    let task = |hop: &CycleHop| hop.thread & lockprof_trace::schema::TASK_BIT != 0;
    let members = || deadlock.cycle.iter().chain(&deadlock.knot);
    match (members().all(task), members().any(task)) {
        (true, _) => "tasks",
        (false, true) => "tasks and threads",
        (false, false) => "threads",
    }
}

/// Renders one deadlock: the cycle drawn thread → lock → thread, then each thread with what it
/// holds, what it waits for, and its stack.
pub fn render_deadlock(trace: &Trace, deadlock: &Deadlock) -> String {
    let mut out = String::new();
    let k = deadlock.cycle.len();
    let noun = members_noun(deadlock);
    let headline = if deadlock.all_asleep && noun != "threads" {
        // Only a sleep of the whole process confirms a deadlock with tasks in it.
        format!(
            "the whole process is asleep for good, and {k} {noun} wait, with no timeout, for locks, permits or signals that nothing is left to release"
        )
    } else if deadlock.all_asleep && k == 1 {
        "the only thread is asleep: it waits, with no timeout, for a condition variable, channel or barrier that no thread is left to wake".to_owned()
    } else if deadlock.all_asleep {
        format!(
            "all {k} threads are asleep: each waits, with no timeout, for a lock, condition variable, channel, join, barrier or initialisation that only another of them could end"
        )
    } else if k == 1 && deadlock.knot.is_empty() {
        let who = if noun == "tasks" { "a task" } else { "a thread" };
        format!("{who} waits for a lock it already holds")
    } else if deadlock.knot.is_empty() {
        format!("{k} {noun}, each waiting for a lock the next one holds")
    } else {
        format!(
            "{} {noun} in a knot: each waits for locks or permits only the others can release",
            k + deadlock.knot.len()
        )
    };
    let found_by = if deadlock.background && noun != "threads" {
        "found once every thread of the process was asleep for good".to_owned()
    } else if deadlock.background {
        format!("found by the background re-check of {}'s wait", thread_label(trace, deadlock.detected_by))
    } else {
        format!("found by {}", thread_label(trace, deadlock.detected_by))
    };
    let _ = writeln!(out, "DEADLOCK: {headline} ({found_by}, policy: {})", deadlock.policy.as_str());
    let mut cycle = String::new();
    for hop in &deadlock.cycle {
        let _ =
            write!(cycle, "{} → {} → ", thread_label(trace, hop.thread), lock_label(trace, hop.waits_for));
    }
    if let Some(first) = deadlock.cycle.first() {
        cycle.push_str(&thread_label(trace, first.thread));
    }
    if deadlock.all_asleep {
        let _ = writeln!(out, "  threads: {}", cycle_line(trace, deadlock));
    } else {
        let _ = writeln!(out, "  cycle: {cycle}");
    }
    for hop in &deadlock.cycle {
        render_hop(trace, hop, deadlock.all_asleep, &mut out);
    }
    if !deadlock.knot.is_empty() {
        let _ = writeln!(
            out,
            "\n  also deadlocked with them (every permit or hold they wait for is held in this set):"
        );
        for hop in &deadlock.knot {
            render_hop(trace, hop, false, &mut out);
        }
    }
    out
}

/// ` (read)`, ` (write)`, ` (2 permits)`, or nothing for a mutex.
fn access_note(trace: &Trace, lock: u64, access: Access, permits: u32) -> String {
    match access {
        Access::Exclusive if trace.lock(lock).is_some_and(|l| l.kind == LockKind::RwLock) => {
            " (write)".to_owned()
        }
        Access::Exclusive => String::new(),
        // 0: a tokio semaphore's borrowed permits, whose count is not recorded.
        Access::Permits if permits == 0 => " (permits)".to_owned(),
        Access::Permits => format!(" ({permits} permit{})", if permits == 1 { "" } else { "s" }),
        other => format!(" ({})", other.as_str()),
    }
}

/// One thread of a deadlock. Under the all-asleep rule a hop whose `holds` is what it waits for
/// blocks no other thread's lock wait: only its wait is shown.
fn render_hop(trace: &Trace, hop: &CycleHop, all_asleep: bool, out: &mut String) {
    let _ = writeln!(out);
    let _ = writeln!(out, "  {}", thread_label(trace, hop.thread));
    let is_thread = |lock: u64| trace.lock(lock).is_some_and(|l| l.kind == LockKind::Thread);
    if all_asleep && hop.holds == hop.waits_for {
        // holds nothing another member waits for
    } else if all_asleep && is_thread(hop.holds) {
        let _ = writeln!(out, "    is       {}, which another of them joins", lock_label(trace, hop.holds));
    } else if is_thread(hop.holds) {
        let _ =
            writeln!(out, "    is       {}, which the previous thread joins", lock_label(trace, hop.holds));
    } else if hop.queued {
        let _ = writeln!(
            out,
            "    queued for {} (write) {}, which the lock serves before new readers",
            lock_label(trace, hop.holds),
            lock_origin(trace, hop.holds)
        );
    } else {
        let _ = writeln!(
            out,
            "    holds    {}{} {}",
            lock_label(trace, hop.holds),
            access_note(trace, hop.holds, hop.hold_access, hop.hold_permits),
            lock_origin(trace, hop.holds)
        );
        let _ = writeln!(out, "             acquired at {}", hop.hold_site);
    }
    if is_thread(hop.waits_for) {
        let _ = writeln!(out, "    joins    {}", lock_label(trace, hop.waits_for));
    } else {
        let _ = writeln!(
            out,
            "    waits on {}{} {}",
            lock_label(trace, hop.waits_for),
            access_note(trace, hop.waits_for, hop.wait_access, hop.wait_permits),
            lock_origin(trace, hop.waits_for)
        );
    }
    let _ = writeln!(out, "             waiting at {}", hop.wait_site);
    if let Some(stack) = hop.stack.and_then(|s| trace.stack(s)) {
        let _ = writeln!(out, "    stack while waiting:");
        render_stack(stack, "      ", out);
    }
}

/// What a report says under a stack without file and line information: a release build, whose
/// profile has no debug info (cargo's default for `release`), so frames have no lines or, inlined
/// into lockprof's own, are not there at all.
///
/// ```
/// use lockprof_analysis::report::NO_LINE_INFO;
/// assert!(NO_LINE_INFO.contains(r#"debug = "line-tables-only""#));
/// ```
pub const NO_LINE_INFO: &str = "(no line information in this build: add `debug = \"line-tables-only\"` to its profile in Cargo.toml, e.g. under [profile.release])";

/// Frames of `stack`, innermost first, at most [`MAX_FRAMES`]; [`NO_LINE_INFO`] when no frame
/// has a line.
fn render_stack(stack: &Stack, indent: &str, out: &mut String) {
    if !stack.frames.iter().any(|f| f.file.is_some() && f.line.is_some()) {
        let _ = writeln!(out, "{indent}{NO_LINE_INFO}");
    }
    for frame in stack.frames.iter().take(MAX_FRAMES) {
        match (&frame.file, frame.line) {
            (Some(file), Some(line)) => {
                let _ = writeln!(out, "{indent}{}\n{indent}    at {file}:{line}", frame.function);
            }
            _ => {
                let _ = writeln!(out, "{indent}{}", frame.function);
            }
        }
    }
    if stack.frames.len() > MAX_FRAMES {
        let _ = writeln!(out, "{indent}... {} more frames", stack.frames.len() - MAX_FRAMES);
    }
}

/// Renders the order edges of a cycle in the modes that make it dangerous: for each, both
/// acquisition sites and the stack; then the other orders of the same set, briefly.
fn render_order_edges(
    trace: &Trace,
    edges: &[usize],
    modes: &[OrderMode],
    others: &[usize],
    out: &mut String,
) {
    for (n, (&e, mode)) in edges.iter().zip(modes).enumerate() {
        let edge = &trace.lock_order[e];
        let threads =
            if edge.threads == 1 { "1 thread".to_owned() } else { format!("{} threads", edge.threads) };
        let _ = writeln!(
            out,
            "\n  order {}: {} then {} (first by {}; {threads})",
            n + 1,
            lock_label(trace, edge.from),
            lock_label(trace, edge.to),
            thread_label(trace, mode.thread)
        );
        let _ = writeln!(
            out,
            "    {}{} {}\n             acquired at {}",
            lock_label(trace, edge.from),
            mode_note(trace, edge.from, mode.from_access, false),
            lock_origin(trace, edge.from),
            mode.from_site
        );
        let _ = writeln!(
            out,
            "    {}{} {}\n             acquired at {}",
            lock_label(trace, edge.to),
            mode_note(trace, edge.to, mode.to_access, mode.timed),
            lock_origin(trace, edge.to),
            mode.to_site
        );
        if let Some(stack) = mode.stack.and_then(|s| trace.stack(s)) {
            let _ = writeln!(out, "    stack:");
            render_stack(stack, "      ", out);
        }
    }
    if !others.is_empty() {
        let _ = writeln!(out, "\n  other orders among these locks ({}):", others.len());
        for &e in others.iter().take(MAX_OTHER_ORDERS) {
            let edge = &trace.lock_order[e];
            let _ = writeln!(
                out,
                "    {} then {} at {}",
                lock_label(trace, edge.from),
                lock_label(trace, edge.to),
                edge.to_site
            );
        }
        if others.len() > MAX_OTHER_ORDERS {
            let _ = writeln!(out, "    ... {} more", others.len() - MAX_OTHER_ORDERS);
        }
    }
}

/// Other orders of a strongly connected set listed under its finding, at most.
const MAX_OTHER_ORDERS: usize = 10;

/// Renders the lock-order findings of `analysis`: potential deadlocks (one per strongly
/// connected set of locks), cycles that can only stall, suppressed cycles and class-level cycles.
fn render_lock_order(trace: &Trace, analysis: &Analysis, out: &mut String) {
    let n = analysis.potential.len();
    if n == 0 {
        let _ = writeln!(out, "No potential deadlocks (lock-order cycles).");
    } else {
        let _ = writeln!(
            out,
            "{n} potential deadlock{} (lock-order cycles that did not deadlock in this run).",
            if n == 1 { "" } else { "s" }
        );
    }
    for cycle in &analysis.potential {
        let _ = writeln!(out);
        if cycle.edges.len() == 1 {
            let lock = lock_label(trace, trace.lock_order[cycle.edges[0]].from);
            let _ = writeln!(out, "POTENTIAL DEADLOCK: a thread reads {lock} again while it reads it");
            let _ = writeln!(
                out,
                "  A writer that queues between the two reads waits for the first, and the second waits behind the writer."
            );
        } else {
            let _ = writeln!(out, "POTENTIAL DEADLOCK: {}", order_cycle_line(trace, &cycle.edges));
            let _ = writeln!(
                out,
                "  Run at the same time, these orders deadlock: each thread holds the first lock of its order and waits for the next."
            );
        }
        if cycle.cycles > 1 {
            let _ = writeln!(out, "  (the shortest of {} cycles among these locks)", cycle.cycles);
        }
        render_order_edges(trace, &cycle.edges, &cycle.modes, &cycle.others, out);
    }
    if !analysis.deadlocked.is_empty() {
        let n = analysis.deadlocked.len();
        let _ = writeln!(
            out,
            "({n} lock-order cycle{} {} the orders of a deadlock above, not repeated here.)",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" }
        );
    }
    for cycle in &analysis.stalls {
        let _ = writeln!(out);
        let _ = writeln!(out, "can stall until the timeout: {}", order_cycle_line(trace, &cycle.edges));
        let _ = writeln!(
            out,
            "  an order of this cycle is taken only with a timeout: run at the same time, the orders wait until it expires"
        );
        render_order_edges(trace, &cycle.edges, &cycle.modes, &[], out);
    }
    for cycle in &analysis.suppressed {
        let _ = writeln!(out);
        let _ = writeln!(out, "suppressed: {}", order_cycle_line(trace, &cycle.edges));
        if !cycle.gates.is_empty() {
            let gates: Vec<String> = cycle.gates.iter().map(|&g| lock_label(trace, g)).collect();
            let _ = writeln!(
                out,
                "  every order in this cycle was taken while holding {} (a gate lock), so they cannot run at the same time",
                gates.join(" and ")
            );
        } else if let Some((semaphore, needed, capacity)) = cycle.permits {
            let _ = writeln!(
                out,
                "  every order in this cycle was taken while holding permits of {}: together they need {needed}, and it has {capacity}, so they cannot all run at the same time",
                lock_label(trace, semaphore)
            );
        } else if let Some(lock) = cycle.dropped {
            let _ = writeln!(
                out,
                "  {} was dropped before another order of this cycle was first taken, so the cycle can never close",
                lock_label(trace, lock)
            );
        }
    }
    for cycle in &analysis.class_cycles {
        let classes: Vec<String> = cycle.classes.iter().map(ToString::to_string).collect();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "POTENTIAL DEADLOCK between lock classes: locks created at {} → {}",
            classes.join(" → "),
            classes[0]
        );
        let _ = writeln!(
            out,
            "  No two instances formed a cycle in this run; instances that meet in these orders deadlock (as two tests that each build their own would, in one program)."
        );
        render_order_edges(trace, &cycle.edges, &cycle.modes, &cycle.others, out);
    }
    if analysis.truncated {
        let _ = writeln!(out, "\n(the lock-order graph is large: cycle enumeration stopped at its bounds)");
    }
    if trace.lock_order_dropped > 0 {
        let _ = writeln!(
            out,
            "\n({} lock-order edges were not recorded: the graph reached its size limit)",
            trace.lock_order_dropped
        );
    }
}

/// Renders a whole trace: a header, then every finding, deadlocks first.
pub fn render(trace: &Trace, source: &str) -> String {
    render_with(trace, source, &ContentionOptions::default())
}

/// [`render`], with the contention section sorted and cut as `contention` says.
pub fn render_with(trace: &Trace, source: &str, contention: &ContentionOptions) -> String {
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
    let _ = writeln!(out);
    render_lock_order(trace, &analyse(trace), &mut out);
    render_waits(trace, &mut out);
    if trace.contention.is_some() {
        let _ = writeln!(out);
        out.push_str(&render_contention(trace, contention));
    }
    out
}

/// How the contention table is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Total wait (the default: what the lock costs).
    #[default]
    Wait,
    /// Longest single wait.
    MaxWait,
    /// Contended acquisitions.
    Contended,
    /// Contended hold time.
    Hold,
    /// All acquisitions.
    Acquisitions,
}

/// Options of the contention section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentionOptions {
    /// The sort key of the table.
    pub sort: SortBy,
    /// How many locks and stacks to show.
    pub top: usize,
}

impl Default for ContentionOptions {
    fn default() -> Self {
        ContentionOptions { sort: SortBy::Wait, top: 10 }
    }
}

/// The locks of the contention profile, sorted (most costly first), with their display label.
pub fn contention_rows(trace: &Trace, sort: SortBy) -> Vec<(&LockContention, String)> {
    let Some(contention) = &trace.contention else { return Vec::new() };
    let mut rows: Vec<(&LockContention, String)> =
        contention.locks.iter().map(|l| (l, lock_short_label(trace, l.lock))).collect();
    rows.sort_by(|(a, la), (b, lb)| {
        let key = |l: &LockContention| match sort {
            SortBy::Wait => l.wait_ns,
            SortBy::MaxWait => l.max_wait_ns,
            SortBy::Contended => l.contended,
            SortBy::Hold => l.hold_ns,
            SortBy::Acquisitions => l.acquisitions,
        };
        key(b).cmp(&key(a)).then_with(|| la.cmp(lb))
    });
    rows
}

/// `#3 "hot" (src/x.rs:12)` for a named lock, `#3 src/x.rs:12` otherwise: a lock as a table
/// names it. The id tells apart locks created at one site (one per account, say, or every lock a
/// wrapper's `new` makes).
pub fn lock_short_label(trace: &Trace, id: u64) -> String {
    match trace.lock(id) {
        Some(l) => short_label(l),
        None => format!("lock #{id}"),
    }
}

/// [`lock_short_label`] of a lock already looked up (for callers that index the locks once).
///
/// ```
/// use lockprof_analysis::report::short_label;
/// use lockprof_trace::{LockKind, schema::{LockEntry, Site}};
/// let site = Site { file: "src/x.rs".into(), line: 12, column: 5 };
/// let lock = LockEntry {
///     id: 3,
///     kind: LockKind::Mutex,
///     site,
///     name: Some("hot".into()),
///     written: false,
///     dropped: None,
///     capacity: None,
/// };
/// assert_eq!(short_label(&lock), r#"#3 "hot" (src/x.rs:12)"#);
/// ```
pub fn short_label(lock: &LockEntry) -> String {
    format!("#{} {}", lock.id, class_label(lock))
}

/// [`short_label`] without the id: what a lock is across processes, whose ids differ (`diff`
/// matches locks by it, and flamegraphs name them by it, so that the same lock in two traces is
/// the same frame).
///
/// ```
/// use lockprof_analysis::report::class_label;
/// use lockprof_trace::{LockKind, schema::{LockEntry, Site}};
/// let site = Site { file: "src/x.rs".into(), line: 12, column: 5 };
/// let lock = LockEntry {
///     id: 3,
///     kind: LockKind::Mutex,
///     site,
///     name: None,
///     written: false,
///     dropped: None,
///     capacity: None,
/// };
/// assert_eq!(class_label(&lock), "src/x.rs:12");
/// ```
pub fn class_label(lock: &LockEntry) -> String {
    match &lock.name {
        Some(name) => format!("{name:?} ({}:{})", lock.site.file, lock.site.line),
        None => format!("{}:{}", lock.site.file, lock.site.line),
    }
}

/// A duration in nanoseconds as people read it: `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`.
pub fn duration(ns: u64) -> String {
    let ns = ns as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// The contention section: a table of locks, then the top waiting and holding stacks.
pub fn render_contention(trace: &Trace, options: &ContentionOptions) -> String {
    let mut out = String::new();
    let Some(contention) = &trace.contention else {
        let _ = writeln!(out, "No contention profile in this trace (it is kept when LOCKPROF_TRACE is set).");
        return out;
    };
    let rows = contention_rows(trace, options.sort);
    let contended = rows.iter().filter(|(l, _)| l.contended > 0).count();
    let _ = writeln!(out, "Contention: {contended} of {} locks had to be waited for.", rows.len());
    if rows.is_empty() {
        return out;
    }
    let width =
        rows.iter().take(options.top).map(|(_, label)| label.chars().count()).max().unwrap_or(4).max(4);
    // Padded by hand: `{:<width$}` panics on widths over 65,535 (a lock named that long).
    let pad = |text: &str| " ".repeat(width.saturating_sub(text.chars().count()));
    let _ = writeln!(
        out,
        "  lock{}  {:>17}  {:>10}  {:>10}  {:>10}  {:>10}",
        pad("lock"),
        "contended/total",
        "total wait",
        "max wait",
        "mean wait",
        "hold"
    );
    for (l, label) in rows.iter().take(options.top) {
        let mean = l.wait_ns.checked_div(l.contended).unwrap_or(0);
        let _ = writeln!(
            out,
            "  {label}{}  {:>17}  {:>10}  {:>10}  {:>10}  {:>10}",
            pad(label),
            format!("{}/{}", l.contended, l.acquisitions),
            duration(l.wait_ns),
            duration(l.max_wait_ns),
            duration(mean),
            duration(l.hold_ns),
        );
    }
    if rows.len() > options.top {
        let more = rows.len() - options.top;
        let _ = writeln!(out, "  ... {more} more lock{} (--top N)", if more == 1 { "" } else { "s" });
    }
    for (title, table) in
        [("waiting", &contention.waiters), ("holding (blamed for others' waits)", &contention.holders)]
    {
        if table.is_empty() {
            continue;
        }
        let mut top: Vec<&StackContention> = table.iter().collect();
        top.sort_by(|a, b| b.ns.cmp(&a.ns).then_with(|| (a.lock, a.stack).cmp(&(b.lock, b.stack))));
        let _ = writeln!(out, "\nTop {title} stacks:");
        for (n, row) in top.iter().take(options.top).enumerate() {
            let _ = writeln!(
                out,
                "  {}. {} over {} on {}",
                n + 1,
                duration(row.ns),
                if row.count == 1 { "1 time".to_owned() } else { format!("{} times", row.count) },
                lock_short_label(trace, row.lock)
            );
            if let Some(stack) = trace.stack(row.stack) {
                render_stack(stack, "       ", &mut out);
            }
        }
    }
    if contention.sample > 1 {
        let _ = writeln!(
            out,
            "\n(stacks of brief waits were sampled one in {}; per-lock figures are exact)",
            contention.sample
        );
    }
    out
}

/// Long waits (watchdog) and condition-variable waits while holding a lock.
fn render_waits(trace: &Trace, out: &mut String) {
    for wait in &trace.long_waits {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "LONG WAIT: {} waited at least {} ms for {}{} {}",
            thread_label(trace, wait.thread),
            wait.waited_ms,
            lock_label(trace, wait.lock),
            access_note(trace, wait.lock, wait.access, 0),
            lock_origin(trace, wait.lock)
        );
        let _ = writeln!(out, "  waiting at {}", wait.wait_site);
        if let Some(stack) = wait.stack.and_then(|s| trace.stack(s)) {
            render_stack(stack, "    ", out);
        }
        match (wait.holder, &wait.holder_site) {
            (Some(holder), Some(site)) if wait.holder_exited => {
                let _ = writeln!(
                    out,
                    "  ABANDONED: held by {}, acquired at {site}; that thread has exited without releasing it",
                    thread_label(trace, holder)
                );
            }
            (Some(holder), Some(site)) => {
                let _ = writeln!(out, "  held by {}, acquired at {site}", thread_label(trace, holder));
                if let Some(stack) = wait.holder_stack.and_then(|s| trace.stack(s)) {
                    let _ = writeln!(out, "  the holder is itself waiting:");
                    render_stack(stack, "    ", out);
                }
            }
            _ => {
                let _ = writeln!(out, "  no exclusive holder (a condition variable, readers, or permits)");
            }
        }
    }
    for w in &trace.condvar_waits_while_holding {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "warning: {} waited on {} at {} while holding {} (acquired at {}); threads that need it wait for the notification too",
            thread_label(trace, w.thread),
            lock_label(trace, w.condvar),
            w.wait_site,
            lock_label(trace, w.held),
            w.held_site
        );
    }
    for w in &trace.awaits_holding_lock {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "warning: {} held {} (acquired at {}) while {} ran on its thread (at {}): it was suspended across an .await, or blocked in block_in_place under a runtime that ran other tasks there; a task that locks it there blocks the thread, and the holder with it",
            thread_label(trace, w.task),
            lock_label(trace, w.lock),
            w.held_site,
            thread_label(trace, w.observer),
            w.observed_site
        );
    }
}

/// One-line summary of what `check` fails on, e.g. `no findings` or
/// `2 findings: 1 deadlock, 1 potential-deadlock`.
pub fn summary(trace: &Trace) -> String {
    let findings: Vec<_> =
        crate::findings::findings(trace).into_iter().filter(|f| f.kind.fails_by_default()).collect();
    if findings.is_empty() {
        return "no findings".to_owned();
    }
    let mut counts: Vec<String> = Vec::new();
    for kind in crate::findings::FindingKind::ALL {
        let n = findings.iter().filter(|f| f.kind == kind).count();
        if n > 0 {
            counts.push(format!("{n} {}", kind.rule_id()));
        }
    }
    let n = findings.len();
    format!("{n} finding{}: {}", if n == 1 { "" } else { "s" }, counts.join(", "))
}

/// `1 lock`, `2 locks`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_trace::schema::{Contention, Frame, LockContention, Site, WriteReason};

    #[test]
    fn a_lock_named_longer_than_a_format_width_is_rendered_whole() {
        let mut trace = Trace::empty(WriteReason::Exit);
        let name = "n".repeat(70_000);
        trace.locks.push(LockEntry {
            id: 1,
            kind: LockKind::Mutex,
            site: Site { file: "src/lib.rs".into(), line: 1, column: 1 },
            name: Some(name.clone()),
            written: false,
            dropped: None,
            capacity: None,
        });
        trace.contention = Some(Contention {
            sample: 1,
            locks: vec![LockContention {
                lock: 1,
                acquisitions: 2,
                contended: 1,
                wait_ns: 5,
                max_wait_ns: 5,
                hold_ns: 5,
            }],
            waiters: Vec::new(),
            holders: Vec::new(),
            dropped_stacks: 0,
        });
        let out = render_contention(&trace, &ContentionOptions::default());
        assert!(out.contains(&name), "the table names the lock");
    }

    fn rendered(frames: Vec<Frame>) -> String {
        let mut out = String::new();
        render_stack(&Stack { id: 0, frames }, "  ", &mut out);
        out
    }

    #[test]
    fn a_stack_without_lines_says_how_to_get_them() {
        // A release build: no frames left, or names without files and lines.
        assert_eq!(rendered(vec![]), format!("  {NO_LINE_INFO}\n"));
        let bare = rendered(vec![Frame { function: "app::main".into(), file: None, line: None }]);
        assert!(bare.starts_with(&format!("  {NO_LINE_INFO}\n")) && bare.contains("app::main"), "{bare}");
        // A debug build: no hint.
        let lined = Frame { function: "app::main".into(), file: Some("src/main.rs".into()), line: Some(3) };
        assert!(!rendered(vec![lined]).contains("line-tables-only"));
    }
}
