//! The experiment's report: the results table (every variant, every task, SPEC's metric), the
//! binary tasks beside constant answers, anomaly detection split by where its items come from,
//! and the data and timing notes, as `results.md`.

use super::{
    aligned_answers, answers_to, diagnosed, diagnosis_verdict, on_diagnosis_prompt,
    recorded_answer, steps, State, BASE, COARSE_FINE, DIRECT, FULL, SHIPPABLE, STEPWISE,
    THOUGHT_STEPWISE, VARIANTS, WALK,
};
use crate::eval::{self, data::Item, headline_metric as headline};
use crate::store::Task;

/// The results table in Markdown.
pub fn table(state: &State) -> String {
    let tasks: Vec<Task> = Task::ALL
        .into_iter()
        .filter(|t| state.results.iter().any(|r| r.task == *t))
        .collect();
    let mut out = String::from("| variant |");
    for t in &tasks {
        out.push_str(&format!(" {t} ({}) |", headline(*t)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(tasks.len()));
    out.push('\n');
    for v in VARIANTS {
        if !state.results.iter().any(|r| r.variant == v) {
            continue;
        }
        out.push_str(&format!("| {v} |"));
        for t in &tasks {
            match state
                .results
                .iter()
                .find(|r| r.variant == v && r.task == *t)
            {
                Some(r) => out.push_str(&format!(
                    " {:.3} |",
                    r.result.metrics.get(headline(*t)).copied().unwrap_or(0.0)
                )),
                None => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out.push_str("| items |");
    for t in &tasks {
        let n = state
            .results
            .iter()
            .find(|r| r.task == *t)
            .map_or(0, |r| r.result.items);
        out.push_str(&format!(" {n} |"));
    }
    out.push('\n');
    out
}

/// The binary tasks beside the two constant answers: a variant that cannot beat "always
/// positive" (its F1) or the majority label (its accuracy) has learned nothing about the windows,
/// however far it is above the base model.
pub fn against_constants(state: &State, dev: &[Item]) -> String {
    let binary = [Task::AnomalyDetection, Task::FailurePrediction];
    let mut out = String::from("| variant |");
    for task in binary {
        out.push_str(&format!(" {task} (f1) | {task} (accuracy) |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|---:|".repeat(binary.len()));
    out.push('\n');
    let cell = |v: Option<f64>| v.map_or(" – |".to_string(), |v| format!(" {v:.3} |"));
    for v in VARIANTS {
        if !state.results.iter().any(|r| r.variant == v) {
            continue;
        }
        out.push_str(&format!("| {v} |"));
        for task in binary {
            let metrics = state
                .results
                .iter()
                .find(|r| r.variant == v && r.task == task)
                .map(|r| &r.result.metrics);
            out.push_str(&cell(metrics.and_then(|m| m.get("f1").copied())));
            out.push_str(&cell(metrics.and_then(|m| m.get("accuracy").copied())));
        }
        out.push('\n');
    }
    for always_positive in [true, false] {
        out.push_str(if always_positive {
            "| always abnormal / yes |"
        } else {
            "| always normal / no |"
        });
        for task in binary {
            // Golds read as the main table reads them; one that names no label is not counted.
            let golds: Vec<bool> = dev
                .iter()
                .filter(|i| i.task == task)
                .filter_map(|i| crate::answer::gold_binary(task, &i.gold))
                .collect();
            let (n, p) = (golds.len(), golds.iter().filter(|g| **g).count());
            if n == 0 {
                out.push_str(" – | – |");
                continue;
            }
            // Always positive: precision p/n, recall 1, so F1 = 2p/(n+p); always negative finds
            // no positive, F1 0.
            let f1 = if always_positive {
                2.0 * p as f64 / (n + p) as f64
            } else {
                0.0
            };
            let right = if always_positive { p } else { n - p };
            out.push_str(&cell(Some(f1)));
            out.push_str(&cell(Some(right as f64 / n as f64)));
        }
        out.push('\n');
    }
    out
}

/// Anomaly-detection F1 and accuracy of every variant on each source of the dev items: LogLM's
/// rows and each system's windows.
pub fn by_source(dev: &[Item], answers: &[serde_json::Value]) -> String {
    split(Task::AnomalyDetection, dev, answers, &|item| {
        if item.system.is_empty() {
            "LogLM rows".to_string()
        } else {
            format!("{} windows", item.system)
        }
    })
}

/// Root cause and interpretation split by whether the item's log lines are also the input of a
/// training item (LogLM asks several questions of one log, and its split is by question, so most
/// dev logs were seen in training under another question): a trained variant's lead on the seen
/// logs may be memory of that log's other answers.
pub fn by_seen_log(dev: &[Item], train: &[Item], answers: &[serde_json::Value]) -> String {
    let seen: std::collections::HashSet<&[String]> =
        train.iter().map(|i| i.input.as_slice()).collect();
    let group = |item: &Item| {
        if seen.contains(item.input.as_slice()) {
            "log seen in training".to_string()
        } else {
            "log not seen".to_string()
        }
    };
    [Task::RootCause, Task::Interpretation]
        .into_iter()
        .filter(|t| dev.iter().any(|i| i.task == *t))
        .map(|t| format!("{t}:\n\n{}", split(t, dev, answers, &group)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Log parsing split by whether the item's gold template is also a training item's: LogLM splits
/// its parsing rows by line, so most dev templates were trained on with other values, and GA on
/// those measures recall of a seen template rather than parsing.
pub fn by_seen_template(dev: &[Item], train: &[Item], answers: &[serde_json::Value]) -> String {
    let normalise = crate::answer::normalise_template;
    let seen: std::collections::HashSet<String> = train
        .iter()
        .filter(|i| i.task == Task::LogParsing)
        .map(|i| normalise(&i.gold))
        .collect();
    let group = |item: &Item| {
        if seen.contains(&normalise(&item.gold)) {
            "template seen in training".to_string()
        } else {
            "template not seen".to_string()
        }
    };
    split(Task::LogParsing, dev, answers, &group)
}

/// `task`'s headline metric (and accuracy for the binary tasks) of every variant on each group of
/// its dev items, scored as the main table scores ([`eval::score_task`]) from the recorded
/// answers. A variant's answers for a task are recorded in one piece, in the dev items' order, so
/// they line up with the items; a variant without all of them gets no row.
fn split(
    task: Task,
    dev: &[Item],
    answers: &[serde_json::Value],
    group: &dyn Fn(&Item) -> String,
) -> String {
    let items: Vec<&Item> = dev.iter().filter(|i| i.task == task).collect();
    let mut groups: Vec<String> = items.iter().map(|i| group(i)).collect();
    groups.sort();
    groups.dedup();
    let metric = headline(task);
    let binary = metric == "f1";
    let mut out = String::from("| variant |");
    for g in &groups {
        let n = items.iter().filter(|i| group(i) == *g).count();
        out.push_str(&format!(" {g}, {n} ({metric}) |"));
        if binary {
            out.push_str(&format!(" {g} (accuracy) |"));
        }
    }
    out.push_str("\n|---|");
    out.push_str(&(if binary { "---:|---:|" } else { "---:|" }).repeat(groups.len()));
    out.push('\n');
    let labels = VARIANTS
        .iter()
        .map(|v| v.to_string())
        .chain(diagnosed().map(on_diagnosis_prompt))
        .chain(diagnosed().map(diagnosis_verdict));
    for v in labels {
        let Some(rows) = aligned_answers(answers, &v, task, &items) else {
            continue;
        };
        let recorded: Vec<eval::Answer> = rows.into_iter().map(recorded_answer).collect();
        out.push_str(&format!("| {v} |"));
        for g in &groups {
            let (members, given): (Vec<Item>, Vec<eval::Answer>) = items
                .iter()
                .zip(&recorded)
                .filter(|(i, _)| group(i) == *g)
                .map(|(i, a)| ((*i).clone(), a.clone()))
                .unzip();
            let (metrics, ..) = eval::score_task(task, &members, &given);
            let get = |k: &str| metrics.get(k).copied().unwrap_or(0.0);
            out.push_str(&format!(" {:.3} |", get(metric)));
            if binary {
                out.push_str(&format!(" {:.3} |", get("accuracy")));
            }
        }
        out.push('\n');
    }
    out
}

/// How many of each variant's answers reached the token limit before they ended, by task: a
/// binary answer cut short closes with the label the model rates likeliest, so where many are
/// cut the score measures that lean more than the reasoning. `–` where the answers were recorded
/// before cuts were (or the variant was not evaluated there).
pub fn cut_table(dev: &[Item], answers: &[serde_json::Value]) -> String {
    let tasks: Vec<Task> = Task::ALL
        .into_iter()
        .filter(|t| dev.iter().any(|i| i.task == *t))
        .collect();
    let mut out = String::from("| variant |");
    for t in &tasks {
        out.push_str(&format!(" {t} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(tasks.len()));
    out.push('\n');
    let labels = VARIANTS
        .iter()
        .filter(|v| **v != WALK)
        .map(|v| v.to_string())
        .chain(diagnosed().map(on_diagnosis_prompt));
    for v in labels {
        let cells: Vec<String> = tasks
            .iter()
            .map(|t| {
                let rows: Vec<&serde_json::Value> =
                    answers.iter().filter(|a| answers_to(a, &v, *t)).collect();
                if rows.is_empty() || rows.iter().any(|r| r["cut"].as_bool().is_none()) {
                    return "–".to_string();
                }
                let cut = rows.iter().filter(|r| r["cut"] == true).count();
                format!("{cut}/{}", rows.len())
            })
            .collect();
        if cells.iter().all(|c| c == "–") {
            continue;
        }
        out.push_str(&format!("| {v} | {} |\n", cells.join(" | ")));
    }
    out
}

/// Anomaly detection on the prompt `diagnose` sends, read as a diagnosis is read: what the
/// shipped adapter's verdicts stand on (the walk's row is the main table's); `None` before any
/// variant was evaluated there.
pub fn diagnosis_table(state: &State) -> Option<String> {
    let mut out = String::from(
        "| variant | f1 | precision | recall | accuracy | unreadable | items |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut rows = 0;
    let labels = diagnosed()
        .map(on_diagnosis_prompt)
        .chain(diagnosed().map(diagnosis_verdict));
    for label in labels {
        let Some(r) = state
            .results
            .iter()
            .find(|r| r.variant == label && r.task == Task::AnomalyDetection)
        else {
            continue;
        };
        let get = |k: &str| r.result.metrics.get(k).copied().unwrap_or(0.0);
        out.push_str(&format!(
            "| {label} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |\n",
            get("f1"),
            get("precision"),
            get("recall"),
            get("accuracy"),
            r.result.unparsed,
            r.result.items
        ));
        rows += 1;
    }
    (rows > 0).then_some(out)
}

/// The comparisons the method is judged by: each training stage against the plain baseline, the
/// ablation's steps (the thought stage, the thought inside the answer, DPO), and each shippable
/// adapter against the walk and the base model (and, added where the report is written, its
/// diagnosis verdicts against the walk).
const COMPARED: [(&str, &str); 11] = [
    (FULL, DIRECT),
    (THOUGHT_STEPWISE, DIRECT),
    (STEPWISE, DIRECT),
    (THOUGHT_STEPWISE, STEPWISE),
    (COARSE_FINE, STEPWISE),
    (COARSE_FINE, DIRECT),
    (FULL, THOUGHT_STEPWISE),
    (FULL, WALK),
    (FULL, BASE),
    (STEPWISE, WALK),
    (STEPWISE, BASE),
];

/// The whole `results.md`.
pub fn markdown(s: &State, dev: &[Item], train: &[Item], answers: &[serde_json::Value]) -> String {
    let mut md = format!(
        "# Experiment results ({:?} scale, {} epoch(s) per stage)\n\nModel: `{}`. Dev items: LogLM's dev split plus BGL windows from the last 30% of BGL-2k.\n\n",
        s.scale,
        s.epochs,
        s.model.display()
    );
    md.push_str(&table(s));
    md.push_str("\nMetrics: F1 of `abnormal` / `yes`; GA (Loghub-2.0); token-overlap F1 of the answer against the gold text. A binary answer cut off by the token limit closes with the label the model rates likeliest; an answer the model wrote that names no one label counts as wrong.\n\n## Against constant answers\n\n");
    md.push_str(&against_constants(s, dev));
    md.push_str("\n## Anomaly detection by source\n\nThe BGL windows come from BGL-2k, the log the BGL chart was written against, so the walk's figures on them are optimistic. LogLM's anomaly rows are single messages, many of them BGL templates.\n\n");
    md.push_str(&by_source(dev, answers));
    md.push_str("\n## Root cause and interpretation by whether the log was seen in training\n\nLogLM splits its rows by question, so most dev logs are also the input of a training row that asks something else; a trained variant's lead on those may be memory of that log's other answers.\n\n");
    md.push_str(&by_seen_log(dev, train, answers));
    md.push_str("\n## Log parsing by whether the template was seen in training\n\nLogLM splits its parsing rows by line, so most dev templates were trained on with other values; GA on those is recall of a seen template.\n\n");
    md.push_str(&by_seen_template(dev, train, answers));
    md.push_str("\n## Anomaly detection on the diagnosis prompt\n\nThe chat `diagnose` sends (chart retrieval, walk, statistics, the window's lines) read as diagnoses read it; the verdict rule trusts the shipped adapter's row here, not its row above. The `diagnosis verdict` rows are what an engineer is shown: each of those answers settled against the item's walk by the verdict rule (where they disagree the walk stands, its normal included, unless the model was right more often than the walk on that direction of disagreement). Each half of the items is settled with the rule measured on the other half, so no item decides its own rule.\n\n");
    if let Some(diagnosed) = diagnosis_table(s) {
        md.push_str(&diagnosed);
    } else {
        md.push_str(
            "Not evaluated yet (the `eval:diagnosis` step runs when the run is resumed).\n",
        );
    }
    md.push_str(&format!("\n## Answers cut by the token limit\n\nAt most {} tokens per answer on anomaly detection and failure prediction, {} on log parsing, {} on root cause and interpretation, {} on the diagnosis prompt. A binary answer cut short closes with the label the model rates likeliest, not its reasoning's conclusion. Answers recorded before cuts were counted show `–`, and may have run under other limits (before 2026-12-05 a full run gave the binary tasks 160 tokens).\n\n",
        s.scale.max_tokens(Task::AnomalyDetection),
        s.scale.max_tokens(Task::LogParsing),
        s.scale.max_tokens(Task::RootCause),
        crate::config::DiagnosisSettings::default().max_tokens,
    ));
    md.push_str(&cut_table(dev, answers));
    md.push_str("\n## Which differences the dev split tells apart\n\nEach row: the first variant's headline metric minus the second's on the same items, with a 95% paired bootstrap interval (the items drawn with replacement, 1,000 draws, one seed). Where the interval holds zero, the dev split cannot tell the two apart, whichever row of the table is higher.\n\n");
    // What an engineer is shown, against the walk alone, for each adapter a folder can ship.
    let verdicts: Vec<String> = SHIPPABLE
        .iter()
        .map(|(_, v)| diagnosis_verdict(v))
        .collect();
    let mut pairs = COMPARED.to_vec();
    pairs.extend(verdicts.iter().map(|v| (v.as_str(), WALK)));
    md.push_str(&super::paired::table(dev, answers, &pairs));
    md.push_str("\n## Data\n\n");
    md.push_str(&format!(
        "- training items by task: {:?}\n- dev items by task: {:?}\n- traces kept (answer = gold), by teacher: {:?}; untraced (binary ones left out of the stepwise data): {}\n- thought rows: {}\n- anomaly items also written as diagnosis chats (all in the direct data, the traced ones in the stepwise data): {}\n- base-model samples: {} ({} right, {} of them grounded and joined the stepwise data)\n",
        s.data.train_items,
        s.data.dev_items,
        s.data.traces,
        s.data.traces_dropped,
        s.data.thought_rows,
        s.data.diagnosis_rows,
        s.data.sampled,
        s.data.samples_right,
        s.data.samples_learned,
    ));
    md.push_str(&if s.dpo_from_policy {
        format!(
            "- DPO pairs: {}, from the thought + stepwise adapter's answers on {} prompts of traced training items ({}; {} of the greedy answers right): each distinct wrong one rejected against the trace\n",
            s.data.dpo_pairs,
            s.data.policy_answered,
            match s.data.policy_draws {
                0 | 1 => "greedy".to_string(),
                n => format!("greedy and {} samples at temperature 0.8 each", n - 1),
            },
            s.data.policy_right
        )
    } else {
        format!(
            "- DPO pairs: {} (the trace chosen over a wrong base-model sample)\n",
            s.data.dpo_pairs
        )
    });
    md.push_str("\n## Wall time per step\n\n| step | seconds |\n|---|---:|\n");
    for step in steps() {
        if let Some(secs) = s.done.get(&step) {
            md.push_str(&format!("| {step} | {secs:.0} |\n"));
        }
    }
    for n in &s.notes {
        md.push_str(&format!("\nNote: {n}\n"));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(system: &str, gold: &str) -> Item {
        Item {
            line: 1,
            task: Task::AnomalyDetection,
            system: system.into(),
            instruction: String::new(),
            input: Vec::new(),
            gold: gold.into(),
            category: None,
            kind: None,
        }
    }

    /// Numbers each task's items 1, 2, … and each variant's answers on a task the same way, the
    /// order they were recorded in, as an evaluation records them.
    fn numbered(
        mut dev: Vec<Item>,
        mut answers: Vec<serde_json::Value>,
    ) -> (Vec<Item>, Vec<serde_json::Value>) {
        let mut next = std::collections::HashMap::new();
        for i in &mut dev {
            let n = next.entry(i.task.to_string()).or_insert(0);
            *n += 1;
            i.line = *n;
        }
        next.clear();
        for a in &mut answers {
            let n = next
                .entry(format!("{}/{}", a["variant"], a["task"]))
                .or_insert(0);
            *n += 1;
            a["line"] = serde_json::json!(*n);
        }
        (dev, answers)
    }

    fn answer(variant: &str, said: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "variant": variant,
            "task": "anomaly_detection",
            "answer": said,
            "text": said.map(|s| format!("Answer: {s}")).unwrap_or_default(),
        })
    }

    #[test]
    fn anomaly_detection_is_scored_per_source_in_the_dev_order() {
        let dev = vec![
            item("", "abnormal"),
            item("BGL", "abnormal"),
            item("", "normal"),
            item("BGL", "normal"),
            // Another task's item is not counted.
            Item {
                task: Task::FailurePrediction,
                ..item("BGL", "yes")
            },
        ];
        let mut answers = vec![
            // Right on both LogLM rows; on the BGL windows one miss and one unreadable answer.
            answer("base", Some("abnormal")),
            answer("base", Some("normal")),
            answer("base", Some("normal")),
            answer("base", None),
        ];
        // A variant with part of its answers recorded gets no row.
        answers.push(answer("direct SFT", Some("abnormal")));
        // The diagnosis prompt's rows come after the variants.
        let diagnosed = on_diagnosis_prompt(super::super::FULL);
        for said in ["abnormal", "abnormal", "normal", "abnormal"] {
            answers.push(answer(&diagnosed, Some(said)));
        }
        let (dev, mut answers) = numbered(dev, answers);
        // Answers to other items than these (as many as there are items) get no row either.
        for line in 5..9 {
            let mut a = answer("stepwise SFT", Some("normal"));
            a["line"] = serde_json::json!(line);
            answers.push(a);
        }
        let md = by_source(&dev, &answers);
        assert!(
            md.contains("| full (+ DPO), diagnosis prompt | 0.667 | 0.500 | 1.000 | 1.000 |"),
            "{md}"
        );
        assert!(
            md.contains("| variant | BGL windows, 2 (f1) | BGL windows (accuracy) | LogLM rows, 2 (f1) | LogLM rows (accuracy) |"),
            "{md}"
        );
        assert!(
            md.contains("| base | 0.000 | 0.000 | 1.000 | 1.000 |"),
            "{md}"
        );
        assert!(!md.contains("direct SFT"), "{md}");
        assert!(!md.contains("stepwise SFT"), "{md}");
    }

    /// Cut answers are counted per variant and task; answers recorded before cuts were are `–`.
    #[test]
    fn answers_cut_by_the_limit_are_counted() {
        let dev = vec![item("BGL", "abnormal"), item("BGL", "normal")];
        let row = |variant: &str, cut: Option<bool>| {
            let mut r = answer(variant, Some("normal"));
            if let Some(c) = cut {
                r["cut"] = serde_json::json!(c);
            }
            r
        };
        let answers = vec![
            row("direct SFT", Some(false)),
            row("direct SFT", Some(false)),
            row("thought + stepwise SFT", Some(true)),
            row("thought + stepwise SFT", Some(false)),
            row("base", None),
            row("base", None),
        ];
        let md = cut_table(&dev, &answers);
        assert!(md.contains("| direct SFT | 0/2 |"), "{md}");
        assert!(md.contains("| thought + stepwise SFT | 1/2 |"), "{md}");
        assert!(!md.contains("| base |"), "{md}");
    }

    #[test]
    fn parsing_is_split_by_whether_its_template_was_trained_on() {
        let parse = |line: &str, gold: &str| Item {
            task: Task::LogParsing,
            input: vec![line.to_string()],
            ..item("", gold)
        };
        let dev = vec![
            parse("took 5 ms", "took <*> ms"),
            parse("took 9 ms", "took <*> ms"),
            parse("user bob left", "user <*> left"),
        ];
        let train = vec![parse("took 7 ms", "took <*> ms")];
        let said = |answer: &str| {
            serde_json::json!({
                "variant": "direct SFT",
                "task": "log_parsing",
                "answer": answer,
                "text": format!("Answer: {answer}"),
            })
        };
        let answers = vec![
            said("took <*> ms"),
            said("took <*> ms"),
            said("user bob left"),
        ];
        let (dev, answers) = numbered(dev, answers);
        let md = by_seen_template(&dev, &train, &answers);
        assert!(
            md.contains(
                "| variant | template not seen, 1 (ga) | template seen in training, 2 (ga) |"
            ),
            "{md}"
        );
        assert!(md.contains("| direct SFT | 1.000 | 1.000 |"), "{md}");
    }

    #[test]
    fn root_cause_is_split_by_whether_its_log_was_trained_on() {
        let rc = |input: &str, gold: &str| Item {
            task: Task::RootCause,
            input: vec![input.to_string()],
            ..item("", gold)
        };
        let dev = vec![
            rc("disk at 100%", "disk full"),
            rc("oom killer", "out of memory"),
        ];
        // The first dev log is also a training item's input, asked another question.
        let train = vec![Item {
            task: Task::Interpretation,
            ..rc("disk at 100%", "the disk is full")
        }];
        let said = |answer: &str| {
            serde_json::json!({
                "variant": "direct SFT",
                "task": "root_cause",
                "answer": answer,
                "text": format!("Answer: {answer}"),
            })
        };
        let answers = vec![said("disk full"), said("network down")];
        let (dev, answers) = numbered(dev, answers);
        let md = by_seen_log(&dev, &train, &answers);
        assert!(md.starts_with("root_cause:"), "{md}");
        assert!(
            md.contains(
                "| variant | log not seen, 1 (token_f1) | log seen in training, 1 (token_f1) |"
            ),
            "{md}"
        );
        assert!(md.contains("| direct SFT | 0.000 | 1.000 |"), "{md}");
        assert!(!md.contains("interpretation"), "{md}");
    }
}
