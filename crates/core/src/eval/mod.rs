//! Evaluation: run each variant (a model, and the flowchart-walk baseline where it applies) over a
//! task's items, read the answers, and score them with SPEC's metrics. Results are stored in sled as
//! an [`EvalRun`] and shown by `logreasoner eval` and the Eval screen.

pub mod data;
pub mod score;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::diagnose::{self, prompt::PromptLimits, Input};
use crate::flowchart::Flowchart;
use crate::llm::backend::Backend;
use crate::llm::chat::Message;
use crate::llm::model::{GenerationParams, LlmError};
use crate::store::{EvalResult, EvalRun, Task};
use data::Item;

/// The chat for one item: the same stepwise prompt the data engine uses, without a thought.
pub fn messages(item: &Item) -> Vec<Message> {
    crate::reasoning::prompt::solution(
        item.task,
        item.kind.as_deref(),
        &item.instruction,
        &item.input,
        None,
    )
}

/// The chat a diagnosis of the item's lines would send (chart retrieval, walk, statistics and
/// the line list as `limits` says), so prompt changes are judged by the eval. Its answer line is
/// `Answer: abnormal or normal`, so it fits anomaly detection.
pub fn diagnosis_messages(charts: &[Flowchart], item: &Item, limits: PromptLimits) -> Vec<Message> {
    diagnosis_plan(charts, item, limits).messages
}

/// The diagnosis of the item's lines as `diagnose` plans it: chart retrieval, the walk, the chat.
/// The experiment's training chats are planned by it too, so they match what is evaluated.
pub fn diagnosis_plan(charts: &[Flowchart], item: &Item, limits: PromptLimits) -> diagnose::Plan {
    let input = Input {
        source: format!("item {}", item.line),
        first_line: 1,
        lines: item.input.clone(),
        question: None,
    };
    diagnose::plan(charts, input, limits)
}

/// A diagnosis chat's answer read as `diagnose` reads it (`Anomalous:`, else `Answer:`; one
/// that states both verdicts is unreadable), as `abnormal` or `normal`.
pub fn diagnosis_answer(_task: Task, text: &str) -> Option<String> {
    let anomalous = diagnose::verdict::parse_answer(text).anomalous?;
    Some(if anomalous { "abnormal" } else { "normal" }.to_string())
}

/// Whether the flowchart walk can answer this task.
pub fn walk_applies(task: Task) -> bool {
    matches!(
        task,
        Task::AnomalyDetection | Task::FailurePrediction | Task::RootCause
    )
}

/// The flowchart walk's answer for an item, in the same words a model would use.
pub fn walk_answer(charts: &[Flowchart], item: &Item) -> Option<String> {
    let v = diagnosis_plan(charts, item, PromptLimits::default()).baseline();
    Some(match item.task {
        Task::AnomalyDetection => if v.anomalous { "abnormal" } else { "normal" }.to_string(),
        Task::FailurePrediction => if v.anomalous { "yes" } else { "no" }.to_string(),
        Task::RootCause => {
            let mut text = v.cause.unwrap_or_default().replace('_', " ");
            if let Some(step) = v.next_steps.first() {
                text.push_str(". ");
                text.push_str(step);
            }
            text
        }
        Task::LogParsing | Task::Interpretation => return None,
    })
}

/// One model answer, with the time it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The whole generated text (for the walk, its answer).
    pub text: String,
    /// The answer read from the text; `None` when it could not be read (scored as wrong).
    pub answer: Option<String>,
    /// Wall time taken to answer.
    pub latency: Duration,
    /// Tokens of the prompt (0 for the walk, and where the model could not take the item).
    pub prompt_tokens: usize,
    /// The model reached the token limit before it ended its answer (a binary answer then closes
    /// with the label the model rates likeliest, not with its reasoning's conclusion).
    pub cut: bool,
}

/// Each answer as a JSON row (the variant, the item's line and gold, what was read from the
/// answer, and the whole text), so a score can be checked item by item.
pub fn answer_rows(variant: &str, items: &[Item], answers: &[Answer]) -> Vec<serde_json::Value> {
    items
        .iter()
        .zip(answers)
        .map(|(item, a)| {
            serde_json::json!({
                "variant": variant,
                "task": item.task.to_string(),
                "line": item.line,
                "gold": item.gold,
                "answer": a.answer,
                "text": a.text,
                "latency_ms": a.latency.as_millis() as u64,
                "prompt_tokens": a.prompt_tokens,
                "cut": a.cut,
            })
        })
        .collect()
}

