//! The model's own answers as training data. Rejection sampling (the `samples` step): the base
//! model answers traced training items, and a right, grounded answer joins the stepwise data. The
//! policy's mistakes (the `policy` step): the thought + stepwise adapter, the model DPO starts
//! from, answers traced training items as it would in use (greedy), on the task's prompt and, for
//! anomaly items, on the diagnosis prompt; each wrong answer is the rejected side of a DPO pair
//! whose chosen side is the trace. DPO then calibrates the mistakes the trained model makes, not
//! the base model's rambling, which SFT already removed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{io, sft_row, traces, write_jsonl, Ctx, ExperimentError};
use crate::eval::{self, data::Item};
use crate::llm::backend::{Backend, BackendSpec};
use crate::llm::chat::Message;
use crate::llm::model::{GenerationParams, LlmError};
use crate::store::Task;

/// One sampled answer, as `samples.jsonl` and `policy.jsonl` keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sample {
    item: usize,
    /// Answered on the diagnosis prompt (policy samples of anomaly items), not the task's.
    #[serde(default)]
    diagnosis: bool,
    text: String,
    right: bool,
    /// The adapter that answered (policy samples: its weights' SHA-256); none for the base model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adapter: Option<String>,
    /// Which of the policy's answers to its prompt: 0 greedy, then samples.
    #[serde(default)]
    draw: usize,
}

/// The training items a teacher's trace reaches (index and kept trace).
fn traced<'a>(
    teachers: &traces::Teachers,
    items: impl Iterator<Item = (usize, &'a Item)>,
) -> Vec<(usize, traces::Trace)> {
    items
        .filter_map(|(i, item)| teachers.compose(item).map(|t| (i, t)))
        .collect()
}

/// `want` of `all` spread evenly over it (items come grouped by task).
fn spread<T: Clone>(all: Vec<T>, want: usize) -> Vec<T> {
    let want = want.min(all.len());
    (0..want)
        .map(|k| all[k * all.len() / want.max(1)].clone())
        .collect()
}

/// Appends samples to a JSONL file, one line each as it is made, so a killed run resumes at the
/// next one.
struct Appender {
    path: PathBuf,
    file: std::fs::File,
}

impl Appender {
    fn open(path: &Path) -> Result<Appender, ExperimentError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        Ok(Appender {
            path: path.to_path_buf(),
            file,
        })
    }

    fn push(&mut self, s: &Sample) -> Result<(), ExperimentError> {
        let line = serde_json::to_string(s).map_err(|e| io(&self.path, e))?;
        std::io::Write::write_all(&mut self.file, format!("{line}\n").as_bytes())
            .map_err(|e| io(&self.path, e))
    }
}

/// The model's answer to `messages`; empty where the prompt does not fit its context (no sample,
/// and the item is not tried again).
fn answer(
    model: &mut Backend,
    messages: &[Message],
    params: &GenerationParams,
) -> Result<String, ExperimentError> {
    let cancel = AtomicBool::new(false);
    match model.chat(messages, params, &cancel, &mut |_| {}) {
        Err(LlmError::ContextTooLong { .. }) => Ok(String::new()),
        other => Ok(other?.text.trim().to_string()),
    }
}

/// A cut-off answer gets the cue but no forced label: training data is only what the model wrote.
fn params(max_tokens: usize, temperature: f64, seed: u64) -> GenerationParams {
    GenerationParams {
        max_tokens,
        temperature,
        seed,
        answer_cue: Some(crate::reasoning::ANSWER_CUE.into()),
        ..Default::default()
    }
}

/// Whether a sample is worth learning as the chosen side: right, and for a binary task grounded
/// in the window (a right binary answer that stands on nothing is the model's habit, not
/// reasoning).
fn learnable(item: &Item, s: &Sample) -> bool {
    s.right
        && (!matches!(item.task, Task::AnomalyDetection | Task::FailurePrediction)
            || traces::grounded(item, &s.text))
}

/// How many samples there are, and how many of them are right.
fn answered_and_right(done: &[Sample]) -> (usize, usize) {
    (done.len(), done.iter().filter(|s| s.right).count())
}

fn dpo_pair(prompt: &[Message], chosen: &str, rejected: &str) -> serde_json::Value {
    json!({
        "prompt": super::messages_json(prompt),
        "chosen": [{ "role": "assistant", "content": chosen }],
        "rejected": [{ "role": "assistant", "content": rejected }],
    })
}

