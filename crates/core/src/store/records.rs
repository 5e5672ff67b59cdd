//! The entities kept in sled. Each is serde-encoded (JSON) under a big-endian id key in its own tree,
//! so that iteration follows creation order. New optional fields take `#[serde(default)]`, which keeps
//! older databases readable without a migration.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;

/// A stable record id. Allocated by [`super::Store::next_id`], monotonic across restarts.
pub type Id = u64;

/// A record that lives in one sled tree under its id.
pub trait Record: Serialize + DeserializeOwned {
    /// The sled tree this record type lives in.
    const TREE: &'static str;
    /// The record's id (0 until the store assigns one).
    fn id(&self) -> Id;
    /// Sets the id; called by the store when it inserts the record.
    fn set_id(&mut self, id: Id);
}

macro_rules! record {
    ($ty:ty, $tree:literal) => {
        impl Record for $ty {
            const TREE: &'static str = $tree;
            fn id(&self) -> Id {
                self.id
            }
            fn set_id(&mut self, id: Id) {
                self.id = id;
            }
        }
    };
}

/// The four log-analysis tasks of SPEC, plus free-form interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Extract the template of each log line (`<*>` for variable parts).
    LogParsing,
    /// Say whether a window of log lines is normal or abnormal.
    AnomalyDetection,
    /// Say whether the lines foretell a failure within the horizon (`yes` or `no`).
    FailurePrediction,
    /// Name the cause of a failure shown in the lines, and what to do.
    RootCause,
    /// Answer a free-form question about the lines.
    Interpretation,
}

impl Task {
    /// Every task, in display order.
    pub const ALL: [Task; 5] = [
        Task::LogParsing,
        Task::AnomalyDetection,
        Task::FailurePrediction,
        Task::RootCause,
        Task::Interpretation,
    ];

    /// The snake_case name used in files, on the command line and in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::LogParsing => "log_parsing",
            Task::AnomalyDetection => "anomaly_detection",
            Task::FailurePrediction => "failure_prediction",
            Task::RootCause => "root_cause",
            Task::Interpretation => "interpretation",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Task::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown task `{s}`; known tasks: {}", known.join(", "))
            })
    }
}

/// Where a human stands on a generated artefact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Not yet reviewed; every new artefact starts here.
    #[default]
    Pending,
    /// A person accepted it as it is (or as edited).
    Accepted,
    /// A person rejected it; it is not used for training.
    Rejected,
    /// Derived from a flowchart whose content has changed since.
    Stale,
}

/// One concrete problem for the model: input lines, a gold answer, where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInstance {
    /// Record id (0 until stored).
    pub id: Id,
    /// Which task the instance poses.
    pub task: Task,
    /// The log's system (e.g. `HDFS`, `BGL`); empty when the source names none.
    pub system: String,
    /// The question or instruction, when the source has one.
    #[serde(default)]
    pub instruction: String,
    /// The log lines the model is shown, one per entry.
    pub input: Vec<String>,
    /// The reference answer, in the task's answer format.
    pub gold: String,
    /// Where the instance came from: a file path and row, or `diagnosis:<id>`.
    pub source: String,
    /// SHA-256 over task, instruction and input; duplicates share it.
    pub content_hash: String,
    /// Task-specific parameters, e.g. `window` and `horizon` for failure prediction.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// When it was stored, in Unix milliseconds.
    pub created_at: u64,
}
record!(TaskInstance, "instances");

impl TaskInstance {
    /// SHA-256 over task, instruction and input: instances with the same content are one instance.
    pub fn hash(task: Task, instruction: &str, input: &[String]) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(task.as_str().as_bytes());
        h.update([0]);
        h.update(instruction.as_bytes());
        for line in input {
            h.update([0]);
            h.update(line.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Who or what wrote a thought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ThoughtOrigin {
    /// Deterministically derived from a flowchart.
    Chart,
    /// Written or rewritten by a model.
    Model {
        /// Name of the model that wrote it.
        model: String,
    },
    /// Edited by a person.
    Human {
        /// Who made the edit.
        annotator: String,
    },
}

/// A coarse, instance-free thought: SPEC's "Thought" format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thought {
    /// Record id (0 until stored).
    pub id: Id,
    /// The flowchart it comes from, with the chart's content hash at derivation time.
    pub chart_id: Option<String>,
    /// The chart's content hash when the thought was derived; a change marks the thought stale.
    pub chart_hash: Option<String>,
    /// The instance it was written for, when no chart matched.
    pub instance_id: Option<Id>,
    /// Thoughts of one chart are versioned: 1 is the derived one, higher ones rewrites and edits.
    pub version: u32,
    /// A short description of how the problem is approached.
    pub overview: String,
    /// What makes the problem hard, one entry per challenge.
    pub challenges: Vec<String>,
    /// The steps to follow, in order, without instance details.
    pub steps: Vec<String>,
    /// Who or what wrote this version.
    pub origin: ThoughtOrigin,
    /// Where review stands on this thought.
    pub status: ReviewStatus,
    /// When it was stored, in Unix milliseconds.
    pub created_at: u64,
}
record!(Thought, "thoughts");

/// A model-written stepwise solution and its grading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    /// Record id (0 until stored).
    pub id: Id,
    /// The task instance this solution answers.
    pub instance_id: Id,
    /// The thought the model was given, if any.
    pub thought_id: Option<Id>,
    /// The whole generated text, steps and `Answer:` line included.
    pub text: String,
    /// The parsed `Answer:` line; `None` when it could not be parsed (graded wrong).
    pub answer: Option<String>,
    /// Graded score in 0..=1; exact-match tasks give 0 or 1.
    pub score: Option<f32>,
    /// Whether the answer matches the gold; `None` until graded.
    pub correct: Option<bool>,
    /// Name of the model that wrote it.
    pub model: String,
    /// Where review stands on this solution.
    pub status: ReviewStatus,
    /// The diagnosis this solution records a person's decision on (one solution per diagnosis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Id>,
    /// When it was stored, in Unix milliseconds.
    pub created_at: u64,
}
record!(Solution, "solutions");

/// The outcome of one pairwise comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// `chosen` is better than `rejected`.
    Chosen,
    /// Both are equally good, or equally wrong.
    Tie,
    /// The annotator could not judge the pair (e.g. the gold answer looks wrong).
    Skip,
}

