//! Reasoning traces from expert knowledge: the paper keeps only teacher reasoning that reaches the
//! gold answer, and here the teachers are the expert flowcharts (a walk over the item: which chart
//! applies, each check with its evidence lines, the conclusion), a severity reading of the lines
//! where no chart applies (or overruling a chart whose symptom lines report no failure), the
//! system's labelled lines before both where they judge a window (how often training lines with
//! the same message were alerts), the system's history (how the training windows with the same
//! messages were labelled) where nothing else reaches gold, and the template miner's masks for
//! parsing. A trace is composed in the
//! stepwise format the eval prompt asks for and kept only when its answer matches the gold one.
//! Root cause and interpretation have no teacher here (no chart covers LogLM's free-text items), so
//! those items train on their gold answers alone in every variant.

use crate::diagnose::{self, prompt::PromptLimits};
use crate::eval::{self, data::Item};
use crate::flowchart::walk::{CheckOutcome, End};
use crate::flowchart::{thought, Flowchart};
use crate::llm::chat::Message;
use crate::logs::format::{self, Level};
use crate::store::Task;
use crate::template::miner::Miner;

use super::precedents::{Judgement, LineHistory, Precedents};

/// Which teacher wrote a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Teacher {
    /// An expert flowchart's walk over the item: the chart, each check's evidence, the conclusion.
    Chart,
    /// A severity reading of the lines, where no chart applies.
    Severity,
    /// The template miner's masks, for log parsing.
    Masks,
    /// A severity reading overruling a chart whose symptoms appear on lines that report no
    /// failure.
    Overruled,
    /// The system's history: how training windows with the same messages were labelled
    /// ([`Precedents`]), tried after every other teacher.
    Precedent,
    /// The system's line labels: how often training lines showing each message were alerts
    /// ([`LineHistory`]), tried first where the system's lines are labelled.
    LineHistory,
}

/// A stepwise solution from a teacher, with its answer (already checked against gold).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The numbered steps and the closing `Answer:` line.
    pub text: String,
    /// Which teacher wrote it.
    pub teacher: Teacher,
    /// The line its conclusion rests on where that is not the window's most severe line (the
    /// history's alert message), for the evidence a diagnosis cites.
    pub line: Option<usize>,
}

/// Line numbers as a trace cites them: runs of three or more as ranges (`4-11`, which the
/// verdict reader expands), at most four runs. A trace must fit the answer limit of the prompt
/// it is judged on: listed one by one, the evidence of a few checks over a long window filled
/// it before the chart's conclusion, and the label was then the model's lean, not its reasoning's.
fn lines_text(lines: &[usize]) -> String {
    let mut sorted = lines.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for n in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => runs.push((n, n)),
        }
    }
    let pieces: Vec<String> = runs
        .iter()
        .take(4)
        .flat_map(|&(a, b)| match b - a {
            0 => vec![a.to_string()],
            1 => vec![a.to_string(), b.to_string()],
            _ => vec![format!("{a}-{b}")],
        })
        .collect();
    match pieces.as_slice() {
        [] => "no line".into(),
        [one] if !one.contains('-') => format!("line {one}"),
        _ => format!("lines {}", pieces.join(", ")),
    }
}

/// The teachers of one training split: the expert charts, and the split's labelled windows.
pub struct Teachers<'a> {
    charts: &'a [Flowchart],
    precedents: Precedents,
    lines: LineHistory,
}

