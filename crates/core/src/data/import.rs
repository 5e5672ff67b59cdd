//! Task instances from the data we have: Loghub-2k (parsing items from the corrected ground truth,
//! anomaly items from BGL's labels, failure-prediction windows from BGL), LogLM rows, and JSONL in
//! the generic schema. Every instance carries its source; duplicates (same content hash) merge.

use std::collections::BTreeMap;
use std::path::Path;

use crate::eval::data::{self, Item};
use crate::store::{Store, StoreError, Task, TaskInstance};
use crate::template::loghub;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An input file could not be read; the text says which and why.
    #[error("{0}")]
    Read(String),
    /// The database refused a write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    /// Instances new to the database.
    pub added: usize,
    /// Instances that matched an existing one by content hash and were merged into it.
    pub merged: usize,
    /// Lines of the input that could not be used, with why (line numbers are 1-based).
    pub skipped: Vec<(usize, String)>,
    /// New instances per task.
    pub by_task: BTreeMap<Task, usize>,
}

impl ImportReport {
    fn count(&mut self, task: Task, new: bool) {
        if new {
            self.added += 1;
            *self.by_task.entry(task).or_default() += 1;
        } else {
            self.merged += 1;
        }
    }
}

/// A new instance (id assigned on insert), its hash computed from its content.
fn instance(
    task: Task,
    system: &str,
    instruction: String,
    input: Vec<String>,
    gold: String,
    source: String,
) -> TaskInstance {
    TaskInstance {
        id: 0,
        task,
        system: system.to_string(),
        content_hash: TaskInstance::hash(task, &instruction, &input),
        instruction,
        input,
        gold,
        source,
        params: BTreeMap::new(),
        created_at: crate::time::now_millis(),
    }
}

fn add(
    store: &Store,
    report: &mut ImportReport,
    mut instance: TaskInstance,
) -> Result<(), StoreError> {
    let (_, new) = store.insert_instance(&mut instance)?;
    report.count(instance.task, new);
    Ok(())
}

/// Rows of a JSONL file (LogLM's `task, instruction, input, output` or the generic
/// `task, input, gold` schema). A malformed line is reported with its number; the rest is imported.
pub fn jsonl(store: &Store, path: &Path) -> Result<ImportReport, ImportError> {
    let loaded = data::load(path).map_err(ImportError::Read)?;
    let mut report = ImportReport {
        skipped: loaded.skipped,
        ..Default::default()
    };
    for item in loaded.items {
        let Item {
            line,
            task,
            system,
            instruction,
            input,
            gold,
            category,
            kind,
        } = item;
        let mut params = BTreeMap::new();
        if let Some(c) = category {
            params.insert("category".to_string(), c);
        }
        if let Some(k) = kind {
            params.insert("kind".to_string(), k);
        }
        add(
            store,
            &mut report,
            TaskInstance {
                params,
                ..instance(
                    task,
                    &system,
                    instruction,
                    input,
                    gold,
                    format!("{}:{line}", path.display()),
                )
            },
        )?;
    }
    Ok(report)
}

/// Instructions for the items built from Loghub (LogLM's wording style, our own words).
const PARSE_INSTRUCTION: &str =
    "Turn the log message into its template: keep the constant words and replace every variable part with <*>.";
const ANOMALY_INSTRUCTION: &str =
    "Decide whether the last log line reports an abnormal event (normal or abnormal).";
const FAILURE_INSTRUCTION: &str =
    "Given these log lines, will an abnormal event follow within the next lines? Answer yes or no.";

/// Settings of a Loghub import.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoghubSettings {
    /// Parsing items per system (the first N distinct messages); 0 for none.
    pub parsing_per_system: usize,
    /// Anomaly items (single BGL lines, sampled so both labels appear); 0 for none.
    pub anomaly_items: usize,
    /// Failure-prediction window W and horizon H (lines), and how far windows step.
    pub window: usize,
    /// Failure-prediction horizon H: how many lines after the window may hold the failure.
    pub horizon: usize,
    /// How many lines each failure-prediction window starts after the previous one.
    pub stride: usize,
}

