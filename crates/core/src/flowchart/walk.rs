//! The executable walk: evaluate each decision's check against a window of lines, from `start` to a
//! conclusion, recording the evidence lines behind every step. This is the no-model diagnosis
//! baseline and the skeleton the model's reasoning follows.

use std::sync::Arc;

use regex::Regex;
use serde::Serialize;

use super::model::{parse_span, Check, Flowchart, NodeKind};
use crate::logs::errors::{error_lines, Baseline, MIN_BASELINE, MIN_ERRORS};
use crate::logs::{format, timestamp};

/// At most this many evidence lines are kept per step.
pub const MAX_EVIDENCE: usize = 20;

/// Lines under diagnosis and the number of the first one (1-based, as in the file).
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The lines, `lines[0]` being line `first_line`.
    pub lines: &'a [String],
    /// 1-based number of the first line.
    pub first_line: usize,
    /// The error lines of the rest of the file, when the caller has the file; `error_rate`
    /// checks compare with it and cannot be decided without it.
    pub file: Option<Baseline>,
    /// The first line of each message template the file shows for the first time in the window,
    /// when the caller has the file; `novel_templates` checks read it.
    pub novel: Option<&'a [usize]>,
}

impl<'a> Window<'a> {
    /// A window over `lines`, the first of which is line `first_line`.
    pub fn new(lines: &'a [String], first_line: usize) -> Self {
        Window {
            lines,
            first_line,
            file: None,
            novel: None,
        }
    }

    /// The same window, with its messages new to the file.
    pub fn with_novel(self, novel: Option<&'a [usize]>) -> Self {
        Window { novel, ..self }
    }

    /// The same window, with the rest of its file's error lines to compare with.
    pub fn in_file(self, file: Option<Baseline>) -> Self {
        Window { file, ..self }
    }

    fn numbered(&self) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        let first = self.first_line;
        self.lines
            .iter()
            .enumerate()
            .map(move |(i, l)| (first + i, l.as_str()))
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CheckOutcome {
    /// The check holds or not, with the lines that show it.
    Decided {
        /// Whether the check holds.
        holds: bool,
        /// Line numbers that show it (at most [`MAX_EVIDENCE`]).
        evidence: Vec<usize>,
    },
    /// The log cannot answer it (e.g. a time span over lines without timestamps).
    Undecidable {
        /// Why the log cannot answer it.
        reason: String,
    },
}

/// One node visited by the walk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The node's id.
    pub node: String,
    /// The node's kind.
    pub kind: NodeKind,
    /// The node's text.
    pub text: String,
    /// The check as written, when the node has one.
    pub check: Option<String>,
    /// What the check found; `None` for a node without one.
    pub outcome: Option<CheckOutcome>,
    /// The branch taken (`yes`/`no`/`next`); none at the end.
    pub taken: Option<String>,
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum End {
    /// A conclusion node was reached: the cause is named.
    Conclusion {
        /// The conclusion node's id.
        node: String,
        /// The cause category it names (`unknown` when it names none).
        cause: String,
        /// What to do about it; empty when the node does not say.
        remedy: String,
    },
    /// An escalate node was reached: the log cannot settle it, a person must.
    Escalate {
        /// The escalate node's id.
        node: String,
        /// What to do, when the node says.
        remedy: Option<String>,
    },
    /// The walk stopped: a person or the model must decide at `node`.
    Undecided {
        /// The node the walk stopped at.
        node: String,
        /// Why it could not go on.
        reason: String,
    },
}

/// One walk of a chart over a window: the steps taken and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Walk {
    /// The chart's id.
    pub chart: String,
    /// The nodes visited, in order.
    pub steps: Vec<Step>,
    /// How the walk ended.
    pub end: End,
}

