//! Errors in a flowchart file, each with file, line, column and a one-line hint.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// One problem found in a flowchart file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The flowchart file.
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// A one-line suggestion for fixing it.
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

/// Why a flowchart could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum FlowchartError {
    /// The file parsed but breaks the rules; every problem found is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Not `source`: the message already includes it, and an error chain would print it twice.
        error: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Not `source`: the message already includes it, and an error chain would print it twice.
        error: std::io::Error,
    },
    /// No chart with this id (or path) in the flowcharts folder.
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
    /// Line index of each node's key under `nodes:`, found in one pass: looking a node up by
    /// scanning made validating a 10,000-node chart take minutes.
    nodes: HashMap<&'a str, usize>,
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

/// The key of a `key:` line, plain or quoted.
fn key_of(trimmed: &str) -> Option<&str> {
    let (key, rest) = match trimmed.chars().next()? {
        q @ ('\'' | '"') => {
            let body = &trimmed[1..];
            let end = body.find(q)?;
            (&body[..end], &body[end + 1..])
        }
        _ => {
            let end = trimmed.find(':')?;
            (&trimmed[..end], &trimmed[end..])
        }
    };
    rest.starts_with(':').then_some(key)
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        let lines: Vec<&'a str> = text.lines().collect();
        let mut nodes = HashMap::new();
        let start = lines
            .iter()
            .position(|l| indent(l) == 0 && starts_key(l, "nodes"));
        if let Some(start) = start {
            // A node's key is a line at the indentation of the first key under `nodes:`.
            let mut child_indent = None;
            for (i, l) in lines.iter().enumerate().skip(start + 1) {
                let trimmed = l.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let depth = indent(l);
                if depth == 0 {
                    break;
                }
                if *child_indent.get_or_insert(depth) != depth {
                    continue;
                }
                if let Some(key) = key_of(trimmed) {
                    nodes.entry(key).or_insert(i);
                }
            }
        }
        Locator { lines, nodes }
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
        if let Some(&i) = self.nodes.get(id) {
            return (i + 1, indent(self.lines[i]) + 1);
        }
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
