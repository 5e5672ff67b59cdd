//! Exports: Mermaid and Graphviz DOT for documents, and the Unicode tree the TUI shows.

use std::collections::HashMap;

use super::model::{Flowchart, NodeKind};

fn node_ids(chart: &Flowchart) -> HashMap<&str, String> {
    chart
        .nodes
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), format!("n{i}")))
        .collect()
}

fn label(chart: &Flowchart, id: &str) -> String {
    let node = &chart.nodes[id];
    match (&node.kind, &node.cause) {
        (NodeKind::Conclusion, Some(cause)) => format!("{} [{cause}]", node.text.trim()),
        _ => node.text.trim().to_string(),
    }
}

/// Mermaid `flowchart TD`. Node names are `n0..`, so ids with any characters are safe.
pub fn mermaid(chart: &Flowchart) -> String {
    let ids = node_ids(chart);
    let escape = |s: &str| s.replace('"', "#quot;");
    let mut out = format!("---\ntitle: {}\n---\nflowchart TD\n", escape(&chart.title));
    for id in chart.nodes.keys() {
        let text = escape(&label(chart, id));
        let shape = match chart.nodes[id].kind {
            NodeKind::Decision => format!("{{\"{text}\"}}"),
            NodeKind::Check => format!("[/\"{text}\"/]"),
            NodeKind::Action => format!("[\"{text}\"]"),
            NodeKind::Conclusion => format!("([\"{text}\"])"),
            NodeKind::Escalate => format!("[[\"{text}\"]]"),
        };
        out.push_str(&format!("    {}{shape}\n", ids[id.as_str()]));
    }
    for (id, node) in &chart.nodes {
        for (edge, to) in node.edges() {
            if let Some(t) = ids.get(to) {
                if edge == "next" {
                    out.push_str(&format!("    {} --> {t}\n", ids[id.as_str()]));
                } else {
                    out.push_str(&format!(
                        "    {} -->|{}| {t}\n",
                        ids[id.as_str()],
                        escape(edge)
                    ));
                }
            }
        }
        if let (Some(r), Some(t)) = (
            &node.retry,
            node.retry.as_ref().and_then(|r| ids.get(r.to.as_str())),
        ) {
            out.push_str(&format!(
                "    {} -.->|retry ≤{}| {t}\n",
                ids[id.as_str()],
                r.limit
            ));
        }
    }
    out
}

/// Graphviz DOT.
pub fn dot(chart: &Flowchart) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = format!(
        "digraph {} {{\n    label={};\n    node [fontname=\"Helvetica\"];\n",
        q(&chart.id),
        q(&chart.title)
    );
    for id in chart.nodes.keys() {
        let shape = match chart.nodes[id].kind {
            NodeKind::Decision => "diamond",
            NodeKind::Check => "parallelogram",
            NodeKind::Action => "box",
            NodeKind::Conclusion => "ellipse",
            NodeKind::Escalate => "octagon",
        };
        out.push_str(&format!(
            "    {} [label={}, shape={shape}];\n",
            q(id),
            q(&label(chart, id))
        ));
    }
    for (id, node) in &chart.nodes {
        for (edge, to) in node.edges() {
            if edge == "next" {
                out.push_str(&format!("    {} -> {};\n", q(id), q(to)));
            } else {
                out.push_str(&format!(
                    "    {} -> {} [label={}];\n",
                    q(id),
                    q(to),
                    q(edge)
                ));
            }
        }
        if let Some(r) = &node.retry {
            out.push_str(&format!(
                "    {} -> {} [label={}, style=dashed];\n",
                q(id),
                q(&r.to),
                q(&format!("retry ≤{}", r.limit))
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// One row of the Unicode tree: the node it shows and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    pub node: String,
    pub text: String,
}

pub fn kind_glyph(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Decision => "◆",
        NodeKind::Check => "▣",
        NodeKind::Action => "■",
        NodeKind::Conclusion => "●",
        NodeKind::Escalate => "▲",
    }
}

/// The chart as an indented tree from `start`; a node met again is shown as a reference (`↺ see
/// above`) instead of being expanded twice. Nodes unreachable from start follow at the end, marked.
pub fn tree(chart: &Flowchart) -> Vec<TreeRow> {
    let mut builder = TreeBuilder {
        chart,
        rows: Vec::new(),
        shown: Vec::new(),
    };
    builder.visit(&chart.start, "", "", None);
    let orphans: Vec<String> = chart
        .nodes
        .keys()
        .filter(|k| !builder.shown.contains(k))
        .cloned()
        .collect();
    for id in orphans {
        if !builder.shown.contains(&id) {
            let first = builder.rows.len();
            builder.visit(&id, "", "", None);
            builder.rows[first]
                .text
                .push_str("  ⚠ not reachable from start");
        }
    }
    builder.rows
}

struct TreeBuilder<'a> {
    chart: &'a Flowchart,
    rows: Vec<TreeRow>,
    shown: Vec<String>,
}

impl TreeBuilder<'_> {
    /// `last` is `None` for a root, else whether this is its parent's last edge.
    fn visit(&mut self, id: &str, prefix: &str, edge: &str, last: Option<bool>) {
        let connector = match last {
            None => "",
            Some(true) => "└─ ",
            Some(false) => "├─ ",
        };
        let edge_text = if edge.is_empty() || edge == "next" {
            String::new()
        } else {
            format!("{edge} → ")
        };
        let lead = format!("{prefix}{connector}{edge_text}");
        let Some(node) = self.chart.nodes.get(id) else {
            self.rows.push(TreeRow {
                node: id.to_string(),
                text: format!("{lead}{id} ✗ missing"),
            });
            return;
        };
        if self.shown.iter().any(|s| s == id) {
            self.rows.push(TreeRow {
                node: id.to_string(),
                text: format!("{lead}{id} ↺ see above"),
            });
            return;
        }
        self.shown.push(id.to_string());
        let extra = match (&node.cause, &node.retry) {
            (Some(c), _) => format!(" [{c}]"),
            (None, Some(r)) => format!(" (retry → {} ≤{})", r.to, r.limit),
            _ => String::new(),
        };
        self.rows.push(TreeRow {
            node: id.to_string(),
            text: format!(
                "{lead}{} {id}: {}{extra}",
                kind_glyph(node.kind),
                node.text.trim()
            ),
        });
        let child_prefix = match last {
            None => prefix.to_string(),
            Some(true) => format!("{prefix}   "),
            Some(false) => format!("{prefix}│  "),
        };
        let edges: Vec<(&str, &str)> = node.edges().collect();
        for (i, (e, to)) in edges.iter().enumerate() {
            self.visit(to, &child_prefix, e, Some(i + 1 == edges.len()));
        }
    }
}
