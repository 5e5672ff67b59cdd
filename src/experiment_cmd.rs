//! `logreasoner experiment run`: the whole method, resumable, with progress on standard error and
//! the results table on standard output.

use std::io::Write;

use crate::cli::ExperimentArgs;
use logreasoner_core::config::Config;

/// `logreasoner experiment ship`: the files written, one per line.
pub fn ship(
    from: &std::path::Path,
    to: &std::path::Path,
    command: &str,
    variant: &str,
) -> anyhow::Result<()> {
    let mut out = logreasoner_core::safe_text::stdout();
    for file in logreasoner_core::experiment::ship(from, to, command, variant)? {
        writeln!(out, "wrote {}", file.display())?;
    }
    Ok(())
}

/// `logreasoner experiment run`: progress on standard error, the table on standard output.
pub fn run(config: &Config, args: ExperimentArgs) -> anyhow::Result<()> {
    use logreasoner_core::config::bundled;
    use logreasoner_core::experiment::{self, Options, Scale};
    let scale: Scale = args.scale.parse().map_err(anyhow::Error::msg)?;
    let folder = args.out.unwrap_or_else(|| {
        config
            .data_dir
            .value
            .join("experiments")
            .join(format!("{scale:?}").to_lowercase())
    });
    let known = experiment::steps();
    if let Some(step) = args
        .until
        .as_deref()
        .filter(|s| !known.iter().any(|k| k == s))
    {
        anyhow::bail!("unknown step `{step}`; the steps are: {}", known.join(", "));
    }
    let opts = Options {
        scale,
        folder: folder.clone(),
        model: config.model.value.clone(),
        device: logreasoner_core::llm::model::device(config.device.value)?,
        loglm: args
            .loglm
            .unwrap_or_else(|| bundled("assets/datasets/loglm")),
        loghub: args
            .loghub
            .unwrap_or_else(|| bundled("assets/datasets/loghub-2k")),
        charts: logreasoner_core::flowchart::valid_charts(&config.flowcharts.value)?,
        until: args.until,
        epochs: args.epochs,
    };
    if !(args.epochs > 0.0 && args.epochs <= 100.0) {
        anyhow::bail!(
            "--epochs must be above 0 and at most 100, not {}",
            args.epochs
        );
    }
    if !opts.model.exists() {
        anyhow::bail!(
            "no model at {}; run `logreasoner model fetch` first (or pass --model)",
            opts.model.display()
        );
    }
    let started = std::time::Instant::now();
    let state = experiment::run(&opts, &mut |line| {
        eprintln!("[{:>6.0} s] {line}", started.elapsed().as_secs_f64());
    })?;
    let mut out = logreasoner_core::safe_text::stdout();
    write!(out, "{}", experiment::table(&state))?;
    if folder.join("results.md").exists() {
        writeln!(out, "results: {}", folder.join("results.md").display())?;
    }
    Ok(())
}
