//! The structured verdict: what the model's closing lines say, what the flowchart walk concluded, and
//! how the two are settled into one answer whose evidence lies inside the window.

use serde::{Deserialize, Serialize};

use crate::flowchart::walk::{End, Walk};
use crate::flowchart::{Flowchart, BUILTIN_CAUSES};
// Stored with each evaluation's diagnosis-prompt row, so defined beside the records.
pub use crate::store::{Disagreements, Tally};

/// What the model's closing lines say. Every field is optional: a small model often drifts from
/// the format, and what it did not say is simply absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelAnswer {
    /// The verdict it gave (`Anomalous:` or `Answer:`); `None` when unreadable or contradicted.
    pub anomalous: Option<bool>,
    /// The root cause it named (at most 200 chars); `None` for none, `n/a` or `unknown`.
    pub cause: Option<String>,
    /// The confidence it stated, 0 to 1 (`70 %` and `high` are read too).
    pub confidence: Option<f32>,
    /// Every line number the model cited (in `Evidence:` or as "line N"), in the order seen.
    pub cited: Vec<usize>,
    /// The model named both verdicts (one `Answer:` says abnormal, another normal; or one line
    /// says "normal or abnormal"): its answer is unreadable and `anomalous` is `None`.
    pub conflicting: bool,
}

/// Where the verdict's anomalous/cause came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictFrom {
    /// The model's answer, and the walk agreed.
    Model,
    /// The walk alone: no model ran, or its answer could not be parsed.
    Walk,
    /// The model's answer, which overrides the walk's under the override rule ([`settle`]).
    ModelAgainstWalk,
    /// The walk's verdict: the model disagreed but did not meet the override rule.
    WalkAgainstModel,
    /// No chart concluded, but the window's error share is far above its file's
    /// ([`super::burst`]): anomalous with an `unknown` cause rather than a bare "normal".
    ErrorBurst,
}

impl VerdictFrom {
    /// Where the verdict came from, as a person reads it.
    pub fn describe(self) -> &'static str {
        match self {
            VerdictFrom::Model => "model",
            VerdictFrom::Walk => "walk",
            VerdictFrom::ModelAgainstWalk => "model, overriding the walk",
            VerdictFrom::WalkAgainstModel => "walk; the model disagreed",
            VerdictFrom::ErrorBurst => "error burst: far more errors than the rest of the file",
        }
    }
}

/// One opinion's measured record on anomaly detection, from a stored evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// F1 on the anomalous class.
    pub f1: f64,
    /// Of its `abnormal` answers, the share that were right.
    pub precision: f64,
    /// Of its `normal` answers, the share that were right (accuracy where the evaluation predates
    /// this figure).
    pub npv: f64,
    /// How many items the evaluation scored.
    pub items: usize,
}

impl Measured {
    /// Reads an evaluation row's metrics (`f1`, `precision`, and `npv` or else `accuracy`).
    pub fn from_metrics(
        metrics: &std::collections::BTreeMap<String, f64>,
        items: usize,
    ) -> Option<Measured> {
        Some(Measured {
            f1: *metrics.get("f1")?,
            precision: *metrics.get("precision")?,
            npv: metrics
                .get("npv")
                .or_else(|| metrics.get("accuracy"))
                .copied()?,
            items,
        })
    }

    /// How often this opinion was right when it said `anomalous`.
    fn right_when(&self, anomalous: bool) -> f32 {
        (if anomalous { self.precision } else { self.npv }) as f32
    }
}

/// The fewest evaluated items a measured record needs before it decides anything.
pub const MIN_MEASURED_ITEMS: usize = 20;

/// The name eval gives the walk's row.
pub const WALK_VARIANT: &str = "flowchart walk";

/// What eval appends to a model row's name when it sent the diagnosis prompt (with the default
/// limits); only such rows measure the answers a diagnosis reads.
pub const DIAGNOSIS_PROMPT_SUFFIX: &str = ", diagnosis prompt";

/// What eval appends to a model row's name for the verdicts diagnoses would give from its
/// diagnosis-prompt answers (settled against the walk); never read as a measurement.
pub const DIAGNOSIS_VERDICT_SUFFIX: &str = ", diagnosis verdict";

/// How the model (this model file with this adapter) and the walk measured on anomaly detection in
/// the latest stored evaluation that ran both on the same items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reliability {
    /// The model's record; `None` when no evaluation measured it beside the walk.
    pub model: Option<Measured>,
    /// The walk's record; `None` when no evaluation measured it.
    pub walk: Option<Measured>,
    /// Which evaluation the figures come from (`None`: no evaluation measured them).
    pub source: Option<String>,
    /// Item by item, how often the model was right where it and the walk disagreed in that
    /// evaluation; `None` where only the rows' totals were kept (evaluations stored before they were
    /// counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disagreements: Option<Disagreements>,
}

/// The lower end of the one-sided 95% Wilson score interval of `right` successes in `cases`.
fn wilson_lower(right: usize, cases: usize) -> f64 {
    const Z: f64 = 1.645;
    if cases == 0 {
        return 0.0;
    }
    let n = cases as f64;
    let p = right as f64 / n;
    let z2 = Z * Z;
    (p + z2 / (2.0 * n) - Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt()) / (1.0 + z2 / n)
}

/// The fewest disagreements of one direction that decide whether the model wins that direction.
pub const MIN_DISAGREEMENTS: usize = 5;

