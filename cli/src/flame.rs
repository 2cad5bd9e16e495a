//! What lockprof adds to inferno's flamegraphs: a labelled root bar, and differential input in
//! which the stacks that vanished are drawn too.
//!
//! - **The root bar.** inferno draws the bar under every tower blank and calls it `all` in its
//!   tooltip. [`draw`] renders the SVG and then names that bar ([`label_root`]): `all lock waits
//!   in trace.json`, so a reader knows what 100% is.
//! - **Vanished stacks.** A differential flamegraph is as wide as AFTER (inferno draws the second
//!   count), so a stack that is gone from AFTER has width 0 and is not drawn at all: comparing a
//!   contended run with its fix showed the fix's few remaining waits and hid everything that went
//!   away. [`with_vanished`] draws those stacks as they were in BEFORE, under a synthetic
//!   outermost frame [`VANISHED`], in blue (their change is their whole width).

use std::io::{self, Write};

use inferno::flamegraph::{self, Options};

use crate::profile::{Blame, Selection};

/// The outermost frame of the stacks that are in BEFORE only, drawn at their BEFORE width.
pub const VANISHED: &str = "[vanished: as wide as in BEFORE]";

/// The root bar's label: `all lock waits in WHAT` (or `all contended holds in WHAT`, for the
/// holders' stacks).
pub fn root_label(selection: Selection, what: &str) -> String {
    match selection.blame {
        Blame::Waiter => format!("all lock waits in {what}"),
        Blame::Holder => format!("all contended holds in {what}"),
    }
}

/// Renders `lines` (folded, or differential folded) with inferno and writes the SVG to `out`,
/// its root bar labelled `root` ([`label_root`]).
pub fn draw<'a>(
    options: &mut Options<'_>,
    lines: impl IntoIterator<Item = &'a str>,
    root: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut svg = Vec::new();
    flamegraph::from_lines(options, lines, &mut svg)?;
    let mut svg = String::from_utf8(svg).map_err(io::Error::other)?;
    label_root(&mut svg, root);
    out.write_all(svg.as_bytes())
}

/// Names the root bar of inferno's SVG `label` (XML-escaped here): its tooltip `all (N ns,
/// 100%)` becomes `LABEL (N ns, 100%)` and its empty text `LABEL` (the script that redraws text
/// on zoom takes it from the tooltip, so it stays). Returns whether the root bar was found.
pub fn label_root(svg: &mut String, label: &str) -> bool {
    const TITLE: &str = "<g><title>all (";
    const EMPTY_TEXT: &str = "\"></text>";
    let Some(frames) = svg.find("id=\"frames\"") else { return false };
    let Some(title) = svg[frames..].find(TITLE).map(|at| frames + at) else { return false };
    let Some(end) = svg[title..].find("</g>").map(|at| title + at) else { return false };
    let Some(text) = svg[title..end].rfind(EMPTY_TEXT).map(|at| title + at) else { return false };
    let label = xml_escape(label);
    // The text first: its offset is after the title's.
    svg.replace_range(text..text + EMPTY_TEXT.len(), &format!("\">{label}</text>"));
    svg.replace_range(title..title + TITLE.len(), &format!("<g><title>{label} ("));
    true
}

/// The differential folded `merged` (`stack before after` lines, [`crate::profile::differential`])
/// with every stack whose AFTER count is 0 drawn from BEFORE: `VANISHED;stack 2×before before`,
/// so inferno draws it as wide as it was and colours it by its change, `-before` (blue). Returns
/// the lines and how many stacks vanished.
pub fn with_vanished(merged: &str) -> (String, usize) {
    let mut out = String::with_capacity(merged.len() + 64);
    let mut vanished = 0;
    for line in merged.lines() {
        let mut fields = line.rsplitn(3, ' ');
        let (Some(after), Some(before), Some(stack)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        match (before.parse::<u64>(), after) {
            (Ok(before), "0") if before > 0 => {
                vanished += 1;
                out.push_str(VANISHED);
                out.push(';');
                out.push_str(stack);
                out.push_str(&format!(" {} {before}\n", before.saturating_mul(2)));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    (out, vanished)
}

/// `text` escaped for SVG (XML) text: `<`, `>`, `&`, `"` and `'`.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vanished_stacks_are_drawn_from_before_and_the_rest_stay() {
        let merged = "a;b 10 0\na;c 5 7\nd 0 3\n";
        let (lines, vanished) = with_vanished(merged);
        assert_eq!(vanished, 1);
        assert_eq!(lines, format!("{VANISHED};a;b 20 10\na;c 5 7\nd 0 3\n"));
    }

    #[test]
    fn the_root_bar_gets_its_label() {
        let mut options = Options::default();
        let mut svg = Vec::new();
        draw(&mut options, ["a;b 3", "a 1"], "all <waits> in t.json", &mut svg).expect("drawn");
        let svg = String::from_utf8(svg).expect("UTF-8");
        assert!(svg.contains("<title>all &lt;waits&gt; in t.json (4 samples, 100%)</title>"), "{svg}");
        assert!(svg.contains(">all &lt;waits&gt; in t.json</text>"), "{svg}");
        assert!(!svg.contains("<title>all ("), "{svg}");
        let mut not_a_flamegraph = String::from("<svg/>");
        assert!(!label_root(&mut not_a_flamegraph, "x"));
    }
}
