//! Diagnosis of a window of log lines: retrieve the chart that applies, walk it for evidence, ask the
//! model to reason step by step along the chart's thought, and settle a structured verdict whose
//! evidence lies inside the window. [`plan`] and [`finish`] are pure, so the CLI (which drives a
//! [`Model`](crate::llm::model::Model) directly) and the TUI (which streams through `llm::engine`) share everything but the
//! generation loop.

pub mod burst;
pub mod prompt;
pub mod review;
pub mod verdict;
pub mod watch;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::flowchart::retrieve::{self, Match};
use crate::flowchart::walk::{self, End, Walk, Window};
use crate::flowchart::Flowchart;
use crate::llm::backend::Backend;
use crate::llm::chat::Message;
use crate::llm::model::{Generation, GenerationParams, LlmError};
use crate::logs::format::{self, Format};
use crate::logs::index::LogFile;
use crate::store::{Diagnosis, Id, ReviewStatus, Store, StoreError};
use prompt::{PromptLimits, PromptParts};
use verdict::{ModelAnswer, Verdict};

/// Identifies the JSON shape `logreasoner diagnose --json` prints (docs/diagnosis.schema.json).
pub const SCHEMA: &str = "logreasoner.diagnosis/1";

/// The lines to diagnose: `lines[0]` is line `first_line` (1-based) of `source`.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where the lines come from: the log file's path as shown, or the Logs screen's source name.
    pub source: String,
    /// Line number of `lines[0]` in the source, 1-based.
    pub first_line: usize,
    /// The window's lines, in order.
    pub lines: Vec<String>,
    /// The engineer's question; a general "what is wrong" when absent.
    pub question: Option<String>,
}

impl Input {
    /// Line number of the last line in the window (1-based; `first_line` when there are none).
    pub fn last_line(&self) -> usize {
        self.first_line + self.lines.len().saturating_sub(1)
    }
}

/// Everything decided before the model runs.
#[derive(Clone)]
pub struct Plan {
    /// The lines to diagnose.
    pub input: Input,
    /// The log format detected from the window, if any.
    pub format: Option<&'static Format>,
    /// Charts whose symptoms appear in the window, best first.
    pub ranked: Vec<Match>,
    /// The best chart and its walk over the window.
    pub chart: Option<Flowchart>,
    /// That chart's walk over the window; `None` without a chart.
    pub walk: Option<Walk>,
    /// Line numbers given to the model.
    pub shown: Vec<usize>,
    /// The prompt chat the model gets.
    pub messages: Vec<Message>,
    /// How the model and the walk measured in a stored evaluation: decides whether the model may
    /// override the walk, and calibrates the confidence. Unmeasured until the caller sets it
    /// ([`Plan::measure`]).
    pub reliability: verdict::Reliability,
    /// The window's error burst against its file, once the caller compared them
    /// ([`Plan::compare_with`]); `None` when not compared or when there is none.
    pub burst: Option<burst::Burst>,
    /// How many lines the prompt shows, and how long.
    pub limits: PromptLimits,
    /// The first line of each message new to the file (empty when unknown or none).
    pub novel: Vec<usize>,
    /// Templates far more frequent in the window than before it (empty when unknown or none).
    pub surges: Vec<crate::logs::novelty::Surge>,
}

