//! `logreasoner experiment run`: the paper's comparison in one resumable command. It reads LogLM's
//! train/dev splits and BGL windows (`datasets`), composes stepwise traces from expert knowledge and
//! keeps those that reach the gold answer (`traces`), samples the base model on the traced items
//! (its right, grounded answers join the stepwise data), trains every variant, collects the
//! thought + stepwise adapter's own mistakes on traced items as DPO pairs against the trace
//! (`sampling`), and evaluates each variant on the dev items of all five task types:
//!
//! | variant | training |
//! |---|---|
//! | base | none |
//! | flowchart walk | none (no model) |
//! | direct SFT | gold answers without reasoning (the LogLM-style baseline) |
//! | stepwise SFT | traces (gold answers where no teacher covers the item), same steps |
//! | thought + stepwise SFT | chart thoughts, then the stepwise data from that adapter |
//! | full | the above, then DPO on that adapter's own mistakes (the trace preferred) |
//! | coarse-to-fine SFT | the stepwise data, each answer opened by its system's charts' problems as a question |
//!
//! Everything lives in one folder: `state.json` (finished steps with their wall time, data counts,
//! results so far), the training files, `runs/<variant>/` (ordinary run folders, resumed from their
//! checkpoints), `samples.jsonl` and `policy.jsonl` (appended per answer), `dev.jsonl` (the scored items),
//! `answers.jsonl` (every answer of every variant), and `results.md` / `results.json`. A killed
//! run starts again at the step it was in: training from its run's last checkpoint, sampling at
//! the next answer, evaluation at the next variant and task.

pub mod datasets;
mod paired;
pub mod precedents;
mod report;
mod sampling;
pub mod traces;
mod verdicts;

pub use report::{against_constants, table};
pub use verdicts::reliability;
use verdicts::{score_verdicts, write_reliability};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::diagnose::verdict;
use crate::eval::{self, data::Item};
use crate::flowchart::Flowchart;
use crate::llm::backend::BackendSpec;
use crate::llm::chat::Message;
use crate::llm::model::{GenerationParams, LlmError};
use crate::store::{EvalResult, RunState, Task};
use crate::train::run::{self, RunConfig, RunDir, Stage};
use crate::train::TrainError;

/// Why an experiment run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// A dataset could not be read; the text says which and why.
    #[error("{0}")]
    Data(String),
    /// Reading or writing a file in the experiment folder failed.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A training run could not be set up or run.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The model failed while sampling or evaluating.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The folder, a step or a run is not in a state to go on; the text says why.
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// How big a run is: `small` finishes in minutes (a few items per task, a few steps per stage);
/// `medium` fits a two-core CPU in about ninety minutes (32 training and 24 dev items per task,
/// one epoch per stage); `full` is the real run (every item, one epoch per stage: about fourteen
/// hours on two cores, so a GPU's job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// A few items per task and a few steps per stage: a check that finishes in minutes.
    Small,
    /// 32 training and 24 dev items per task, one epoch per stage: about 90 minutes on two cores.
    Medium,
    /// Every item, one epoch per stage: the real run, a GPU's job.
    Full,
}

impl std::str::FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Scale, String> {
        match s {
            "small" => Ok(Scale::Small),
            "medium" => Ok(Scale::Medium),
            "full" => Ok(Scale::Full),
            other => Err(format!("unknown scale `{other}`: small, medium or full")),
        }
    }
}

impl Scale {
    fn train_per_task(self) -> Option<usize> {
        match self {
            Scale::Small => Some(6),
            Scale::Medium => Some(32),
            Scale::Full => None,
        }
    }

    fn dev_per_task(self) -> Option<usize> {
        match self {
            Scale::Small => Some(3),
            Scale::Medium => Some(24),
            Scale::Full => None,
        }
    }

    /// Answers the thought + stepwise adapter gives each probe for DPO: the greedy one, and
    /// samples. Greedy alone, it answered 428 of 447 prompts of its own training items right (19
    /// pairs) while it cited interrupts on lines that showed none on dev windows: samples show
    /// the mistakes its greedy answer hides.
    fn policy_draws(self) -> usize {
        match self {
            Scale::Small => 2,
            Scale::Medium => 2,
            Scale::Full => 4,
        }
    }

    /// Traced training items the base model is sampled on.
    fn samples(self) -> usize {
        match self {
            Scale::Small => 3,
            Scale::Medium => 48,
            Scale::Full => 300,
        }
    }

    /// The answer limit of `task`'s solution prompt, for every variant (and the policy's probes).
    /// A binary task's trace walks each check of a chart before its conclusion: at full scale
    /// it gets the diagnosis prompt's 256 tokens, since at 160 half the BGL windows' reasoning
    /// was cut before its conclusion and the label was the model's lean, not its reasoning's (the
    /// report counts cut answers).
    fn max_tokens(self, task: Task) -> usize {
        match (self, task) {
            (Scale::Small, _) => 24,
            (_, Task::LogParsing) => 96,
            (Scale::Full, Task::AnomalyDetection | Task::FailurePrediction) => 256,
            (Scale::Medium, _) => 128,
            (Scale::Full, _) => 160,
        }
    }

    /// A training run's settings: `rows` examples, from `from` (an adapter) or the base.
    fn run_config(
        self,
        stage: Stage,
        model: &Path,
        data: PathBuf,
        rows: usize,
        epochs: f64,
    ) -> RunConfig {
        let mut c = RunConfig::new(stage, model.to_path_buf(), data);
        match self {
            Scale::Small => {
                c.steps = Some(2);
                c.batch = 2;
                c.max_len = 1024;
                c.warmup = 1;
                c.checkpoint_every = 1;
            }
            Scale::Medium | Scale::Full => {
                c.batch = 4;
                // Full: room for the longest diagnosis chat whole (a window's lines after a
                // chart's thought run to about 2,300 tokens with the answer). At 1,536 the
                // trainer cut 211 of 3,456 stepwise prompts in the middle, nearly all of them
                // chart chats losing their log lines, while evaluation sends them whole.
                c.max_len = if self == Scale::Full { 2560 } else { 1024 };
                c.epochs = epochs;
                c.warmup = if self == Scale::Full { 10 } else { 4 };
                c.checkpoint_every = if self == Scale::Full { 25 } else { 10 };
                // `epochs` passes over `rows`; set explicitly so a stage's length is in its config.
                c.steps = Some(((rows as f64 * epochs) / c.batch as f64).ceil().max(1.0) as usize);
                // One epoch is a few dozen steps: at the default 2e-4 a rank-8 adapter barely
                // moved the medium run's loss (2.9 → 2.5) or its answers.
                if stage != Stage::Dpo {
                    c.lr = 1e-3;
                }
            }
        }
        if stage == Stage::Thought && self != Scale::Medium {
            // A chart's whole thought plus the question runs to about 1,500 tokens (medium keeps
            // the first 1,024: the chart's opening checks, at half the cost).
            c.max_len = 2048;
        }
        c.eval_every = usize::MAX;
        c
    }
}

/// The variants of the comparison, in table order.
pub const BASE: &str = "base";
/// The flowchart walk baseline, no model.
pub const WALK: &str = "flowchart walk";
/// SFT on gold answers without reasoning (the LogLM-style baseline).
pub const DIRECT: &str = "direct SFT";
/// SFT on stepwise traces (gold answers where no trace covers the item).
pub const STEPWISE: &str = "stepwise SFT";
/// SFT on chart thoughts, then on the stepwise data from that adapter.
pub const THOUGHT_STEPWISE: &str = "thought + stepwise SFT";
/// Thought and stepwise SFT, then DPO on the sampled pairs.
pub const FULL: &str = "full (+ DPO)";
/// SFT on the stepwise data with the thought inside each answer: its system's charts' problems,
/// put as a question, as its first line, then the steps (coarse to fine in one answer, no
/// thought stage).
pub const COARSE_FINE: &str = "coarse-to-fine SFT";
/// Every variant, in table order.
pub const VARIANTS: [&str; 7] = [
    BASE,
    WALK,
    DIRECT,
    STEPWISE,
    THOUGHT_STEPWISE,
    FULL,
    COARSE_FINE,
];
/// The variants also evaluated on the prompt `diagnose` sends (anomaly detection), in table
/// order: the base model's and the adapters a folder can ship (stepwise SFT alone's, which the
/// ablation found better, the full pipeline's and coarse-to-fine SFT's). An adapter's
/// measurement there is what the verdict rule reads, since that is the prompt whose answers it
/// settles.
pub fn diagnosed() -> impl Iterator<Item = &'static str> + Clone {
    VARIANTS.into_iter().filter(|variant| {
        EVAL_STEPS
            .iter()
            .any(|e| e.measure == Measure::DiagnosisPrompt && e.variants.contains(variant))
    })
}

/// What an evaluation step measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Every task of [`EVAL_ORDER`] on the solution prompt.
    Tasks,
    /// Anomaly detection on the prompt `diagnose` sends.
    DiagnosisPrompt,
    /// The verdicts diagnoses give with those answers: no model runs, the recorded answers are
    /// settled against the walk.
    Verdicts,
}

