//! The verdict a diagnosis gives, measured: the model's and the walk's recorded anomaly answers
//! paired item by item into the reliability the verdict rule reads (written beside an adapter),
//! and the `eval:verdict` step that settles each recorded diagnosis-prompt answer against its
//! item's walk with the rule measured on the other half of the items.

use std::path::{Path, PathBuf};

use super::{
    aligned_answers, diagnosis_verdict, io, on_diagnosis_prompt, read_answers, record_result,
    recorded_answer, Ctx, ExperimentError, WALK,
};
use crate::diagnose::verdict;
use crate::eval::{self, data::Item};
use crate::store::Task;

/// Scores the verdicts diagnoses give with `variant`: its recorded answers to the diagnosis
/// prompt, each settled against the item's walk by the verdict rule. Two folds: each half of the
/// items is settled with the reliability measured on the other half, so no item takes part in
/// deciding whether the model may overrule the walk on itself. A half too small to measure
/// ([`verdict::MIN_MEASURED_ITEMS`]) leaves the walk standing there, and the report says so.
pub(super) fn score_verdicts(ctx: &mut Ctx, variant: &str) -> Result<(), ExperimentError> {
    let label = diagnosis_verdict(variant);
    let task = Task::AnomalyDetection;
    if ctx
        .state
        .results
        .iter()
        .any(|r| r.variant == label && r.task == task)
    {
        return Ok(());
    }
    let all = read_answers(&ctx.path("answers.jsonl"));
    let dev = ctx.dev.clone();
    let Some(paired) = paired_rows(&all, &on_diagnosis_prompt(variant), &dev).filter(|p| {
        // Scored against the run's own dev items: each row must still be its item's.
        p.items
            .iter()
            .zip(&p.model)
            .all(|(i, r)| r["line"].as_u64() == Some(i.line as u64))
    }) else {
        ctx.note(format!(
            "{label}: no recorded diagnosis-prompt and walk answers for every item, not scored"
        ));
        return Ok(());
    };
    let drifted = paired
        .items
        .iter()
        .zip(&paired.walk)
        .filter(|(i, r)| eval::walk_answer(&ctx.opts.charts, i).as_deref() != r["answer"].as_str())
        .count();
    if drifted > 0 {
        ctx.note(format!(
            "{label}: the walk now answers {drifted} item(s) otherwise than when it was recorded (the charts changed); verdicts settle against today's walk"
        ));
    }
    let n = paired.items.len();
    let mut settled: Vec<Option<eval::Answer>> = vec![None; n];
    for fold in 0..2 {
        let (apply, measure): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 2 == fold);
        let reliability = paired.at(&measure).reliability(None);
        if reliability.is_none() {
            ctx.note(format!(
                "{label}: half {} is settled by the walk alone: the other half's {} items are too few to measure the model",
                fold + 1,
                measure.len()
            ));
        }
        let part = paired.at(&apply);
        let items: Vec<Item> = part.items.iter().map(|i| (*i).clone()).collect();
        let answers: Vec<eval::Answer> = part.model.iter().map(|r| recorded_answer(r)).collect();
        let verdicts = eval::settled_answers(
            &ctx.opts.charts,
            &items,
            &answers,
            &reliability.unwrap_or_default(),
        );
        for (&i, v) in apply.iter().zip(verdicts) {
            settled[i] = Some(v);
        }
    }
    let settled: Vec<eval::Answer> = settled.into_iter().flatten().collect();
    let items: Vec<Item> = paired.items.iter().map(|i| (*i).clone()).collect();
    record_result(ctx, label, task, &items, &settled, None, None)
}

/// A model's recorded anomaly-detection answers on the diagnosis prompt, the walk's, and the dev
/// items they answered, position for position.
struct Paired<'a> {
    items: Vec<&'a Item>,
    model: Vec<&'a serde_json::Value>,
    walk: Vec<&'a serde_json::Value>,
}

