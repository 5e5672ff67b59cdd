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
    fn id(&self) -> Id;
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
    LogParsing,
    AnomalyDetection,
    FailurePrediction,
    RootCause,
    Interpretation,
}

impl Task {
    pub const ALL: [Task; 5] = [
        Task::LogParsing,
        Task::AnomalyDetection,
        Task::FailurePrediction,
        Task::RootCause,
        Task::Interpretation,
    ];

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
    #[default]
    Pending,
    Accepted,
    Rejected,
    /// Derived from a flowchart whose content has changed since.
    Stale,
}

/// One concrete problem for the model: input lines, a gold answer, where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInstance {
    pub id: Id,
    pub task: Task,
    pub system: String,
    /// The question or instruction, when the source has one.
    #[serde(default)]
    pub instruction: String,
    pub input: Vec<String>,
    pub gold: String,
    /// Where the instance came from: a file path and row, or `diagnosis:<id>`.
    pub source: String,
    /// SHA-256 over task, instruction and input; duplicates share it.
    pub content_hash: String,
    /// Task-specific parameters, e.g. `window` and `horizon` for failure prediction.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
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
    Model { model: String },
    /// Edited by a person.
    Human { annotator: String },
}

/// A coarse, instance-free thought: SPEC's "Thought" format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thought {
    pub id: Id,
    /// The flowchart it comes from, with the chart's content hash at derivation time.
    pub chart_id: Option<String>,
    pub chart_hash: Option<String>,
    /// The instance it was written for, when no chart matched.
    pub instance_id: Option<Id>,
    /// Thoughts of one chart are versioned: 1 is the derived one, higher ones rewrites and edits.
    pub version: u32,
    pub overview: String,
    pub challenges: Vec<String>,
    pub steps: Vec<String>,
    pub origin: ThoughtOrigin,
    pub status: ReviewStatus,
    pub created_at: u64,
}
record!(Thought, "thoughts");

/// A model-written stepwise solution and its grading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    pub id: Id,
    pub instance_id: Id,
    pub thought_id: Option<Id>,
    pub text: String,
    /// The parsed `Answer:` line; `None` when it could not be parsed (graded wrong).
    pub answer: Option<String>,
    /// Graded score in 0..=1; exact-match tasks give 0 or 1.
    pub score: Option<f32>,
    pub correct: Option<bool>,
    pub model: String,
    pub status: ReviewStatus,
    /// The diagnosis this solution records a person's decision on (one solution per diagnosis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Id>,
    pub created_at: u64,
}
record!(Solution, "solutions");

/// The outcome of one pairwise comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// `chosen` is better than `rejected`.
    Chosen,
    Tie,
    Skip,
}

/// Whether a pair came from automatic grading or a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    Auto,
    Human,
}

/// A preference between two solutions of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceLabel {
    pub id: Id,
    pub instance_id: Id,
    pub chosen: Id,
    pub rejected: Id,
    pub preference: Preference,
    pub source: LabelSource,
    pub annotator: String,
    /// Which solution was shown on the left, so side bias can be measured.
    pub shown_left: Option<Id>,
    #[serde(default)]
    pub flagged: bool,
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
    Thought(Id),
    Solution(Id),
    Diagnosis(Id),
}

/// A person's decision on a thought, a solution or a diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewDecision {
    pub id: Id,
    pub target: ReviewTarget,
    /// `Accepted` or `Rejected`; an edit is recorded with the text before and after.
    pub decision: ReviewStatus,
    pub edit: Option<Edit>,
    pub annotator: String,
    pub created_at: u64,
}
record!(ReviewDecision, "reviews");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edit {
    pub before: String,
    pub after: String,
}

/// A diagnosis of a window of log lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub id: Id,
    /// File path or `-` for stdin.
    pub source: String,
    /// 1-based inclusive line range of the window.
    pub first_line: u64,
    pub last_line: u64,
    pub chart_id: Option<String>,
    pub model: String,
    pub adapter: Option<String>,
    pub anomalous: bool,
    pub cause: Option<String>,
    pub confidence: Option<f32>,
    pub evidence: Vec<u64>,
    pub next_steps: Vec<String>,
    pub reasoning: String,
    pub first_token_ms: Option<u64>,
    pub total_ms: u64,
    pub status: ReviewStatus,
    pub created_at: u64,
    /// Node ids the flowchart walk visited.
    #[serde(default)]
    pub chart_path: Vec<String>,
    /// `cause` is a chart category (else free text).
    #[serde(default)]
    pub cause_is_category: bool,
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

/// One variant's scores in an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// `base`, an adapter's name, or `flowchart walk`.
    pub variant: String,
    pub model: Option<String>,
    pub adapter: Option<String>,
    pub metrics: BTreeMap<String, f64>,
    pub items: usize,
    /// Answers whose `Answer:` line could not be read (scored as wrong).
    pub unparsed: usize,
    pub mean_latency_ms: f64,
}

/// An evaluation of one task over one data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    pub id: Id,
    pub task: Task,
    pub data: String,
    pub items: usize,
    pub max_tokens: usize,
    pub results: Vec<EvalResult>,
    /// How the metrics were computed (stated with the numbers).
    pub note: String,
    pub created_at: u64,
}
record!(EvalRun, "evals");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// A training run as the UI last saw it; the run folder is the source of truth while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    pub id: Id,
    /// `thought`, `stepwise` or `dpo`.
    pub stage: String,
    pub run_dir: String,
    pub base_model: String,
    pub state: RunState,
    pub started_at: u64,
    pub finished_at: Option<u64>,
    #[serde(default)]
    pub final_metrics: BTreeMap<String, f64>,
}
record!(TrainingRun, "runs");

/// Where a user stopped on a screen, keyed by annotator and screen (see [`SessionState::key`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionState {
    pub annotator: String,
    pub screen: String,
    /// The record the user was on.
    pub cursor: Option<Id>,
    /// Screen-specific extras (filters, pane), kept as strings to stay schema-light.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    pub updated_at: u64,
}

impl SessionState {
    pub const TREE: &'static str = "sessions";

    pub fn key(annotator: &str, screen: &str) -> Vec<u8> {
        format!("{annotator}\u{0}{screen}").into_bytes()
    }
}
