//! `logreasoner parse` and `logreasoner bench …`.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};

use crate::cli::BenchCommand;
use logreasoner::bench::{bigfile, llm, parse};
use logreasoner_core::config::Config;
use logreasoner_core::logs::format;
use logreasoner_core::logs::source::LogSource;
use logreasoner_core::store::Store;
use logreasoner_core::template::miner::Miner;
use logreasoner_tui::screens::Ctx;

/// Templates of a file with counts, first and last line, most frequent first.
pub fn parse_file(
    file: &Path,
    format_name: Option<&str>,
    system: Option<&str>,
    top: usize,
) -> anyhow::Result<()> {
    let fmt = match format_name {
        Some(n) => Some(format::by_name(n).with_context(|| {
            format!(
                "unknown format `{n}`; known: {}",
                format::names().join(", ")
            )
        })?),
        None => None,
    };
    let sources =
        logreasoner_core::logs::source::open_sources(file, fmt).map_err(anyhow::Error::msg)?;
    if sources.is_empty() {
        anyhow::bail!("{} holds no log files", file.display());
    }
    let mut out = logreasoner_core::safe_text::stdout();
    for mut source in sources {
        source.analyse_all();
        let source = match system {
            Some(s) => remine(source, s),
            None => source,
        };
        let counts = source.template_stats();
        let fmt_name = source.format.map_or("none (whole lines)", |f| f.name);
        writeln!(
            out,
            "{}: {} lines, format {fmt_name}, {} templates",
            source.path.display(),
            source.len(),
            counts.len()
        )?;
        writeln!(
            out,
            "{:>8}  {:>7}  {:>7}  template",
            "count", "first", "last"
        )?;
        for t in counts.into_iter().take(top) {
            // A template of a 50 MB line is 50 MB: show its start and say how long it is.
            let (shown, cut) =
                logreasoner_core::logs::index::display_cut(t.text.as_bytes(), TEMPLATE_SHOWN);
            let more = if cut {
                format!(" … ({} bytes)", t.text.len())
            } else {
                String::new()
            };
            writeln!(
                out,
                "{:>8}  {:>7}  {:>7}  {shown}{more}",
                t.count, t.first, t.last
            )?;
        }
    }
    Ok(())
}

/// Bytes of a template `parse` prints.
const TEMPLATE_SHOWN: usize = 400;

/// Mines again with another system's settings.
fn remine(mut source: LogSource, system: &str) -> LogSource {
    let mut miner = Miner::for_system(Some(system));
    let fmt = source.format;
    source.facts.template = (0..source.len())
        .map(|i| {
            let line = source.line(i).into_owned();
            miner.add(format::parse_line(fmt, &line).content)
        })
        .collect();
    source.miner = miner;
    source
}

/// The thread count of a model benchmark (default: all cores), given to candle: its CPU kernels
/// use rayon's pool, sized from `RAYON_NUM_THREADS` at first use.
fn model_threads(threads: Option<usize>) -> usize {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    threads
}