/// Where an evaluation step falls in [`steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Before any training: the walk reads no adapter.
    Samples,
    /// Right after this training run, whose adapter it reads, so a run cut short has the rows of
    /// every adapter it made.
    Run(&'static str),
    /// Last: the base model's rows matter only beside the adapters'.
    Training,
}

/// One evaluation step: its name in `state.json`, where it falls, what it measures, and whose.
struct EvalStep {
    name: &'static str,
    after: After,
    measure: Measure,
    variants: &'static [&'static str],
}

/// Every evaluation step, in order within each [`After`]: each variant is measured on the tasks
/// once, and a diagnosed variant on the diagnosis prompt, then by its verdicts, after that.
static EVAL_STEPS: [EvalStep; 13] = [
    EvalStep::new("eval:walk", After::Samples, Measure::Tasks, &[WALK]),
    EvalStep::new(
        "eval:coarse-fine",
        After::Run("coarse-fine"),
        Measure::Tasks,
        &[COARSE_FINE],
    ),
    EvalStep::new(
        "eval:diagnosis-coarse-fine",
        After::Run("coarse-fine"),
        Measure::DiagnosisPrompt,
        &[COARSE_FINE],
    ),
    EvalStep::new(
        "eval:verdict-coarse-fine",
        After::Run("coarse-fine"),
        Measure::Verdicts,
        &[COARSE_FINE],
    ),
    EvalStep::new(
        "eval:thought-stepwise",
        After::Run("thought-stepwise"),
        Measure::Tasks,
        &[THOUGHT_STEPWISE],
    ),
    EvalStep::new("eval:full", After::Run("dpo"), Measure::Tasks, &[FULL]),
    // The base model's diagnosis-prompt rows predate the other diagnosed variants' and keep
    // their step names, so folders made then resume.
    EvalStep::new(
        "eval:diagnosis",
        After::Run("dpo"),
        Measure::DiagnosisPrompt,
        &[BASE, FULL],
    ),
    EvalStep::new(
        "eval:verdict",
        After::Run("dpo"),
        Measure::Verdicts,
        &[BASE, FULL],
    ),
    EvalStep::new(
        "eval:direct",
        After::Run("direct"),
        Measure::Tasks,
        &[DIRECT],
    ),
    EvalStep::new(
        "eval:stepwise",
        After::Run("stepwise"),
        Measure::Tasks,
        &[STEPWISE],
    ),
    EvalStep::new(
        "eval:diagnosis-stepwise",
        After::Run("stepwise"),
        Measure::DiagnosisPrompt,
        &[STEPWISE],
    ),
    EvalStep::new(
        "eval:verdict-stepwise",
        After::Run("stepwise"),
        Measure::Verdicts,
        &[STEPWISE],
    ),
    EvalStep::new("eval:base", After::Training, Measure::Tasks, &[BASE]),
];

impl EvalStep {
    const fn new(
        name: &'static str,
        after: After,
        measure: Measure,
        variants: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            after,
            measure,
            variants,
        }
    }
}

/// The evaluation step named `name`.
fn eval_step(name: &str) -> Option<&'static EvalStep> {
    EVAL_STEPS.iter().find(|e| e.name == name)
}

/// The name of `variant`'s rows on the diagnosis prompt.
pub fn on_diagnosis_prompt(variant: &str) -> String {
    format!("{variant}{}", verdict::DIAGNOSIS_PROMPT_SUFFIX)
}

/// The name of the rows of the verdicts diagnoses give with `variant` (its diagnosis-prompt
/// answers settled against the walk).
pub fn diagnosis_verdict(variant: &str) -> String {
    format!("{variant}{}", verdict::DIAGNOSIS_VERDICT_SUFFIX)
}

/// Training runs, each with its stage, data file, and the run whose adapter it starts from. The
/// method's runs come first, so a run cut short (each full-scale run is most of an hour) has the
/// adapters the comparison is about before the baselines'; coarse-to-fine SFT (the thought
/// inside the stepwise answer, the newest form of the method) before the staged one.
const RUNS: [(&str, Stage, &str, Option<&str>); 6] = [
    ("coarse-fine", Stage::Stepwise, "coarse_fine.jsonl", None),
    ("thought", Stage::Thought, "thought.jsonl", None),
    (
        "thought-stepwise",
        Stage::Stepwise,
        "stepwise.jsonl",
        Some("thought"),
    ),
    ("dpo", Stage::Dpo, "dpo.jsonl", Some("thought-stepwise")),
    ("direct", Stage::Stepwise, "direct.jsonl", None),
    ("stepwise", Stage::Stepwise, "stepwise.jsonl", None),
];

/// The run folder whose adapter a variant is evaluated with.
fn variant_run(variant: &str) -> Option<&'static str> {
    match variant {
        DIRECT => Some("direct"),
        STEPWISE => Some("stepwise"),
        THOUGHT_STEPWISE => Some("thought-stepwise"),
        FULL => Some("dpo"),
        COARSE_FINE => Some("coarse-fine"),
        _ => None,
    }
}

/// Counts of what the data step and the sampling made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataStats {
    /// Training items per task name.
    pub train_items: BTreeMap<String, usize>,
    /// Dev items per task name.
    pub dev_items: BTreeMap<String, usize>,
    /// Traces kept (their answer is the gold one), by teacher.
    pub traces: BTreeMap<String, usize>,
    /// Items of a task with a teacher that no teacher's trace reaches (binary ones are left out of
    /// the stepwise data; parsing keeps its gold template).
    pub traces_dropped: usize,
    /// Thought-SFT rows made from the charts.
    pub thought_rows: usize,
    /// Training items the base model was sampled on.
    pub sampled: usize,
    /// Samples whose answer was right.
    pub samples_right: usize,
    /// Right samples that joined the stepwise data (a binary one only when it is grounded).
    #[serde(default)]
    pub samples_learned: usize,
    /// DPO pairs made (trace chosen over a wrong answer of the thought + stepwise adapter; in
    /// folders made before the `policy` step, over a wrong base-model sample).
    pub dpo_pairs: usize,
    /// Prompts the thought + stepwise adapter answered for the DPO pairs.
    #[serde(default)]
    pub policy_answered: usize,
    /// Of those, answers that were right (greedy answers).
    #[serde(default)]
    pub policy_right: usize,
    /// Answers the policy gave each prompt: the greedy one, then samples at temperature 0.8
    /// (0 in folders made before sampled answers: one greedy answer).
    #[serde(default)]
    pub policy_draws: usize,
    /// Anomaly-detection items also written as diagnosis chats (all in the direct data; the
    /// traced ones, in the trace's words, in the stepwise data).
    #[serde(default)]
    pub diagnosis_rows: usize,
}

/// Each binary teacher's share of right answers over the training items it covers.
fn teacher_precision(
    teachers: &traces::Teachers,
    items: &[Item],
) -> BTreeMap<traces::Teacher, f64> {
    let mut counts: BTreeMap<traces::Teacher, (usize, usize)> = BTreeMap::new();
    for item in items
        .iter()
        .filter(|i| matches!(i.task, Task::AnomalyDetection | Task::FailurePrediction))
    {
        for t in teachers.candidates(item) {
            let right = traces::is_right(item, t.answer_for(item.task).as_deref());
            let c = counts.entry(t.teacher).or_default();
            c.0 += usize::from(right);
            c.1 += 1;
        }
    }
    counts
        .into_iter()
        .map(|(t, (right, all))| (t, right as f64 / all.max(1) as f64))
        .collect()
}

/// The diagnosis-format lines of a solution from `Anomalous:` on (what direct SFT learns).
fn closing_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines
        .iter()
        .position(|l| l.starts_with("Anomalous:"))
        .unwrap_or(0);
    lines[from..].join("\n")
}

/// One variant's scores on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The variant's name, one of [`VARIANTS`].
    pub variant: String,
    /// The task scored.
    pub task: Task,
    /// The scores.
    pub result: EvalResult,
}

/// `state.json`: what is finished (with seconds of wall time), and what was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The run's size; a folder holds runs of one scale only.
    pub scale: Scale,
    /// The base model; a folder holds runs of one model only.
    pub model: PathBuf,
    /// Finished steps (see [`steps`]) with the wall seconds each took.
    pub done: BTreeMap<String, f64>,
    /// What the data and sampling steps made.
    pub data: DataStats,
    /// Scores so far, one row per variant and task.
    pub results: Vec<Row>,
    /// Runs whose training was skipped, with why (e.g. no DPO pairs).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Passes over each stage's data (medium and full); a folder holds runs of one setting.
    #[serde(default = "one_epoch")]
    pub epochs: f64,
    /// Runs that were skipped (no rows, or no adapter to start from): done, with nothing on disk.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Fingerprint of the items and charts the run was made from ([`inputs_fingerprint`]);
    /// `None` in a folder begun before it was kept (its inputs are unknown, never checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
    /// Whether `dpo.jsonl` holds the policy step's pairs (the thought + stepwise adapter's
    /// mistakes); a folder whose DPO was measured before that step existed used the base model's.
    #[serde(default)]
    pub dpo_from_policy: bool,
}

