//! The contention profile as a pprof profile: `profile.proto` (github.com/google/pprof), the
//! format of Go's mutex and block profiles, gzipped, for `go tool pprof` and every tool that reads
//! it (Pyroscope, Speedscope, Grafana, IDEs).
//!
//! - Two sample types, as Go's mutex profile: `contentions`/`count` and `delay`/`nanoseconds`
//!   (the default one).
//! - One sample per row of the trace's `contention.waiters` (where threads waited: the delay is
//!   their wait) and `contention.holders` (where a lock others waited for was held up to its
//!   release: the delay is how long they kept the others waiting).
//! - Each sample's stack is the trace's symbolised stack (innermost first, as pprof wants it)
//!   under a synthetic outermost frame `[waiting] LOCK` or `[holding] LOCK` ([`root_frame`]:
//!   `[waiting] "hot" at src/x.rs:12`), whose file and line are the lock's creation site. So
//!   `go tool pprof -top` lists the functions that waited (or held), its flame graph splits by
//!   blame and lock first, and waits and holds never merge. Samples also carry the labels `blame` (`waiting` or `holding`) and `lock` (the flamegraph's label of the lock,
//!   `"hot" (src/x.rs:12)`), and the numeric label `lock_id`, for `-tagfocus`.
//! - One location per distinct (function, file, line) frame, one function per (name, file), one
//!   mapping (the profiled program) that says functions, files and lines are already known, so
//!   pprof does not try to symbolise addresses.
//! - Weights are the trace's figures, as they are: a trace sampled with `LOCKPROF_SAMPLE=N`
//!   captured one in N brief waits' stacks, which the profile's `period` (N) and a comment say.

use std::collections::HashMap;
use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use lockprof_trace::schema::{Contention, LockEntry, StackContention, Trace};

use crate::profile::Index;
use crate::protobuf::Message;

/// The sample types, in the order of every sample's values: (type, unit).
pub const SAMPLE_TYPES: [(&str, &str); 2] = [("contentions", "count"), ("delay", "nanoseconds")];

/// The synthetic outermost frame of a waiting stack: `[waiting] ` and the lock's label.
pub const WAITING: &str = "[waiting]";
/// The synthetic outermost frame of a holding stack: `[holding] ` and the lock's label.
pub const HOLDING: &str = "[holding]";

/// An encoded profile, and what is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pprof {
    /// The `Profile` message, not yet gzipped.
    pub bytes: Vec<u8>,
    /// Samples from waiting stacks.
    pub waiting: usize,
    /// Samples from holding stacks.
    pub holding: usize,
    /// Distinct locations (frames).
    pub locations: usize,
    /// Total delay of the waiting samples, in nanoseconds.
    pub wait_ns: u64,
}

impl Pprof {
    /// Whether no sample has any weight (nothing waited).
    pub fn is_empty(&self) -> bool {
        self.waiting + self.holding == 0
    }

    /// Writes the profile gzipped, as pprof stores profiles.
    pub fn write_gzipped(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut gz = GzEncoder::new(out, Compression::default());
        gz.write_all(&self.bytes)?;
        gz.finish()?;
        Ok(())
    }
}

/// pprof's string table: every string once, by index; index 0 is `""`.
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        Strings { table: vec![String::new()], index: HashMap::from([(String::new(), 0)]) }
    }

    fn id(&mut self, s: &str) -> i64 {
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        let id = self.table.len() as i64;
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), id);
        id
    }
}

/// What a location stands for: a function (by name and file) at a line.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Place {
    function: String,
    file: String,
    line: u32,
}

/// The profile's locations and functions, each once.
#[derive(Default)]
struct Places {
    locations: HashMap<Place, u64>,
    location_order: Vec<Place>,
    functions: HashMap<(String, String), u64>,
    function_order: Vec<(String, String, u32)>,
}

impl Places {
    fn location(&mut self, place: Place) -> u64 {
        if let Some(&id) = self.locations.get(&place) {
            return id;
        }
        let key = (place.function.clone(), place.file.clone());
        if !self.functions.contains_key(&key) {
            self.function_order.push((key.0.clone(), key.1.clone(), place.line));
            self.functions.insert(key, self.function_order.len() as u64);
        }
        self.location_order.push(place.clone());
        let id = self.location_order.len() as u64;
        self.locations.insert(place, id);
        id
    }
}

