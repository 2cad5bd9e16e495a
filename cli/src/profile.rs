//! The contention profile's stacks as flamegraphs read them: *folded stacks*, one line per
//! distinct stack with its weight, frames outermost first, separated by `;`, the lock as the
//! leaf frame:
//!
//! ```text
//! hot_counter::main::{{closure}}::{{closure}};hot_counter::bump_hot_counter;lock: "hot" (fixtures/src/bin/hot_counter.rs:56) 146439484
//! ```
//!
//! - Frames are function names only (what inferno colours and merges by); a stack's frames that
//!   differ only by line merge into one tower.
//! - The leaf is `lock: ` and the lock's label without its id ([`report::class_label`]: the
//!   same in every trace, so `diff` matches it), so the widest towers end in the lock they wait
//!   for (or hold).
//! - A `;` inside a name (Rust types such as `[u8; 4]`) would split it into two frames: it becomes
//!   `,`. Control characters are escaped (`\n`), so one stack stays one line. An empty name is `??`.
//! - Weights are integers: nanoseconds, or counts. Stacks of weight 0 are left out; lines are
//!   sorted. If a profile's total does not fit the arithmetic of flamegraph tools (more than
//!   2^62, which only a crafted trace reaches), every weight is halved until it does
//!   ([`Folded::shift`]).
//!
//! [`Selection`] chooses the table and the weight: `--blame waiter` (the waiters' stacks, the
//! default) by `--weight wait` (total wait, the default) or `count` (waits); `--blame holder`
//! (the holders' stacks: where a lock others waited for was released) by `--weight hold`
//! (contended hold time, its default) or `count` (contended holds).

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use lockprof_analysis::report;
use lockprof_trace::schema::{Contention, LockEntry, Stack, StackContention, Trace};

use crate::Error;

/// Whose stacks a flamegraph shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Blame {
    /// The waiting threads' stacks (`contention.waiters`): where time was lost.
    Waiter,
    /// The holding threads' stacks (`contention.holders`): where a lock others waited for was
    /// held, up to its release.
    Holder,
}

/// What a stack's width measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Weight {
    /// Total wait, in nanoseconds (waiting stacks).
    Wait,
    /// How many waits (waiting stacks) or contended holds (holding stacks).
    Count,
    /// Contended hold time, in nanoseconds (holding stacks): how long holders kept others
    /// waiting.
    Hold,
}

/// A table of stacks and a weight that it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Whose stacks.
    pub blame: Blame,
    /// Weighed by what.
    pub weight: Weight,
}

impl Default for Selection {
    fn default() -> Self {
        Selection { blame: Blame::Waiter, weight: Weight::Wait }
    }
}

impl Selection {
    /// The selection that `--blame` and `--weight` ask for, with the defaults filled in: waiting
    /// stacks by wait; `--weight hold` alone means the holding stacks, and `--blame holder` alone
    /// weighs them by hold time. A combination the trace has no figures for is a usage error.
    pub fn new(blame: Option<Blame>, weight: Option<Weight>) -> Result<Selection, Error> {
        let blame = blame.unwrap_or(if weight == Some(Weight::Hold) { Blame::Holder } else { Blame::Waiter });
        let weight = weight.unwrap_or(match blame {
            Blame::Waiter => Weight::Wait,
            Blame::Holder => Weight::Hold,
        });
        match (blame, weight) {
            (Blame::Waiter, Weight::Hold) => Err(Error::Usage(
                "--weight hold needs --blame holder: waiting stacks have no hold time".into(),
            )),
            (Blame::Holder, Weight::Wait) => Err(Error::Usage(
                "--blame holder weighs by --weight hold (how long holders kept others waiting) or count: holding stacks have no wait time of their own".into(),
            )),
            _ => Ok(Selection { blame, weight }),
        }
    }

    /// A title for a flamegraph of this selection.
    pub fn title(self) -> &'static str {
        match (self.blame, self.weight) {
            (Blame::Waiter, Weight::Count) => "Lock waits: waiting stacks by number of waits",
            (Blame::Waiter, _) => "Lock waits: waiting stacks by wait time",
            (Blame::Holder, Weight::Count) => "Lock holders: holding stacks by number of contended holds",
            (Blame::Holder, _) => "Lock holders: holding stacks by how long they kept others waiting",
        }
    }

    /// The unit of the weights.
    pub fn unit(self) -> &'static str {
        match (self.blame, self.weight) {
            (_, Weight::Wait | Weight::Hold) => "ns",
            (Blame::Waiter, Weight::Count) => "waits",
            (Blame::Holder, Weight::Count) => "holds",
        }
    }

    /// The rows of `contention` this selection reads.
    fn table(self, contention: &Contention) -> &[StackContention] {
        match self.blame {
            Blame::Waiter => &contention.waiters,
            Blame::Holder => &contention.holders,
        }
    }

    fn weigh(self, row: &StackContention) -> u64 {
        match self.weight {
            Weight::Count => row.count,
            Weight::Wait | Weight::Hold => row.ns,
        }
    }
}

