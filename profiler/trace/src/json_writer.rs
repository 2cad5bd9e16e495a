//! The trace's JSON encoder: a small hand-written writer over the [`schema`](crate::schema) types.
//!
//! Why not serde_json: this crate is linked into every profiled program, and serde_json brings
//! trait impls on std types (`impl PartialEq<Value> for usize`, ...) that join the user's trait
//! resolution and break type inference that compiles with std's locks (E0283 on
//! `assert_eq!(*m.lock().unwrap(), (0..9).sum())`). It also weighs a dozen crates. The reading
//! side (serde derives, serde_json, the loader) is the `read` feature, which only the CLI and the
//! tests enable; a test writes every schema field here and reads it back there.
//!
//! The output is what serde_json's pretty printer writes for the same types (two-space indent,
//! the same `skip_serializing_if` omissions, the same variant names), so a trace reads the same
//! whichever side wrote it.
//!
//! ```
//! use lockprof_trace::schema::{Trace, WriteReason};
//! let json = lockprof_trace::json_writer::to_vec(&Trace::empty(WriteReason::Exit));
//! let text = String::from_utf8(json).unwrap();
//! assert!(text.starts_with("{\n  \"format\": \"lockprof-trace\",\n  \"version\": 1,"));
//! ```

use std::io::{self, Write};

use crate::access::Access;
use crate::lock_kind::LockKind;
use crate::policy::DeadlockPolicy;
use crate::schema::{
    AwaitHoldingLock, CondvarWaitWhileHolding, Contention, CycleHop, Deadlock, Frame, LockContention,
    LockEntry, LongWait, OrderEdge, OrderMode, Process, Site, SpanKind, Stack, StackContention, ThreadEntry,
    Timeline, TimelineSpan, Trace, WriteReason,
};

/// Writes `trace` as pretty-printed JSON to `out`, in pieces of about [`CHUNK`] bytes (so a large
/// trace is never whole in memory, and an unbuffered file costs few system calls).
///
/// ```
/// use lockprof_trace::schema::{Trace, WriteReason};
/// let mut out = Vec::new();
/// lockprof_trace::json_writer::write(&mut out, &Trace::empty(WriteReason::Deadlock)).unwrap();
/// assert!(String::from_utf8(out).unwrap().contains("\"reason\": \"deadlock\""));
/// ```
pub fn write(out: &mut (impl Write + ?Sized), trace: &Trace) -> io::Result<()> {
    let mut w = Json {
        out: String::with_capacity(CHUNK + 4096),
        depth: 0,
        first: true,
        sink: Some(Sink { out, error: None }),
    };
    w.trace(trace);
    let Some(Sink { out, error }) = w.sink else { unreachable!("the sink is only taken here") };
    match error {
        Some(error) => Err(error),
        None => out.write_all(w.out.as_bytes()),
    }
}

/// How much JSON [`write`] gathers before it hands it to its writer.
pub const CHUNK: usize = 64 * 1024;

/// `trace` as pretty-printed JSON.
///
/// ```
/// use lockprof_trace::schema::{Trace, WriteReason};
/// let json = lockprof_trace::json_writer::to_vec(&Trace::empty(WriteReason::Exit));
/// assert!(json.ends_with(b"}"));
/// ```
pub fn to_vec(trace: &Trace) -> Vec<u8> {
    let mut w: Json<'_, Vec<u8>> =
        Json { out: String::with_capacity(4096), depth: 0, first: true, sink: None };
    w.trace(trace);
    w.out.into_bytes()
}

/// The writer's state: the text not yet handed on, the nesting depth, whether the current object
/// or array is still empty (no comma before its first member), and where full chunks go.
struct Json<'w, W: Write + ?Sized> {
    out: String,
    depth: usize,
    first: bool,
    sink: Option<Sink<'w, W>>,
}

/// The writer [`write`] writes to, and its first error (after which nothing more is written).
struct Sink<'w, W: Write + ?Sized> {
    out: &'w mut W,
    error: Option<io::Error>,
}

