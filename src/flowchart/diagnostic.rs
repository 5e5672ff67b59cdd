//! Errors in a flowchart file, each with file, line, column and a one-line hint.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}\n  hint: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message,
            self.hint
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlowchartError {
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no flowchart `{0}`; `logreasoner flowchart validate` lists the charts")]
    Unknown(String),
}

fn render(list: &[Diagnostic]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Finds where things are in the YAML text, since serde reports positions only for syntax errors.
/// Positions are 1-based (line, column); an item it cannot find falls back to its parent's position.
pub struct Locator<'a> {
    lines: Vec<&'a str>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `key:` at the start of the trimmed line (plain or quoted key).
fn starts_key(trimmed: &str, key: &str) -> bool {
    let plain = trimmed.strip_prefix(key);
    let quoted = trimmed
        .strip_prefix('\'')
        .and_then(|t| t.strip_prefix(key))
        .and_then(|t| t.strip_prefix('\''))
        .or_else(|| {
            trimmed
                .strip_prefix('"')
                .and_then(|t| t.strip_prefix(key))
                .and_then(|t| t.strip_prefix('"'))
        });
    plain.or(quoted).is_some_and(|rest| rest.starts_with(':'))
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Locator {
            lines: text.lines().collect(),
        }
    }

    /// A top-level key such as `start:`.
    pub fn top(&self, key: &str) -> (usize, usize) {
        self.lines
            .iter()
            .position(|l| indent(l) == 0 && starts_key(l, key))
            .map_or((1, 1), |i| (i + 1, 1))
    }

    /// The `n`-th list item under a top-level key.
    pub fn item(&self, key: &str, n: usize) -> (usize, usize) {
        let (start, _) = self.top(key);
        let items = self
            .lines
            .iter()
            .enumerate()
            .skip(start)
            .take_while(|(_, l)| {
                l.trim().is_empty() || indent(l) > 0 || l.trim_start().starts_with('-')
            });
        items
            .filter(|(_, l)| l.trim_start().starts_with("- "))
            .nth(n)
            .map_or((start, 1), |(i, l)| (i + 1, indent(l) + 1))
    }

    /// A node's key under `nodes:`.
    pub fn node(&self, id: &str) -> (usize, usize) {
        let (nodes, _) = self.top("nodes");
        self.lines
            .iter()
            .enumerate()
            .skip(nodes)
            .find(|(_, l)| indent(l) > 0 && starts_key(l.trim_start(), id))
            .map_or((nodes, 1), |(i, l)| (i + 1, indent(l) + 1))
    }

    /// A field inside a node's block (`next:`, `cause:`, or a key inside a flow map such as `any:`).
    pub fn field(&self, id: &str, field: &str) -> (usize, usize) {
        let (line, col) = self.node(id);
        let node_indent = col - 1;
        for (i, l) in self.lines.iter().enumerate().skip(line) {
            if !l.trim().is_empty() && indent(l) <= node_indent {
                break;
            }
            if starts_key(l.trim_start(), field) {
                return (i + 1, indent(l) + 1);
            }
            let needle = format!("{field}:");
            if let Some(pos) = l
                .find(&format!(" {needle}"))
                .or_else(|| l.find(&format!("{{{needle}")))
            {
                return (i + 1, pos + 2);
            }
        }
        (line, col)
    }
}