/// SHA-256 (hex) of what a run is made from: its training and dev items in order and every
/// chart's content. Samples are keyed by a training item's index and finished steps are not
/// redone, so a folder resumed over other items (the bundled data or a chart changed) would pair
/// old work with new items.
pub fn inputs_fingerprint(train: &[Item], dev: &[Item], charts: &[Flowchart]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (name, items) in [("train", train), ("dev", dev)] {
        h.update(name.as_bytes());
        for item in items {
            h.update(item.to_json().to_string().as_bytes());
            h.update(b"\n");
        }
    }
    for chart in charts {
        h.update(chart.content_hash().as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn one_epoch() -> f64 {
    1.0
}

/// What a run needs.
pub struct Options {
    /// How big a run to do.
    pub scale: Scale,
    /// The experiment folder, where everything is written and resumed from.
    pub folder: PathBuf,
    /// The base model.
    pub model: PathBuf,
    /// Where training and generation run.
    pub device: Device,
    /// LogLM's folder, holding `train.jsonl` and `dev.jsonl`.
    pub loglm: PathBuf,
    /// The Loghub-2k root (for BGL's windows).
    pub loghub: PathBuf,
    /// The expert flowcharts, for traces, thoughts and the walk.
    pub charts: Vec<Flowchart>,
    /// Stop after this step (e.g. `train:direct`); the next run resumes after it.
    pub until: Option<String>,
    /// Passes over each stage's data at medium and full scale (every variant the same).
    pub epochs: f64,
}

/// Every step, in order: each variant is evaluated as soon as its adapter exists, the method's
/// first, so a run cut short (a full-scale stage is most of an hour on two cores) has the
/// method's rows before the baselines'.
pub fn steps() -> Vec<String> {
    let evals = |after: After| {
        EVAL_STEPS
            .iter()
            .filter(move |e| e.after == after)
            .map(|e| e.name.to_string())
    };
    let mut s = vec!["data".to_string(), "samples".to_string()];
    s.extend(evals(After::Samples));
    for (name, stage, ..) in RUNS {
        // DPO learns from the mistakes of the adapter it starts from: they are collected first.
        if stage == Stage::Dpo {
            s.push(POLICY_STEP.to_string());
        }
        s.push(format!("train:{name}"));
        s.extend(evals(After::Run(name)));
    }
    s.extend(evals(After::Training));
    s
}

/// The step collecting the DPO pairs: the thought + stepwise adapter's wrong answers on traced
/// training items ([`sampling::policy`]).
const POLICY_STEP: &str = "policy";

/// Tasks in the order a variant is evaluated on them: anomaly detection (the headline
/// comparison) first and failure prediction (the longest prompts) last, so a run cut short still
/// has the most of its table.
const EVAL_ORDER: [Task; 5] = [
    Task::AnomalyDetection,
    Task::LogParsing,
    Task::RootCause,
    Task::Interpretation,
    Task::FailurePrediction,
];

struct Ctx<'a> {
    opts: &'a Options,
    state: State,
    train: Vec<Item>,
    dev: Vec<Item>,
    /// BGL's labelled training lines, for the line-history teacher.
    train_lines: Vec<(bool, String)>,
    progress: &'a mut dyn FnMut(&str),
}

impl Ctx<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.opts.folder.join(name)
    }

    /// The training split's teachers; every step that asks which items are traced asks them.
    fn teachers(&self) -> traces::Teachers<'_> {
        traces::Teachers::new(&self.opts.charts, &self.train).with_line_labels(&self.train_lines)
    }

    /// Says `note` and keeps it for the report (once, however often a resumed run says it).
    fn note(&mut self, note: String) {
        (self.progress)(&format!("  {note}"));
        if !self.state.notes.contains(&note) {
            self.state.notes.push(note);
        }
    }

    fn save(&self) -> Result<(), ExperimentError> {
        let path = self.path("state.json");
        let text = serde_json::to_vec_pretty(&self.state).map_err(|e| io(&path, e))?;
        crate::fsutil::write_atomic(&path, &text).map_err(|e| io(&path, e))
    }
}

/// Runs (or resumes) the experiment in `opts.folder`; `progress` hears a line per event.
pub fn run(opts: &Options, progress: &mut dyn FnMut(&str)) -> Result<State, ExperimentError> {
    std::fs::create_dir_all(&opts.folder).map_err(|e| io(&opts.folder, e))?;
    let state_path = opts.folder.join("state.json");
    let state = match std::fs::read(&state_path) {
        Ok(bytes) => {
            let s: State = serde_json::from_slice(&bytes).map_err(|e| io(&state_path, e))?;
            if s.scale != opts.scale || s.model != opts.model || s.epochs != opts.epochs {
                return Err(ExperimentError::Invalid(format!(
                    "{} holds a {:?} run of {} ({} epochs); pass another --out for a {:?} run of {} ({} epochs)",
                    opts.folder.display(),
                    s.scale,
                    s.model.display(),
                    s.epochs,
                    opts.scale,
                    opts.model.display(),
                    opts.epochs
                )));
            }
            s
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
            scale: opts.scale,
            model: opts.model.clone(),
            done: BTreeMap::new(),
            data: DataStats::default(),
            results: Vec::new(),
            notes: Vec::new(),
            epochs: opts.epochs,
            skipped: Vec::new(),
            inputs: None,
            dpo_from_policy: false,
        },
        // Starting afresh would overwrite the record of finished work.
        Err(e) => return Err(io(&state_path, e)),
    };
    let mut state = state;
    forget_lost_outputs(&opts.folder, &mut state, opts.until.as_deref());
    let splits = datasets::load(&opts.loglm, &opts.loghub, opts.scale)?;
    let inputs = inputs_fingerprint(&splits.train, &splits.dev, &opts.charts);
    let legacy = state.inputs.is_none() && !state.done.is_empty();
    match &state.inputs {
        Some(made_from) if *made_from != inputs && !state.done.is_empty() => {
            return Err(ExperimentError::Invalid(format!(
                "{} was made from other items or charts than these (the bundled datasets or a flowchart changed since its data step): its samples and finished steps would be paired with the wrong items; pass another --out to start afresh",
                opts.folder.display()
            )));
        }
        // A folder begun before fingerprints were kept: what it was made from is unknown, and
        // recording today's inputs would vouch for them.
        None if legacy => progress(&format!(
            "  {} was begun before runs kept a fingerprint of their items and charts: not checked",
            opts.folder.display()
        )),
        _ => state.inputs = Some(inputs),
    }
    std::fs::create_dir_all(&opts.folder).map_err(|e| io(&opts.folder, e))?;
    // The scored items, so any variant can be checked again with `eval --data <folder>/dev.jsonl`.
    let dev_rows: Vec<serde_json::Value> = splits.dev.iter().map(Item::to_json).collect();
    write_jsonl(&opts.folder.join("dev.jsonl"), &dev_rows)?;
    let mut ctx = Ctx {
        opts,
        state,
        train: splits.train,
        dev: splits.dev,
        train_lines: splits.train_lines,
        progress,
    };
    let all = steps();
    for (n, step) in all.iter().enumerate() {
        if let Some(secs) = ctx.state.done.get(step) {
            let gone = if outputs_lost(&opts.folder, &ctx.state, step) {
                "; its files are gone, and no step still to run reads them"
            } else {
                ""
            };
            (ctx.progress)(&format!(
                "[{}/{}] {step}: done earlier ({secs:.0} s{gone})",
                n + 1,
                all.len()
            ));
        } else {
            (ctx.progress)(&format!("[{}/{}] {step}", n + 1, all.len()));
            let start = Instant::now();
            run_step(&mut ctx, step)?;
            ctx.state
                .done
                .insert(step.clone(), start.elapsed().as_secs_f64());
            ctx.save()?;
        }
        if opts.until.as_deref() == Some(step.as_str()) {
            (ctx.progress)(&format!(
                "stopped after {step} as asked; run again to go on"
            ));
            // The table so far, so a run stopped part way still shows what it measured.
            write_results(&ctx)?;
            return Ok(ctx.state);
        }
    }
    write_results(&ctx)?;
    Ok(ctx.state)
}

/// The files a finished step leaves behind (relative to the folder).
fn outputs(step: &str) -> Vec<String> {
    match step.split_once(':') {
        None if step == "data" => [
            "direct.jsonl",
            "stepwise_traces.jsonl",
            "coarse_fine_traces.jsonl",
            "thought.jsonl",
        ]
        .map(String::from)
        .to_vec(),
        None if step == "samples" => ["stepwise.jsonl", "coarse_fine.jsonl"]
            .map(String::from)
            .to_vec(),
        None if step == POLICY_STEP => vec!["dpo.jsonl".to_string()],
        Some(("train", name)) => vec![format!("runs/{name}/config.yaml")],
        _ => Vec::new(),
    }
}

/// Whether a finished step's files are gone (a run skipped for want of data left none).
fn outputs_lost(folder: &Path, state: &State, step: &str) -> bool {
    let skipped = step
        .strip_prefix("train:")
        .is_some_and(|run| state.skipped.iter().any(|s| s == run));
    state.done.contains_key(step)
        && !skipped
        && outputs(step).iter().any(|f| !folder.join(f).exists())
}

