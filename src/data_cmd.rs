//! `logreasoner import …` and `logreasoner generate …`: the data engine from the shell.

use crate::progress::Bar;
use std::io::Write;
use std::sync::atomic::AtomicBool;

use crate::cli::{ExportArgs, ExportCommand, GenerateCommand, ImportCommand, LabelsCommand};
use logreasoner_core::config::Config;
use logreasoner_core::data::agreement;
use logreasoner_core::data::export::{self, Format, Stage};
use logreasoner_core::data::import::{self, ImportReport, LoghubSettings};
use logreasoner_core::data::redact::Redactor;
use logreasoner_core::llm::backend::BackendSpec;
use logreasoner_core::reasoning::{self, Generator, Settings};
use logreasoner_core::store::PreferenceLabel;
use logreasoner_core::store::{Store, Task};

fn print_import(report: &ImportReport, what: &str) -> anyhow::Result<()> {
    let mut out = logreasoner_core::safe_text::stdout();
    for (line, why) in &report.skipped {
        eprintln!(
            "{what}:{line}: skipped: {}",
            logreasoner_core::safe_text::for_terminal(why)
        );
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
    if report.added + report.merged == 0 && !report.skipped.is_empty() {
        anyhow::bail!(
            "every line of {what} was skipped ({}); nothing was imported",
            report.skipped.len()
        );
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
        ImportCommand::Labels { file } => {
            let m = logreasoner_core::data::labels::import(&store, &file)
                .map_err(anyhow::Error::msg)?;
            for (line, why) in &m.skipped {
                eprintln!(
                    "{}:{line}: skipped: {}",
                    file.display(),
                    logreasoner_core::safe_text::for_terminal(why)
                );
            }
            logreasoner_core::say!(
                "merged {} label(s) ({} already here); added {} instance(s) and {} solution(s); {} line(s) skipped",
                m.labels, m.already_there, m.instances_added, m.solutions_added, m.skipped.len()
            );
            if m.labels + m.already_there == 0 && !m.skipped.is_empty() {
                anyhow::bail!(
                    "every line of {} was skipped; nothing was imported",
                    file.display()
                );
            }
        }
        ImportCommand::Loglm { file } | ImportCommand::Jsonl { file } => {
            let report = import::jsonl(&store, &file)?;
            print_import(&report, &file.display().to_string())?;
        }
    }
    store.flush()?;
    Ok(())
}

pub fn generate(config: &Config, cmd: GenerateCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.db.value)?;
    let charts = logreasoner_core::flowchart::valid_charts(&config.flowcharts.value)?;
    let mut model = crate::progress::open_model(&BackendSpec::from_config(config)?, "")?;
    let cancel = AtomicBool::new(false);
    let mut out = logreasoner_core::safe_text::stdout();
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
            let bar = Bar::start("thoughts", 0);
            let n = reasoning::run_rewrites(&mut g, limit, &cancel, &mut |d, t| bar.set(d, t))?;
            drop(bar);
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
            let bar = Bar::start("instances", 0);
            let r =
                reasoning::run_solutions(&mut g, task, limit, &cancel, &mut |d, t| bar.set(d, t))?;
            drop(bar);
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

fn export_settings(args: &ExportArgs) -> anyhow::Result<(Format, Option<Redactor>)> {
    let format = match args.format.as_str() {
        "trl" => Format::Trl,
        "llamafactory" | "llama-factory" => Format::LlamaFactory,
        other => anyhow::bail!("unknown export format `{other}`; use trl or llamafactory"),
    };
    if !(0.0..1.0).contains(&args.dev_fraction) {
        anyhow::bail!("--dev-fraction must be at least 0 and below 1");
    }
    let redactor = if args.no_redact {
        None
    } else {
        let extra = args
            .redact
            .iter()
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| anyhow::anyhow!("--redact takes KIND=REGEX, got `{p}`"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Some(Redactor::new(&extra).map_err(anyhow::Error::msg)?)
    };
    Ok((format, redactor))
}

pub fn export(config: &Config, cmd: ExportCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.db.value)?;
    if let ExportCommand::Labels { out, of, no_redact } = &cmd {
        let mut redactor = if *no_redact {
            None
        } else {
            Some(Redactor::new(&[]).map_err(anyhow::Error::msg)?)
        };
        let n =
            logreasoner_core::data::labels::export(&store, out, of.as_deref(), redactor.as_mut())
                .map_err(anyhow::Error::msg)?;
        let mut stdout = logreasoner_core::safe_text::stdout();
        writeln!(stdout, "wrote {} ({n} label(s))", out.display())?;
        return print_scrubbed(&mut stdout, redactor.map(|r| r.counts).as_ref());
    }
    let (name, examples, args) = match &cmd {
        ExportCommand::Sft { stage, args } => {
            let stage = match stage.as_str() {
                "thought" => Stage::Thought,
                "stepwise" => Stage::Stepwise,
                other => anyhow::bail!("unknown stage `{other}`; use thought or stepwise"),
            };
            let name = if stage == Stage::Thought {
                "sft_thought"
            } else {
                "sft_stepwise"
            };
            (name, export::sft_examples(&store, stage)?, args)
        }
        ExportCommand::Dpo { args } => ("dpo", export::dpo_examples(&store)?, args),
        ExportCommand::Labels { .. } => unreachable!("handled above"),
    };
    let (format, redactor) = export_settings(args)?;
    let written = export::write(
        &args.out,
        name,
        &examples,
        format,
        args.dev_fraction,
        redactor,
    )?;
    let mut out = logreasoner_core::safe_text::stdout();
    for (path, rows) in &written.files {
        writeln!(out, "wrote {} ({rows} record(s))", path.display())?;
    }
    if format == export::Format::Trl {
        let kit = export::write_trl_kit(&args.out)?;
        writeln!(
            out,
            "wrote {} (TRL + accelerate scripts for the same three stages on a GPU cluster; see its README.md)",
            kit.display()
        )?;
    }
    print_scrubbed(&mut out, (!args.no_redact).then_some(&written.redacted))
}

/// What an export scrubbed, by kind; `None` when it was asked not to.
fn print_scrubbed(
    out: &mut impl Write,
    counts: Option<&std::collections::BTreeMap<String, usize>>,
) -> anyhow::Result<()> {
    match counts {
        None => writeln!(out, "secrets were not scrubbed (--no-redact)")?,
        Some(c) if c.is_empty() => writeln!(out, "no secrets found")?,
        Some(c) => {
            let parts: Vec<String> = c.iter().map(|(k, n)| format!("{n} {k}")).collect();
            writeln!(out, "scrubbed: {}", parts.join(", "))?;
        }
    }
    Ok(())
}

pub fn labels(config: &Config, cmd: LabelsCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.db.value)?;
    match cmd {
        LabelsCommand::Accept {
            correct_solutions,
            thoughts,
        } => {
            use logreasoner_core::store::{
                ReviewDecision, ReviewStatus, ReviewTarget, Solution, Thought,
            };
            let mut targets = Vec::new();
            if thoughts {
                targets.extend(
                    store
                        .all::<Thought>()?
                        .into_iter()
                        .filter(|t| t.status == ReviewStatus::Pending)
                        .map(|t| ReviewTarget::Thought(t.id)),
                );
            }
            if correct_solutions {
                targets.extend(
                    store
                        .all::<Solution>()?
                        .into_iter()
                        .filter(|s| s.status == ReviewStatus::Pending && s.correct == Some(true))
                        .map(|s| ReviewTarget::Solution(s.id)),
                );
            }
            if targets.is_empty() && !(thoughts || correct_solutions) {
                anyhow::bail!("say what to accept: --correct-solutions and/or --thoughts");
            }
            for target in &targets {
                store.record_review(&mut ReviewDecision {
                    id: 0,
                    target: *target,
                    decision: ReviewStatus::Accepted,
                    edit: None,
                    annotator: config.annotator.value.clone(),
                    created_at: logreasoner_core::time::now_millis(),
                })?;
            }
            logreasoner_core::say!(
                "accepted {} items as {}",
                targets.len(),
                config.annotator.value
            );
        }
        LabelsCommand::Stats => {
            let all = store.all::<PreferenceLabel>()?;
            let auto = all
                .iter()
                .filter(|l| l.source == logreasoner_core::store::LabelSource::Auto)
                .count();
            let (counts, pairs) = agreement::agreement(&all);
            let mut out = logreasoner_core::safe_text::stdout();
            writeln!(out, "automatic pairs  {auto}")?;
            for (annotator, n) in &counts {
                writeln!(out, "{annotator:<16} {n} label(s)")?;
            }
            for p in &pairs {
                let kappa = p.kappa.map_or("-".to_string(), |k| format!("{k:.3}"));
                writeln!(
                    out,
                    "{} vs {}: {} pair(s) in common, Cohen's kappa {kappa}, {} disagreement(s)",
                    p.a,
                    p.b,
                    p.items,
                    p.disagreements.len()
                )?;
                for (instance, (s1, s2), x, y) in &p.disagreements {
                    writeln!(
                        out,
                        "  instance #{instance}, solutions #{s1}/#{s2}: {} says {x}, {} says {y}",
                        p.a, p.b
                    )?;
                }
            }
            if pairs.is_empty() {
                writeln!(
                    out,
                    "(agreement needs two annotators who labelled the same pairs)"
                )?;
            }
        }
    }
    Ok(())
}
