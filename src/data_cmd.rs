//! `logreasoner import …` and `logreasoner generate …`: the data engine from the shell.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use crate::cli::{GenerateCommand, ImportCommand};
use logreasoner::config::Config;
use logreasoner::data::import::{self, ImportReport, LoghubSettings};
use logreasoner::llm::model::{self, Model};
use logreasoner::reasoning::{self, Generator, Settings};
use logreasoner::store::{Store, Task};

fn print_import(report: &ImportReport, what: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (line, why) in &report.skipped {
        eprintln!("{what}:{line}: skipped: {why}");
    }
    writeln!(
        out,
        "imported {} new instance(s), {} duplicate(s) merged, {} line(s) skipped",
        report.added,
        report.merged,
        report.skipped.len()
    )?;
    for (task, n) in &report.by_task {
        writeln!(out, "  {task:<20} {n}")?;
    }
    Ok(())
}

pub fn import(config: &Config, cmd: ImportCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.db.value)?;
    match cmd {
        ImportCommand::Loghub {
            dir,
            parsing_per_system,
            anomaly_items,
            window,
            horizon,
            stride,
        } => {
            let settings = LoghubSettings {
                parsing_per_system,
                anomaly_items,
                window,
                horizon,
                stride,
            };
            let report = import::loghub(&store, &dir, settings)?;
            print_import(&report, &dir.display().to_string())?;
        }
        ImportCommand::Loglm { file } | ImportCommand::Jsonl { file } => {
            let report = import::jsonl(&store, &file)?;
            print_import(&report, &file.display().to_string())?;
        }
    }
    store.flush()?;
    Ok(())
}

fn progress(label: &str) -> impl FnMut(usize, usize) + '_ {
    move |done, total| {
        eprint!("\r{label} {done}/{total}");
        if done == total {
            eprintln!();
        }
        let _ = std::io::stderr().flush();
    }
}

pub fn generate(config: &Config, cmd: GenerateCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.db.value)?;
    let charts = logreasoner::flowchart::valid_charts(&config.flowcharts.value)?;
    let device = model::device(config.device.value)?;
    let mut model = Model::load(&config.model.value, &device)?;
    let cancel = AtomicBool::new(false);
    let mut out = std::io::stdout().lock();
    match cmd {
        GenerateCommand::Thoughts { limit, max_tokens } => {
            let mut g = Generator {
                model: &mut model,
                store: &store,
                charts,
                settings: Settings {
                    max_tokens,
                    ..Default::default()
                },
            };
            let n = reasoning::run_rewrites(&mut g, limit, &cancel, &mut progress("thoughts"))?;
            writeln!(
                out,
                "{n} rewritten thought(s) stored, awaiting review (Thoughts screen)"
            )?;
        }
        GenerateCommand::Solutions {
            task,
            limit,
            k,
            temperature,
            max_tokens,
            seed,
        } => {
            let task: Option<Task> = task
                .map(|t| t.parse())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let mut g = Generator {
                model: &mut model,
                store: &store,
                charts,
                settings: Settings {
                    k: k.max(1),
                    temperature,
                    max_tokens,
                    seed,
                },
            };
            let r =
                reasoning::run_solutions(&mut g, task, limit, &cancel, &mut progress("instances"))?;
            writeln!(
                out,
                "{} instance(s): {} solution(s) written ({} correct), {} thought(s) written by the model, {} already complete; {} automatic pair(s) made",
                r.instances, r.solutions, r.correct, r.thoughts_written, r.skipped, r.pairs
            )?;
        }
    }
    store.flush()?;
    Ok(())
}