impl<'a> Teachers<'a> {
    /// The charts' teachers, and the history of the `training` items' windows.
    pub fn new(charts: &'a [Flowchart], training: &[Item]) -> Teachers<'a> {
        Teachers {
            charts,
            precedents: Precedents::from_items(training),
            lines: LineHistory::default(),
        }
    }

    /// Adds the teacher that reads the training split's labelled lines (each with whether it
    /// was an alert): on BGL's training windows, each left out in turn, it was right on every
    /// window it judged, where the chart's walk calls every FATAL line a failure.
    pub fn with_line_labels(mut self, lines: &[(bool, String)]) -> Self {
        self.lines = LineHistory::from_lines(lines);
        self
    }

    /// The first teacher's trace for `item` that reaches the gold answer, or `None` where no
    /// teacher covers the task or none reaches it.
    pub fn compose(&self, item: &Item) -> Option<Trace> {
        self.candidates(item)
            .into_iter()
            .find(|t| is_right(item, t.answer_for(item.task).as_deref()))
    }

    /// Every teacher's trace for `item` whatever its answer, most trusted first: the system's
    /// line labels where they judge it, the chart's walk (the severity reading where no chart
    /// applies), the severity reading overruling that chart, then the windows' history.
    pub fn candidates(&self, item: &Item) -> Vec<Trace> {
        match item.task {
            Task::AnomalyDetection | Task::FailurePrediction => {
                let mut traces: Vec<Trace> =
                    line_history_trace(&self.lines, item).into_iter().collect();
                let plan = eval::diagnosis_plan(self.charts, item, PromptLimits::default());
                match chart_steps(&plan, item) {
                    Some(steps) => {
                        let overruled = overruled_trace(steps.clone(), item);
                        traces.push(numbered(steps, binary_word(item.task, true)));
                        traces.extend(overruled);
                    }
                    None => traces.push(severity_trace(item)),
                }
                traces.extend(precedent_trace(&self.precedents, item));
                traces
            }
            Task::LogParsing => mask_trace(item).into_iter().collect(),
            Task::RootCause | Task::Interpretation => Vec::new(),
        }
    }
}

impl Trace {
    /// The answer the trace commits to.
    pub fn answer_for(&self, task: Task) -> Option<String> {
        crate::answer::committed_answer(task, &self.text)
    }
}

/// Whether `answer` is the item's gold one: the same label, the same template, or for free text a
/// token-overlap F1 of at least [`crate::reasoning::grade::TEXT_PASS`].
pub fn is_right(item: &Item, answer: Option<&str>) -> bool {
    let Some(answer) = answer else {
        return false;
    };
    match item.task {
        Task::LogParsing => {
            crate::answer::normalise_template(answer)
                == crate::answer::normalise_template(&item.gold)
        }
        Task::AnomalyDetection | Task::FailurePrediction => {
            crate::answer::binary(item.task, answer).is_some()
                && crate::answer::binary(item.task, answer)
                    == crate::answer::gold_binary(item.task, &item.gold)
        }
        Task::RootCause | Task::Interpretation => {
            crate::answer::token_f1(answer, &item.gold) as f32 >= crate::reasoning::grade::TEXT_PASS
        }
    }
}

fn binary_word(task: Task, positive: bool) -> &'static str {
    match (task, positive) {
        (Task::FailurePrediction, true) => "yes",
        (Task::FailurePrediction, false) => "no",
        (_, true) => "abnormal",
        (_, false) => "normal",
    }
}

/// The flowchart walk over the item's lines, written out step by step up to its ending (the
/// chart's problem: its trace answers abnormal); `None` where no chart applies.
fn chart_steps(plan: &diagnose::Plan, item: &Item) -> Option<Vec<String>> {
    let (Some(chart), Some(walk)) = (&plan.chart, &plan.walk) else {
        return None;
    };
    let mut steps = vec![most_severe(item).step()];
    let symptoms = plan
        .ranked
        .first()
        .map(|m| m.lines.clone())
        .unwrap_or_default();
    steps.push(format!(
        "The expert chart \"{}\" applies: its symptoms appear on {}.",
        chart.title,
        lines_text(&symptoms)
    ));
    for step in &walk.steps {
        let text = step.text.trim();
        match &step.outcome {
            Some(CheckOutcome::Decided { holds, evidence }) => steps.push(format!(
                "{text} {} → {}.",
                if *holds {
                    format!("Yes: {}.", lines_text(evidence))
                } else {
                    "No line shows it.".to_string()
                },
                step.taken
                    .as_deref()
                    .unwrap_or(if *holds { "yes" } else { "no" })
            )),
            Some(CheckOutcome::Undecidable { reason }) => {
                steps.push(format!("{text} The lines cannot tell ({reason})."))
            }
            None if step.taken.is_none() => steps.push(text.to_string()),
            None => {}
        }
    }
    let ending = match &walk.end {
        End::Conclusion { cause, .. } => {
            format!("The chart concludes: {}.", cause.replace('_', " "))
        }
        End::Escalate { .. } => "The chart escalates: a problem it knows, needing a person.".into(),
        End::Undecided { node, .. } => format!("The walk stops at {node}, on a problem it knows."),
    };
    steps.push(ending);
    Some(steps)
}

/// The second opinion on a chart's walk: where the chart's symptoms appear but no line is an
/// error or worse, the severity reading overrules the chart. Kept, like every trace, only where
/// that reaches the gold answer. Without it every diagnosis chat that states a walk's conclusion
/// ends abnormal, and a model trained on them can only echo the walk, never catch its false
/// alarms.
fn overruled_trace(mut steps: Vec<String>, item: &Item) -> Option<Trace> {
    let severest = most_severe(item);
    if severest.abnormal() {
        return None;
    }
    steps.push(format!(
        "Yet no line is worse than {}: the chart's problem did not happen here.",
        severest.level.name().to_ascii_uppercase()
    ));
    let mut trace = numbered(steps, binary_word(item.task, false));
    trace.teacher = Teacher::Overruled;
    Some(trace)
}

/// The window's most severe line: the first line of the highest level (the header's where the
/// log's format has one, else read from the words).
struct Severest {
    line: usize,
    level: Level,
    quote: String,
}