pub fn run(config: Config, cmd: BenchCommand) -> anyhow::Result<()> {
    let mut out = logreasoner_core::safe_text::stdout();
    match cmd {
        BenchCommand::Parse { data } => {
            let rows = parse::accuracy(&data).map_err(anyhow::Error::msg)?;
            parse::print_accuracy(&rows, &mut out)?;
        }
        BenchCommand::ParseSpeed {
            data,
            lines,
            threads,
            no_drain3,
        } => {
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            writeln!(out, "building the input: the 16 Loghub-2k logs repeated to {lines} lines, digits re-drawn…")?;
            let input = parse::speed_input(&data, lines).map_err(anyhow::Error::msg)?;
            let file =
                std::env::temp_dir().join(format!("logreasoner-speed-{}.txt", std::process::id()));
            std::fs::write(&file, input.join("\n") + "\n")
                .with_context(|| format!("cannot write {}", file.display()))?;
            let (one, templates) = parse::our_speed(&input, 1);
            writeln!(
                out,
                "ours, 1 thread      {:>12.0} lines/s   ({templates} templates)",
                one
            )?;
            let (many, _) = parse::our_speed(&input, threads);
            writeln!(out, "ours, {threads} threads     {:>12.0} lines/s", many)?;
            if no_drain3 {
                writeln!(out, "Drain3 skipped (--no-drain3)")?;
            } else {
                let result = parse::drain3_speed(&file, &parse::drain3_script());
                let _ = std::fs::remove_file(&file);
                let (drain, clusters) = result.map_err(anyhow::Error::msg)?;
                writeln!(
                    out,
                    "Drain3 0.9 (same masks) {:>8.0} lines/s   ({clusters} clusters)",
                    drain
                )?;
                writeln!(
                    out,
                    "ratio, 1 thread     {:>12.1}x   (target ≥ 100x)",
                    one / drain
                )?;
                writeln!(out, "ratio, {threads} threads    {:>12.1}x", many / drain)?;
            }
            let _ = std::fs::remove_file(&file);
        }
        BenchCommand::Llm {
            prompt_chars,
            decode,
            threads,
            no_llama_cpp,
        } => {
            let threads = model_threads(threads);
            llm_bench(
                &config,
                &mut out,
                (prompt_chars, decode, threads),
                no_llama_cpp,
            )?;
        }
        BenchCommand::Train {
            batch,
            seq,
            rank,
            alpha,
            targets,
            warmup,
            steps,
            threads,
            no_pytorch,
        } => {
            let setup = logreasoner::bench::train::Setup {
                batch,
                seq,
                rank,
                alpha,
                targets,
                warmup,
                steps,
                threads: model_threads(threads),
            };
            train(&config, &mut out, &setup, no_pytorch)?;
        }
        BenchCommand::Label { pairs } => {
            let store_dir = tempdir()?;
            let store = Store::open(store_dir.join("db"))?;
            let mut ctx = Ctx::new(config, store);
            let r = logreasoner::bench::label::measure(&mut ctx, pairs.max(1))
                .map_err(anyhow::Error::msg)?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            writeln!(
                out,
                "{} labels: key press → durable label → next pair drawn: median {:.2} ms, p95 {:.2} ms, max {:.2} ms (target < 50 ms)",
                r.pairs,
                ms(r.quantile(0.5)),
                ms(r.quantile(0.95)),
                ms(r.quantile(1.0))
            )?;
            let _ = std::fs::remove_dir_all(&store_dir);
        }
        BenchCommand::Diagnose {
            max_tokens,
            threads,
        } => {
            let threads = model_threads(threads);
            diagnose_bench(&config, &mut out, max_tokens, threads)?;
        }
        BenchCommand::Bigfile { path, size_mb } => {
            if !path.exists() {
                writeln!(
                    out,
                    "generating {} ({size_mb} MB) from the bundled samples…",
                    path.display()
                )?;
                out.flush()?;
                bigfile::generate(
                    &path,
                    size_mb << 20,
                    &logreasoner_core::config::bundled("assets/samples"),
                )
                .with_context(|| format!("cannot write {}", path.display()))?;
            }
            let store_dir = tempdir()?;
            let store = Store::open(store_dir.join("db"))?;
            let mut ctx = Ctx::new(config, store);
            let report = bigfile::measure(&path, &mut ctx)?;
            bigfile::print(&report, &mut out)?;
            let _ = std::fs::remove_dir_all(&store_dir);
        }
    }
    Ok(())
}