/// Rejection sampling: the base model answers traced training items (at temperature 0.7); a
/// right, grounded answer joins the stepwise data.
pub(super) fn sample(ctx: &mut Ctx) -> Result<(), ExperimentError> {
    let teachers = ctx.teachers();
    let picked = spread(
        traced(&teachers, ctx.train.iter().enumerate()),
        ctx.opts.scale.samples(),
    );
    let path = ctx.path("samples.jsonl");
    let mut done = super::read_jsonl::<Sample>(&path);
    let todo: Vec<usize> = picked
        .iter()
        .map(|(i, _)| *i)
        .filter(|i| !done.iter().any(|s| s.item == *i))
        .collect();
    if !todo.is_empty() {
        let mut model = BackendSpec::Local {
            path: ctx.opts.model.clone(),
            adapter: None,
            device: ctx.opts.device.clone(),
        }
        .open()?;
        let mut out = Appender::open(&path)?;
        for (n, &i) in todo.iter().enumerate() {
            let item = &ctx.train[i];
            let p = params(ctx.opts.scale.max_tokens(item.task), 0.7, i as u64);
            let text = answer(&mut model, &eval::messages(item), &p)?;
            let right = traces::is_right(
                item,
                crate::answer::committed_answer(item.task, &text).as_deref(),
            );
            let s = Sample {
                item: i,
                diagnosis: false,
                text,
                right,
                adapter: None,
                draw: 0,
            };
            out.push(&s)?;
            done.push(s);
            (ctx.progress)(&format!("  sampled {}/{}", n + 1, todo.len()));
        }
    }
    let learned: Vec<&Sample> = done
        .iter()
        .filter(|s| picked.iter().any(|(i, _)| *i == s.item))
        .filter(|s| learnable(&ctx.train[s.item], s))
        .collect();
    // The right samples join both reasoned datasets as the model wrote them, framed in the
    // coarse-to-fine data as its traces are.
    for (traced, out, framed) in [
        ("stepwise_traces.jsonl", "stepwise.jsonl", false),
        ("coarse_fine_traces.jsonl", "coarse_fine.jsonl", true),
    ] {
        let mut rows = super::training_rows(&ctx.path(traced))?;
        for s in &learned {
            let item = &ctx.train[s.item];
            let frame = if framed {
                traces::framing_charts(&ctx.opts.charts, item)
            } else {
                Vec::new()
            };
            rows.push(sft_row(
                eval::messages(item),
                &traces::thought_first(&frame, &s.text),
            ));
        }
        write_jsonl(&ctx.path(out), &rows)?;
    }
    let data = &mut ctx.state.data;
    let current: Vec<Sample> = done
        .iter()
        .filter(|s| picked.iter().any(|(i, _)| *i == s.item))
        .cloned()
        .collect();
    (data.sampled, data.samples_right) = answered_and_right(&current);
    data.samples_learned = learned.len();
    (ctx.progress)(&format!(
        "  {} samples, {} right ({} grounded enough to join the stepwise data)",
        data.sampled, data.samples_right, data.samples_learned
    ));
    Ok(())
}

/// One prompt the policy answers: the item, which prompt, the chat, and the trace's text in that
/// prompt's format (the chosen side).
struct Probe {
    item: usize,
    diagnosis: bool,
    messages: Vec<Message>,
    chosen: String,
}

/// The answer the stepwise data holds for each user message (`stepwise_traces.jsonl`).
fn trained_answers(ctx: &Ctx) -> Result<HashMap<String, String>, ExperimentError> {
    let mut out = HashMap::new();
    for row in super::training_rows(&ctx.path("stepwise_traces.jsonl"))? {
        let Some(messages) = row["messages"].as_array() else {
            continue;
        };
        let content = |role: &str| {
            messages
                .iter()
                .rev()
                .find(|m| m["role"] == role)
                .and_then(|m| m["content"].as_str())
                .map(str::to_string)
        };
        if let (Some(user), Some(answer)) = (content("user"), content("assistant")) {
            out.insert(user, answer);
        }
    }
    Ok(out)
}

/// The prompts the policy answers: each picked window (a window repeated to balance the labels
/// counts once: greedy answers to copies would be copies) on its task's prompt, and an anomaly
/// item also on the diagnosis prompt, the chosen side being the trace as the stepwise data wrote
/// it. A prompt whose trace today differs from the data's (the teachers changed since the data
/// step) is left out: DPO would prefer a text SFT never saw.
fn probes(ctx: &Ctx) -> Result<Vec<Probe>, ExperimentError> {
    let teachers = ctx.teachers();
    let mut seen = HashSet::new();
    let distinct = ctx
        .train
        .iter()
        .enumerate()
        .filter(|(_, item)| seen.insert((item.task, item.input.clone())));
    let traced = traced(&teachers, distinct);
    let precision = super::teacher_precision(&teachers, &ctx.train);
    let trained = trained_answers(ctx)?;
    let mut out = Vec::new();
    for (i, trace) in spread(traced, ctx.opts.scale.samples()) {
        let item = &ctx.train[i];
        let mut candidates = vec![(false, eval::messages(item), trace.text.clone())];
        let confidence = precision.get(&trace.teacher).copied().unwrap_or(0.5);
        candidates.extend(
            traces::diagnosis_example(&ctx.opts.charts, item, Some(&trace), confidence)
                .map(|(messages, chosen)| (true, messages, chosen)),
        );
        for (diagnosis, messages, chosen) in candidates {
            let user = messages.iter().rev().find(|m| m.role == "user");
            if user.and_then(|m| trained.get(&m.content)) == Some(&chosen) {
                out.push(Probe {
                    item: i,
                    diagnosis,
                    messages,
                    chosen,
                });
            }
        }
    }
    Ok(out)
}

