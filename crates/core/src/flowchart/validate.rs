//! SPEC's rules for a chart, each failure a [`Diagnostic`] with a position and a hint.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use regex::Regex;

use super::diagnostic::{Diagnostic, Locator};
use super::model::{parse_span, Check, Flowchart, Node, NodeKind};

/// Highest retry limit a chart may give; a retry must be bounded.
pub const MAX_RETRY: u32 = 10;

struct Report<'a> {
    file: &'a Path,
    at: Locator<'a>,
    out: Vec<Diagnostic>,
}

impl Report<'_> {
    fn push(&mut self, (line, column): (usize, usize), message: String, hint: &str) {
        self.out.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
            hint: hint.to_string(),
        });
    }
}

/// Every rule violation of `chart`, whose YAML text is `text`. Empty means valid.
pub fn validate(chart: &Flowchart, text: &str, file: &Path) -> Vec<Diagnostic> {
    let mut r = Report {
        file,
        at: Locator::new(text),
        out: Vec::new(),
    };
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
    if let Some(stem) = stem.filter(|s| *s != chart.id) {
        let pos = r.at.top("id");
        r.push(
            pos,
            format!("id `{}` differs from the file name `{stem}`", chart.id),
            "make `id` equal the file stem (or rename the file)",
        );
    }
    if chart.title.trim().is_empty() {
        let pos = r.at.top("title");
        r.push(pos, "the title is empty".into(), "write a one-line title");
    }
    if chart.system.trim().is_empty() {
        let pos = r.at.top("system");
        r.push(
            pos,
            "the system is empty".into(),
            "name the system, e.g. HDFS or Linux; retrieval uses it",
        );
    }
    if chart.symptoms.is_empty() {
        let pos = r.at.top("symptoms");
        r.push(
            pos,
            "no symptoms".into(),
            "add at least one regex that matches a line showing the problem",
        );
    }
    for (i, symptom) in chart.symptoms.iter().enumerate() {
        if let Err(e) = Regex::new(symptom) {
            let pos = r.at.item("symptoms", i);
            r.push(
                pos,
                format!(
                    "symptom {} is not a valid regex: {}",
                    i + 1,
                    first_line(&e.to_string())
                ),
                REGEX_HINT,
            );
        }
    }
    let mut seen_causes = HashSet::new();
    for (i, cause) in chart.causes.iter().enumerate() {
        if !seen_causes.insert(cause) {
            let pos = r.at.item("causes", i);
            r.push(
                pos,
                format!("cause `{cause}` is declared twice"),
                "declare each cause once",
            );
        }
    }
    if !chart.nodes.contains_key(&chart.start) {
        let pos = r.at.top("start");
        r.push(
            pos,
            format!("start node `{}` does not exist", chart.start),
            "point `start` at one of the nodes",
        );
    }
    if chart.nodes.is_empty() {
        let pos = r.at.top("nodes");
        r.push(
            pos,
            "the chart has no nodes".into(),
            "add a start decision and the conclusions it leads to",
        );
    }
    for (key, text) in [
        ("title", Some(&chart.title)),
        ("system", Some(&chart.system)),
        ("description", chart.description.as_ref()),
    ] {
        if let Some(text) = text {
            let pos = r.at.top(key);
            control_rule(&mut r, pos, &format!("the {key}"), text);
        }
    }
    let allowed = chart.allowed_causes();
    for (id, node) in &chart.nodes {
        node_rules(&mut r, chart, id, node, &allowed);
    }
    graph_rules(&mut r, chart);
    r.out.sort_by_key(|d| (d.line, d.column));
    r.out
}

const REGEX_HINT: &str =
    "Rust regex syntax: escape ( ) [ ] . * + ? with a backslash; no look-around or back-references";

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