impl Severest {
    fn abnormal(&self) -> bool {
        self.level >= Level::Error
    }

    /// The step every binary trace opens with, whatever its answer: the decisive line quoted with
    /// its level, so the answer follows from evidence the model can copy rather than from an
    /// opening word ("No lines …") that already commits to a label.
    fn step(&self) -> String {
        format!(
            "The most severe line is line {} ({}): `{}`.",
            self.line,
            self.level.name().to_ascii_uppercase(),
            self.quote
        )
    }
}

/// What the history of the system's windows says ([`Precedents::judge`]), after the most
/// severe line, so a FATAL line a trace quotes can still be read as routine.
fn precedent_trace(precedents: &Precedents, item: &Item) -> Option<Trace> {
    history_trace(item, Teacher::Precedent, |anchor| {
        precedents.judge(item, anchor)
    })
}

/// What the labelled lines say ([`LineHistory::judge`]): the message that marks trouble, or that
/// the window's severe messages are routine, after the most severe line.
fn line_history_trace(history: &LineHistory, item: &Item) -> Option<Trace> {
    history_trace(item, Teacher::LineHistory, |anchor| {
        history.judge(item, anchor)
    })
}

/// A history teacher's trace: the most severe line, then the judged line's record, in the words
/// of the record `teacher` keeps (windows or lines).
fn history_trace(
    item: &Item,
    teacher: Teacher,
    judge: impl FnOnce(usize) -> Option<Judgement>,
) -> Option<Trace> {
    let severest = most_severe(item);
    let judged = judge(severest.line)?;
    let (trouble, routine) = match teacher {
        Teacher::LineHistory => (
            "lines showing it were mostly alerts",
            "lines showing it were not alerts, and no message here is known as an alert",
        ),
        _ => (
            "most other windows showing it were abnormal",
            "most other windows showing it were normal, and no message here is known to mark trouble",
        ),
    };
    let reading = if judged.abnormal {
        format!(
            "Line {}'s message `{}` marks trouble on this system: {trouble}.",
            judged.line,
            line_quote(item, format::detect(&item.input), judged.line - 1)
        )
    } else {
        format!(
            "Line {}'s message is routine on this system: {routine}.",
            judged.line
        )
    };
    let mut trace = numbered(
        vec![severest.step(), reading],
        binary_word(item.task, judged.abnormal),
    );
    trace.teacher = teacher;
    trace.line = Some(judged.line).filter(|_| judged.abnormal);
    Some(trace)
}

/// The text of line `i` (0-based) after its header, at most 100 characters.
fn line_quote(item: &Item, fmt: Option<&format::Format>, i: usize) -> String {
    item.input
        .get(i)
        .map(|l| {
            format::parse_line(fmt, l)
                .content
                .trim()
                .chars()
                .take(100)
                .collect()
        })
        .unwrap_or_default()
}

fn most_severe(item: &Item) -> Severest {
    let format = format::detect(&item.input);
    let mut best: Option<(usize, Level)> = None;
    for (i, line) in item.input.iter().enumerate() {
        let level = format::parse_line(format, line)
            .level
            .unwrap_or(Level::Info);
        if best.is_none_or(|(_, b)| level > b) {
            best = Some((i, level));
        }
    }
    let (i, level) = best.unwrap_or((0, Level::Info));
    Severest {
        line: i + 1,
        level,
        quote: line_quote(item, format, i),
    }
}

/// Where no chart applies: the worst severity among the lines decides (an error or a fatal line is
/// abnormal).
fn severity_trace(item: &Item) -> Trace {
    let severest = most_severe(item);
    let abnormal = severest.abnormal();
    let steps = vec![
        severest.step(),
        "No expert chart's symptoms appear in these lines.".to_string(),
        if abnormal {
            "An error or a fatal event means something failed.".to_string()
        } else {
            "Nothing worse than a warning: no line reports a failure.".to_string()
        },
    ];
    let mut trace = numbered(steps, binary_word(item.task, abnormal));
    trace.teacher = Teacher::Severity;
    trace
}

/// Whether a sampled answer's reasoning stands on the window: it cites a line inside it or quotes
/// at least 16 characters of one. A binary answer can be right by the base model's habit (it says
/// "normal" to almost everything); only grounded ones are worth learning from.
pub fn grounded(item: &Item, text: &str) -> bool {
    let cited = crate::diagnose::verdict::parse_answer(text).cited;
    if cited.iter().any(|n| (1..=item.input.len()).contains(n)) {
        return true;
    }
    text.split(['`', '"'])
        .skip(1)
        .step_by(2)
        .map(str::trim)
        .filter(|q| q.len() >= 16)
        .any(|q| item.input.iter().any(|l| l.contains(q)))
}

