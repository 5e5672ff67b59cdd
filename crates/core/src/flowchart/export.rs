//! Exports: Mermaid and Graphviz DOT for documents, and the Unicode tree the TUI shows.

use std::collections::{HashMap, HashSet};

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
    /// Id of the node the row shows.
    pub node: String,
    /// The row as printed: tree lines, glyph, id, text and any cause or retry.
    pub text: String,
}

/// The symbol that marks a node of this kind in the tree.
pub fn kind_glyph(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Decision => "◆",
        NodeKind::Check => "▣",
        NodeKind::Action => "■",
        NodeKind::Conclusion => "●",
        NodeKind::Escalate => "▲",
    }
}

/// Deepest indentation a tree row gets; deeper rows restart at the left behind a `┊` marker, so a
/// 30,000-node chain costs 30,000 short rows rather than gigabytes of indentation.
const MAX_TREE_DEPTH: usize = 32;

/// The chart as an indented tree from `start`; a node met again is shown as a reference (`↺ see
/// above`) instead of being expanded twice. Nodes unreachable from start follow at the end, marked.
/// Iterative, with an explicit stack: a chart's depth is the user's to choose and must not decide
/// whether the program overflows its stack.
pub fn tree(chart: &Flowchart) -> Vec<TreeRow> {
    let mut builder = TreeBuilder {
        chart,
        rows: Vec::new(),
        shown: HashSet::new(),
    };
    builder.visit(&chart.start);
    let orphans: Vec<&String> = chart
        .nodes
        .keys()
        .filter(|k| !builder.shown.contains(k.as_str()))
        .collect();
    for id in orphans {
        if !builder.shown.contains(id.as_str()) {
            let first = builder.rows.len();
            builder.visit(id);
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
    shown: HashSet<&'a str>,
}

/// A row still to print: the node, the indentation before it, its edge label, its depth, and
/// `None` for a root or whether it is its parent's last edge.
struct Pending<'a> {
    id: &'a str,
    prefix: String,
    edge: &'a str,
    depth: usize,
    last: Option<bool>,
}

impl<'a> TreeBuilder<'a> {
    /// Prints the subtree of `root`, depth first with edges in file order.
    fn visit(&mut self, root: &'a str) {
        let mut stack = vec![Pending {
            id: root,
            prefix: String::new(),
            edge: "",
            depth: 0,
            last: None,
        }];
        while let Some(p) = stack.pop() {
            let connector = match p.last {
                None => "",
                Some(true) => "└─ ",
                Some(false) => "├─ ",
            };
            let edge_text = if p.edge.is_empty() || p.edge == "next" {
                String::new()
            } else {
                format!("{} → ", p.edge)
            };
            let lead = format!("{}{connector}{edge_text}", p.prefix);
            let Some(node) = self.chart.nodes.get(p.id) else {
                self.rows.push(TreeRow {
                    node: p.id.to_string(),
                    text: format!("{lead}{} ✗ missing", p.id),
                });
                continue;
            };
            if !self.shown.insert(p.id) {
                self.rows.push(TreeRow {
                    node: p.id.to_string(),
                    text: format!("{lead}{} ↺ see above", p.id),
                });
                continue;
            }
            let extra = match (&node.cause, &node.retry) {
                (Some(c), _) => format!(" [{c}]"),
                (None, Some(r)) => format!(" (retry → {} ≤{})", r.to, r.limit),
                _ => String::new(),
            };
            self.rows.push(TreeRow {
                node: p.id.to_string(),
                text: format!(
                    "{lead}{} {}: {}{extra}",
                    kind_glyph(node.kind),
                    p.id,
                    node.text.trim()
                ),
            });
            let (child_prefix, depth) = if p.depth >= MAX_TREE_DEPTH {
                ("┊ ".to_string(), 0)
            } else {
                let prefix = match p.last {
                    None => p.prefix,
                    Some(true) => format!("{}   ", p.prefix),
                    Some(false) => format!("{}│  ", p.prefix),
                };
                (prefix, p.depth + 1)
            };
            let edges: Vec<(&'a str, &'a str)> = node.edges().collect();
            // Pushed in reverse so the first edge is printed first.
            for (i, (edge, to)) in edges.iter().enumerate().rev() {
                stack.push(Pending {
                    id: to,
                    prefix: child_prefix.clone(),
                    edge,
                    depth,
                    last: Some(i + 1 == edges.len()),
                });
            }
        }
    }
}
