//! Saving a chart by changing only what was edited: the expert's comments, key order, quoting,
//! flow maps and folded text of every untouched entry stay byte for byte.
//!
//! The old and new charts are compared as YAML values, mapping by mapping (the chart, `nodes`,
//! each node). An entry whose value changed is rewritten in place (block style, at its own
//! indentation); a removed one is cut out with its lines; a new one goes after its mapping's last
//! entry. The result is parsed back, and used only when it reads as the new chart: anything this
//! line-based patch cannot express safely falls back to the canonical serialization.

use serde_yaml::{Mapping, Value};

use super::Flowchart;

/// Mappings deeper than this (inside a node) are rewritten whole when they change.
const MAX_DEPTH: usize = 2;

/// `text` (the file as the expert wrote it, which parses as `old`) changed to say `new`. `None`
/// when the patch would not read back as `new`; the caller then writes canonical YAML.
pub fn patched(text: &str, old: &Flowchart, new: &Flowchart) -> Option<String> {
    if old == new {
        return Some(text.to_string());
    }
    let (old_v, new_v) = (to_value(old)?, to_value(new)?);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let end = lines.len();
    patch_mapping(&mut lines, (0, end), 0, &old_v, &new_v, 0)?;
    let mut out = lines.join("\n");
    if text.ends_with('\n') || text.is_empty() {
        out.push('\n');
    }
    let back: Flowchart = serde_yaml::from_str(&out).ok()?;
    (back == *new).then_some(out)
}