/// The locks and stacks of a trace by id, built once (the trace's own lookups are linear scans).
pub struct Index<'t> {
    locks: HashMap<u64, &'t LockEntry>,
    stacks: HashMap<u32, &'t Stack>,
}

impl<'t> Index<'t> {
    /// Indexes `trace`.
    pub fn new(trace: &'t Trace) -> Index<'t> {
        Index {
            locks: trace.locks.iter().map(|l| (l.id, l)).collect(),
            stacks: trace.stacks.iter().map(|s| (s.id, s)).collect(),
        }
    }

    /// The lock with this id.
    pub fn lock(&self, id: u64) -> Option<&'t LockEntry> {
        self.locks.get(&id).copied()
    }

    /// The stack with this id.
    pub fn stack(&self, id: u32) -> Option<&'t Stack> {
        self.stacks.get(&id).copied()
    }

    /// The lock's short label, as [`report::lock_short_label`] gives it.
    pub fn label(&self, id: u64) -> String {
        match self.lock(id) {
            Some(lock) => report::short_label(lock),
            None => format!("lock #{id}"),
        }
    }

    /// The lock's label without its id ([`report::class_label`]), for what must match across
    /// traces: a flamegraph's frames, which `diff` compares.
    pub fn class_label(&self, id: u64) -> String {
        match self.lock(id) {
            Some(lock) => report::class_label(lock),
            None => format!("lock #{id}"),
        }
    }
}

/// The profile of a trace, or the error that it has none.
pub fn contention<'t>(trace: &'t Trace, path: &Path) -> Result<&'t Contention, Error> {
    trace.contention.as_ref().ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        why: "no contention profile in this trace, so no stacks to draw (lockprof records one in every trace it writes; this one is from an older lockprof, or hand-made)".into(),
    })
}

/// The largest total weight a profile is given to flamegraph tools with.
const MAX_TOTAL: u128 = 1 << 62;

/// Folded stacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    /// Each distinct stack once, sorted, with its weight (never 0).
    pub stacks: Vec<(String, u64)>,
    /// How many distinct locks the stacks end in.
    pub locks: usize,
}

impl Folded {
    /// The sum of the weights.
    pub fn total(&self) -> u128 {
        self.stacks.iter().map(|(_, w)| u128::from(*w)).sum()
    }

    /// How many times the weights are halved so that the total fits flamegraph tools (0 for
    /// every real profile).
    pub fn shift(&self) -> u32 {
        let total = self.total();
        if total <= MAX_TOTAL { 0 } else { (total / MAX_TOTAL).ilog2() + 1 }
    }

    /// Whether there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }

    /// The folded text: `stack weight` lines, weights shifted right by `shift` (lines whose
    /// weight becomes 0 are left out).
    pub fn text(&self, shift: u32) -> String {
        let mut text = String::with_capacity(self.stacks.iter().map(|(s, _)| s.len() + 12).sum());
        for (stack, weight) in &self.stacks {
            let weight = weight >> shift;
            if weight > 0 {
                let _ = writeln!(text, "{stack} {weight}");
            }
        }
        text
    }
}

/// The differential folded stacks of `before` and `after`: a `stack before after` line for
/// every stack of either (0 where it is absent), sorted, each weight shifted right by `shift`
/// first (see [`Folded::shift`]; a stack whose weight becomes 0 on a side is absent there).
/// With `normalize`, and if the totals differ, each `before` weight is scaled by the ratio of
/// the totals (`after / before`), truncated.
///
/// This is what inferno's `differential::from_readers` makes of the folded texts of both (in
/// sorted order instead of hash order; a test checks it), computed by merging the two sorted
/// lists instead of parsing the texts again, which makes `lockprof diff` of two traces of 10^5
/// stacks a quarter of a second faster.
pub fn differential(before: &Folded, after: &Folded, shift: u32, normalize: bool) -> String {
    let total = |folded: &Folded| -> u64 {
        folded.stacks.iter().fold(0u64, |sum, (_, w)| sum.wrapping_add(w >> shift))
    };
    let (total_before, total_after) = (total(before), total(after));
    let scale = |w: u64| -> u64 {
        if normalize && total_before != total_after {
            (w as f64 * total_after as f64 / total_before as f64) as u64
        } else {
            w
        }
    };
    let mut text = String::with_capacity(
        before.stacks.iter().chain(&after.stacks).map(|(s, _)| s.len() + 24).sum::<usize>(),
    );
    let mut line = |stack: &str, first: u64, second: u64| {
        if first > 0 || second > 0 {
            let _ = writeln!(text, "{stack} {} {second}", scale(first));
        }
    };
    let (mut b, mut a) = (before.stacks.iter().peekable(), after.stacks.iter().peekable());
    loop {
        match (b.peek(), a.peek()) {
            (Some((sb, wb)), Some((sa, wa))) => match sb.cmp(sa) {
                std::cmp::Ordering::Less => {
                    line(sb, wb >> shift, 0);
                    b.next();
                }
                std::cmp::Ordering::Greater => {
                    line(sa, 0, wa >> shift);
                    a.next();
                }
                std::cmp::Ordering::Equal => {
                    line(sb, wb >> shift, wa >> shift);
                    b.next();
                    a.next();
                }
            },
            (Some((sb, wb)), None) => {
                line(sb, wb >> shift, 0);
                b.next();
            }
            (None, Some((sa, wa))) => {
                line(sa, 0, wa >> shift);
                a.next();
            }
            (None, None) => break,
        }
    }
    text
}