impl Disagreements {
    /// Counts `(walk, model, gold)` verdicts item by item, the model's as [`standing`] reads it:
    /// an answer that could never stand against the walk (unreadable, or citing no line of the
    /// window) is no disagreement, since the walk stands on it.
    pub fn count(items: impl IntoIterator<Item = (bool, Option<bool>, bool)>) -> Disagreements {
        let mut d = Disagreements::default();
        for (walk, model, gold) in items {
            let Some(model) = model.filter(|&m| m != walk) else {
                continue;
            };
            let t = if model {
                &mut d.model_anomalous
            } else {
                &mut d.model_normal
            };
            t.cases += 1;
            t.model_right += usize::from(model == gold);
        }
        d
    }

    /// Whether the model, saying `model_anomalous` against the walk, was measured right more
    /// often than the walk on at least [`MIN_DISAGREEMENTS`] such items, beyond chance: the lower
    /// end of its right share's one-sided 95% Wilson interval is above one half. A bare majority
    /// of a dozen disagreements is noise (8 right of 15 on one half of a run's items went with 1
    /// right of 9 on the other), and an override that is noise makes verdicts worse than the walk.
    pub fn model_wins(&self, model_anomalous: bool) -> bool {
        let t = self.tally(model_anomalous);
        t.cases >= MIN_DISAGREEMENTS && wilson_lower(t.model_right, t.cases) > 0.5
    }

    /// How often, at least, the model is right when it says `model_anomalous` against the walk:
    /// the lower end of the one-sided 95% Wilson interval of its right share on those
    /// disagreements. The raw share of a handful (6 right of 6) would claim certainty.
    pub fn model_right_at_least(&self, model_anomalous: bool) -> Option<f32> {
        let t = self.tally(model_anomalous);
        (t.cases > 0).then(|| wilson_lower(t.model_right, t.cases) as f32)
    }

    fn tally(&self, model_anomalous: bool) -> Tally {
        if model_anomalous {
            self.model_anomalous
        } else {
            self.model_normal
        }
    }
}

/// The file beside an adapter's weights that says how it measured against the walk: written by
/// whoever measured it (`experiment run`, `experiment ship`), read by the verdict rule.
pub const RELIABILITY_FILE: &str = "reliability.json";

impl Reliability {
    /// An adapter folder's own measurement ([`RELIABILITY_FILE`]), when it has one on at least
    /// [`MIN_MEASURED_ITEMS`] items.
    pub fn of_adapter(adapter: &std::path::Path) -> Option<Reliability> {
        let bytes = std::fs::read(adapter.join(RELIABILITY_FILE)).ok()?;
        let r: Reliability = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(
                    "{}: unreadable, ignored: {e}",
                    adapter.join(RELIABILITY_FILE).display()
                );
                return None;
            }
        };
        r.model
            .is_some_and(|m| m.items >= MIN_MEASURED_ITEMS)
            .then_some(r)
    }

    /// Reads the latest anomaly-detection evaluation of at least [`MIN_MEASURED_ITEMS`] items
    /// with a row for `model` (its name, with `adapter` or none; `None`: no model runs) on the
    /// diagnosis prompt ([`DIAGNOSIS_PROMPT_SUFFIX`]) and one for the walk, so the two are
    /// compared on the same items, with the disagreements it counted item by item (evaluations
    /// stored before they were counted keep totals only); without one, the walk's record from the
    /// latest evaluation that measured it.
    pub fn from_evals<'a>(
        runs: &'a [crate::store::EvalRun],
        model: Option<&str>,
        adapter: Option<&str>,
    ) -> Reliability {
        let mut eligible: Vec<&crate::store::EvalRun> = runs
            .iter()
            .filter(|r| {
                r.task == crate::store::Task::AnomalyDetection && r.items >= MIN_MEASURED_ITEMS
            })
            .collect();
        eligible.sort_by_key(|r| (r.created_at, r.id));
        let walk_row = |r: &crate::store::EvalRun| {
            r.results
                .iter()
                .find(|x| x.variant == WALK_VARIANT)
                .and_then(|w| Measured::from_metrics(&w.metrics, w.items))
        };
        let model_result = |r: &'a crate::store::EvalRun| -> Option<&'a crate::store::EvalResult> {
            let name = model?;
            r.results.iter().find(|x| {
                x.variant.ends_with(DIAGNOSIS_PROMPT_SUFFIX)
                    && x.model.as_deref() == Some(name)
                    && x.adapter.as_deref() == adapter
            })
        };
        let model_row = |r: &'a crate::store::EvalRun| {
            model_result(r).and_then(|m| Measured::from_metrics(&m.metrics, m.items))
        };
        let source = |r: &crate::store::EvalRun| {
            Some(format!(
                "evaluation #{} ({} items of {})",
                r.id, r.items, r.data
            ))
        };
        if let Some(r) = eligible
            .iter()
            .rev()
            .find(|r| model_row(r).is_some() && walk_row(r).is_some())
        {
            return Reliability {
                model: model_row(r),
                walk: walk_row(r),
                source: source(r),
                disagreements: model_result(r).and_then(|m| m.disagreements),
            };
        }
        match eligible.iter().rev().find(|r| walk_row(r).is_some()) {
            Some(r) => Reliability {
                model: None,
                walk: walk_row(r),
                source: source(r),
                disagreements: None,
            },
            None => Reliability::default(),
        }
    }

    /// Whether the model's stored evaluation beats the walk's on F1.
    pub fn model_beats_walk(&self) -> bool {
        matches!((self.model, self.walk), (Some(m), Some(w)) if m.f1 > w.f1)
    }

    /// Whether the measurement lets a model that says `model_anomalous` stand against the walk:
    /// where the disagreements were counted, the model won that direction of them; else (only
    /// totals kept) its F1 beat the walk's.
    pub fn model_may_overrule(&self, model_anomalous: bool) -> bool {
        match self.disagreements {
            Some(d) => self.model.is_some() && d.model_wins(model_anomalous),
            None => self.model_beats_walk(),
        }
    }
}

