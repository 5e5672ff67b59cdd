//! The rules of a labelling session, whoever presents it: which pairs an annotator still has to
//! label (each pair once, never two solutions with the same text), which side each solution is
//! shown on (stable per annotator, different between annotators), and the label and session
//! position one decision writes.

use std::collections::{BTreeMap, HashSet};

use crate::store::{
    Id, LabelSource, Preference, PreferenceLabel, SessionState, Solution, Store, StoreError,
};

/// A pair to label: two solutions of one instance, in the order shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The task instance both solutions answer.
    pub instance: Id,
    /// The solution shown on the left.
    pub left: Id,
    /// The solution shown on the right.
    pub right: Id,
}

/// Whether `a` is shown on the left of `b` for `annotator`: a stable hash (FNV-1a), so a restart
/// shows the same sides and different annotators see different ones. FNV's low bit is only the
/// parity of the inputs' low bits, so the hash is finalised (murmur3's fmix64) before one bit is
/// taken.
pub fn left_first(annotator: &str, a: Id, b: Id) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in annotator
        .bytes()
        .chain(a.to_le_bytes())
        .chain(b.to_le_bytes())
    {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h & 1 == 0
}

/// The pairs `annotator` has not labelled: consecutive solutions of each instance with two or more
/// distinct texts, in instance order.
pub fn queue(store: &Store, annotator: &str) -> Result<Vec<Pair>, StoreError> {
    let done: HashSet<(Id, Id)> = store
        .all::<PreferenceLabel>()?
        .into_iter()
        .filter(|l| l.source == LabelSource::Human && l.annotator == annotator)
        .map(|l| l.pair())
        .collect();
    // Solutions with the same text are one candidate: a pair of them has nothing to choose.
    let mut by_instance: BTreeMap<Id, Vec<(Id, String)>> = BTreeMap::new();
    for s in store.all::<Solution>()? {
        let texts = by_instance.entry(s.instance_id).or_default();
        let text = s.text.trim().to_string();
        if !texts.iter().any(|(_, t)| *t == text) {
            texts.push((s.id, text));
        }
    }
    let mut out = Vec::new();
    for (instance, solutions) in by_instance {
        for pair in solutions.chunks_exact(2) {
            let (a, b) = (pair[0].0, pair[1].0);
            if done.contains(&(a.min(b), a.max(b))) {
                continue;
            }
            let (left, right) = if left_first(annotator, a, b) {
                (a, b)
            } else {
                (b, a)
            };
            out.push(Pair {
                instance,
                left,
                right,
            });
        }
    }
    Ok(out)
}

/// How many labels `annotator` has made.
pub fn labels_by(store: &Store, annotator: &str) -> Result<usize, StoreError> {
    Ok(store
        .all::<PreferenceLabel>()?
        .iter()
        .filter(|l| l.source == LabelSource::Human && l.annotator == annotator)
        .count())
}

/// One decision on a pair: which side won (or a tie, with the left as the nominal chosen one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Chosen, tie or skip.
    pub preference: Preference,
    /// The left solution is the chosen one (on a tie, the nominal chosen one).
    pub left_wins: bool,
    /// The annotator marked the pair for a second look.
    pub flagged: bool,
}

/// Records `decision` on `pair` for `annotator`, with the session position (the pair's instance,
/// and `labels_this_session` counting this one) in the same transaction; durable when it returns.
pub fn record(
    store: &Store,
    annotator: &str,
    pair: Pair,
    decision: Decision,
    labels_this_session: usize,
    now: u64,
) -> Result<Id, StoreError> {
    let (chosen, rejected) = if decision.left_wins {
        (pair.left, pair.right)
    } else {
        (pair.right, pair.left)
    };
    let mut label = PreferenceLabel {
        id: 0,
        instance_id: pair.instance,
        chosen,
        rejected,
        preference: decision.preference,
        source: LabelSource::Human,
        annotator: annotator.to_string(),
        shown_left: Some(pair.left),
        flagged: decision.flagged,
        created_at: now,
    };
    let session = SessionState {
        annotator: annotator.to_string(),
        screen: "label".into(),
        cursor: Some(pair.instance),
        extra: [(
            "labels_this_session".to_string(),
            labels_this_session.to_string(),
        )]
        .into_iter()
        .collect(),
        updated_at: now,
    };
    store.record_label(&mut label, Some(&session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ReviewStatus, Task, TaskInstance};

    fn store_with(texts: &[&[&str]]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("db")).expect("store");
        for (n, solutions) in texts.iter().enumerate() {
            let mut instance = TaskInstance {
                id: 0,
                task: Task::AnomalyDetection,
                system: "BGL".into(),
                instruction: String::new(),
                input: vec![format!("line {n}")],
                gold: "abnormal".into(),
                source: format!("test:{n}"),
                content_hash: format!("h{n}"),
                params: Default::default(),
                created_at: 0,
            };
            let instance_id = store.insert(&mut instance).expect("instance");
            for text in *solutions {
                let mut s = Solution {
                    id: 0,
                    instance_id,
                    thought_id: None,
                    text: text.to_string(),
                    answer: None,
                    score: None,
                    correct: None,
                    model: "m".into(),
                    status: ReviewStatus::Pending,
                    diagnosis: None,
                    created_at: 0,
                };
                store.insert(&mut s).expect("solution");
            }
        }
        (dir, store)
    }

    #[test]
    fn sides_are_stable_per_annotator_and_differ_between_annotators() {
        assert_eq!(left_first("ana", 3, 4), left_first("ana", 3, 4));
        let flips = (0..64u64)
            .filter(|&i| left_first("ana", i, i + 1) != left_first("ben", i, i + 1))
            .count();
        assert!(flips > 10 && flips < 54, "{flips} of 64 pairs differ");
        // And one annotator's sides are not a function of the ids' parity alone.
        let lefts = (0..64u64)
            .filter(|&i| left_first("ana", 2 * i, 2 * i + 3))
            .count();
        assert!(lefts > 10 && lefts < 54, "{lefts} of 64 shown left");
    }

    #[test]
    fn the_queue_pairs_distinct_texts_and_drops_what_the_annotator_labelled() {
        let (_dir, store) = store_with(&[&["a", "a ", "b", "c"], &["only"], &["x", "y"]]);
        let q = queue(&store, "ana").expect("queue");
        // "a" and "a " are one candidate: the first instance pairs "a" with "b" ("c" waits).
        assert_eq!(q.len(), 2, "{q:?}");
        let first = q[0];
        let id = record(
            &store,
            "ana",
            first,
            Decision {
                preference: Preference::Chosen,
                left_wins: false,
                flagged: true,
            },
            1,
            7,
        )
        .expect("label");
        let label: PreferenceLabel = store.get(id).expect("read").expect("label");
        assert_eq!((label.chosen, label.rejected), (first.right, first.left));
        assert_eq!(label.shown_left, Some(first.left));
        assert!(label.flagged);
        assert_eq!(queue(&store, "ana").expect("queue"), vec![q[1]]);
        // Another annotator still has both.
        assert_eq!(queue(&store, "ben").expect("queue").len(), 2);
        assert_eq!(labels_by(&store, "ana").expect("count"), 1);
        assert_eq!(labels_by(&store, "ben").expect("count"), 0);
    }
}
