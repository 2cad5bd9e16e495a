//! `lockprof diff BEFORE AFTER [-o OUT] [--folded] [--blame waiter|holder] [--weight
//! wait|count|hold] [--normalize] [--top N]`: what changed between two traces of the same
//! program (before and after a fix, two releases).
//!
//! - On standard output, a table of the locks whose figure changed most: total wait by default
//!   (`--weight hold`: contended hold time; `count`: contended acquisitions), before, after, the
//!   change and its percentage, sorted by the size of the change. Lock ids differ between
//!   processes, so locks are matched by kind, creation site and name (locks that share all three
//!   in one trace count as one row, marked `[N locks]`).
//! - With `-o OUT`, a differential flamegraph (the differential folding of inferno's
//!   `differential` module, [`differential`], then inferno's flamegraph with two counts per
//!   stack): towers as wide as in AFTER, red where a stack's weight grew, blue where it shrank
//!   (`--normalize` scales BEFORE to AFTER's total first). Stacks that vanished (in BEFORE only)
//!   would be 0 wide: they are drawn as wide as they were in BEFORE, in blue, under the frame
//!   [`flame::VANISHED`], so a diff from a contended run to its fix shows what went away. The
//!   root bar says what is compared. With `--folded`, the differential folded stacks (`stack
//!   before after` lines, inferno's format) instead.
//!
//! Both traces need a contention profile (else exit 2). If neither has any contention, the
//! flamegraph says so instead of drawing towers of width 0.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;

use lockprof_analysis::report::{class_label, duration};
use lockprof_trace::LockKind;
use lockprof_trace::schema::{Site, Trace};

use crate::commands::flamegraph::{empty_svg, plural, svg_options, unit};
use crate::input::load;
use crate::output::{dispose, write_to};
use crate::profile::{self, Folded, Index, Selection, Weight, differential, fold, printable};
use crate::shorten::{MAX_CHARS, shorten};
use crate::{Error, Status, flame};

/// What `lockprof diff` compares, and where the flamegraph goes.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The stacks and their weight (the table follows the weight).
    pub selection: Selection,
    /// Differential folded stacks instead of an SVG.
    pub folded: bool,
    /// The flamegraph's file; without one, only the table is printed.
    pub output: Option<PathBuf>,
    /// Scale BEFORE's stacks to AFTER's total before comparing them.
    pub normalize: bool,
    /// How many locks the table shows.
    pub top: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            selection: Selection::default(),
            folded: false,
            output: None,
            normalize: false,
            top: 10,
        }
    }
}

/// Compares the traces at `before` and `after`: the flamegraph to `options.output` (and an
/// account of it to `log`), then the table to `out`.
pub fn run(
    before: &Path,
    after: &Path,
    options: &DiffOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<Status, Error> {
    // Traces can be large: read, and fold, both at once.
    let want_stacks = options.output.is_some();
    let work = |path: &Path| -> Result<(Trace, Option<Folded>), Error> {
        let trace = load(path)?;
        profile::contention(&trace, path)?;
        let folded = if want_stacks { Some(fold(&trace, path, options.selection)?) } else { None };
        Ok((trace, folded))
    };
    let (first, second) = thread::scope(|scope| {
        let first = scope.spawn(|| work(before));
        let second = work(after);
        (first.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), second)
    });
    let (before_trace, before_folded) = first?;
    let (after_trace, after_folded) = second?;

    let table = lock_changes(&before_trace, &after_trace, options.selection.weight);
    dispose((before_trace, after_trace));
    // The file first: if it cannot be written, the command fails with nothing on stdout.
    if let (Some(file), Some(before_folded), Some(after_folded)) =
        (options.output.as_deref(), before_folded, after_folded)
    {
        write_flamegraph(file, &before_folded, &after_folded, options, before, after, out)?;
        writeln!(
            log,
            "lockprof diff: {} before, {} after, into {}",
            plural(before_folded.stacks.len(), "stack"),
            plural(after_folded.stacks.len(), "stack"),
            file.display()
        )?;
        dispose((before_folded, after_folded));
    }
    write_table(&table, options, before, after, out)?;
    Ok(Status::Success)
}