/// Folds the stacks of `trace` that `selection` chooses. `path` names the trace in the error
/// when it has no contention profile.
pub fn fold(trace: &Trace, path: &Path, selection: Selection) -> Result<Folded, Error> {
    let contention = contention(trace, path)?;
    let index = Index::new(trace);
    let rows = selection.table(contention);
    let mut leaves: HashMap<u64, String> = HashMap::new();
    let mut lines: Vec<(String, u64)> = Vec::with_capacity(rows.len());
    let mut capacity = 256;
    for row in rows {
        let weight = selection.weigh(row);
        if weight == 0 {
            continue;
        }
        let mut line = String::with_capacity(capacity);
        if let Some(stack) = index.stack(row.stack) {
            for frame in stack.frames.iter().rev() {
                push_frame(&mut line, &frame.function);
                line.push(';');
            }
        }
        let leaf = leaves.entry(row.lock).or_insert_with(|| {
            let mut leaf = String::new();
            push_frame(&mut leaf, &format!("lock: {}", index.class_label(row.lock)));
            leaf
        });
        line.push_str(leaf);
        capacity = capacity.max(line.len());
        lines.push((line, weight));
    }
    // Sorted, then each stack once: stacks whose frames differ only by line fold into one.
    lines.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut stacks: Vec<(String, u64)> = Vec::with_capacity(lines.len());
    for (line, weight) in lines {
        match stacks.last_mut() {
            Some((last, total)) if *last == line => *total = total.saturating_add(weight),
            _ => stacks.push((line, weight)),
        }
    }
    Ok(Folded { stacks, locks: leaves.len() })
}

/// Appends `name` as one frame of a folded stack: `;` becomes `,`, control characters are
/// escaped (and the two characters that XML cannot carry at all become `\u{fffd}`), and an empty
/// name is `??`.
fn push_frame(out: &mut String, name: &str) {
    if name.is_empty() {
        out.push_str("??");
    } else {
        push_printable(out, name, true);
    }
}

/// `text` as a flamegraph can show it: on one line, with only characters that XML carries.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_printable(&mut out, text, false);
    out
}

