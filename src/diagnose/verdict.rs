//! The structured verdict: what the model's closing lines say, what the flowchart walk concluded, and
//! how the two are settled into one answer whose evidence lies inside the window.

use serde::{Deserialize, Serialize};

use crate::flowchart::walk::{End, Walk};
use crate::flowchart::{Flowchart, BUILTIN_CAUSES};

/// What the model's closing lines say. Every field is optional: a small model often drifts from
/// the format, and what it did not say is simply absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelAnswer {
    pub anomalous: Option<bool>,
    pub cause: Option<String>,
    pub confidence: Option<f32>,
    /// Every line number the model cited (in `Evidence:` or as "line N"), in the order seen.
    pub cited: Vec<usize>,
}

/// Where the verdict's anomalous/cause came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictFrom {
    /// The model's answer, and the walk agreed (or had nothing to say).
    Model,
    /// The walk alone: no model ran, or its answer could not be parsed.
    Walk,
    /// The model's answer, which disagrees with the walk's conclusion.
    ModelAgainstWalk,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub anomalous: bool,
    pub cause: Option<String>,
    /// True when `cause` is a category of the chart (or a built-in one), false for free text.
    pub cause_is_category: bool,
    pub confidence: f32,
    /// Line numbers inside the window, ascending.
    pub evidence: Vec<usize>,
    /// Cited line numbers that are not in the window (dropped from `evidence`).
    pub rejected_evidence: Vec<usize>,
    pub next_steps: Vec<String>,
    #[serde(rename = "verdict_from")]
    pub from: VerdictFrom,
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let t = line.trim().trim_start_matches(['*', '-', '#', ' ']);
    let (head, rest) = t.split_once(':')?;
    head.trim()
        .trim_matches('*')
        .eq_ignore_ascii_case(name)
        .then(|| rest.trim().trim_matches('*').trim())
}

fn yes_no(text: &str) -> Option<bool> {
    let t = text.to_ascii_lowercase();
    let word = t
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|w| !w.is_empty())?;
    match word {
        "yes" | "true" | "abnormal" | "anomalous" | "anomaly" => Some(true),
        "no" | "false" | "normal" => Some(false),
        _ => None,
    }
}

