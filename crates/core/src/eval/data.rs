//! Evaluation items from JSONL: LogLM rows (`task, instruction, input, output`) and the generic
//! schema (`task, input, gold` plus optional `instruction`, `system`, `category`, `params`). A line
//! that does not parse is reported with its number and skipped; the rest load.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::store::Task;

/// One item to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// 1-based line of the file.
    pub line: usize,
    /// The task the item poses (LogLM's `solution` rows are root cause).
    pub task: Task,
    /// The log's system; empty when the row names none.
    pub system: String,
    /// The question or instruction; empty when the row has none.
    pub instruction: String,
    /// The log lines, one per entry (a single-string input is split into lines).
    pub input: Vec<String>,
    /// The reference answer (`gold`, or LogLM's `output`).
    pub gold: String,
    /// A root-cause category, when the source has one (enables category macro-F1).
    pub category: Option<String>,
    /// LogLM's `solution` rows are root-cause items that ask for the remedy.
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Lines {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    task: String,
    #[serde(default)]
    instruction: String,
    input: Lines,
    /// LogLM's name for the gold answer.
    output: Option<String>,
    /// The generic schema's name for it.
    gold: Option<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
}

/// What loading found: the items and the lines it skipped, with why.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The rows that parsed, in file order.
    pub items: Vec<Item>,
    /// Lines that did not parse, with why (1-based line numbers).
    pub skipped: Vec<(usize, String)>,
}

/// The task of a row; LogLM's `solution` is root cause analysis asking for the remedy.
fn task_of(name: &str) -> Result<(Task, Option<String>), String> {
    match name {
        "solution" => Ok((Task::RootCause, Some("solution".into()))),
        "root_cause_analysis" => Ok((Task::RootCause, None)),
        other => other.parse().map(|t| (t, None)),
    }
}

/// Items from JSONL text; a line that does not parse is skipped and reported.
pub fn parse(text: &str) -> Loaded {
    // An editor's byte-order mark would make the first row invalid JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut loaded = Loaded::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let row: Row = match serde_json::from_str(raw) {
            Ok(r) => r,
            Err(e) => {
                loaded.skipped.push((line, e.to_string()));
                continue;
            }
        };
        let (task, kind) = match task_of(&row.task) {
            Ok(t) => t,
            Err(e) => {
                loaded.skipped.push((line, e));
                continue;
            }
        };
        let Some(gold) = row.gold.or(row.output) else {
            loaded
                .skipped
                .push((line, "no gold answer (`gold` or `output`)".into()));
            continue;
        };
        let input = match row.input {
            Lines::One(s) => strip_fence(&s).lines().map(str::to_string).collect(),
            Lines::Many(v) => v,
        };
        loaded.items.push(Item {
            line,
            task,
            system: row
                .system
                .or_else(|| row.params.get("system").cloned())
                .unwrap_or_default(),
            instruction: row.instruction,
            input,
            gold,
            category: row.category,
            kind,
        });
    }
    loaded
}

impl Item {
    /// The item as a generic-schema row that [`parse`] reads back as the same item (but for its
    /// line number): how an experiment writes the dev set it scored, so any run can be redone
    /// with `eval --data`.
    pub fn to_json(&self) -> serde_json::Value {
        let task = match self.kind.as_deref() {
            Some(kind) => kind.to_string(),
            None => self.task.to_string(),
        };
        let mut row = serde_json::json!({
            "task": task,
            "instruction": self.instruction,
            "input": self.input,
            "gold": self.gold,
        });
        if !self.system.is_empty() {
            row["system"] = self.system.clone().into();
        }
        if let Some(c) = &self.category {
            row["category"] = c.clone().into();
        }
        row
    }
}

/// LogLM wraps some inputs in a Markdown code fence.
fn strip_fence(s: &str) -> &str {
    let t = s.trim();
    match t.strip_prefix("```") {
        Some(rest) => {
            let rest = rest.split_once('\n').map_or("", |(_, body)| body);
            rest.trim_end()
                .strip_suffix("```")
                .unwrap_or(rest)
                .trim_end()
        }
        None => t,
    }
}

/// Reads and parses a JSONL file; only an unreadable file is an error.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_does_not_spoil_the_first_row() {
        let l = parse(
            "\u{feff}{\"task\": \"anomaly_detection\", \"input\": \"x\", \"gold\": \"normal\"}\n",
        );
        assert_eq!(l.items.len(), 1, "{:?}", l.skipped);
    }

    #[test]
    fn loglm_and_generic_rows_load_and_bad_lines_are_reported() {
        let text = r#"{"task": "anomaly_detection", "instruction": "Classify.", "input": "GM: LANai is not running.", "output": "normal"}
not json
{"task": "solution", "instruction": "Fix it.", "input": "```\nerror A\nerror B\n```", "output": "Restart."}
{"task": "telepathy", "input": "x", "gold": "y"}
{"task": "root_cause", "input": ["l1", "l2"], "gold": "disk full", "category": "disk_failure", "system": "HDFS"}
"#;
        let l = parse(text);
        assert_eq!(l.items.len(), 3);
        assert_eq!(l.skipped.iter().map(|s| s.0).collect::<Vec<_>>(), [2, 4]);
        assert!(l.skipped[1].1.contains("unknown task"), "{:?}", l.skipped);
        assert_eq!(l.items[0].gold, "normal");
        assert_eq!(l.items[1].task, Task::RootCause);
        assert_eq!(l.items[1].kind.as_deref(), Some("solution"));
        assert_eq!(l.items[1].input, ["error A", "error B"]);
        assert_eq!(l.items[2].category.as_deref(), Some("disk_failure"));
        assert_eq!(l.items[2].system, "HDFS");
    }

    #[test]
    fn an_item_written_as_json_reads_back_the_same() {
        let text = r#"{"task": "solution", "instruction": "Fix it.", "input": ["error A", "error B"], "output": "Restart.", "system": "Apache"}
{"task": "root_cause", "input": ["l1"], "gold": "disk full", "category": "disk_failure"}
{"task": "anomaly_detection", "instruction": "Classify.", "input": "x", "gold": "normal"}
"#;
        let items = parse(text).items;
        let written: String = items.iter().map(|i| format!("{}\n", i.to_json())).collect();
        let back = parse(&written);
        assert!(back.skipped.is_empty(), "{:?}", back.skipped);
        assert_eq!(back.items, items);
    }
}
