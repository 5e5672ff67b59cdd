//! `logreasoner eval`: every variant over a task's items, a progress bar on stderr, and the table of
//! SPEC's metrics on stdout; the run is recorded in the database for the Eval screen.

use std::io::Write;

use anyhow::Context;

use crate::cli::{EvalArgs, EvalPrompt};
use logreasoner_core::config::Config;
use logreasoner_core::diagnose::prompt::PromptLimits;
use logreasoner_core::diagnose::verdict::{
    Reliability, DIAGNOSIS_PROMPT_SUFFIX, DIAGNOSIS_VERDICT_SUFFIX,
};
use logreasoner_core::eval::{self, data};
use logreasoner_core::llm::backend::BackendSpec;
use logreasoner_core::llm::model::GenerationParams;
use logreasoner_core::store::{EvalResult, EvalRun, Store, Task};

fn adapter_label(adapter: &std::path::Path) -> String {
    format!(
        "adapter {}",
        logreasoner_core::train::run::adapter_name(adapter)
    )
}

/// The models to evaluate: the configured one (with the configured adapter, if any), then the
/// base model with each adapter named by `--with-adapter`.
fn model_variants(config: &Config, args: &EvalArgs) -> anyhow::Result<Vec<(String, BackendSpec)>> {
    let mut variants: Vec<(String, BackendSpec)> = Vec::new();
    let mut spec = BackendSpec::from_config(config)?;
    let mut label = match &config.adapter {
        Some(a) => adapter_label(&a.value),
        None => "base".into(),
    };
    // Adapters named on the command line are compared with the base model, not with the
    // adapter the default configuration ships (that would be the same row twice).
    let shipped = config
        .adapter
        .as_ref()
        .is_some_and(|a| matches!(a.origin, logreasoner_core::config::Origin::Default(_)));
    if shipped && !args.with_adapters.is_empty() {
        if let BackendSpec::Local { adapter, .. } = &mut spec {
            *adapter = None;
            label = "base".into();
        }
    }
    for path in &args.with_adapters {
        let adapter = crate::train_cmd::resolve_adapter(path)?;
        if let BackendSpec::Local { path, device, .. } = &spec {
            let extra = BackendSpec::Local {
                path: path.clone(),
                adapter: Some(adapter.clone()),
                device: device.clone(),
            };
            variants.push((adapter_label(&adapter), extra));
        } else {
            anyhow::bail!(
                "--with-adapter needs the local model; the configuration names a remote server"
            );
        }
    }
    variants.insert(0, (label, spec));
    Ok(variants)
}

/// What diagnoses would show for `answers` on the diagnosis prompt: each answer settled against
/// its walk by the verdict rule, with the adapter's own measurement (none: the walk stands
/// wherever they disagree). The answer rows and the result row, labelled as verdicts.
fn verdicts(
    charts: &[logreasoner_core::flowchart::Flowchart],
    task: Task,
    items: &[data::Item],
    answers: &[eval::Answer],
    label: &str,
    model: &str,
    adapter: Option<std::path::PathBuf>,
) -> (Vec<serde_json::Value>, EvalResult) {
    let reliability = adapter
        .as_deref()
        .and_then(Reliability::of_adapter)
        .unwrap_or_default();
    let settled = eval::settled_answers(charts, items, answers, &reliability);
    let verdict_label = label.replace(DIAGNOSIS_PROMPT_SUFFIX, DIAGNOSIS_VERDICT_SUFFIX);
    let rows = eval::answer_rows(&verdict_label, items, &settled);
    let (mut row, _) = eval::result(
        &verdict_label,
        Some(model.to_string()),
        task,
        items,
        &settled,
    );
    row.adapter = adapter.map(|a| a.display().to_string());
    (rows, row)
}

/// The token limits the prompts ran under, in words.
fn token_limits(prompts: &[EvalPrompt], solution: usize, diagnosis: usize) -> String {
    match (
        prompts.contains(&EvalPrompt::Solution),
        prompts.iter().any(|p| *p != EvalPrompt::Solution),
    ) {
        (true, true) => format!(
            "{solution} tokens per answer ({diagnosis} on the diagnosis prompt, as diagnoses)"
        ),
        (false, true) => format!("{diagnosis} tokens per answer, as diagnoses"),
        _ => format!("{solution} tokens per answer"),
    }
}

