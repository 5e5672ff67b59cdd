//! Deterministic thought construction: a chart becomes a high-level, instance-free thought (SPEC's
//! "Thought": overview, key challenges, abstract reasoning steps), stored in sled with the chart's
//! content hash so that editing the chart marks the thought stale.

use std::collections::{HashMap, HashSet};

use super::model::{Flowchart, NodeKind};
use crate::store::{ReviewStatus, Store, StoreError, Thought, ThoughtOrigin};

/// The parts of a thought, independent of storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThoughtText {
    /// What the problem is and which causes are told apart.
    pub overview: String,
    /// What makes the diagnosis hard, one entry per challenge.
    pub challenges: Vec<String>,
    /// Abstract reasoning steps, in order.
    pub steps: Vec<String>,
}

impl ThoughtText {
    /// SPEC's rendering, as the model sees it.
    pub fn render(&self) -> String {
        render(&self.overview, &self.challenges, &self.steps)
    }
}

/// A thought in SPEC's text layout: overview, a bulleted list of challenges, numbered steps.
pub fn render(overview: &str, challenges: &[String], steps: &[String]) -> String {
    let mut out = format!("Problem overview: {}\nKey challenges:\n", overview.trim());
    for c in challenges {
        out.push_str(&format!("- {c}\n"));
    }
    out.push_str("Reasoning steps:\n");
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!("{}. {s}\n", i + 1));
    }
    out
}

fn cause_words(cause: &str) -> String {
    cause.replace('_', " ")
}

fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.ends_with(['.', '?', '!']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

/// Derives the thought. Step order follows a depth-first walk from `start`, branches in file order, so
/// the main line of questioning comes first and every decision appears once.
pub fn derive(chart: &Flowchart) -> ThoughtText {
    let causes: Vec<String> = chart.used_causes().into_iter().map(cause_words).collect();
    let overview = match &chart.description {
        Some(d) if !d.trim().is_empty() => d.trim().to_string(),
        _ => format!(
            "{} in {} logs. The symptoms can come from {}; the task is to tell these apart from the \
             evidence in the log lines and to name the cause and its remedy, or to escalate when the \
             log cannot settle it.",
            sentence(&chart.title).trim_end_matches('.'),
            chart.system,
            if causes.is_empty() { "several causes".to_string() } else { causes.join(", ") }
        ),
    };

    // Order: depth-first from start; only non-terminal nodes become steps.
    let mut order: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![chart.start.as_str()];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(node) = chart.nodes.get(id) else {
            continue;
        };
        order.push(id);
        let targets: Vec<&str> = node.edges().map(|(_, to)| to).collect();
        stack.extend(targets.into_iter().rev());
    }
    let steps_of: Vec<&str> = order
        .iter()
        .copied()
        .filter(|id| chart.nodes.get(*id).is_some_and(|n| !n.kind.is_terminal()))
        .collect();
    let number: HashMap<&str, usize> = steps_of
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i + 1))
        .collect();
    let outcome = |to: &str| -> String {
        match chart.nodes.get(to) {
            Some(n) if n.kind == NodeKind::Conclusion => {
                format!(
                    "conclude {}",
                    cause_words(n.cause.as_deref().unwrap_or("unknown"))
                )
            }
            Some(n) if n.kind == NodeKind::Escalate => "escalate".to_string(),
            _ => number
                .get(to)
                .map_or_else(|| "continue".to_string(), |n| format!("go to step {n}")),
        }
    };
    let mut steps: Vec<String> = Vec::new();
    for id in &steps_of {
        let node = &chart.nodes[*id];
        let text = sentence(&node.text);
        let step = match node.kind {
            NodeKind::Decision => {
                let branches: Vec<String> = node
                    .branches
                    .iter()
                    .map(|(label, to)| format!("{label}: {}", outcome(to)))
                    .collect();
                let how = if node.check.is_some() {
                    "Check the lines for this"
                } else {
                    "Judge this from context"
                };
                format!("{text} {how} ({}).", branches.join("; "))
            }
            NodeKind::Check => format!(
                "{text} Note the lines that show it, then {}.",
                outcome(node.next.as_deref().unwrap_or(""))
            ),
            NodeKind::Action => {
                let retry = node
                    .retry
                    .as_ref()
                    .map(|r| format!(" (repeat at most {} times)", r.limit))
                    .unwrap_or_default();
                format!(
                    "{text}{retry} Then {}.",
                    outcome(node.next.as_deref().unwrap_or(""))
                )
            }
            NodeKind::Conclusion | NodeKind::Escalate => continue,
        };
        steps.push(step);
    }
    steps.push("State the cause category and its remedy, citing the line numbers behind every decision; if no branch is settled by the evidence, say what is missing and escalate.".into());

    let mut challenges: Vec<String> = Vec::new();
    for id in &steps_of {
        let node = &chart.nodes[*id];
        if node.kind != NodeKind::Decision {
            continue;
        }
        let q = node.text.trim().trim_end_matches(['.', '?']);
        match &node.check {
            None => challenges.push(format!("\"{q}\" cannot be read off the log lines alone; it needs judgement or outside information.")),
            Some(c) if c.absent.is_some() => {
                challenges.push(format!("\"{q}\" rests on the absence of a pattern, which a short window cannot prove."))
            }
            Some(c) if c.within.is_some() => challenges.push(format!(
                "\"{q}\" depends on timing (within {}), so timestamps must be compared, not just matched.",
                c.within.as_deref().unwrap_or_default()
            )),
            Some(c) if c.novel_templates.is_some() => challenges.push(format!(
                "\"{q}\" asks which messages are new to this file; that takes the file's history, not the window alone."
            )),
            Some(c) if c.error_rate.is_some() => challenges.push(format!(
                "\"{q}\" compares the window's share of error lines with the rest of the file's; a window read alone cannot settle it."
            )),
            Some(c) if c.count.is_some() => challenges.push(format!(
                "\"{q}\" depends on a threshold ({} lines); a few isolated matches are normal noise.",
                c.at_least.unwrap_or(1)
            )),
            Some(_) => {}
        }
    }
    if causes.len() >= 2 {
        challenges.push(format!("The same symptoms can come from {}; the first plausible cause is not necessarily the right one.", causes.join(", ")));
    }
    if challenges.is_empty() {
        challenges.push("Evidence lines must be cited for each decision; a matching keyword alone is not proof.".into());
    }
    ThoughtText {
        overview,
        challenges,
        steps,
    }
}