fn push_printable(out: &mut String, text: &str, frame: bool) {
    // Bytes that may start something to replace: ASCII controls and `;`, and the lead bytes of
    // U+0080..U+00BF (the C1 controls) and of U+F000..U+FFFF (U+FFFE, U+FFFF). Most names have
    // none, and are copied as they are.
    // (A fold without early exit, which the compiler vectorises.)
    let suspect = |b: u8| (b < 0x20) | (b == 0x7f) | (frame & (b == b';')) | (b == 0xc2) | (b == 0xef);
    if !text.bytes().fold(false, |found, b| found | suspect(b)) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            ';' if frame => out.push(','),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_trace::LockKind;
    use lockprof_trace::schema::{Frame, LockContention, Site, WriteReason};

    fn frame(function: &str) -> Frame {
        Frame { function: function.into(), file: None, line: None }
    }

    fn trace() -> Trace {
        let mut trace = Trace::empty(WriteReason::Exit);
        trace.locks.push(LockEntry {
            id: 7,
            kind: LockKind::Mutex,
            site: Site { file: "src/a.rs".into(), line: 3, column: 9 },
            name: Some("hot".into()),
            written: false,
            dropped: None,
            capacity: None,
        });
        trace.stacks = vec![
            Stack { id: 0, frames: vec![frame("inner"), frame("outer")] },
            // Same functions, other lines: the same folded stack.
            Stack { id: 1, frames: vec![frame("inner"), frame("outer")] },
            Stack { id: 2, frames: vec![frame("<[u8; 4] as X>::f\n"), frame("")] },
        ];
        let row = |stack, count, ns| StackContention { lock: 7, stack, count, ns };
        trace.contention = Some(Contention {
            sample: 1,
            locks: vec![LockContention {
                lock: 7,
                acquisitions: 9,
                contended: 4,
                wait_ns: 60,
                max_wait_ns: 30,
                hold_ns: 5,
            }],
            waiters: vec![row(0, 1, 10), row(1, 2, 20), row(2, 1, 30)],
            holders: vec![row(0, 3, 0), row(2, 1, 5)],
            dropped_stacks: 0,
        });
        trace
    }

    #[test]
    fn stacks_fold_outermost_first_with_the_lock_as_leaf() {
        let folded = fold(&trace(), Path::new("t.json"), Selection::default()).expect("a profile");
        assert_eq!(
            folded.text(0),
            "??;<[u8, 4] as X>::f\\n;lock: \"hot\" (src/a.rs:3) 30\nouter;inner;lock: \"hot\" (src/a.rs:3) 30\n"
        );
        assert_eq!(folded.locks, 1);
        let counts = Selection::new(None, Some(Weight::Count)).expect("valid");
        assert!(
            fold(&trace(), Path::new("t.json"), counts)
                .expect("a profile")
                .text(0)
                .contains("inner;lock: \"hot\" (src/a.rs:3) 3\n")
        );
    }

    #[test]
    fn holders_by_hold_time_leave_out_weightless_stacks() {
        let holders = Selection::new(Some(Blame::Holder), None).expect("valid");
        assert_eq!(holders.weight, Weight::Hold);
        let folded = fold(&trace(), Path::new("t.json"), holders).expect("a profile");
        assert_eq!(folded.stacks.len(), 1);
        assert_eq!(Selection::new(None, Some(Weight::Hold)).expect("valid").blame, Blame::Holder);
    }

    #[test]
    fn meaningless_combinations_are_usage_errors() {
        assert!(matches!(Selection::new(Some(Blame::Waiter), Some(Weight::Hold)), Err(Error::Usage(_))));
        assert!(matches!(Selection::new(Some(Blame::Holder), Some(Weight::Wait)), Err(Error::Usage(_))));
    }

    #[test]
    fn no_profile_is_an_input_error_naming_the_file() {
        let error = fold(&Trace::empty(WriteReason::Exit), Path::new("t.json"), Selection::default())
            .expect_err("no profile");
        assert!(error.to_string().starts_with("t.json: no contention profile"), "{error}");
    }

    /// [`differential`] is inferno's differential folding, line for line.
    #[test]
    fn the_differential_is_inferno_s() {
        use crate::synthetic::{Synthetic, generate};
        let shape = Synthetic { locks: 30, stacks: 300, seed: 9, variant: 0 };
        let before = generate(&shape);
        let mut after = generate(&Synthetic { variant: 1, ..shape });
        // Stacks only in one of them, both ways.
        if let Some(contention) = after.contention.as_mut() {
            contention.waiters.retain(|row| row.stack % 7 != 0);
            contention.waiters.iter_mut().filter(|row| row.stack % 11 == 0).for_each(|row| row.lock = 1);
        }
        let path = Path::new("t.json");
        for selection in [Selection::default(), Selection::new(None, Some(Weight::Count)).expect("valid")] {
            let before = fold(&before, path, selection).expect("a profile");
            let after = fold(&after, path, selection).expect("a profile");
            for (shift, normalize) in [(0, false), (0, true), (3, true)] {
                let ours = differential(&before, &after, shift, normalize);
                let mut theirs = Vec::new();
                inferno::differential::from_readers(
                    inferno::differential::Options { normalize, strip_hex: false },
                    before.text(shift).as_bytes(),
                    after.text(shift).as_bytes(),
                    &mut theirs,
                )
                .expect("inferno");
                let theirs = String::from_utf8(theirs).expect("UTF-8");
                let mut theirs: Vec<&str> = theirs.lines().collect();
                theirs.sort_unstable();
                let mut ours: Vec<&str> = ours.lines().collect();
                ours.sort_unstable();
                assert_eq!(ours, theirs, "{selection:?}, shift {shift}, normalize {normalize}");
            }
        }
    }

    #[test]
    fn huge_totals_are_scaled_to_fit() {
        let folded = Folded { stacks: vec![("a".into(), u64::MAX), ("b".into(), u64::MAX)], locks: 1 };
        let shift = folded.shift();
        assert!(shift > 0);
        let total: u128 = folded.stacks.iter().map(|(_, w)| u128::from(w >> shift)).sum();
        assert!(total <= MAX_TOTAL);
        assert_eq!(Folded { stacks: vec![("a".into(), 5)], locks: 1 }.shift(), 0);
    }
}
