//! What a model's text answers, and how close it is to gold: the last `Answer:` line, the one label
//! it commits to (an answer that names both, hedges or takes itself back has none), templates in one
//! spelling, and the token-overlap F1 of free text. Grading (`reasoning::grade`), evaluation
//! (`eval`), diagnosis verdicts and label exports all read answers here.

use std::collections::BTreeMap;

use crate::store::Task;

/// The text of the last `Answer:` line, trimmed of Markdown emphasis; `None` when there is none.
pub fn answer_line(text: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let t = line.trim().trim_start_matches(['*', '#', '-', ' ']);
        let lower = t.to_ascii_lowercase();
        let rest = lower.strip_prefix("answer")?;
        let rest = rest.trim_start_matches('*').trim_start();
        let rest = rest.strip_prefix(':')?;
        let at = t.len() - rest.len();
        let answer = t[at..]
            .trim()
            .trim_matches('*')
            .trim()
            .trim_matches('`')
            .trim();
        (!answer.is_empty()).then(|| answer.to_string())
    })
}

/// Words that leave an answer undecided ("maybe abnormal", "either normal or…").
const HEDGES: &[&str] = &[
    "maybe",
    "possibly",
    "perhaps",
    "probably",
    "might",
    "either",
    "unclear",
    "uncertain",
    "unsure",
    "unknown",
    "undetermined",
    "inconclusive",
];

/// The labels a text names (a negated label counts as the other one: "not anomalous" is normal),
/// and whether it hedges.
struct Named {
    positive: bool,
    negative: bool,
    hedged: bool,
}

impl Named {
    fn read(task: Task, text: &str) -> Named {
        let lower = text.to_ascii_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .collect();
        let mut named = Named {
            positive: false,
            negative: false,
            hedged: false,
        };
        for (i, &word) in words.iter().enumerate() {
            named.hedged |= HEDGES.contains(&word);
            let label = match (task, word) {
                (_, "abnormal" | "anomalous" | "anomaly" | "anomalies") => true,
                (Task::AnomalyDetection, "normal") => false,
                (Task::FailurePrediction, "yes") => true,
                (Task::FailurePrediction, "no") => false,
                _ => continue,
            };
            let negated = i > 0 && matches!(words[i - 1], "not" | "no" | "non");
            if label != negated {
                named.positive = true;
            } else {
                named.negative = true;
            }
        }
        named
    }

    /// The one label named, unless the text hedges.
    fn one(&self) -> Option<bool> {
        match (self.hedged, self.positive, self.negative) {
            (false, true, false) => Some(true),
            (false, false, true) => Some(false),
            _ => None,
        }
    }
}

/// A binary label from an answer: `Some(true)` for the positive one (abnormal, yes). An answer
/// has a label only when it names exactly one: one that names both ("normal or abnormal"), or
/// hedges ("possibly abnormal"), has none. A negated label counts as the other one ("not
/// anomalous" is normal).
pub fn binary(task: Task, answer: &str) -> Option<bool> {
    Named::read(task, answer).one()
}

/// What follows each `<key>:` or `<key> is` in a lowercased line (emphasis stars skipped), to its
/// end: where a line states an answer or a verdict.
pub fn stated_after<'a>(lower: &'a str, key: &str) -> Vec<&'a str> {
    lower
        .match_indices(key)
        .filter_map(|(at, _)| {
            let rest = lower[at + key.len()..].trim_start_matches(['*', ' ']);
            rest.strip_prefix(':').or_else(|| rest.strip_prefix("is "))
        })
        .collect()
}

