//! The data engine: for each task instance, the thought to follow (the best-matching flowchart's, or
//! one the model writes), K sampled stepwise solutions, their grading, and preference pairs from the
//! model's mistakes. Resumable: instances that already have K solutions from the model are skipped.

pub mod grade;
pub mod prompt;
pub mod review;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::answer::committed_answer;
use crate::flowchart::walk::Window;
use crate::flowchart::{retrieve, thought as chart_thought, Flowchart};
use crate::llm::backend::Backend;
use crate::llm::chat::Message;
use crate::llm::model::{GenerationParams, LlmError, StopReason};
use crate::store::{
    Id, LabelSource, Preference, PreferenceLabel, ReviewStatus, Solution, Store, StoreError, Task,
    TaskInstance, Thought, ThoughtOrigin,
};

/// Why a generation run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReasoningError {
    /// The database refused a read or write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model failed to load or generate.
    #[error(transparent)]
    Model(#[from] LlmError),
}

/// Every solution ends with this line; a model that forgets it is cued (see `answer_cue`).
pub const ANSWER_CUE: &str = "Answer:";

/// Cues a `task` answer's closing line for reading it (evaluations, diagnoses): a generation that
/// ends without [`ANSWER_CUE`] gets it, and on a binary task the model's likeliest label follows
/// it (a reasoning cut short still answers readably, with the label the model leans to). Never for
/// training data, where a forced label could make a cut-off text count as right.
pub fn cue_answer(params: &mut GenerationParams, task: Task) {
    params.answer_cue = Some(ANSWER_CUE.into());
    params.answer_choices = crate::answer::choices(task);
}

/// Sampling settings of a generation run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Solutions per instance.
    pub k: usize,
    /// Sampling temperature of solutions (0 is greedy; thoughts use at most 0.3).
    pub temperature: f64,
    /// Cap on generated tokens per thought or solution.
    pub max_tokens: usize,
    /// Base seed; each generation adds its own offset, so runs repeat.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            k: 2,
            temperature: 0.8,
            max_tokens: 256,
            seed: 42,
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// Instances taken up (after the task filter and limit).
    pub instances: usize,
    /// Instances that needed no new solutions (they already had `k` from this model).
    pub skipped: usize,
    /// Thoughts the model wrote for instances no chart matched.
    pub thoughts_written: usize,
    /// Solutions generated.
    pub solutions: usize,
    /// Of those, how many graded correct.
    pub correct: usize,
    /// Automatic preference pairs made at the end.
    pub pairs: usize,
    /// The run was cancelled before it went through every instance.
    pub cancelled: bool,
}

/// The thought an instance is solved with, as stored.
pub fn thought_text(t: &Thought) -> String {
    prompt::render_thought(&t.overview, &t.challenges, &t.steps)
}

/// The best chart's thought for an instance: an accepted version if there is one (the newest), else
/// the newest current one (derived or rewritten), never a stale or rejected one.
pub fn chart_thought_for(
    store: &Store,
    charts: &[Flowchart],
    instance: &TaskInstance,
) -> Result<Option<Thought>, StoreError> {
    let window = Window::new(&instance.input, 1);
    let system = (!instance.system.is_empty()).then_some(instance.system.as_str());
    let Some(best) = retrieve::rank(charts, window, system).into_iter().next() else {
        return Ok(None);
    };
    let mut mine: Vec<Thought> = store
        .all::<Thought>()?
        .into_iter()
        .filter(|t| t.chart_id.as_deref() == Some(best.chart.as_str()))
        .filter(|t| !matches!(t.status, ReviewStatus::Stale | ReviewStatus::Rejected))
        .collect();
    mine.sort_by_key(|t| (t.status == ReviewStatus::Accepted, t.version));
    Ok(mine.pop())
}

/// The data engine: a model, the database and the charts whose thoughts it follows.
pub struct Generator<'a> {
    /// The model that writes thoughts and solutions.
    pub model: &'a mut Backend,
    /// Where instances are read and thoughts, solutions and pairs written.
    pub store: &'a Store,
    /// The expert flowcharts, matched to instances for their thoughts.
    pub charts: Vec<Flowchart>,
    /// How to sample.
    pub settings: Settings,
}