/// The template miner's masks on the one line: which tokens are variables.
fn mask_trace(item: &Item) -> Option<Trace> {
    let line = item.input.first()?;
    let miner = Miner::for_system(Some(item.system.as_str()).filter(|s| !s.is_empty()));
    let template = miner.preprocess(line);
    let words: Vec<&str> = line.split_whitespace().collect();
    let masked: Vec<&str> = template.split_whitespace().collect();
    let variables: Vec<String> = if words.len() == masked.len() {
        words
            .iter()
            .zip(&masked)
            .filter(|(w, m)| w != m && m.contains("<*>"))
            .map(|(w, _)| format!("`{w}`"))
            .take(8)
            .collect()
    } else {
        Vec::new()
    };
    let steps = vec![
        "Line 1 is one event; its constant words are the event's text.".to_string(),
        if variables.is_empty() {
            "Values that change from event to event (numbers, addresses, ids, paths) become <*>."
                .to_string()
        } else {
            format!(
                "The values that change from event to event are {}; each becomes <*>.",
                variables.join(", ")
            )
        },
    ];
    let mut trace = numbered(steps, &template);
    trace.teacher = Teacher::Masks;
    Some(trace)
}

fn numbered(steps: Vec<String>, answer: &str) -> Trace {
    let mut text = String::new();
    for (i, s) in steps.iter().enumerate() {
        text.push_str(&format!("{}. {s}\n", i + 1));
    }
    text.push_str(&format!("Answer: {answer}"));
    Trace {
        text,
        teacher: Teacher::Chart,
        line: None,
    }
}

/// The diagnosis chat `diagnose` sends for an anomaly-detection item, and a kept `trace` written
/// in the diagnosis format: its steps, then the closing lines diagnoses read (Anomalous, Cause,
/// Confidence, Evidence, Answer); with no trace (no teacher reached the gold answer), the closing
/// lines alone, as the eval-format rows then hold the gold answer alone. Trained beside the
/// eval-format rows, so the adapter that ships answers the product's own prompt and not only the
/// experiment's, on every anomaly item, the walk's false alarms included. `confidence` is the
/// trace's teacher's measured share of right answers on the training items (diagnoses do not
/// read the line; it is there because the format asks for it).
pub fn diagnosis_example(
    charts: &[Flowchart],
    item: &Item,
    trace: Option<&Trace>,
    confidence: f64,
) -> Option<(Vec<Message>, String)> {
    if item.task != Task::AnomalyDetection {
        return None;
    }
    let abnormal = crate::answer::gold_binary(item.task, &item.gold)?;
    let plan = eval::diagnosis_plan(charts, item, PromptLimits::default());
    let steps: Vec<&str> = trace
        .map(|t| t.text.lines())
        .into_iter()
        .flatten()
        .filter(|l| !l.trim_start().starts_with("Answer:"))
        .chain(std::iter::once(""))
        .collect();
    // A normal verdict cites the lines it judged harmless (the chart's symptom lines, else the
    // most severe line): the verdict rule lets an answer stand against the walk only when it
    // cites a line of the window, so a model that never cites for `normal` could never catch a
    // walk's false alarm.
    let (cause, evidence) = match (&plan.walk, abnormal) {
        (_, false) => {
            let judged = plan
                .walk
                .as_ref()
                .map(|w| w.evidence())
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| plan.symptom_lines().to_vec());
            let judged = if judged.is_empty() {
                vec![most_severe(item).line]
            } else {
                judged
            };
            ("none".to_string(), judged)
        }
        (Some(walk), true) => (
            match &walk.end {
                End::Conclusion { cause, .. } => cause.clone(),
                _ => "unknown".into(),
            },
            walk.evidence(),
        ),
        (None, true) => (
            "unknown".into(),
            vec![trace
                .and_then(|t| t.line)
                .unwrap_or_else(|| most_severe(item).line)],
        ),
    };
    let evidence = if evidence.is_empty() {
        "none".to_string()
    } else {
        evidence
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let answer = format!(
        "{}Anomalous: {}\nCause: {cause}\nConfidence: {confidence:.2}\nEvidence: {evidence}\nAnswer: {}",
        steps.join("\n"),
        if abnormal { "yes" } else { "no" },
        binary_word(item.task, abnormal)
    );
    Some((plan.messages, answer))
}

/// The thought stage's example for `item` and one of the charts that frame it
/// ([`framing_charts`]): the thought prompt and the chart's derived thought.
pub fn thought_row(item: &Item, chart: &Flowchart) -> (Vec<Message>, String) {
    (
        crate::reasoning::prompt::thought(item.task, &item.system, &item.instruction, &item.input),
        thought::derive(chart).render(),
    )
}

