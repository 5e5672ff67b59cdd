//! The preferences that training data is made of: one per pair of solutions, oriented as its
//! deciding label says. People's labels override automatic ones on the same two solutions: each
//! annotator's latest label counts, and the pair is kept only when they all chose the same side (a
//! tie, a skip or a disagreement leaves it out: training data must not contradict itself). A pair
//! whose two texts are the same teaches nothing and is left out too.

use std::collections::BTreeMap;

use crate::store::{Id, LabelSource, Preference, PreferenceLabel, Solution, Store, StoreError};

/// The label that decides each pair, ordered by that label's id; only pairs with a winner.
pub fn effective(store: &Store) -> Result<Vec<PreferenceLabel>, StoreError> {
    let texts: BTreeMap<Id, String> = store
        .all::<Solution>()?
        .into_iter()
        .map(|s| (s.id, s.text))
        .collect();
    Ok(decide(store.all::<PreferenceLabel>()?, &texts))
}

/// [`effective`] over labels and solution texts already read.
pub fn decide(labels: Vec<PreferenceLabel>, texts: &BTreeMap<Id, String>) -> Vec<PreferenceLabel> {
    // Per pair: the latest automatic label, and each annotator's latest label.
    type PairLabels = (Option<PreferenceLabel>, BTreeMap<String, PreferenceLabel>);
    let mut by_pair: BTreeMap<(Id, (Id, Id)), PairLabels> = BTreeMap::new();
    let mut sorted = labels;
    sorted.sort_by_key(|l| (l.created_at, l.id));
    for l in sorted {
        let (auto, people) = by_pair.entry((l.instance_id, l.pair())).or_default();
        match l.source {
            LabelSource::Auto => *auto = Some(l),
            LabelSource::Human => {
                people.insert(l.annotator.clone(), l);
            }
        }
    }
    let deciding = by_pair.into_values().filter_map(|(auto, people)| {
        if people.is_empty() {
            return auto;
        }
        let first = people.values().next()?;
        let agreed = people
            .values()
            .all(|l| l.preference == first.preference && l.chosen == first.chosen);
        agreed.then(|| people.into_values().max_by_key(|l| (l.created_at, l.id)))?
    });
    let mut out: Vec<PreferenceLabel> = deciding
        .filter(|l| l.preference == Preference::Chosen)
        .filter(|l| match (texts.get(&l.chosen), texts.get(&l.rejected)) {
            (Some(c), Some(r)) => c.trim() != r.trim(),
            _ => false,
        })
        .collect();
    out.sort_by_key(|l| l.id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(
        id: Id,
        chosen: Id,
        rejected: Id,
        source: LabelSource,
        p: Preference,
    ) -> PreferenceLabel {
        PreferenceLabel {
            id,
            instance_id: 1,
            chosen,
            rejected,
            preference: p,
            source,
            annotator: if source == LabelSource::Auto {
                "auto"
            } else {
                "ann"
            }
            .into(),
            shown_left: None,
            flagged: false,
            created_at: id,
        }
    }

    fn texts() -> BTreeMap<Id, String> {
        [(10, "a"), (11, "b"), (12, "c"), (13, "c ")]
            .into_iter()
            .map(|(id, t)| (id, t.to_string()))
            .collect()
    }

    /// The defect that made training data contradict itself: an automatic pair and a person's
    /// label on the same two solutions, in opposite orientations, were both exported.
    #[test]
    fn a_persons_label_overrides_the_automatic_pair_in_either_orientation() {
        use LabelSource::*;
        let got = decide(
            vec![
                label(1, 10, 11, Auto, Preference::Chosen),
                label(2, 11, 10, Human, Preference::Chosen),
            ],
            &texts(),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].chosen, got[0].rejected, got[0].source),
            (11, 10, Human)
        );
        // An automatic pair made after the person's label does not win either.
        let got = decide(
            vec![
                label(2, 11, 10, Human, Preference::Chosen),
                label(3, 10, 11, Auto, Preference::Chosen),
            ],
            &texts(),
        );
        assert_eq!((got.len(), got[0].chosen), (1, 11));
    }

    #[test]
    fn a_tie_or_a_disagreement_removes_the_pair_and_a_relabel_replaces_the_first() {
        use LabelSource::*;
        let tie = decide(
            vec![
                label(1, 10, 11, Auto, Preference::Chosen),
                label(2, 10, 11, Human, Preference::Tie),
            ],
            &texts(),
        );
        assert!(tie.is_empty());
        let relabelled = decide(
            vec![
                label(1, 10, 11, Human, Preference::Chosen),
                label(2, 11, 10, Human, Preference::Chosen),
            ],
            &texts(),
        );
        assert_eq!((relabelled.len(), relabelled[0].chosen), (1, 11));
        let mut other = label(3, 10, 11, Human, Preference::Chosen);
        other.annotator = "bob".into();
        let disagree = decide(
            vec![
                label(1, 10, 11, Auto, Preference::Chosen),
                label(2, 11, 10, Human, Preference::Chosen),
                other.clone(),
            ],
            &texts(),
        );
        assert!(disagree.is_empty(), "{disagree:?}");
        let mut agree = label(2, 10, 11, Human, Preference::Chosen);
        agree.created_at = 9;
        let both = decide(vec![agree, other], &texts());
        assert_eq!(both.len(), 1);
        assert_eq!(both[0].annotator, "ann", "the latest of those who agree");
    }

    #[test]
    fn pairs_are_kept_once_and_equal_texts_are_dropped() {
        use LabelSource::*;
        let got = decide(
            vec![
                label(1, 10, 11, Auto, Preference::Chosen),
                label(2, 10, 11, Auto, Preference::Chosen),
                label(3, 12, 13, Auto, Preference::Chosen),
                label(4, 10, 12, Human, Preference::Chosen),
            ],
            &texts(),
        );
        let pairs: Vec<(Id, Id)> = got.iter().map(|l| (l.chosen, l.rejected)).collect();
        assert_eq!(pairs, vec![(10, 11), (10, 12)]);
    }
}
