//! The `logreasoner` binary: CLI parsing, logging set-up, and the edge where library errors become
//! messages for a person (anyhow).

mod bench_cmd;
mod cli;
mod data_cmd;
mod diagnose_cmd;
mod eval_cmd;
mod experiment_cmd;
mod flowchart_cmd;
mod mcp;
mod model_cmd;
mod progress;
mod train_cmd;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, DbCommand};
use logreasoner_core::config::Config;
use logreasoner_core::store::Store;
use logreasoner_tui::{self as tui, screens::Ctx, App, RunOptions};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!(
                "logreasoner: {}",
                logreasoner_core::safe_text::for_terminal(&message)
            );
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Completions need no configuration, so a broken config file cannot block them.
    if let Some(Command::Completions { shell }) = &cli.command {
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "logreasoner",
            &mut std::io::stdout(),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut overrides = cli.global.overrides();
    overrides.log_format = cli.format.clone();
    let config = Config::load(&overrides)?;
    let user_formats: Vec<(String, String)> = config
        .formats
        .iter()
        .map(|f| (f.name.clone(), f.template.clone()))
        .collect();
    let f = &config.fields;
    logreasoner_core::logs::structured::configure(logreasoner_core::logs::structured::FieldNames {
        message: f.message.clone(),
        level: f.level.clone(),
        time: f.time.clone(),
        component: f.component.clone(),
    })
    .map_err(anyhow::Error::msg)?;
    logreasoner_core::logs::format::register(&user_formats).map_err(|e| {
        let file = config
            .file
            .as_ref()
            .map_or("the config file".into(), |f| f.display().to_string());
        anyhow::anyhow!("{file}: {e}")
    })?;
    let data_dir = &config.data_dir;
    if data_dir.value.exists() && !data_dir.value.is_dir() {
        anyhow::bail!(
            "the data folder {} ({}) is a file, not a folder; name a folder with --data-dir or \
             LOGREASONER_DATA_DIR",
            data_dir.value.display(),
            data_dir.origin
        );
    }
    logreasoner_core::telemetry::init(&config.log_file(), cli.global.verbose)
        .with_context(|| format!("cannot open the log file {}", config.log_file().display()))?;
    tracing::info!(command = ?cli.command, "start");

    match cli.command {
        None => {
            let store = Store::open(&config.db.value)?;
            let app = App::new(Ctx::new(config, store));
            let options = RunOptions {
                panic_after_first_frame: cli.global.debug_panic_after_first_frame,
            };
            tui::run(app, options).context("terminal UI failed")?;
        }
        Some(Command::Config) => print_config(&config)?,
        Some(Command::Db(DbCommand::Info)) => {
            let store = Store::open(&config.db.value)?;
            let mut out = logreasoner_core::safe_text::stdout();
            writeln!(out, "path            {}", store.path().display())?;
            writeln!(out, "schema_version  {}", store.schema_version()?)?;
            let role = if store.is_owner() {
                "this process (no other had it open)"
            } else {
                "another logreasoner process, which serves this one"
            };
            writeln!(out, "owner           {role}")?;
            for (tree, count) in store.counts()? {
                writeln!(out, "{tree:<15} {count}")?;
            }
        }
        Some(Command::Flowchart(cmd)) => return flowchart_cmd::run(&config, cmd),
        Some(Command::Model(cmd)) => model_cmd::model(&config, cmd)?,
        Some(Command::Diagnose(args)) => return diagnose_cmd::run(&config, args),
        Some(Command::Import(cmd)) => data_cmd::import(&config, cmd)?,
        Some(Command::Generate(cmd)) => data_cmd::generate(&config, cmd)?,
        Some(Command::Export(cmd)) => data_cmd::export(&config, cmd)?,
        Some(Command::Labels(cmd)) => data_cmd::labels(&config, cmd)?,
        Some(Command::Eval(args)) => eval_cmd::run(&config, args)?,
        Some(Command::Experiment(cli::ExperimentCommand::Run(args))) => {
            experiment_cmd::run(&config, args)?
        }
        Some(Command::Experiment(cli::ExperimentCommand::Ship {
            from,
            to,
            command,
            variant,
        })) => experiment_cmd::ship(&from, &to, &command, &variant)?,
        Some(Command::Train(args)) => {
            return Ok(ExitCode::from(train_cmd::train(&config, *args)? as u8))
        }
        Some(Command::Runs(cmd)) => train_cmd::runs(&config, cmd)?,
        Some(Command::Ask(args)) => model_cmd::ask(&config, cli.global.verbose, args)?,
        Some(Command::Parse {
            file,
            format,
            system,
            top,
        }) => bench_cmd::parse_file(&file, format.as_deref(), system.as_deref(), top)?,
        Some(Command::Bench(cmd)) => bench_cmd::run(config, cmd)?,
        Some(Command::Mcp) => mcp::run(&config)?,
        Some(Command::Completions { .. }) => unreachable!("handled before configuration"),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_config(config: &Config) -> anyhow::Result<()> {
    let rows = config.rows();
    let name_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut out = logreasoner_core::safe_text::stdout();
    for (name, value, origin) in rows {
        writeln!(out, "{name:<name_width$}  {value:<value_width$}  {origin}")?;
    }
    Ok(())
}