/// What [`sync`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Chart ids that got a newly derived thought.
    pub created: Vec<String>,
    /// Chart ids whose current thought was already up to date.
    pub unchanged: Vec<String>,
    /// Chart ids whose earlier thoughts were marked stale.
    pub staled: Vec<String>,
}

/// Stores `text` as the next version of `old`'s thought (the same chart, or the same instance),
/// with the given origin and status. Versions number every thought of that chart or instance.
pub fn store_revision(
    store: &Store,
    old: &Thought,
    text: ThoughtText,
    origin: ThoughtOrigin,
    status: ReviewStatus,
) -> Result<Thought, StoreError> {
    let version = store
        .all::<Thought>()?
        .iter()
        .filter(|t| t.chart_id == old.chart_id && t.instance_id == old.instance_id)
        .map(|t| t.version)
        .max()
        .unwrap_or(old.version)
        + 1;
    let mut new = Thought {
        id: 0,
        version,
        overview: text.overview,
        challenges: text.challenges,
        steps: text.steps,
        origin,
        status,
        created_at: crate::time::now_millis(),
        ..old.clone()
    };
    store.insert(&mut new)?;
    Ok(new)
}

/// Makes sure every chart has a derived thought for its current content. Thoughts of a chart whose
/// content hash changed are marked stale (and kept, with their reviews); a new version is derived.
pub fn sync(store: &Store, charts: &[Flowchart]) -> Result<SyncReport, StoreError> {
    let existing = store.all::<Thought>()?;
    let mut report = SyncReport::default();
    for chart in charts {
        let hash = chart.content_hash();
        let mine: Vec<&Thought> = existing
            .iter()
            .filter(|t| t.chart_id.as_deref() == Some(chart.id.as_str()))
            .collect();
        if mine.iter().any(|t| {
            t.chart_hash.as_deref() == Some(hash.as_str()) && t.origin == ThoughtOrigin::Chart
        }) {
            report.unchanged.push(chart.id.clone());
            continue;
        }
        let mut staled = false;
        for old in &mine {
            if old.chart_hash.as_deref() != Some(hash.as_str()) && old.status != ReviewStatus::Stale
            {
                let mut t = (*old).clone();
                t.status = ReviewStatus::Stale;
                store.put(&t)?;
                staled = true;
            }
        }
        if staled {
            report.staled.push(chart.id.clone());
        }
        let text = derive(chart);
        let mut thought = Thought {
            id: 0,
            chart_id: Some(chart.id.clone()),
            chart_hash: Some(hash),
            instance_id: None,
            version: mine.iter().map(|t| t.version).max().unwrap_or(0) + 1,
            overview: text.overview,
            challenges: text.challenges,
            steps: text.steps,
            origin: ThoughtOrigin::Chart,
            status: ReviewStatus::Pending,
            created_at: crate::time::now_millis(),
        };
        store.insert(&mut thought)?;
        report.created.push(chart.id.clone());
    }
    store.flush()?;
    Ok(report)
}
