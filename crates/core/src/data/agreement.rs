//! Agreement between annotators: Cohen's kappa per pair of annotators over the pairs both labelled,
//! and the list of their disagreements.

use std::collections::BTreeMap;

use crate::store::{Id, LabelSource, Preference, PreferenceLabel};

/// A label as a category of its unordered pair: which solution won (`first` = the lower id), a tie,
/// or a skip.
fn category(l: &PreferenceLabel) -> &'static str {
    match l.preference {
        Preference::Tie => "tie",
        Preference::Skip => "skip",
        Preference::Chosen if l.chosen < l.rejected => "first",
        Preference::Chosen => "second",
    }
}

/// Cohen's kappa of two raters' labels over the same items. `None` when there are no items; 1.0
/// when expected agreement is already total and they agree.
pub fn cohen_kappa(a: &[&str], b: &[&str]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n == 0 {
        return None;
    }
    let observed = (0..n).filter(|&i| a[i] == b[i]).count() as f64 / n as f64;
    let mut count_a: BTreeMap<&str, usize> = BTreeMap::new();
    let mut count_b: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..n {
        *count_a.entry(a[i]).or_default() += 1;
        *count_b.entry(b[i]).or_default() += 1;
    }
    let expected: f64 = count_a
        .iter()
        .map(|(k, ca)| (*ca as f64 / n as f64) * (*count_b.get(k).unwrap_or(&0) as f64 / n as f64))
        .sum();
    if (1.0 - expected).abs() < 1e-12 {
        return Some(if observed == 1.0 { 1.0 } else { 0.0 });
    }
    Some((observed - expected) / (1.0 - expected))
}

/// How two annotators agree over the pairs both of them labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct PairAgreement {
    /// The first annotator (the lower name).
    pub a: String,
    /// The second annotator.
    pub b: String,
    /// How many pairs both labelled.
    pub items: usize,
    /// Cohen's kappa over those pairs; `None` when they share none.
    pub kappa: Option<f64>,
    /// (instance, pair, a's category, b's category)
    pub disagreements: Vec<(Id, (Id, Id), &'static str, &'static str)>,
}

/// Counts per annotator and agreement per pair of annotators (human labels; the latest label of an
/// annotator on a pair counts).
pub fn agreement(labels: &[PreferenceLabel]) -> (BTreeMap<String, usize>, Vec<PairAgreement>) {
    let mut latest: BTreeMap<String, BTreeMap<(Id, Id), &PreferenceLabel>> = BTreeMap::new();
    for l in labels.iter().filter(|l| l.source == LabelSource::Human) {
        latest
            .entry(l.annotator.clone())
            .or_default()
            .insert(l.pair(), l);
    }
    let counts = latest.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    let names: Vec<&String> = latest.keys().collect();
    let mut pairs = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let (la, lb) = (&latest[*a], &latest[*b]);
            let common: Vec<&(Id, Id)> = la.keys().filter(|k| lb.contains_key(k)).collect();
            let ca: Vec<&str> = common.iter().map(|k| category(la[k])).collect();
            let cb: Vec<&str> = common.iter().map(|k| category(lb[k])).collect();
            let disagreements = common
                .iter()
                .zip(ca.iter().zip(&cb))
                .filter(|(_, (x, y))| x != y)
                .map(|(k, (x, y))| (la[*k].instance_id, **k, *x, *y))
                .collect();
            pairs.push(PairAgreement {
                a: (*a).clone(),
                b: (*b).clone(),
                items: common.len(),
                kappa: cohen_kappa(&ca, &cb),
                disagreements,
            });
        }
    }
    (counts, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kappa_on_a_known_table() {
        // The classic 2x2 table: yes/yes 20, yes/no 5, no/yes 10, no/no 15 (n = 50):
        // po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4.
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (x, y, n) in [
            ("yes", "yes", 20),
            ("yes", "no", 5),
            ("no", "yes", 10),
            ("no", "no", 15),
        ] {
            for _ in 0..n {
                a.push(x);
                b.push(y);
            }
        }
        let k = cohen_kappa(&a, &b).expect("kappa");
        assert!((k - 0.4).abs() < 1e-12, "{k}");
        assert_eq!(cohen_kappa(&["x", "x"], &["x", "x"]), Some(1.0));
        assert_eq!(cohen_kappa(&[], &[]), None);
    }

    fn label(annotator: &str, chosen: Id, rejected: Id, preference: Preference) -> PreferenceLabel {
        PreferenceLabel {
            id: 0,
            instance_id: chosen / 10,
            chosen,
            rejected,
            preference,
            source: LabelSource::Human,
            annotator: annotator.into(),
            shown_left: None,
            flagged: false,
            created_at: 0,
        }
    }

    #[test]
    fn annotators_are_compared_on_the_pairs_both_labelled() {
        let labels = vec![
            label("ana", 11, 12, Preference::Chosen),
            label("bob", 11, 12, Preference::Chosen),
            label("ana", 21, 22, Preference::Chosen),
            label("bob", 22, 21, Preference::Chosen),
            label("ana", 31, 32, Preference::Tie),
            label("bob", 31, 32, Preference::Tie),
            label("bob", 41, 42, Preference::Skip),
        ];
        let (counts, pairs) = agreement(&labels);
        assert_eq!(counts["ana"], 3);
        assert_eq!(counts["bob"], 4);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].items, 3);
        assert_eq!(
            pairs[0].disagreements,
            vec![(2, (21, 22), "first", "second")]
        );
        // po = 2/3; pe = (2/3·1/3) + (1/3·1/3) = 1/3 → kappa = 0.5.
        assert!((pairs[0].kappa.expect("kappa") - 0.5).abs() < 1e-12);
    }
}