/// Numbers in `text`, with `a-b` ranges expanded (at most 50 numbers per range).
fn numbers(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_digit() || c == '-' {
                c
            } else {
                ' '
            }
        })
        .collect();
    for token in cleaned.split_whitespace() {
        let parts: Vec<&str> = token.split('-').filter(|s| !s.is_empty()).collect();
        match parts.as_slice() {
            [a] => out.extend(a.parse::<usize>().ok()),
            [a, b] => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    if a <= b && b - a < 50 {
                        out.extend(a..=b);
                    } else {
                        out.extend([a, b]);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn confidence(text: &str) -> Option<f32> {
    let t = text.trim().to_ascii_lowercase();
    let named = [
        ("high", 0.8),
        ("medium", 0.5),
        ("moderate", 0.5),
        ("low", 0.2),
    ];
    if let Some((_, v)) = named.iter().find(|(w, _)| t.starts_with(w)) {
        return Some(*v);
    }
    let num: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: f32 = num.parse().ok()?;
    let v = if t[num.len()..].trim_start().starts_with('%') || v > 1.0 {
        v / 100.0
    } else {
        v
    };
    (0.0..=1.0).contains(&v).then_some(v)
}

/// Reads the closing lines of a stepwise answer. Later lines win over earlier ones, so a model that
/// restates its answer is read by its last word. Never fails: what cannot be read stays `None`.
pub fn parse_answer(text: &str) -> ModelAnswer {
    let mut answer = ModelAnswer::default();
    let mut answer_line = None;
    for line in text.lines() {
        if let Some(v) = field(line, "anomalous") {
            answer.anomalous = yes_no(v).or(answer.anomalous);
        } else if let Some(v) = field(line, "answer") {
            answer_line = yes_no(v).or(answer_line);
        } else if let Some(v) = field(line, "cause").or_else(|| field(line, "root cause")) {
            let v = v.trim_end_matches('.').trim();
            let none =
                ["", "none", "n/a", "-", "unknown"].contains(&v.to_ascii_lowercase().as_str());
            answer.cause = if none {
                None
            } else {
                Some(v.chars().take(200).collect())
            };
        } else if let Some(v) = field(line, "confidence") {
            answer.confidence = confidence(v).or(answer.confidence);
        } else if let Some(v) = field(line, "evidence") {
            answer.cited.extend(numbers(v));
        }
        // "line 12", "lines 3, 4 and 7" inside the steps count as citations too.
        let lower = line.to_ascii_lowercase();
        for (at, _) in lower.match_indices("line") {
            let rest = &lower[at + 4..];
            let rest = rest.strip_prefix('s').unwrap_or(rest);
            if !rest.starts_with([' ', ':']) {
                continue;
            }
            let span: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || " ,-–and".contains(*c))
                .collect();
            answer.cited.extend(numbers(&span.replace('–', "-")));
        }
    }
    if answer.anomalous.is_none() {
        answer.anomalous = answer_line;
    }
    answer
}

/// A cause as a category id when it names one the chart knows (`Node failure` → `node_failure`).
/// A cause written as an id: `Node failure.` → `node_failure`.
pub fn category_id(cause: &str) -> String {
    let id: String = cause
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut out = String::with_capacity(id.len());
    for part in id.split('_').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(part);
    }
    out
}

fn as_category(cause: &str, chart: Option<&Flowchart>) -> Option<String> {
    let id = category_id(cause);
    let known = match chart {
        Some(c) => c.allowed_causes().contains(&id.as_str()),
        None => BUILTIN_CAUSES.contains(&id.as_str()),
    };
    known.then_some(id)
}

/// The walk's own verdict: the no-model baseline. A window where no chart's symptom appears is
/// normal; a chart that applies and reaches a conclusion names its cause and remedy; an escalation
/// or a walk that stopped is anomalous with no category.
pub fn from_walk(walk: Option<&Walk>, symptom_lines: &[usize]) -> Verdict {
    let Some(walk) = walk else {
        return Verdict {
            anomalous: false,
            cause: None,
            cause_is_category: false,
            confidence: 0.5,
            evidence: Vec::new(),
            rejected_evidence: Vec::new(),
            next_steps: Vec::new(),
            from: VerdictFrom::Walk,
        };
    };
    let mut evidence = walk.evidence();
    if evidence.is_empty() {
        evidence = symptom_lines.to_vec();
    }
    let (cause, confidence, next_steps) = match &walk.end {
        End::Conclusion { cause, remedy, .. } => {
            (Some(cause.clone()), 0.8, vec![remedy.trim().to_string()])
        }
        End::Escalate { remedy, .. } => (
            Some("unknown".to_string()),
            0.5,
            vec![remedy
                .clone()
                .unwrap_or_else(|| "Escalate to the owning team.".into())],
        ),
        End::Undecided { node, reason } => (
            None,
            0.4,
            vec![format!("Decide at `{node}` by hand: {reason}")],
        ),
    };
    Verdict {
        anomalous: true,
        cause_is_category: cause.is_some(),
        cause,
        confidence,
        evidence,
        rejected_evidence: Vec::new(),
        next_steps: next_steps.into_iter().filter(|s| !s.is_empty()).collect(),
        from: VerdictFrom::Walk,
    }
}

/// Settles the model's answer against the walk. The model decides anomalous and cause when it said
/// them; otherwise the walk's verdict stands. Evidence is the model's citations inside the window,
/// else the walk's. Confidence is the model's own figure, else 0.9 when model and walk agree, 0.6
/// when only one spoke, 0.4 when they disagree. Next steps are the chart's remedy where the walk
/// concluded.
pub fn settle(
    answer: Option<&ModelAnswer>,
    walk_verdict: Verdict,
    chart: Option<&Flowchart>,
    window: std::ops::RangeInclusive<usize>,
) -> Verdict {
    let Some(answer) = answer.filter(|a| a.anomalous.is_some()) else {
        return walk_verdict;
    };
    let anomalous = answer.anomalous.unwrap_or(walk_verdict.anomalous);
    let walk_spoke = walk_verdict.cause.is_some() || walk_verdict.anomalous;
    let agree = anomalous == walk_verdict.anomalous;
    let (cause, cause_is_category) = if !anomalous {
        (None, false)
    } else {
        match answer.cause.as_deref() {
            Some(c) => match as_category(c, chart) {
                Some(id) => (Some(id), true),
                None => (Some(c.to_string()), false),
            },
            None => (walk_verdict.cause.clone(), walk_verdict.cause_is_category),
        }
    };
    let mut evidence = Vec::new();
    let mut rejected = Vec::new();
    for &n in &answer.cited {
        let list = if window.contains(&n) {
            &mut evidence
        } else {
            &mut rejected
        };
        if !list.contains(&n) {
            list.push(n);
        }
    }
    evidence.sort_unstable();
    rejected.sort_unstable();
    if evidence.is_empty() && anomalous {
        evidence = walk_verdict.evidence.clone();
    }
    let confidence = answer.confidence.unwrap_or(match (walk_spoke, agree) {
        (true, true) => 0.9,
        (false, _) => 0.6,
        (true, false) => 0.4,
    });
    Verdict {
        anomalous,
        cause,
        cause_is_category,
        confidence,
        evidence,
        rejected_evidence: rejected,
        next_steps: if anomalous {
            walk_verdict.next_steps
        } else {
            Vec::new()
        },
        from: if walk_spoke && !agree {
            VerdictFrom::ModelAgainstWalk
        } else {
            VerdictFrom::Model
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_lines_are_read() {
        let text = "1. Check for kernel errors: line 12 shows a machine check.\n\
                    2. Lines 14-16 repeat it.\n\
                    Anomalous: yes\nCause: Hardware fault.\nConfidence: 80%\nEvidence: 12, 14\nAnswer: abnormal";
        let a = parse_answer(text);
        assert_eq!(a.anomalous, Some(true));
        assert_eq!(a.cause.as_deref(), Some("Hardware fault"));
        assert_eq!(a.confidence, Some(0.8));
        assert_eq!(a.cited, vec![12, 14, 15, 16, 12, 14]);
    }

    #[test]
    fn the_answer_line_stands_in_for_a_missing_anomalous_line() {
        assert_eq!(parse_answer("**Answer:** normal").anomalous, Some(false));
        assert_eq!(parse_answer("Answer: abnormal").anomalous, Some(true));
        let none = parse_answer("I think the system is fine?");
        assert_eq!(none, ModelAnswer::default());
    }

    #[test]
    fn confidence_forms() {
        assert_eq!(confidence("0.7"), Some(0.7));
        assert_eq!(confidence("70 %"), Some(0.7));
        assert_eq!(confidence("High"), Some(0.8));
        assert_eq!(confidence("very"), None);
        assert_eq!(confidence("250"), None);
    }

    #[test]
    fn without_a_walk_the_window_is_normal() {
        let v = from_walk(None, &[]);
        assert!(!v.anomalous);
        assert_eq!(v.from, VerdictFrom::Walk);
    }

    #[test]
    fn evidence_outside_the_window_is_rejected() {
        let answer = ModelAnswer {
            anomalous: Some(true),
            cause: Some("node failure".into()),
            confidence: None,
            cited: vec![5, 99, 7, 5],
        };
        let v = settle(Some(&answer), from_walk(None, &[]), None, 1..=10);
        assert_eq!(v.evidence, vec![5, 7]);
        assert_eq!(v.rejected_evidence, vec![99]);
        assert_eq!(v.cause.as_deref(), Some("node_failure"));
        assert!(v.cause_is_category);
        assert_eq!(v.confidence, 0.6);
        assert_eq!(v.from, VerdictFrom::Model);
    }

    #[test]
    fn an_unreadable_answer_leaves_the_walk_verdict() {
        let walk_verdict = Verdict {
            anomalous: true,
            cause: Some("disk_failure".into()),
            cause_is_category: true,
            confidence: 0.8,
            evidence: vec![3],
            rejected_evidence: vec![],
            next_steps: vec!["replace the disk".into()],
            from: VerdictFrom::Walk,
        };
        let v = settle(
            Some(&ModelAnswer::default()),
            walk_verdict.clone(),
            None,
            1..=10,
        );
        assert_eq!(v, walk_verdict);
        let normal = ModelAnswer {
            anomalous: Some(false),
            ..Default::default()
        };
        let v = settle(Some(&normal), walk_verdict, None, 1..=10);
        assert!(!v.anomalous && v.cause.is_none() && v.next_steps.is_empty());
        assert_eq!((v.from, v.confidence), (VerdictFrom::ModelAgainstWalk, 0.4));
    }
}