impl Plan {
    /// The input lines as a walk window, numbered from `first_line`.
    pub fn window(&self) -> Window<'_> {
        Window::new(&self.input.lines, self.input.first_line)
    }

    /// The lines where the retrieved chart's symptoms appear (none without a chart).
    pub fn symptom_lines(&self) -> &[usize] {
        self.ranked.first().map_or(&[], |m| m.lines.as_slice())
    }

    /// Reads the model's and the walk's measured records from the stored evaluations (`model` by
    /// name, with `adapter` or none). A database that cannot be read leaves them unmeasured.
    ///
    /// Where no stored evaluation measured this model beside the walk, or the one that did kept
    /// only totals (stored before evaluations counted disagreements), an adapter made by
    /// `experiment run` (or shipped with its results) brings its own measurement
    /// ([`verdict::RELIABILITY_FILE`]) where that counted them: the verdict rule needs counts to
    /// decide by direction, and totals alone would fall back to the looser F1 rule.
    pub fn measure(&mut self, store: &Store, model: Option<&str>, adapter: Option<&str>) {
        match store.all::<crate::store::EvalRun>() {
            Ok(runs) => self.reliability = verdict::Reliability::from_evals(&runs, model, adapter),
            Err(e) => tracing::warn!("evaluations unreadable, confidence uncalibrated: {e}"),
        }
        let unmeasured = self.reliability.model.is_none();
        let uncounted = self.reliability.disagreements.is_none();
        if let Some(measured) = adapter
            .filter(|_| uncounted && model.is_some())
            .and_then(|a| verdict::Reliability::of_adapter(std::path::Path::new(a)))
            .filter(|own| unmeasured || own.disagreements.is_some())
        {
            self.reliability = measured;
        }
    }

    /// Compares the window's error lines with its file's (`file`, counted by the caller, who has
    /// the whole file), so a window no chart explains is not called normal during an error burst.
    pub fn compare_with(&mut self, file: burst::Baseline) {
        self.burst = burst::detect(&self.input.lines, self.input.first_line, self.format, file);
        if self.burst.is_some() {
            // The model is told, and shown the burst's lines.
            self.build_prompt();
        }
    }

    /// The lines shown and the chat, from the walk's evidence, the symptoms and any burst.
    fn build_prompt(&mut self) {
        let mut evidence = self.walk.as_ref().map(Walk::evidence).unwrap_or_default();
        if let Some(b) = &self.burst {
            evidence.extend(&b.lines);
        }
        evidence.extend(&self.novel);
        evidence.extend(self.surges.iter().map(|s| s.first));
        evidence.sort_unstable();
        evidence.dedup();
        self.shown = prompt::select_lines(
            &self.input.lines,
            self.input.first_line,
            &evidence,
            self.symptom_lines(),
            self.format,
            self.limits.max_lines,
        );
        let question = self
            .input
            .question
            .as_deref()
            .unwrap_or(prompt::DEFAULT_QUESTION);
        self.messages = prompt::messages(&PromptParts {
            chart: self.chart.as_ref(),
            walk: self.walk.as_ref(),
            burst: self.burst.as_ref(),
            novel: &self.novel,
            surges: &self.surges,
            lines: &self.input.lines,
            first_line: self.input.first_line,
            shown: &self.shown,
            cited: &evidence,
            question,
            limits: self.limits,
            format: self.format,
        });
    }

    /// Whether the walk reached one of its chart's conclusions.
    fn walk_concluded(&self) -> bool {
        self.walk
            .as_ref()
            .is_some_and(|w| matches!(w.end, End::Conclusion { .. }))
    }

    /// The flowchart-walk baseline: the verdict without a model.
    pub fn baseline(&self) -> Verdict {
        verdict::from_walk(self.walk.as_ref(), self.symptom_lines())
    }
}

/// How a diagnosis generates: greedy (the same window gives the same verdict), at most
/// `max_tokens`, and a closing line cued with the likeliest label when the model writes none.
pub fn generation_params(
    defaults: &crate::config::GenerationDefaults,
    max_tokens: usize,
) -> GenerationParams {
    let mut params = GenerationParams::from_defaults(defaults);
    params.temperature = 0.0;
    params.max_tokens = max_tokens;
    crate::reasoning::cue_answer(&mut params, crate::store::Task::AnomalyDetection);
    params
}

/// Retrieves, walks and builds the prompt. The log's format (for levels and the system name that
/// retrieval favours) is detected from the window itself.
pub fn plan(charts: &[Flowchart], input: Input, limits: PromptLimits) -> Plan {
    plan_in_file(charts, input, limits, None)
}