/// Whether a pair came from automatic grading or a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// Made by grading: a correct solution preferred over a wrong one.
    Auto,
    /// Made by a person on the Label screen.
    Human,
}

/// A preference between two solutions of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceLabel {
    /// Record id (0 until stored).
    pub id: Id,
    /// The task instance both solutions answer.
    pub instance_id: Id,
    /// The preferred solution (for a tie, the one shown on the left).
    pub chosen: Id,
    /// The other solution.
    pub rejected: Id,
    /// Whether `chosen` won, the two tied, or the pair was skipped.
    pub preference: Preference,
    /// Whether the label came from grading or a person.
    pub source: LabelSource,
    /// Who labelled it; `auto` for labels made by grading.
    pub annotator: String,
    /// Which solution was shown on the left, so side bias can be measured.
    pub shown_left: Option<Id>,
    /// The annotator marked the pair for a second look.
    #[serde(default)]
    pub flagged: bool,
    /// When it was stored, in Unix milliseconds.
    pub created_at: u64,
}
record!(PreferenceLabel, "labels");

impl PreferenceLabel {
    /// The two solutions as an unordered pair (lower id first), whatever was chosen.
    pub fn pair(&self) -> (Id, Id) {
        (
            self.chosen.min(self.rejected),
            self.chosen.max(self.rejected),
        )
    }
}

/// What a review decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum ReviewTarget {
    /// A thought, by record id.
    Thought(Id),
    /// A solution, by record id.
    Solution(Id),
    /// A diagnosis, by record id.
    Diagnosis(Id),
}

/// A person's decision on a thought, a solution or a diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewDecision {
    /// Record id (0 until stored).
    pub id: Id,
    /// The thought, solution or diagnosis decided on.
    pub target: ReviewTarget,
    /// `Accepted` or `Rejected`; an edit is recorded with the text before and after.
    pub decision: ReviewStatus,
    /// The text before and after, when the reviewer edited it; `None` for a plain decision.
    pub edit: Option<Edit>,
    /// Who made the decision.
    pub annotator: String,
    /// When it was made, in Unix milliseconds.
    pub created_at: u64,
}
record!(ReviewDecision, "reviews");

/// A reviewer's change to a text: what it said before and what it says now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edit {
    /// The text as it was before the edit.
    pub before: String,
    /// The text as the reviewer left it.
    pub after: String,
}

/// A diagnosis of a window of log lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Record id (0 until stored).
    pub id: Id,
    /// File path or `-` for stdin.
    pub source: String,
    /// 1-based inclusive line range of the window.
    pub first_line: u64,
    /// Last line of the window (1-based, inclusive).
    pub last_line: u64,
    /// The flowchart retrieval chose, if any.
    pub chart_id: Option<String>,
    /// Name of the model that diagnosed, or `flowchart walk` when none ran.
    pub model: String,
    /// The LoRA adapter loaded on the model, if any.
    pub adapter: Option<String>,
    /// Whether the window was judged abnormal.
    pub anomalous: bool,
    /// The cause named, if any (see `cause_is_category`).
    pub cause: Option<String>,
    /// Confidence in the verdict, 0..=1.
    pub confidence: Option<f32>,
    /// Line numbers (1-based, inside the window) cited as evidence.
    pub evidence: Vec<u64>,
    /// What to do next, in order.
    pub next_steps: Vec<String>,
    /// The model's stepwise reasoning (empty for the walk baseline).
    pub reasoning: String,
    /// Milliseconds from the request to the first generated token; `None` without a model.
    pub first_token_ms: Option<u64>,
    /// Wall milliseconds the whole diagnosis took.
    pub total_ms: u64,
    /// Where review stands on this diagnosis.
    pub status: ReviewStatus,
    /// When it was stored, in Unix milliseconds.
    pub created_at: u64,
    /// Node ids the flowchart walk visited.
    #[serde(default)]
    pub chart_path: Vec<String>,
    /// `cause` is a chart category (else free text).
    #[serde(default)]
    pub cause_is_category: bool,
    /// The engineer's question; `None` when the general default was asked.
    #[serde(default)]
    pub question: Option<String>,
    /// The log's system (detected format, else the chart's system), for the task instance a review
    /// creates.
    #[serde(default)]
    pub system: String,
    /// The lines the model saw, with their numbers (each cut at 2 000 characters).
    #[serde(default)]
    pub shown: Vec<(u64, String)>,
}
record!(Diagnosis, "diagnoses");

