//! `logreasoner eval`: every variant over a task's items, a progress bar on stderr, and the table of
//! SPEC's metrics on stdout; the run is recorded in the database for the Eval screen.

use std::io::Write;

use anyhow::Context;

use crate::cli::EvalArgs;
use logreasoner::config::Config;
use logreasoner::eval::{self, data};
use logreasoner::llm::backend::BackendSpec;
use logreasoner::llm::model::GenerationParams;
use logreasoner::store::{EvalRun, Store, Task};

/// A progress bar on standard error, redrawn in place (the data commands share it).
pub fn progress_bar(label: &str, done: usize, total: usize) {
    let width = 30;
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    eprint!(
        "\r{label:<16} [{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    if done == total {
        eprintln!();
    }
    let _ = std::io::stderr().flush();
}

pub fn run(config: &Config, args: EvalArgs) -> anyhow::Result<()> {
    let task: Task = args.task.parse().map_err(anyhow::Error::msg)?;
    let loaded = data::load(&args.data).map_err(anyhow::Error::msg)?;
    for (line, why) in &loaded.skipped {
        eprintln!("{}:{line}: skipped: {why}", args.data.display());
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
    let mut results = Vec::new();
    let mut note = String::new();
    if !args.no_model {
        let mut model = BackendSpec::from_config(config)?.open()?;
        // Greedy decoding: an evaluation is repeatable.
        let mut params = GenerationParams::from_defaults(&config.generation.value);
        params.temperature = 0.0;
        params.max_tokens = max_tokens;
        params.answer_cue = Some(logreasoner::reasoning::ANSWER_CUE.into());
        let name = model.name();
        let total = items.len();
        let answers = eval::run_model(&mut model, &items, &params, &mut |done| {
            progress_bar("base", done, total)
        })?;
        let (row, n) = eval::result("base", Some(name), task, &items, &answers);
        results.push(row);
        note = n;
    }
    if !args.no_walk && eval::walk_applies(task) {
        let charts = logreasoner::flowchart::valid_charts(&config.flowcharts.value)?;
        let answers = eval::run_walk(&charts, &items);
        progress_bar("flowchart walk", items.len(), items.len());
        let (row, n) = eval::result("flowchart walk", None, task, &items, &answers);
        results.push(row);
        note = n;
    }
    if results.is_empty() {
        anyhow::bail!("nothing to evaluate: the flowchart walk does not apply to {task}, and --no-model was given");
    }
    let mut run = EvalRun {
        id: 0,
        task,
        data: args.data.display().to_string(),
        items: items.len(),
        max_tokens,
        results,
        note,
        created_at: logreasoner::time::now_millis(),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{task} · {} items from {} · greedy, at most {max_tokens} tokens per answer",
        items.len(),
        run.data
    )?;
    write!(out, "{}", eval::table(&run))?;
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