impl<W: Write + ?Sized> Json<'_, W> {
    /// Hands the text so far on once it is a chunk (between items, so at most one item over).
    fn spill(&mut self) {
        let Some(sink) = &mut self.sink else { return };
        if self.out.len() >= CHUNK {
            if sink.error.is_none() {
                sink.error = sink.out.write_all(self.out.as_bytes()).err();
            }
            self.out.clear();
        }
    }

    fn open(&mut self, bracket: char) {
        self.out.push(bracket);
        self.depth += 1;
        self.first = true;
    }

    fn close(&mut self, bracket: char) {
        self.depth -= 1;
        if !self.first {
            self.newline();
        }
        self.out.push(bracket);
        self.first = false;
    }

    fn newline(&mut self) {
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// Starts the next member of the current array or object.
    fn next(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.newline();
    }

    fn key(&mut self, key: &str) {
        self.next();
        string(&mut self.out, key);
        self.out.push_str(": ");
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        string(&mut self.out, value);
    }

    fn num(&mut self, key: &str, value: impl Into<u64>) {
        self.key(key);
        self.out.push_str(&value.into().to_string());
    }

    fn opt_num(&mut self, key: &str, value: Option<impl Into<u64>>) {
        match value {
            Some(v) => self.num(key, v),
            None => self.null(key),
        }
    }

    fn opt_str(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.push_str("null");
    }

    fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// `key: { ... }`, with `body` writing the members.
    fn object(&mut self, key: &str, body: impl FnOnce(&mut Self)) {
        self.key(key);
        self.open('{');
        body(self);
        self.close('}');
    }

    /// `key: [ ... ]`: one object per item (serde_json writes `[]` for an empty array).
    fn array<T>(&mut self, key: &str, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.key(key);
        self.open('[');
        for value in items {
            self.next();
            self.open('{');
            item(self, value);
            self.close('}');
            self.spill();
        }
        self.close(']');
    }

    fn trace(&mut self, t: &Trace) {
        self.open('{');
        self.str("format", &t.format);
        self.num("version", t.version);
        self.object("process", |w| w.process(&t.process));
        self.array("locks", &t.locks, Self::lock);
        self.array("threads", &t.threads, Self::thread);
        self.array("deadlocks", &t.deadlocks, Self::deadlock);
        self.array("lock_order", &t.lock_order, Self::order_edge);
        self.num("lock_order_dropped", t.lock_order_dropped);
        if !t.long_waits.is_empty() {
            self.array("long_waits", &t.long_waits, Self::long_wait);
        }
        if !t.condvar_waits_while_holding.is_empty() {
            self.array("condvar_waits_while_holding", &t.condvar_waits_while_holding, Self::condvar_wait);
        }
        if !t.awaits_holding_lock.is_empty() {
            self.array("awaits_holding_lock", &t.awaits_holding_lock, Self::await_holding);
        }
        if let Some(contention) = &t.contention {
            self.object("contention", |w| w.contention(contention));
        }
        if let Some(timeline) = &t.timeline {
            self.object("timeline", |w| w.timeline(timeline));
        }
        self.array("stacks", &t.stacks, Self::stack);
        self.close('}');
    }

    fn process(&mut self, p: &Process) {
        self.num("pid", p.pid);
        self.key("command");
        self.open('[');
        for arg in &p.command {
            self.next();
            string(&mut self.out, arg);
        }
        self.close(']');
        self.str("reason", reason(p.reason));
        self.num("wait_episodes", p.wait_episodes);
    }

    fn site(&mut self, key: &str, s: &Site) {
        self.object(key, |w| {
            w.str("file", &s.file);
            w.num("line", s.line);
            w.num("column", s.column);
        });
    }

    fn access(&mut self, key: &str, a: Access) {
        if !a.is_exclusive() {
            self.str(key, access(a));
        }
    }

    fn lock(&mut self, l: &LockEntry) {
        self.num("id", l.id);
        self.str("kind", kind(l.kind));
        self.site("site", &l.site);
        self.opt_str("name", l.name.as_deref());
        if l.written {
            self.bool("written", true);
        }
        if let Some(dropped) = l.dropped {
            self.num("dropped", dropped);
        }
        if let Some(capacity) = l.capacity {
            self.num("capacity", capacity);
        }
    }

    fn thread(&mut self, t: &ThreadEntry) {
        self.num("id", t.id);
        self.opt_str("name", t.name.as_deref());
    }

    fn deadlock(&mut self, d: &Deadlock) {
        self.num("detected_by", d.detected_by);
        if d.background {
            self.bool("background", true);
        }
        if d.all_asleep {
            self.bool("all_asleep", true);
        }
        self.str("policy", policy(d.policy));
        self.array("cycle", &d.cycle, Self::hop);
        if !d.knot.is_empty() {
            self.array("knot", &d.knot, Self::hop);
        }
    }

    fn hop(&mut self, h: &CycleHop) {
        self.num("thread", h.thread);
        self.num("holds", h.holds);
        self.site("hold_site", &h.hold_site);
        self.access("hold_access", h.hold_access);
        if h.hold_permits != 0 {
            self.num("hold_permits", h.hold_permits);
        }
        if h.queued {
            self.bool("queued", true);
        }
        self.num("waits_for", h.waits_for);
        self.access("wait_access", h.wait_access);
        if h.wait_permits != 0 {
            self.num("wait_permits", h.wait_permits);
        }
        self.site("wait_site", &h.wait_site);
        self.opt_num("stack", h.stack);
    }

    fn order_edge(&mut self, e: &OrderEdge) {
        self.num("from", e.from);
        self.num("to", e.to);
        self.site("from_site", &e.from_site);
        self.site("to_site", &e.to_site);
        self.access("from_access", e.from_access);
        self.access("to_access", e.to_access);
        self.num("thread", e.thread);
        self.opt_num("stack", e.stack);
        self.key("gates");
        self.open('[');
        for gate in &e.gates {
            self.next();
            self.out.push_str(&gate.to_string());
        }
        self.close(']');
        self.num("threads", e.threads);
        if !e.modes.is_empty() {
            self.array("modes", &e.modes, Self::order_mode);
        }
        if !e.permit_gates.is_empty() {
            self.array("permit_gates", &e.permit_gates, |w, g| {
                w.num("semaphore", g.semaphore);
                w.num("permits", g.permits);
            });
        }
        if let Some(seq) = e.seq {
            self.num("seq", seq);
        }
    }

    fn order_mode(&mut self, m: &OrderMode) {
        self.access("from_access", m.from_access);
        self.access("to_access", m.to_access);
        if m.timed {
            self.bool("timed", true);
        }
        self.site("from_site", &m.from_site);
        self.site("to_site", &m.to_site);
        self.num("thread", m.thread);
        self.opt_num("stack", m.stack);
    }

    fn long_wait(&mut self, l: &LongWait) {
        self.num("thread", l.thread);
        self.num("lock", l.lock);
        self.access("access", l.access);
        self.site("wait_site", &l.wait_site);
        self.num("waited_ms", l.waited_ms);
        self.opt_num("stack", l.stack);
        self.opt_num("holder", l.holder);
        match &l.holder_site {
            Some(site) => self.site("holder_site", site),
            None => self.null("holder_site"),
        }
        self.opt_num("holder_stack", l.holder_stack);
        if l.holder_exited {
            self.bool("holder_exited", true);
        }
    }

    fn condvar_wait(&mut self, c: &CondvarWaitWhileHolding) {
        self.num("thread", c.thread);
        self.num("condvar", c.condvar);
        self.site("wait_site", &c.wait_site);
        self.num("held", c.held);
        self.site("held_site", &c.held_site);
    }

    fn await_holding(&mut self, a: &AwaitHoldingLock) {
        self.num("task", a.task);
        self.num("lock", a.lock);
        self.site("held_site", &a.held_site);
        self.num("observer", a.observer);
        self.site("observed_site", &a.observed_site);
    }

    fn contention(&mut self, c: &Contention) {
        self.num("sample", c.sample);
        self.array("locks", &c.locks, Self::lock_contention);
        self.array("waiters", &c.waiters, Self::stack_contention);
        self.array("holders", &c.holders, Self::stack_contention);
        self.num("dropped_stacks", c.dropped_stacks);
    }

    fn lock_contention(&mut self, l: &LockContention) {
        self.num("lock", l.lock);
        self.num("acquisitions", l.acquisitions);
        self.num("contended", l.contended);
        self.num("wait_ns", l.wait_ns);
        self.num("max_wait_ns", l.max_wait_ns);
        self.num("hold_ns", l.hold_ns);
    }

    fn stack_contention(&mut self, s: &StackContention) {
        self.num("lock", s.lock);
        self.num("stack", s.stack);
        self.num("count", s.count);
        self.num("ns", s.ns);
    }

    fn timeline(&mut self, t: &Timeline) {
        self.array("spans", &t.spans, Self::span);
        self.num("dropped", t.dropped);
    }

    fn span(&mut self, s: &TimelineSpan) {
        self.num("thread", s.thread);
        self.num("lock", s.lock);
        self.str("kind", span_kind(s.kind));
        self.num("start_ns", s.start_ns);
        self.num("end_ns", s.end_ns);
    }

    fn stack(&mut self, s: &Stack) {
        self.num("id", s.id);
        self.array("frames", &s.frames, Self::frame);
    }

    fn frame(&mut self, f: &Frame) {
        self.str("function", &f.function);
        self.opt_str("file", f.file.as_deref());
        self.opt_num("line", f.line);
    }
}

