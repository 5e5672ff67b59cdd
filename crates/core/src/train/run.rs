//! A training run in its own folder, written by one (usually detached) process and read by anyone:
//!
//! - `config.yaml`: every setting of the run (stage, base model, data, LoRA, optimiser);
//! - `metrics.jsonl`: one line per optimiser step (loss, learning rate, gradient norm, tokens/s,
//!   DPO rewards, margin and accuracy) and per evaluation (`eval_loss`);
//! - `status.json`: state, step, speed, ETA, the process id, and what went wrong;
//! - `train.log`: what a person reads;
//! - `checkpoint/`: the last good state (PEFT adapter, AdamW moments, step), replaced atomically;
//! - `adapter/`: the usable adapter of the last checkpoint, in PEFT layout (for DPO the stepwise
//!   adapter and the DPO update stacked into one), which the runtime loads with `--adapter`.
//!
//! A killed run resumes from `checkpoint/`: the metrics after it are dropped and recomputed, and
//! because data order, initialisation and dropout-free steps are seeded, the curve is the same as an
//! uninterrupted run's. A `cancel` file asks the run to stop at the next step boundary.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::adamw::AdamW;
use super::base::{Base, Fit};
use super::data;
use super::dpo::{self, Pair};
use super::model::{Decoder, LoraConfig};
use super::peft;
use super::sft::{self, Example, MicroBatch, Settings};
use super::TrainError;
use crate::store::RunState;

/// The paper's three stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// SFT on expert thoughts.
    Thought,
    /// SFT on stepwise solutions, continuing from the thought adapter.
    Stepwise,
    /// DPO on preference pairs, from the stepwise adapter.
    Dpo,
}

impl Stage {
    /// Every stage, in training order.
    pub const ALL: [Stage; 3] = [Stage::Thought, Stage::Stepwise, Stage::Dpo];

    /// The stage's name in `config.yaml`, folder names and the CLI (`thought`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Thought => "thought",
            Stage::Stepwise => "stepwise",
            Stage::Dpo => "dpo",
        }
    }

    /// The stage whose adapter this one starts from.
    pub fn previous(self) -> Option<Stage> {
        match self {
            Stage::Thought => None,
            Stage::Stepwise => Some(Stage::Thought),
            Stage::Dpo => Some(Stage::Stepwise),
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| format!("unknown stage `{s}`; use thought, stepwise or dpo"))
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a run needs; `config.yaml` in the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Which stage this run trains.
    pub stage: Stage,
    /// A GGUF file (dequantised to f32) or a Hugging Face folder.
    pub base_model: PathBuf,
    /// JSONL as `logreasoner export` writes it.
    pub data: PathBuf,
    /// JSONL evaluated every `eval_every` steps and at the end; `None` skips evaluation.
    #[serde(default)]
    pub eval_data: Option<PathBuf>,
    /// The adapter this stage starts from (the previous stage's).
    #[serde(default)]
    pub from_adapter: Option<PathBuf>,
    /// LoRA rank (8 by default).
    pub rank: usize,
    /// LoRA scale: the update is `alpha / rank · B·A` (16 by default).
    pub alpha: f64,
    /// Adapter dropout in training, 0 to below 1 (0 by default).
    pub dropout: f32,
    /// Projections that get adapters (`q_proj`, `k_proj`, `v_proj`, `o_proj` by default).
    pub targets: Vec<String>,
    /// Peak learning rate, reached after warmup (2e-4 for SFT, 5e-5 for DPO by default).
    pub lr: f64,
    /// Steps of linear warmup; cosine decay to a tenth of `lr` follows.
    pub warmup: usize,
    /// Optimiser steps; when absent, `epochs` passes over the data.
    #[serde(default)]
    pub steps: Option<usize>,
    /// Passes over the data when `steps` is absent; may be fractional.
    pub epochs: f64,
    /// Examples per micro-batch.
    pub batch: usize,
    /// Micro-batches whose gradients add up to one optimiser step.
    pub accumulation: usize,
    /// The global gradient L2 norm is clipped to this; 0 turns clipping off.
    pub clip: f64,
    /// AdamW's decoupled weight decay (0 by default).
    pub weight_decay: f64,
    /// Seeds data order and adapter initialisation, so a run repeats exactly.
    pub seed: u64,
    /// Tokens per example; longer ones keep their start.
    pub max_len: usize,
    /// DPO's β.
    pub beta: f64,
    /// Save a checkpoint (and refresh `adapter/`) every this many steps, on cancel and at the end.
    pub checkpoint_every: usize,
    /// Evaluate every this many steps (and at the end) when `eval_data` is given.
    pub eval_every: usize,
}

impl RunConfig {
    /// Sound defaults for `stage`: LoRA r=8, α=16 on q/k/v/o; 2e-4 for SFT, 5e-5 for DPO.
    pub fn new(stage: Stage, base_model: PathBuf, data: PathBuf) -> RunConfig {
        RunConfig {
            stage,
            base_model,
            data,
            eval_data: None,
            from_adapter: None,
            rank: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: LoraConfig::default().targets,
            lr: if stage == Stage::Dpo { 5e-5 } else { 2e-4 },
            warmup: 5,
            steps: None,
            epochs: 1.0,
            batch: 4,
            accumulation: 1,
            clip: 1.0,
            weight_decay: 0.0,
            seed: 42,
            max_len: 512,
            beta: 0.1,
            checkpoint_every: 10,
            eval_every: 20,
        }
    }

    fn settings(&self, steps: usize) -> Settings {
        Settings {
            lr: self.lr,
            warmup: self.warmup,
            steps,
            batch: self.batch.max(1),
            accumulation: self.accumulation.max(1),
            clip: self.clip,
            weight_decay: self.weight_decay,
            seed: self.seed,
        }
    }