/// A control character in a chart's text would act on the terminal that shows it (`ESC c` clears
/// it), so charts may not hold any but line breaks and tabs.
fn control_rule(r: &mut Report, pos: (usize, usize), what: &str, text: &str) {
    if let Some(c) = crate::safe_text::first_unsafe(text) {
        r.push(
            pos,
            format!("{what} holds the control character U+{:04X}", c as u32),
            "delete it: chart text is shown in terminals, where control characters act",
        );
    }
}

/// How a node of its kind leads on: decisions branch, checks and actions go `next`, ends stop.
fn shape_rules(r: &mut Report, id: &str, node: &Node) {
    let kind = node.kind.as_str();
    let has_branches = !node.branches.is_empty();
    match node.kind {
        NodeKind::Decision => {
            if node.branches.len() < 2 {
                let pos = r.at.node(id);
                r.push(
                    pos,
                    format!(
                        "decision `{id}` has {} branch(es); a decision needs at least two",
                        node.branches.len()
                    ),
                    "add `branches: { yes: NODE, no: NODE }`",
                );
            }
            if node.check.is_some() && node.branches.len() >= 2 {
                let labels: HashSet<&str> = node.branches.keys().map(String::as_str).collect();
                if labels != HashSet::from(["yes", "no"]) {
                    let pos = r.at.field(id, "branches");
                    r.push(pos, format!("decision `{id}` has a check, so its branches must be exactly `yes` and `no`"), "the check's result picks the branch: name them yes and no");
                }
            }
        }
        NodeKind::Check | NodeKind::Action => {
            if node.next.is_none() {
                let pos = r.at.node(id);
                r.push(
                    pos,
                    format!("{kind} `{id}` has no `next`, so its path ends without a conclusion"),
                    "add `next: NODE`; every path must end in a conclusion or escalate",
                );
            }
            if has_branches {
                let pos = r.at.field(id, "branches");
                r.push(
                    pos,
                    format!("{kind} `{id}` has branches; only decisions branch"),
                    "make it a decision, or use `next`",
                );
            }
        }
        NodeKind::Conclusion | NodeKind::Escalate => {
            if has_branches || node.next.is_some() {
                let field = if has_branches { "branches" } else { "next" };
                let pos = r.at.field(id, field);
                r.push(
                    pos,
                    format!("{kind} `{id}` leads on; a path must end at a {kind}"),
                    "remove `branches`/`next`, or change the kind",
                );
            }
        }
    }
}

/// Only conclusions name a cause (a declared one) and a remedy.
fn cause_rules(r: &mut Report, id: &str, node: &Node, allowed: &[&str]) {
    let kind = node.kind.as_str();
    if node.kind == NodeKind::Conclusion {
        match node.cause.as_deref() {
            None => {
                let pos = r.at.node(id);
                r.push(
                    pos,
                    format!("conclusion `{id}` has no cause"),
                    "add `cause:` with a category such as node_failure",
                );
            }
            Some(cause) if !allowed.contains(&cause) => {
                let pos = r.at.field(id, "cause");
                r.push(
                    pos,
                    format!("cause `{cause}` of `{id}` is not declared"),
                    "use a built-in category (see flowcharts/README.md) or add it to `causes:`",
                );
            }
            Some(_) => {}
        }
        if node.remedy.as_deref().is_none_or(|s| s.trim().is_empty()) {
            let pos = r.at.node(id);
            r.push(
                pos,
                format!("conclusion `{id}` has no remedy"),
                "add `remedy:` saying what the operator should do",
            );
        }
    } else if node.cause.is_some() {
        let pos = r.at.field(id, "cause");
        r.push(
            pos,
            format!("{kind} `{id}` has a cause; only conclusions name causes"),
            "move the cause to the conclusion this node leads to",
        );
    }
}