impl Walk {
    /// Node ids in the order visited.
    pub fn path(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.node.as_str()).collect()
    }

    /// Every evidence line number of the walk, ascending, without repeats.
    pub fn evidence(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self
            .steps
            .iter()
            .filter_map(|s| match &s.outcome {
                Some(CheckOutcome::Decided { evidence, .. }) => Some(evidence.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// A plain-text account, one step per line, for the CLI and prompts.
    pub fn describe(&self) -> String {
        self.describe_with(true)
    }

    /// [`Walk::describe`], where `questions: false` leaves out the question of each step whose
    /// check decided it (a prompt that already holds the chart's thought has them there).
    pub fn describe_with(&self, questions: bool) -> String {
        let mut out = String::new();
        for (i, s) in self.steps.iter().enumerate() {
            if questions || s.outcome.is_none() {
                out.push_str(&format!("{}. [{}] {}", i + 1, s.node, s.text));
            } else {
                out.push_str(&format!("{}. [{}]", i + 1, s.node));
            }
            match &s.outcome {
                Some(CheckOutcome::Decided { holds, evidence }) => {
                    let lines: Vec<String> = evidence.iter().map(|n| n.to_string()).collect();
                    let shown = if lines.is_empty() {
                        "no line".to_string()
                    } else {
                        format!("lines {}", lines.join(", "))
                    };
                    out.push_str(&format!(
                        " — check {}: {shown}",
                        if *holds { "holds" } else { "fails" }
                    ));
                }
                Some(CheckOutcome::Undecidable { reason }) => {
                    out.push_str(&format!(" — cannot tell: {reason}"))
                }
                None => {}
            }
            if let Some(t) = &s.taken {
                out.push_str(&format!(" → {t}"));
            }
            out.push('\n');
        }
        match &self.end {
            End::Conclusion { cause, remedy, .. } => {
                out.push_str(&format!("Conclusion: {cause}. Remedy: {remedy}\n"))
            }
            End::Escalate { remedy, .. } => out.push_str(&format!(
                "Escalate{}\n",
                remedy
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            End::Undecided { node, reason } => {
                out.push_str(&format!("Stopped at `{node}`: {reason}\n"))
            }
        }
        out
    }
}

fn compile(pattern: &str) -> Result<Arc<Regex>, String> {
    super::pattern::compiled(pattern)
        .map_err(|e| format!("regex `{pattern}` does not compile: {e}"))
}

/// Lines that count for a `within` check: timestamps within `span` seconds of the anchor.
fn within_span<'a>(
    chart: &Flowchart,
    window: Window<'a>,
    span: i64,
) -> Result<Vec<(usize, &'a str)>, String> {
    let stamped: Vec<(usize, &str, i64)> = window
        .numbered()
        .filter_map(|(n, l)| timestamp::parse(l).map(|t| (n, l, t)))
        .collect();
    let Some(&(_, _, last)) = stamped.last() else {
        return Err(
            "the check looks at a time span, but no line of the window has a timestamp".into(),
        );
    };
    let symptoms: Vec<_> = chart
        .symptoms
        .iter()
        .filter_map(|s| super::pattern::compiled(s).ok())
        .collect();
    let anchor = stamped
        .iter()
        .find(|(_, l, _)| symptoms.iter().any(|re| re.is_match(l)))
        .map_or(last, |&(_, _, t)| t);
    Ok(stamped
        .into_iter()
        .filter(|(_, _, t)| (t - anchor).abs() <= span)
        .map(|(n, l, _)| (n, l))
        .collect())
}

/// Evaluates one check over the window.
pub fn evaluate(chart: &Flowchart, check: &Check, window: Window) -> CheckOutcome {
    match evaluate_inner(chart, check, window) {
        Ok(outcome) => outcome,
        Err(reason) => CheckOutcome::Undecidable { reason },
    }
}

fn evaluate_inner(
    chart: &Flowchart,
    check: &Check,
    window: Window,
) -> Result<CheckOutcome, String> {
    let lines: Vec<(usize, &str)> = match &check.within {
        Some(w) => {
            let span = parse_span(w).ok_or_else(|| format!("`within: {w}` is not a time span"))?;
            within_span(chart, window, span)?
        }
        None => window.numbered().collect(),
    };
    let matching = |pattern: &str| -> Result<Vec<usize>, String> {
        let re = compile(pattern)?;
        Ok(lines
            .iter()
            .filter(|(_, l)| re.is_match(l))
            .map(|(n, _)| *n)
            .collect())
    };
    let capped = |mut v: Vec<usize>| {
        v.truncate(MAX_EVIDENCE);
        v
    };
    let decided = |holds: bool, evidence: Vec<usize>| {
        Ok(CheckOutcome::Decided {
            holds,
            evidence: capped(evidence),
        })
    };
    if let Some(p) = &check.any {
        let hits = matching(p)?;
        return decided(!hits.is_empty(), hits);
    }
    if let Some(ps) = &check.all {
        let mut evidence = Vec::new();
        let mut holds = true;
        for p in ps {
            match matching(p)?.first() {
                Some(&n) => evidence.push(n),
                None => holds = false,
            }
        }
        evidence.sort_unstable();
        evidence.dedup();
        return decided(holds, evidence);
    }
    if let Some(p) = &check.count {
        let hits = matching(p)?;
        let need = check.at_least.unwrap_or(1) as usize;
        return decided(hits.len() >= need, hits);
    }
    if let Some(p) = &check.absent {
        // Evidence for an absence is the lines that break it, when there are some.
        let hits = matching(p)?;
        return decided(hits.is_empty(), hits);
    }
    if let Some(rate) = &check.error_rate {
        let factor = rate
            .factor()
            .ok_or_else(|| format!("`above: {}` is not a factor such as 3x", rate.above))?;
        let file = window.file.filter(|f| f.lines >= MIN_BASELINE).ok_or(
            "an error rate is compared with the rest of the file, and these lines come without \
             enough of it",
        )?;
        let texts: Vec<&str> = lines.iter().map(|(_, l)| *l).take(200).collect();
        let errors = error_lines(lines.iter().copied(), format::detect(&texts));
        let share = errors.len() as f64 / lines.len().max(1) as f64;
        let holds = errors.len() >= MIN_ERRORS && share >= factor * file.rate();
        return decided(holds, errors);
    }
    if let Some(n) = &check.novel_templates {
        let novel = window.novel.ok_or(
            "new messages are told apart from the rest of the file, and these lines come \
             without enough of it",
        )?;
        // Within a `within` span, only the new messages inside it count.
        let hits: Vec<usize> = novel
            .iter()
            .copied()
            .filter(|l| lines.iter().any(|(n, _)| n == l))
            .collect();
        return decided(hits.len() >= n.at_least.max(1) as usize, hits);
    }
    Err("the check has no form (any, all, count, absent, error_rate or novel_templates)".into())
}

/// Walks `chart` over `window`. Actions are recorded as steps the operator takes and the walk goes on
/// with `next` (a retry cannot change a recorded log, so the walk never takes it).
pub fn walk(chart: &Flowchart, window: Window) -> Walk {
    let mut steps = Vec::new();
    let mut current = chart.start.clone();
    // A valid chart is acyclic; the bound guards an unvalidated one.
    for _ in 0..=chart.nodes.len() {
        let Some(node) = chart.nodes.get(&current) else {
            let end = End::Undecided {
                node: current.clone(),
                reason: format!("node `{current}` does not exist"),
            };
            return Walk {
                chart: chart.id.clone(),
                steps,
                end,
            };
        };
        let mut step = Step {
            node: current.clone(),
            kind: node.kind,
            text: node.text.clone(),
            check: node.check.as_ref().map(Check::describe),
            outcome: None,
            taken: None,
        };
        let outcome = node.check.as_ref().map(|c| evaluate(chart, c, window));
        step.outcome = outcome.clone();
        let next = match node.kind {
            NodeKind::Conclusion => {
                steps.push(step);
                let end = End::Conclusion {
                    node: current,
                    cause: node.cause.clone().unwrap_or_else(|| "unknown".into()),
                    remedy: node.remedy.clone().unwrap_or_default(),
                };
                return Walk {
                    chart: chart.id.clone(),
                    steps,
                    end,
                };
            }
            NodeKind::Escalate => {
                steps.push(step);
                let end = End::Escalate {
                    node: current,
                    remedy: node.remedy.clone(),
                };
                return Walk {
                    chart: chart.id.clone(),
                    steps,
                    end,
                };
            }
            NodeKind::Check | NodeKind::Action => {
                node.next.clone().map(|n| ("next".to_string(), n))
            }
            NodeKind::Decision => match outcome {
                Some(CheckOutcome::Decided { holds, .. }) => {
                    let label = if holds { "yes" } else { "no" };
                    node.branches
                        .get(label)
                        .map(|to| (label.to_string(), to.clone()))
                }
                Some(CheckOutcome::Undecidable { reason }) => {
                    steps.push(step);
                    let end = End::Undecided {
                        node: current,
                        reason: format!("{reason}; a person or the model must decide"),
                    };
                    return Walk {
                        chart: chart.id.clone(),
                        steps,
                        end,
                    };
                }
                None => {
                    steps.push(step);
                    let options: Vec<&str> = node.branches.keys().map(String::as_str).collect();
                    let end = End::Undecided {
                        node: current,
                        reason: format!(
                            "no executable check; a person or the model must choose {}",
                            options.join(" / ")
                        ),
                    };
                    return Walk {
                        chart: chart.id.clone(),
                        steps,
                        end,
                    };
                }
            },
        };
        let Some((label, to)) = next else {
            steps.push(step);
            let end = End::Undecided {
                node: current,
                reason: "the node leads nowhere".into(),
            };
            return Walk {
                chart: chart.id.clone(),
                steps,
                end,
            };
        };
        step.taken = Some(label);
        steps.push(step);
        current = to;
    }
    let end = End::Undecided {
        node: current,
        reason: "the chart loops; validate it".into(),
    };
    Walk {
        chart: chart.id.clone(),
        steps,
        end,
    }
}
