//! Log-parsing accuracy as Loghub-2.0 defines it, over messages with a ground-truth template and a
//! predicted template each:
//! - GA: share of messages whose predicted group (messages sharing its predicted template) is exactly
//!   its ground-truth group;
//! - FGA: F1 of predicted groups that equal a ground-truth group (precision over predicted groups,
//!   recall over ground-truth groups);
//! - PA: share of messages whose predicted template equals the ground-truth template;
//! - FTA: F1 of predicted groups that equal a ground-truth group *and* carry its template (the
//!   paper's reading; Loghub-2.0's script is slightly looser on the group condition, by at most 0.02
//!   per system on these data).

use std::collections::HashMap;

/// Loghub-2.0's parsing accuracies, each in 0..=1, and the group counts behind them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Accuracy {
    /// Grouping accuracy: share of messages grouped exactly as the ground truth groups them.
    pub ga: f64,
    /// F1 of predicted groups that equal a ground-truth group.
    pub fga: f64,
    /// Parsing accuracy: share of messages whose template equals the ground-truth one.
    pub pa: f64,
    /// F1 of predicted groups that equal a ground-truth group and carry its template.
    pub fta: f64,
    /// Distinct predicted templates (predicted groups).
    pub predicted_templates: usize,
    /// Distinct ground-truth templates (ground-truth groups).
    pub truth_templates: usize,
}

fn f1(correct: usize, predicted: usize, truth: usize) -> f64 {
    if correct == 0 || predicted == 0 || truth == 0 {
        return 0.0;
    }
    let p = correct as f64 / predicted as f64;
    let r = correct as f64 / truth as f64;
    2.0 * p * r / (p + r)
}

/// `truth[i]` and `predicted[i]` are the templates of message `i`.
pub fn evaluate<S: AsRef<str>, T: AsRef<str>>(truth: &[S], predicted: &[T]) -> Accuracy {
    assert_eq!(
        truth.len(),
        predicted.len(),
        "one predicted template per message"
    );
    let n = truth.len();
    if n == 0 {
        return Accuracy::default();
    }
    // Templates are compared as exact strings, as Loghub-2.0 does: its corrected ground truth is
    // already in canonical form, and so is the miner's output.
    let truth: Vec<String> = truth.iter().map(|t| t.as_ref().to_string()).collect();
    let predicted: Vec<String> = predicted.iter().map(|t| t.as_ref().to_string()).collect();

    // Group ids per message.
    let ids = |names: &[String]| -> (Vec<usize>, usize) {
        let mut map: HashMap<&str, usize> = HashMap::new();
        let v = names
            .iter()
            .map(|t| {
                let k = map.len();
                *map.entry(t.as_str()).or_insert(k)
            })
            .collect();
        (v, map.len())
    };
    let (gt, n_gt) = ids(&truth);
    let (pd, n_pd) = ids(&predicted);

    let mut gt_size = vec![0usize; n_gt];
    let mut pd_size = vec![0usize; n_pd];
    let mut pair: HashMap<(usize, usize), usize> = HashMap::new();
    for i in 0..n {
        gt_size[gt[i]] += 1;
        pd_size[pd[i]] += 1;
        *pair.entry((gt[i], pd[i])).or_default() += 1;
    }
    // A predicted group is correct when it and a ground-truth group are the same set of messages.
    let mut grouped_messages = 0;
    let mut correct_groups = 0;
    let mut correct_templates = 0;
    let mut example: HashMap<usize, usize> = HashMap::new();
    for (i, &p) in pd.iter().enumerate() {
        example.entry(p).or_insert(i);
    }
    for (&(g, p), &count) in &pair {
        if count == gt_size[g] && count == pd_size[p] {
            grouped_messages += count;
            correct_groups += 1;
            let i = example[&p];
            if predicted[i] == truth[i] {
                correct_templates += 1;
            }
        }
    }
    let parsed = (0..n).filter(|&i| predicted[i] == truth[i]).count();
    Accuracy {
        ga: grouped_messages as f64 / n as f64,
        fga: f1(correct_groups, n_pd, n_gt),
        pa: parsed as f64 / n as f64,
        fta: f1(correct_templates, n_pd, n_gt),
        predicted_templates: n_pd,
        truth_templates: n_gt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_perfect_parse_scores_one_everywhere() {
        let t = ["a <*>", "a <*>", "b"];
        let acc = evaluate(&t, &t);
        assert!(
            close(acc.ga, 1.0) && close(acc.fga, 1.0) && close(acc.pa, 1.0) && close(acc.fta, 1.0)
        );
    }

    #[test]
    fn right_groups_with_wrong_text_keep_ga_but_lose_pa_and_fta() {
        let truth = ["open <*>", "open <*>", "close <*>"];
        let predicted = ["open file", "open file", "close <*>"];
        let acc = evaluate(&truth, &predicted);
        assert!(close(acc.ga, 1.0) && close(acc.fga, 1.0));
        assert!(close(acc.pa, 1.0 / 3.0));
        // One of two groups carries the right template: P = R = 1/2.
        assert!(close(acc.fta, 0.5));
    }

    #[test]
    fn a_split_group_is_wrong_for_all_its_messages() {
        // Truth: {0,1,2} and {3}; predicted splits the first into {0,1} and {2}.
        let truth = ["x <*>", "x <*>", "x <*>", "y"];
        let predicted = ["x <*>", "x <*>", "x 3", "y"];
        let acc = evaluate(&truth, &predicted);
        assert!(close(acc.ga, 0.25), "{acc:?}");
        // Correct groups: {3} only. P = 1/3, R = 1/2, F1 = 0.4.
        assert!(close(acc.fga, 0.4), "{acc:?}");
        assert!(close(acc.pa, 0.75), "{acc:?}");
        assert!(close(acc.fta, 0.4), "{acc:?}");
    }

    #[test]
    fn merged_groups_are_wrong_even_with_every_message_present() {
        let truth = ["a <*>", "b <*>"];
        let predicted = ["<*> <*>", "<*> <*>"];
        let acc = evaluate(&truth, &predicted);
        assert!(close(acc.ga, 0.0) && close(acc.fga, 0.0) && close(acc.pa, 0.0));
        assert_eq!((acc.predicted_templates, acc.truth_templates), (1, 2));
    }
}