/// The steps whose outputs `step` reads: the training file's maker and the adapter a run starts
/// from, the adapter an evaluation loads, the traces and adapter the policy step reads.
fn reads(step: &str) -> Vec<String> {
    let train = |run: &str| format!("train:{run}");
    match step.split_once(':') {
        None if step == "samples" => vec!["data".into()],
        None if step == POLICY_STEP => vec!["data".into(), train("thought-stepwise")],
        Some(("train", name)) => RUNS
            .iter()
            .filter(|(n, ..)| *n == name)
            .flat_map(|&(_, _, data, from)| {
                let maker = ["data", "samples", POLICY_STEP]
                    .into_iter()
                    .find(|maker| outputs(maker).iter().any(|f| f == data));
                maker.map(String::from).into_iter().chain(from.map(train))
            })
            .collect(),
        _ => eval_step(step)
            .filter(|e| e.measure != Measure::Verdicts)
            .map(|e| {
                e.variants
                    .iter()
                    .filter_map(|v| variant_run(v))
                    .map(train)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A finished step whose outputs are gone (a folder committed without its regenerable files, or
/// a run folder deleted) runs again when a step still to run (up to `until`) reads them. One that
/// nothing still to run reads stays done: a copied folder whose evaluations are all recorded does
/// not rebuild its data and train for hours to reach results it already has. Sampled answers and
/// run folders that remain are reused.
fn forget_lost_outputs(folder: &Path, state: &mut State, until: Option<&str>) {
    let mut all = steps();
    if let Some(last) = until.and_then(|u| all.iter().position(|s| s == u)) {
        all.truncate(last + 1);
    }
    // Latest first, so whether the readers of a step must run is known when it is reached.
    let mut must_run: Vec<&String> = Vec::new();
    for step in all.iter().rev() {
        let done = state.done.contains_key(step);
        let read = || must_run.iter().any(|later| reads(later).contains(step));
        if !done || (outputs_lost(folder, state, step) && read()) {
            must_run.push(step);
        }
    }
    for step in must_run {
        if state.done.remove(step).is_some() {
            if let Some(run) = step.strip_prefix("train:") {
                state.skipped.retain(|s| s != run);
            }
        }
    }
}

fn run_step(ctx: &mut Ctx, step: &str) -> Result<(), ExperimentError> {
    match step.split_once(':') {
        None if step == "data" => build_data(ctx),
        None if step == "samples" => sampling::sample(ctx),
        None if step == POLICY_STEP => policy(ctx),
        Some(("train", name)) => train(ctx, name),
        _ => {
            let eval = eval_step(step)
                .ok_or_else(|| ExperimentError::Invalid(format!("unknown step {step}")))?;
            match eval.measure {
                Measure::Tasks => {
                    for task in EVAL_ORDER {
                        for variant in eval.variants {
                            evaluate(ctx, variant, task, Prompt::Solution)?;
                        }
                    }
                }
                Measure::DiagnosisPrompt => {
                    for variant in eval.variants {
                        evaluate(ctx, variant, Task::AnomalyDetection, Prompt::Diagnosis)?;
                    }
                }
                Measure::Verdicts => {
                    for variant in eval.variants {
                        score_verdicts(ctx, variant)?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// A chat's messages as the training files write them (TRL's conversational rows).
fn messages_json(messages: &[Message]) -> Vec<serde_json::Value> {
    messages
        .iter()
        .map(|m| json!({ "role": m.role, "content": m.content }))
        .collect()
}

fn sft_row(prompt: Vec<Message>, answer: &str) -> serde_json::Value {
    let mut messages = messages_json(&prompt);
    messages.push(json!({ "role": "assistant", "content": answer }));
    json!({ "messages": messages })
}

fn write_jsonl(path: &Path, rows: &[serde_json::Value]) -> Result<(), ExperimentError> {
    crate::fsutil::write_atomic(path, eval::jsonl(rows).as_bytes()).map_err(|e| io(path, e))
}

/// Whether a row of `answers.jsonl` is `variant`'s answer to an item of `task`.
fn answers_to(row: &serde_json::Value, variant: &str, task: Task) -> bool {
    row["variant"] == variant && row["task"] == task.to_string()
}

/// The answers `variant` recorded on `task`, one for each of `items` in their order (checked by
/// line); `None` when none were recorded or they are not those items', so no table pairs an
/// answer with another item's gold.
fn aligned_answers<'a, I: std::borrow::Borrow<Item>>(
    answers: &'a [serde_json::Value],
    variant: &str,
    task: Task,
    items: &[I],
) -> Option<Vec<&'a serde_json::Value>> {
    let rows: Vec<&serde_json::Value> = answers
        .iter()
        .filter(|a| answers_to(a, variant, task))
        .collect();
    let aligned = !rows.is_empty()
        && rows.len() == items.len()
        && rows
            .iter()
            .zip(items)
            .all(|(r, i)| r["line"].as_u64() == Some(i.borrow().line as u64));
    aligned.then_some(rows)
}

/// Writes `rows`, the answers of `variant` on `task`, into the answers file in place of any it
/// held for the two (a run killed after writing them but before recording the result repeats the
/// evaluation), keeping every other row; the file is replaced whole, never left half-written.
fn record_answers(
    path: &Path,
    variant: &str,
    task: Task,
    rows: &[serde_json::Value],
) -> Result<(), ExperimentError> {
    let mut kept: Vec<serde_json::Value> = read_answers(path)
        .into_iter()
        .filter(|r| !answers_to(r, variant, task))
        .collect();
    kept.extend_from_slice(rows);
    write_jsonl(path, &kept)
}

fn count_by_task(items: &[Item]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.task.as_str().to_string()).or_default() += 1;
    }
    out
}

/// Thought rows kept per task and chart. The charts derive about ten thoughts; written once per
/// item, one of them made 269 of 667 rows (every BGL window), and SFT on them taught the 135M
/// model to recite that chart over windows it does not fit. A few rows each, with their
/// instances' logs, teach what a thought is without one drowning the rest.
pub const THOUGHTS_PER_KIND: usize = 8;

/// At most `n` rows of each kind, spread evenly over that kind's rows (the first of each stretch),
/// kept in their order: a kind's first rows may all come from one source (LogLM's single lines
/// before BGL's windows).
fn spread_of_each_kind<K: std::hash::Hash + Eq, T>(rows: Vec<(K, T)>, n: usize) -> Vec<T> {
    let mut total: HashMap<&K, usize> = HashMap::new();
    for (kind, _) in &rows {
        *total.entry(kind).or_insert(0) += 1;
    }
    let mut seen: HashMap<&K, usize> = HashMap::new();
    let keep: Vec<bool> = rows
        .iter()
        .map(|(kind, _)| {
            let of = total[kind];
            let at = seen.entry(kind).or_insert(0);
            let stretch = |row: usize| row * n / of;
            // The `n` stretches of a kind's rows each keep their first row.
            let kept = *at == 0 || stretch(*at) != stretch(*at - 1);
            *at += 1;
            kept
        })
        .collect();
    rows.into_iter()
        .zip(keep)
        .filter_map(|((_, row), kept)| kept.then_some(row))
        .collect()
}

/// The training files of the direct, stepwise and thought stages.
fn build_data(ctx: &mut Ctx) -> Result<(), ExperimentError> {
    let charts = &ctx.opts.charts;
    let mut direct = Vec::new();
    let mut stepwise = Vec::new();
    let mut coarse_fine = Vec::new();
    let mut thoughts = Vec::new();
    let mut stats = DataStats {
        train_items: count_by_task(&ctx.train),
        dev_items: count_by_task(&ctx.dev),
        ..Default::default()
    };
    let teachers = ctx.teachers();
    let precision = teacher_precision(&teachers, &ctx.train);
    for item in &ctx.train {
        let answer = format!("Answer: {}", item.gold.trim());
        direct.push(sft_row(eval::messages(item), &answer));
        let trace = teachers.compose(item);
        // A binary item no teacher reasons to its gold label is left out of the stepwise data,
        // as the paper keeps only reasoning that reaches gold. Written bare beside reasoned rows,
        // the answer's form alone told the label (bare rows leaned abnormal on LogLM's single
        // lines, bare diagnosis closings leaned `no` on chart windows), and the adapters learned
        // the form rather than the log. Parsing keeps its gold template (no label to leak).
        let binary = matches!(item.task, Task::AnomalyDetection | Task::FailurePrediction);
        // The charts of the item's system: their thoughts are thought-stage rows and the coarse
        // step of its coarse-to-fine answer.
        let frame = traces::framing_charts(charts, item);
        let solution = match &trace {
            Some(t) => {
                *stats
                    .traces
                    .entry(format!("{:?}", t.teacher).to_lowercase())
                    .or_default() += 1;
                Some(t.text.as_str())
            }
            None => {
                if matches!(
                    item.task,
                    Task::AnomalyDetection | Task::FailurePrediction | Task::LogParsing
                ) {
                    stats.traces_dropped += 1;
                }
                (!binary).then_some(answer.as_str())
            }
        };
        if let Some(text) = solution {
            stepwise.push(sft_row(eval::messages(item), text));
            coarse_fine.push(sft_row(
                eval::messages(item),
                &traces::thought_first(&frame, text),
            ));
        }
        // The same item as a diagnosis: the trace in the diagnosis format for the stepwise
        // data, its closing lines alone for direct SFT (which gets every item's, untraced ones
        // with an even confidence figure).
        let confidence = trace
            .as_ref()
            .and_then(|t| precision.get(&t.teacher).copied())
            .unwrap_or(0.5);
        if let Some((prompt, text)) =
            traces::diagnosis_example(charts, item, trace.as_ref(), confidence)
        {
            direct.push(sft_row(prompt.clone(), &closing_lines(&text)));
            // The diagnosis chat already opens with the retrieved chart and its walk: its
            // answer is the same in the coarse-to-fine data.
            if trace.is_some() {
                stepwise.push(sft_row(prompt.clone(), &text));
                coarse_fine.push(sft_row(prompt, &text));
            }
            stats.diagnosis_rows += 1;
        }
        for chart in frame {
            let (prompt, thought) = traces::thought_row(item, chart);
            thoughts.push(((item.task, thought.clone()), sft_row(prompt, &thought)));
        }
    }
    let thoughts = spread_of_each_kind(thoughts, THOUGHTS_PER_KIND);
    stats.thought_rows = thoughts.len();
    write_jsonl(&ctx.path("direct.jsonl"), &direct)?;
    write_jsonl(&ctx.path("stepwise_traces.jsonl"), &stepwise)?;
    write_jsonl(&ctx.path("coarse_fine_traces.jsonl"), &coarse_fine)?;
    write_jsonl(&ctx.path("thought.jsonl"), &thoughts)?;
    (ctx.progress)(&format!(
        "  {} training items, {} dev items; traces kept {:?}, dropped {}; {} thought rows; {} diagnosis chats",
        ctx.train.len(),
        ctx.dev.len(),
        stats.traces,
        stats.traces_dropped,
        stats.thought_rows,
        stats.diagnosis_rows
    ));
    ctx.state.data = stats;
    Ok(())
}

/// The `policy` step. A folder whose DPO was trained or measured before this step existed keeps
/// what it has (its pairs were the base model's mistakes), so its table still describes its
/// adapters. A DPO run begun on other pairs than the ones written here is removed, so it trains
/// again on these.
fn policy(ctx: &mut Ctx) -> Result<(), ExperimentError> {
    let measured = ctx
        .state
        .results
        .iter()
        .any(|r| r.variant.starts_with(FULL));
    if !ctx.state.dpo_from_policy && (ctx.state.done.contains_key("train:dpo") || measured) {
        ctx.note(
            "DPO was trained before the policy step existed: its pairs are the base model's mistakes"
                .to_string(),
        );
        return Ok(());
    }
    let pairs_path = ctx.path("dpo.jsonl");
    let before = std::fs::read(&pairs_path).ok();
    let adapter = ctx.path("runs").join("thought-stepwise").join("adapter");
    if adapter.exists() {
        sampling::policy(ctx, adapter)?;
    } else {
        ctx.note("policy: thought + stepwise has no adapter, no DPO pairs".to_string());
        write_jsonl(&pairs_path, &[])?;
    }
    ctx.state.dpo_from_policy = true;
    let dpo_run = ctx.path("runs").join("dpo");
    let changed = before != std::fs::read(&pairs_path).ok();
    if changed && dpo_run.exists() && !ctx.state.done.contains_key("train:dpo") {
        std::fs::remove_dir_all(&dpo_run).map_err(|e| io(&dpo_run, e))?;
        ctx.note("runs/dpo had begun on other pairs: removed, to train on the policy's".into());
    }
    Ok(())
}

fn rows_in(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

/// Trains run `name` (resuming its folder when it exists).
fn train(ctx: &mut Ctx, name: &str) -> Result<(), ExperimentError> {
    let Some(&(_, stage, data, from)) = RUNS.iter().find(|(n, ..)| *n == name) else {
        return Err(ExperimentError::Invalid(format!("unknown run {name}")));
    };
    let data = ctx.path(data);
    let rows = rows_in(&data);
    let folder = ctx.path("runs").join(name);
    if rows == 0 {
        ctx.note(format!(
            "{name}: no training rows in {}, not trained",
            data.display()
        ));
        ctx.state.skipped.push(name.to_string());
        return Ok(());
    }
    // Direct, stepwise and coarse-to-fine SFT take the same number of steps: one pass over the
    // items and their diagnosis chats (direct.jsonl holds one row for each; the reasoned data
    // may add samples).
    let rows_for_steps = match name {
        "direct" | "stepwise" | "thought-stepwise" | "coarse-fine" => {
            rows_in(&ctx.path("direct.jsonl"))
        }
        _ => rows,
    };
    let dir = if folder.join("config.yaml").exists() {
        RunDir::open(&folder)
    } else {
        let mut config = ctx.opts.scale.run_config(
            stage,
            &ctx.opts.model,
            data,
            rows_for_steps,
            ctx.opts.epochs,
        );
        if let Some(from) = from {
            let adapter = ctx.path("runs").join(from).join("adapter");
            if !adapter.exists() {
                ctx.note(format!("{name}: {from} has no adapter, not trained"));
                ctx.state.skipped.push(name.to_string());
                return Ok(());
            }
            config.from_adapter = Some(adapter);
        }
        std::fs::create_dir_all(ctx.path("runs")).map_err(|e| io(&ctx.path("runs"), e))?;
        RunDir::create_at(&folder, &config)?
    };
    let progress = &mut ctx.progress;
    let mut last = 0;
    let status = run::execute(&dir, &ctx.opts.device, &mut |s| {
        if s.step != last {
            last = s.step;
            progress(&format!(
                "  {name}: step {}/{} ({:.1} s/step)",
                s.step, s.steps, s.secs_per_step
            ));
        }
    })?;
    if status.state != RunState::Succeeded {
        return Err(ExperimentError::Invalid(format!(
            "training run {name} ended {:?}: {} (its folder {} resumes on the next run)",
            status.state,
            status.message,
            folder.display()
        )));
    }
    if let Some(f) = status.fitted.filter(|f| f.prompts_cut > 0) {
        // Evaluation sends every prompt whole: a cut one trained on a chat no one asks.
        ctx.note(format!(
            "{name}: {} of {} training prompts cut in the middle to fit {} tokens",
            f.prompts_cut, f.kept, f.max_len
        ));
    }
    Ok(())
}

/// Evaluates `variant` on the dev items of `task`, unless it is done or does not apply.
/// Which chat an evaluation sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    /// The task's stepwise prompt (the training data's), read at its `Answer:` line.
    Solution,
    /// The chat `diagnose` sends with its default limits, read as a diagnosis is read.
    Diagnosis,
}

fn evaluate(
    ctx: &mut Ctx,
    variant: &str,
    task: Task,
    prompt: Prompt,
) -> Result<(), ExperimentError> {
    let label = match prompt {
        Prompt::Solution => variant.to_string(),
        Prompt::Diagnosis => on_diagnosis_prompt(variant),
    };
    let done = ctx
        .state
        .results
        .iter()
        .any(|r| r.variant == label && r.task == task);
    let items: Vec<Item> = ctx.dev.iter().filter(|i| i.task == task).cloned().collect();
    if done || items.is_empty() || (variant == WALK && !eval::walk_applies(task)) {
        return Ok(());
    }
    let adapter = match variant_run(variant) {
        Some(name) => {
            let path = ctx.path("runs").join(name).join("adapter");
            if !path.exists() {
                ctx.note(format!(
                    "{variant}: no adapter (its run was not trained), not evaluated"
                ));
                return Ok(());
            }
            Some(path)
        }
        None => None,
    };
    let (answers, name) = if variant == WALK {
        (eval::run_walk(&ctx.opts.charts, &items), None)
    } else {
        let spec = BackendSpec::Local {
            path: ctx.opts.model.clone(),
            adapter: adapter.clone(),
            device: ctx.opts.device.clone(),
        };
        let mut model = spec.open()?;
        let settings = crate::config::DiagnosisSettings::default();
        let mut params = GenerationParams {
            max_tokens: match prompt {
                Prompt::Solution => ctx.opts.scale.max_tokens(task),
                Prompt::Diagnosis => settings.max_tokens,
            },
            temperature: 0.0,
            ..Default::default()
        };
        crate::reasoning::cue_answer(&mut params, task);
        let limits = (prompt == Prompt::Diagnosis).then(|| (&settings).into());
        let total = items.len();
        let progress = &mut ctx.progress;
        let answers = eval::run_prompt(
            &mut model,
            &items,
            &ctx.opts.charts,
            limits,
            &params,
            &mut |done| {
                if done == total || done % 10 == 0 {
                    progress(&format!("  {label} · {task}: {done}/{total}"));
                }
            },
        )?;
        (answers, Some(model.name()))
    };
    record_result(ctx, label, task, &items, &answers, name, adapter.as_deref())
}

/// Records the `answers` of `label` on `task` (in the answers file and as a result row), says the
/// headline figure, and saves the state.
fn record_result(
    ctx: &mut Ctx,
    label: String,
    task: Task,
    items: &[Item],
    answers: &[eval::Answer],
    model: Option<String>,
    adapter: Option<&Path>,
) -> Result<(), ExperimentError> {
    record_answers(
        &ctx.path("answers.jsonl"),
        &label,
        task,
        &eval::answer_rows(&label, items, answers),
    )?;
    let (mut result, _) = eval::result(&label, model, task, items, answers);
    result.adapter = adapter.map(|a| a.display().to_string());
    (ctx.progress)(&format!(
        "  {label} · {task}: {} = {:.3}",
        eval::headline_metric(task),
        result
            .metrics
            .get(eval::headline_metric(task))
            .copied()
            .unwrap_or(0.0)
    ));
    ctx.state.results.push(Row {
        variant: label,
        task,
        result,
    });
    ctx.save()
}

/// A recorded answer row as the answer it was.
fn recorded_answer(row: &serde_json::Value) -> eval::Answer {
    eval::Answer {
        text: row["text"].as_str().unwrap_or_default().to_string(),
        answer: row["answer"].as_str().map(str::to_string),
        latency: std::time::Duration::from_millis(row["latency_ms"].as_u64().unwrap_or(0)),
        prompt_tokens: row["prompt_tokens"].as_u64().unwrap_or(0) as usize,
        cut: row["cut"].as_bool().unwrap_or(false),
    }
}

/// The answers recorded so far (`answers.jsonl`), for the tables that split them; a missing file
/// or an unreadable row reads as nothing (the file is the run's own output, written whole per
/// variant and task).
fn read_answers(path: &Path) -> Vec<serde_json::Value> {
    read_jsonl(path)
}

/// The rows of a JSONL file this folder keeps (answers, samples); a missing file has none, and a
/// line cut short by a kill is skipped.
fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The rows of a training file a step needs (an error where it is missing).
fn training_rows(path: &Path) -> Result<Vec<serde_json::Value>, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn write_results(ctx: &Ctx) -> Result<(), ExperimentError> {
    let s = &ctx.state;
    let answers = read_answers(&ctx.path("answers.jsonl"));
    let md = report::markdown(s, &ctx.dev, &ctx.train, &answers);
    let path = ctx.path("results.md");
    crate::fsutil::write_atomic(&path, md.as_bytes()).map_err(|e| io(&path, e))?;
    let path = ctx.path("results.json");
    let json = serde_json::to_vec_pretty(s).map_err(|e| io(&path, e))?;
    crate::fsutil::write_atomic(&path, &json).map_err(|e| io(&path, e))?;
    // Each trained adapter carries its own measurement, for diagnoses that load it.
    for variant in VARIANTS {
        if let Some(run) = variant_run(variant) {
            let adapter = ctx.path("runs").join(run).join("adapter");
            if adapter.is_dir() {
                write_reliability(&answers, &ctx.dev, variant, &path, &adapter)?;
            }
        }
    }
    Ok(())
}

/// The adapters a finished experiment can ship, by the name `experiment ship --variant` takes:
/// the full pipeline's, stepwise SFT alone's (the traced run's ablation measured it above the
/// full pipeline; the thought stage cost anomaly F1), and coarse-to-fine SFT's.
pub const SHIPPABLE: [(&str, &str); 3] = [
    ("full", FULL),
    ("stepwise", STEPWISE),
    ("coarse-fine", COARSE_FINE),
];

/// The variants a shipped adapter's table must hold beside its own: the baselines its targets
/// are stated against. The staged variants an experiment ran or not do not change what the
/// shipped one measured.
const SHIPPED_AGAINST: [&str; 3] = [BASE, WALK, DIRECT];

/// What each shippable adapter is, for its README.
fn shipped_description(variant: &str) -> &'static str {
    match variant {
        STEPWISE => "Stepwise SFT's LoRA adapter (SFT on the stepwise traces alone, without the thought stage; PEFT layout)",
        COARSE_FINE => "Coarse-to-fine SFT's LoRA adapter (SFT on the stepwise traces, each answer opened by its system's charts' problems as a question; no thought stage; PEFT layout)",
        _ => "The full pipeline's LoRA adapter (thought SFT, then stepwise SFT, then DPO; PEFT layout)",
    }
}

/// Copies a finished experiment's adapter of `variant` (one of [`SHIPPABLE`]) into `dest` with
/// the experiment's `results.json` and `results.md` beside it and a README naming the command
/// that made it, and its measurement against the walk ([`verdict::RELIABILITY_FILE`]), so the
/// adapter carries what the verdict rule needs. Returns the files written.
pub fn ship(
    folder: &Path,
    dest: &Path,
    command: &str,
    variant: &str,
) -> Result<Vec<PathBuf>, ExperimentError> {
    let (variant, run) = SHIPPABLE
        .iter()
        .find(|(name, _)| *name == variant)
        .and_then(|(_, v)| Some((*v, variant_run(v)?)))
        .ok_or_else(|| {
            ExperimentError::Invalid(format!(
                "cannot ship `{variant}`: the adapters a folder ships are {}",
                SHIPPABLE.map(|(n, _)| n).join(", ")
            ))
        })?;
    let state_path = folder.join("state.json");
    let state: State =
        serde_json::from_slice(&std::fs::read(&state_path).map_err(|e| io(&state_path, e))?)
            .map_err(|e| io(&state_path, e))?;
    let missing: Vec<&str> = SHIPPED_AGAINST
        .into_iter()
        .chain([variant])
        .filter(|v| !state.results.iter().any(|r| r.variant == *v))
        .collect();
    if !missing.is_empty() {
        return Err(ExperimentError::Invalid(format!(
            "{} is not finished: no results for {}; run it to the end first",
            folder.display(),
            missing.join(", ")
        )));
    }
    // The verdict rule reads the adapter's measurement on the diagnosis prompt; a folder
    // finished before that variant was measured there has none to give.
    if !state
        .results
        .iter()
        .any(|r| r.variant == on_diagnosis_prompt(variant))
    {
        return Err(ExperimentError::Invalid(format!(
            "{} has no measurement of {variant} on the diagnosis prompt beside the walk; run it again to measure it first",
            folder.display()
        )));
    }
    let adapter = folder.join("runs").join(run).join("adapter");
    std::fs::create_dir_all(dest).map_err(|e| io(dest, e))?;
    let mut written = Vec::new();
    let mut copy = |from: PathBuf, name: &str| -> Result<(), ExperimentError> {
        let to = dest.join(name);
        let bytes = std::fs::read(&from).map_err(|e| io(&from, e))?;
        crate::fsutil::write_atomic(&to, &bytes).map_err(|e| io(&to, e))?;
        written.push(to);
        Ok(())
    };
    copy(adapter.join("adapter_config.json"), "adapter_config.json")?;
    copy(
        adapter.join("adapter_model.safetensors"),
        "adapter_model.safetensors",
    )?;
    copy(folder.join("results.json"), "results.json")?;
    copy(folder.join("results.md"), "results.md")?;
    let dev = eval::data::load(&folder.join("dev.jsonl"))
        .map_err(ExperimentError::Data)?
        .items;
    written.extend(write_reliability(
        &read_answers(&folder.join("answers.jsonl")),
        &dev,
        variant,
        &dest.join("results.json"),
        dest,
    )?);
    let readme = format!(
        "# LogReasoner adapter for {model}\n\n{what}, made by\n\n```\n{command}\n```\n\nat {scale:?} scale. `results.md` is its table on the dev split (every variant, every task);\n`reliability.json` (its anomaly-detection record on the diagnosis prompt beside the walk's, with their disagreements counted item by item) is what diagnoses read to decide\nwhen the model may override a chart walk.\nThe default configuration loads this adapter with the default model; `--adapter none` turns it off.\n",
        model = state.model.display(),
        what = shipped_description(variant),
        scale = state.scale,
    );
    let to = dest.join("README.md");
    crate::fsutil::write_atomic(&to, readme.as_bytes()).map_err(|e| io(&to, e))?;
    written.push(to);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(items: usize) -> State {
        let row = |variant: &str, f1: f64| Row {
            variant: variant.into(),
            task: Task::AnomalyDetection,
            result: EvalResult {
                variant: variant.into(),
                model: None,
                adapter: None,
                metrics: [("f1", f1), ("precision", 0.75), ("npv", 0.9)]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                items,
                unparsed: 0,
                mean_latency_ms: 0.0,
                disagreements: None,
            },
        };
        State {
            scale: Scale::Full,
            model: PathBuf::from("m.gguf"),
            done: BTreeMap::new(),
            data: DataStats::default(),
            results: vec![
                row(WALK, 0.4),
                row(DIRECT, 0.5),
                row(FULL, 0.7),
                row(&on_diagnosis_prompt(FULL), 0.6),
                row(&on_diagnosis_prompt(DIRECT), 0.3),
            ],
            notes: Vec::new(),
            epochs: 1.0,
            skipped: Vec::new(),
            inputs: None,
            dpo_from_policy: false,
        }
    }

    #[test]
    fn the_constant_answers_are_scored_from_the_dev_golds() {
        let item = |task: Task, gold: &str| Item {
            line: 1,
            task,
            system: "BGL".into(),
            instruction: String::new(),
            input: Vec::new(),
            gold: gold.into(),
            category: None,
            kind: None,
        };
        let mut dev = Vec::new();
        dev.extend((0..12).map(|_| item(Task::AnomalyDetection, "abnormal")));
        dev.extend((0..12).map(|_| item(Task::AnomalyDetection, "normal")));
        dev.extend((0..9).map(|_| item(Task::FailurePrediction, "Yes")));
        dev.extend((0..15).map(|_| item(Task::FailurePrediction, "no")));
        let md = against_constants(&state(24), &dev);
        assert!(
            md.contains("| always abnormal / yes | 0.667 | 0.500 | 0.545 | 0.375 |"),
            "{md}"
        );
        assert!(
            md.contains("| always normal / no | 0.000 | 0.500 | 0.000 | 0.625 |"),
            "{md}"
        );
        // A variant's own row: its F1, no accuracy recorded, nothing on a task it did not run.
        assert!(md.contains("| full (+ DPO) | 0.700 | – | – | – |"), "{md}");
    }

    const FATAL: &str = "- 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt";
    const INFO: &str = "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected";

    /// Whether item `i` of [`recorded_run`] shows a chart's problem (the walk: abnormal; the
    /// model: normal) or none (the walk: normal; the model: abnormal).
    fn charted(i: usize) -> bool {
        i % 4 < 2
    }

    /// `n` BGL anomaly items with recorded answers: the walk's, the full pipeline's on the
    /// diagnosis prompt (always against the walk, citing a line of the window) and direct SFT's
    /// there (always the walk's answer). `model_right(i)` says whether the full pipeline had item
    /// `i` right, which sets its gold answer.
    fn recorded_run(
        n: usize,
        model_right: &dyn Fn(usize) -> bool,
    ) -> (Vec<Item>, Vec<serde_json::Value>) {
        let mut dev = Vec::new();
        let mut rows = Vec::new();
        for i in 0..n {
            let walk = charted(i);
            let gold = if model_right(i) { !walk } else { walk };
            let word = |abnormal: bool| if abnormal { "abnormal" } else { "normal" };
            let item = Item {
                line: i + 1,
                task: Task::AnomalyDetection,
                system: "BGL".into(),
                instruction: String::new(),
                input: vec![
                    if walk { FATAL } else { INFO }.to_string(),
                    INFO.to_string(),
                ],
                gold: word(gold).into(),
                category: None,
                kind: None,
            };
            let text = |abnormal: bool| {
                format!(
                    "1. Line 1 decides.\nAnomalous: {}\nEvidence: 1\nAnswer: {}",
                    if abnormal { "yes" } else { "no" },
                    word(abnormal)
                )
            };
            let row = |variant: &str, said: bool, text: &str| json!({ "variant": variant, "task": "anomaly_detection", "line": item.line, "gold": item.gold, "answer": word(said), "text": text });
            rows.push(row(WALK, walk, word(walk)));
            rows.push(row(&on_diagnosis_prompt(FULL), !walk, &text(!walk)));
            rows.push(row(&on_diagnosis_prompt(DIRECT), walk, &text(walk)));
            dev.push(item);
        }
        (dev, rows)
    }

    /// An adapter is measured by its recorded answers to the diagnosis prompt beside the walk's,
    /// with their disagreements counted item by item; a variant with only solution-prompt rows,
    /// a run without the walk's answers, or too few items measure nothing.
    #[test]
    fn an_adapter_is_measured_on_the_prompt_diagnoses_send() {
        let source = Path::new("exp/state.json");
        let (dev, rows) = recorded_run(30, &|_| true);
        let full = reliability(&rows, &dev, FULL, source).expect("measured");
        assert_eq!(full.model.map(|m| m.f1), Some(1.0));
        assert_eq!(full.walk.map(|w| w.f1), Some(0.0));
        let d = full.disagreements.expect("counted");
        assert_eq!(
            (d.model_anomalous.cases, d.model_anomalous.model_right),
            (14, 14)
        );
        assert_eq!((d.model_normal.cases, d.model_normal.model_right), (16, 16));
        assert!(full.model_may_overrule(true) && full.model_may_overrule(false));
        let direct = reliability(&rows, &dev, DIRECT, source).expect("measured");
        assert_eq!(
            direct.disagreements,
            Some(verdict::Disagreements::default())
        );
        assert!(!direct.model_may_overrule(true) && !direct.model_may_overrule(false));
        assert_eq!(reliability(&rows, &dev, STEPWISE, source), None);
        let without_walk: Vec<serde_json::Value> = rows
            .iter()
            .filter(|r| r["variant"] != WALK)
            .cloned()
            .collect();
        assert_eq!(reliability(&without_walk, &dev, FULL, source), None);
        let (few, few_rows) = recorded_run(verdict::MIN_MEASURED_ITEMS - 1, &|_| true);
        assert_eq!(reliability(&few_rows, &few, FULL, source), None);
    }

    /// What the experiment writes beside an adapter is what a diagnosis reads back, counts
    /// included; a later measurement on too few items removes it.
    #[test]
    fn the_written_measurement_is_what_the_verdict_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = Path::new("r.json");
        let (dev, rows) = recorded_run(30, &|i| i % 3 != 0);
        let written = write_reliability(&rows, &dev, FULL, source, dir.path())
            .expect("write")
            .expect("measured");
        assert!(written.ends_with(verdict::RELIABILITY_FILE));
        let read = verdict::Reliability::of_adapter(dir.path()).expect("read back");
        assert_eq!(
            read,
            reliability(&rows, &dev, FULL, source).expect("measured")
        );
        assert!(read
            .disagreements
            .is_some_and(|d| d.model_normal.cases == 16));
        assert_eq!(
            verdict::Reliability::of_adapter(&dir.path().join("nowhere")),
            None
        );
        let (few, few_rows) = recorded_run(5, &|_| true);
        let none = write_reliability(&few_rows, &few, FULL, source, dir.path());
        assert_eq!(none.expect("removed"), None);
        assert!(!written.exists());
    }

    /// A variant's answers on a task are recorded once, however often its evaluation ran (a kill
    /// after writing them and before recording the result runs it again), and a torn row goes.
    #[test]
    fn answers_are_recorded_once_per_variant_and_task() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("answers.jsonl");
        let row = |variant: &str, task: &str, answer: &str| json!({ "variant": variant, "task": task, "answer": answer });
        std::fs::write(
            &path,
            format!(
                "{}\n{}\n{{\"variant\": \"base\", \"ta",
                row(BASE, "anomaly_detection", "normal"),
                row(FULL, "anomaly_detection", "normal")
            ),
        )
        .expect("write");
        let again = [row(FULL, "anomaly_detection", "abnormal")];
        record_answers(&path, FULL, Task::AnomalyDetection, &again).expect("record");
        record_answers(&path, FULL, Task::AnomalyDetection, &again).expect("record");
        let rows = read_answers(&path);
        assert_eq!(
            rows,
            vec![
                row(BASE, "anomaly_detection", "normal"),
                row(FULL, "anomaly_detection", "abnormal")
            ]
        );
    }

    /// The diagnosis verdict is the recorded diagnosis-prompt answers settled against each item's
    /// walk, each half of the items with the rule measured on the other half: here the model is
    /// right on every even item and wrong on every odd one, so the even items keep the walk (the
    /// odd half measured the model wrong) and the odd items take the model's answer (the even
    /// half measured it right). Measuring on all items (half right: no win) or on the item's own
    /// half would settle them otherwise.
    #[test]
    fn the_diagnosis_verdict_is_the_recorded_answers_settled_against_the_walk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = medium_in(dir.path(), 1.0);
        opts.charts =
            crate::flowchart::valid_charts(&crate::config::repo_root().join("flowcharts"))
                .expect("charts");
        let (dev, rows) = recorded_run(48, &|i| i % 2 == 0);
        write_jsonl(&dir.path().join("answers.jsonl"), &rows).expect("answers");
        let mut progress = |_: &str| {};
        let mut ctx = Ctx {
            opts: &opts,
            state: state(48),
            train: Vec::new(),
            train_lines: Vec::new(),
            dev: dev.clone(),
            progress: &mut progress,
        };
        score_verdicts(&mut ctx, FULL).expect("scored");
        // Scored once: a second pass finds the row and leaves it.
        score_verdicts(&mut ctx, FULL).expect("scored");
        let label = diagnosis_verdict(FULL);
        assert_eq!(
            ctx.state
                .results
                .iter()
                .filter(|r| r.variant == label)
                .count(),
            1
        );
        assert!(ctx.state.notes.is_empty(), "{:?}", ctx.state.notes);
        let texts: Vec<String> = read_answers(&dir.path().join("answers.jsonl"))
            .into_iter()
            .filter(|r| r["variant"] == label.as_str())
            .map(|r| r["text"].as_str().unwrap_or_default().to_string())
            .collect();
        let expected: Vec<&str> = (0..48)
            .map(|i| match (i % 2 == 0, charted(i)) {
                (true, true) => "abnormal (walk; the model disagreed)",
                (true, false) => "normal (walk; the model disagreed)",
                (false, true) => "normal (model, overriding the walk)",
                (false, false) => "abnormal (model, overriding the walk)",
            })
            .collect();
        assert_eq!(texts, expected);

        // A half too small to measure leaves the walk standing there, and says so.
        let (few, few_rows) = recorded_run(30, &|_| true);
        write_jsonl(&dir.path().join("answers.jsonl"), &few_rows).expect("answers");
        let mut progress = |_: &str| {};
        let mut ctx = Ctx {
            opts: &opts,
            state: state(30),
            train: Vec::new(),
            train_lines: Vec::new(),
            dev: few,
            progress: &mut progress,
        };
        score_verdicts(&mut ctx, FULL).expect("scored");
        assert_eq!(ctx.state.notes.len(), 2, "{:?}", ctx.state.notes);
        let row = ctx.state.results.iter().find(|r| r.variant == label);
        assert_eq!(
            row.and_then(|r| r.result.metrics.get("f1").copied()),
            Some(0.0)
        );

        // Without recorded answers for every item nothing is scored.
        let mut progress = |_: &str| {};
        let mut ctx = Ctx {
            opts: &opts,
            state: state(24),
            train: Vec::new(),
            train_lines: Vec::new(),
            dev: dev[..47].to_vec(),
            progress: &mut progress,
        };
        score_verdicts(&mut ctx, FULL).expect("noted");
        assert!(ctx.state.results.iter().all(|r| r.variant != label));
        assert_eq!(ctx.state.notes.len(), 1, "{:?}", ctx.state.notes);
    }

    /// A medium run of the test model in `folder`, with no data to read.
    fn medium_in(folder: &Path, epochs: f64) -> Options {
        Options {
            scale: Scale::Medium,
            folder: folder.to_path_buf(),
            model: PathBuf::from("m.gguf"),
            device: Device::Cpu,
            loglm: folder.join("none"),
            loghub: folder.join("none"),
            charts: Vec::new(),
            until: None,
            epochs,
        }
    }

    /// Every variant is evaluated by exactly one step, after the run whose adapter it reads, and
    /// DPO trains after the policy step that writes its pairs.
    #[test]
    fn each_variant_is_evaluated_once_after_its_training() {
        let all = steps();
        let at = |step: &str| all.iter().position(|s| s == step);
        for variant in VARIANTS {
            let measuring = |measure: Measure| -> Vec<usize> {
                EVAL_STEPS
                    .iter()
                    .filter(|e| e.measure == measure && e.variants.contains(&variant))
                    .map(|e| at(e.name).expect("an evaluation step is a step"))
                    .collect()
            };
            let tasks = measuring(Measure::Tasks);
            assert_eq!(tasks.len(), 1, "{variant}: {tasks:?}");
            let trained =
                variant_run(variant).map(|run| at(&format!("train:{run}")).expect("a step"));
            assert!(trained.is_none_or(|t| t < tasks[0]), "{variant}");
            // A diagnosed variant is measured on the diagnosis prompt once, after its run, and
            // its verdicts scored after that.
            let (diagnosis, verdicts) = (
                measuring(Measure::DiagnosisPrompt),
                measuring(Measure::Verdicts),
            );
            assert_eq!(diagnosis.len(), verdicts.len(), "{variant}");
            assert!(diagnosis.len() <= 1, "{variant}");
            if let (Some(&d), Some(&v)) = (diagnosis.first(), verdicts.first()) {
                assert!(trained.is_none_or(|t| t < d) && d < v, "{variant}");
            }
        }
        assert!(at(POLICY_STEP) < at("train:dpo"));
        assert_eq!(
            diagnosed().collect::<Vec<_>>(),
            [BASE, STEPWISE, FULL, COARSE_FINE]
        );
        let unique: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
    }

    /// DPO's pairs (`dpo.jsonl`, not committed) gone: the policy step that wrote them runs
    /// again, and so does DPO after it; the training before it stands.
    #[test]
    fn lost_dpo_pairs_redo_the_policy_step_and_dpo() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in outputs("data").iter().chain(&outputs("samples")) {
            std::fs::write(dir.path().join(f), "").expect("write");
        }
        for run in ["thought", "thought-stepwise"] {
            let folder = dir.path().join("runs").join(run);
            std::fs::create_dir_all(&folder).expect("run folder");
            std::fs::write(folder.join("config.yaml"), "").expect("config");
        }
        let mut s = state(24);
        for step in [
            "data",
            "samples",
            "train:thought",
            "train:thought-stepwise",
            POLICY_STEP,
            "train:dpo",
        ] {
            s.done.insert(step.into(), 1.0);
        }
        forget_lost_outputs(dir.path(), &mut s, None);
        let kept: Vec<&String> = s.done.keys().collect();
        assert_eq!(
            kept,
            ["data", "samples", "train:thought", "train:thought-stepwise"]
        );
    }

    /// A folder committed with its results but without its training files or run folders (a
    /// fresh clone): nothing still to run reads them, so nothing is rebuilt or trained again.
    /// With one evaluation left, its run and the files that run reads are made again, unless
    /// the run stops before it.
    #[test]
    fn lost_files_are_made_again_only_for_a_step_still_to_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = state(24);
        for step in steps() {
            s.done.insert(step, 1.0);
        }
        forget_lost_outputs(dir.path(), &mut s, None);
        assert_eq!(
            s.done.len(),
            steps().len(),
            "every finished step stays done"
        );

        s.done.remove("eval:stepwise");
        let mut until_walk = s.clone();
        forget_lost_outputs(dir.path(), &mut until_walk, Some("eval:walk"));
        assert_eq!(until_walk.done.len(), steps().len() - 1);

        forget_lost_outputs(dir.path(), &mut s, None);
        let forgotten: Vec<String> = steps()
            .into_iter()
            .filter(|step| !s.done.contains_key(step))
            .collect();
        assert_eq!(
            forgotten,
            ["data", "samples", "train:stepwise", "eval:stepwise"]
        );
    }

    /// A run skipped for want of data is done and stays done; an unreadable `state.json` is an
    /// error, never a fresh start that would overwrite the record of finished work.
    #[test]
    fn skipped_runs_stay_done_and_a_damaged_state_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in outputs("data").iter().chain(&outputs("samples")) {
            std::fs::write(dir.path().join(f), "").expect("write");
        }
        let mut s = state(24);
        for step in ["data", "samples", "train:direct", "train:stepwise"] {
            s.done.insert(step.into(), 1.0);
        }
        s.skipped.push("direct".into());
        forget_lost_outputs(dir.path(), &mut s, None);
        assert!(s.done.contains_key("train:direct"));
        // A trained run whose folder is gone trains again; the skip list is kept for the rest.
        assert!(!s.done.contains_key("train:stepwise"));
        assert_eq!(s.skipped, vec!["direct".to_string()]);

        std::fs::create_dir(dir.path().join("state.json")).expect("a folder in its place");
        let err = run(&medium_in(dir.path(), 1.0), &mut |_| {}).expect_err("unreadable state");
        assert!(err.to_string().contains("state.json"), "{err}");
    }

    #[test]
    fn thought_rows_keep_a_few_of_each_kind_spread_over_its_rows() {
        let rows = vec![
            ("bgl", 1),
            ("bgl", 2),
            ("pam", 3),
            ("bgl", 4),
            ("pam", 5),
            ("bgl", 6),
        ];
        assert_eq!(spread_of_each_kind(rows.clone(), 2), [1, 3, 4, 5]);
        assert_eq!(spread_of_each_kind(rows.clone(), 1), [1, 3]);
        assert_eq!(spread_of_each_kind(rows, 8), [1, 2, 3, 4, 5, 6]);
        let many: Vec<(u8, usize)> = (0..100).map(|i| (0, i)).collect();
        assert_eq!(spread_of_each_kind(many, 4), [0, 25, 50, 75]);
    }

    #[test]
    fn epochs_set_every_stage_length_and_a_folder_keeps_its_setting() {
        let config = |epochs| {
            Scale::Medium.run_config(
                Stage::Stepwise,
                Path::new("m.gguf"),
                PathBuf::from("d.jsonl"),
                161,
                epochs,
            )
        };
        // 161 rows in batches of 4: 41 steps an epoch, 121 for three (161 × 3 / 4, rounded up).
        assert_eq!(config(1.0).steps, Some(41));
        assert_eq!(config(3.0).steps, Some(121));
        assert_eq!(config(3.0).epochs, 3.0);
        // A folder made with one setting refuses another, before reading any data.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut done = state(24);
        done.scale = Scale::Medium;
        std::fs::write(
            dir.path().join("state.json"),
            serde_json::to_vec(&done).expect("json"),
        )
        .expect("write");
        let err = run(&medium_in(dir.path(), 3.0), &mut |_| {}).expect_err("another setting");
        assert!(err.to_string().contains("(1 epochs)"), "{err}");
    }
}
