//! `lockprof report --format html`: the report as one self-contained HTML page (inline CSS, a
//! little inline JavaScript, inline SVG; nothing fetched from anywhere), to open in a browser or
//! attach to a CI run.
//!
//! In order: a summary; every finding with its sites, each shown with its source line when the
//! file can be read from the current directory; each deadlock's wait-for cycle drawn as a ring
//! of threads and locks ([`crate::ring`]), with what each thread holds, waits for, and its
//! stack; each lock-order cycle drawn the same way (potential deadlocks red, cycles a gate lock
//! makes harmless orange); the contention table, sortable by any column (click its header); the
//! top waiting and holding stacks; and the waits' flamegraph (inferno's interactive SVG, in a
//! frame of its own so that its script keeps to itself).

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use lockprof_analysis::findings::{Finding, findings};
use lockprof_analysis::potential_deadlocks::analyse;
use lockprof_analysis::report::{MAX_FRAMES, SortBy, contention_rows, duration, lock_label, thread_label};
use lockprof_trace::schema::{CycleHop, Site, Stack, StackContention, Trace};

use crate::commands::flamegraph::svg_options;
use crate::lock_graph::{self, Mark};
use crate::profile::{Index, Selection, fold, printable};
use crate::ring::{self, escape};
use crate::{Error, flame};

/// How many locks and stacks of each list the page shows.
pub const TOP: usize = 25;

/// Source files read for their lines, each once; a file that cannot be read (or is larger than
/// [`Sources::MAX_BYTES`]) shows no line.
#[derive(Default)]
pub struct Sources {
    files: HashMap<String, Option<Vec<String>>>,
}

impl Sources {
    /// The largest source file read.
    pub const MAX_BYTES: u64 = 4 << 20;

    /// Line `line` (1-based) of `file`, trimmed, if it can be read.
    pub fn line(&mut self, file: &str, line: u32) -> Option<&str> {
        let lines = self.files.entry(file.to_owned()).or_insert_with(|| {
            let path = Path::new(file);
            let small = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= Self::MAX_BYTES);
            if !small {
                return None;
            }
            std::fs::read_to_string(path).ok().map(|text| text.lines().map(str::to_owned).collect())
        });
        let text = lines.as_ref()?.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        Some(text.trim())
    }
}

/// The page of `trace`, read from `source`; `path` names the trace in an error.
pub fn render(trace: &Trace, source: &str, path: &Path) -> Result<String, Error> {
    let mut sources = Sources::default();
    let mut page = String::with_capacity(64 << 10);
    let title = printable(&format!("lockprof report: {source}"));
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>",
        escape(&title)
    );
    let all = findings(trace);
    header(trace, source, &all, &mut page);
    findings_section(&all, &mut sources, &mut page);
    deadlocks_section(trace, &mut sources, &mut page);
    order_section(trace, &mut page);
    contention_section(trace, &mut sources, &mut page);
    flamegraph_section(trace, source, path, &mut page)?;
    let _ = writeln!(
        page,
        "<footer>Written by lockprof {}.</footer>\n<script>{JS}</script>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(page)
}

fn header(trace: &Trace, source: &str, all: &[Finding], page: &mut String) {
    let failing = all.iter().filter(|f| f.kind.fails_by_default()).count();
    let _ = write!(
        page,
        "<header><h1>lockprof report</h1><p class=\"source\"><code>{}</code></p><p>process {} <code>{}</code>, {} locks and {} threads recorded.</p>",
        escape(&printable(source)),
        trace.process.pid,
        escape(&printable(&trace.process.command.join(" "))),
        trace.locks.len(),
        trace.threads.len()
    );
    let verdict = if failing > 0 {
        ("fail", format!("{failing} failing"))
    } else {
        ("pass", "no failing finding".to_owned())
    };
    let _ = writeln!(
        page,
        "<ul class=\"summary\"><li class=\"badge {}\">{}</li><li class=\"badge\">{} deadlock{}</li><li class=\"badge\">{} finding{} in all</li></ul></header>",
        verdict.0,
        verdict.1,
        trace.deadlocks.len(),
        if trace.deadlocks.len() == 1 { "" } else { "s" },
        all.len(),
        if all.len() == 1 { "" } else { "s" }
    );
}