fn node_rules(r: &mut Report, chart: &Flowchart, id: &str, node: &Node, allowed: &[&str]) {
    let kind = node.kind.as_str();
    for (field, text) in [("text", Some(&node.text)), ("remedy", node.remedy.as_ref())] {
        if let Some(text) = text.filter(|t| crate::safe_text::first_unsafe(t).is_some()) {
            let pos = r.at.field(id, field);
            control_rule(r, pos, &format!("the {field} of `{id}`"), text);
        }
    }
    if node.text.trim().is_empty() {
        let pos = r.at.field(id, "text");
        r.push(
            pos,
            format!("node `{id}` has no text"),
            "say what is asked, checked, done or concluded",
        );
    }
    shape_rules(r, id, node);
    cause_rules(r, id, node, allowed);
    if let Some(check) = &node.check {
        if node.kind.is_terminal() || node.kind == NodeKind::Action {
            let pos = r.at.field(id, "check");
            r.push(
                pos,
                format!("{kind} `{id}` has a check; only decisions and checks evaluate evidence"),
                "move the check to a decision or check node",
            );
        }
        check_rules(r, id, check);
    }
    if let Some(retry) = &node.retry {
        let pos = r.at.field(id, "retry");
        if node.kind != NodeKind::Action {
            r.push(
                pos,
                format!("{kind} `{id}` has a retry; only actions retry"),
                "put the retry on the action that is repeated",
            );
        }
        if !(1..=MAX_RETRY).contains(&retry.limit) {
            r.push(
                pos,
                format!(
                    "retry limit {} of `{id}` is outside 1..={MAX_RETRY}",
                    retry.limit
                ),
                "a retry must be bounded: give a limit from 1 to 10",
            );
        }
    }
    for (label, to) in node
        .edges()
        .chain(node.retry.as_ref().map(|rt| ("retry", rt.to.as_str())))
    {
        if !chart.nodes.contains_key(to) {
            let field = match label {
                "next" | "retry" => label,
                _ => "branches",
            };
            let pos = r.at.field(id, field);
            r.push(
                pos,
                format!("`{id}` {label} → `{to}`, which is not a node"),
                "point it at an existing node id",
            );
        }
    }
}