/// `bench llm`: prefill and decode speed, ours beside llama.cpp on the same GGUF and prompt.
fn llm_bench(
    config: &Config,
    out: &mut dyn Write,
    (prompt_chars, decode, threads): (usize, usize, usize),
    no_llama_cpp: bool,
) -> anyhow::Result<()> {
    let model = config.model.value.clone();
    let prompt = llm::prompt(
        &logreasoner_core::config::bundled("assets/samples"),
        prompt_chars,
    )?;
    writeln!(
        out,
        "model {} · {threads} threads · {decode} decode tokens",
        model.display()
    )?;
    let ours = llm::ours(&model, &prompt, decode).map_err(anyhow::Error::msg)?;
    writeln!(
        out,
        "{:<10} {:>8} {:>14} {:>14}",
        "", "prompt", "prefill tok/s", "decode tok/s"
    )?;
    writeln!(
        out,
        "{:<10} {:>8} {:>14.1} {:>14.1}",
        "ours", ours.prompt_tokens, ours.prefill_tps, ours.decode_tps
    )?;
    if !no_llama_cpp {
        let peer = llm::llama_cpp(&model, &prompt, decode, threads).map_err(anyhow::Error::msg)?;
        writeln!(
            out,
            "{:<10} {:>8} {:>14.1} {:>14.1}",
            "llama.cpp", peer.prompt_tokens, peer.prefill_tps, peer.decode_tps
        )?;
        writeln!(
            out,
            "{:<10} {:>8} {:>13.2}x {:>13.2}x   (target ≥ 0.8x)",
            "ratio",
            "",
            ours.prefill_tps / peer.prefill_tps,
            ours.decode_tps / peer.decode_tps
        )?;
    }
    Ok(())
}

/// `bench diagnose`: diagnoses of a fixed 30-line window with the default model: cold (model
/// load included); warm, after another window of the same file (so the chart's start may be in
/// the prompt-prefix cache); and again, the same window with another question; with where the
/// prompt's tokens go.
fn diagnose_bench(
    config: &Config,
    out: &mut dyn Write,
    max_tokens: usize,
    threads: usize,
) -> anyhow::Result<()> {
    use logreasoner_core::diagnose::{self, Input};
    use logreasoner_core::llm::backend::BackendSpec;
    use logreasoner_core::logs::file::{read_window, LineRange};
    let sample = logreasoner_core::config::bundled("assets/samples/hdfs-datanode-loss.log");
    let charts = logreasoner_core::flowchart::valid_charts(&config.flowcharts.value)?;
    let plan_of = |first: usize, question: Option<&str>| -> anyhow::Result<diagnose::Plan> {
        let range = LineRange {
            first,
            last: Some(first + 29),
        };
        let (lines, first_line) = read_window(&sample, Some(range)).map_err(anyhow::Error::msg)?;
        let input = Input {
            source: sample.display().to_string(),
            first_line,
            lines,
            question: question.map(str::to_string),
        };
        Ok(diagnose::plan(
            &charts,
            input,
            (&config.diagnosis.value).into(),
        ))
    };
    let window = plan_of(181, None)?;
    let runs = [
        ("cold", window.clone()),
        ("other", plan_of(211, None)?),
        ("warm", window.clone()),
        (
            "again",
            plan_of(181, Some("Which data node left the cluster?"))?,
        ),
    ];
    let params =
        logreasoner_core::diagnose::generation_params(&config.generation.value, max_tokens);
    let spec = BackendSpec::from_config(config)?;
    writeln!(
        out,
        "diagnoses of 30-line windows of {} · model {} · {threads} threads · at most {max_tokens} tokens",
        sample.display(),
        config.model.value.display()
    )?;
    writeln!(
        out,
        "{:<6} {:>7} {:<26} {:>7} {:>12} {:>8} {:>7} {:>7} {:>10}",
        "", "lines", "chart", "load s", "first tok s", "total s", "prompt", "cached", "generated"
    )?;
    let started = std::time::Instant::now();
    let mut model = spec.open()?;
    let mut load = started.elapsed().as_secs_f64();
    for (run, plan) in &runs {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let began = std::time::Instant::now();
        let report = diagnose::run_model(&mut model, plan, &params, &cancel, &mut |_| {})?;
        let total = began.elapsed().as_secs_f64() + load;
        let t = &report.timings;
        let chart = plan.chart.as_ref().map_or("-", |c| c.id.as_str());
        writeln!(
            out,
            "{run:<6} {:>7} {chart:<26} {load:>7.2} {:>12.2} {total:>8.2} {:>7} {:>7} {:>10}",
            format!("{}..{}", plan.input.first_line, plan.input.last_line()),
            load + t.first_token_ms.unwrap_or(0) as f64 / 1000.0,
            t.prompt_tokens.unwrap_or(0),
            t.cached_tokens.unwrap_or(0),
            t.generated_tokens.unwrap_or(0),
        )?;
        load = 0.0;
    }
    if let logreasoner_core::llm::backend::Backend::Local(m) = &model {
        // The same window with every shown line written out, as before repeats were collapsed.
        let mut settings = config.diagnosis.value;
        settings.collapse_repeats = !settings.collapse_repeats;
        let other = diagnose::plan(&charts, window.input.clone(), (&settings).into());
        let (collapsed, whole) = if settings.collapse_repeats {
            (&other, &window)
        } else {
            (&window, &other)
        };
        writeln!(
            out,
            "where the prompt's tokens go (lines 181..210), in tokens:\n  {:<34} {:>9} {:>9}",
            "", "collapsed", "whole"
        )?;
        let parts = |p: &diagnose::Plan| -> anyhow::Result<Vec<(&'static str, usize)>> {
            diagnose::prompt::parts(&p.messages)
                .into_iter()
                .map(|(name, text)| Ok((name, m.encode(&text)?.len())))
                .collect()
        };
        let (a, b) = (parts(collapsed)?, parts(whole)?);
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            writeln!(out, "  {name:<34} {x:>9} {y:>9}")?;
        }
        let total = |v: &[(&str, usize)]| v.iter().map(|(_, n)| n).sum::<usize>();
        writeln!(out, "  {:<34} {:>9} {:>9}", "all", total(&a), total(&b))?;
    }
    Ok(())
}