pub fn run(config: &Config, args: EvalArgs) -> anyhow::Result<()> {
    let task: Task = args.task.parse().map_err(anyhow::Error::msg)?;
    let mut prompts = args.prompts.clone();
    prompts.dedup();
    if task != Task::AnomalyDetection && prompts.iter().any(|p| *p != EvalPrompt::Solution) {
        anyhow::bail!(
            "the diagnosis prompt answers abnormal or normal: use it with --task anomaly_detection"
        );
    }
    let loaded = data::load(&args.data).map_err(anyhow::Error::msg)?;
    for (line, why) in &loaded.skipped {
        eprintln!(
            "{}:{line}: skipped: {}",
            args.data.display(),
            logreasoner_core::safe_text::for_terminal(why)
        );
    }
    let mut items: Vec<data::Item> = loaded
        .items
        .into_iter()
        .filter(|i| i.task == task)
        .collect();
    if let Some(n) = args.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        anyhow::bail!("{} has no {task} items", args.data.display());
    }
    let max_tokens = args
        .max_tokens
        .unwrap_or(if task == Task::LogParsing { 96 } else { 160 });
    // The diagnosis prompt is measured as diagnoses run it, with their token limit.
    let diagnosis_max_tokens = args.max_tokens.unwrap_or(config.diagnosis.value.max_tokens);
    let mut results = Vec::new();
    let mut answer_rows = Vec::new();
    let mut note = String::new();
    let variants = if args.no_model {
        Vec::new()
    } else {
        model_variants(config, &args)?
    };
    let charts = logreasoner_core::flowchart::valid_charts(&config.flowcharts.value)?;
    let mut token_means = Vec::new();
    for (label, spec) in variants {
        let mut model = crate::progress::open_model(&spec, &format!("{label}: "))?;
        // Greedy decoding: an evaluation is repeatable.
        let mut params = GenerationParams::from_defaults(&config.generation.value);
        params.temperature = 0.0;
        logreasoner_core::reasoning::cue_answer(&mut params, task);
        let name = model.name();
        let total = items.len();
        for prompt in &prompts {
            let label = match prompt {
                EvalPrompt::Solution => label.clone(),
                EvalPrompt::Diagnosis => format!("{label}{DIAGNOSIS_PROMPT_SUFFIX}"),
                EvalPrompt::DiagnosisWholeLines => {
                    format!("{label}{DIAGNOSIS_PROMPT_SUFFIX}, whole lines")
                }
            };
            let limits = PromptLimits {
                collapse_repeats: *prompt == EvalPrompt::Diagnosis,
                ..(&config.diagnosis.value).into()
            };
            let diagnosis = (*prompt != EvalPrompt::Solution).then_some(limits);
            params.max_tokens = if diagnosis.is_some() {
                diagnosis_max_tokens
            } else {
                max_tokens
            };
            let bar = crate::progress::Bar::start(&label, total);
            let answers = eval::run_prompt(
                &mut model,
                &items,
                &charts,
                diagnosis,
                &params,
                &mut |done| bar.set(done, total),
            )?;
            drop(bar);
            let tokens: usize = answers.iter().map(|a| a.prompt_tokens).sum();
            token_means.push((label.clone(), tokens as f64 / answers.len().max(1) as f64));
            answer_rows.extend(eval::answer_rows(&label, &items, &answers));
            let adapter = model.info().adapter;
            let (mut row, n) = eval::result(&label, Some(name.clone()), task, &items, &answers);
            row.adapter = adapter.as_ref().map(|a| a.display().to_string());
            if *prompt == EvalPrompt::Diagnosis {
                // What the verdict rule reads from this evaluation: totals alone cannot say
                // where the model beats the walk.
                row.disagreements = Some(eval::disagreements(&charts, &items, &answers));
            }
            results.push(row);
            note = n;
            if *prompt == EvalPrompt::Diagnosis {
                let (rows, row) = verdicts(&charts, task, &items, &answers, &label, &name, adapter);
                answer_rows.extend(rows);
                results.push(row);
            }
        }
    }
    if !args.no_walk && eval::walk_applies(task) {
        let answers = eval::run_walk(&charts, &items);
        answer_rows.extend(eval::answer_rows("flowchart walk", &items, &answers));
        let (row, n) = eval::result("flowchart walk", None, task, &items, &answers);
        results.push(row);
        note = n;
    }
    if results.is_empty() {
        anyhow::bail!("nothing to evaluate: the flowchart walk does not apply to {task}, and --no-model was given");
    }
    if let Some(path) = &args.answers {
        std::fs::write(path, eval::jsonl(&answer_rows))
            .with_context(|| format!("cannot write the answers to {}", path.display()))?;
    }
    let mut run = EvalRun {
        id: 0,
        task,
        data: args.data.display().to_string(),
        items: items.len(),
        // The solution prompt's limit, or the diagnosis prompt's where only that one ran.
        max_tokens: if prompts.contains(&EvalPrompt::Solution) {
            max_tokens
        } else {
            diagnosis_max_tokens
        },
        results,
        note,
        created_at: logreasoner_core::time::now_millis(),
    };
    let mut out = logreasoner_core::safe_text::stdout();
    let limit = token_limits(&prompts, max_tokens, diagnosis_max_tokens);
    writeln!(
        out,
        "{task} · {} items from {} · greedy, at most {limit}",
        items.len(),
        run.data
    )?;
    write!(out, "{}", eval::table(&run))?;
    if !token_means.is_empty() {
        let means: Vec<String> = token_means
            .iter()
            .map(|(label, mean)| format!("{label} {mean:.0}"))
            .collect();
        writeln!(out, "prompt tokens per item, mean: {}", means.join(" · "))?;
    }
    writeln!(out, "metrics: {}", run.note)?;
    if !args.no_save {
        let saved = Store::open(&config.db.value)
            .context("the results were not saved")
            .and_then(|store| Ok(store.insert(&mut run)?));
        match saved {
            Ok(id) => writeln!(out, "saved as evaluation #{id} (Eval screen)")?,
            Err(e) => eprintln!("logreasoner: {e:#}"),
        }
    }
    Ok(())
}
