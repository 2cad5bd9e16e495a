//! Graphviz DOT for [`crate::lock_graph`]'s graphs: `lockprof graph` writes the lock-order graph
//! and, in a cluster of its own, each deadlock's wait-for cycle.
//!
//! Locks are boxes labelled with their id, name and creation site; threads are ellipses. Edges
//! on an actual deadlock's cycle, and on a potential deadlock (a lock-order cycle without a gate
//! lock), are red and bold; edges on a cycle that a gate lock makes harmless are orange and
//! dashed; the rest are grey. Strings are quoted with `"` and `\` escaped, so any name is one
//! valid DOT string.

use std::fmt::Write;

use crate::lock_graph::{Edge, Graph, Mark, Node, NodeKind};

/// The colour of a highlighted edge (red: a deadlock, actual or potential).
pub const RED: &str = "#d62728";
/// The colour of an edge on a harmless (gated) cycle.
pub const ORANGE: &str = "#ff7f0e";
/// The colour of an edge on no cycle.
pub const GREY: &str = "#7f7f7f";

/// `text` as a DOT string literal: quoted, with `"` and `\` escaped; `lines` are joined with
/// DOT's centred line break `\n`.
pub fn quote(lines: &[&str]) -> String {
    let mut out = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("\\n");
        }
        for c in line.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' | '\r' => out.push(' '),
                c => out.push(c),
            }
        }
    }
    out.push('"');
    out
}

fn node(out: &mut String, indent: &str, node: &Node) {
    let (shape, fill) = match node.kind {
        NodeKind::Lock => ("box", "#fff5e6"),
        NodeKind::Thread => ("ellipse", "#e8f0fe"),
    };
    let label =
        if node.detail.is_empty() { vec![&node.title[..]] } else { vec![&node.title[..], &node.detail[..]] };
    let _ = writeln!(
        out,
        "{indent}{} [label={}, shape={shape}, style=\"rounded,filled\", fillcolor=\"{fill}\"];",
        node.id,
        quote(&label)
    );
}

/// The DOT attributes of an edge with `mark`.
pub fn edge_style(mark: Mark) -> &'static str {
    match mark {
        Mark::Deadlock | Mark::Potential => "color=\"#d62728\", fontcolor=\"#d62728\", penwidth=2.5",
        Mark::Gated => "color=\"#ff7f0e\", fontcolor=\"#ff7f0e\", style=dashed",
        Mark::Plain => "color=\"#7f7f7f\", fontcolor=\"#555555\"",
    }
}

fn edge(out: &mut String, indent: &str, edge: &Edge) {
    let label: Vec<&str> = edge.label.iter().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "{indent}{} -> {} [label={}, {}];",
        edge.from,
        edge.to,
        quote(&label),
        edge_style(edge.mark)
    );
}

/// One graph as a cluster (a framed subgraph titled with its title) of the document.
fn cluster(out: &mut String, name: &str, graph: &Graph, color: &str) {
    let _ = writeln!(out, "  subgraph cluster_{name} {{");
    let _ = writeln!(out, "    label={};", quote(&[&graph.title]));
    let _ = writeln!(out, "    color=\"{color}\"; fontcolor=\"{color}\"; style=rounded;");
    for n in &graph.nodes {
        node(out, "    ", n);
    }
    for e in &graph.edges {
        edge(out, "    ", e);
    }
    let _ = writeln!(out, "  }}");
}

/// The DOT document: titled `title`, the lock-order graph `order` (if it has nodes) and each of
/// `deadlocks` in a red cluster.
pub fn document(title: &str, order: &Graph, deadlocks: &[Graph]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph lockprof {{");
    let _ = writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"Helvetica\", fontsize=14, rankdir=LR];",
        quote(&[
            title,
            "red: on a deadlock cycle, actual or potential; orange dashed: on a cycle a gate lock makes harmless"
        ])
    );
    let _ = writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];");
    if order.nodes.is_empty() {
        let _ = writeln!(
            out,
            "  no_lock_order [label={}, shape=plaintext];",
            quote(&["no lock was taken while holding another"])
        );
    } else {
        cluster(&mut out, "lock_order", order, "#444444");
    }
    for (i, deadlock) in deadlocks.iter().enumerate() {
        cluster(&mut out, &format!("deadlock_{}", i + 1), deadlock, RED);
    }
    let _ = writeln!(out, "}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_and_backslashes_and_joins_lines() {
        assert_eq!(quote(&["lock #1 \"a\\b\"", "x"]), "\"lock #1 \\\"a\\\\b\\\"\\nx\"");
        assert_eq!(quote(&["a\nb"]), "\"a b\"");
    }

    #[test]
    fn an_empty_graph_says_so() {
        let dot = document("t", &Graph::default(), &[]);
        assert!(dot.starts_with("digraph lockprof {"));
        assert!(dot.contains("no lock was taken while holding another"));
        assert!(dot.trim_end().ends_with('}'));
    }
}