impl Default for LoghubSettings {
    fn default() -> Self {
        LoghubSettings {
            parsing_per_system: 100,
            anomaly_items: 200,
            window: 20,
            horizon: 10,
            stride: 20,
        }
    }
}

/// Imports Loghub-2k from `root` (its 16 system folders).
pub fn loghub(store: &Store, root: &Path, s: LoghubSettings) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    for system in loghub::SYSTEMS {
        if s.parsing_per_system == 0 {
            break;
        }
        let rows = loghub::read_structured(root, system).map_err(ImportError::Read)?;
        let mut seen = std::collections::HashSet::new();
        for row in rows
            .iter()
            .filter(|r| seen.insert(r.content.clone()))
            .take(s.parsing_per_system)
        {
            add(
                store,
                &mut report,
                instance(
                    Task::LogParsing,
                    system,
                    PARSE_INSTRUCTION.into(),
                    vec![row.content.clone()],
                    row.template.clone(),
                    format!("loghub-2k/{system}:{}", row.line_id),
                ),
            )?;
        }
    }
    // BGL's raw lines start with the alert tag: `-` is normal, anything else an alert.
    let raw = loghub::raw_log(root, "BGL");
    let bytes = std::fs::read(&raw)
        .map_err(|e| ImportError::Read(format!("cannot read {}: {e}", raw.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<(bool, String)> = text
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((tag, rest)) => (tag != "-", rest.to_string()),
            None => (false, l.to_string()),
        })
        .collect();
    if s.anomaly_items > 0 {
        // Alerts are rare; take every alert line up to half the budget, then normal lines evenly.
        let alerts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].0).collect();
        let normals: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].0).collect();
        let n_alert = alerts.len().min(s.anomaly_items / 2);
        let n_normal = (s.anomaly_items - n_alert).min(normals.len());
        let step = |len: usize, n: usize| (len / n.max(1)).max(1);
        let picked = alerts
            .iter()
            .step_by(step(alerts.len(), n_alert))
            .take(n_alert)
            .chain(
                normals
                    .iter()
                    .step_by(step(normals.len(), n_normal))
                    .take(n_normal),
            );
        for &i in picked {
            let (alert, line) = &lines[i];
            add(
                store,
                &mut report,
                instance(
                    Task::AnomalyDetection,
                    "BGL",
                    ANOMALY_INSTRUCTION.into(),
                    vec![line.clone()],
                    if *alert { "abnormal" } else { "normal" }.into(),
                    format!("loghub-2k/BGL:{}", i + 1),
                ),
            )?;
        }
    }
    if s.window > 0 && s.horizon > 0 {
        let mut start = 0;
        while start + s.window + s.horizon <= lines.len() {
            let window: Vec<String> = lines[start..start + s.window]
                .iter()
                .map(|(_, l)| l.clone())
                .collect();
            let upcoming = lines[start + s.window..start + s.window + s.horizon]
                .iter()
                .any(|(a, _)| *a);
            let params = BTreeMap::from([
                ("window".to_string(), s.window.to_string()),
                ("horizon".to_string(), s.horizon.to_string()),
                ("first_line".to_string(), (start + 1).to_string()),
            ]);
            add(
                store,
                &mut report,
                TaskInstance {
                    params,
                    ..instance(
                        Task::FailurePrediction,
                        "BGL",
                        FAILURE_INSTRUCTION
                            .replace("the next lines", &format!("the next {} lines", s.horizon)),
                        window,
                        if upcoming { "yes" } else { "no" }.into(),
                        format!("loghub-2k/BGL:{}..{}", start + 1, start + s.window),
                    )
                },
            )?;
            start += s.stride.max(1);
        }
    }
    Ok(report)
}
