//! `logreasoner diagnose`: the verdict on a window of a log file, as text or JSON, with an exit code
//! for scripts (0 normal, 1 anomaly, 2 error), or a watch over a followed file.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::DiagnoseArgs;
use logreasoner_core::config::Config;
use logreasoner_core::diagnose::prompt::PromptLimits;
use logreasoner_core::diagnose::watch::Watch;
use logreasoner_core::diagnose::{self, Input, Report};
use logreasoner_core::flowchart::{self, Flowchart};
use logreasoner_core::llm::backend::{Backend, BackendSpec};
use logreasoner_core::llm::model::GenerationParams;
use logreasoner_core::logs::file::{lines, window_bounds};
use logreasoner_core::logs::follow::{Follower, Note};
use logreasoner_core::logs::index::LogFile;
use logreasoner_core::store::Store;

/// The window when neither --lines nor --tail is given.
pub(crate) const DEFAULT_TAIL: usize = 200;

struct Diagnoser {
    charts: Vec<Flowchart>,
    limits: PromptLimits,
    model: Option<Backend>,
    params: GenerationParams,
    store: Option<Store>,
    json: bool,
}

impl Diagnoser {
    fn new(config: &Config, args: &DiagnoseArgs) -> anyhow::Result<Diagnoser> {
        let charts = flowchart::valid_charts(&config.flowcharts.value)?;
        let settings = &config.diagnosis.value;
        let model = if args.no_model {
            None
        } else {
            Some(crate::progress::open_model(
                &BackendSpec::from_config(config)?,
                "",
            )?)
        };
        let params = diagnose::generation_params(
            &config.generation.value,
            args.max_tokens.unwrap_or(settings.max_tokens),
        );
        let store = if args.no_save {
            None
        } else {
            match Store::open(&config.db.value) {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("logreasoner: the diagnosis will not be saved: {e}");
                    None
                }
            }
        };
        Ok(Diagnoser {
            charts,
            limits: settings.into(),
            model,
            params,
            store,
            json: args.json,
        })
    }

    /// Diagnoses `input`; with the `file` it comes from, the window's errors are compared with
    /// the file's (an error burst no chart explains is not normal).
    fn diagnose(&mut self, input: Input, file: Option<&LogFile>) -> anyhow::Result<Report> {
        let start = Instant::now();
        let mut plan = match file {
            Some(log) => diagnose::plan_from_file(&self.charts, input, self.limits, log),
            None => diagnose::plan(&self.charts, input, self.limits),
        };
        if let Some(store) = &self.store {
            let name = self.model.as_ref().map(|m| m.name());
            let adapter = self
                .model
                .as_ref()
                .and_then(|m| m.info().adapter)
                .map(|a| a.display().to_string());
            plan.measure(store, name.as_deref(), adapter.as_deref());
        }
        let mut out = logreasoner_core::safe_text::stdout();
        let mut report = match &mut self.model {
            Some(model) => {
                let json = self.json;
                let cancel = AtomicBool::new(false);
                if !json {
                    writeln!(out, "reasoning ({}):", model.name())?;
                    out.flush()?;
                }
                // Reading a long prompt takes a while before the first token.
                let mut waiting = Some(crate::progress::Spinner::start(&format!(
                    "reading the prompt ({} lines shown)…",
                    plan.shown.len()
                )));
                let report =
                    diagnose::run_model(model, &plan, &self.params, &cancel, &mut |piece| {
                        if let Some(s) = waiting.take() {
                            s.stop();
                        }
                        if !json {
                            let _ = out.write_all(piece.as_bytes());
                            let _ = out.flush();
                        }
                    })?;
                drop(waiting);
                if !json {
                    writeln!(out)?;
                }
                report
            }
            None => diagnose::finish(&plan, None, start.elapsed()),
        };
        if let Some(store) = &self.store {
            if let Err(e) = diagnose::save(store, &plan, &mut report) {
                eprintln!("logreasoner: the diagnosis was not saved: {e}");
            }
        }
        tracing::info!(
            anomalous = report.verdict.anomalous,
            chart = ?report.chart,
            total_ms = report.timings.total_ms,
            "diagnosis"
        );
        Ok(report)
    }

    fn print(&self, report: &Report, compact: bool) -> anyhow::Result<()> {
        let mut out = logreasoner_core::safe_text::stdout();
        if self.json {
            let text = if compact {
                serde_json::to_string(report)?
            } else {
                serde_json::to_string_pretty(report)?
            };
            writeln!(out, "{text}")?;
        } else {
            write!(out, "{}", card(report))?;
        }
        out.flush()?;
        Ok(())
    }
}