/// Writes the differential flamegraph (or folded stacks) of `before_folded` → `after_folded`
/// to `file`.
fn write_flamegraph(
    file: &Path,
    before_folded: &Folded,
    after_folded: &Folded,
    options: &DiffOptions,
    before: &Path,
    after: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let shift = before_folded.shift().max(after_folded.shift());
    // Scaling BEFORE to an empty AFTER would scale it to nothing: the vanished stacks are drawn
    // as they were.
    let normalize = options.normalize && !after_folded.is_empty();
    let merged = differential(before_folded, after_folded, shift, normalize);
    let title = format!("Differential {}", lowercase_first(options.selection.title()));
    if options.folded {
        write_to(Some(file), out, |w| w.write_all(merged.as_bytes()))?;
    } else if after_folded.is_empty() && before_folded.is_empty() {
        let message = "No contention in either trace: nothing to compare.";
        write_to(Some(file), out, |w| empty_svg(w, &title, message))?;
    } else {
        let (lines, vanished) = flame::with_vanished(&merged);
        let subtitle = printable(&format!(
            "{} → {}: as wide as after; red grew, blue shrank{}{}",
            before.display(),
            after.display(),
            if vanished > 0 { "; gone since before: under [vanished], as wide as before" } else { "" },
            if normalize { " (before normalised to after's total)" } else { "" }
        ));
        let root = flame::root_label(
            options.selection,
            &printable(&format!("{} → {}", before.display(), after.display())),
        );
        let mut svg = svg_options(&title, subtitle, unit(options.selection, shift));
        write_to(Some(file), out, |w| flame::draw(&mut svg, lines.lines(), &root, w))?;
    }
    dispose(merged);
    Ok(())
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// One row of the table: a lock (or the locks that share its identity), in both traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockChange {
    /// How the table names it.
    pub label: String,
    /// Its figure in BEFORE.
    pub before: u64,
    /// Its figure in AFTER.
    pub after: u64,
    /// How many locks of BEFORE and of AFTER have its identity (usually 1, or 0 where it is
    /// absent).
    pub locks: (usize, usize),
}

impl LockChange {
    /// AFTER minus BEFORE.
    pub fn change(&self) -> i128 {
        i128::from(self.after) - i128::from(self.before)
    }
}

/// A lock's identity across processes.
type Key<'t> = (LockKind, &'t Site, Option<&'t str>);

/// Every lock of either trace whose figure (`weight`) differs, largest change first (then by
/// label).
pub fn lock_changes(before: &Trace, after: &Trace, weight: Weight) -> Vec<LockChange> {
    let mut rows: HashMap<Key<'_>, LockChange> = HashMap::new();
    let mut order: Vec<Key<'_>> = Vec::new();
    for (side, trace) in [before, after].into_iter().enumerate() {
        let index = Index::new(trace);
        let Some(contention) = &trace.contention else { continue };
        for l in &contention.locks {
            let Some(lock) = index.lock(l.lock) else { continue };
            let key = (lock.kind, &lock.site, lock.name.as_deref());
            let row = rows.entry(key).or_insert_with(|| {
                order.push(key);
                LockChange { label: class_label(lock), before: 0, after: 0, locks: (0, 0) }
            });
            let figure = match weight {
                Weight::Wait => l.wait_ns,
                Weight::Hold => l.hold_ns,
                Weight::Count => l.contended,
            };
            if side == 0 {
                row.before = row.before.saturating_add(figure);
                row.locks.0 += 1;
            } else {
                row.after = row.after.saturating_add(figure);
                row.locks.1 += 1;
            }
        }
    }
    // Short labels leave out the column and the kind: where two identities share one, say them.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for row in rows.values() {
        *seen.entry(row.label.as_str()).or_default() += 1;
    }
    let ambiguous: Vec<String> =
        seen.into_iter().filter(|(_, n)| *n > 1).map(|(l, _)| l.to_owned()).collect();
    let mut changes: Vec<LockChange> = order
        .into_iter()
        .filter_map(|key| {
            let mut row = rows.remove(&key)?;
            if ambiguous.contains(&row.label) {
                let (kind, site, name) = key;
                row.label = match name {
                    Some(name) => format!("{name:?} ({} {site})", kind.as_str()),
                    None => format!("{} {site}", kind.as_str()),
                };
            }
            let shared = row.locks.0.max(row.locks.1);
            if shared > 1 {
                row.label.push_str(&format!(" [{shared} locks]"));
            }
            Some(row)
        })
        .filter(|row| row.change() != 0)
        .collect();
    changes.sort_by(|a, b| b.change().abs().cmp(&a.change().abs()).then_with(|| a.label.cmp(&b.label)));
    changes
}

/// The figure's name in the table.
fn figure_name(weight: Weight) -> &'static str {
    match weight {
        Weight::Wait => "Total wait",
        Weight::Hold => "Contended hold time",
        Weight::Count => "Contended acquisitions",
    }
}

fn amount(weight: Weight, n: u64) -> String {
    match weight {
        Weight::Wait | Weight::Hold => duration(n),
        Weight::Count => n.to_string(),
    }
}

fn signed(weight: Weight, change: i128) -> String {
    let sign = match change.signum() {
        1 => "+",
        -1 => "-",
        _ => "",
    };
    let size = u64::try_from(change.unsigned_abs()).unwrap_or(u64::MAX);
    format!("{sign}{}", amount(weight, size))
}