/// `file:line:column`, and the source line under it when it can be read.
fn site_html(site: &Site, sources: &mut Sources) -> String {
    let mut out = format!("<code class=\"site\">{}</code>", escape(&printable(&site.to_string())));
    if let Some(line) = sources.line(&site.file, site.line) {
        let _ = write!(
            out,
            "<pre class=\"line\"><span class=\"lineno\">{}</span>{}</pre>",
            site.line,
            escape(&printable(line))
        );
    }
    out
}

fn findings_section(all: &[Finding], sources: &mut Sources, page: &mut String) {
    page.push_str("<section id=\"findings\"><h2>Findings</h2>\n");
    if all.is_empty() {
        page.push_str("<p class=\"ok\">No findings: no deadlock, no lock-order cycle, no long wait.</p>");
    }
    for finding in all {
        let class = if finding.kind.fails_by_default() { "fail" } else { "info" };
        let _ = write!(
            page,
            "<article class=\"finding {class}\"><h3><span class=\"rule\">{}</span> {}</h3><p class=\"why\">{}</p><ul class=\"sites\">",
            finding.kind.rule_id(),
            escape(&printable(&finding.title)),
            escape(finding.kind.description())
        );
        for site in &finding.sites {
            let _ = write!(
                page,
                "<li><span class=\"role\">{}</span> {}</li>",
                escape(&printable(&site.role)),
                site_html(&site.site, sources)
            );
        }
        page.push_str("</ul></article>\n");
    }
    page.push_str("</section>\n");
}

fn stack_html(stack: Option<&Stack>) -> String {
    let Some(stack) = stack else { return String::new() };
    let mut out = String::from("<ol class=\"stack\">");
    for frame in stack.frames.iter().take(MAX_FRAMES) {
        let at = match (&frame.file, frame.line) {
            (Some(file), Some(line)) => {
                format!(" <span class=\"at\">{}:{line}</span>", escape(&printable(file)))
            }
            _ => String::new(),
        };
        let _ = write!(out, "<li><code>{}</code>{at}</li>", escape(&printable(&frame.function)));
    }
    if stack.frames.len() > MAX_FRAMES {
        let _ = write!(out, "<li class=\"more\">… {} more frames</li>", stack.frames.len() - MAX_FRAMES);
    }
    out.push_str("</ol>");
    out
}

fn hop_html(trace: &Trace, hop: &CycleHop, sources: &mut Sources) -> String {
    let holds = if hop.queued { "queued to write" } else { "holds" };
    format!(
        "<tr><th scope=\"row\">{}</th><td>{holds} <b>{}</b><br>{}</td><td>waits for <b>{}</b><br>{}</td><td>{}</td></tr>",
        escape(&printable(&thread_label(trace, hop.thread))),
        escape(&printable(&lock_label(trace, hop.holds))),
        site_html(&hop.hold_site, sources),
        escape(&printable(&lock_label(trace, hop.waits_for))),
        site_html(&hop.wait_site, sources),
        stack_html(hop.stack.and_then(|s| trace.stack(s)))
    )
}

fn deadlocks_section(trace: &Trace, sources: &mut Sources, page: &mut String) {
    if trace.deadlocks.is_empty() {
        return;
    }
    page.push_str("<section id=\"deadlocks\"><h2>Deadlocks</h2>\n");
    for (i, deadlock) in trace.deadlocks.iter().enumerate() {
        let n = i + 1;
        let graph = lock_graph::deadlock_cycle(trace, deadlock, &format!("d{n}_"));
        let drawn = short_paths(&graph);
        let _ = write!(
            page,
            "<article class=\"deadlock\" id=\"deadlock-{n}\"><h3>Deadlock {n}: {}</h3><p>Found by {}{}. Each thread waits for a lock the next one holds: arrows go from a thread to the lock it waits for, and from a lock to the thread holding it.</p><figure>{}</figure>",
            escape(&graph.title),
            escape(&printable(&thread_label(trace, deadlock.detected_by))),
            if deadlock.background { " (background re-check)" } else { "" },
            ring::svg(&drawn, &format!("deadlock-{n}-cycle"))
        );
        page.push_str("<table class=\"hops\"><thead><tr><th>thread</th><th>holds</th><th>waits for</th><th>stack while waiting</th></tr></thead><tbody>");
        for hop in deadlock.cycle.iter().chain(&deadlock.knot) {
            page.push_str(&hop_html(trace, hop, sources));
        }
        page.push_str("</tbody></table></article>\n");
    }
    page.push_str("</section>\n");
}