impl Generator<'_> {
    fn params(&self, seed_offset: u64) -> GenerationParams {
        GenerationParams {
            max_tokens: self.settings.max_tokens,
            temperature: self.settings.temperature,
            seed: self.settings.seed.wrapping_add(seed_offset),
            ..Default::default()
        }
    }

    fn generate(
        &mut self,
        messages: &[Message],
        params: &GenerationParams,
        cancel: &AtomicBool,
    ) -> Result<Option<String>, ReasoningError> {
        let g = self.model.chat(messages, params, cancel, &mut |_| {})?;
        Ok((g.stop != StopReason::Cancelled).then_some(g.text))
    }

    /// The thought for `instance`: the chart's, else the one the model wrote for it before, else a
    /// new one the model writes now (stored, awaiting review). `None` only when cancelled.
    pub fn thought_for(
        &mut self,
        instance: &TaskInstance,
        cancel: &AtomicBool,
    ) -> Result<Option<(Thought, bool)>, ReasoningError> {
        if let Some(t) = chart_thought_for(self.store, &self.charts, instance)? {
            return Ok(Some((t, false)));
        }
        if let Some(t) = self
            .store
            .all::<Thought>()?
            .into_iter()
            .rev()
            .find(|t| t.instance_id == Some(instance.id) && t.status != ReviewStatus::Rejected)
        {
            return Ok(Some((t, false)));
        }
        let messages = prompt::thought(
            instance.task,
            &instance.system,
            &instance.instruction,
            &instance.input,
        );
        let mut params = self.params(instance.id);
        params.temperature = params.temperature.min(0.3);
        let Some(text) = self.generate(&messages, &params, cancel)? else {
            return Ok(None);
        };
        let parsed =
            prompt::parse_thought(&text).unwrap_or(crate::flowchart::thought::ThoughtText {
                overview: text.trim().chars().take(800).collect(),
                challenges: Vec::new(),
                steps: Vec::new(),
            });
        let mut t = Thought {
            id: 0,
            chart_id: None,
            chart_hash: None,
            instance_id: Some(instance.id),
            version: 1,
            overview: parsed.overview,
            challenges: parsed.challenges,
            steps: parsed.steps,
            origin: ThoughtOrigin::Model {
                model: self.model.name(),
            },
            status: ReviewStatus::Pending,
            created_at: crate::time::now_millis(),
        };
        self.store.insert(&mut t)?;
        Ok(Some((t, true)))
    }

    /// Samples solutions until the instance has `k` from this model; returns the new ones.
    pub fn solutions_for(
        &mut self,
        instance: &TaskInstance,
        thought: Option<&Thought>,
        cancel: &AtomicBool,
    ) -> Result<Vec<Solution>, ReasoningError> {
        let name = self.model.name();
        let have = self
            .store
            .all::<Solution>()?
            .iter()
            .filter(|s| s.instance_id == instance.id && s.model == name)
            .count();
        let kind = instance.params.get("kind").map(String::as_str);
        let text = thought.map(thought_text);
        let messages = prompt::solution(
            instance.task,
            kind,
            &instance.instruction,
            &instance.input,
            text.as_deref(),
        );
        let mut out = Vec::new();
        for i in have..self.settings.k {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let mut params = self.params(instance.id.wrapping_mul(31).wrapping_add(i as u64));
            // Solutions become training data: a cut-off one gets the cue but no forced label.
            params.answer_cue = Some(ANSWER_CUE.into());
            let Some(text) = self.generate(&messages, &params, cancel)? else {
                break;
            };
            let answer = committed_answer(instance.task, &text);
            let graded = grade::grade(instance, answer.as_deref());
            let mut s = Solution {
                id: 0,
                instance_id: instance.id,
                thought_id: thought.map(|t| t.id),
                text: text.trim().to_string(),
                answer,
                score: graded.map(|g| g.0),
                correct: graded.map(|g| g.1),
                model: name.clone(),
                status: ReviewStatus::Pending,
                diagnosis: None,
                created_at: crate::time::now_millis(),
            };
            self.store.insert(&mut s)?;
            out.push(s);
        }
        Ok(out)
    }

    /// A fluent rewrite of a chart's thought, stored as its next version, awaiting review.
    pub fn rewrite(
        &mut self,
        t: &Thought,
        cancel: &AtomicBool,
    ) -> Result<Option<Thought>, ReasoningError> {
        let text = crate::flowchart::thought::ThoughtText {
            overview: t.overview.clone(),
            challenges: t.challenges.clone(),
            steps: t.steps.clone(),
        };
        let mut params = self.params(t.id);
        params.temperature = params.temperature.min(0.3);
        params.max_tokens = params.max_tokens.max(384);
        let Some(out) = self.generate(&prompt::rewrite(&text), &params, cancel)? else {
            return Ok(None);
        };
        let Some(parsed) = prompt::parse_thought(&out) else {
            return Ok(None);
        };
        let origin = ThoughtOrigin::Model {
            model: self.model.name(),
        };
        let new =
            chart_thought::store_revision(self.store, t, parsed, origin, ReviewStatus::Pending)?;
        Ok(Some(new))
    }
}