/// What a window's file says about it: the rest of the file's error lines, and the window's
/// messages new to the file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileContext {
    /// Error lines outside the window.
    pub baseline: burst::Baseline,
    /// The first line of each message template the file shows for the first time in the window;
    /// `None` when too little of the file comes before the window to tell.
    pub novel: Option<Vec<usize>>,
    /// Templates far more frequent in the window than before it.
    pub surges: Vec<crate::logs::novelty::Surge>,
}

impl FileContext {
    /// The context of `input`'s lines within `log`, read with `format`.
    pub fn of(log: &LogFile, input: &Input, format: Option<&Format>) -> Self {
        let (first, last) = (input.first_line, input.last_line());
        let (before, _) = crate::logs::errors::outside(first, last, log.len());
        let before: Vec<std::borrow::Cow<'_, str>> = before.map(|i| log.line(i)).collect();
        let novelty = crate::logs::novelty::in_text(&before, &input.lines, first, format);
        FileContext {
            baseline: burst::Baseline::around(log, first, last, format),
            novel: novelty.as_ref().map(|n| n.novel.clone()),
            surges: novelty.map(|n| n.surges).unwrap_or_default(),
        }
    }
}

/// [`plan`] for lines read from `log`: the window is compared with the rest of the file, for the
/// charts' `error_rate` and `novel_templates` checks and the error-burst rule.
pub fn plan_from_file(
    charts: &[Flowchart],
    input: Input,
    limits: PromptLimits,
    log: &LogFile,
) -> Plan {
    let format = lines_format(&input.lines);
    let file = FileContext::of(log, &input, format);
    plan_detected(charts, input, limits, format, Some(file))
}

/// The log format of a window's lines, detected from the first 200.
pub fn lines_format(lines: &[String]) -> Option<&'static Format> {
    format::detect(&lines[..lines.len().min(200)])
}

/// [`plan`] with what the window's file says about it, when the caller has the file.
pub fn plan_in_file(
    charts: &[Flowchart],
    input: Input,
    limits: PromptLimits,
    file: Option<FileContext>,
) -> Plan {
    let format = lines_format(&input.lines);
    plan_detected(charts, input, limits, format, file)
}

/// [`plan_in_file`] once the window's format is known.
fn plan_detected(
    charts: &[Flowchart],
    input: Input,
    limits: PromptLimits,
    format: Option<&'static Format>,
    file: Option<FileContext>,
) -> Plan {
    let novel = file.as_ref().and_then(|f| f.novel.clone());
    let window = Window::new(&input.lines, input.first_line)
        .in_file(file.as_ref().map(|f| f.baseline))
        .with_novel(novel.as_deref());
    let ranked = retrieve::rank(charts, window, format.map(|f| f.name));
    let chart = ranked
        .first()
        .and_then(|m| charts.iter().find(|c| c.id == m.chart).cloned());
    let walk = chart.as_ref().map(|c| walk::walk(c, window));
    let mut plan = Plan {
        input,
        format,
        ranked,
        chart,
        walk,
        shown: Vec::new(),
        messages: Vec::new(),
        reliability: verdict::Reliability::default(),
        burst: None,
        limits,
        novel: novel.clone().unwrap_or_default(),
        surges: file.as_ref().map(|f| f.surges.clone()).unwrap_or_default(),
    };
    plan.build_prompt();
    if let Some(file) = file {
        plan.compare_with(file.baseline);
    }
    plan
}

/// How long a diagnosis took and how fast the model ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// From the request to the first generated token.
    pub first_token_ms: Option<u64>,
    /// Wall milliseconds the diagnosis took, from the request to the report.
    pub total_ms: u64,
    /// Tokens in the prompt; `None` without a model run.
    pub prompt_tokens: Option<usize>,
    /// Of those, how many the prompt-prefix cache held (not run again); `None` without a model
    /// run, and in reports saved before the cache existed.
    #[serde(default)]
    pub cached_tokens: Option<usize>,
    /// Tokens the model generated; `None` without a model run.
    pub generated_tokens: Option<usize>,
    /// Prompt processing speed in tokens per second; `None` without a model run.
    pub prefill_tokens_per_sec: Option<f64>,
    /// Generation speed in tokens per second after the first token; `None` without a model run.
    pub decode_tokens_per_sec: Option<f64>,
}