/// `graph` with the paths in its node details and edge labels cut to their file names, so that
/// the drawing stays small (the tables beside it have the full sites).
fn short_paths(graph: &lock_graph::Graph) -> lock_graph::Graph {
    let cut = |text: &str| -> String {
        text.split(' ').map(|word| word.rsplit('/').next().unwrap_or(word)).collect::<Vec<_>>().join(" ")
    };
    let mut graph = graph.clone();
    for node in &mut graph.nodes {
        node.detail = cut(&node.detail);
    }
    for edge in &mut graph.edges {
        for line in &mut edge.label {
            *line = cut(line);
        }
    }
    graph
}

fn order_section(trace: &Trace, page: &mut String) {
    let analysis = analyse(trace);
    if analysis.potential.is_empty() && analysis.suppressed.is_empty() {
        return;
    }
    page.push_str("<section id=\"lock-order\"><h2>Lock-order cycles</h2><p>Locks taken in orders that form a cycle: had those orders run at the same time, they would have deadlocked. An arrow A → B means B was taken while holding A.</p>\n");
    let cycles = analysis
        .potential
        .iter()
        .map(|c| (c, Mark::Potential))
        .chain(analysis.suppressed.iter().map(|c| (c, Mark::Gated)));
    for (i, (cycle, mark)) in cycles.enumerate() {
        let n = i + 1;
        let graph = lock_graph::order_cycle(trace, cycle, &format!("o{n}_"), mark);
        let class = if mark == Mark::Gated { "gated" } else { "potential" };
        let _ = writeln!(
            page,
            "<article class=\"order {class}\" id=\"order-{n}\"><h3>{}</h3><figure>{}</figure></article>",
            escape(&graph.title),
            ring::svg(&short_paths(&graph), &format!("order-{n}-cycle"))
        );
    }
    page.push_str("</section>\n");
}

fn contention_section(trace: &Trace, sources: &mut Sources, page: &mut String) {
    let Some(contention) = &trace.contention else { return };
    let rows = contention_rows(trace, SortBy::Wait);
    let contended = rows.iter().filter(|(l, _)| l.contended > 0).count();
    let _ = write!(
        page,
        "<section id=\"contention\"><h2>Contention</h2><p>{contended} of {} locks had to be waited for{}. Click a column to sort.</p>",
        rows.len(),
        if rows.len() > TOP { format!(" (the {TOP} that cost most are shown)") } else { String::new() }
    );
    if !rows.is_empty() {
        page.push_str("<table class=\"sortable\" id=\"contention-table\"><thead><tr><th data-type=\"text\">lock</th><th>contended</th><th>acquisitions</th><th aria-sort=\"descending\">total wait</th><th>max wait</th><th>mean wait</th><th>hold</th></tr></thead><tbody>");
        let index = Index::new(trace);
        for (l, label) in rows.iter().take(TOP) {
            let mean = l.wait_ns.checked_div(l.contended).unwrap_or(0);
            let site = index.lock(l.lock).map(|lock| site_html(&lock.site, sources)).unwrap_or_default();
            let _ = write!(
                page,
                "<tr><td data-value=\"{}\"><b>{}</b><br>{site}</td><td data-value=\"{}\">{}</td><td data-value=\"{}\">{}</td>{}{}{}{}</tr>",
                escape(&printable(label)),
                escape(&printable(label)),
                l.contended,
                l.contended,
                l.acquisitions,
                l.acquisitions,
                time_cell(l.wait_ns),
                time_cell(l.max_wait_ns),
                time_cell(mean),
                time_cell(l.hold_ns)
            );
        }
        page.push_str("</tbody></table>");
    }
    stacks_html(trace, &contention.waiters, "Top waiting stacks", "waited", page);
    stacks_html(trace, &contention.holders, "Top holding stacks", "kept others waiting", page);
    page.push_str("</section>\n");
}

