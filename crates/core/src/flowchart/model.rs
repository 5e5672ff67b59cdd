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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flowchart {
    pub id: String,
    pub title: String,
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    pub symptoms: Vec<String>,
    pub start: String,
    pub nodes: IndexMap<String, Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Decision,
    Check,
    Action,
    Conclusion,
    Escalate,
}

impl NodeKind {
    pub const ALL: [NodeKind; 5] = [
        NodeKind::Decision,
        NodeKind::Check,
        NodeKind::Action,
        NodeKind::Conclusion,
        NodeKind::Escalate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Decision => "decision",
            NodeKind::Check => "check",
            NodeKind::Action => "action",
            NodeKind::Conclusion => "conclusion",
            NodeKind::Escalate => "escalate",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, NodeKind::Conclusion | NodeKind::Escalate)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub kind: NodeKind,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub branches: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

impl Node {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<String>,
    /// `30s`, `10m`, `2h`: only lines within this span of the anchor count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
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
        if let Some(w) = &self.within {
            parts.push(format!("within {w}"));
        }
        parts.join(" ")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub to: String,
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