// The variant names serde's `rename_all` gives each enum (not the enums' `as_str`, which are the
// words reports use: `LockKind::RwLock` is "rwlock" there and "rw_lock" in the trace).

fn reason(r: WriteReason) -> &'static str {
    match r {
        WriteReason::Exit => "exit",
        WriteReason::Deadlock => "deadlock",
        WriteReason::Watchdog => "watchdog",
    }
}

fn kind(k: LockKind) -> &'static str {
    match k {
        LockKind::Mutex => "mutex",
        LockKind::RwLock => "rw_lock",
        LockKind::Semaphore => "semaphore",
        LockKind::ReentrantMutex => "reentrant_mutex",
        LockKind::Condvar => "condvar",
        LockKind::Thread => "thread",
        LockKind::Once => "once",
        LockKind::Channel => "channel",
        LockKind::Barrier => "barrier",
    }
}

fn access(a: Access) -> &'static str {
    match a {
        Access::Exclusive => "exclusive",
        Access::Shared => "shared",
        Access::SharedRecursive => "shared_recursive",
        Access::Upgradable => "upgradable",
        Access::Permits => "permits",
    }
}

fn policy(p: DeadlockPolicy) -> &'static str {
    p.as_str()
}

fn span_kind(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Wait => "wait",
        SpanKind::Hold => "hold",
    }
}