    /// Optimiser steps for `examples` training items.
    pub fn total_steps(&self, examples: usize) -> usize {
        self.steps.unwrap_or_else(|| {
            let per_step = (self.batch.max(1) * self.accumulation.max(1)) as f64;
            ((examples as f64 * self.epochs) / per_step).ceil().max(1.0) as usize
        })
    }
}

/// `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Running, succeeded, failed or cancelled.
    pub state: RunState,
    /// Steps done.
    pub step: usize,
    /// Optimiser steps the run takes in all (0 until its data is loaded).
    pub steps: usize,
    /// Process id of the process that trains the run.
    pub pid: u32,
    /// What is happening now, or why the run ended.
    pub message: String,
    /// When the status was last written, Unix milliseconds.
    pub updated_at: u64,
    /// Tokens trained per second in the last step (padding not counted).
    pub tokens_per_sec: f64,
    /// Mean wall seconds per optimiser step since this process started.
    pub secs_per_step: f64,
    /// Estimated seconds until the last step (0 once the run succeeded).
    pub eta_secs: f64,
    /// The step of the adapter in `adapter/`.
    pub checkpoint_step: Option<usize>,
    /// Set at the end: the last evaluation's `eval_loss`/`eval_accuracy` and the last step's
    /// `loss`, `margin` and `accuracy`, where they exist.
    #[serde(default)]
    pub final_metrics: BTreeMap<String, f64>,
    /// How the training examples were fitted to `max_len` (set once the data is loaded).
    #[serde(default)]
    pub fitted: Option<Fitted>,
}

/// How a run's training rows were made to fit its length limit: a prompt cut in its middle
/// trains on text the model is never shown whole, so a run says how many it cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fitted {
    /// Examples (SFT) or pairs (DPO) kept.
    pub kept: usize,
    /// Prompts that lost tokens from their middle.
    pub prompts_cut: usize,
    /// Answers that lost their end.
    pub answers_cut: usize,
    /// Rows with no room for an answer, left out.
    pub dropped: usize,
    /// The length limit, in tokens.
    pub max_len: usize,
}

impl std::fmt::Display for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} examples ({} prompts cut in the middle and {} answers cut to fit {} tokens, {} without room for an answer)",
            self.kept, self.prompts_cut, self.answers_cut, self.max_len, self.dropped
        )
    }
}

/// One line of `metrics.jsonl`: a training step, or an evaluation (only `step` and `eval_*`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricLine {
    /// Steps done, from 1.
    pub step: usize,
    /// Training loss averaged over the step's micro-batches (cross-entropy, or DPO's loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Learning rate the step used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Global gradient L2 norm before clipping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Tokens trained per second in this step (padding not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_sec: Option<f64>,
    /// Wall seconds of the step; evaluation and checkpoints not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_secs: Option<f64>,
    /// DPO: mean `beta * (policy - reference)` log-probability of the chosen answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_reward: Option<f64>,
    /// DPO: mean `beta * (policy - reference)` log-probability of the rejected answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_reward: Option<f64>,
    /// DPO: mean chosen reward minus rejected reward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    /// DPO: share of pairs whose margin is positive, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Loss on the evaluation data; set on evaluation lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_loss: Option<f64>,
    /// DPO: share of evaluation pairs with a positive margin; set on evaluation lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_accuracy: Option<f64>,
}

/// A run folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunDir {
    /// The run folder.
    pub path: PathBuf,
}

impl Status {
    /// The run's last state, said in the log too.
    fn end(&mut self, state: RunState, message: String, log: &mut Log) {
        if state == RunState::Succeeded {
            self.eta_secs = 0.0;
        }
        self.state = state;
        self.message = message;
        log.line(&self.message);
    }

    /// A finished step's line, at `per_step` seconds a step on average since this process started.
    fn record_step(&mut self, line: &MetricLine, per_step: f64) {
        self.step = line.step;
        self.secs_per_step = per_step;
        self.tokens_per_sec = line.tokens_per_sec.unwrap_or(0.0);
        self.eta_secs = per_step * self.steps.saturating_sub(line.step) as f64;
        self.message = format!(
            "step {}/{}, loss {:.4}",
            line.step,
            self.steps,
            line.loss.unwrap_or(f64::NAN)
        );
    }
}

fn now() -> u64 {
    crate::time::now_millis()
}

/// `YYYYMMDD-HHMMSS` in UTC, for folder names and log lines.
fn stamp() -> String {
    crate::time::format_utc(now())
        .replace(['-', ':'], "")
        .replace(' ', "-")
}

/// `fsutil::write_atomic`, with the path in the error.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}

impl RunDir {
    /// A new run folder under `root`, named by stage and time, holding `config`.
    pub fn create(root: &Path, config: &RunConfig) -> Result<RunDir, TrainError> {
        std::fs::create_dir_all(root).map_err(|e| TrainError::io(root, e))?;
        // Milliseconds too: folders sort in creation order even when runs start within a second.
        let stamp = format!("{}{:03}", stamp(), now() % 1000);
        let mut n = 0;
        let path = loop {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            let p = root.join(format!("{stamp}-{}{suffix}", config.stage));
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        Self::create_at(&path, config)
    }

    /// A new run in the folder `path` (which must not hold a run yet).
    pub fn create_at(path: &Path, config: &RunConfig) -> Result<RunDir, TrainError> {
        if path.join("config.yaml").exists() {
            return Err(TrainError::Invalid(format!(
                "{} already holds a run; resume it with `logreasoner train --resume {}`",
                path.display(),
                path.display()
            )));
        }
        let occupied = std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_some());
        if occupied {
            return Err(TrainError::Invalid(format!(
                "{} is not empty; a run needs a new or empty folder",
                path.display()
            )));
        }
        std::fs::create_dir_all(path).map_err(|e| TrainError::io(path, e))?;
        let dir = RunDir {
            path: path.to_path_buf(),
        };
        let yaml = serde_yaml::to_string(config).map_err(|e| TrainError::io(path, e))?;
        write_atomic(&dir.path.join("config.yaml"), yaml.as_bytes())?;
        Ok(dir)
    }

