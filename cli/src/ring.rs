//! A cycle of [`crate::lock_graph`] drawn as an SVG ring, for the HTML report: its nodes evenly
//! on a circle in cycle order (threads as ellipses, locks as boxes with their creation site), its
//! edges as arrows bent slightly to one side (so that two edges between the same pair, as in a
//! thread re-locking its own lock, stay apart), labelled with their sites.
//!
//! Text widths are estimated (monospace-like, [`CHAR_WIDTH`] a character), so the drawing needs
//! no font metrics and is the same on every machine.

use std::f64::consts::PI;
use std::fmt::Write;

use crate::lock_graph::{Graph, Mark, NodeKind};

/// Estimated width of a character of a node's title, in pixels (12 px sans-serif).
pub const CHAR_WIDTH: f64 = 7.0;
/// Estimated width of a character of a node's detail and of an edge label (10 px).
pub const SMALL_CHAR_WIDTH: f64 = 6.0;
const NODE_HEIGHT: f64 = 40.0;
const MARGIN: f64 = 30.0;

/// The stroke colour of an edge with `mark`.
pub fn color(mark: Mark) -> &'static str {
    match mark {
        Mark::Deadlock | Mark::Potential => "#d62728",
        Mark::Gated => "#e07b00",
        Mark::Plain => "#7f7f7f",
    }
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for XML and HTML text and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

struct Placed {
    x: f64,
    y: f64,
    half_w: f64,
    half_h: f64,
}

/// Where the segment from the centre of `node` towards `(tx, ty)` leaves the node's box.
fn boundary(node: &Placed, tx: f64, ty: f64) -> (f64, f64) {
    let (dx, dy) = (tx - node.x, ty - node.y);
    if dx == 0.0 && dy == 0.0 {
        return (node.x, node.y);
    }
    let scale = (node.half_w / dx.abs().max(1e-9)).min(node.half_h / dy.abs().max(1e-9)).min(1.0);
    (node.x + dx * scale, node.y + dy * scale)
}

