//! The experiment's items: LogLM's train and dev splits as they ship, plus windows cut from
//! Loghub-2k's labelled BGL log (anomaly detection: is any line of the window an alert; failure
//! prediction: does an alert follow within the horizon). BGL is split by position, the first 70%
//! of its lines for training and the rest for the dev set, so no window straddles the two.

use std::path::Path;

use crate::eval::data::{self, Item};
use crate::store::Task;
use crate::template::loghub;

use super::{ExperimentError, Scale};

/// Lines per anomaly-detection window, and how far windows step.
const AD_WINDOW: usize = 10;
/// Failure prediction: window, horizon.
const FP_WINDOW: usize = 20;
const FP_HORIZON: usize = 10;
/// The share of BGL's lines (from the start) that training windows come from.
const BGL_TRAIN_SHARE: f64 = 0.7;
/// The most copies of a rare label's training item [`balance`] makes.
const MAX_COPIES: usize = 8;

/// The instruction of every BGL anomaly-detection window.
pub const AD_INSTRUCTION: &str =
    "Is any line of this BGL window abnormal (an alert)? Answer normal or abnormal.";

/// Training and dev items.
#[derive(Debug, Clone, Default)]
pub struct Splits {
    /// Items to train on: LogLM's train split plus windows from the first 70% of BGL.
    pub train: Vec<Item>,
    /// Items to evaluate on: LogLM's dev split plus windows from the rest of BGL.
    pub dev: Vec<Item>,
    /// BGL's training lines, each with whether it was an alert (a teacher reads them; no
    /// prompt shows the labels).
    pub train_lines: Vec<(bool, String)>,
}

/// Reads LogLM's splits from `loglm` (train.jsonl, dev.jsonl) and BGL from `loghub`, cut to
/// `scale`'s sizes.
pub fn load(loglm: &Path, loghub_root: &Path, scale: Scale) -> Result<Splits, ExperimentError> {
    let read = |name: &str| -> Result<Vec<Item>, ExperimentError> {
        let path = loglm.join(name);
        let loaded = data::load(&path).map_err(ExperimentError::Data)?;
        if let Some((line, why)) = loaded.skipped.first() {
            tracing::warn!("{}:{line}: skipped: {why}", path.display());
        }
        Ok(loaded.items)
    };
    let mut train = read("train.jsonl")?;
    let mut dev = read("dev.jsonl")?;
    let (head, tail) = bgl_lines(loghub_root)?;
    train.extend(windows(&head, 0));
    dev.extend(windows(&tail, head.len()));
    Ok(Splits {
        train: balance(cut(train, scale.train_per_task())),
        dev: cut(dev, scale.dev_per_task()),
        train_lines: head,
    })
}

/// The training items with each binary task's rarer label repeated until the two labels are
/// about equal (at most [`MAX_COPIES`] copies of an item), each copy beside its original. Most
/// of LogLM's anomaly rows are normal: trained on them as they come, every variant learns to
/// answer `normal` (the full run before this measured direct SFT at F1 0.000 on the dev items).
/// A cut already gives both labels an equal share, so smaller scales are unchanged.
pub fn balance(items: Vec<Item>) -> Vec<Item> {
    let label = |i: &Item| {
        matches!(i.task, Task::AnomalyDetection | Task::FailurePrediction)
            .then(|| crate::answer::gold_binary(i.task, &i.gold))
            .flatten()
    };
    let mut copies = std::collections::HashMap::new();
    for task in [Task::AnomalyDetection, Task::FailurePrediction] {
        let count = |want: bool| {
            items
                .iter()
                .filter(|i| i.task == task && label(i) == Some(want))
                .count()
        };
        let (pos, neg) = (count(true), count(false));
        let (rare, many) = if pos < neg { (true, neg) } else { (false, pos) };
        if let Some(ratio) = many.checked_div(pos.min(neg)) {
            copies.insert((task, rare), ratio.clamp(1, MAX_COPIES));
        }
    }
    items
        .into_iter()
        .flat_map(|item| {
            let n = label(&item)
                .and_then(|l| copies.get(&(item.task, l)).copied())
                .unwrap_or(1);
            std::iter::repeat_n(item, n)
        })
        .collect()
}

/// BGL's labelled lines: the training share, then the dev share.
type LabelledLines = Vec<(bool, String)>;

fn bgl_lines(root: &Path) -> Result<(LabelledLines, LabelledLines), ExperimentError> {
    let raw = loghub::raw_log(root, "BGL");
    let bytes = std::fs::read(&raw)
        .map_err(|e| ExperimentError::Data(format!("cannot read {}: {e}", raw.display())))?;
    // Each raw line starts with its alert tag: `-` is normal, anything else an alert.
    let mut lines: Vec<(bool, String)> = String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((tag, rest)) => (tag != "-", rest.to_string()),
            None => (false, l.to_string()),
        })
        .collect();
    let split = (lines.len() as f64 * BGL_TRAIN_SHARE) as usize;
    let tail = lines.split_off(split);
    Ok((lines, tail))
}

