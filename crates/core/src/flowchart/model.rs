//! The flowchart as it lives in YAML. Field order here is the order on disk, so a saved file diffs
//! cleanly; unknown fields are rejected by serde.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Cause categories every chart may use without declaring them.
pub const BUILTIN_CAUSES: &[&str] = &[
    "node_failure",
    "disk_failure",
    "hardware_fault",
    "memory_exhaustion",
    "resource_exhaustion",
    "network_failure",
    "configuration_error",
    "software_bug",
    "dependency_failure",
    "authentication_failure",
    "security_attack",
    "permission_denied",
    "data_corruption",
    "timeout",
    "capacity",
    "external_service",
    "unknown",
];

/// An expert troubleshooting flowchart: one YAML file of the chart folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flowchart {
    /// Unique id in the folder; must equal the file's name without `.yaml`.
    pub id: String,
    /// The problem in one line.
    pub title: String,
    /// The system it is for (e.g. HDFS, Linux); retrieval favours charts of the log's system.
    pub system: String,
    /// Longer prose, used as the overview of the chart's thought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Cause categories the chart adds to [`BUILTIN_CAUSES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// Regexes matching lines that show the problem; retrieval ranks charts by them.
    pub symptoms: Vec<String>,
    /// Id of the node the walk starts at.
    pub start: String,
    /// The nodes by id, in file order.
    pub nodes: IndexMap<String, Node>,
}

/// What a node does, which decides how it leads on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Asks a question and branches on the answer (`yes`/`no` when it has a check).
    Decision,
    /// Tests evidence in the log, then goes `next`.
    Check,
    /// Something the operator does, then goes `next`; may retry an earlier node.
    Action,
    /// Ends the path with a cause and a remedy.
    Conclusion,
    /// Ends the path by handing over to people, when the log does not settle it.
    Escalate,
}

impl NodeKind {
    /// Every kind, in the order the editor offers them.
    pub const ALL: [NodeKind; 5] = [
        NodeKind::Decision,
        NodeKind::Check,
        NodeKind::Action,
        NodeKind::Conclusion,
        NodeKind::Escalate,
    ];

    /// The kind as written in YAML (`decision`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Decision => "decision",
            NodeKind::Check => "check",
            NodeKind::Action => "action",
            NodeKind::Conclusion => "conclusion",
            NodeKind::Escalate => "escalate",
        }
    }

    /// Whether the kind ends a path (conclusion or escalate).
    pub fn is_terminal(self) -> bool {
        matches!(self, NodeKind::Conclusion | NodeKind::Escalate)
    }
}

/// One step of a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// What the node does.
    pub kind: NodeKind,
    /// What it asks, checks, does or concludes, in words.
    pub text: String,
    /// The evidence test over the window; only decisions and checks have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// A decision's edges: answer label to node id.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub branches: IndexMap<String, String>,
    /// The node a check or action leads to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// An action's bounded way back to an earlier node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// A conclusion's cause category: built in or declared in `causes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What the operator should do; required on a conclusion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

impl Node {
    /// A node of `kind` with `text` and no check, edges, cause or remedy.
    pub fn new(kind: NodeKind, text: impl Into<String>) -> Node {
        Node {
            kind,
            text: text.into(),
            check: None,
            branches: IndexMap::new(),
            next: None,
            retry: None,
            cause: None,
            remedy: None,
        }
    }

    /// Forward edges (branches, then `next`) with their labels; the retry edge is not one of them.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.branches
            .iter()
            .map(|(label, to)| (label.as_str(), to.as_str()))
            .chain(self.next.as_deref().map(|to| ("next", to)))
    }
}