    /// The run in the folder `path`, without checking that one is there.
    pub fn open(path: &Path) -> RunDir {
        RunDir {
            path: path.to_path_buf(),
        }
    }

    /// The folder's name: stage and start time for a folder [`RunDir::create`] made.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads `config.yaml`; a damaged one is an error naming line and column.
    pub fn config(&self) -> Result<RunConfig, TrainError> {
        let path = self.path.join("config.yaml");
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_yaml::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            TrainError::Invalid(format!("{}{at}: {e}", path.display()))
        })
    }

    /// The status; `None` when the run wrote none yet or it cannot be read.
    pub fn status(&self) -> Option<Status> {
        self.read_status().ok().flatten()
    }

    /// The status, `None` when the run never wrote one (a new run), or why it cannot be read.
    pub fn read_status(&self) -> Result<Option<Status>, String> {
        let path = self.path.join("status.json");
        match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read status.json: {e}")),
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("status.json is damaged: {e}")),
        }
    }

    fn write_status(&self, status: &Status) -> Result<(), TrainError> {
        let text =
            serde_json::to_string_pretty(status).map_err(|e| TrainError::io(&self.path, e))?;
        write_atomic(&self.path.join("status.json"), text.as_bytes())
    }

    /// The metric lines written so far; a half-written last line is skipped.
    pub fn metrics(&self) -> Vec<MetricLine> {
        let text = std::fs::read_to_string(self.path.join("metrics.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// `adapter/`: the usable PEFT adapter of the last checkpoint.
    pub fn adapter_dir(&self) -> PathBuf {
        self.path.join("adapter")
    }

    /// `train.log`: what a person reads about the run.
    pub fn log_path(&self) -> PathBuf {
        self.path.join("train.log")
    }

    /// Asks the run to stop at its next step; it keeps the adapter of its last checkpoint.
    pub fn request_cancel(&self) -> Result<(), TrainError> {
        let path = self.path.join("cancel");
        std::fs::write(&path, b"").map_err(|e| TrainError::io(&path, e))
    }

    fn cancel_requested(&self) -> bool {
        self.path.join("cancel").exists()
    }

    fn checkpoint_dir(&self) -> PathBuf {
        self.path.join("checkpoint")
    }

    /// The last complete checkpoint, if any (an interrupted swap leaves `checkpoint.old`).
    fn last_checkpoint(&self) -> Option<PathBuf> {
        [self.checkpoint_dir(), self.path.join("checkpoint.old")]
            .into_iter()
            .find(|d| d.join("state.json").exists())
    }

    /// Whether a process is still writing this run (its pid is alive and the status says so).
    pub fn is_live(&self) -> bool {
        self.status()
            .is_some_and(|s| s.state == RunState::Running && training_process(s.pid))
    }
}

/// Whether `pid` is a running (not zombie) `logreasoner train` process: a run that died leaves
/// its status at `running`, and its pid may be reused.
fn training_process(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name's closing parenthesis.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, None | Some('Z') | Some('X')) {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmdline.split(|b| *b == 0).any(|arg| arg == b"train")
}

/// The run folders under `root`, oldest first.
pub fn list(root: &Path) -> Vec<RunDir> {
    let mut runs: Vec<RunDir> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("config.yaml").exists())
                .map(|path| RunDir { path })
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    runs
}

/// The adapter of the newest finished run of `stage` on `base_model` under `root`.
pub fn latest_adapter(root: &Path, stage: Stage, base_model: &Path) -> Option<PathBuf> {
    list(root).into_iter().rev().find_map(|run| {
        let done = run.status()?.state == RunState::Succeeded;
        let config = run.config().ok()?;
        let same = config.stage == stage && config.base_model == base_model;
        (done && same && run.adapter_dir().join("adapter_config.json").exists())
            .then(|| run.adapter_dir())
    })
}

/// A short name for an adapter folder: its run's folder name when it is a run's `adapter/`, else
/// its own folder name.
pub fn adapter_name(adapter: &Path) -> String {
    let named = if adapter.file_name().is_some_and(|n| n == "adapter") {
        adapter.parent().unwrap_or(adapter)
    } else {
        adapter
    };
    named
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| adapter.display().to_string())
}

/// Where run folders live by default: `<data_dir>/runs`.
pub fn runs_root(data_dir: &Path) -> PathBuf {
    data_dir.join("runs")
}

/// Starts `program train --resume DIR` (program being this application's binary) in its own
/// process group, writing to the run's log, and returns its process id at once. Closing the
/// terminal or the UI does not signal it.
pub fn spawn_detached(
    program: &Path,
    data_dir: &Path,
    device: &str,
    dir: &RunDir,
    threads: Option<usize>,
) -> Result<u32, TrainError> {
    use std::os::unix::process::CommandExt;
    let log_path = dir.log_path();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| TrainError::io(&log_path, e))?;
    let err_log = log.try_clone().map_err(|e| TrainError::io(&log_path, e))?;
    let mut cmd = std::process::Command::new(program);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--device")
        .arg(device)
        .arg("train")
        .arg("--detached")
        .arg("--resume")
        .arg(&dir.path);
    if let Some(t) = threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0)
        .spawn()
        .map_err(|e| TrainError::io(program, format!("cannot start the training process: {e}")))?;
    let pid = child.id();
    // Reap it when it ends, so a launcher that stays open (the UI) holds no zombie.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(pid)
}

/// Appends lines to the run's log, each flushed so a reader follows along.
struct Log(std::fs::File);