/// Encodes the contention profile of `trace` (read from `source`, named in a comment).
pub fn encode(trace: &Trace, contention: &Contention, source: &str) -> Pprof {
    let index = Index::new(trace);
    let mut strings = Strings::new();
    let mut places = Places::default();
    let mut samples: Vec<Message> = Vec::new();
    let (mut waiting, mut holding, mut wait_ns) = (0, 0, 0u64);
    let blame_key = strings.id("blame");
    let lock_key = strings.id("lock");
    let lock_id_key = strings.id("lock_id");
    let tables: [(&str, &[StackContention]); 2] =
        [(WAITING, &contention.waiters), (HOLDING, &contention.holders)];
    for (root, rows) in tables {
        for row in rows.iter().filter(|row| row.count > 0 || row.ns > 0) {
            let mut locations: Vec<u64> = Vec::new();
            if let Some(stack) = index.stack(row.stack) {
                for frame in &stack.frames {
                    let function = if frame.function.is_empty() { "??" } else { &frame.function };
                    locations.push(places.location(Place {
                        function: function.to_owned(),
                        file: frame.file.clone().unwrap_or_default(),
                        line: frame.line.unwrap_or(0),
                    }));
                }
            }
            // Without the id, which differs between processes: profilers aggregate samples
            // across a fleet by their labels (`lock_id` says which lock of this process).
            let label = index.class_label(row.lock);
            let (function, file, line) = match index.lock(row.lock) {
                Some(lock) => (root_frame(root, lock), lock.site.file.clone(), lock.site.line),
                None => (format!("{root} lock #{}", row.lock), String::new(), 0),
            };
            locations.push(places.location(Place { function, file, line }));
            let mut sample = Message::new();
            sample.packed_uint64(1, &locations);
            sample.packed_int64(2, &[clamp(row.count), clamp(row.ns)]);
            let blame = if root == WAITING { "waiting" } else { "holding" };
            let mut string_label = |key: i64, value: &str, strings: &mut Strings| {
                let mut l = Message::new();
                l.int64(1, key);
                l.int64(2, strings.id(value));
                sample.message(3, &l);
            };
            string_label(blame_key, blame, &mut strings);
            string_label(lock_key, &label, &mut strings);
            let mut l = Message::new();
            l.int64(1, lock_id_key);
            l.int64(3, clamp(row.lock));
            sample.message(3, &l);
            samples.push(sample);
            if root == WAITING {
                waiting += 1;
                wait_ns = wait_ns.saturating_add(row.ns);
            } else {
                holding += 1;
            }
        }
    }

    let mut profile = Message::new();
    // 1: sample_type.
    for (kind, unit) in SAMPLE_TYPES {
        profile.message(1, &value_type(&mut strings, kind, unit));
    }
    // 2: sample.
    for sample in &samples {
        profile.message(2, sample);
    }
    // 3: mapping: the program, with functions, file names and line numbers already known.
    let mut mapping = Message::new();
    mapping.uint64(1, 1);
    mapping.int64(5, strings.id(trace.process.command.first().map(String::as_str).unwrap_or("")));
    mapping.bool(7, true);
    mapping.bool(8, true);
    mapping.bool(9, true);
    profile.message(3, &mapping);
    // 4: location.
    for (n, place) in places.location_order.iter().enumerate() {
        let mut line = Message::new();
        line.uint64(1, places.functions[&(place.function.clone(), place.file.clone())]);
        line.int64(2, i64::from(place.line));
        let mut location = Message::new();
        location.uint64(1, n as u64 + 1);
        location.uint64(2, 1);
        location.message(4, &line);
        profile.message(4, &location);
    }
    // 5: function.
    for (n, (name, file, start_line)) in places.function_order.iter().enumerate() {
        let mut function = Message::new();
        function.uint64(1, n as u64 + 1);
        function.int64(2, strings.id(name));
        function.int64(3, strings.id(name));
        function.int64(4, strings.id(file));
        function.int64(5, i64::from(*start_line));
        profile.message(5, &function);
    }
    // 11, 12: period_type and period: one in `sample` brief waits had its stack captured.
    let period_type = value_type(&mut strings, "contentions", "count");
    let comments = [
        strings.id(&format!("lockprof contention profile of {source}")),
        strings.id(&match contention.sample {
            0 | 1 => "LOCKPROF_SAMPLE=1: every contended wait had its stack captured".to_owned(),
            n => format!("LOCKPROF_SAMPLE={n}: one in {n} brief contended waits had its stack captured"),
        }),
    ];
    let default_type = strings.id("delay");
    // 6: string_table, once every string is in it.
    for s in &strings.table {
        profile.string(6, s);
    }
    profile.message(11, &period_type);
    profile.int64(12, clamp(contention.sample.max(1)));
    profile.packed_int64(13, &comments);
    profile.int64(14, default_type);
    Pprof { bytes: profile.into_bytes(), waiting, holding, locations: places.location_order.len(), wait_ns }
}

/// `[waiting] "hot" at src/x.rs:12`, `[holding] lock at src/x.rs:12`: the root frame of a lock's
/// stacks. Not the flamegraph's label: pprof shortens names by dropping a trailing `(...)`, which
/// would make locks of one name but different sites look the same.
pub fn root_frame(root: &str, lock: &LockEntry) -> String {
    match &lock.name {
        Some(name) => format!("{root} {name:?} at {}:{}", lock.site.file, lock.site.line),
        None => format!("{root} lock at {}:{}", lock.site.file, lock.site.line),
    }
}

fn value_type(strings: &mut Strings, kind: &str, unit: &str) -> Message {
    let mut m = Message::new();
    m.int64(1, strings.id(kind));
    m.int64(2, strings.id(unit));
    m
}

/// `value` as pprof's `int64`, saturated.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_table_starts_empty_and_holds_each_string_once() {
        let mut strings = Strings::new();
        assert_eq!(strings.id(""), 0);
        assert_eq!(strings.id("a"), 1);
        assert_eq!(strings.id("b"), 2);
        assert_eq!(strings.id("a"), 1);
        assert_eq!(strings.table, ["", "a", "b"]);
    }

    #[test]
    fn huge_figures_saturate() {
        assert_eq!(clamp(u64::MAX), i64::MAX);
        assert_eq!(clamp(5), 5);
    }
}
