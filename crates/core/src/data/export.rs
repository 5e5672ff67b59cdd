//! Exports for the big training engines: SFT (thought or stepwise stage) and DPO data as JSONL, in
//! TRL's conversational format (`messages`; `prompt`/`chosen`/`rejected`) or LLaMA-Factory's alpaca
//! format with its `dataset_info.json`. Only accepted or labelled data; deterministic order (by id);
//! an optional train/dev split by instance; secrets scrubbed unless asked not to.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::redact::Redactor;
use crate::llm::chat::Message;
use crate::reasoning::{prompt, thought_text};
use crate::store::{Id, ReviewStatus, Solution, Store, StoreError, TaskInstance, Thought};

/// Which SFT stage an export feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Flowchart thoughts: accepted thoughts, each asked for with its task instance.
    Thought,
    /// Stepwise solutions: accepted solutions and the chosen side of human preferences.
    Stepwise,
}

/// The file layout of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TRL's conversational JSONL (`messages`; `prompt`/`chosen`/`rejected`).
    Trl,
    /// LLaMA-Factory's alpaca JSONL, with its `dataset_info.json`.
    LlamaFactory,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the examples from the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or folder of the export could not be written.
    #[error("cannot write {path}: {error}")]
    Write {
        /// The file or folder being written.
        path: PathBuf,
        /// Not `source`: the message already includes it, and an error chain would print it twice.
        error: std::io::Error,
    },
}

/// One training example before formatting: the prompt chat and the answer(s).
#[derive(Debug, Clone, PartialEq)]
pub enum Example {
    /// A supervised example: the prompt and the answer to learn.
    Sft {
        /// The task instance it comes from; `None` for a thought tied to no instance.
        instance: Option<Id>,
        /// The prompt chat the answer follows.
        prompt: Vec<Message>,
        /// The assistant's answer: a thought's text or an accepted solution.
        answer: String,
    },
    /// A preference pair for DPO: one prompt, the preferred and the rejected answer.
    Dpo {
        /// The task instance both solutions answer.
        instance: Id,
        /// The prompt chat, built from the chosen solution.
        prompt: Vec<Message>,
        /// Text of the preferred solution.
        chosen: String,
        /// Text of the rejected solution.
        rejected: String,
    },
}

impl Example {
    fn instance(&self) -> Option<Id> {
        match self {
            Example::Sft { instance, .. } => *instance,
            Example::Dpo { instance, .. } => Some(*instance),
        }
    }
}

fn solution_prompt(
    store: &Store,
    instance: &TaskInstance,
    s: &Solution,
) -> Result<Vec<Message>, StoreError> {
    let thought = match s.thought_id {
        Some(id) => store.get::<Thought>(id)?.map(|t| thought_text(&t)),
        None => None,
    };
    Ok(prompt::solution(
        instance.task,
        instance.params.get("kind").map(String::as_str),
        &instance.instruction,
        &instance.input,
        thought.as_deref(),
    ))
}