/// Appends `s` as a JSON string: quotes, backslashes and control characters escaped as
/// serde_json escapes them (everything else, non-ASCII included, as is: the file is UTF-8).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(s: &str) -> String {
        let mut out = String::new();
        string(&mut out, s);
        out
    }

    #[test]
    fn strings_escape_what_json_requires() {
        assert_eq!(encoded("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(encoded("\n\t\r\u{8}\u{c}\u{1}"), r#""\n\t\r\b\f\u0001""#);
        assert_eq!(encoded("ünï ✓"), "\"ünï ✓\"");
    }

    #[test]
    fn written_in_chunks_it_is_the_same_text() {
        let mut trace = Trace::empty(WriteReason::Exit);
        trace.threads =
            (0..20_000).map(|id| crate::schema::ThreadEntry { id, name: Some(format!("t{id}")) }).collect();
        let whole = to_vec(&trace);
        assert!(whole.len() > 4 * CHUNK);
        let mut chunked = Vec::new();
        write(&mut chunked, &trace).unwrap();
        assert_eq!(chunked, whole);
        // A writer that fails: the error comes back.
        let mut full: &mut [u8] = &mut [0u8; 10];
        assert!(write(&mut full, &trace).is_err());
    }

    #[test]
    fn empty_arrays_and_objects_close_on_the_same_line() {
        let text = String::from_utf8(to_vec(&Trace::empty(WriteReason::Exit))).unwrap();
        assert!(text.contains("\"locks\": [],"), "{text}");
        assert!(text.ends_with("\"stacks\": []\n}"), "{text}");
    }
}