impl Log {
    fn line(&mut self, text: &str) {
        let stamp = stamp();
        // The log is for people; a failed write must not stop the training.
        let _ = writeln!(self.0, "{stamp} {text}");
        let _ = self.0.flush();
        tracing::info!(target: "train", "{text}");
    }
}

/// The examples of the run's data, formatted with the model's chat template.
enum Data {
    Sft(Vec<Example>),
    Dpo(Vec<Pair>),
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::Sft(e) => e.len(),
            Data::Dpo(p) => p.len(),
        }
    }
}

fn prepare(
    base: &Base,
    stage: Stage,
    path: &Path,
    max_len: usize,
    log: &mut Log,
) -> Result<(Data, Fitted), TrainError> {
    let mut fitted = Fitted {
        max_len,
        ..Fitted::default()
    };
    let mut keep = |r: Option<(Example, Fit)>| match r {
        Some((e, fit)) => {
            fitted.answers_cut += usize::from(fit == Fit::Truncated);
            fitted.prompts_cut += usize::from(fit == Fit::PromptCut);
            Some(e)
        }
        None => {
            fitted.dropped += 1;
            None
        }
    };
    let data = if stage == Stage::Dpo {
        let mut pairs = Vec::new();
        for row in data::read_dpo(path)? {
            let chosen = base.tokens(&row.prompt, &row.chosen)?;
            let rejected = base.tokens(&row.prompt, &row.rejected)?;
            // Both sides keep the same room for their answers, so a cut prompt is cut alike.
            let room = chosen
                .answer_len()
                .max(rejected.answer_len())
                .min(max_len / 2);
            let chosen = keep(chosen.fit(max_len, room));
            let rejected = keep(rejected.fit(max_len, room));
            if let (Some(chosen), Some(rejected)) = (chosen, rejected) {
                pairs.push(Pair { chosen, rejected });
            }
        }
        Data::Dpo(pairs)
    } else {
        let mut examples = Vec::new();
        for row in data::read_sft(path)? {
            examples.extend(keep(base.example(&row.prompt, &row.answer, max_len)?));
        }
        Data::Sft(examples)
    };
    fitted.kept = data.len();
    log.line(&format!("{}: {fitted}", path.display()));
    if data.len() == 0 {
        return Err(TrainError::Data {
            path: path.to_path_buf(),
            line: 0,
            reason: format!("no example fits in {max_len} tokens"),
        });
    }
    Ok((data, fitted))
}

/// Bytes the run still needs once its weights are loaded, roughly: the activations kept for the
/// backward pass, and on a CPU with AVX-512 the weights packed for our training pass.
fn memory_estimate(base: &Base, config: &RunConfig, device: &Device) -> u64 {
    let c = &base.config;
    let tokens = (config.batch.max(1) * config.max_len) as u64;
    let pairs = if config.stage == Stage::Dpo { 2 } else { 1 };
    let kv = c.kv_heads * c.head_dim();
    let ours = device.is_cpu() && logreasoner_cpu::sgemm::available();
    let (per_layer, packed) = if ours {
        // `logreasoner_cpu::train`'s tape: the layer input, both norms' inputs and outputs,
        // q/k/v, the attention output, gate/up and the adapters' `x·Aᵀ`; every projection
        // packed twice, and a copy of the embedding.
        let lows = 7 * config.rank;
        let per_layer =
            tokens * (6 * c.hidden + 2 * kv + 2 * c.intermediate + c.heads + lows) as u64;
        let weights = c.layers * ((c.hidden + 2 * kv) * c.hidden + c.hidden * c.hidden)
            + c.layers * 3 * c.hidden * c.intermediate;
        // One layer's gradients in flight during the backward pass (and an adapter's input
        // with its dropout mask).
        let transient = tokens * (4 * c.intermediate + 3 * c.hidden + 2 * kv) as u64;
        (
            per_layer,
            (2 * weights + c.vocab * c.hidden) as u64 + transient,
        )
    } else {
        // candle's autograd: every op's output, attention probabilities included, and with
        // dropout each adapted input's mask and masked copy.
        let dropped = if config.dropout > 0.0 {
            2 * (6 * c.hidden + c.intermediate)
        } else {
            0
        };
        let per_layer = tokens
            * (12 * c.hidden + 4 * c.intermediate + 3 * c.heads * config.max_len + dropped) as u64;
        (per_layer, 0)
    };
    // Activations are held in the training dtype (bf16 on CUDA); our pass's in f32.
    let elem = if ours {
        4
    } else {
        super::model::training_dtype(device).size_in_bytes() as u64
    };
    // On the CPU, per thread one job's logits for one vocabulary block
    // (`logreasoner_cpu::train::xent`); the full `[tokens, vocab]` logits never exist.
    let rows = logreasoner_cpu::train::PROJECTION_ROWS * rayon::current_num_threads();
    let tiles = (rows * logreasoner_cpu::train::VOCAB_BLOCK.min(c.vocab)) as u64 * 4;
    let output = if ours {
        // And the output layer's weight packed twice for the AVX-512 product.
        (2 * c.hidden * c.vocab) as u64 * 4 + tiles
    } else if device.is_cpu() {
        tiles
    } else {
        // Elsewhere the whole `[tokens, vocab]` logits exist at once: in the training dtype, as
        // f32, their log-softmax, and the gradient of each.
        pairs * tokens * c.vocab as u64 * 2 * (elem + 8)
    };
    pairs * per_layer * c.layers as u64 * elem + packed * 4 + output
}

/// Memory free for a run on `device`: the system's available memory for the CPU, the GPU's free
/// memory for CUDA (the base, in its training dtype, is already on it when this is asked).
fn free_memory(device: &Device) -> Option<u64> {
    if device.is_cpu() {
        return available_memory();
    }
    gpu_free_memory(device)
}