/// `label`'s recorded anomaly-detection answers and the walk's beside `dev`'s anomaly items (the
/// rows are recorded in the items' order); `None` where either is missing or they were not
/// recorded on the same items.
fn paired_rows<'a>(
    answers: &'a [serde_json::Value],
    label: &str,
    dev: &'a [Item],
) -> Option<Paired<'a>> {
    let task = Task::AnomalyDetection;
    let items: Vec<&Item> = dev.iter().filter(|i| i.task == task).collect();
    let model = aligned_answers(answers, label, task, &items)?;
    let walk = aligned_answers(answers, WALK, task, &items)?;
    Some(Paired { items, model, walk })
}

impl Paired<'_> {
    /// The items at the positions `at`.
    fn at(&self, at: &[usize]) -> Paired<'_> {
        Paired {
            items: at.iter().map(|&i| self.items[i]).collect(),
            model: at.iter().map(|&i| self.model[i]).collect(),
            walk: at.iter().map(|&i| self.walk[i]).collect(),
        }
    }

    /// Item by item, where an answer that could stand ([`verdict::standing`]: readable, citing a
    /// line of the window) disagreed with the walk, and who had the gold answer.
    fn disagreements(&self) -> verdict::Disagreements {
        verdict::Disagreements::count(
            self.items
                .iter()
                .zip(&self.model)
                .zip(&self.walk)
                .filter_map(|((item, m), w)| {
                    let text = m["text"].as_str().unwrap_or_default();
                    eval::verdict_case(item, w["answer"].as_str()?, text)
                }),
        )
    }

    /// The model's and the walk's record on these items with their disagreements; `None` with
    /// fewer than [`verdict::MIN_MEASURED_ITEMS`] items.
    fn reliability(&self, source: Option<String>) -> Option<verdict::Reliability> {
        let items: Vec<Item> = self.items.iter().map(|i| (*i).clone()).collect();
        let measure = |rows: &[&serde_json::Value]| {
            let answers: Vec<eval::Answer> = rows.iter().map(|r| recorded_answer(r)).collect();
            let (r, _) = eval::result("", None, Task::AnomalyDetection, &items, &answers);
            verdict::Measured::from_metrics(&r.metrics, r.items)
        };
        Some(verdict::Reliability {
            model: measure(&self.model),
            walk: measure(&self.walk),
            source,
            disagreements: Some(self.disagreements()),
        })
        .filter(|r| {
            r.model
                .is_some_and(|m| m.items >= verdict::MIN_MEASURED_ITEMS)
        })
    }
}

/// How `variant`'s adapter answered the diagnosis prompt on the anomaly-detection items of `dev`
/// beside the walk, from the run's recorded `answers`, with their disagreements counted item by
/// item: what the diagnosis's verdict rule reads (written beside the adapter as
/// [`verdict::RELIABILITY_FILE`]). `None` without both recorded on every item or with too few
/// items: a score on the experiment's own prompt does not measure the answers a diagnosis reads,
/// and totals alone cannot say where the model beats the walk.
pub fn reliability(
    answers: &[serde_json::Value],
    dev: &[Item],
    variant: &str,
    source: &Path,
) -> Option<verdict::Reliability> {
    let paired = paired_rows(answers, &on_diagnosis_prompt(variant), dev)?;
    paired.reliability(Some(format!(
        "experiment {} ({variant} on the diagnosis prompt and the walk on {} anomaly-detection items)",
        source.display(),
        paired.items.len()
    )))
}

/// Writes `variant`'s measurement into `adapter` (and removes an old one when it has none).
pub(super) fn write_reliability(
    answers: &[serde_json::Value],
    dev: &[Item],
    variant: &str,
    source: &Path,
    adapter: &Path,
) -> Result<Option<PathBuf>, ExperimentError> {
    let path = adapter.join(verdict::RELIABILITY_FILE);
    let Some(r) = reliability(answers, dev, variant, source) else {
        // An older measurement (of another prompt, or before this evaluation) must not stay.
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path, e)),
            _ => Ok(None),
        };
    };
    let json = serde_json::to_vec_pretty(&r).map_err(|e| io(&path, e))?;
    crate::fsutil::write_atomic(&path, &json).map_err(|e| io(&path, e))?;
    Ok(Some(path))
}
