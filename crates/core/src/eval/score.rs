//! SPEC's metrics over answers read by [`crate::answer`]: precision, recall and F1 of the positive
//! label (anomaly detection, failure prediction), category macro-F1 (root cause); parsing's
//! GA/FGA/PA/FTA live in `template::metrics`, the graded token F1 in `answer`.

use std::collections::BTreeSet;

/// Precision, recall and F1 of the positive label.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Binary {
    /// True positives: gold positive, answered positive.
    pub tp: usize,
    /// False positives: gold negative, answered positive.
    pub fp: usize,
    /// False negatives: gold positive, answered negative.
    pub fn_: usize,
    /// True negatives: gold negative, answered negative.
    pub tn: usize,
}

impl Binary {
    /// Counts one answer: `gold` is the right label, `predicted` the one given.
    pub fn add(&mut self, gold: bool, predicted: bool) {
        match (gold, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// Share of positive answers that were right; 0 when there were none.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Share of gold positives that were answered positive; 0 when there were none.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Negative predictive value: the share of negative answers that were right.
    pub fn npv(&self) -> f64 {
        ratio(self.tn, self.tn + self.fn_)
    }

    /// Share of all answers that were right; 0 when nothing was counted.
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Macro-averaged F1 over the categories present in gold or predicted (a missing prediction is
/// its own wrong class).
pub fn macro_f1(pairs: &[(String, Option<String>)]) -> f64 {
    let classes: BTreeSet<&str> = pairs
        .iter()
        .flat_map(|(g, p)| std::iter::once(g.as_str()).chain(p.as_deref()))
        .collect();
    if classes.is_empty() {
        return 0.0;
    }
    let sum: f64 = classes
        .iter()
        .map(|c| {
            let mut b = Binary::default();
            for (g, p) in pairs {
                b.add(g == c, p.as_deref() == Some(c));
            }
            b.f1()
        })
        .sum();
    sum / classes.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::token_f1;

    /// One label per answer: naming both, hedging or taking it back elsewhere is unreadable.

    #[test]
    fn binary_metrics_on_a_known_table() {
        let mut b = Binary::default();
        // tp 3, fp 1, fn 2, tn 4
        for (g, p) in [(true, true); 3] {
            b.add(g, p);
        }
        b.add(false, true);
        b.add(true, false);
        b.add(true, false);
        for _ in 0..4 {
            b.add(false, false);
        }
        assert_eq!(b.precision(), 0.75);
        assert_eq!(b.recall(), 0.6);
        assert!((b.f1() - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-12);
        assert_eq!(b.accuracy(), 0.7);
        assert_eq!(Binary::default().f1(), 0.0);
    }

    #[test]
    fn token_f1_and_macro_f1() {
        assert_eq!(token_f1("the disk is full", "The disk is full."), 1.0);
        // 2 common of 4 answer tokens and 3 gold tokens: p 0.5, r 2/3.
        let f = token_f1("disk full again today", "disk is full");
        assert!((f - 2.0 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0)).abs() < 1e-12);
        assert_eq!(token_f1("", "x"), 0.0);
        let pairs = vec![
            ("a".to_string(), Some("a".to_string())),
            ("a".to_string(), Some("b".to_string())),
            ("b".to_string(), Some("b".to_string())),
            ("b".to_string(), None),
        ];
        // a: tp1 fp0 fn1 → f1 2/3; b: tp1 fp1 fn1 → f1 0.5.
        assert!((macro_f1(&pairs) - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
    }
}