/// Rows as JSON Lines text: one compact object per line, each ended by a newline.
pub fn jsonl(rows: &[serde_json::Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

/// Runs `model` over `items` with the solution prompt ([`messages`]), calling `progress(done)`
/// after each.
pub fn run_model(
    model: &mut Backend,
    items: &[Item],
    params: &GenerationParams,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Answer>, LlmError> {
    run_model_with(
        model,
        items,
        &messages,
        &crate::answer::committed_answer,
        params,
        progress,
    )
}

/// Runs `model` over `items` with the stepwise solution prompt (`diagnosis: None`) or, with
/// `Some(limits)`, the chat a diagnosis of each item's lines would send ([`diagnosis_messages`]),
/// each answer read as its prompt's answers are read.
pub fn run_prompt(
    model: &mut Backend,
    items: &[Item],
    charts: &[Flowchart],
    diagnosis: Option<PromptLimits>,
    params: &GenerationParams,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Answer>, LlmError> {
    match diagnosis {
        None => run_model(model, items, params, progress),
        Some(limits) => run_model_with(
            model,
            items,
            &|item| diagnosis_messages(charts, item, limits),
            &diagnosis_answer,
            params,
            progress,
        ),
    }
}

/// Runs `model` over `items` with the chat `chat` makes for each, reading each answer with
/// `read`, calling `progress(done)` after each.
pub fn run_model_with(
    model: &mut Backend,
    items: &[Item],
    chat: &dyn Fn(&Item) -> Vec<Message>,
    read: &dyn Fn(Task, &str) -> Option<String>,
    params: &GenerationParams,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Answer>, LlmError> {
    let cancel = AtomicBool::new(false);
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let start = Instant::now();
        // An item too long for the model's context is an answer it could not give (scored as
        // unreadable), not the end of the evaluation.
        let g = match model.chat(&chat(item), params, &cancel, &mut |_| {}) {
            Err(e @ LlmError::ContextTooLong { .. }) => {
                tracing::warn!("item on line {}: {e}", item.line);
                out.push(Answer {
                    text: String::new(),
                    answer: None,
                    latency: start.elapsed(),
                    prompt_tokens: 0,
                    cut: false,
                });
                progress(i + 1);
                continue;
            }
            other => other?,
        };
        out.push(Answer {
            answer: read(item.task, &g.text),
            text: g.text,
            latency: start.elapsed(),
            prompt_tokens: g.prompt_tokens,
            cut: g.stop == crate::llm::model::StopReason::MaxTokens,
        });
        progress(i + 1);
    }
    Ok(out)
}

/// The verdicts diagnoses give on `items` from the model's `answers` to the diagnosis prompt:
/// each answer settled against the item's walk by the verdict rule with `reliability`, as
/// `diagnose` settles it (an unreadable answer leaves the walk's verdict). What the engineer is
/// shown, as `abnormal` or `normal`, the text naming whose opinion decided.
pub fn settled_answers(
    charts: &[Flowchart],
    items: &[Item],
    answers: &[Answer],
    reliability: &crate::diagnose::verdict::Reliability,
) -> Vec<Answer> {
    items
        .iter()
        .zip(answers)
        .map(|(item, a)| {
            let mut plan = diagnosis_plan(charts, item, PromptLimits::default());
            plan.reliability = reliability.clone();
            let answer = diagnose::verdict::parse_answer(&a.text);
            let v = diagnose::verdict_of(&plan, Some(&answer));
            let word = if v.anomalous { "abnormal" } else { "normal" };
            Answer {
                text: format!("{word} ({})", v.from.describe()),
                answer: Some(word.to_string()),
                latency: a.latency,
                prompt_tokens: a.prompt_tokens,
                cut: a.cut,
            }
        })
        .collect()
}

/// An anomaly-detection item as the verdict rule counts it: the walk's verdict, the model's where
/// its answer could stand against the walk ([`diagnose::verdict::standing`]: readable, citing a
/// line of the window), and gold. `None` where gold or the walk's answer names no label.
pub fn verdict_case(
    item: &Item,
    walk_answer: &str,
    model_text: &str,
) -> Option<(bool, Option<bool>, bool)> {
    let task = Task::AnomalyDetection;
    let gold = crate::answer::gold_binary(task, &item.gold)?;
    let walk = crate::answer::binary(task, walk_answer)?;
    let answer = diagnose::verdict::parse_answer(model_text);
    let window = 1..=item.input.len();
    Some((walk, diagnose::verdict::standing(&answer, &window), gold))
}

/// Where `answers` to the diagnosis prompt disagreed with the walk over `items`, counted item by
/// item: what the verdict rule reads from an evaluation.
pub fn disagreements(
    charts: &[Flowchart],
    items: &[Item],
    answers: &[Answer],
) -> diagnose::verdict::Disagreements {
    diagnose::verdict::Disagreements::count(
        items
            .iter()
            .zip(answers)
            .filter_map(|(item, a)| verdict_case(item, &walk_answer(charts, item)?, &a.text)),
    )
}

/// Runs the walk over `items`.
pub fn run_walk(charts: &[Flowchart], items: &[Item]) -> Vec<Answer> {
    items
        .iter()
        .map(|item| {
            let start = Instant::now();
            let answer = walk_answer(charts, item);
            Answer {
                text: answer.clone().unwrap_or_default(),
                answer,
                latency: start.elapsed(),
                prompt_tokens: 0,
                cut: false,
            }
        })
        .collect()
}

/// Scores answers against gold. Returns the metrics, how many answers could not be read, and a
/// note that states how the numbers were computed.
pub fn score_task(
    task: Task,
    items: &[Item],
    answers: &[Answer],
) -> (BTreeMap<String, f64>, usize, String) {
    let mut metrics = BTreeMap::new();
    let mut unparsed = 0;
    let note;
    match task {
        Task::AnomalyDetection | Task::FailurePrediction => {
            let mut b = score::Binary::default();
            for (item, a) in items.iter().zip(answers) {
                let Some(gold) = crate::answer::gold_binary(task, &item.gold) else {
                    continue;
                };
                // An answer that cannot be read counts as wrong.
                let predicted = match a
                    .answer
                    .as_deref()
                    .and_then(|t| crate::answer::binary(task, t))
                {
                    Some(p) => p,
                    None => {
                        unparsed += 1;
                        !gold
                    }
                };
                b.add(gold, predicted);
            }
            metrics.insert("precision".into(), b.precision());
            metrics.insert("recall".into(), b.recall());
            metrics.insert("f1".into(), b.f1());
            metrics.insert("accuracy".into(), b.accuracy());
            // How often a `normal` answer was right: the diagnosis's confidence in a normal verdict.
            metrics.insert("npv".into(), b.npv());
            let positive = if task == Task::AnomalyDetection {
                "abnormal"
            } else {
                "yes"
            };
            note = format!(
                "precision, recall and F1 of `{positive}`; an unreadable answer counts as the wrong label"
            );
        }
        Task::LogParsing => {
            let truth: Vec<String> = items
                .iter()
                .map(|i| crate::answer::normalise_template(&i.gold))
                .collect();
            let predicted: Vec<String> = answers
                .iter()
                .map(|a| match &a.answer {
                    Some(t) => crate::answer::normalise_template(t),
                    None => {
                        unparsed += 1;
                        String::new()
                    }
                })
                .collect();
            let acc = crate::template::metrics::evaluate(&truth, &predicted);
            metrics.insert("ga".into(), acc.ga);
            metrics.insert("fga".into(), acc.fga);
            metrics.insert("pa".into(), acc.pa);
            metrics.insert("fta".into(), acc.fta);
            note = "GA, FGA, PA, FTA (Loghub-2.0 definitions) over the items as one set; an unreadable answer is an empty template".into();
        }
        Task::RootCause | Task::Interpretation => {
            let mut sum = 0.0;
            let mut pairs = Vec::new();
            for (item, a) in items.iter().zip(answers) {
                if a.answer.is_none() {
                    unparsed += 1;
                }
                let text = a.answer.as_deref().unwrap_or("");
                sum += crate::answer::token_f1(text, &item.gold);
                if let Some(c) = &item.category {
                    let predicted = crate::diagnose::verdict::category_id(text);
                    pairs.push((c.clone(), (!predicted.is_empty()).then_some(predicted)));
                }
            }
            metrics.insert("token_f1".into(), sum / items.len().max(1) as f64);
            if !pairs.is_empty() && pairs.len() == items.len() {
                metrics.insert("category_macro_f1".into(), score::macro_f1(&pairs));
                note = "category macro-F1 over the items' categories, and the graded token-overlap F1 of the answer against the gold text".into();
            } else {
                note = "no categories in the data: graded score = token-overlap F1 (SQuAD-style) of the Answer line against the gold text; human review is the real judge".into();
            }
        }
    }
    (metrics, unparsed, note)
}

/// A variant's result row.
pub fn result(
    variant: &str,
    model: Option<String>,
    task: Task,
    items: &[Item],
    answers: &[Answer],
) -> (EvalResult, String) {
    let (metrics, unparsed, note) = score_task(task, items, answers);
    let total: Duration = answers.iter().map(|a| a.latency).sum();
    (
        EvalResult {
            variant: variant.to_string(),
            model,
            adapter: None,
            metrics,
            items: items.len(),
            unparsed,
            mean_latency_ms: total.as_secs_f64() * 1000.0 / answers.len().max(1) as f64,
            disagreements: None,
        },
        note,
    )
}

/// The metric a task is judged by (SPEC's headline figure).
pub fn headline_metric(task: Task) -> &'static str {
    match task {
        Task::AnomalyDetection | Task::FailurePrediction => "f1",
        Task::LogParsing => "ga",
        Task::RootCause | Task::Interpretation => "token_f1",
    }
}

/// The metric columns of a task, in display order.
pub fn metric_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::AnomalyDetection | Task::FailurePrediction => {
            &["precision", "recall", "f1", "accuracy"]
        }
        Task::LogParsing => &["ga", "fga", "pa", "fta"],
        Task::RootCause | Task::Interpretation => &["category_macro_f1", "token_f1"],
    }
}

/// The run as a table, for the CLI.
pub fn table(run: &EvalRun) -> String {
    let names: Vec<&str> = metric_names(run.task)
        .iter()
        .copied()
        .filter(|m| run.results.iter().any(|r| r.metrics.contains_key(*m)))
        .collect();
    let width = run
        .results
        .iter()
        .map(|r| r.variant.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!("{:<width$}", "variant");
    for n in &names {
        out.push_str(&format!("  {n:>9}"));
    }
    out.push_str("  unparsed  mean latency\n");
    for r in &run.results {
        out.push_str(&format!("{:<width$}", r.variant));
        for n in &names {
            match r.metrics.get(*n) {
                Some(v) => out.push_str(&format!("  {v:>9.3}")),
                None => out.push_str(&format!("  {:>9}", "-")),
            }
        }
        out.push_str(&format!(
            "  {:>8}  {:>10.0} ms\n",
            format!("{}/{}", r.unparsed, r.items),
            r.mean_latency_ms
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FATAL: &str = "- 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt";
    const INFO: &str = "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected";

    fn window(line: &str, gold: &str) -> Item {
        Item {
            line: 1,
            task: Task::AnomalyDetection,
            system: "BGL".into(),
            instruction: String::new(),
            input: vec![line.to_string(); 3],
            gold: gold.into(),
            category: None,
            kind: None,
        }
    }

    fn said(text: &str) -> Answer {
        Answer {
            text: text.into(),
            answer: None,
            latency: Duration::ZERO,
            prompt_tokens: 0,
            cut: false,
        }
    }

    /// An evaluation counts, item by item, where an answer that could stand disagreed with the
    /// walk and who was right; answers citing nothing inside the window and agreements are no
    /// disagreement.
    #[test]
    fn disagreements_are_counted_item_by_item() {
        let charts = crate::flowchart::valid_charts(&crate::config::repo_root().join("flowcharts"))
            .expect("charts");
        let (fatal, info) = (window(FATAL, "abnormal"), window(INFO, "normal"));
        assert_eq!(walk_answer(&charts, &fatal).as_deref(), Some("abnormal"));
        assert_eq!(walk_answer(&charts, &info).as_deref(), Some("normal"));
        let normal = "1. Line 2 is a corrected event.\nAnomalous: no\nAnswer: normal";
        let abnormal = "1. Line 2 is a failure.\nAnomalous: yes\nAnswer: abnormal";
        let outside = "1. Line 40 is a corrected event.\nAnomalous: no\nAnswer: normal";
        let items = [
            fatal.clone(),
            fatal.clone(),
            window(FATAL, "normal"),
            fatal,
            info.clone(),
            info,
        ];
        let answers = [normal, outside, normal, abnormal, abnormal, normal].map(said);
        let d = disagreements(&charts, &items, &answers);
        assert_eq!(
            (d.model_normal.cases, d.model_normal.model_right),
            (2, 1),
            "{d:?}"
        );
        assert_eq!(
            (d.model_anomalous.cases, d.model_anomalous.model_right),
            (1, 0),
            "{d:?}"
        );
    }
}