fn time_cell(ns: u64) -> String {
    format!("<td data-value=\"{ns}\">{}</td>", duration(ns))
}

fn stacks_html(trace: &Trace, table: &[StackContention], title: &str, verb: &str, page: &mut String) {
    if table.is_empty() {
        return;
    }
    let index = Index::new(trace);
    let mut top: Vec<&StackContention> = table.iter().collect();
    top.sort_by(|a, b| b.ns.cmp(&a.ns).then_with(|| (a.lock, a.stack).cmp(&(b.lock, b.stack))));
    let _ = write!(page, "<h3>{title}</h3>");
    for (i, row) in top.iter().take(TOP).enumerate() {
        let _ = write!(
            page,
            "<details class=\"stack\"{}><summary><b>{}</b> on {} — {verb} {} in {} time{}</summary>{}</details>",
            if i == 0 { " open" } else { "" },
            duration(row.ns),
            escape(&printable(&index.label(row.lock))),
            duration(row.ns),
            row.count,
            if row.count == 1 { "" } else { "s" },
            stack_html(index.stack(row.stack))
        );
    }
}

fn flamegraph_section(trace: &Trace, source: &str, path: &Path, page: &mut String) -> Result<(), Error> {
    if trace.contention.is_none() {
        return Ok(());
    }
    let selection = Selection::default();
    let folded = fold(trace, path, selection)?;
    page.push_str("<section id=\"flamegraph\"><h2>Where threads waited</h2>");
    if folded.is_empty() {
        page.push_str("<p class=\"ok\">No lock was waited for: no flamegraph to draw.</p></section>\n");
        return Ok(());
    }
    let shift = folded.shift();
    let text = folded.text(shift);
    let mut options = svg_options(
        selection.title(),
        printable(source),
        crate::commands::flamegraph::unit(selection, shift),
    );
    let mut svg = Vec::new();
    flame::draw(&mut options, text.lines(), &flame::root_label(selection, &printable(source)), &mut svg)
        .map_err(Error::Output)?;
    let height = svg_height(&svg).unwrap_or(400);
    let _ = writeln!(
        page,
        "<p>Each tower is a waiting stack, outermost frame at the bottom, as wide as the time it waited, ending in the lock it waited for. Hover for figures, click to zoom.</p><iframe class=\"flamegraph\" title=\"flamegraph of the waiting stacks\" style=\"height:{height}px\" src=\"data:image/svg+xml;base64,{}\"></iframe></section>",
        base64(&svg)
    );
    Ok(())
}

