//! `logreasoner flowchart …`: the CLI face of the flowchart module.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{ExportFormat, FlowchartCommand};
use logreasoner_core::config::Config;
use logreasoner_core::flowchart::{self, export, retrieve, thought, walk};
use logreasoner_core::logs::file::read_window;
use logreasoner_core::store::Store;

pub fn run(config: &Config, cmd: FlowchartCommand) -> anyhow::Result<ExitCode> {
    let dir = &config.flowcharts.value;
    let mut out = logreasoner_core::safe_text::stdout();
    match cmd {
        FlowchartCommand::Validate { paths } => return validate(dir, &paths),
        FlowchartCommand::Export { format, chart } => {
            let chart = flowchart::find(dir, &chart)?;
            let text = match format {
                ExportFormat::Mermaid => export::mermaid(&chart),
                ExportFormat::Dot => export::dot(&chart),
            };
            out.write_all(text.as_bytes())?;
        }
        FlowchartCommand::Walk {
            chart,
            file,
            lines,
            json,
        } => {
            let chart = flowchart::find(dir, &chart)?;
            let (lines, first) = read_window(&file, lines).map_err(anyhow::Error::msg)?;
            let result = walk::walk(&chart, walk::Window::new(&lines, first));
            if json {
                serde_json::to_writer_pretty(&mut out, &result)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{} — {} (lines {}..{})",
                    chart.id,
                    chart.title,
                    first,
                    first + lines.len().saturating_sub(1)
                )?;
                out.write_all(result.describe().as_bytes())?;
            }
        }
        FlowchartCommand::Match {
            file,
            lines,
            system,
        } => {
            let charts = flowchart::valid_charts(dir)?;
            let (lines, first) = read_window(&file, lines).map_err(anyhow::Error::msg)?;
            let ranked =
                retrieve::rank(&charts, walk::Window::new(&lines, first), system.as_deref());
            if ranked.is_empty() {
                writeln!(out, "no chart's symptoms match these {} lines", lines.len())?;
            }
            for m in ranked {
                let shown: Vec<String> = m.lines.iter().take(8).map(|n| n.to_string()).collect();
                writeln!(
                    out,
                    "{:>6.1}  {:<28} {} symptom(s), lines {}{}",
                    m.score,
                    m.chart,
                    m.symptoms_matched,
                    shown.join(","),
                    if m.system_match { "  (system)" } else { "" }
                )?;
            }
        }
        FlowchartCommand::Thought { chart } => {
            let chart = flowchart::find(dir, &chart)?;
            let store = Store::open(&config.db.value)?;
            let report = thought::sync(&store, std::slice::from_ref(&chart))?;
            out.write_all(thought::derive(&chart).render().as_bytes())?;
            if !report.staled.is_empty() {
                writeln!(
                    out,
                    "\n(the chart changed: its earlier thoughts are now marked stale)"
                )?;
            }
        }
        FlowchartCommand::Tree { chart } => {
            let chart = flowchart::find(dir, &chart)?;
            for row in export::tree(&chart) {
                writeln!(out, "{}", row.text)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every error of every file; exit 1 when any chart is invalid.
fn validate(dir: &Path, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let targets: Vec<PathBuf> = if paths.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        paths.to_vec()
    };
    let mut entries = Vec::new();
    for p in &targets {
        if p.is_dir() {
            entries.extend(
                flowchart::load_dir(p).with_context(|| format!("cannot list {}", p.display()))?,
            );
        } else {
            entries.push(flowchart::load_entry(p));
        }
    }
    let mut out = logreasoner_core::safe_text::stdout();
    let mut bad = 0;
    for e in &entries {
        match &e.chart {
            Ok(c) => writeln!(out, "ok    {} ({} nodes)", e.path.display(), c.nodes.len())?,
            Err(list) => {
                bad += 1;
                for d in list {
                    writeln!(out, "error {d}")?;
                }
            }
        }
    }
    writeln!(
        out,
        "{} chart(s), {} valid, {} invalid",
        entries.len(),
        entries.len() - bad,
        bad
    )?;
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