/// A finished diagnosis, as `--json` prints it and the TUI shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`], so readers can tell the JSON shape.
    pub schema: String,
    /// The record id in sled, once saved.
    pub id: Option<Id>,
    /// The diagnosed lines' source (log file path or name).
    pub source: String,
    /// First line of the window in the source, 1-based.
    pub first_line: usize,
    /// Last line of the window in the source, 1-based.
    pub last_line: usize,
    /// The settled verdict; its fields sit at the top level of the JSON.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The walk's and the model's opinions, and where the confidence comes from.
    pub opinions: verdict::Opinions,
    /// Id of the chart that was walked; `None` when no chart matched.
    pub chart: Option<String>,
    /// Node ids the walk visited, in order; empty without a chart.
    pub chart_path: Vec<String>,
    /// How the walk ended: `conclusion`, `escalate` or `undecided`; none without a chart.
    pub walk_end: Option<String>,
    /// Name of the model that reasoned; `None` for the walk baseline.
    pub model: Option<String>,
    /// The adapter merged into the model, if any.
    pub adapter: Option<String>,
    /// The model's stepwise reasoning (empty for the walk baseline).
    pub reasoning: String,
    /// How long it took and how fast the model ran.
    pub timings: Timings,
}

/// What the model did, for [`finish`].
pub struct ModelRun<'a> {
    /// Name of the model (or the remote server's model).
    pub model: &'a str,
    /// The adapter merged into the model, if any.
    pub adapter: Option<&'a str>,
    /// The generation: the model's text, token counts and speeds.
    pub generation: &'a Generation,
    /// Wall time from the request to the last token.
    pub elapsed: Duration,
}

/// Settles the verdict and assembles the report. Without a model run it is the walk baseline.
pub fn finish(plan: &Plan, run: Option<ModelRun>, elapsed: Duration) -> Report {
    let window = plan.input.first_line..=plan.input.last_line();
    let baseline = plan.baseline();
    let reliability = &plan.reliability;
    let (verdict, opinions, timings, model, adapter, reasoning) = match run {
        Some(run) => {
            let answer: ModelAnswer = verdict::parse_answer(&run.generation.text);
            let g = run.generation;
            let timings = Timings {
                first_token_ms: g.first_token_secs.map(|s| (s * 1000.0) as u64),
                total_ms: run.elapsed.as_millis() as u64,
                prompt_tokens: Some(g.prompt_tokens),
                cached_tokens: Some(g.cached_tokens),
                generated_tokens: Some(g.generated_tokens),
                prefill_tokens_per_sec: Some(g.prefill_tokens_per_sec()),
                decode_tokens_per_sec: Some(g.decode_tokens_per_sec()),
            };
            (
                verdict_of(plan, Some(&answer)),
                verdict::opinions(Some(&answer), &baseline, &window, reliability),
                timings,
                Some(run.model.to_string()),
                run.adapter.map(str::to_string),
                g.text.trim().to_string(),
            )
        }
        None => (
            verdict_of(plan, None),
            verdict::opinions(None, &baseline, &window, reliability),
            Timings {
                total_ms: elapsed.as_millis() as u64,
                ..Default::default()
            },
            None,
            None,
            String::new(),
        ),
    };
    Report {
        schema: SCHEMA.to_string(),
        id: None,
        source: plan.input.source.clone(),
        first_line: plan.input.first_line,
        last_line: plan.input.last_line(),
        verdict,
        opinions,
        chart: plan.chart.as_ref().map(|c| c.id.clone()),
        chart_path: plan
            .walk
            .as_ref()
            .map(|w| w.path().into_iter().map(str::to_string).collect())
            .unwrap_or_default(),
        walk_end: plan.walk.as_ref().map(|w| {
            match w.end {
                End::Conclusion { .. } => "conclusion",
                End::Escalate { .. } => "escalate",
                End::Undecided { .. } => "undecided",
            }
            .to_string()
        }),
        model,
        adapter,
        reasoning,
        timings,
    }
}