/// Both opinions of a diagnosis, as `diagnose --json` reports them beside the verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Opinions {
    /// What the flowchart walk concluded.
    pub walk: WalkOpinion,
    /// `None` when no model ran.
    pub model: Option<ModelOpinion>,
    /// Where the confidence comes from: a stored evaluation, or `uncalibrated`.
    pub calibration: String,
}

/// The flowchart walk's opinion of a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalkOpinion {
    /// True whenever a chart matched and was walked; false without a chart.
    pub anomalous: bool,
    /// The conclusion's cause, `unknown` on escalation; `None` when undecided or without a chart.
    pub cause: Option<String>,
}

/// The model's opinion of a window, as read from its closing lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOpinion {
    /// `None` when its answer could not be read (no verdict, a hedge, or two verdicts).
    pub anomalous: Option<bool>,
    /// The root cause it named, if any.
    pub cause: Option<String>,
    /// It named both verdicts.
    pub conflicting: bool,
    /// Lines it cited that lie inside the window.
    pub cited_in_window: usize,
    /// Whether it met the rule that lets it override the walk (readable, evidence inside the
    /// window, measured right more often than the walk where they disagreed this way).
    pub may_override: bool,
}

/// The settled answer of a diagnosis, with its evidence and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the window shows a problem.
    pub anomalous: bool,
    /// The root cause, when one was found.
    pub cause: Option<String>,
    /// True when `cause` is a category of the chart (or a built-in one), false for free text.
    pub cause_is_category: bool,
    /// How likely the verdict is right, 0 to 1: measured by a stored evaluation where there is one.
    pub confidence: f32,
    /// Line numbers inside the window, ascending.
    pub evidence: Vec<usize>,
    /// Cited line numbers that are not in the window (dropped from `evidence`).
    pub rejected_evidence: Vec<usize>,
    /// What to do next (the chart's remedy); empty when nothing is anomalous.
    pub next_steps: Vec<String>,
    /// Which opinion the verdict follows; `verdict_from` in the JSON.
    #[serde(rename = "verdict_from")]
    pub from: VerdictFrom,
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let t = line.trim().trim_start_matches(['*', '-', '#', ' ']);
    let (head, rest) = t.split_once(':')?;
    head.trim()
        .trim_matches('*')
        .eq_ignore_ascii_case(name)
        .then(|| rest.trim().trim_matches('*').trim())
}

fn yes_no(text: &str) -> Option<bool> {
    let t = text.to_ascii_lowercase();
    let word = t
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|w| !w.is_empty())?;
    match word {
        "yes" | "true" | "abnormal" | "anomalous" | "anomaly" => Some(true),
        "no" | "false" | "normal" => Some(false),
        _ => None,
    }
}

