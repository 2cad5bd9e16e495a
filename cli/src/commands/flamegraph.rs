//! `lockprof flamegraph TRACE [-o OUT] [--folded] [--blame waiter|holder] [--weight
//! wait|count|hold]`: the contention profile's stacks as an interactive flamegraph (an SVG drawn
//! by inferno), or as folded stacks ([`crate::profile`]) for other flamegraph tools.
//!
//! By default the towers are the waiting stacks, as wide as the time they waited, each ending in
//! the lock it waited for. Output goes to `OUT`, written whole or not at all, or to standard
//! output.
//!
//! A trace without a contention profile is an error (exit 2). A profile in which no stack has
//! any weight (nothing waited) is not: the SVG says "no contention", the folded output is empty,
//! a note goes to standard error, and the exit code is 0.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use inferno::flamegraph::{Options, Palette, color::MultiPalette};
use lockprof_analysis::report;
use lockprof_trace::schema::Trace;

use crate::input::load;
use crate::output::{dispose, write_to};
use crate::profile::{Folded, Selection, fold, printable};
use crate::{Error, Status, flame};

/// What `lockprof flamegraph` draws, and where.
#[derive(Debug, Clone, Default)]
pub struct FlamegraphOptions {
    /// The stacks and their weight.
    pub selection: Selection,
    /// Folded stacks (text) instead of an SVG.
    pub folded: bool,
    /// The output file (standard output if `None`).
    pub output: Option<PathBuf>,
}

/// Draws the flamegraph of the trace at `path`; a one-line account of a written file, or a note
/// on an empty profile, goes to `log`.
pub fn run(
    path: &Path,
    options: &FlamegraphOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<Status, Error> {
    let trace = load(path)?;
    let folded = fold(&trace, path, options.selection)?;
    let subtitle = subtitle(&trace, path);
    let root = flame::root_label(options.selection, &printable(&path.display().to_string()));
    dispose(trace);
    let shift = folded.shift();
    let output = options.output.as_deref();
    let text = folded.text(shift);
    if options.folded {
        write_to(output, out, |w| w.write_all(text.as_bytes()))?;
    } else if folded.is_empty() {
        write_to(output, out, |w| {
            empty_svg(w, options.selection.title(), "No contention: no lock was waited for in this trace.")
        })?;
    } else {
        let mut svg = svg_options(options.selection.title(), subtitle, unit(options.selection, shift));
        write_to(output, out, |w| flame::draw(&mut svg, text.lines(), &root, w))?;
    }
    dispose(text);
    if folded.is_empty() {
        writeln!(
            log,
            "lockprof flamegraph: {}: no contention (no stack has any {}), so the {} is empty",
            path.display(),
            if options.selection.unit() == "ns" { "time" } else { options.selection.unit() },
            if options.folded { "folded output" } else { "flamegraph" }
        )?;
    } else if let Some(file) = output {
        writeln!(
            log,
            "lockprof flamegraph: {} on {} ({}) into {}",
            plural(folded.stacks.len(), "stack"),
            plural(folded.locks, "lock"),
            total(&folded, options.selection),
            file.display()
        )?;
    }
    Ok(Status::Success)
}

/// `146.44 ms in all`, `163 waits in all`.
pub fn total(folded: &Folded, selection: Selection) -> String {
    let total = u64::try_from(folded.total()).unwrap_or(u64::MAX);
    match selection.unit() {
        "ns" => format!("{} in all", report::duration(total)),
        unit => format!("{total} {unit} in all"),
    }
}

/// The unit of the weights, with the scaling if there is any.
pub fn unit(selection: Selection, shift: u32) -> String {
    if shift == 0 { selection.unit().to_owned() } else { format!("{} / 2^{shift}", selection.unit()) }
}

/// `fixtures/traces/x.json (hot_counter long)`: the trace and its process.
pub fn subtitle(trace: &Trace, path: &Path) -> String {
    printable(&format!("{} ({})", path.display(), trace.process.command.join(" ")))
}

/// inferno's options for lockprof's flamegraphs: colours by name (Rust code in one hue, the
/// standard library in another, locks in a third), the same colour for a name every time.
pub fn svg_options(title: &str, subtitle: String, unit: String) -> Options<'static> {
    let mut options = Options::default();
    options.title = title.to_owned();
    options.subtitle = Some(subtitle);
    options.count_name = unit;
    options.colors = Palette::Multi(MultiPalette::Rust);
    options.hash = true;
    options
}

/// A small SVG with `title` and `message` in place of a flamegraph with nothing in it (inferno
/// refuses to draw an empty profile).
pub fn empty_svg(out: &mut dyn Write, title: &str, message: &str) -> io::Result<()> {
    write!(
        out,
        concat!(
            "<?xml version=\"1.0\" standalone=\"no\"?>\n",
            "<svg version=\"1.1\" width=\"1200\" height=\"100\" viewBox=\"0 0 1200 100\" xmlns=\"http://www.w3.org/2000/svg\">\n",
            "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#eeeeee\"/>\n",
            "<text x=\"600\" y=\"34\" text-anchor=\"middle\" font-family=\"Verdana\" font-size=\"17\">{}</text>\n",
            "<text x=\"600\" y=\"70\" text-anchor=\"middle\" font-family=\"Verdana\" font-size=\"12\">{}</text>\n",
            "</svg>\n"
        ),
        flame::xml_escape(&printable(title)),
        flame::xml_escape(&printable(message))
    )
}

/// `1 stack`, `2 stacks`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_svg_escapes_what_it_shows() {
        let mut svg = Vec::new();
        empty_svg(&mut svg, "a <b> & \"c\"", "d\ne").expect("written");
        let svg = String::from_utf8(svg).expect("UTF-8");
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"), "{svg}");
        assert!(svg.contains("d\\ne"), "{svg}");
    }
}