/// One direction of disagreement: how many items and how many of them the model had right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    /// Items where the two disagreed this way.
    pub cases: usize,
    /// Of those, the ones where the model's answer was the gold one.
    pub model_right: usize,
}

/// How often the model was right where it and the walk disagreed, by direction: the measure the
/// verdict rule needs, since a model that beats the walk overall may still be wrong exactly where
/// they differ (and the reverse).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Disagreements {
    /// The walk found no chart's problem (normal) and the model said anomalous.
    pub model_anomalous: Tally,
    /// The walk found a chart's problem and the model said normal.
    pub model_normal: Tally,
}

/// One variant's scores in an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// `base`, an adapter's name, or `flowchart walk`.
    pub variant: String,
    /// Name of the model evaluated; `None` for the flowchart walk.
    pub model: Option<String>,
    /// The LoRA adapter loaded on the model, if any.
    pub adapter: Option<String>,
    /// Metric name (e.g. `f1`, `ga`, `token_f1`) to value, 0..=1.
    pub metrics: BTreeMap<String, f64>,
    /// How many items were answered.
    pub items: usize,
    /// Answers whose `Answer:` line could not be read (scored as wrong).
    pub unparsed: usize,
    /// Mean wall milliseconds per answer.
    pub mean_latency_ms: f64,
    /// For a model's anomaly-detection row on the diagnosis prompt evaluated beside the walk:
    /// item by item, where its answer could stand against the walk and disagreed, and who was
    /// right. `None` elsewhere, and in evaluations stored before they were counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disagreements: Option<Disagreements>,
}

/// An evaluation of one task over one data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    /// Record id (0 until stored).
    pub id: Id,
    /// The task evaluated.
    pub task: Task,
    /// Path of the data file the items came from.
    pub data: String,
    /// How many items were evaluated.
    pub items: usize,
    /// Cap on generated tokens per answer.
    pub max_tokens: usize,
    /// One row per variant, in the order they ran.
    pub results: Vec<EvalResult>,
    /// How the metrics were computed (stated with the numbers).
    pub note: String,
    /// When it was stored, in Unix milliseconds.
    pub created_at: u64,
}
record!(EvalRun, "evals");

/// Where a training run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Training, or died before it could record otherwise (see `RunDir::is_live`).
    Running,
    /// Finished all its steps and saved the adapter.
    Succeeded,
    /// Stopped by an error.
    Failed,
    /// Stopped by the user.
    Cancelled,
}

impl RunState {
    /// The state's name as every face of the program says it (`runs list`, the Train screen).
    pub fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }
}

/// A training run as the UI last saw it; the run folder is the source of truth while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    /// Record id (0 until stored).
    pub id: Id,
    /// `thought`, `stepwise` or `dpo`.
    pub stage: String,
    /// The run folder, which holds its config, metrics, status and adapter.
    pub run_dir: String,
    /// Path of the base model trained on.
    pub base_model: String,
    /// Where the run stands, as its status file last said.
    pub state: RunState,
    /// When the run's status was first seen, in Unix milliseconds (0 if unknown).
    pub started_at: u64,
    /// When it was first seen finished, in Unix milliseconds; `None` while running.
    pub finished_at: Option<u64>,
    /// The run's final metrics (e.g. loss) by name; empty until it ends.
    #[serde(default)]
    pub final_metrics: BTreeMap<String, f64>,
}
record!(TrainingRun, "runs");

/// Where a user stopped on a screen, keyed by annotator and screen (see [`SessionState::key`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionState {
    /// Who was working.
    pub annotator: String,
    /// The screen's name, e.g. `label`.
    pub screen: String,
    /// The record the user was on.
    pub cursor: Option<Id>,
    /// Screen-specific extras (filters, pane), kept as strings to stay schema-light.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// When it was saved, in Unix milliseconds.
    pub updated_at: u64,
}

impl SessionState {
    /// The sled tree sessions live in.
    pub const TREE: &'static str = "sessions";

    /// The sled key of one annotator's state on one screen.
    pub fn key(annotator: &str, screen: &str) -> Vec<u8> {
        format!("{annotator}\u{0}{screen}").into_bytes()
    }
}