/// The charts whose thoughts `item` is taught with (thought-stage rows, and the coarse step that
/// opens its coarse-to-fine answer): those written for the system whose log format the item's
/// lines show, whatever the lines say and whatever the gold answer; none on parsing (a template
/// asks for no troubleshooting). A thought is how the system's experts approach its logs, the
/// same for its normal and its failing ones, and known at inference. Charts chosen where their
/// walk reaches gold opened only answers that end in a failure, and so would retrieval (a chart
/// is retrieved only where its symptoms match): the thought told the label, and the adapters
/// called windows abnormal where it appeared (experiments/full-coarse-fine, full-thoughts).
pub fn framing_charts<'c>(charts: &'c [Flowchart], item: &Item) -> Vec<&'c Flowchart> {
    if item.task == Task::LogParsing {
        return Vec::new();
    }
    let Some(format) = crate::diagnose::lines_format(&item.input) else {
        return Vec::new();
    };
    charts
        .iter()
        .filter(|c| c.system.eq_ignore_ascii_case(format.name))
        .collect()
}

/// The coarse step of a coarse-to-fine answer: the problems the system's charts diagnose (each
/// thought's overview), put as the question the checks below settle, on one line. The whole
/// thought (its challenges and every reasoning step) runs to hundreds of tokens and would not
/// leave a binary answer room for its conclusion.
fn opening_thought(frame: &[&Flowchart]) -> Option<String> {
    let first = frame.first()?;
    let overviews: Vec<String> = frame.iter().map(|c| thought::derive(c).overview).collect();
    let (whose, question) = if frame.len() == 1 {
        ("chart's problem", "Do these lines show it?")
    } else {
        ("charts' problems", "Do these lines show one of them?")
    };
    Some(format!(
        "Thought: the {} {whose}: {} {question}",
        first.system,
        overviews
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    ))
}