/// SFT examples of a stage. Thought stage: accepted thoughts, each asked for with the instance it
/// was written for or first used on. Stepwise stage: accepted solutions and the chosen side of
/// human preferences.
pub fn sft_examples(store: &Store, stage: Stage) -> Result<Vec<Example>, StoreError> {
    let instances: BTreeMap<Id, TaskInstance> = store
        .all::<TaskInstance>()?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let solutions = store.all::<Solution>()?;
    let mut out = Vec::new();
    match stage {
        Stage::Thought => {
            for t in store
                .all::<Thought>()?
                .into_iter()
                .filter(|t| t.status == ReviewStatus::Accepted)
            {
                let instance = t.instance_id.or_else(|| {
                    solutions
                        .iter()
                        .find(|s| s.thought_id == Some(t.id))
                        .map(|s| s.instance_id)
                });
                let prompt = match instance.and_then(|id| instances.get(&id)) {
                    Some(i) => prompt::thought(i.task, &i.system, &i.instruction, &i.input),
                    None => vec![Message::user(format!(
                        "Write the expert troubleshooting thought for the flowchart `{}`.",
                        t.chart_id.as_deref().unwrap_or("unknown")
                    ))],
                };
                out.push(Example::Sft {
                    instance,
                    prompt,
                    answer: thought_text(&t),
                });
            }
        }
        Stage::Stepwise => {
            let chosen: std::collections::HashSet<Id> = super::preferences::effective(store)?
                .into_iter()
                .map(|l| l.chosen)
                .collect();
            for s in &solutions {
                if s.status != ReviewStatus::Accepted
                    && !(chosen.contains(&s.id) && s.status != ReviewStatus::Rejected)
                {
                    continue;
                }
                let Some(i) = instances.get(&s.instance_id) else {
                    continue;
                };
                out.push(Example::Sft {
                    instance: Some(i.id),
                    prompt: solution_prompt(store, i, s)?,
                    answer: s.text.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// DPO examples: one per pair of solutions with a winner, a person's label over an automatic one
/// (`preferences::effective`), in label order.
pub fn dpo_examples(store: &Store) -> Result<Vec<Example>, StoreError> {
    let mut out = Vec::new();
    for l in super::preferences::effective(store)? {
        let (Some(i), Some(c), Some(r)) = (
            store.get::<TaskInstance>(l.instance_id)?,
            store.get::<Solution>(l.chosen)?,
            store.get::<Solution>(l.rejected)?,
        ) else {
            continue;
        };
        out.push(Example::Dpo {
            instance: i.id,
            prompt: solution_prompt(store, &i, &c)?,
            chosen: c.text,
            rejected: r.text,
        });
    }
    Ok(out)
}

fn message_json(m: &Message, r: &mut Option<Redactor>) -> Value {
    json!({ "role": m.role, "content": scrub(r, &m.content) })
}

fn scrub(r: &mut Option<Redactor>, text: &str) -> String {
    match r {
        Some(r) => r.scrub(text),
        None => text.to_string(),
    }
}

/// The example as one JSONL record in `format`.
pub fn record(e: &Example, format: Format, r: &mut Option<Redactor>) -> Value {
    let split = |prompt: &[Message]| {
        let system: Vec<&str> = prompt
            .iter()
            .filter(|m| m.role == "system")
            .map(|m| m.content.as_str())
            .collect();
        let user: Vec<&str> = prompt
            .iter()
            .filter(|m| m.role != "system")
            .map(|m| m.content.as_str())
            .collect();
        (system.join("\n"), user.join("\n"))
    };
    match (e, format) {
        (Example::Sft { prompt, answer, .. }, Format::Trl) => {
            let mut messages: Vec<Value> = prompt.iter().map(|m| message_json(m, r)).collect();
            messages.push(json!({ "role": "assistant", "content": scrub(r, answer) }));
            json!({ "messages": messages })
        }
        (
            Example::Dpo {
                prompt,
                chosen,
                rejected,
                ..
            },
            Format::Trl,
        ) => json!({
            "prompt": prompt.iter().map(|m| message_json(m, r)).collect::<Vec<_>>(),
            "chosen": [{ "role": "assistant", "content": scrub(r, chosen) }],
            "rejected": [{ "role": "assistant", "content": scrub(r, rejected) }],
        }),
        (Example::Sft { prompt, answer, .. }, Format::LlamaFactory) => {
            let (system, user) = split(prompt);
            json!({ "instruction": scrub(r, &user), "input": "", "output": scrub(r, answer), "system": scrub(r, &system) })
        }
        (
            Example::Dpo {
                prompt,
                chosen,
                rejected,
                ..
            },
            Format::LlamaFactory,
        ) => {
            let (system, user) = split(prompt);
            json!({
                "instruction": scrub(r, &user), "input": "", "chosen": scrub(r, chosen),
                "rejected": scrub(r, rejected), "system": scrub(r, &system),
            })
        }
    }
}

/// Whether an example goes to the dev split: a stable hash of its instance, so every example of an
/// instance lands on the same side.
fn is_dev(instance: Option<Id>, fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let x = instance.unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    (x as f64 / (1u64 << 53) as f64) < fraction
}

/// What an export wrote.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Written {
    /// Each file written and how many records (or, for `dataset_info.json`, datasets) it holds.
    pub files: Vec<(PathBuf, usize)>,
    /// Secrets scrubbed, counted by kind (`password`, `email`, ...); empty without a redactor.
    pub redacted: BTreeMap<String, usize>,
}

fn write_jsonl(path: &Path, rows: &[Value]) -> Result<(), ExportError> {
    let err = |source| ExportError::Write {
        path: path.to_path_buf(),
        error: source,
    };
    let tmp = path.with_extension("jsonl.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(err)?);
    for row in rows {
        writeln!(f, "{row}").map_err(err)?;
    }
    f.into_inner()
        .map_err(|e| err(e.into_error()))?
        .sync_all()
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// The TRL + accelerate scale-out kit (assets/trl), compiled in so an installed binary carries it.
const TRL_KIT: [(&str, &str); 3] = [
    (
        "train_stage.py",
        include_str!("../../../../assets/trl/train_stage.py"),
    ),
    (
        "accelerate.yaml",
        include_str!("../../../../assets/trl/accelerate.yaml"),
    ),
    (
        "README.md",
        include_str!("../../../../assets/trl/README.md"),
    ),
];

/// Writes the TRL + accelerate script, its config and instructions into `<dir>/trl/`, so the
/// exported data trains the same three stages on a GPU cluster. Returns the folder.
pub fn write_trl_kit(dir: &Path) -> Result<PathBuf, ExportError> {
    let kit = dir.join("trl");
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Write {
            path,
            error: source,
        }
    };
    std::fs::create_dir_all(&kit).map_err(err(&kit))?;
    for (name, text) in TRL_KIT {
        let path = kit.join(name);
        std::fs::write(&path, text).map_err(err(&path))?;
    }
    Ok(kit)
}

/// Writes `examples` as `<name>.jsonl` (and `<name>_dev.jsonl` with a split) into `dir`, plus
/// `dataset_info.json` for LLaMA-Factory.
pub fn write(
    dir: &Path,
    name: &str,
    examples: &[Example],
    format: Format,
    dev_fraction: f64,
    mut redactor: Option<Redactor>,
) -> Result<Written, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Write {
        path: dir.to_path_buf(),
        error: source,
    })?;
    let mut train = Vec::new();
    let mut dev = Vec::new();
    for e in examples {
        let row = record(e, format, &mut redactor);
        if is_dev(e.instance(), dev_fraction) {
            dev.push(row);
        } else {
            train.push(row);
        }
    }
    let mut written = Written::default();
    let mut splits = vec![(name.to_string(), train)];
    if dev_fraction > 0.0 {
        splits.push((format!("{name}_dev"), dev));
    }
    for (file, rows) in &splits {
        let path = dir.join(format!("{file}.jsonl"));
        write_jsonl(&path, rows)?;
        written.files.push((path, rows.len()));
    }
    if format == Format::LlamaFactory {
        let dpo = matches!(examples.first(), Some(Example::Dpo { .. })) || name.starts_with("dpo");
        let columns = if dpo {
            json!({ "prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected", "system": "system" })
        } else {
            json!({ "prompt": "instruction", "query": "input", "response": "output", "system": "system" })
        };
        let info_path = dir.join("dataset_info.json");
        let mut info: serde_json::Map<String, Value> = std::fs::read(&info_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for (file, _) in &splits {
            let mut entry = json!({ "file_name": format!("{file}.jsonl"), "formatting": "alpaca", "columns": columns });
            if dpo {
                entry["ranking"] = json!(true);
            }
            info.insert(file.clone(), entry);
        }
        let text = serde_json::to_string_pretty(&Value::Object(info)).unwrap_or_default();
        std::fs::write(&info_path, text + "\n").map_err(|source| ExportError::Write {
            path: info_path.clone(),
            error: source,
        })?;
        written.files.push((info_path, splits.len()));
    }
    written.redacted = redactor.map(|r| r.counts).unwrap_or_default();
    Ok(written)
}