#[cfg(feature = "cuda")]
fn gpu_free_memory(device: &Device) -> Option<u64> {
    let cuda = device.as_cuda_device().ok()?;
    let (free, _total) = cuda.cuda_stream().context().mem_get_info().ok()?;
    Some(free as u64)
}

#[cfg(not(feature = "cuda"))]
fn gpu_free_memory(_device: &Device) -> Option<u64> {
    None
}

fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// For DPO: the stepwise adapter merged into the base weights, so the reference (adapter off) is
/// the SFT model itself.
fn merge_into(base: &mut Base, adapter: &Path) -> Result<(), TrainError> {
    for (name, delta) in crate::llm::adapter::deltas(
        adapter,
        base.weights
            .values()
            .next()
            .map_or(&Device::Cpu, |t| t.device()),
    )? {
        let w = base.weights.get(&name).ok_or_else(|| {
            TrainError::Invalid(format!(
                "the adapter {} adapts `{name}`, which {} does not have",
                adapter.display(),
                base.path.display()
            ))
        })?;
        let merged = (w + delta)?;
        base.weights.insert(name, merged);
    }
    Ok(())
}

/// Stacks two LoRA updates on the same modules into one PEFT adapter: `[s₁B₁ | s₂B₂]·[A₁; A₂]`
/// with rank r₁+r₂ and α = r₁+r₂ (scale 1), which is exactly the sum of the two updates.
fn save_stacked(
    out: &Path,
    first: &Path,
    second: &[(String, Var)],
    second_lora: &LoraConfig,
    base_model: &str,
) -> Result<(), TrainError> {
    let first_cfg = crate::llm::adapter::read_config(first)?;
    let device = second
        .first()
        .map_or(Device::Cpu, |(_, v)| v.device().clone());
    let mut firsts =
        candle_core::safetensors::load(first.join("adapter_model.safetensors"), &device)?;
    for t in firsts.values_mut() {
        *t = t.to_dtype(candle_core::DType::F32)?;
    }
    if let Some(missing) = firsts
        .keys()
        .find(|k| k.contains("lora_") && !second.iter().any(|(n, _)| n == *k))
    {
        return Err(TrainError::Invalid(format!(
            "{} adapts `{missing}`, which DPO's adapter does not; train DPO on the same targets",
            first.display()
        )));
    }
    let s1 = first_cfg.alpha / first_cfg.rank as f64;
    let s2 = second_lora.alpha / second_lora.rank.max(1) as f64;
    let mut stacked: Vec<(String, Var)> = Vec::new();
    for (name, var) in second {
        let t = var.as_tensor();
        let joined = match firsts.get(name) {
            Some(f) if name.contains("lora_A") => Tensor::cat(&[f, t], 0)?,
            Some(f) => Tensor::cat(&[(f * s1)?, (t * s2)?], 1)?,
            None => {
                return Err(TrainError::Invalid(format!(
                    "{} has no `{name}`; DPO adapts the modules the stepwise adapter adapts",
                    first.display()
                )))
            }
        };
        stacked.push((name.clone(), Var::from_tensor(&joined)?));
    }
    let rank = first_cfg.rank + second_lora.rank;
    let lora = LoraConfig {
        rank,
        alpha: rank as f64,
        ..second_lora.clone()
    };
    peft::save(out, &stacked, &lora, base_model)?;
    Ok(())
}

