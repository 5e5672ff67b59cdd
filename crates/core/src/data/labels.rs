//! Portable human labels: an annotator's labels written with the content they judge (the instance
//! and both solutions' texts), so another database can merge them whatever its record ids are.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::redact::Redactor;

use crate::store::{
    LabelSource, Preference, PreferenceLabel, ReviewStatus, Solution, Store, StoreError, Task,
    TaskInstance,
};

/// A label's task instance, by content rather than record id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortableInstance {
    /// The instance's task.
    pub task: Task,
    /// The log's system, as stored.
    pub system: String,
    /// The question or instruction (secrets scrubbed when exported with redaction).
    pub instruction: String,
    /// The log lines shown to the model (secrets scrubbed when exported with redaction).
    pub input: Vec<String>,
    /// The reference answer (secrets scrubbed when exported with redaction).
    pub gold: String,
    /// Where the instance came from, as stored.
    pub source: String,
}

/// One side of a label: a solution's text and the model that wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortableSolution {
    /// The whole solution text (secrets scrubbed when exported with redaction).
    pub text: String,
    /// Name of the model that wrote it.
    pub model: String,
}

/// One label as a JSONL row of `export labels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortableLabel {
    /// Who made the label.
    pub annotator: String,
    /// Whether `chosen` won, the two tied, or the pair was skipped.
    pub preference: Preference,
    /// The annotator marked the pair for a second look.
    pub flagged: bool,
    /// Whether the chosen solution was the one on the left.
    pub chosen_was_left: Option<bool>,
    /// When the label was made, in Unix milliseconds.
    pub created_at: u64,
    /// The instance both solutions answer.
    pub instance: PortableInstance,
    /// The preferred solution (for a tie, the one that was on the left).
    pub chosen: PortableSolution,
    /// The other solution.
    pub rejected: PortableSolution,
}

/// Writes every human label (of `annotator`, or everyone's) as JSONL; returns how many.
pub fn export(
    store: &Store,
    path: &Path,
    annotator: Option<&str>,
    mut redactor: Option<&mut Redactor>,
) -> Result<usize, String> {
    let mut scrub = |text: String| match redactor.as_deref_mut() {
        Some(r) => r.scrub(&text),
        None => text,
    };
    let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let mut n = 0;
    let labels = store.all::<PreferenceLabel>().map_err(|e| e.to_string())?;
    for l in labels
        .iter()
        .filter(|l| l.source == LabelSource::Human && annotator.is_none_or(|a| a == l.annotator))
    {
        let get = |id| -> Result<Solution, String> { store.load(id).map_err(|e| e.to_string()) };
        let i: TaskInstance = store.load(l.instance_id).map_err(|e| e.to_string())?;
        let (c, r) = (get(l.chosen)?, get(l.rejected)?);
        let row = PortableLabel {
            annotator: l.annotator.clone(),
            preference: l.preference,
            flagged: l.flagged,
            chosen_was_left: l.shown_left.map(|left| left == l.chosen),
            created_at: l.created_at,
            instance: PortableInstance {
                task: i.task,
                system: i.system,
                instruction: scrub(i.instruction),
                input: i.input.into_iter().map(&mut scrub).collect(),
                gold: scrub(i.gold),
                source: i.source,
            },
            chosen: PortableSolution {
                text: scrub(c.text),
                model: c.model,
            },
            rejected: PortableSolution {
                text: scrub(r.text),
                model: r.model,
            },
        };
        let line = serde_json::to_string(&row).map_err(|e| e.to_string())?;
        writeln!(f, "{line}").map_err(io)?;
        n += 1;
    }
    f.flush().map_err(io)?;
    Ok(n)
}

/// What a merge did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Merged {
    /// Labels added.
    pub labels: usize,
    /// Labels skipped because this database already has them (same annotator and pair).
    pub already_there: usize,
    /// Task instances the file brought that were not here yet.
    pub instances_added: usize,
    /// Solutions the file brought that were not here yet.
    pub solutions_added: usize,
    /// Lines that could not be used, with why (1-based line numbers).
    pub skipped: Vec<(usize, String)>,
}

fn find_or_add_solution(
    store: &Store,
    task: Task,
    instance: u64,
    s: &PortableSolution,
    merged: &mut Merged,
) -> Result<u64, StoreError> {
    if let Some(found) = store
        .all::<Solution>()?
        .into_iter()
        .find(|x| x.instance_id == instance && x.text == s.text)
    {
        return Ok(found.id);
    }
    let mut new = Solution {
        id: 0,
        instance_id: instance,
        thought_id: None,
        text: s.text.clone(),
        answer: crate::answer::committed_answer(task, &s.text),
        score: None,
        correct: None,
        model: s.model.clone(),
        status: ReviewStatus::Pending,
        diagnosis: None,
        created_at: crate::time::now_millis(),
    };
    merged.solutions_added += 1;
    store.insert(&mut new)
}

/// Merges another annotator's `export labels` file. Instances and solutions are matched by content
/// (added when missing); a label this database already has (same annotator and pair) is not added
/// twice. A malformed line is reported with its number and skipped.
pub fn import(store: &Store, path: &Path) -> Result<Merged, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut merged = Merged::default();
    let existing: Vec<PreferenceLabel> = store.all().map_err(|e| e.to_string())?;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: PortableLabel = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                merged.skipped.push((n + 1, e.to_string()));
                continue;
            }
        };
        if row.chosen.text.trim() == row.rejected.text.trim() {
            merged.skipped.push((
                n + 1,
                "chosen and rejected are the same text; a preference needs two different solutions"
                    .into(),
            ));
            continue;
        }
        let p = &row.instance;
        let mut instance = TaskInstance {
            id: 0,
            task: p.task,
            system: p.system.clone(),
            instruction: p.instruction.clone(),
            input: p.input.clone(),
            gold: p.gold.clone(),
            source: p.source.clone(),
            content_hash: TaskInstance::hash(p.task, &p.instruction, &p.input),
            params: Default::default(),
            created_at: crate::time::now_millis(),
        };
        let result = (|| -> Result<(), StoreError> {
            let (id, new) = store.insert_instance(&mut instance)?;
            merged.instances_added += usize::from(new);
            let chosen = find_or_add_solution(store, p.task, id, &row.chosen, &mut merged)?;
            let rejected = find_or_add_solution(store, p.task, id, &row.rejected, &mut merged)?;
            let pair = (chosen.min(rejected), chosen.max(rejected));
            let dup = existing.iter().any(|l| {
                l.source == LabelSource::Human && l.annotator == row.annotator && l.pair() == pair
            });
            if dup {
                merged.already_there += 1;
                return Ok(());
            }
            let mut label = PreferenceLabel {
                id: 0,
                instance_id: id,
                chosen,
                rejected,
                preference: row.preference,
                source: LabelSource::Human,
                annotator: row.annotator.clone(),
                shown_left: row
                    .chosen_was_left
                    .map(|left| if left { chosen } else { rejected }),
                flagged: row.flagged,
                created_at: row.created_at,
            };
            store.record_label(&mut label, None)?;
            merged.labels += 1;
            Ok(())
        })();
        if let Err(e) = result {
            return Err(format!("{}:{}: {e}", path.display(), n + 1));
        }
    }
    Ok(merged)
}