/// Numbers in `text`, with `a-b` ranges expanded (at most 50 numbers per range).
fn numbers(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_digit() || c == '-' {
                c
            } else {
                ' '
            }
        })
        .collect();
    for token in cleaned.split_whitespace() {
        let parts: Vec<&str> = token.split('-').filter(|s| !s.is_empty()).collect();
        match parts.as_slice() {
            [a] => out.extend(a.parse::<usize>().ok()),
            [a, b] => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    if a <= b && b - a < 50 {
                        out.extend(a..=b);
                    } else {
                        out.extend([a, b]);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn confidence(text: &str) -> Option<f32> {
    let t = text.trim().to_ascii_lowercase();
    let named = [
        ("high", 0.8),
        ("medium", 0.5),
        ("moderate", 0.5),
        ("low", 0.2),
    ];
    if let Some((_, v)) = named.iter().find(|(w, _)| t.starts_with(w)) {
        return Some(*v);
    }
    let num: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: f32 = num.parse().ok()?;
    let v = if t[num.len()..].trim_start().starts_with('%') || v > 1.0 {
        v / 100.0
    } else {
        v
    };
    (0.0..=1.0).contains(&v).then_some(v)
}

/// Reads the closing lines of a stepwise answer. Later lines win over earlier ones, so a model that
/// restates its answer is read by its last word. Never fails: what cannot be read stays `None`.
pub fn parse_answer(text: &str) -> ModelAnswer {
    let mut answer = ModelAnswer::default();
    let mut answer_line = None;
    // Every verdict the text states, to catch one that takes another back.
    let mut stated = Vec::new();
    for line in text.lines() {
        stated.extend(stated_verdicts(line));
        if let Some(v) = field(line, "anomalous") {
            answer.anomalous = yes_no(v).or(answer.anomalous);
        } else if let Some(v) = field(line, "answer") {
            answer_line = yes_no(v).or(answer_line);
        } else if let Some(v) = field(line, "cause").or_else(|| field(line, "root cause")) {
            let v = v.trim_end_matches('.').trim();
            let none =
                ["", "none", "n/a", "-", "unknown"].contains(&v.to_ascii_lowercase().as_str());
            answer.cause = if none {
                None
            } else {
                Some(v.chars().take(200).collect())
            };
        } else if let Some(v) = field(line, "confidence") {
            answer.confidence = confidence(v).or(answer.confidence);
        } else if let Some(v) = field(line, "evidence") {
            answer.cited.extend(numbers(v));
        }
        // "line 12", "lines 3, 4 and 7" inside the steps count as citations too.
        let lower = line.to_ascii_lowercase();
        for (at, _) in lower.match_indices("line") {
            let rest = &lower[at + 4..];
            let rest = rest.strip_prefix('s').unwrap_or(rest);
            if !rest.starts_with([' ', ':']) {
                continue;
            }
            let span: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || " ,-–and".contains(*c))
                .collect();
            answer.cited.extend(numbers(&span.replace('–', "-")));
        }
    }
    if answer.anomalous.is_none() {
        answer.anomalous = answer_line;
    }
    if stated.iter().any(|v| v.is_none()) || stated.windows(2).any(|w| w[0] != w[1]) {
        answer.conflicting = true;
        answer.anomalous = None;
    }
    answer
}

/// The verdicts a line states: after `Anomalous:`, `Answer:` or "the answer is", each read up to
/// the first `:`, `,`, `;` or `.` (a cause may follow). `None` marks one that names both verdicts.
fn stated_verdicts(line: &str) -> Vec<Option<bool>> {
    let lower = line.to_ascii_lowercase();
    let mut out = Vec::new();
    for key in ["anomalous", "answer"] {
        for rest in crate::answer::stated_after(&lower, key) {
            let rest = rest.trim_start_matches(['*', ' ', '`']);
            let head = rest.split([':', ',', '.', ';']).next().unwrap_or("");
            let words: Vec<&str> = head
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| !w.is_empty())
                .collect();
            let Some(first) = words.first().and_then(|w| yes_no(w)) else {
                continue;
            };
            let both = words.iter().skip(1).any(|w| {
                matches!(*w, "abnormal" | "anomalous" | "normal") && yes_no(w) != Some(first)
            });
            out.push(if both { None } else { Some(first) });
        }
    }
    out
}

/// A cause as a category id when it names one the chart knows (`Node failure` → `node_failure`).
/// A cause written as an id: `Node failure.` → `node_failure`.
pub fn category_id(cause: &str) -> String {
    let id: String = cause
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut out = String::with_capacity(id.len());
    for part in id.split('_').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(part);
    }
    out
}

fn as_category(cause: &str, chart: Option<&Flowchart>) -> Option<String> {
    let id = category_id(cause);
    let known = match chart {
        Some(c) => c.allowed_causes().contains(&id.as_str()),
        None => BUILTIN_CAUSES.contains(&id.as_str()),
    };
    known.then_some(id)
}

/// The walk's own verdict: the no-model baseline. A window where no chart's symptom appears is
/// normal; a chart that applies and reaches a conclusion names its cause and remedy; an escalation
/// is anomalous with the cause `unknown` and the escalation's remedy; a walk that stopped is
/// anomalous with no cause.
pub fn from_walk(walk: Option<&Walk>, symptom_lines: &[usize]) -> Verdict {
    let Some(walk) = walk else {
        return Verdict {
            anomalous: false,
            cause: None,
            cause_is_category: false,
            confidence: 0.5,
            evidence: Vec::new(),
            rejected_evidence: Vec::new(),
            next_steps: Vec::new(),
            from: VerdictFrom::Walk,
        };
    };
    let mut evidence = walk.evidence();
    if evidence.is_empty() {
        evidence = symptom_lines.to_vec();
    }
    let (cause, confidence, next_steps) = match &walk.end {
        End::Conclusion { cause, remedy, .. } => {
            (Some(cause.clone()), 0.8, vec![remedy.trim().to_string()])
        }
        End::Escalate { remedy, .. } => (
            Some("unknown".to_string()),
            0.5,
            vec![remedy
                .clone()
                .unwrap_or_else(|| "Escalate to the owning team.".into())],
        ),
        End::Undecided { node, reason } => (
            None,
            0.4,
            vec![format!("Decide at `{node}` by hand: {reason}")],
        ),
    };
    Verdict {
        anomalous: true,
        cause_is_category: cause.is_some(),
        cause,
        confidence,
        evidence,
        rejected_evidence: Vec::new(),
        next_steps: next_steps.into_iter().filter(|s| !s.is_empty()).collect(),
        from: VerdictFrom::Walk,
    }
}

/// The verdict of an answer that could stand against the walk: readable (one verdict, no hedge,
/// nothing taken back) and citing at least one line inside the window; `None` otherwise.
pub fn standing(answer: &ModelAnswer, window: &std::ops::RangeInclusive<usize>) -> Option<bool> {
    answer
        .anomalous
        .filter(|_| !answer.conflicting && answer.cited.iter().any(|n| window.contains(n)))
}

/// Whether the model's answer may override a walk it disagrees with: it could stand
/// ([`standing`]), and the stored evaluation measured the model right more often than the walk
/// where they disagreed this way (or, with only totals kept, above the walk's F1) on anomaly
/// detection (SPEC, "Verdicts").
pub fn may_override(
    answer: &ModelAnswer,
    window: &std::ops::RangeInclusive<usize>,
    reliability: &Reliability,
) -> bool {
    standing(answer, window).is_some_and(|said| reliability.model_may_overrule(said))
}