fn percent(before: u64, after: u64) -> String {
    if before == 0 {
        return "new".to_owned();
    }
    let change = (after as f64 - before as f64) / before as f64 * 100.0;
    format!("{change:+.1}%")
}

/// Writes the table of `changes`, at most `options.top` rows, and the total.
fn write_table(
    changes: &[LockChange],
    options: &DiffOptions,
    before: &Path,
    after: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let weight = options.selection.weight;
    writeln!(out, "lockprof diff: {} → {}", before.display(), after.display())?;
    writeln!(out, "{} by lock (locks matched by kind, creation site and name):", figure_name(weight))?;
    if changes.is_empty() {
        writeln!(out, "  no lock changed")?;
        return Ok(());
    }
    let shown = &changes[..changes.len().min(options.top)];
    let (before_total, after_total) = changes
        .iter()
        .fold((0u64, 0u64), |(b, a), row| (b.saturating_add(row.before), a.saturating_add(row.after)));
    let total = LockChange { label: "total".into(), before: before_total, after: after_total, locks: (0, 0) };
    let cells = |row: &LockChange| {
        [
            shorten(&printable(&row.label), MAX_CHARS),
            amount(weight, row.before),
            amount(weight, row.after),
            signed(weight, row.change()),
            percent(row.before, row.after),
        ]
    };
    let mut lines: Vec<[String; 5]> =
        vec![["lock".into(), "before".into(), "after".into(), "change".into(), "%".into()]];
    lines.extend(shown.iter().map(cells));
    let more = changes.len() - shown.len();
    lines.push(cells(&total));
    let mut widths = [0usize; 5];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let last = lines.len() - 1;
    for (n, line) in lines.iter().enumerate() {
        if n == last && more > 0 {
            writeln!(out, "  ... {} more changed (--top N)", plural(more, "lock"))?;
        }
        let [label, before, after, change, percent] = line;
        writeln!(
            out,
            "  {label:<w0$}  {before:>w1$}  {after:>w2$}  {change:>w3$}  {percent:>w4$}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_trace::schema::{Contention, LockContention, LockEntry, WriteReason};

    fn trace(locks: &[(u64, &str, u32, u64)]) -> Trace {
        let mut trace = Trace::empty(WriteReason::Exit);
        let mut contention = Contention {
            sample: 1,
            locks: Vec::new(),
            waiters: Vec::new(),
            holders: Vec::new(),
            dropped_stacks: 0,
        };
        for &(id, name, line, wait_ns) in locks {
            trace.locks.push(LockEntry {
                id,
                kind: LockKind::Mutex,
                site: Site { file: "src/a.rs".into(), line, column: 1 },
                name: (!name.is_empty()).then(|| name.to_owned()),
                written: false,
                dropped: None,
                capacity: None,
            });
            contention.locks.push(LockContention {
                lock: id,
                acquisitions: 10,
                contended: 1,
                wait_ns,
                max_wait_ns: wait_ns,
                hold_ns: 0,
            });
        }
        trace.contention = Some(contention);
        trace
    }

    #[test]
    fn locks_match_by_identity_not_id_and_sort_by_the_size_of_the_change() {
        let before = trace(&[(1, "hot", 5, 1_000), (2, "cold", 6, 10), (3, "same", 7, 5)]);
        let after = trace(&[(8, "cold", 6, 500), (9, "hot", 5, 100), (10, "same", 7, 5), (11, "new", 9, 7)]);
        let changes = lock_changes(&before, &after, Weight::Wait);
        let rows: Vec<(&str, u64, u64)> =
            changes.iter().map(|c| (c.label.as_str(), c.before, c.after)).collect();
        assert_eq!(
            rows,
            [
                ("\"hot\" (src/a.rs:5)", 1_000, 100),
                ("\"cold\" (src/a.rs:6)", 10, 500),
                ("\"new\" (src/a.rs:9)", 0, 7)
            ]
        );
        assert_eq!(percent(1_000, 100), "-90.0%");
        assert_eq!(percent(0, 7), "new");
        assert_eq!(signed(Weight::Wait, -900), "-900 ns");
        assert_eq!(signed(Weight::Count, 3), "+3");
    }

    #[test]
    fn locks_sharing_an_identity_are_one_row() {
        let before = trace(&[(1, "", 5, 10), (2, "", 5, 20)]);
        let after = trace(&[(1, "", 5, 1)]);
        let changes = lock_changes(&before, &after, Weight::Wait);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].label, "src/a.rs:5 [2 locks]");
        assert_eq!((changes[0].before, changes[0].after), (30, 1));
    }
}