/// `bench train`: seconds per LoRA step, ours beside PyTorch + PEFT on the same batch.
fn train(
    config: &Config,
    out: &mut dyn Write,
    setup: &logreasoner::bench::train::Setup,
    no_pytorch: bool,
) -> anyhow::Result<()> {
    let model = config.model.value.clone();
    writeln!(
        out,
        "model {} · LoRA r={} α={} on {} · batch {}×{} · f32 · AdamW · {} threads · median of {} steps after {} warm-up",
        model.display(),
        setup.rank,
        setup.alpha,
        setup.targets.join(","),
        setup.batch,
        setup.seq,
        setup.threads,
        setup.steps,
        setup.warmup
    )?;
    let (ours, ids) = logreasoner::bench::train::ours(&model, setup).map_err(anyhow::Error::msg)?;
    let mut rows = vec![ours];
    if !no_pytorch {
        let script = logreasoner_core::config::bundled("scripts/bench_train_torch.py");
        let dir = tempdir()?;
        let peer = logreasoner::bench::train::pytorch(
            &model,
            &script,
            setup,
            &ids,
            &dir.join("batch.json"),
        );
        let _ = std::fs::remove_dir_all(&dir);
        rows.push(peer.map_err(anyhow::Error::msg)?);
    }
    let width = rows
        .iter()
        .map(|r| r.engine.chars().count())
        .max()
        .unwrap_or(0);
    writeln!(
        out,
        "{:<width$} {:>10} {:>10} {:>11} {:>11} {:>12}",
        "", "s/step", "tokens/s", "loss first", "loss last", "peak memory"
    )?;
    for r in &rows {
        let m = r.median();
        let peak = r.peak_bytes.map_or("?".to_string(), |b| {
            format!("{:.2} GiB", b as f64 / f64::from(1u32 << 30))
        });
        writeln!(
            out,
            "{:<width$} {:>10.2} {:>10.0} {:>11.3} {:>11.3} {:>12}",
            r.engine,
            m,
            (setup.batch * setup.seq) as f64 / m,
            r.loss_first,
            r.loss_last,
            peak
        )?;
    }
    if let [ours, peer] = rows.as_slice() {
        writeln!(
            out,
            "{:<width$} {:>9.2}x   (target ≤ 1.0x)",
            "ratio (ours / PyTorch time)",
            ours.median() / peer.median()
        )?;
        // The same batch and B = 0 at the first step: both compute the base model's loss.
        writeln!(
            out,
            "first-step loss, same batch, adapters still zero: ours {:.5}, PyTorch {:.5}, difference {:.1e}",
            ours.loss_first,
            peer.loss_first,
            (ours.loss_first - peer.loss_first).abs()
        )?;
    }
    Ok(())
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("logreasoner-bench-{}", std::process::id()));
    if dir.exists() {
        bail!("{} exists; remove it first", dir.display());
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