/// SHA-256 (hex) of an adapter's weights: the policy's answers belong to one adapter, and a
/// retrained one answers again.
fn adapter_id(adapter: &Path) -> Result<String, ExperimentError> {
    use sha2::{Digest, Sha256};
    let weights = adapter.join("adapter_model.safetensors");
    let bytes = std::fs::read(&weights).map_err(|e| io(&weights, e))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// The policy's mistakes: the thought + stepwise adapter answers each probe greedily and, for the
/// later draws, at temperature 0.8; each distinct wrong (or right but ungrounded) answer becomes a
/// DPO pair, the trace chosen over it. Answers are kept in `policy.jsonl` with the adapter's id
/// and their draw, so a killed step resumes at the next one.
pub(super) fn policy(ctx: &mut Ctx, adapter: PathBuf) -> Result<(), ExperimentError> {
    let probes = probes(ctx)?;
    let draws = ctx.opts.scale.policy_draws();
    let id = adapter_id(&adapter)?;
    let path = ctx.path("policy.jsonl");
    let mut done: Vec<Sample> = super::read_jsonl::<Sample>(&path)
        .into_iter()
        .filter(|s| s.adapter.as_deref() == Some(id.as_str()))
        .collect();
    let answered = |done: &[Sample], p: &Probe, draw: usize| {
        done.iter()
            .position(|s| s.item == p.item && s.diagnosis == p.diagnosis && s.draw == draw)
    };
    let todo: Vec<(&Probe, usize)> = probes
        .iter()
        .flat_map(|p| (0..draws).map(move |d| (p, d)))
        .filter(|(p, d)| answered(&done, p, *d).is_none())
        .collect();
    if !todo.is_empty() {
        let mut model = BackendSpec::Local {
            path: ctx.opts.model.clone(),
            adapter: Some(adapter),
            device: ctx.opts.device.clone(),
        }
        .open()?;
        let mut out = Appender::open(&path)?;
        let diagnosis_tokens = crate::config::DiagnosisSettings::default().max_tokens;
        for (n, (probe, draw)) in todo.iter().enumerate() {
            let item = &ctx.train[probe.item];
            let max_tokens = if probe.diagnosis {
                diagnosis_tokens
            } else {
                ctx.opts.scale.max_tokens(item.task)
            };
            let (temperature, seed) = match draw {
                0 => (0.0, 0),
                d => (0.8, (probe.item * 16 + d) as u64),
            };
            let text = answer(
                &mut model,
                &probe.messages,
                &params(max_tokens, temperature, seed),
            )?;
            let read = if probe.diagnosis {
                eval::diagnosis_answer(item.task, &text)
            } else {
                crate::answer::committed_answer(item.task, &text)
            };
            let s = Sample {
                item: probe.item,
                diagnosis: probe.diagnosis,
                right: traces::is_right(item, read.as_deref()),
                text,
                adapter: Some(id.clone()),
                draw: *draw,
            };
            out.push(&s)?;
            done.push(s);
            (ctx.progress)(&format!("  policy answered {}/{}", n + 1, todo.len()));
        }
    }
    let mut pairs = Vec::new();
    let mut greedy = Vec::new();
    for probe in &probes {
        let item = &ctx.train[probe.item];
        let mut rejected: Vec<&str> = Vec::new();
        for draw in 0..draws {
            let Some(s) = answered(&done, probe, draw).map(|k| &done[k]) else {
                continue;
            };
            if draw == 0 {
                greedy.push(s.clone());
            }
            let wrong = !learnable(item, s) && !s.text.is_empty() && s.text != probe.chosen.trim();
            if wrong && !rejected.contains(&s.text.as_str()) {
                rejected.push(&s.text);
                pairs.push(dpo_pair(&probe.messages, &probe.chosen, &s.text));
            }
        }
    }
    write_jsonl(&ctx.path("dpo.jsonl"), &pairs)?;
    let data = &mut ctx.state.data;
    (data.policy_answered, data.policy_right) = answered_and_right(&greedy);
    data.policy_draws = draws;
    data.dpo_pairs = pairs.len();
    (ctx.progress)(&format!(
        "  the policy answered {} prompts, {} right; {} DPO pairs",
        data.policy_answered, data.policy_right, data.dpo_pairs
    ));
    Ok(())
}
