//! Grading a solution's answer against the instance's gold: the exact label for anomaly detection
//! and failure prediction, template equality for parsing, and for root cause and interpretation a
//! graded score (token-overlap F1) that counts as correct from 0.5, pending human review.

use crate::store::{Task, TaskInstance};

/// Free-text answers at or above this token-overlap F1 count as correct for automatic pairs.
pub const TEXT_PASS: f32 = 0.5;

/// (score in 0..=1, correct). `None` when the instance has no gold answer to grade against. An
/// answer that cannot be read is wrong (score 0).
pub fn grade(instance: &TaskInstance, answer: Option<&str>) -> Option<(f32, bool)> {
    if instance.gold.trim().is_empty() {
        return None;
    }
    let Some(answer) = answer else {
        return Some((0.0, false));
    };
    let exact = |ok: bool| Some((if ok { 1.0 } else { 0.0 }, ok));
    match instance.task {
        Task::AnomalyDetection | Task::FailurePrediction => {
            let gold = crate::answer::gold_binary(instance.task, &instance.gold)?;
            exact(crate::answer::binary(instance.task, answer) == Some(gold))
        }
        Task::LogParsing => exact(
            crate::answer::normalise_template(answer)
                == crate::answer::normalise_template(&instance.gold),
        ),
        Task::RootCause | Task::Interpretation => {
            let s = crate::answer::token_f1(answer, &instance.gold) as f32;
            Some((s, s >= TEXT_PASS))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(task: Task, gold: &str) -> TaskInstance {
        TaskInstance {
            id: 1,
            task,
            system: String::new(),
            instruction: String::new(),
            input: vec![],
            gold: gold.into(),
            source: String::new(),
            content_hash: String::new(),
            params: Default::default(),
            created_at: 0,
        }
    }

    #[test]
    fn each_task_is_graded_its_own_way() {
        let a = instance(Task::AnomalyDetection, "abnormal");
        assert_eq!(grade(&a, Some("Abnormal")), Some((1.0, true)));
        assert_eq!(grade(&a, Some("normal")), Some((0.0, false)));
        assert_eq!(grade(&a, None), Some((0.0, false)));
        let p = instance(Task::LogParsing, "Received block <*> of size <*>");
        assert_eq!(
            grade(&p, Some("Received  block <*> of size <*>")),
            Some((1.0, true))
        );
        let r = instance(Task::RootCause, "the disk is full");
        assert_eq!(grade(&r, Some("The disk is full.")), Some((1.0, true)));
        assert!(grade(&r, Some("network")).is_some_and(|(s, ok)| s == 0.0 && !ok));
        assert_eq!(grade(&instance(Task::RootCause, ""), Some("x")), None);
    }
}