fn windows(lines: &[(bool, String)], offset: usize) -> Vec<Item> {
    let item = |task, instruction: String, at: usize, input: Vec<String>, gold: &str| Item {
        line: offset + at + 1,
        task,
        system: "BGL".into(),
        instruction,
        input,
        gold: gold.into(),
        category: None,
        kind: None,
    };
    let text = |range: std::ops::Range<usize>| -> Vec<String> {
        lines[range].iter().map(|(_, l)| l.clone()).collect()
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at + AD_WINDOW <= lines.len() {
        let alert = lines[at..at + AD_WINDOW].iter().any(|(a, _)| *a);
        out.push(item(
            Task::AnomalyDetection,
            AD_INSTRUCTION.into(),
            at,
            text(at..at + AD_WINDOW),
            if alert { "abnormal" } else { "normal" },
        ));
        at += AD_WINDOW;
    }
    let mut at = 0;
    while at + FP_WINDOW + FP_HORIZON <= lines.len() {
        let coming = lines[at + FP_WINDOW..at + FP_WINDOW + FP_HORIZON]
            .iter()
            .any(|(a, _)| *a);
        out.push(item(
            Task::FailurePrediction,
            format!(
                "Given these BGL log lines, will an alert follow within the next {FP_HORIZON} lines? Answer yes or no."
            ),
            at,
            text(at..at + FP_WINDOW),
            if coming { "yes" } else { "no" },
        ));
        at += FP_WINDOW;
    }
    out
}

/// At most `per_task` items of each task (all when `None`, in file order), spread evenly over
/// each task's items; for the binary tasks both labels get an equal share of a cut, so a small
/// run sees both. The result is grouped by task.
pub fn cut(items: Vec<Item>, per_task: Option<usize>) -> Vec<Item> {
    let Some(n) = per_task else {
        return items;
    };
    // Evenly spread over each group: the files come grouped by source system, and the first n
    // items of a task would all be one system's.
    fn spread<'a>(group: &[&'a Item], n: usize) -> impl Iterator<Item = &'a Item> + 'a {
        let want = n.min(group.len());
        let picked: Vec<&'a Item> = (0..want).map(|k| group[k * group.len() / want]).collect();
        picked.into_iter()
    }
    let mut out = Vec::new();
    for task in Task::ALL {
        let of_task: Vec<&Item> = items.iter().filter(|i| i.task == task).collect();
        let binary = matches!(task, Task::AnomalyDetection | Task::FailurePrediction);
        if binary {
            let positive = |i: &&&Item| crate::answer::gold_binary(task, &i.gold) == Some(true);
            let pos: Vec<&Item> = of_task.iter().copied().filter(|i| positive(&i)).collect();
            let neg: Vec<&Item> = of_task.iter().copied().filter(|i| !positive(&i)).collect();
            let half = n.div_ceil(2);
            out.extend(spread(&pos, half).cloned());
            out.extend(spread(&neg, n - half.min(pos.len())).cloned());
        } else {
            out.extend(spread(&of_task, n).cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgl_windows_are_split_by_position_and_labelled_by_their_alerts() {
        let lines: Vec<(bool, String)> = (0..60)
            .map(|i| (i == 12 || i == 45, format!("line {i}")))
            .collect();
        let items = windows(&lines, 100);
        let ad: Vec<&Item> = items
            .iter()
            .filter(|i| i.task == Task::AnomalyDetection)
            .collect();
        assert_eq!(ad.len(), 6);
        let golds: Vec<&str> = ad.iter().map(|i| i.gold.as_str()).collect();
        assert_eq!(
            golds,
            ["normal", "abnormal", "normal", "normal", "abnormal", "normal"]
        );
        assert_eq!(ad[1].line, 111);
        let fp: Vec<&Item> = items
            .iter()
            .filter(|i| i.task == Task::FailurePrediction)
            .collect();
        // Windows 0..20 (alert at 12 is inside, none in 20..30) and 20..40 (alert at 45 follows).
        assert_eq!(fp.len(), 2);
        assert_eq!((fp[0].gold.as_str(), fp[1].gold.as_str()), ("no", "yes"));
    }

    #[test]
    fn the_rarer_label_is_repeated_until_the_labels_are_about_equal() {
        let item = |task: Task, gold: &str, line: usize| Item {
            line,
            task,
            system: String::new(),
            instruction: String::new(),
            input: Vec::new(),
            gold: gold.into(),
            category: None,
            kind: None,
        };
        let mut items = vec![item(Task::AnomalyDetection, "abnormal", 1)];
        items.extend((2..9).map(|n| item(Task::AnomalyDetection, "normal", n)));
        // Failure prediction is already even; parsing has no labels.
        items.push(item(Task::FailurePrediction, "yes", 20));
        items.push(item(Task::FailurePrediction, "no", 21));
        items.push(item(Task::LogParsing, "<*> started", 30));
        let balanced = balance(items);
        let lines: Vec<usize> = balanced.iter().map(|i| i.line).collect();
        assert_eq!(
            lines,
            [vec![1; 7], (2..9).collect(), vec![20, 21, 30]].concat()
        );
        // Never more than MAX_COPIES of one item, and a balanced set is left as it is.
        let mut skewed = vec![item(Task::AnomalyDetection, "abnormal", 1)];
        skewed.extend((2..100).map(|n| item(Task::AnomalyDetection, "normal", n)));
        let once = balance(skewed);
        assert_eq!(once.iter().filter(|i| i.line == 1).count(), MAX_COPIES);
        let even = balance(vec![
            item(Task::AnomalyDetection, "abnormal", 1),
            item(Task::AnomalyDetection, "normal", 2),
        ]);
        assert_eq!(even.len(), 2);
    }

    #[test]
    fn a_cut_keeps_both_labels() {
        let mk = |gold: &str| Item {
            line: 1,
            task: Task::AnomalyDetection,
            system: String::new(),
            instruction: String::new(),
            input: vec![],
            gold: gold.into(),
            category: None,
            kind: None,
        };
        let items = vec![mk("normal"), mk("normal"), mk("normal"), mk("abnormal")];
        let got = cut(items, Some(2));
        let golds: Vec<&str> = got.iter().map(|i| i.gold.as_str()).collect();
        assert_eq!(golds, ["abnormal", "normal"]);
    }
}