/// Executable evidence over a window of lines. Exactly one of `any`, `all`, `count`, `absent`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Holds when some line matches this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<String>,
    /// Holds when each of these regexes matches some line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<String>>,
    /// Holds when at least `at_least` lines match this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<String>,
    /// How many lines `count` needs; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<u32>,
    /// Holds when no line matches this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<String>,
    /// Holds when the window's share of error lines is at least `above` times the rest of its
    /// file's (and it has at least 3): statistical evidence for failures no pattern names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<ErrorRate>,
    /// Holds when at least `at_least` kinds of message appear in the window that the file never
    /// showed before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novel_templates: Option<NovelTemplates>,
    /// `30s`, `10m`, `2h`: only lines within this span of the anchor count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// `novel_templates: { at_least: 1 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NovelTemplates {
    /// Fewest new kinds of message that make the check hold.
    pub at_least: u32,
}

/// `error_rate: { above: 3x }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRate {
    /// How many times the file's error share the window's must reach: `3x` (or `3`).
    pub above: String,
}

impl ErrorRate {
    /// The factor, when `above` is a positive number with an optional `x`.
    pub fn factor(&self) -> Option<f64> {
        let t = self.above.trim();
        let n: f64 = t
            .strip_suffix(['x', 'X'])
            .unwrap_or(t)
            .trim()
            .parse()
            .ok()?;
        (n.is_finite() && n > 0.0).then_some(n)
    }
}

impl Check {
    /// Every regex of the check, with the field it sits in.
    pub fn patterns(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(p) = &self.any {
            out.push(("any", p.as_str()));
        }
        for p in self.all.iter().flatten() {
            out.push(("all", p.as_str()));
        }
        if let Some(p) = &self.count {
            out.push(("count", p.as_str()));
        }
        if let Some(p) = &self.absent {
            out.push(("absent", p.as_str()));
        }
        out
    }

    /// One line: `any 'lost heartbeat' within 10m`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.any {
            parts.push(format!("any '{p}'"));
        }
        if let Some(ps) = &self.all {
            let list: Vec<String> = ps.iter().map(|p| format!("'{p}'")).collect();
            parts.push(format!("all [{}]", list.join(", ")));
        }
        if let Some(p) = &self.count {
            parts.push(format!(
                "count '{p}' at least {}",
                self.at_least.unwrap_or(1)
            ));
        }
        if let Some(p) = &self.absent {
            parts.push(format!("absent '{p}'"));
        }
        if let Some(r) = &self.error_rate {
            parts.push(format!(
                "error rate above {} the rest of the file's",
                r.above
            ));
        }
        if let Some(n) = &self.novel_templates {
            parts.push(format!(
                "at least {} message(s) new to the file",
                n.at_least
            ));
        }
        if let Some(w) = &self.within {
            parts.push(format!("within {w}"));
        }
        parts.join(" ")
    }
}

/// An action's way back to an earlier node, taken at most `limit` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Id of the node to go back to; it must lead back to the retrying action.
    pub to: String,
    /// Most times the retry is taken, 1 to `MAX_RETRY` (10).
    pub limit: u32,
}

/// `30s`, `10m`, `2h`, `1d` in seconds.
pub fn parse_span(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale).filter(|s| *s > 0)
}

impl Flowchart {
    /// Canonical YAML: what `save` writes and what the content hash covers.
    pub fn to_yaml(&self) -> String {
        // Only strings, numbers, maps and lists: serialisation cannot fail.
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical YAML, hex. Thoughts derived from the chart carry it.
    pub fn content_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.to_yaml().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Every cause a conclusion may name: built-in plus declared.
    pub fn allowed_causes(&self) -> Vec<&str> {
        BUILTIN_CAUSES
            .iter()
            .copied()
            .chain(self.causes.iter().map(String::as_str))
            .collect()
    }

    /// Cause categories the chart's conclusions actually use, in node order, without repeats.
    pub fn used_causes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for node in self.nodes.values() {
            if let Some(c) = node.cause.as_deref() {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_with_units() {
        assert_eq!(parse_span("30s"), Some(30));
        assert_eq!(parse_span("10m"), Some(600));
        assert_eq!(parse_span("2h"), Some(7200));
        assert_eq!(parse_span("10"), None);
        assert_eq!(parse_span("m"), None);
        assert_eq!(parse_span("0s"), None);
        assert_eq!(parse_span("5w"), None);
    }
}
