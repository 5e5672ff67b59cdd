//! Two variants compared on the same dev items: the difference of a task's headline metric with
//! a 95% paired bootstrap interval (the items drawn with replacement, the same draw scoring both
//! variants). On 90 anomaly items a lead of one or two answers moves F1 by several hundredths, so
//! the report says which differences the dev split can tell apart and which it cannot.

use super::{aligned_answers, recorded_answer};
use crate::eval::{self, data::Item, headline_metric as headline, Answer};
use crate::store::Task;
use crate::train::model::Rng;

/// How many bootstrap draws a comparison takes: enough for the interval's ends to settle to about
/// a hundredth, few enough that a report on 300 items is written in well under a second.
pub const DRAWS: usize = 1000;

/// `a`'s headline metric minus `b`'s on the same items, with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    /// On the items as they are.
    pub observed: f64,
    /// The 2.5th percentile of the draws' differences.
    pub low: f64,
    /// The 97.5th percentile.
    pub high: f64,
}

impl Difference {
    /// Whether the interval leaves out zero: the dev split tells the two apart.
    pub fn decided(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// The headline metric of `task` on `items` answered by `answers` (aligned with them).
fn metric(task: Task, items: &[Item], answers: &[Answer]) -> f64 {
    let (metrics, ..) = eval::score_task(task, items, answers);
    metrics.get(headline(task)).copied().unwrap_or(0.0)
}

/// `a` against `b` on `items` (both answer lists aligned with the items), `draws` bootstrap draws
/// from a generator seeded with `seed`, so a report repeats exactly.
pub fn difference(
    task: Task,
    items: &[Item],
    a: &[Answer],
    b: &[Answer],
    draws: usize,
    seed: u64,
) -> Option<Difference> {
    let n = items.len();
    if n == 0 || a.len() != n || b.len() != n || draws == 0 {
        return None;
    }
    let observed = metric(task, items, a) - metric(task, items, b);
    let mut rng = Rng::new(seed);
    let mut draw = || -> Vec<usize> { (0..n).map(|_| rng.below(n)).collect() };
    let diffs: Vec<f64> = if headline(task) == "token_f1" {
        // A mean over items: each item's score is taken once and the draws average them
        // (scoring every draw afresh re-tokenised the same answers a thousand times).
        let one = |xs: &[Answer], i: usize| metric(task, &items[i..=i], &xs[i..=i]);
        let per_item: Vec<f64> = (0..n).map(|i| one(a, i) - one(b, i)).collect();
        (0..draws)
            .map(|_| draw().iter().map(|&i| per_item[i]).sum::<f64>() / n as f64)
            .collect()
    } else {
        rescored_draws(task, items, a, b, draws, &mut draw)
    };
    Some(interval(observed, diffs))
}

/// Each draw's difference scored from its drawn items and answers (F1 and GA are not means over
/// items).
fn rescored_draws(
    task: Task,
    items: &[Item],
    a: &[Answer],
    b: &[Answer],
    draws: usize,
    draw: &mut dyn FnMut() -> Vec<usize>,
) -> Vec<f64> {
    // Scoring reads an item's gold and category and an answer's label, never the log lines or
    // the reasoning: the draws copy only those.
    let items: Vec<Item> = items
        .iter()
        .map(|i| Item {
            input: Vec::new(),
            instruction: String::new(),
            ..i.clone()
        })
        .collect();
    let thin = |xs: &[Answer]| -> Vec<Answer> {
        xs.iter()
            .map(|x| Answer {
                text: String::new(),
                ..x.clone()
            })
            .collect()
    };
    let (a, b) = (thin(a), thin(b));
    (0..draws)
        .map(|_| {
            let picks = draw();
            let pick =
                |xs: &[Answer]| -> Vec<Answer> { picks.iter().map(|&i| xs[i].clone()).collect() };
            let drawn: Vec<Item> = picks.iter().map(|&i| items[i].clone()).collect();
            metric(task, &drawn, &pick(&a)) - metric(task, &drawn, &pick(&b))
        })
        .collect()
}

/// The 95% interval of the drawn differences: as many draws left out below it as above.
fn interval(observed: f64, mut diffs: Vec<f64>) -> Difference {
    diffs.sort_by(f64::total_cmp);
    let tail = (0.025 * diffs.len() as f64) as usize;
    Difference {
        observed,
        low: diffs[tail],
        high: diffs[diffs.len() - 1 - tail],
    }
}

/// The recorded answers of `variant` to `task`, in the order of `items`; `None` unless every
/// item has one, each recorded for its item's line.
fn recorded(
    answers: &[serde_json::Value],
    variant: &str,
    task: Task,
    items: &[Item],
) -> Option<Vec<Answer>> {
    aligned_answers(answers, variant, task, items)
        .map(|rows| rows.into_iter().map(recorded_answer).collect())
}

/// Markdown: for each `(variant, baseline)` pair, on every task both answered in full, the
/// difference with its interval, and whether the interval leaves out zero.
pub fn table(dev: &[Item], answers: &[serde_json::Value], pairs: &[(&str, &str)]) -> String {
    let mut out = String::from("| comparison | task | items | difference | 95% interval | told apart |\n|---|---|---:|---:|---|---|\n");
    let by_task: Vec<(Task, Vec<Item>)> = Task::ALL
        .into_iter()
        .map(|t| (t, dev.iter().filter(|i| i.task == t).cloned().collect()))
        .collect();
    for (variant, baseline) in pairs {
        for (task, items) in &by_task {
            let (task, items) = (*task, items.as_slice());
            let (Some(a), Some(b)) = (
                recorded(answers, variant, task, items),
                recorded(answers, baseline, task, items),
            ) else {
                continue;
            };
            let Some(d) = difference(task, items, &a, &b, DRAWS, 7) else {
                continue;
            };
            out.push_str(&format!(
                "| {variant} − {baseline} | {task} ({}) | {} | {:+.3} | [{:+.3}, {:+.3}] | {} |\n",
                headline(task),
                items.len(),
                d.observed,
                d.low,
                d.high,
                if d.decided() { "yes" } else { "no" }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn item(gold: &str) -> Item {
        item_at(1, gold)
    }

    fn item_at(line: usize, gold: &str) -> Item {
        Item {
            line,
            task: Task::AnomalyDetection,
            system: String::new(),
            instruction: String::new(),
            input: vec!["x".into()],
            gold: gold.into(),
            category: None,
            kind: None,
        }
    }

    fn said(label: &str) -> Answer {
        Answer {
            text: format!("Answer: {label}"),
            answer: Some(label.into()),
            latency: Duration::ZERO,
            prompt_tokens: 0,
            cut: false,
        }
    }

    /// A variant right on every item against one right on half: told apart on 40 items. One
    /// answer's difference in 40 is not; a variant against itself is exactly zero.
    #[test]
    fn a_lead_of_one_answer_is_not_told_apart_but_a_wide_one_is() {
        let golds: Vec<&str> = (0..40)
            .map(|i| if i % 2 == 0 { "abnormal" } else { "normal" })
            .collect();
        let items: Vec<Item> = golds.iter().map(|g| item(g)).collect();
        let right: Vec<Answer> = golds.iter().map(|g| said(g)).collect();
        let always: Vec<Answer> = golds.iter().map(|_| said("abnormal")).collect();
        let task = Task::AnomalyDetection;
        let wide = difference(task, &items, &right, &always, DRAWS, 1).expect("aligned");
        assert!((wide.observed - (1.0 - 2.0 / 3.0)).abs() < 1e-9, "{wide:?}");
        assert!(wide.decided() && wide.low > 0.15, "{wide:?}");
        let mut one_off = right.clone();
        one_off[0] = said("normal");
        let close = difference(task, &items, &right, &one_off, DRAWS, 1).expect("aligned");
        assert!(close.observed > 0.0 && !close.decided(), "{close:?}");
        let same = difference(task, &items, &right, &right, DRAWS, 1).expect("aligned");
        assert_eq!((same.observed, same.low, same.high), (0.0, 0.0, 0.0));
        // Misaligned answers compare nothing.
        assert!(difference(task, &items, &right[1..], &always, DRAWS, 1).is_none());
        // The same seed repeats the interval exactly.
        assert_eq!(
            difference(task, &items, &right, &always, DRAWS, 1),
            Some(wide)
        );
    }

    #[test]
    fn the_table_compares_only_variants_with_every_answer() {
        let dev = vec![item_at(1, "abnormal"), item_at(2, "normal")];
        let row = |variant: &str, line: usize, label: &str| serde_json::json!({"variant": variant, "task": "anomaly_detection", "line": line, "answer": label, "text": format!("Answer: {label}")});
        let answers = vec![
            row("direct SFT", 1, "abnormal"),
            row("direct SFT", 2, "abnormal"),
            row("full (+ DPO)", 1, "abnormal"),
            row("full (+ DPO)", 2, "normal"),
            row("base", 2, "normal"),
            // Every item answered, but not in the items' order: compared with nothing.
            row("stepwise SFT", 2, "normal"),
            row("stepwise SFT", 1, "normal"),
        ];
        let md = table(
            &dev,
            &answers,
            &[
                ("full (+ DPO)", "direct SFT"),
                ("base", "direct SFT"),
                ("stepwise SFT", "direct SFT"),
            ],
        );
        assert!(
            md.contains("| full (+ DPO) − direct SFT | anomaly_detection (f1) | 2 | +0.333 |"),
            "{md}"
        );
        assert!(!md.contains("| base −"), "{md}");
        assert!(!md.contains("| stepwise SFT −"), "{md}");
    }
}
