//! Generation speed of our runtime and llama.cpp (llama-cpp-python) on the same GGUF, prompt and
//! thread count.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use candle_core::Device;

use logreasoner_core::llm::model::{GenerationParams, Model};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    pub prompt_tokens: usize,
    pub prefill_tps: f64,
    pub decode_tps: f64,
}

/// A prompt of real log lines (the bundled samples), about `chars` characters long.
pub fn prompt(samples: &Path, chars: usize) -> std::io::Result<String> {
    let mut text = String::new();
    let mut files: Vec<_> = std::fs::read_dir(samples)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for f in files {
        for line in String::from_utf8_lossy(&std::fs::read(&f)?).lines() {
            if text.len() + line.len() + 1 > chars {
                return Ok(text);
            }
            text.push_str(line);
            text.push('\n');
        }
    }
    Ok(text)
}

/// Ours: the prompt in one prefill pass, then `decode` greedy tokens (end tokens ignored).
pub fn ours(model: &Path, prompt: &str, decode: usize) -> Result<Speed, String> {
    let mut m = Model::load(model, &Device::Cpu).map_err(|e| e.to_string())?;
    let params = GenerationParams {
        max_tokens: decode + 1,
        temperature: 0.0,
        repeat_penalty: 1.0,
        ignore_eos: true,
        ..Default::default()
    };
    // A first run warms caches and allocations, as llama.cpp's own start-up does.
    m.generate(
        prompt,
        &GenerationParams {
            max_tokens: 2,
            ..params.clone()
        },
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .map_err(|e| e.to_string())?;
    // The measured prefill reads the whole prompt, as llama.cpp's does: nothing from the cache.
    m.clear_prefix_cache();
    let g = m
        .generate(prompt, &params, &AtomicBool::new(false), &mut |_| {})
        .map_err(|e| e.to_string())?;
    Ok(Speed {
        prompt_tokens: g.prompt_tokens,
        prefill_tps: g.prefill_tokens_per_sec(),
        decode_tps: g.decode_tokens_per_sec(),
    })
}

/// llama.cpp through `benches/llama_cpp_speed.py`.
pub fn llama_cpp(
    model: &Path,
    prompt: &str,
    decode: usize,
    threads: usize,
) -> Result<Speed, String> {
    let file =
        std::env::temp_dir().join(format!("logreasoner-llm-prompt-{}.txt", std::process::id()));
    std::fs::write(&file, prompt).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("python3")
        .arg(logreasoner_core::config::bundled(
            "benches/llama_cpp_speed.py",
        ))
        .arg(model)
        .arg(&file)
        .arg(decode.to_string())
        .arg(threads.to_string())
        .output()
        .map_err(|e| format!("cannot run python3: {e}"));
    let _ = std::fs::remove_file(&file);
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "llama.cpp failed; install it with `pip install llama-cpp-python`:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected llama.cpp output: {e}"))?;
    Ok(Speed {
        prompt_tokens: v["prompt_tokens"].as_u64().unwrap_or(0) as usize,
        prefill_tps: v["prefill_tps"].as_f64().unwrap_or(0.0),
        decode_tps: v["decode_tps"].as_f64().unwrap_or(0.0),
    })
}