/// `answer` led by the opening thought of the charts that frame it, where any do.
pub fn thought_first(frame: &[&Flowchart], answer: &str) -> String {
    match opening_thought(frame) {
        Some(thought) => format!("{thought}\n{answer}"),
        None => answer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of lines are cited as ranges the verdict reader expands again, so a trace citing a
    /// long window stays short and its evidence is read whole.
    #[test]
    fn line_runs_are_cited_as_ranges() {
        assert_eq!(lines_text(&[]), "no line");
        assert_eq!(lines_text(&[7]), "line 7");
        assert_eq!(lines_text(&[5, 4]), "lines 4, 5");
        assert_eq!(lines_text(&[4, 5, 6, 7, 8, 9, 10, 11]), "lines 4-11");
        assert_eq!(lines_text(&[1, 2, 3, 5, 7, 8, 9, 9]), "lines 1-3, 5, 7-9");
        assert_eq!(lines_text(&[1, 3, 5, 7, 9]), "lines 1, 3, 5, 7");
        let cited = crate::diagnose::verdict::parse_answer(&format!(
            "1. Yes: {}.\nAnswer: abnormal",
            lines_text(&[1, 2, 3, 5, 7, 8, 9])
        ))
        .cited;
        assert_eq!(cited, vec![1, 2, 3, 5, 7, 8, 9]);
    }

    fn item(task: Task, input: &[&str], gold: &str) -> Item {
        Item {
            line: 1,
            task,
            system: "BGL".into(),
            instruction: String::new(),
            input: input.iter().map(|s| s.to_string()).collect(),
            gold: gold.into(),
            category: None,
            kind: None,
        }
    }

    fn charts() -> Vec<Flowchart> {
        let dir = crate::config::repo_root().join("flowcharts");
        crate::flowchart::valid_charts(&dir).expect("charts")
    }

    const FATAL: &str = "- 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt";
    const INFO: &str = "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected";

    /// A FATAL line the severity reading calls a failure, in a window the labels call normal:
    /// the history of the training split, which saw that message in other normal windows,
    /// writes the kept trace; the window's own label never counts for it.
    #[test]
    fn the_history_reads_a_routine_fatal_message_as_normal() {
        let window = |user: usize| {
            item(
                Task::AnomalyDetection,
                &[&format!("- 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS APP FATAL ciod: LOGIN chdir(/home/u{user}) failed: No such file or directory")],
                "normal",
            )
        };
        let alone = Teachers::new(&[], &[window(1)]);
        assert!(
            alone.compose(&window(1)).is_none(),
            "its own label vouched for it"
        );
        let training: Vec<Item> = (1..=4).map(window).collect();
        let teachers = Teachers::new(&[], &training);
        let kept = teachers.compose(&training[0]).expect("the history's trace");
        assert_eq!(kept.teacher, Teacher::Precedent);
        assert!(
            kept.text
                .starts_with("1. The most severe line is line 1 (FATAL): `ciod: LOGIN")
                && kept.text.contains("routine on this system")
                && kept.text.ends_with("Answer: normal"),
            "{}",
            kept.text
        );
        // The severity reading still comes first, and is what an abnormal gold keeps.
        let mut alert = window(9);
        alert.gold = "abnormal".into();
        assert_eq!(
            teachers.compose(&alert).expect("trace").teacher,
            Teacher::Severity
        );
    }

    /// On the bundled BGL log's training windows, the labelled lines judge most windows and are
    /// right on each (every window leaving its own lines out), and their trace comes first, so a
    /// window of routine FATAL job messages is taught normal where the chart's walk says abnormal.
    #[test]
    fn labelled_lines_teach_first_and_are_right_on_bgl_training_windows() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/datasets");
        let splits = super::super::datasets::load(
            &root.join("loglm"),
            &root.join("loghub-2k"),
            super::super::Scale::Full,
        )
        .expect("bundled datasets");
        let charts = charts();
        let teachers = Teachers::new(&charts, &splits.train).with_line_labels(&splits.train_lines);
        let mut windows: Vec<&Item> = splits
            .train
            .iter()
            .filter(|i| i.system == "BGL" && i.task == Task::AnomalyDetection)
            .collect();
        windows.dedup_by_key(|i| i.line);
        let (mut judged, mut right, mut chart_wrong_history_right) = (0, 0, 0);
        for w in &windows {
            let candidates = teachers.candidates(w);
            let Some(first) = candidates
                .first()
                .filter(|t| t.teacher == Teacher::LineHistory)
            else {
                continue;
            };
            judged += 1;
            let history_right = is_right(w, first.answer_for(w.task).as_deref());
            right += usize::from(history_right);
            let chart = candidates.iter().find(|t| t.teacher == Teacher::Chart);
            if history_right && chart.is_some_and(|c| !is_right(w, c.answer_for(w.task).as_deref()))
            {
                chart_wrong_history_right += 1;
                assert_eq!(
                    teachers.compose(w).expect("kept").teacher,
                    Teacher::LineHistory
                );
            }
        }
        eprintln!(
            "MEASURED {} windows judged {judged} right {right} fixes {chart_wrong_history_right}",
            windows.len()
        );
        assert!(windows.len() >= 100, "{} windows", windows.len());
        assert!(
            judged * 4 >= windows.len() * 3,
            "judged {judged} of {}",
            windows.len()
        );
        assert!(right * 100 >= judged * 98, "right on {right} of {judged}");
        assert!(chart_wrong_history_right > 0);
    }

    /// A chart's walk writes the trace, which is kept only when its answer is the gold one.
    #[test]
    fn a_walk_trace_is_kept_only_when_it_reaches_the_gold_answer() {
        let charts = charts();
        let right = Teachers::new(&charts, &[])
            .compose(&item(Task::AnomalyDetection, &[INFO, FATAL], "abnormal"))
            .expect("a trace");
        assert_eq!(right.teacher, Teacher::Chart);
        assert!(right.text.contains("line 2"), "{}", right.text);
        assert!(right.text.ends_with("Answer: abnormal"), "{}", right.text);
        assert!(Teachers::new(&charts, &[])
            .compose(&item(Task::AnomalyDetection, &[INFO, FATAL], "normal"))
            .is_none());
        let quiet = Teachers::new(&charts, &[])
            .compose(&item(Task::AnomalyDetection, &[INFO], "normal"))
            .expect("trace");
        assert_eq!(quiet.teacher, Teacher::Severity);
        assert!(quiet.text.ends_with("Answer: normal"));
        let fp = Teachers::new(&charts, &[])
            .compose(&item(Task::FailurePrediction, &[FATAL], "yes"))
            .expect("trace");
        assert!(fp.text.ends_with("Answer: yes"), "{}", fp.text);
    }

    /// A thought row is the system's chart's thought, for a failing window, a window the labels
    /// call normal, and a quiet one alike; a parsing row gets none.
    #[test]
    fn a_thought_row_is_its_systems_chart_for_failing_and_normal_logs_alike() {
        let charts = charts();
        let thought_rows = |item: &Item| -> Vec<(Vec<Message>, String)> {
            framing_charts(&charts, item)
                .into_iter()
                .map(|chart| thought_row(item, chart))
                .collect()
        };
        let failing = thought_rows(&item(Task::AnomalyDetection, &[INFO, FATAL], "abnormal"));
        assert_eq!(failing.len(), 1);
        let (prompt, thought) = &failing[0];
        assert!(
            thought.starts_with("Problem overview: RAS events at FATAL"),
            "{thought}"
        );
        assert!(prompt
            .iter()
            .any(|m| m.content.contains("high-level expert thought")));
        for normal in [
            item(Task::AnomalyDetection, &[INFO], "normal"),
            item(Task::AnomalyDetection, &[INFO, FATAL], "normal"),
            item(Task::FailurePrediction, &[FATAL], "yes"),
        ] {
            let rows = thought_rows(&normal);
            assert_eq!(rows.len(), 1, "{:?}", normal.gold);
            assert_eq!(&rows[0].1, thought);
        }
        let parsing = item(
            Task::LogParsing,
            &[FATAL],
            "RAS KERNEL FATAL data TLB error interrupt",
        );
        assert!(thought_rows(&parsing).is_empty());
    }

    /// A coarse-to-fine answer opens with its system's chart's problem on one line, then the
    /// trace as it was. The opening is the same for a normal and an abnormal window of the same
    /// system (it cannot tell the label); a parsing item keeps its answer unchanged.
    #[test]
    fn a_coarse_to_fine_answer_opens_with_its_systems_charts_whatever_the_label() {
        let charts = charts();
        let teachers = Teachers::new(&charts, &[]);
        let abnormal = item(Task::AnomalyDetection, &[INFO, FATAL], "abnormal");
        let trace = teachers.compose(&abnormal).expect("a trace").text;
        let frame = framing_charts(&charts, &abnormal);
        let led = thought_first(&frame, &trace);
        let (first, rest) = led.split_once('\n').expect("two parts");
        assert!(
            first.starts_with("Thought: the BGL chart's problem: RAS events at FATAL"),
            "{first}"
        );
        assert!(first.ends_with("Do these lines show it?"), "{first}");
        assert!(!first.contains("Key challenges"), "{first}");
        assert_eq!(rest, trace);
        // A quiet window of the same system, which no chart's symptom matches, opens the same.
        for normal in [
            item(Task::AnomalyDetection, &[INFO, FATAL], "normal"),
            item(Task::AnomalyDetection, &[INFO], "normal"),
        ] {
            let led = thought_first(&framing_charts(&charts, &normal), "Answer: normal");
            assert_eq!(led.split_once('\n').map(|(f, _)| f), Some(first));
        }
        let parsing = item(
            Task::LogParsing,
            &[FATAL],
            "RAS KERNEL FATAL data TLB error interrupt",
        );
        assert!(framing_charts(&charts, &parsing).is_empty());
        assert_eq!(thought_first(&[], &trace), trace);
    }

    /// Where a chart's symptom appears on lines that report no failure and the gold answer is
    /// normal, the severity reading overrules the chart: the model also learns the walk's false
    /// alarms. A fatal line keeps the chart's answer, so such a window still has no trace.
    #[test]
    fn a_severity_reading_overrules_a_chart_whose_lines_report_no_failure() {
        const CORE_INFO: &str = "- 1117848119 2005.06.03 R16-M1-N2-C:J17-U01 2005-06-03-18.21.59.871925 R16-M1-N2-C:J17-U01 RAS APP INFO ciod: generated 128 core files for program /bgl/apps/job1";
        let charts = charts();
        let quiet = item(Task::AnomalyDetection, &[INFO, CORE_INFO], "normal");
        let teachers: Vec<Teacher> = Teachers::new(&charts, &[])
            .candidates(&quiet)
            .iter()
            .map(|t| t.teacher)
            .collect();
        assert_eq!(teachers, [Teacher::Chart, Teacher::Overruled]);
        let kept = Teachers::new(&charts, &[])
            .compose(&quiet)
            .expect("the overruling trace");
        assert_eq!(kept.teacher, Teacher::Overruled);
        assert!(kept.text.contains("expert chart"), "{}", kept.text);
        assert!(
            kept.text.contains("no line is worse than INFO"),
            "{}",
            kept.text
        );
        assert!(kept.text.ends_with("Answer: normal"), "{}", kept.text);
        let (_, chat) =
            diagnosis_example(&charts, &quiet, Some(&kept), 0.5).expect("a diagnosis chat");
        assert!(chat.contains("Anomalous: no\nCause: none"), "{chat}");
        // It cites the chart's symptom line it judged harmless.
        assert!(chat.contains("Evidence: 2\n"), "{chat}");
        // The chart's answer stays first where it is right.
        let real = item(Task::AnomalyDetection, &[INFO, CORE_INFO], "abnormal");
        assert_eq!(
            Teachers::new(&charts, &[])
                .compose(&real)
                .expect("trace")
                .teacher,
            Teacher::Chart
        );
        let fatal = item(Task::AnomalyDetection, &[CORE_INFO, FATAL], "normal");
        assert_eq!(Teachers::new(&charts, &[]).candidates(&fatal).len(), 1);
        assert!(Teachers::new(&charts, &[]).compose(&fatal).is_none());
        // Untraced, it is still a diagnosis chat: the gold closing lines alone.
        let (_, bare) = diagnosis_example(&charts, &fatal, None, 0.5).expect("a diagnosis chat");
        assert!(bare.starts_with("Anomalous: no\nCause: none"), "{bare}");
        assert!(!bare.contains("Evidence: none"), "{bare}");
        assert!(bare.ends_with("Answer: normal"), "{bare}");
    }

    /// Both labels' traces open alike, with the window's most severe line quoted: the label is
    /// decided by what that line says, not by the trace's first word.
    #[test]
    fn binary_traces_open_with_the_most_severe_line_whatever_their_answer() {
        let charts = charts();
        let quiet = Teachers::new(&charts, &[])
            .compose(&item(Task::AnomalyDetection, &[INFO, INFO], "normal"))
            .expect("trace");
        assert!(
            quiet.text.starts_with("1. The most severe line is line 1 (INFO): `instruction cache parity error corrected`."),
            "{}",
            quiet.text
        );
        let fatal = Teachers::new(&charts, &[])
            .compose(&item(Task::AnomalyDetection, &[INFO, FATAL], "abnormal"))
            .expect("trace");
        assert!(
            fatal.text.starts_with(
                "1. The most severe line is line 2 (FATAL): `data TLB error interrupt`."
            ),
            "{}",
            fatal.text
        );
        // Without a header, the level is read from the words.
        let bare = Teachers::new(&[], &[])
            .compose(&item(
                Task::AnomalyDetection,
                &["ciod: Error creating node map from file"],
                "abnormal",
            ))
            .expect("trace");
        assert!(bare.text.contains("(ERROR)"), "{}", bare.text);
        assert!(bare.text.ends_with("Answer: abnormal"));
    }

    /// A kept anomaly trace becomes a diagnosis chat: the prompt `diagnose` sends, and the steps
    /// with the closing lines a diagnosis reads back as the same verdict and evidence.
    #[test]
    fn a_kept_anomaly_trace_is_also_a_diagnosis_chat_that_diagnoses_read_back() {
        let charts = charts();
        for (input, gold, anomalous) in [
            (vec![INFO, FATAL, INFO], "abnormal", true),
            (vec![INFO, INFO], "normal", false),
        ] {
            let it = item(Task::AnomalyDetection, &input, gold);
            let trace = Teachers::new(&charts, &[])
                .compose(&it)
                .expect("a kept trace");
            let (prompt, text) =
                diagnosis_example(&charts, &it, Some(&trace), 0.75).expect("example");
            let user = &prompt.last().expect("user message").content;
            assert!(user.contains("Anomalous: yes or no"), "{user}");
            assert!(
                text.starts_with("1. The most severe line is line"),
                "{text}"
            );
            assert!(text.ends_with(&format!("Answer: {gold}")), "{text}");
            assert!(text.contains("Confidence: 0.75"), "{text}");
            let read = crate::diagnose::verdict::parse_answer(&text);
            assert_eq!(read.anomalous, Some(anomalous), "{text}");
            assert!(!read.conflicting, "{text}");
            if anomalous {
                assert!(
                    read.cited.contains(&2),
                    "the fatal line is evidence: {text}"
                );
            }
        }
        // Other tasks have no diagnosis chat.
        let fp = item(Task::FailurePrediction, &[INFO], "no");
        let trace = Teachers::new(&charts, &[]).compose(&fp).expect("trace");
        assert!(diagnosis_example(&charts, &fp, Some(&trace), 1.0).is_none());
    }

    #[test]
    fn a_sample_is_grounded_when_it_cites_a_line_of_the_window_or_quotes_one() {
        let it = item(Task::AnomalyDetection, &[INFO, FATAL], "abnormal");
        assert!(grounded(&it, "Line 2 is fatal.\nAnswer: abnormal"));
        assert!(!grounded(&it, "Line 7 is fatal.\nAnswer: abnormal"));
        assert!(grounded(
            &it,
            "It says `data TLB error interrupt`.\nAnswer: abnormal"
        ));
        assert!(!grounded(
            &it,
            "It says `something else entirely`.\nAnswer: abnormal"
        ));
        assert!(!grounded(
            &it,
            "No lines of this window are abnormal.\nAnswer: normal"
        ));
    }

    #[test]
    fn a_parsing_trace_names_the_variables_and_must_match_the_gold_template() {
        let line = "Received block blk_123 of size 67108864 from /10.250.19.102";
        let mut it = item(
            Task::LogParsing,
            &[line],
            "Received block <*> of size <*> from <*>",
        );
        it.system = "HDFS".into();
        let t = Teachers::new(&[], &[]).compose(&it).expect("trace");
        assert_eq!(t.teacher, Teacher::Masks);
        assert!(t.text.contains("`67108864`"), "{}", t.text);
        it.gold = "Received block <*> of size <*> from <*> and more".into();
        assert!(Teachers::new(&[], &[]).compose(&it).is_none());
        assert!(Teachers::new(&[], &[])
            .compose(&item(Task::RootCause, &["x"], "y"))
            .is_none());
    }
}