fn to_value(chart: &Flowchart) -> Option<Mapping> {
    match serde_yaml::to_value(chart).ok()? {
        Value::Mapping(m) => Some(m),
        _ => None,
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// A line that neither starts nor continues an entry by itself.
fn is_filler(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The key of an entry line at `indent` (`key:` or `key: value`), unquoted.
fn entry_key(line: &str, indent: usize) -> Option<String> {
    if indent_of(line) != indent || is_filler(line) {
        return None;
    }
    let rest = &line[indent..];
    if rest.starts_with('-') {
        return None;
    }
    let colon = rest
        .find(": ")
        .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
    Some(rest[..colon].trim().trim_matches(['\'', '"']).to_string())
}

/// Each entry of the mapping whose lines are `range` at `indent`: its key and its lines
/// `start..end` (trailing blank and comment lines belong to what follows).
fn entries(
    lines: &[String],
    (from, to): (usize, usize),
    indent: usize,
) -> Vec<(String, usize, usize)> {
    let starts: Vec<(usize, String)> = (from..to)
        .filter_map(|i| entry_key(&lines[i], indent).map(|k| (i, k)))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, (start, key))| {
            let mut end = starts.get(n + 1).map_or(to, |s| s.0);
            while end > start + 1 && {
                let l = &lines[end - 1];
                is_filler(l) && (l.trim().is_empty() || indent_of(l) <= indent)
            } {
                end -= 1;
            }
            (key.clone(), *start, end)
        })
        .collect()
}

/// `key: value` in block style, every line indented by `indent`.
fn render_entry(key: &Value, value: &Value, indent: usize) -> Option<Vec<String>> {
    let mut one = Mapping::new();
    one.insert(key.clone(), value.clone());
    let text = serde_yaml::to_string(&one).ok()?;
    Some(
        text.lines()
            .map(|l| format!("{}{l}", " ".repeat(indent)))
            .collect(),
    )
}

/// Changes the mapping at `indent` in `lines[range]` from `old` to `new`.
fn patch_mapping(
    lines: &mut Vec<String>,
    range: (usize, usize),
    indent: usize,
    old: &Mapping,
    new: &Mapping,
    depth: usize,
) -> Option<()> {
    let found = entries(lines, range, indent);
    let in_file = |k: &Value| {
        found
            .iter()
            .any(|(key, ..)| Value::String(key.clone()) == *k)
    };
    // A change to a key the file does not show (written in a way this reader cannot see)
    // cannot be placed.
    if old.keys().any(|k| !in_file(k) && old.get(k) != new.get(k)) {
        return None;
    }
    // New keys first, after the mapping's last entry: nothing above them moves.
    let mut at = found.iter().map(|e| e.2).max().unwrap_or(range.0);
    for (k, v) in new {
        if in_file(k) || old.contains_key(k) {
            continue;
        }
        let fresh = render_entry(k, v, indent)?;
        let n = fresh.len();
        lines.splice(at..at, fresh);
        at += n;
    }
    // Then the entries bottom up, so those above keep their line numbers.
    let mut found = found;
    found.sort_by_key(|e| std::cmp::Reverse(e.1));
    for (key, start, end) in found {
        let k = Value::String(key);
        match (old.get(&k), new.get(&k)) {
            (a, b) if a == b => {}
            (Some(Value::Mapping(a)), Some(Value::Mapping(b)))
                if depth < MAX_DEPTH && lines[start].trim_end().ends_with(':') =>
            {
                let child = (start + 1..end)
                    .find(|&i| !is_filler(&lines[i]))
                    .map(|i| indent_of(&lines[i]))
                    .filter(|&c| c > indent)?;
                patch_mapping(lines, (start + 1, end), child, a, b, depth + 1)?;
            }
            (_, Some(b)) => {
                let fresh = render_entry(&k, b, indent)?;
                lines.splice(start..end, fresh);
            }
            (_, None) => {
                lines.drain(start..end);
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = "\
# Hand-written: the team's notes stay.
id: demo
title: Demo chart   # short
system: HDFS
description: >
  Folded text that
  spans lines.
symptoms:
  - 'lost heartbeat'   # the usual first sign
start: first
nodes:
  # The question everyone asks first.
  first:
    kind: decision
    text: Did a node die?
    check: { any: 'lost heartbeat' }
    branches: { yes: dead, no: alive }

  dead:
    kind: conclusion
    text: \"A node died.\"
    cause: node_failure
    remedy: Restart it.
  alive:
    kind: conclusion
    text: Nothing died.
    cause: replication_lag
    remedy: Wait.
";

    fn parse(text: &str) -> Flowchart {
        serde_yaml::from_str(text).expect("chart")
    }

    #[test]
    fn an_edited_node_field_changes_one_line_and_keeps_every_comment() {
        let old = parse(COMMENTED);
        let mut new = old.clone();
        new.nodes["dead"].remedy = Some("Restart it, then check the disks.".into());
        let out = patched(COMMENTED, &old, &new).expect("patched");
        let changed: Vec<(&str, &str)> = COMMENTED
            .lines()
            .zip(out.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            changed,
            [(
                "    remedy: Restart it.",
                "    remedy: Restart it, then check the disks."
            )]
        );
        assert_eq!(parse(&out), new);
    }

    #[test]
    fn removed_added_and_retitled_parts_leave_the_rest_byte_for_byte() {
        let old = parse(COMMENTED);
        let mut new = old.clone();
        new.title = "Demo chart, renamed".into();
        new.nodes.shift_remove("alive");
        new.nodes["first"].branches["no"] = "healthy".into();
        new.nodes.insert(
            "healthy".into(),
            crate::flowchart::Node {
                cause: Some("replication_lag".into()),
                remedy: Some("Nothing to do.".into()),
                ..crate::flowchart::Node::new(crate::flowchart::NodeKind::Conclusion, "All well.")
            },
        );
        let out = patched(COMMENTED, &old, &new).expect("patched");
        assert_eq!(parse(&out), new);
        for kept in [
            "# Hand-written: the team's notes stay.",
            "  - 'lost heartbeat'   # the usual first sign",
            "  # The question everyone asks first.",
            "    check: { any: 'lost heartbeat' }",
            "description: >\n  Folded text that\n  spans lines.",
            "    text: \"A node died.\"",
        ] {
            assert!(out.contains(kept), "lost `{kept}`:\n{out}");
        }
        assert!(!out.contains("Nothing died."), "{out}");
        assert!(out.contains("title: Demo chart, renamed\n"), "{out}");
    }

    #[test]
    fn an_unchanged_chart_is_its_file() {
        let old = parse(COMMENTED);
        assert_eq!(patched(COMMENTED, &old, &old).as_deref(), Some(COMMENTED));
    }

    /// Every shipped chart: an edit to one node's text changes that line only, and the file
    /// otherwise comes back byte for byte.
    #[test]
    fn every_shipped_chart_keeps_its_file_through_an_edit() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flowcharts");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("flowcharts") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let old = parse(&text);
            let mut new = old.clone();
            let (id, node) = new.nodes.first_mut().expect("a node");
            node.text.push_str(" (edited)");
            let id = id.clone();
            let out = patched(&text, &old, &new)
                .unwrap_or_else(|| panic!("{}: not patched", path.display()));
            assert_eq!(parse(&out), new, "{}", path.display());
            let changed = text
                .lines()
                .zip(out.lines())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                (changed, text.lines().count()),
                (1, out.lines().count()),
                "{} (node {id}): one line changes",
                path.display()
            );
            seen += 1;
        }
        assert!(seen >= 20, "{seen} charts");
    }
}