/// The walk's verdict, its confidence measured where an evaluation measured the walk.
pub fn calibrated_walk(mut walk_verdict: Verdict, reliability: &Reliability) -> Verdict {
    if let Some(w) = reliability.walk {
        walk_verdict.confidence = w.right_when(walk_verdict.anomalous);
    }
    walk_verdict
}

/// Settles the model's answer against the walk.
///
/// The walk always has an opinion: a chart's problem (concluded, escalated or stopped), or normal
/// where no chart's symptoms appear. Where the model says otherwise it wins only under
/// [`may_override`]; else the walk's verdict stands (`WalkAgainstModel`) and the disagreement
/// shows in [`Opinions`]. A silent walk is an opinion too (on the first full run's 90 dev items it was
/// right on every window it called normal), so the model must earn that direction like the
/// other. Where they agree, the model's answer adds its cause and evidence; the cause is
/// settled by [`settle_cause`]. Evidence is the model's citations inside the window, else (for an
/// anomaly) the walk's.
///
/// Confidence is how often the deciding opinion was right when it gave this verdict in the stored
/// evaluation ([`Reliability`]); where both agree, the better of the two; for an override, the
/// lower end of the one-sided 95% Wilson interval of its share right on that direction of
/// disagreement ([`Disagreements::model_right_at_least`]). Without a stored
/// evaluation it falls back to fixed figures (0.9 agree, 0.6 one opinion, 0.4 disagree; the
/// walk's own 0.8/0.5/0.4), and [`Opinions::calibration`] says `uncalibrated`. A model's own
/// `Confidence:` line is not used: a small model's figure is not a measurement.
pub fn settle(
    answer: Option<&ModelAnswer>,
    walk_verdict: Verdict,
    chart: Option<&Flowchart>,
    window: std::ops::RangeInclusive<usize>,
    reliability: &Reliability,
) -> Verdict {
    let Some((answer, anomalous)) = answer.and_then(|a| a.anomalous.map(|said| (a, said))) else {
        return calibrated_walk(walk_verdict, reliability);
    };
    let walk_spoke = walk_verdict.cause.is_some() || walk_verdict.anomalous;
    let agree = anomalous == walk_verdict.anomalous;
    if !agree && !may_override(answer, &window, reliability) {
        let mut v = calibrated_walk(walk_verdict, reliability);
        v.from = VerdictFrom::WalkAgainstModel;
        return v;
    }
    let (cause, cause_is_category, next_steps) = if anomalous {
        settle_cause(answer, &walk_verdict, chart, &window, reliability)
    } else {
        (None, false, Vec::new())
    };
    let mut evidence = Vec::new();
    let mut rejected = Vec::new();
    for &n in &answer.cited {
        let list = if window.contains(&n) {
            &mut evidence
        } else {
            &mut rejected
        };
        if !list.contains(&n) {
            list.push(n);
        }
    }
    evidence.sort_unstable();
    rejected.sort_unstable();
    if evidence.is_empty() && anomalous {
        evidence = walk_verdict.evidence.clone();
    }
    // An override is as sure as the model was, at least, on that direction of disagreement; an
    // agreement as the surer of the two opinions when they gave this verdict.
    let measured_model = if agree {
        reliability.model.map(|m| m.right_when(anomalous))
    } else {
        reliability
            .disagreements
            .and_then(|d| d.model_right_at_least(anomalous))
            .or_else(|| reliability.model.map(|m| m.right_when(anomalous)))
    };
    let measured_walk = reliability
        .walk
        .filter(|_| agree)
        .map(|w| w.right_when(anomalous));
    let confidence = match (measured_model, measured_walk) {
        (Some(m), Some(w)) => m.max(w),
        (Some(m), None) => m,
        (None, Some(w)) => w,
        // Unmeasured: two opinions that agree, or a walk that found no chart (only an answer
        // agreeing with it gets here, since an unmeasured model overrules nothing).
        (None, None) if walk_spoke => 0.9,
        (None, None) => 0.6,
    };
    Verdict {
        anomalous,
        cause,
        cause_is_category,
        confidence,
        evidence,
        rejected_evidence: rejected,
        next_steps,
        from: if !agree {
            VerdictFrom::ModelAgainstWalk
        } else {
            VerdictFrom::Model
        },
    }
}

/// The cause and next steps of an anomalous verdict. A chart's conclusion names its cause and
/// remedy as a pair: where the walk reached one, a model naming another cause replaces the pair
/// only from a standing answer of a model measured above the walk's F1, and only with another of the chart's conclusions (whose remedy then
/// comes with it), so a verdict never shows one cause beside another cause's remedy. Where the
/// walk concluded nothing (no chart, an escalation, a stopped walk) the model's cause names the
/// problem beside the walk's steps.
fn settle_cause(
    answer: &ModelAnswer,
    walk: &Verdict,
    chart: Option<&Flowchart>,
    window: &std::ops::RangeInclusive<usize>,
    reliability: &Reliability,
) -> (Option<String>, bool, Vec<String>) {
    let walk_pair = || {
        (
            walk.cause.clone(),
            walk.cause_is_category,
            walk.next_steps.clone(),
        )
    };
    let Some(said) = answer.cause.as_deref() else {
        return walk_pair();
    };
    let category = as_category(said, chart);
    let walk_concluded = walk.cause_is_category && walk.cause.as_deref() != Some("unknown");
    if !walk_concluded {
        return match category {
            Some(id) => (Some(id), true, walk.next_steps.clone()),
            None => (Some(said.to_string()), false, walk.next_steps.clone()),
        };
    }
    let remedy = category.as_deref().zip(chart).and_then(|(id, chart)| {
        chart
            .nodes
            .values()
            .find(|n| n.cause.as_deref() == Some(id))
            .and_then(|n| n.remedy.as_deref())
            .map(|r| r.trim().to_string())
    });
    match (category, remedy) {
        // Both say anomalous: no direction of disagreement measures whose cause is right, so
        // the model's must come from a model measured above the walk overall.
        (Some(id), Some(remedy))
            if standing(answer, window).is_some() && reliability.model_beats_walk() =>
        {
            (Some(id), true, vec![remedy])
        }
        _ => walk_pair(),
    }
}