/// Generates solutions for up to `limit` instances of `task` (all tasks when `None`), in id order,
/// then makes the automatic pairs. `progress(done, total)` after each instance.
pub fn run_solutions(
    generator: &mut Generator,
    task: Option<Task>,
    limit: usize,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report, ReasoningError> {
    chart_thought::sync(generator.store, &generator.charts)?;
    let instances: Vec<TaskInstance> = generator
        .store
        .all::<TaskInstance>()?
        .into_iter()
        .filter(|i| task.is_none_or(|t| i.task == t))
        .take(limit)
        .collect();
    let mut report = Report {
        instances: instances.len(),
        ..Default::default()
    };
    progress(0, instances.len());
    for (n, instance) in instances.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            report.cancelled = true;
            break;
        }
        let Some((thought, written)) = generator.thought_for(instance, cancel)? else {
            report.cancelled = true;
            break;
        };
        report.thoughts_written += usize::from(written);
        let new = generator.solutions_for(instance, Some(&thought), cancel)?;
        if new.is_empty() {
            report.skipped += 1;
        }
        report.solutions += new.len();
        report.correct += new.iter().filter(|s| s.correct == Some(true)).count();
        progress(n + 1, instances.len());
    }
    report.pairs = make_pairs(generator.store)?;
    Ok(report)
}

/// Rewrites every current chart thought that has no rewrite yet.
pub fn run_rewrites(
    generator: &mut Generator,
    limit: usize,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<usize, ReasoningError> {
    chart_thought::sync(generator.store, &generator.charts)?;
    let all = generator.store.all::<Thought>()?;
    let todo: Vec<Thought> = all
        .iter()
        .filter(|t| t.origin == ThoughtOrigin::Chart && t.status != ReviewStatus::Stale)
        .filter(|t| {
            !all.iter().any(|o| {
                o.chart_id == t.chart_id
                    && o.chart_hash == t.chart_hash
                    && matches!(o.origin, ThoughtOrigin::Model { .. })
            })
        })
        .take(limit)
        .cloned()
        .collect();
    let mut written = 0;
    progress(0, todo.len());
    for (n, t) in todo.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        written += usize::from(generator.rewrite(t, cancel)?.is_some());
        progress(n + 1, todo.len());
    }
    Ok(written)
}

/// Automatic preference pairs from the model's mistakes: for every instance with correct and
/// incorrect solutions, each incorrect one is paired with a correct one (chosen = correct). A pair
/// that any label already covers (in either orientation, by a person or not) is not made again,
/// nor one whose two texts are the same. Returns how many were made.
pub fn make_pairs(store: &Store) -> Result<usize, StoreError> {
    let solutions = store.all::<Solution>()?;
    let existing: std::collections::HashSet<(Id, Id)> = store
        .all::<PreferenceLabel>()?
        .into_iter()
        .map(|l| l.pair())
        .collect();
    let texts: std::collections::HashMap<Id, &str> =
        solutions.iter().map(|s| (s.id, s.text.trim())).collect();
    let mut by_instance: std::collections::BTreeMap<Id, (Vec<Id>, Vec<Id>)> = Default::default();
    for s in &solutions {
        let entry = by_instance.entry(s.instance_id).or_default();
        match s.correct {
            Some(true) => entry.0.push(s.id),
            Some(false) => entry.1.push(s.id),
            None => {}
        }
    }
    let mut made = 0;
    for (instance, (good, bad)) in by_instance {
        if good.is_empty() {
            continue;
        }
        for (i, &rejected) in bad.iter().enumerate() {
            let chosen = good[i % good.len()];
            let pair = (chosen.min(rejected), chosen.max(rejected));
            if existing.contains(&pair) || texts.get(&chosen) == texts.get(&rejected) {
                continue;
            }
            let mut label = PreferenceLabel {
                id: 0,
                instance_id: instance,
                chosen,
                rejected,
                preference: Preference::Chosen,
                source: LabelSource::Auto,
                annotator: "auto".into(),
                shown_left: None,
                flagged: false,
                created_at: crate::time::now_millis(),
            };
            store.insert(&mut label)?;
            made += 1;
        }
    }
    store.flush()?;
    Ok(made)
}