/// Replaces folder `to` by a fresh one that `fill` writes, never leaving neither.
fn replace_dir(
    to: &Path,
    fill: &mut dyn FnMut(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let tmp = to.with_extension("tmp");
    let old = to.with_extension("old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    fill(&tmp)?;
    if to.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(to, &old).map_err(|e| TrainError::io(to, e))?;
    }
    std::fs::rename(&tmp, to).map_err(|e| TrainError::io(to, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Runs (or resumes) the run in `dir` to its end, a cancel, or a failure, keeping `status.json`,
/// `metrics.jsonl`, the checkpoint and the adapter current. `on_status` sees every update.
pub fn execute(
    dir: &RunDir,
    device: &Device,
    on_status: &mut dyn FnMut(&Status),
) -> Result<Status, TrainError> {
    let log_path = dir.log_path();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| TrainError::io(&log_path, e))?;
    let mut log = Log(file);
    let mut status = Status {
        state: RunState::Running,
        step: 0,
        steps: 0,
        pid: std::process::id(),
        message: "loading the base model".into(),
        updated_at: now(),
        tokens_per_sec: 0.0,
        secs_per_step: 0.0,
        eta_secs: 0.0,
        checkpoint_step: dir.status().and_then(|s| s.checkpoint_step),
        final_metrics: BTreeMap::new(),
        fitted: None,
    };
    let _ = std::fs::remove_file(dir.path.join("cancel"));
    dir.write_status(&status)?;
    on_status(&status);
    let result = train_in(dir, device, &mut log, &mut status, on_status);
    match result {
        Ok(()) => {}
        Err(e) => {
            status.state = RunState::Failed;
            let kept = match status.checkpoint_step {
                Some(s) => format!(
                    "; the adapter of step {s} (the last good checkpoint) is kept in adapter/"
                ),
                None => "; no checkpoint was written".into(),
            };
            status.message = format!("{e}{kept}");
            log.line(&format!("failed: {}", status.message));
        }
    }
    status.updated_at = now();
    dir.write_status(&status)?;
    on_status(&status);
    Ok(status)
}

/// The base model ready to be adapted: `from_adapter` merged in (DPO's reference) or its LoRA
/// shape taken over, and every weight in the dtype the decoder holds.
fn load_base(
    config: &RunConfig,
    device: &Device,
    log: &mut Log,
) -> Result<(Base, LoraConfig), TrainError> {
    let mut base = Base::load(&config.base_model, device)?;
    let mut lora = LoraConfig {
        rank: config.rank,
        alpha: config.alpha,
        dropout: config.dropout,
        targets: config.targets.clone(),
        seed: config.seed,
    };
    if let Some(from) = &config.from_adapter {
        let from_cfg = crate::llm::adapter::read_config(from)?;
        if config.stage == Stage::Dpo {
            merge_into(&mut base, from)?;
            lora.targets = from_cfg.targets;
            log.line(&format!(
                "merged {} into the base; it is DPO's reference",
                from.display()
            ));
        } else {
            lora.rank = from_cfg.rank;
            lora.alpha = from_cfg.alpha;
            lora.targets = from_cfg.targets;
        }
    }
    // The base in the dtype the decoder holds (bf16 on CUDA), one tensor at a time, so the f32
    // copy of a tensor is freed as its replacement is made rather than the whole model twice.
    let dtype = super::model::training_dtype(device);
    let names: Vec<String> = base.weights.keys().cloned().collect();
    for name in names {
        if let Some(w) = base.weights.remove(&name) {
            base.weights.insert(name, w.to_dtype(dtype)?);
        }
    }
    Ok((base, lora))
}

/// Refuses a run that would not fit in the memory the device has free.
fn check_memory(base: &Base, config: &RunConfig, device: &Device) -> Result<(), TrainError> {
    let needed = memory_estimate(base, config, device);
    if let Some(free) = free_memory(device) {
        if needed > free {
            let what = if device.is_cpu() {
                "memory"
            } else {
                "GPU memory"
            };
            return Err(TrainError::Invalid(format!(
                "this run needs about {:.1} GiB of {what} and {:.1} GiB is available; lower --batch or --max-len",
                needed as f64 / (1u64 << 30) as f64,
                free as f64 / (1u64 << 30) as f64
            )));
        }
    }
    Ok(())
}

fn check_lora(lora: &LoraConfig) -> Result<(), TrainError> {
    if lora.rank == 0 {
        return Err(TrainError::Invalid(
            "the LoRA rank must be at least 1".into(),
        ));
    }
    if !(0.0..1.0).contains(&lora.dropout) {
        return Err(TrainError::Invalid(format!(
            "the LoRA dropout must be at least 0 and below 1, not {}",
            lora.dropout
        )));
    }
    Ok(())
}

/// Restores the last checkpoint, if there is one, and forgets the metrics written after it; a
/// fresh run starts with no metrics. Returns whether it resumed.
fn resume(
    dir: &RunDir,
    named: &[(String, Var)],
    opt: &mut AdamW,
    status: &mut Status,
    log: &mut Log,
) -> Result<bool, TrainError> {
    let resumed = dir.last_checkpoint();
    if let Some(ckpt) = &resumed {
        peft::load(ckpt, named)?;
        opt.load(ckpt)?;
        let kept: Vec<String> = dir
            .metrics()
            .into_iter()
            .filter(|m| m.step <= opt.step)
            .filter_map(|m| serde_json::to_string(&m).ok())
            .collect();
        let mut text = kept.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        write_atomic(&dir.path.join("metrics.jsonl"), text.as_bytes())?;
        status.checkpoint_step = Some(opt.step);
        log.line(&format!("resumed from the checkpoint of step {}", opt.step));
    } else {
        let _ = std::fs::remove_file(dir.path.join("metrics.jsonl"));
    }
    Ok(resumed.is_some())
}

/// The loss (and, for DPO, the preference accuracy) on the evaluation data at `step`.
fn evaluate_at(
    model: &Decoder,
    eval_data: Option<&Data>,
    batch: usize,
    beta: f64,
    step: usize,
) -> candle_core::Result<Option<MetricLine>> {
    let Some(eval) = eval_data else {
        return Ok(None);
    };
    let mut line = MetricLine {
        step,
        ..Default::default()
    };
    match eval {
        Data::Sft(examples) => {
            let mut sum = 0.0;
            for chunk in examples.chunks(batch) {
                sum += f64::from(sft::loss(model, chunk, true, false)?.to_scalar::<f32>()?)
                    * chunk.len() as f64;
            }
            line.eval_loss = Some(sum / examples.len() as f64);
        }
        Data::Dpo(pairs) => {
            let (mut loss, mut acc) = (0.0, 0.0);
            for chunk in pairs.chunks(batch) {
                let (_, m) = dpo::loss(model, chunk, beta, false)?;
                loss += m.loss * chunk.len() as f64;
                acc += m.accuracy * chunk.len() as f64;
            }
            line.eval_loss = Some(loss / pairs.len() as f64);
            line.eval_accuracy = Some(acc / pairs.len() as f64);
        }
    }
    Ok(Some(line))
}

/// The run's final metrics: the last evaluation and the last training step's loss (read back
/// from the metrics file when this process trained no step).
fn record_final_metrics(
    status: &mut Status,
    final_eval: Option<MetricLine>,
    last_train: Option<MetricLine>,
    dir: &RunDir,
) {
    if let Some(e) = final_eval {
        status
            .final_metrics
            .extend(e.eval_loss.map(|v| ("eval_loss".to_string(), v)));
        status
            .final_metrics
            .extend(e.eval_accuracy.map(|v| ("eval_accuracy".to_string(), v)));
    }
    if let Some(l) =
        last_train.or_else(|| dir.metrics().into_iter().rev().find(|m| m.loss.is_some()))
    {
        let pairs = [
            ("loss", l.loss),
            ("margin", l.margin),
            ("accuracy", l.accuracy),
        ];
        for (k, v) in pairs {
            if let Some(v) = v {
                status.final_metrics.insert(k.to_string(), v);
            }
        }
    }
}

/// The decoder with fresh (or `from_adapter`'s) LoRA weights over `base`, and the adapted
/// variables by name; the base's own copy of the weights is released.
fn build_decoder(
    base: Base,
    lora: &LoraConfig,
    config: &RunConfig,
    device: &Device,
    log: &mut Log,
) -> Result<(Decoder, Vec<(String, Var)>), TrainError> {
    let mut named: Vec<(String, Var)> = Vec::new();
    let mut model = Decoder::new(base.config.clone(), &base.weights, lora, &mut named, device)?;
    if named.is_empty() {
        return Err(TrainError::Invalid(format!(
            "no projection is adapted: targets {:?}; use {}",
            lora.targets,
            crate::llm::adapter::PROJECTIONS.join(", ")
        )));
    }
    // The decoder holds its own handles to the weights; the loader's map is not needed any more,
    // nor, once our pass has packed them, the decoder's own copies of the projections.
    drop(base.weights);
    model.release_unpacked();
    log.line(&format!(
        "base held in {:?}; training steps run on {}",
        super::model::training_dtype(device),
        model.pass_description()
    ));
    if let (Some(from), true) = (&config.from_adapter, config.stage != Stage::Dpo) {
        peft::load(from, &named)?;
        log.line(&format!("continuing from {}", from.display()));
    }
    Ok((model, named))
}

fn open_metrics(dir: &RunDir) -> Result<std::fs::File, TrainError> {
    let path = dir.path.join("metrics.jsonl");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| TrainError::io(&path, e))
}

/// One line of `metrics.jsonl`, flushed so a reader (the Train screen) sees every finished step.
fn append_metric(file: &mut std::fs::File, line: &MetricLine) -> candle_core::Result<()> {
    let text = serde_json::to_string(line).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    writeln!(file, "{text}")?;
    file.flush()?;
    Ok(())
}

/// Writes the checkpoint (adapter, optimiser state, step) and publishes the adapter, each by
/// swapping a finished folder in, so a kill leaves the previous ones whole.
fn save_checkpoint(
    dir: &RunDir,
    config: &RunConfig,
    named: &[(String, Var)],
    lora: &LoraConfig,
    base_name: &str,
    opt: &AdamW,
) -> Result<(), TrainError> {
    replace_dir(&dir.checkpoint_dir(), &mut |tmp| {
        peft::save(tmp, named, lora, base_name)?;
        opt.save(tmp)?;
        std::fs::write(
            tmp.join("state.json"),
            format!("{{\"step\": {}}}\n", opt.step),
        )
        .map_err(|e| TrainError::io(tmp, e))
    })?;
    replace_dir(
        &dir.adapter_dir(),
        &mut |tmp| match (&config.from_adapter, config.stage) {
            (Some(from), Stage::Dpo) => save_stacked(tmp, from, named, lora, base_name),
            _ => Ok(peft::save(tmp, named, lora, base_name)?),
        },
    )?;
    Ok(())
}

/// The metrics line of a finished training step that took `secs`.
fn step_line(m: &sft::StepMetrics, step: usize, secs: f64) -> MetricLine {
    MetricLine {
        step,
        loss: Some(m.loss),
        lr: Some(m.lr),
        grad_norm: Some(m.grad_norm),
        tokens_per_sec: Some(m.tokens as f64 / secs.max(1e-9)),
        step_secs: Some(secs),
        chosen_reward: m.dpo.as_ref().map(|d| d.chosen_reward),
        rejected_reward: m.dpo.as_ref().map(|d| d.rejected_reward),
        margin: m.dpo.as_ref().map(|d| d.margin),
        accuracy: m.dpo.as_ref().map(|d| d.accuracy),
        ..Default::default()
    }
}

/// Micro-batch `index` of optimiser step `step`, with its loss.
fn micro_batch(
    model: &Decoder,
    data: &Data,
    order: &[usize],
    settings: &Settings,
    beta: f64,
    (step, index): (usize, usize),
) -> candle_core::Result<MicroBatch> {
    match data {
        Data::Sft(examples) => {
            let batch = sft::batch_at(examples, order, settings, step, index);
            Ok(MicroBatch {
                tokens: batch.iter().map(|e| e.ids.len()).sum(),
                loss: sft::loss(model, &batch, true, true)?,
                dpo: None,
            })
        }
        Data::Dpo(pairs) => {
            let batch = sft::batch_at(pairs, order, settings, step, index);
            let (loss, m) = dpo::loss(model, &batch, beta, true)?;
            Ok(MicroBatch {
                tokens: batch
                    .iter()
                    .map(|p| p.chosen.ids.len() + p.rejected.ids.len())
                    .sum(),
                loss,
                dpo: Some(m),
            })
        }
    }
}

fn train_in(
    dir: &RunDir,
    device: &Device,
    log: &mut Log,
    status: &mut Status,
    on_status: &mut dyn FnMut(&Status),
) -> Result<(), TrainError> {
    let config = dir.config()?;
    super::kernels::keep_freed_memory();
    log.line(&format!(
        "stage {} on {} with {}",
        config.stage,
        config.base_model.display(),
        config.data.display()
    ));
    let (base, lora) = load_base(&config, device, log)?;
    let base_name = config.base_model.display().to_string();
    check_lora(&lora)?;
    check_memory(&base, &config, device)?;
    let (train_data, fitted) = prepare(&base, config.stage, &config.data, config.max_len, log)?;
    status.fitted = Some(fitted);
    let eval_data = match &config.eval_data {
        Some(p) => Some(prepare(&base, config.stage, p, config.max_len, log)?.0),
        None => None,
    };
    let (model, named) = build_decoder(base, &lora, &config, device, log)?;
    let vars: Vec<Var> = named.iter().map(|(_, v)| v.clone()).collect();
    let mut opt = AdamW::new(vars.clone(), config.lr, config.weight_decay)?;
    let steps = config.total_steps(train_data.len());
    let settings = config.settings(steps);
    status.steps = steps;

    let resumed = resume(dir, &named, &mut opt, status, log)?;
    status.step = opt.step;
    status.message = format!("training: {} examples, {steps} steps", train_data.len());
    log.line(&status.message);

    let mut metrics = open_metrics(dir)?;
    let mut append = |line: &MetricLine| append_metric(&mut metrics, line);

    let checkpoint = |opt: &AdamW, status: &mut Status| {
        save_checkpoint(dir, &config, &named, &lora, &base_name, opt)?;
        status.checkpoint_step = Some(opt.step);
        Ok::<(), TrainError>(())
    };
    // A kill between the checkpoint's swap and the adapter's leaves `adapter/` behind it: publish
    // the checkpoint again (and move a `checkpoint.old` back in place).
    if resumed {
        checkpoint(&opt, status)?;
    }

    let evaluate = |step: usize| {
        evaluate_at(
            &model,
            eval_data.as_ref(),
            settings.batch,
            config.beta,
            step,
        )
    };

    let length = |i: usize| match &train_data {
        Data::Sft(examples) => examples[i].ids.len(),
        Data::Dpo(pairs) => pairs[i].chosen.ids.len().max(pairs[i].rejected.ids.len()),
    };
    let order = sft::bucketed(
        &sft::shuffled(train_data.len(), settings.seed),
        length,
        settings.batch,
        settings.seed,
    );
    let mut micro = |step: usize, index: usize| {
        micro_batch(
            &model,
            &train_data,
            &order,
            &settings,
            config.beta,
            (step, index),
        )
    };

    let started = Instant::now();
    let first_step = opt.step;
    let mut last = Instant::now();
    let mut cancelled = false;
    let mut last_train: Option<MetricLine> = None;
    let mut failure: Option<TrainError> = None;
    let outcome = sft::optimise(
        &model,
        &mut opt,
        &vars,
        &settings,
        &mut micro,
        &mut |m, opt| {
            // From the end of the previous step's bookkeeping: evaluation and checkpoints do not
            // count as training time.
            let secs = last.elapsed().as_secs_f64();
            let done = m.step + 1;
            let line = step_line(m, done, secs);
            append(&line)?;
            let per_step = started.elapsed().as_secs_f64() / (done - first_step) as f64;
            status.record_step(&line, per_step);
            last_train = Some(line);
            if config.eval_every > 0 && done % config.eval_every == 0 && done < steps {
                if let Some(e) = evaluate(done)? {
                    append(&e)?;
                }
            }
            // A cancel that arrives with the last step is simply the end.
            cancelled = dir.cancel_requested() && done < steps;
            if cancelled || done % config.checkpoint_every.max(1) == 0 || done == steps {
                if let Err(e) = checkpoint(opt, status) {
                    let text = e.to_string();
                    failure = Some(e);
                    candle_core::bail!("{text}");
                }
            }
            status.updated_at = now();
            if let Err(e) = dir.write_status(status) {
                let text = e.to_string();
                failure = Some(e);
                candle_core::bail!("{text}");
            }
            on_status(status);
            if cancelled {
                candle_core::bail!("cancelled");
            }
            last = Instant::now();
            Ok(())
        },
    );
    if let Some(e) = failure {
        return Err(e);
    }
    if cancelled {
        let message = format!(
            "cancelled at step {}; the adapter of that step is kept in adapter/",
            status.step
        );
        status.end(RunState::Cancelled, message, log);
        return Ok(());
    }
    outcome?;
    // A finished run resumed again already has its final evaluation among the kept metrics.
    let kept_eval = dir
        .metrics()
        .into_iter()
        .rev()
        .find(|m| m.step == steps && m.eval_loss.is_some());
    let final_eval = match kept_eval {
        Some(line) => Some(line),
        None => {
            let line = evaluate(steps)?;
            line.iter().try_for_each(&mut append)?;
            line
        }
    };
    record_final_metrics(status, final_eval, last_train, dir);
    if status.checkpoint_step != Some(steps) {
        checkpoint(&opt, status)?;
    }
    let message = format!(
        "done: {steps} steps; the adapter is in {}",
        dir.adapter_dir().display()
    );
    status.end(RunState::Succeeded, message, log);
    Ok(())
}

/// Training examples by kind, for callers that only need the counts.
pub fn count_examples(config: &RunConfig) -> Result<usize, TrainError> {
    Ok(if config.stage == Stage::Dpo {
        data::read_dpo(&config.data)?.len()
    } else {
        data::read_sft(&config.data)?.len()
    })
}

/// Inserts or updates the database record of the run in `dir` (matched by folder) from its files.
pub fn sync_record(
    store: &crate::store::Store,
    dir: &RunDir,
) -> Result<(), crate::store::StoreError> {
    use crate::store::TrainingRun;
    let Ok(config) = dir.config() else {
        return Ok(());
    };
    let folder = dir.path.display().to_string();
    let existing = store
        .all::<TrainingRun>()?
        .into_iter()
        .find(|r| r.run_dir == folder);
    let status = dir.status();
    let mut record = existing.unwrap_or(TrainingRun {
        id: 0,
        stage: config.stage.to_string(),
        run_dir: folder,
        base_model: config.base_model.display().to_string(),
        state: RunState::Running,
        started_at: status.as_ref().map_or(0, |s| s.updated_at),
        finished_at: None,
        final_metrics: BTreeMap::new(),
    });
    if let Some(s) = status {
        let changed = record.state != s.state || record.final_metrics != s.final_metrics;
        record.state = s.state;
        record.final_metrics = s.final_metrics;
        if s.state != RunState::Running && record.finished_at.is_none() {
            record.finished_at = Some(s.updated_at);
        }
        if !changed && record.id != 0 {
            return Ok(());
        }
    }
    if record.id == 0 {
        store.insert(&mut record)?;
    } else {
        store.put(&record)?;
    }
    Ok(())
}
