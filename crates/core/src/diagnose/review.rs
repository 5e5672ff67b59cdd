//! A person's decision on a diagnosis. Accepted or rejected, the diagnosis becomes labelled data: a
//! task instance (the lines the model saw, the question) with the model's reasoning as a solution,
//! correct when accepted and incorrect when rejected, so the labeling and training screens can use it.

use std::collections::BTreeMap;

use super::prompt::DEFAULT_QUESTION;
use crate::store::{
    Diagnosis, Id, ReviewDecision, ReviewStatus, ReviewTarget, Solution, Store, StoreError, Task,
    TaskInstance,
};

/// The answer line of a verdict: `abnormal: <cause>`, `abnormal` or `normal`.
pub fn answer(anomalous: bool, cause: Option<&str>) -> String {
    match (anomalous, cause) {
        (true, Some(c)) => format!("abnormal: {c}"),
        (true, None) => "abnormal".into(),
        (false, _) => "normal".into(),
    }
}

/// The answer line of a stored diagnosis.
pub fn answer_text(d: &Diagnosis) -> String {
    answer(d.anomalous, d.cause.as_deref())
}

/// What a review wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reviewed {
    /// Id of the review record written.
    pub review: Id,
    /// The task instance holding the lines the model saw (reused when it already existed).
    pub instance: Id,
    /// The solution holding the model's reasoning, correct or not by the decision.
    pub solution: Id,
}

/// Records `decision` (accepted or rejected) on diagnosis `id`. The instance is reused when one with
/// the same content exists, and so is the diagnosis's solution: deciding again (a change of mind)
/// updates the one solution and the gold answer it gave, never adds another. The review (with the
/// diagnosis's new status) is written last, in one transaction, and is durable on return.
pub fn review(
    store: &Store,
    id: Id,
    decision: ReviewStatus,
    annotator: &str,
) -> Result<Reviewed, StoreError> {
    let d: Diagnosis = store.load(id)?;
    let accepted = decision == ReviewStatus::Accepted;
    let task = if d.anomalous && d.cause.is_some() {
        Task::RootCause
    } else {
        Task::AnomalyDetection
    };
    let instruction = d
        .question
        .clone()
        .unwrap_or_else(|| DEFAULT_QUESTION.to_string());
    let input: Vec<String> = d.shown.iter().map(|(n, l)| format!("{n} {l}")).collect();
    let hash = TaskInstance::hash(task, &instruction, &input);
    let answer = answer_text(&d);
    let existing = match store.instance_by_hash(&hash)? {
        Some(id) => store.get::<TaskInstance>(id)?,
        None => None,
    };
    let instance = match existing {
        Some(mut i) => {
            // A later acceptance supplies the gold answer an earlier rejection could not; a later
            // rejection takes back the gold this diagnosis gave.
            let own = i.source == format!("diagnosis:{id}");
            if accepted && i.gold.is_empty() {
                i.gold = answer.clone();
                store.put(&i)?;
            } else if !accepted && own && i.gold == answer {
                i.gold.clear();
                store.put(&i)?;
            }
            i.id
        }
        None => {
            let mut params = BTreeMap::new();
            params.insert(
                "window".into(),
                format!("{}..{}", d.first_line, d.last_line),
            );
            if let Some(chart) = &d.chart_id {
                params.insert("chart".into(), chart.clone());
            }
            let mut i = TaskInstance {
                id: 0,
                task,
                system: d.system.clone(),
                instruction,
                input,
                // A rejected verdict says what the answer is not; the gold stays open.
                gold: if accepted {
                    answer.clone()
                } else {
                    String::new()
                },
                source: format!("diagnosis:{id}"),
                content_hash: hash,
                params,
                created_at: crate::time::now_millis(),
            };
            store.insert_instance(&mut i)?.0
        }
    };
    let earlier = store
        .all::<Solution>()?
        .into_iter()
        .find(|s| s.diagnosis == Some(id));
    let mut solution = Solution {
        id: earlier.as_ref().map_or(0, |s| s.id),
        instance_id: instance,
        thought_id: None,
        text: format!("{}\nAnswer: {answer}", d.reasoning.trim()),
        answer: Some(answer),
        score: Some(if accepted { 1.0 } else { 0.0 }),
        correct: Some(accepted),
        model: d.model.clone(),
        status: decision,
        diagnosis: Some(id),
        created_at: earlier.map_or_else(crate::time::now_millis, |s| s.created_at),
    };
    let solution = if solution.id == 0 {
        store.insert(&mut solution)?
    } else {
        store.put(&solution)?;
        solution.id
    };
    let mut r = ReviewDecision {
        id: 0,
        target: ReviewTarget::Diagnosis(id),
        decision,
        edit: None,
        annotator: annotator.to_string(),
        created_at: crate::time::now_millis(),
    };
    let review = store.record_review(&mut r)?;
    Ok(Reviewed {
        review,
        instance,
        solution,
    })
}