/// The verdict as a person reads it.
pub fn card(r: &Report) -> String {
    let v = &r.verdict;
    let mut s = String::new();
    let verdict = if v.anomalous { "ANOMALY" } else { "normal" };
    s.push_str(&format!(
        "verdict     {verdict} (confidence {:.2}, from {})\n",
        v.confidence,
        v.from.describe()
    ));
    if let Some(m) = &r.opinions.model {
        let said = match m.anomalous {
            Some(true) => "anomaly",
            Some(false) => "normal",
            None if m.conflicting => "both verdicts (unreadable)",
            None => "no readable verdict",
        };
        s.push_str(&format!(
            "opinions    walk: {}; model: {said}, {} line(s) cited in the window{}\n",
            if r.opinions.walk.anomalous {
                "anomaly"
            } else {
                "normal"
            },
            m.cited_in_window,
            if m.may_override { ", may override" } else { "" }
        ));
    }
    s.push_str(&format!("calibrated  {}\n", r.opinions.calibration));
    s.push_str(&format!(
        "window      {} lines {}..{}\n",
        r.source, r.first_line, r.last_line
    ));
    if let Some(c) = &v.cause {
        let kind = if v.cause_is_category {
            "category"
        } else {
            "free text"
        };
        s.push_str(&format!("cause       {c} ({kind})\n"));
    }
    if !v.evidence.is_empty() {
        let lines: Vec<String> = v.evidence.iter().map(|n| n.to_string()).collect();
        s.push_str(&format!("evidence    lines {}\n", lines.join(", ")));
    }
    if !v.rejected_evidence.is_empty() {
        let lines: Vec<String> = v.rejected_evidence.iter().map(|n| n.to_string()).collect();
        s.push_str(&format!(
            "ignored     cited lines outside the window: {}\n",
            lines.join(", ")
        ));
    }
    match &r.chart {
        Some(chart) => s.push_str(&format!(
            "chart       {chart}: {} ({})\n",
            r.chart_path.join(" → "),
            r.walk_end.as_deref().unwrap_or("-")
        )),
        None => s.push_str("chart       none of the flowcharts' symptoms appear in the window\n"),
    }
    for (i, step) in v.next_steps.iter().enumerate() {
        let head = if i == 0 { "next steps" } else { "" };
        s.push_str(&format!("{head:<11} - {step}\n"));
    }
    let t = &r.timings;
    let first = t
        .first_token_ms
        .map_or("-".to_string(), |ms| format!("{:.2} s", ms as f64 / 1000.0));
    s.push_str(&format!(
        "timing      first token {first}, total {:.2} s",
        t.total_ms as f64 / 1000.0
    ));
    if let (Some(p), Some(d)) = (t.prefill_tokens_per_sec, t.decode_tokens_per_sec) {
        s.push_str(&format!("; prefill {p:.1} tok/s, decode {d:.1} tok/s"));
    }
    if let (Some(prompt), Some(cached)) = (t.prompt_tokens, t.cached_tokens) {
        s.push_str(&format!(
            "; prompt {prompt} tokens, {cached} from the cache"
        ));
    }
    s.push('\n');
    if let Some(id) = r.id {
        s.push_str(&format!("saved       diagnosis #{id}\n"));
    }
    s
}