fn check_rules(r: &mut Report, id: &str, check: &Check) {
    let forms = [
        check.any.is_some(),
        check.all.is_some(),
        check.count.is_some(),
        check.absent.is_some(),
        check.error_rate.is_some(),
        check.novel_templates.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let pos = r.at.field(id, "check");
    if forms != 1 {
        r.push(pos, format!("the check of `{id}` has {forms} forms; it needs exactly one of any, all, count, absent, error_rate, novel_templates"), "split it into separate decisions, one check each");
    }
    if check
        .novel_templates
        .as_ref()
        .is_some_and(|n| n.at_least == 0)
    {
        r.push(
            pos,
            format!("the novel_templates check of `{id}` needs `at_least: N` with N ≥ 1"),
            "e.g. `{ novel_templates: { at_least: 1 } }`",
        );
    }
    if check
        .error_rate
        .as_ref()
        .is_some_and(|r| r.factor().is_none())
    {
        r.push(
            pos,
            format!("the error_rate check of `{id}` needs `above:` a positive factor"),
            "e.g. `{ error_rate: { above: 3x } }`",
        );
    }
    if check.count.is_some() && check.at_least.is_none_or(|n| n == 0) {
        r.push(
            pos,
            format!("the count check of `{id}` needs `at_least: N` with N ≥ 1"),
            "e.g. `{ count: 'error', at_least: 5 }`",
        );
    }
    if check.count.is_none() && check.at_least.is_some() {
        r.push(
            pos,
            format!("`at_least` in the check of `{id}` only goes with `count`"),
            "use `{ count: RE, at_least: N }`",
        );
    }
    if check.all.as_ref().is_some_and(Vec::is_empty) {
        r.push(
            pos,
            format!("the `all` check of `{id}` lists no regex"),
            "list at least one regex",
        );
    }
    if let Some(w) = &check.within {
        if parse_span(w).is_none() {
            let pos = r.at.field(id, "within");
            r.push(
                pos,
                format!("`within: {w}` of `{id}` is not a span"),
                "write a number and a unit: 30s, 10m, 2h or 1d",
            );
        }
    }
    for (field, pattern) in check.patterns() {
        if let Err(e) = Regex::new(pattern) {
            let pos = r.at.field(id, field);
            r.push(
                pos,
                format!(
                    "the `{field}` regex of `{id}` is invalid: {}",
                    first_line(&e.to_string())
                ),
                REGEX_HINT,
            );
        }
    }
}

/// Reachability from start, acyclicity of forward edges, and retries that really go back.
fn graph_rules(r: &mut Report, chart: &Flowchart) {
    if !chart.nodes.contains_key(&chart.start) {
        return;
    }
    let forward: HashMap<&str, Vec<&str>> = chart
        .nodes
        .iter()
        .map(|(id, n)| {
            (
                id.as_str(),
                n.edges()
                    .map(|(_, to)| to)
                    .filter(|to| chart.nodes.contains_key(*to))
                    .collect(),
            )
        })
        .collect();

    // Reachable through forward and retry edges.
    let mut reached = HashSet::from([chart.start.as_str()]);
    let mut stack = vec![chart.start.as_str()];
    while let Some(id) = stack.pop() {
        for &to in &forward[id] {
            if reached.insert(to) {
                stack.push(to);
            }
        }
    }
    for id in chart.nodes.keys() {
        if !reached.contains(id.as_str()) {
            let pos = r.at.node(id);
            r.push(
                pos,
                format!("node `{id}` cannot be reached from `{}`", chart.start),
                "link it from a branch or `next`, or delete it",
            );
        }
    }

    // Cycles among forward edges: depth-first search with colours, reporting the closing edge once.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: HashMap<&str, Colour> = chart
        .nodes
        .keys()
        .map(|k| (k.as_str(), Colour::White))
        .collect();
    let ids: Vec<&str> = std::iter::once(chart.start.as_str())
        .chain(chart.nodes.keys().map(String::as_str))
        .collect();
    for root in ids {
        if colour[root] != Colour::White {
            continue;
        }
        // (node, index of the next edge to follow)
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        colour.insert(root, Colour::Grey);
        while let Some((id, i)) = path.last_mut() {
            let id = *id;
            match forward[id].get(*i) {
                Some(&to) => {
                    *i += 1;
                    match colour[to] {
                        Colour::White => {
                            colour.insert(to, Colour::Grey);
                            path.push((to, 0));
                        }
                        Colour::Grey => {
                            let from = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                            let mut cycle: Vec<&str> =
                                path[from..].iter().map(|(n, _)| *n).collect();
                            cycle.push(to);
                            let pos = r.at.node(id);
                            r.push(pos, format!("loop {}; only an explicit bounded retry may go back", cycle.join(" → ")), "replace the back edge with `retry: { to: NODE, limit: N }` on an action");
                        }
                        Colour::Black => {}
                    }
                }
                None => {
                    colour.insert(id, Colour::Black);
                    path.pop();
                }
            }
        }
    }

    // A retry must go back: its target reaches the retrying node.
    for (id, node) in &chart.nodes {
        let Some(retry) = &node.retry else { continue };
        if !chart.nodes.contains_key(&retry.to) {
            continue;
        }
        let mut seen = HashSet::from([retry.to.as_str()]);
        let mut stack = vec![retry.to.as_str()];
        let mut back = false;
        while let Some(n) = stack.pop() {
            if n == id {
                back = true;
                break;
            }
            for &to in &forward[n] {
                if seen.insert(to) {
                    stack.push(to);
                }
            }
        }
        if !back {
            let pos = r.at.field(id, "retry");
            r.push(
                pos,
                format!(
                    "retry of `{id}` goes to `{}`, which does not lead back to `{id}`",
                    retry.to
                ),
                "a retry returns to an earlier node on the same path",
            );
        }
    }
}