/// The SVG of `graph` as a ring, with the element id `id` (also the prefix of its marker ids) and
/// `graph.title` as its accessible title.
pub fn svg(graph: &Graph, id: &str) -> String {
    let n = graph.nodes.len().max(1);
    let widths: Vec<f64> = graph
        .nodes
        .iter()
        .map(|node| {
            let title = node.title.chars().count() as f64 * CHAR_WIDTH;
            let detail = node.detail.chars().count() as f64 * SMALL_CHAR_WIDTH;
            title.max(detail) + 24.0
        })
        .collect();
    let widest = widths.iter().copied().fold(80.0, f64::max);
    let label_room = graph
        .edges
        .iter()
        .flat_map(|e| &e.label)
        .map(|l| l.chars().count() as f64 * SMALL_CHAR_WIDTH)
        .fold(0.0, f64::max);
    // Far enough apart that neighbours do not overlap: the chord between two neighbours is at
    // least a box wide (or, for two nodes, one above the other, two boxes high and a label).
    let radius = if n == 1 {
        0.0
    } else if n == 2 {
        NODE_HEIGHT * 1.5 + 30.0
    } else {
        ((widest + 20.0) / (2.0 * (PI / n as f64).sin())).max(NODE_HEIGHT * 2.5)
    };
    let half_width = radius + widest / 2.0 + label_room + MARGIN;
    let half_height = radius + NODE_HEIGHT / 2.0 + MARGIN + 10.0;
    let (cx, cy) = (half_width, half_height);
    let placed: Vec<Placed> = (0..graph.nodes.len())
        .map(|i| {
            let angle = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
            Placed {
                x: cx + radius * angle.cos(),
                y: cy + radius * angle.sin(),
                half_w: widths[i] / 2.0,
                half_h: NODE_HEIGHT / 2.0,
            }
        })
        .collect();
    let index = |node_id: &str| graph.nodes.iter().position(|n| n.id == node_id);

    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ring\" id=\"{id}\" role=\"img\" viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" aria-labelledby=\"{id}-title\">",
        w = 2.0 * half_width,
        h = 2.0 * half_height,
    );
    let _ = write!(out, "<title id=\"{id}-title\">{}</title>", escape(&graph.title));
    out.push_str("<defs>");
    for mark in [Mark::Deadlock, Mark::Gated, Mark::Plain] {
        let _ = write!(
            out,
            "<marker id=\"{id}-arrow-{}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{}\"/></marker>",
            mark_name(mark),
            color(mark)
        );
    }
    out.push_str("</defs>");

    // Edges first, under the nodes.
    for edge in &graph.edges {
        let (Some(a), Some(b)) = (index(&edge.from), index(&edge.to)) else { continue };
        let (from, to) = (&placed[a], &placed[b]);
        // Bend away from the ring's centre, so labels sit outside it; an edge whose reverse is
        // drawn too bends to the right of its direction of travel, so the two stay apart. A
        // self-loop loops above its node.
        let (mx, my) = ((from.x + to.x) / 2.0, (from.y + to.y) / 2.0);
        let (dx, dy) = (to.x - from.x, to.y - from.y);
        let length = (dx * dx + dy * dy).sqrt().max(1e-9);
        let reversed = graph.edges.iter().any(|other| other.from == edge.to && other.to == edge.from);
        // The markers: red for both kinds of deadlock.
        let mark = match edge.mark {
            Mark::Deadlock | Mark::Potential => "deadlock",
            Mark::Gated => "gated",
            Mark::Plain => "plain",
        };
        let stroke = color(edge.mark);
        let dash = if edge.mark == Mark::Gated { " stroke-dasharray=\"6 4\"" } else { "" };
        let (path, lx, ly, anchor) = if a == b {
            let top = from.y - from.half_h;
            let path = format!(
                "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                from.x - 20.0,
                top,
                from.x - 40.0,
                top - 60.0,
                from.x + 40.0,
                top - 60.0,
                from.x + 20.0,
                top
            );
            (path, from.x, top - 52.0, "middle")
        } else {
            let (mut nx, mut ny) = (-dy / length, dx / length);
            let outward = (mx - cx) * nx + (my - cy) * ny;
            if !reversed && outward < 0.0 {
                (nx, ny) = (-nx, -ny);
            }
            let bend = (length * 0.18).min(70.0);
            let (qx, qy) = (mx + nx * bend, my + ny * bend);
            let (sx, sy) = boundary(from, qx, qy);
            let (ex, ey) = boundary(to, qx, qy);
            let path = format!("M{sx:.1},{sy:.1} Q{qx:.1},{qy:.1} {ex:.1},{ey:.1}");
            // The curve's midpoint is halfway between the chord's midpoint and the control
            // point; the label starts there and runs away from the centre.
            let (lx, ly) = ((mx + qx) / 2.0 + nx * 8.0, (my + qy) / 2.0 + ny * 8.0);
            let anchor = if lx < cx - 20.0 {
                "end"
            } else if lx > cx + 20.0 {
                "start"
            } else {
                "middle"
            };
            (path, lx, ly, anchor)
        };
        let _ = write!(
            out,
            "<g class=\"edge {}\"><path d=\"{path}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{}\"{dash} marker-end=\"url(#{id}-arrow-{mark})\"/>",
            mark_name(edge.mark),
            if matches!(edge.mark, Mark::Deadlock | Mark::Potential) { 2.5 } else { 1.5 }
        );
        let lines = edge.label.len() as f64;
        for (i, line) in edge.label.iter().enumerate() {
            let y = ly + (i as f64 - (lines - 1.0) / 2.0) * 12.0 + 3.0;
            let _ = write!(
                out,
                "<text x=\"{lx:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" class=\"edge-label\" fill=\"{stroke}\">{}</text>",
                escape(line)
            );
        }
        out.push_str("</g>");
    }
    for (node, at) in graph.nodes.iter().zip(&placed) {
        let shape = match node.kind {
            NodeKind::Lock => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{NODE_HEIGHT:.1}\" rx=\"6\" class=\"lock\"/>",
                at.x - at.half_w,
                at.y - at.half_h,
                2.0 * at.half_w
            ),
            NodeKind::Thread => format!(
                "<ellipse cx=\"{:.1}\" cy=\"{:.1}\" rx=\"{:.1}\" ry=\"{:.1}\" class=\"thread\"/>",
                at.x, at.y, at.half_w, at.half_h
            ),
        };
        let kind = if node.kind == NodeKind::Lock { "lock" } else { "thread" };
        let _ = write!(out, "<g class=\"node {kind}\" data-node=\"{}\">{shape}", escape(&node.id));
        if node.detail.is_empty() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"node-title\">{}</text>",
                at.x,
                at.y + 4.0,
                escape(&node.title)
            );
        } else {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"node-title\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"node-detail\">{}</text>",
                at.x,
                at.y - 3.0,
                escape(&node.title),
                at.x,
                at.y + 12.0,
                escape(&node.detail)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

fn mark_name(mark: Mark) -> &'static str {
    match mark {
        Mark::Deadlock => "deadlock",
        Mark::Potential => "potential",
        Mark::Gated => "gated",
        Mark::Plain => "plain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock_graph::{Edge, Node};

    fn node(id: &str, kind: NodeKind) -> Node {
        Node { id: id.into(), kind, title: format!("<{id}>"), detail: String::new() }
    }

    #[test]
    fn a_ring_has_every_node_and_edge_escaped() {
        let graph = Graph {
            title: "a & b".into(),
            nodes: vec![node("t1", NodeKind::Thread), node("l1", NodeKind::Lock)],
            edges: vec![
                Edge {
                    from: "t1".into(),
                    to: "l1".into(),
                    label: vec!["waits".into()],
                    mark: Mark::Deadlock,
                },
                Edge { from: "l1".into(), to: "t1".into(), label: vec!["held".into()], mark: Mark::Deadlock },
            ],
        };
        let svg = svg(&graph, "c1");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ring\" id=\"c1\""));
        assert!(svg.contains("<title id=\"c1-title\">a &amp; b</title>"));
        assert_eq!(svg.matches("<ellipse").count(), 1);
        assert_eq!(svg.matches("<rect").count(), 1);
        assert_eq!(svg.matches("class=\"edge deadlock\"").count(), 2);
        assert!(svg.contains("&lt;t1&gt;"));
        assert!(svg.contains("url(#c1-arrow-deadlock)"));
        assert!(!svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn a_self_loop_is_drawn_above_its_node() {
        let graph = Graph {
            title: String::new(),
            nodes: vec![node("l1", NodeKind::Lock)],
            edges: vec![Edge { from: "l1".into(), to: "l1".into(), label: vec![], mark: Mark::Potential }],
        };
        let svg = svg(&graph, "c2");
        assert!(svg.contains(" C"), "{svg}");
        assert!(!svg.contains("NaN"), "{svg}");
    }
}
