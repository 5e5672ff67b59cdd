//! A person's review of a thought or a solution: accept, reject or edit. An edited thought becomes
//! its next version (the person's, accepted) and the edited one is rejected in its favour; an
//! edited solution is read and graded again, since the new text may answer differently.

use crate::store::{
    Edit, Id, ReviewDecision, ReviewStatus, ReviewTarget, Solution, Store, StoreError,
    TaskInstance, Thought, ThoughtOrigin,
};

/// Why a review was not (fully) saved.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Nothing was saved: the database refused the write.
    #[error("not saved: {0}")]
    Store(#[from] StoreError),
    /// Nothing was saved: an edited thought must keep some text.
    #[error("not saved: the edited thought is empty")]
    EmptyThought,
    /// The edit was saved, but grading the edited solution again failed.
    #[error("edit saved, but not regraded: {0}")]
    Regrade(StoreError),
}

/// What a reviewer decided on one item shown with `before` as its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// The thought, solution or diagnosis reviewed.
    pub target: ReviewTarget,
    /// `Accepted` or `Rejected`.
    pub decision: ReviewStatus,
    /// The text as it was shown to the reviewer.
    pub before: String,
    /// The reviewer's text, when they edited it.
    pub edited: Option<String>,
    /// Who reviewed it.
    pub annotator: String,
    /// When, in Unix milliseconds.
    pub at: u64,
}

/// Records `review` (one transaction with its target's new status and text); returns the decision
/// stored, which is `Rejected` for an edited thought (its new version is the accepted one).
pub fn record(store: &Store, review: Review) -> Result<ReviewStatus, ReviewError> {
    let edit = review.edited.map(|after| Edit {
        before: review.before,
        after,
    });
    let mut decision = review.decision;
    if let (ReviewTarget::Thought(id), Some(e)) = (review.target, &edit) {
        new_thought_version(store, id, &e.after, &review.annotator)?;
        decision = ReviewStatus::Rejected;
    }
    let mut stored = ReviewDecision {
        id: 0,
        target: review.target,
        decision,
        edit,
        annotator: review.annotator,
        created_at: review.at,
    };
    store.record_review(&mut stored)?;
    if let (ReviewTarget::Solution(id), Some(_)) = (review.target, &stored.edit) {
        regrade(store, id).map_err(ReviewError::Regrade)?;
    }
    Ok(decision)
}

fn new_thought_version(
    store: &Store,
    id: Id,
    text: &str,
    annotator: &str,
) -> Result<Id, ReviewError> {
    let old: Thought = store.load(id)?;
    let parsed = super::prompt::parse_thought(text).ok_or(ReviewError::EmptyThought)?;
    let origin = ThoughtOrigin::Human {
        annotator: annotator.to_string(),
    };
    let stored = crate::flowchart::thought::store_revision(
        store,
        &old,
        parsed,
        origin,
        ReviewStatus::Accepted,
    )?;
    Ok(stored.id)
}

/// Reads solution `id`'s answer from its text again and grades it against its instance's gold.
pub fn regrade(store: &Store, id: Id) -> Result<(), StoreError> {
    let mut s: Solution = store.load(id)?;
    let instance: TaskInstance = store.load(s.instance_id)?;
    s.answer = crate::answer::committed_answer(instance.task, &s.text);
    let graded = super::grade::grade(&instance, s.answer.as_deref());
    s.score = graded.map(|g| g.0);
    s.correct = graded.map(|g| g.1);
    store.put(&s)?;
    store.flush()
}

/// Lines removed and added between two texts (a line diff over their longest common subsequence).
pub fn line_diff(before: &str, after: &str) -> Vec<(char, String)> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push((' ', a[i].to_string()));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push(('+', b[j].to_string()));
            j += 1;
        } else {
            out.push(('-', a[i].to_string()));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Task;

    #[test]
    fn a_line_diff_names_what_changed() {
        let d = line_diff("1. a\n2. b\nAnswer: normal", "1. a\n2. c\nAnswer: abnormal");
        let changed: Vec<String> = d
            .into_iter()
            .filter(|(k, _)| *k != ' ')
            .map(|(k, l)| format!("{k}{l}"))
            .collect();
        assert_eq!(
            changed,
            ["-2. b", "-Answer: normal", "+2. c", "+Answer: abnormal"]
        );
    }

    /// An edit that changes the answer is graded again: the wrong solution becomes a right one.
    #[test]
    fn an_edited_solution_is_graded_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("db")).expect("store");
        let mut instance = TaskInstance {
            id: 0,
            task: Task::AnomalyDetection,
            system: "BGL".into(),
            instruction: String::new(),
            input: vec!["RAS KERNEL FATAL data TLB error interrupt".into()],
            gold: "abnormal".into(),
            source: "test".into(),
            content_hash: "h".into(),
            params: Default::default(),
            created_at: 0,
        };
        let instance_id = store.insert(&mut instance).expect("instance");
        let before = "1. Line 1 is routine.\nAnswer: normal";
        let mut solution = Solution {
            id: 0,
            instance_id,
            thought_id: None,
            text: before.into(),
            answer: Some("normal".into()),
            score: Some(0.0),
            correct: Some(false),
            model: "m".into(),
            status: ReviewStatus::Pending,
            diagnosis: None,
            created_at: 0,
        };
        let id = store.insert(&mut solution).expect("solution");
        let stored = record(
            &store,
            Review {
                target: ReviewTarget::Solution(id),
                decision: ReviewStatus::Accepted,
                before: before.into(),
                edited: Some("1. Line 1 is FATAL.\nAnswer: abnormal".into()),
                annotator: "ana".into(),
                at: 5,
            },
        )
        .expect("recorded");
        assert_eq!(stored, ReviewStatus::Accepted);
        let after: Solution = store.load(id).expect("solution");
        assert_eq!(after.answer.as_deref(), Some("abnormal"));
        assert_eq!(after.correct, Some(true));
        assert_eq!(after.status, ReviewStatus::Accepted);
        assert!(after.text.ends_with("Answer: abnormal"), "{}", after.text);
    }
}