/// Every statement of an answer in `text`: what follows `Answer:` (anywhere in a line) or "the
/// answer is", up to the end of its sentence.
fn answer_statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        for rest in stated_after(&lower, "answer") {
            let end = rest
                .find(". ")
                .or_else(|| rest.find("answer"))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// The answer `text` commits to: its last `Answer:` line, unless the text takes it back. For the
/// binary tasks that line must name one label, and every other statement of an answer in the text
/// ("Answer: …", "the answer is …") that names a label must name the same one. An answer that
/// names both labels, hedges or contradicts its own reasoning is `None`: graded wrong, never
/// right.
pub fn committed_answer(task: Task, text: &str) -> Option<String> {
    let last = answer_line(text)?;
    if !matches!(task, Task::AnomalyDetection | Task::FailurePrediction) {
        return Some(last);
    }
    let label = binary(task, &last)?;
    let consistent = answer_statements(text).iter().all(|statement| {
        let named = Named::read(task, statement);
        let names_other = named.one().is_some_and(|l| l != label);
        let names_both = named.positive && named.negative;
        !names_other && !names_both
    });
    consistent.then_some(last)
}

/// The answers a binary task's `Answer:` line may hold, positive first; none for the open tasks.
pub fn choices(task: Task) -> Vec<String> {
    let labels: &[&str] = match task {
        Task::AnomalyDetection => &["abnormal", "normal"],
        Task::FailurePrediction => &["yes", "no"],
        _ => &[],
    };
    labels.iter().map(|l| (*l).to_string()).collect()
}

/// Gold labels are written the same way as answers.
pub fn gold_binary(task: Task, gold: &str) -> Option<bool> {
    binary(task, gold)
}

/// Lowercase alphanumeric tokens.
fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Token-overlap F1 between an answer and the gold text (SQuAD-style: multiset overlap of lowercase
/// alphanumeric tokens), the graded score for free-text answers.
pub fn token_f1(answer: &str, gold: &str) -> f64 {
    let a = tokens(answer);
    let g = tokens(gold);
    if a.is_empty() || g.is_empty() {
        return if a.is_empty() && g.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &g {
        *counts.entry(t).or_default() += 1;
    }
    let mut common = 0usize;
    for t in &a {
        if let Some(c) = counts.get_mut(t.as_str()).filter(|c| **c > 0) {
            *c -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / a.len() as f64;
    let r = common as f64 / g.len() as f64;
    2.0 * p * r / (p + r)
}

/// A template as written by a model or a gold file: variables unified to `<*>`, whitespace single.
pub fn normalise_template(t: &str) -> String {
    let unified = t.replace("{*}", "<*>").replace("<VAR>", "<*>");
    unified.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_answer_line_is_read() {
        assert_eq!(
            answer_line("1. x\nAnswer: normal").as_deref(),
            Some("normal")
        );
        assert_eq!(
            answer_line("Answer: abnormal\nthen\n**Answer:** `normal`").as_deref(),
            Some("normal")
        );
        assert_eq!(answer_line("The answer is normal."), None);
        assert_eq!(answer_line("Answer:   "), None);
    }

    #[test]
    fn labels() {
        assert_eq!(binary(Task::AnomalyDetection, "Abnormal."), Some(true));
        assert_eq!(binary(Task::AnomalyDetection, "normal"), Some(false));
        assert_eq!(binary(Task::AnomalyDetection, "maybe"), None);
        assert_eq!(binary(Task::FailurePrediction, "yes, soon"), Some(true));
        assert_eq!(binary(Task::AnomalyDetection, "yes"), None);
        assert_eq!(binary(Task::AnomalyDetection, "not anomalous"), Some(false));
        assert_eq!(
            binary(Task::AnomalyDetection, "no anomaly found"),
            Some(false)
        );
    }

    #[test]
    fn each_binary_choice_reads_as_its_own_label() {
        for task in [Task::AnomalyDetection, Task::FailurePrediction] {
            let read: Vec<Option<bool>> = choices(task).iter().map(|c| binary(task, c)).collect();
            assert_eq!(read, [Some(true), Some(false)], "{task}");
        }
        assert!(choices(Task::RootCause).is_empty());
    }

    #[test]
    fn an_answer_that_names_both_labels_or_hedges_has_none() {
        let ad = Task::AnomalyDetection;
        assert_eq!(binary(ad, "normal or Answer: abnormal"), None);
        assert_eq!(binary(ad, "abnormal / normal"), None);
        assert_eq!(binary(ad, "possibly abnormal"), None);
        assert_eq!(binary(Task::FailurePrediction, "yes or no"), None);
        assert_eq!(
            committed_answer(ad, "1. x\nAnswer: normal or Answer: abnormal"),
            None
        );
        assert_eq!(
            committed_answer(
                ad,
                "The answer is abnormal, line 3.\nAnswer: normal. The answer is normal."
            ),
            None
        );
        assert_eq!(
            committed_answer(ad, "1. line 3 is a fatal interrupt\nAnswer: abnormal").as_deref(),
            Some("abnormal")
        );
        assert_eq!(
            committed_answer(ad, "Answer: abnormal\nTo restate, the answer is abnormal.")
                .as_deref(),
            Some("abnormal")
        );
        // Free-text tasks keep their last line as it is.
        assert_eq!(
            committed_answer(Task::RootCause, "Answer: disk full\nAnswer: network").as_deref(),
            Some("network")
        );
    }

    #[test]
    fn templates_are_compared_in_one_spelling() {
        assert_eq!(
            normalise_template("Received  block {*} of size <VAR>"),
            "Received block <*> of size <*>"
        );
    }
}