fn open_log(path: &Path) -> anyhow::Result<LogFile> {
    // The error names the file and the reason already.
    Ok(LogFile::open(path, 0)?)
}

pub fn run(config: &Config, args: DiagnoseArgs) -> anyhow::Result<ExitCode> {
    if args.tail == Some(0) {
        anyhow::bail!("--tail 0 asks for no lines; give at least 1");
    }
    let log = open_log(&args.file)?;
    let source = args.file.display().to_string();
    if args.print_prompt {
        return print_prompt(config, &window_input(&args, &log, source)?, &log);
    }
    let mut diagnoser = Diagnoser::new(config, &args)?;
    if args.follow {
        return follow(&mut diagnoser, config, log, source);
    }
    let input = window_input(&args, &log, source)?;
    let report = diagnoser.diagnose(input, Some(&log))?;
    diagnoser.print(&report, false)?;
    Ok(if report.verdict.anomalous {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The window `--lines` or `--tail` names.
fn window_input(args: &DiagnoseArgs, log: &LogFile, source: String) -> anyhow::Result<Input> {
    let (first, last) = window_bounds(
        &args.file,
        log.len(),
        args.lines,
        args.tail.unwrap_or(DEFAULT_TAIL),
    )
    .map_err(anyhow::Error::msg)?;
    Ok(Input {
        source,
        first_line: first,
        lines: lines(log, first, last),
        question: args.question.clone(),
    })
}

/// `--print-prompt`: the chat for the window, as the model would read it.
fn print_prompt(config: &Config, input: &Input, log: &LogFile) -> anyhow::Result<ExitCode> {
    let charts = flowchart::valid_charts(&config.flowcharts.value)?;
    let limits = (&config.diagnosis.value).into();
    let plan = diagnose::plan_from_file(&charts, input.clone(), limits, log);
    let mut out = logreasoner_core::safe_text::stdout();
    for m in &plan.messages {
        writeln!(out, "--- {} ---\n{}", m.role, m.content)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows the file and diagnoses the last lines whenever the watch sees an error burst. Line
/// numbers restart at 1 when the file is truncated or replaced.
fn follow(
    diagnoser: &mut Diagnoser,
    config: &Config,
    log: LogFile,
    source: String,
) -> anyhow::Result<ExitCode> {
    let settings = &config.diagnosis.value;
    let keep = settings.burst_lines.max(DEFAULT_TAIL);
    let mut recent: VecDeque<String> = VecDeque::with_capacity(keep + 1);
    let mut line_count = log.len();
    for i in line_count.saturating_sub(keep)..line_count {
        recent.push_back(log.line(i).into_owned());
    }
    let format = logreasoner_core::logs::format::detect(&recent.iter().collect::<Vec<_>>());
    let mut follower = Follower::from_offset(log.path(), log.byte_len())
        .with_context(|| format!("cannot follow {source}"))?;
    drop(log);
    let mut watch = Watch::new(settings.into());
    eprintln!(
        "logreasoner: following {source}; a diagnosis runs when {} error lines arrive within {} lines (at most once every {} s)",
        settings.burst_errors, settings.burst_lines, settings.min_interval_secs
    );
    loop {
        let update = follower
            .poll()
            .with_context(|| format!("cannot read {source}"))?;
        for note in &update.notes {
            if matches!(note, Note::Truncated | Note::Replaced) {
                line_count = 0;
                recent.clear();
            }
        }
        for line in update.lines {
            line_count += 1;
            let fire = watch.observe(&line, format, Instant::now());
            recent.push_back(line);
            if recent.len() > keep {
                recent.pop_front();
            }
            if fire {
                let lines: Vec<String> = recent.iter().cloned().collect();
                let input = Input {
                    source: source.clone(),
                    first_line: line_count + 1 - lines.len(),
                    lines,
                    question: None,
                };
                let report = diagnoser.diagnose(input, None)?;
                diagnoser.print(&report, true)?;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