/// The verdict a diagnosis of `plan` gives, with the model's `answer` or from the walk alone: the
/// two settled by the verdict rule with the plan's measured reliability, then the error-burst
/// statistics where no chart concluded. What `diagnose` shows, and what the experiment scores as
/// the diagnosis verdict.
pub fn verdict_of(plan: &Plan, answer: Option<&ModelAnswer>) -> Verdict {
    let window = plan.input.first_line..=plan.input.last_line();
    let baseline = plan.baseline();
    let verdict = match answer {
        Some(answer) => verdict::settle(
            Some(answer),
            baseline,
            plan.chart.as_ref(),
            window,
            &plan.reliability,
        ),
        None => verdict::calibrated_walk(baseline, &plan.reliability),
    };
    // Statistics speak only where no chart concluded: a chart's own conclusion is the expert's.
    match &plan.burst {
        Some(b) if !verdict.anomalous && !plan.walk_concluded() => Verdict {
            anomalous: true,
            cause: Some("unknown".into()),
            cause_is_category: true,
            confidence: 0.6,
            evidence: b.lines.clone(),
            rejected_evidence: verdict.rejected_evidence,
            next_steps: vec![b.describe()],
            from: verdict::VerdictFrom::ErrorBurst,
        },
        _ => verdict,
    }
}

/// Runs the model on the plan in this thread (the CLI's path), streaming text to `on_text`.
pub fn run_model(
    model: &mut Backend,
    plan: &Plan,
    params: &GenerationParams,
    cancel: &AtomicBool,
    on_text: &mut dyn FnMut(&str),
) -> Result<Report, LlmError> {
    let start = Instant::now();
    let generation = model.chat(&plan.messages, params, cancel, on_text)?;
    let name = model.name();
    let elapsed = start.elapsed();
    Ok(finish(
        plan,
        Some(ModelRun {
            model: &name,
            adapter: None,
            generation: &generation,
            elapsed,
        }),
        elapsed,
    ))
}

/// Stores the report as a [`Diagnosis`] record (with the lines the model saw) and sets its id.
pub fn save(store: &Store, plan: &Plan, report: &mut Report) -> Result<Id, StoreError> {
    let v = &report.verdict;
    let mut record = Diagnosis {
        id: 0,
        source: report.source.clone(),
        first_line: report.first_line as u64,
        last_line: report.last_line as u64,
        chart_id: report.chart.clone(),
        model: report
            .model
            .clone()
            .unwrap_or_else(|| "flowchart walk".into()),
        adapter: report.adapter.clone(),
        anomalous: v.anomalous,
        cause: v.cause.clone(),
        confidence: Some(v.confidence),
        evidence: v.evidence.iter().map(|&n| n as u64).collect(),
        next_steps: v.next_steps.clone(),
        reasoning: report.reasoning.clone(),
        first_token_ms: report.timings.first_token_ms,
        total_ms: report.timings.total_ms,
        status: ReviewStatus::Pending,
        created_at: crate::time::now_millis(),
        chart_path: report.chart_path.clone(),
        cause_is_category: v.cause_is_category,
        question: plan.input.question.clone(),
        system: plan
            .format
            .map(|f| f.name.to_string())
            .or_else(|| plan.chart.as_ref().map(|c| c.system.clone()))
            .unwrap_or_else(|| "unknown".into()),
        shown: plan
            .shown
            .iter()
            .filter_map(|&n| {
                let line = plan.input.lines.get(n - plan.input.first_line)?;
                Some((n as u64, line.chars().take(2000).collect()))
            })
            .collect(),
    };
    let id = store.insert(&mut record)?;
    report.id = Some(id);
    Ok(id)
}