/// Both opinions beside the settled verdict, for the report.
pub fn opinions(
    answer: Option<&ModelAnswer>,
    walk_verdict: &Verdict,
    window: &std::ops::RangeInclusive<usize>,
    reliability: &Reliability,
) -> Opinions {
    Opinions {
        walk: WalkOpinion {
            anomalous: walk_verdict.anomalous,
            cause: walk_verdict.cause.clone(),
        },
        model: answer.map(|a| ModelOpinion {
            anomalous: a.anomalous,
            cause: a.cause.clone(),
            conflicting: a.conflicting,
            cited_in_window: a.cited.iter().filter(|n| window.contains(n)).count(),
            may_override: may_override(a, window, reliability),
        }),
        calibration: reliability.source.clone().unwrap_or_else(|| {
            "uncalibrated: no stored anomaly-detection evaluation of this model beside the walk"
                .into()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_lines_are_read() {
        let text = "1. Check for kernel errors: line 12 shows a machine check.\n\
                    2. Lines 14-16 repeat it.\n\
                    Anomalous: yes\nCause: Hardware fault.\nConfidence: 80%\nEvidence: 12, 14\nAnswer: abnormal";
        let a = parse_answer(text);
        assert_eq!(a.anomalous, Some(true));
        assert_eq!(a.cause.as_deref(), Some("Hardware fault"));
        assert_eq!(a.confidence, Some(0.8));
        assert_eq!(a.cited, vec![12, 14, 15, 16, 12, 14]);
    }

    #[test]
    fn the_answer_line_stands_in_for_a_missing_anomalous_line() {
        assert_eq!(parse_answer("**Answer:** normal").anomalous, Some(false));
        assert_eq!(parse_answer("Answer: abnormal").anomalous, Some(true));
        let none = parse_answer("I think the system is fine?");
        assert_eq!(none, ModelAnswer::default());
    }

    #[test]
    fn confidence_forms() {
        assert_eq!(confidence("0.7"), Some(0.7));
        assert_eq!(confidence("70 %"), Some(0.7));
        assert_eq!(confidence("High"), Some(0.8));
        assert_eq!(confidence("very"), None);
        assert_eq!(confidence("250"), None);
    }

    #[test]
    fn without_a_walk_the_window_is_normal() {
        let v = from_walk(None, &[]);
        assert!(!v.anomalous);
        assert_eq!(v.from, VerdictFrom::Walk);
    }

    #[test]
    fn evidence_outside_the_window_is_rejected() {
        let answer = ModelAnswer {
            anomalous: Some(true),
            cause: Some("node failure".into()),
            confidence: None,
            cited: vec![5, 99, 7, 5],
            conflicting: false,
        };
        let v = settle(
            Some(&answer),
            from_walk(None, &[]),
            None,
            1..=10,
            &wins_where_silent(true),
        );
        assert_eq!(v.evidence, vec![5, 7]);
        assert_eq!(v.rejected_evidence, vec![99]);
        assert_eq!(v.cause.as_deref(), Some("node_failure"));
        assert!(v.cause_is_category);
        // An override is as sure as the model was, at least, on that direction of disagreement:
        // 6 right of 6 is no certainty (Wilson's one-sided 95% lower end: 0.69).
        assert!((v.confidence - 0.689).abs() < 0.005, "{}", v.confidence);
        assert_eq!(v.from, VerdictFrom::ModelAgainstWalk);
    }

    /// A measurement whose model, below the walk on F1, was right `won` where it called an
    /// anomaly the walk did not (6 of 6 such items, else 1 of 6).
    fn wins_where_silent(won: bool) -> Reliability {
        Reliability {
            disagreements: Some(Disagreements {
                model_anomalous: Tally {
                    cases: 6,
                    model_right: if won { 6 } else { 1 },
                },
                model_normal: Tally::default(),
            }),
            ..measured(0.5, 0.6)
        }
    }

    /// Where no chart's symptoms appear the walk still says normal, and a model's anomaly there
    /// stands only where the measurement counted the model right on such disagreements; without
    /// counted disagreements, only a model above the walk's F1 overrules it.
    #[test]
    fn a_silent_walk_is_an_opinion_the_model_must_earn() {
        let answer = parse_answer("Anomalous: yes\nEvidence: 2\nAnswer: abnormal");
        let silent = || from_walk(None, &[]);
        let settled = |r: &Reliability| settle(Some(&answer), silent(), None, 1..=4, r);
        let lost = settled(&wins_where_silent(false));
        assert!(!lost.anomalous);
        assert_eq!(lost.from, VerdictFrom::WalkAgainstModel);
        assert!(settled(&wins_where_silent(true)).anomalous);
        assert!(!settled(&Reliability::default()).anomalous);
        assert!(!settled(&measured(0.5, 0.6)).anomalous);
        assert!(settled(&measured(0.7, 0.6)).anomalous);
        // Too few disagreements decide nothing, whatever the share.
        let mut few = wins_where_silent(true);
        few.disagreements = Some(Disagreements {
            model_anomalous: Tally {
                cases: MIN_DISAGREEMENTS - 1,
                model_right: MIN_DISAGREEMENTS - 1,
            },
            model_normal: Tally::default(),
        });
        assert!(!settled(&few).anomalous);
        // A majority within chance decides nothing either: 8 right of 15, 5 of 6.
        for (right, cases) in [(8, 15), (5, 6)] {
            let mut close = wins_where_silent(true);
            close.disagreements = Some(Disagreements {
                model_anomalous: Tally {
                    cases,
                    model_right: right,
                },
                model_normal: Tally::default(),
            });
            assert!(!settled(&close).anomalous, "{right} of {cases}");
        }
        assert!(wilson_lower(12, 16) > 0.5 && wilson_lower(5, 5) > 0.5);
        // Counting: unreadable answers and agreements are no disagreement.
        let d = Disagreements::count([
            (false, Some(true), true),
            (false, Some(true), false),
            (true, Some(false), false),
            (true, None, false),
            (true, Some(true), true),
        ]);
        assert_eq!(
            d.model_anomalous,
            Tally {
                cases: 2,
                model_right: 1
            }
        );
        assert_eq!(
            d.model_normal,
            Tally {
                cases: 1,
                model_right: 1
            }
        );
    }

    fn walk_concluded() -> Verdict {
        Verdict {
            anomalous: true,
            cause: Some("disk_failure".into()),
            cause_is_category: true,
            confidence: 0.8,
            evidence: vec![3],
            rejected_evidence: vec![],
            next_steps: vec!["replace the disk".into()],
            from: VerdictFrom::Walk,
        }
    }

    fn measured(model_f1: f64, walk_f1: f64) -> Reliability {
        let m = |f1| Measured {
            f1,
            precision: 0.7,
            npv: 0.85,
            items: 40,
        };
        Reliability {
            model: Some(m(model_f1)),
            walk: Some(m(walk_f1)),
            source: Some("evaluation #1".into()),
            disagreements: None,
        }
    }

    #[test]
    fn an_unreadable_answer_leaves_the_walk_verdict() {
        let none = Reliability::default();
        let v = settle(
            Some(&ModelAnswer::default()),
            walk_concluded(),
            None,
            1..=10,
            &none,
        );
        assert_eq!(v, walk_concluded());
    }

    /// The held-out BGL case: the walk concluded an anomaly, and the model wrote "The answer is
    /// yes … Answer: no. The answer is no." That answer takes itself back: unreadable, so the
    /// walk's anomaly stands, whatever the stored evaluation says.
    #[test]
    fn a_self_contradicting_answer_never_overrides_the_walk() {
        let text = "1. Lines 2-7 repeat a machine check interrupt, so the answer is yes.\n\
                    Answer: no. The answer is no.";
        let a = parse_answer(text);
        assert!(a.conflicting);
        assert_eq!(a.anomalous, None);
        let v = settle(
            Some(&a),
            walk_concluded(),
            None,
            1..=10,
            &measured(0.9, 0.3),
        );
        assert!(v.anomalous);
        assert_eq!(v.from, VerdictFrom::Walk);
        let both = parse_answer("Answer: normal or abnormal");
        assert!(both.conflicting && both.anomalous.is_none());
        // A cause after the verdict is not a second verdict.
        let cause = parse_answer("Anomalous: yes\nAnswer: abnormal: no space left on device");
        assert_eq!((cause.anomalous, cause.conflicting), (Some(true), false));
    }

    /// The override rule: a readable "normal" against a walk's anomaly wins only with evidence
    /// inside the window and a stored evaluation in which the model beats the walk.
    #[test]
    fn the_model_overrides_the_walk_only_under_the_rule() {
        let normal = |cited: Vec<usize>| ModelAnswer {
            anomalous: Some(false),
            cited,
            ..Default::default()
        };
        let window = 1..=10;
        let cases = [
            (normal(vec![4]), Reliability::default(), false),
            (normal(vec![4]), measured(0.4, 0.6), false),
            (normal(vec![]), measured(0.9, 0.6), false),
            (normal(vec![40]), measured(0.9, 0.6), false),
            (normal(vec![4]), measured(0.9, 0.6), true),
        ];
        for (answer, reliability, overrides) in cases {
            let v = settle(
                Some(&answer),
                walk_concluded(),
                None,
                window.clone(),
                &reliability,
            );
            assert_eq!(!v.anomalous, overrides, "{answer:?} {reliability:?}");
            let want = if overrides {
                VerdictFrom::ModelAgainstWalk
            } else {
                VerdictFrom::WalkAgainstModel
            };
            assert_eq!(v.from, want);
            let o = opinions(Some(&answer), &walk_concluded(), &window, &reliability);
            assert_eq!(o.model.map(|m| m.may_override), Some(overrides));
            assert!(o.walk.anomalous);
        }
    }

    /// A chart's conclusion keeps its cause and remedy together: a model that agrees there is an
    /// anomaly but names another cause replaces the pair only under the override rule and with
    /// another of the chart's conclusions, whose remedy comes along.
    #[test]
    fn a_concluded_cause_and_its_remedy_stay_together() {
        let chart = crate::flowchart::load_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../flowcharts/bgl-kernel-fault.yaml"),
        )
        .expect("bundled chart");
        let network = chart
            .nodes
            .values()
            .find(|n| n.cause.as_deref() == Some("network_failure"))
            .and_then(|n| n.remedy.clone())
            .expect("the chart concludes network_failure");
        let says = |cause: &str| ModelAnswer {
            anomalous: Some(true),
            cause: Some(cause.into()),
            cited: vec![3],
            ..Default::default()
        };
        let cases = [
            // Not measured better than the walk: the walk's pair stands.
            (says("network failure"), measured(0.4, 0.6), "disk_failure"),
            // Measured better, but its cause is no conclusion of the chart.
            (says("cosmic rays"), measured(0.9, 0.6), "disk_failure"),
            // Measured better and another conclusion of the chart: that conclusion's pair.
            (
                says("network failure"),
                measured(0.9, 0.6),
                "network_failure",
            ),
        ];
        for (answer, reliability, cause) in cases {
            let v = settle(
                Some(&answer),
                walk_concluded(),
                Some(&chart),
                1..=10,
                &reliability,
            );
            assert_eq!(v.cause.as_deref(), Some(cause), "{answer:?}");
            let steps = if cause == "network_failure" {
                vec![network.trim().to_string()]
            } else {
                walk_concluded().next_steps
            };
            assert_eq!(v.next_steps, steps, "{answer:?}");
        }
        // Where the walk only escalated, the model's cause names the problem.
        let escalated = Verdict {
            cause: Some("unknown".into()),
            ..walk_concluded()
        };
        let v = settle(
            Some(&says("network failure")),
            escalated,
            Some(&chart),
            1..=10,
            &Reliability::default(),
        );
        assert_eq!(v.cause.as_deref(), Some("network_failure"));
    }

    /// Confidence comes from the stored evaluation: how often the deciding opinion was right
    /// when it gave this verdict.
    #[test]
    fn confidence_is_measured_not_stated() {
        let r = measured(0.9, 0.6);
        let stated = ModelAnswer {
            anomalous: Some(true),
            confidence: Some(0.99),
            cited: vec![3],
            ..Default::default()
        };
        let v = settle(Some(&stated), walk_concluded(), None, 1..=10, &r);
        assert_eq!((v.from, v.confidence), (VerdictFrom::Model, 0.7));
        let normal = ModelAnswer {
            anomalous: Some(false),
            cited: vec![3],
            ..Default::default()
        };
        let v = settle(Some(&normal), walk_concluded(), None, 1..=10, &r);
        assert_eq!(
            (v.from, v.confidence),
            (VerdictFrom::ModelAgainstWalk, 0.85)
        );
        let walk_only = settle(None, walk_concluded(), None, 1..=10, &r);
        assert_eq!(walk_only.confidence, 0.7);
    }

    #[test]
    fn reliability_is_read_from_an_evaluation_with_both_rows() {
        use crate::store::{EvalResult, EvalRun, Task};
        let row = |variant: &str, model: Option<&str>, f1: f64| EvalResult {
            variant: variant.into(),
            model: model.map(str::to_string),
            adapter: None,
            metrics: [("f1", f1), ("precision", 0.5), ("accuracy", 0.6)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            items: 30,
            unparsed: 0,
            mean_latency_ms: 0.0,
            disagreements: None,
        };
        let run = |id, items, results| EvalRun {
            id,
            task: Task::AnomalyDetection,
            data: "dev.jsonl".into(),
            items,
            max_tokens: 64,
            results,
            note: String::new(),
            created_at: id,
        };
        let base = "base, diagnosis prompt";
        let runs = vec![
            run(
                1,
                30,
                vec![row(base, Some("m"), 0.8), row(WALK_VARIANT, None, 0.5)],
            ),
            // Too few items to count, and a later run without the walk.
            run(
                2,
                5,
                vec![row(base, Some("m"), 0.1), row(WALK_VARIANT, None, 0.9)],
            ),
            run(3, 30, vec![row(base, Some("m"), 0.2)]),
            // The solution prompt's answers measure nothing a diagnosis reads.
            run(
                4,
                30,
                vec![row("base", Some("m"), 0.95), row(WALK_VARIANT, None, 0.5)],
            ),
        ];
        let r = Reliability::from_evals(&runs, Some("m"), None);
        assert_eq!(r.model.map(|m| m.f1), Some(0.8));
        assert_eq!(r.walk.map(|w| (w.f1, w.npv)), Some((0.5, 0.6)));
        assert!(r.model_beats_walk());
        assert!(r.source.as_ref().is_some_and(|s| s.contains("#1")));
        // Totals only (an evaluation stored before disagreements were counted): the F1 rule.
        assert!(r.disagreements.is_none() && r.model_may_overrule(false));
        // Counted: the model's 8 right of 15 "normal" disagreements earn nothing, whatever its F1.
        let mut counted = runs.clone();
        counted[0].results[0].disagreements = Some(Disagreements {
            model_normal: Tally {
                cases: 15,
                model_right: 8,
            },
            model_anomalous: Tally {
                cases: 6,
                model_right: 6,
            },
        });
        let r = Reliability::from_evals(&counted, Some("m"), None);
        assert_eq!(r.disagreements, counted[0].results[0].disagreements);
        assert!(!r.model_may_overrule(false) && r.model_may_overrule(true));
        let other = Reliability::from_evals(&runs, Some("another model"), None);
        assert_eq!((other.model, other.walk.map(|w| w.f1)), (None, Some(0.5)));
        assert_eq!(
            Reliability::from_evals(&[], None, None),
            Reliability::default()
        );
    }
}
