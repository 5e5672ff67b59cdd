//! `logreasoner train` and `logreasoner runs`: start, resume, detach, list and cancel training runs.
//! The run itself is `train::run::execute`; this edge turns flags into a run folder and reports.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{RunsCommand, TrainArgs};
use logreasoner_core::config::Config;
use logreasoner_core::store::{RunState, Store};
use logreasoner_core::train::run::{self, RunConfig, RunDir, Stage};

/// Where run folders live.
pub fn runs_root(config: &Config) -> PathBuf {
    run::runs_root(&config.data_dir.value)
}

/// A PEFT adapter folder, given as itself or as the run folder holding it.
pub fn resolve_adapter(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(logreasoner_core::llm::adapter::locate(path)?)
}

fn run_config(config: &Config, args: &TrainArgs) -> anyhow::Result<RunConfig> {
    let stage: Stage = args
        .stage
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(anyhow::Error::msg)?;
    let data = args.data.clone().context("--data is required")?;
    let mut c = RunConfig::new(stage, config.model.value.clone(), data);
    c.eval_data = args.eval_data.clone();
    c.from_adapter = match (&args.from, args.from_base, stage.previous()) {
        (Some(p), _, _) => Some(resolve_adapter(p)?),
        (None, false, Some(prev)) => {
            let found = run::latest_adapter(&runs_root(config), prev, &config.model.value);
            match &found {
                Some(a) => eprintln!("starting from the {prev} adapter {}", a.display()),
                None => eprintln!(
                    "no finished {prev} run in {}; the {stage} stage starts from the base model",
                    runs_root(config).display()
                ),
            }
            found
        }
        _ => None,
    };
    macro_rules! take {
        ($($field:ident),*) => { $( if let Some(v) = args.$field.clone() { c.$field = v; } )* };
    }
    take!(
        lr,
        warmup,
        batch,
        accumulation,
        rank,
        alpha,
        dropout,
        targets,
        max_len,
        beta,
        seed
    );
    take!(clip, weight_decay, checkpoint_every, eval_every, epochs);
    c.steps = args.steps;
    Ok(c)
}

pub fn train(config: &Config, args: TrainArgs) -> anyhow::Result<i32> {
    if let Some(t) = args.threads {
        // candle's CPU kernels size their pool from this, read on first use.
        std::env::set_var("RAYON_NUM_THREADS", t.max(1).to_string());
    }
    let dir = match &args.resume {
        Some(path) => {
            let dir = RunDir::open(path);
            dir.config()?;
            if dir.is_live() {
                anyhow::bail!(
                    "{} is running (process {}); cancel it first with `logreasoner runs cancel {}`",
                    path.display(),
                    dir.status().map_or(0, |s| s.pid),
                    path.display()
                );
            }
            dir
        }
        None => {
            let c = run_config(config, &args)?;
            if !c.base_model.exists() {
                anyhow::bail!(
                    "no base model at {}; run `logreasoner model fetch` or pass --model",
                    c.base_model.display()
                );
            }
            let n = run::count_examples(&c)?;
            eprintln!("{n} examples in {}", c.data.display());
            match &args.run_dir {
                Some(p) => RunDir::create_at(p, &c)?,
                None => RunDir::create(&runs_root(config), &c)?,
            }
        }
    };
    if args.detach {
        let program =
            std::env::current_exe().context("cannot find this program to start the run")?;
        let pid = run::spawn_detached(
            &program,
            &config.data_dir.value,
            &config.device.value.to_string(),
            &dir,
            args.threads,
        )?;
        logreasoner_core::say!("{}", dir.path.display());
        eprintln!(
            "training in the background (process {pid}); follow it with `logreasoner runs list` or `tail -f {}`",
            dir.log_path().display()
        );
        return Ok(0);
    }
    let device = logreasoner_core::llm::model::device(config.device.value)?;
    eprintln!("run folder {}", dir.path.display());
    // From the first second: the clock runs while the model and data load, then the steps count.
    let bar = crate::progress::Bar::start("training", 0);
    bar.detail("loading the model and data");
    let mut last_step = usize::MAX;
    let status = run::execute(&dir, &device, &mut |s| {
        if s.step != last_step && s.steps > 0 {
            last_step = s.step;
            bar.detail(&format!(
                "{} · {:.1} tok/s · eta {:.0} s",
                s.message, s.tokens_per_sec, s.eta_secs
            ));
            bar.set(s.step, s.steps);
        }
    })?;
    drop(bar);
    let mut out = logreasoner_core::safe_text::stdout();
    writeln!(out, "{}: {}", status.state.name(), status.message)?;
    for (k, v) in &status.final_metrics {
        writeln!(out, "  {k} = {v:.4}")?;
    }
    // A detached run leaves the database to the UI that may hold it; the UI records the outcome.
    if !args.detached {
        record(config, &dir);
    }
    Ok(match status.state {
        RunState::Succeeded => 0,
        RunState::Cancelled => 3,
        _ => 1,
    })
}

/// The run's outcome in the database (best effort: the UI may hold it; it records runs itself).
fn record(config: &Config, dir: &RunDir) {
    let saved = Store::open(&config.db.value)
        .map_err(anyhow::Error::from)
        .and_then(|store| Ok(run::sync_record(&store, dir)?));
    if let Err(e) = saved {
        tracing::warn!("the run was not recorded in the database: {e:#}");
    }
}

pub fn runs(config: &Config, cmd: RunsCommand) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::List => {
            let runs = run::list(&runs_root(config));
            let mut out = logreasoner_core::safe_text::stdout();
            if runs.is_empty() {
                writeln!(out, "no runs in {}", runs_root(config).display())?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<28} {:<9} {:<10} {:>11} {:>9}  adapter",
                "run", "stage", "state", "step", "loss"
            )?;
            for dir in &runs {
                let stage = dir
                    .config()
                    .map(|c| c.stage.to_string())
                    .unwrap_or_default();
                let status = dir.read_status();
                let loss = dir
                    .metrics()
                    .iter()
                    .rev()
                    .find_map(|m| m.loss)
                    .map_or("-".into(), |l| format!("{l:.4}"));
                let (state, step) = match &status {
                    Ok(Some(s)) if s.state == RunState::Running && !dir.is_live() => {
                        ("stopped".to_string(), format!("{}/{}", s.step, s.steps))
                    }
                    Ok(Some(s)) => (
                        s.state.name().to_string(),
                        format!("{}/{}", s.step, s.steps),
                    ),
                    Ok(None) => ("new".into(), "-".into()),
                    Err(why) => {
                        eprintln!("{}: {why}", dir.path.display());
                        ("damaged".into(), "-".into())
                    }
                };
                let adapter = if dir.adapter_dir().exists() {
                    dir.adapter_dir().display().to_string()
                } else {
                    "-".into()
                };
                writeln!(
                    out,
                    "{:<28} {:<9} {:<10} {:>11} {:>9}  {adapter}",
                    dir.name(),
                    stage,
                    state,
                    step,
                    loss
                )?;
            }
            if let Ok(store) = Store::open(&config.db.value) {
                for dir in &runs {
                    let _ = run::sync_record(&store, dir);
                }
            }
        }
        RunsCommand::Cancel { run_dir } => {
            let dir = RunDir::open(&run_dir);
            dir.config()?;
            if !dir.is_live() {
                anyhow::bail!("{} is not running", run_dir.display());
            }
            dir.request_cancel()?;
            logreasoner_core::say!(
                "asked {} to stop at its next step; it keeps the adapter of that step in {}",
                dir.name(),
                dir.adapter_dir().display()
            );
        }
    }
    Ok(())
}