/// The `height` of an SVG's root element.
fn svg_height(svg: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(svg).ok()?;
    let root = &text[text.find("<svg")?..];
    let after = &root[root.find(" height=\"")? + 9..];
    after[..after.find('"')?].parse().ok()
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const CSS: &str = r#"
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --red: #d62728; --orange: #e07b00; --green: #1a7f37; }
* { box-sizing: border-box; }
body { font: 14px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1240px; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; border-bottom: 1px solid var(--line); padding-bottom: 6px; margin-top: 36px; }
h3 { font-size: 15px; margin: 0 0 8px; }
code, pre { font: 12.5px/1.45 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
header p { margin: 2px 0; color: var(--muted); }
.source code { color: var(--fg); font-size: 14px; }
.summary { list-style: none; padding: 0; margin: 12px 0 0; display: flex; gap: 8px; flex-wrap: wrap; }
.badge { border: 1px solid var(--line); border-radius: 999px; padding: 2px 12px; background: var(--bg); }
.badge.fail { background: var(--red); border-color: var(--red); color: white; font-weight: 600; }
.badge.pass { background: var(--green); border-color: var(--green); color: white; font-weight: 600; }
.ok { color: var(--green); }
article { border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; background: white; }
article.fail, article.deadlock, article.potential { border-left-color: var(--red); }
article.info, article.gated { border-left-color: var(--orange); }
.rule { font: 600 11px/1 "DejaVu Sans Mono", monospace; text-transform: uppercase; letter-spacing: .04em; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 3px 6px; margin-right: 6px; vertical-align: 2px; }
.fail .rule { background: #fdecec; border-color: #f5b5b5; color: var(--red); }
.why { color: var(--muted); margin: 0 0 8px; }
.sites { margin: 0; padding-left: 18px; }
.sites li { margin: 4px 0; }
.role { color: var(--muted); }
.site { color: #0550ae; }
pre.line { margin: 2px 0 0; padding: 3px 8px; background: var(--bg); border-radius: 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
.lineno { color: var(--muted); display: inline-block; min-width: 3em; user-select: none; }
figure { margin: 8px 0; overflow-x: auto; text-align: center; }
svg.ring { max-width: 100%; height: auto; font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
svg.ring rect.lock { fill: #fff5e6; stroke: #b3741d; stroke-width: 1.2; }
svg.ring ellipse.thread { fill: #e8f0fe; stroke: #3a6fc4; stroke-width: 1.2; }
svg.ring .node-title { font-size: 12px; font-weight: 600; fill: var(--fg); }
svg.ring .node-detail, svg.ring .edge-label { font-size: 10px; fill: var(--muted); }
svg.ring .edge-label { paint-order: stroke; stroke: white; stroke-width: 3px; }
svg.ring .edge.deadlock .edge-label, svg.ring .edge.potential .edge-label { fill: var(--red); }
svg.ring .edge.gated .edge-label { fill: var(--orange); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
table.hops td:nth-child(2), table.hops td:nth-child(3) { width: 32%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
thead th { background: var(--bg); font-weight: 600; white-space: nowrap; }
#contention-table td:not(:first-child), #contention-table th:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \2195"; color: #b0b8c1; }
table.sortable th[aria-sort="ascending"]::after { content: " \2191"; color: var(--fg); }
table.sortable th[aria-sort="descending"]::after { content: " \2193"; color: var(--fg); }
ol.stack { margin: 4px 0; padding-left: 22px; }
ol.stack li { margin: 1px 0; }
.at { color: var(--muted); font-size: 12px; }
details.stack { border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; margin: 6px 0; }
details.stack summary { cursor: pointer; }
iframe.flamegraph { width: 100%; border: 1px solid var(--line); border-radius: 6px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"#;

const JS: &str = r#"
(function () {
  "use strict";
  function key(cell, text) {
    var v = cell.getAttribute("data-value");
    if (text) { return (v === null ? cell.textContent : v).toLowerCase(); }
    return v === null ? parseFloat(cell.textContent) || 0 : parseFloat(v);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, column) {
      th.setAttribute("tabindex", "0");
      function sort() {
        var descending = th.getAttribute("aria-sort") !== "descending";
        var text = th.getAttribute("data-type") === "text";
        if (text) { descending = th.getAttribute("aria-sort") === "ascending"; }
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column], text), y = key(b.cells[column], text);
          var order = x < y ? -1 : x > y ? 1 : 0;
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
    table.setAttribute("data-sortable", "ready");
  });
  document.body.setAttribute("data-report", "ready");
  console.log("lockprof report: ready");
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn the_height_comes_from_the_root_element() {
        assert_eq!(svg_height(b"<?xml?><svg version=\"1.1\" width=\"1200\" height=\"214\">"), Some(214));
        assert_eq!(svg_height(b"<p>"), None);
    }

    #[test]
    fn source_lines_are_read_once_and_missing_files_show_none() {
        let mut sources = Sources::default();
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        assert_eq!(sources.line(manifest, 2), Some("name = \"lockprof-cli\""));
        assert_eq!(sources.line(manifest, 0), None);
        assert_eq!(sources.line("no/such/file.rs", 1), None);
    }
}
