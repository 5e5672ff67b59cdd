//! `logreasoner bench train`: seconds per LoRA training step of our candle trainer and of PyTorch +
//! PEFT (scripts/bench_train_torch.py, pip packages torch, transformers, peft, gguf) on the same GGUF
//! model, LoRA configuration, batch and sequence length, in one run. Both train on the same batch of
//! seeded random token ids (ours draws it and hands it to the script) with the full causal-LM loss,
//! f32, AdamW, and report the median of the steps after a warm-up. The adapters' B starts at zero,
//! so the first step's loss is the base model's alone and must agree between the two.
// getrusage (libc) for the peak memory of the run.
#![allow(unsafe_code)]

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Var};

use logreasoner_core::train::adamw::AdamW;
use logreasoner_core::train::base::Base;
use logreasoner_core::train::model::{Decoder, LoraConfig, Rng};
use logreasoner_core::train::sft::{self, Example};

#[derive(Debug, Clone)]
pub struct Setup {
    pub batch: usize,
    pub seq: usize,
    pub rank: usize,
    pub alpha: f64,
    pub targets: Vec<String>,
    pub warmup: usize,
    pub steps: usize,
    pub threads: usize,
}

#[derive(Debug, Clone)]
pub struct StepTimes {
    pub engine: String,
    pub step_secs: Vec<f64>,
    pub loss_first: f64,
    pub loss_last: f64,
    /// The process's peak resident memory, loading included (`None` where unknown).
    pub peak_bytes: Option<u64>,
}

/// This process's peak resident memory so far (Linux only: elsewhere `ru_maxrss` has other units).
#[cfg(target_os = "linux")]
fn peak_resident_bytes() -> Option<u64> {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    // Linux reports kilobytes.
    u64::try_from(usage.ru_maxrss).ok().map(|kb| kb * 1024)
}

#[cfg(not(target_os = "linux"))]
fn peak_resident_bytes() -> Option<u64> {
    None
}

impl StepTimes {
    pub fn median(&self) -> f64 {
        let mut v = self.step_secs.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
}

/// Our trainer on `model`, and the batch of ids it trained on (for the peer).
pub fn ours(model: &Path, s: &Setup) -> Result<(StepTimes, Vec<Vec<u32>>), String> {
    let dev = Device::Cpu;
    logreasoner_core::train::kernels::keep_freed_memory();
    let base = Base::load(model, &dev).map_err(|e| e.to_string())?;
    let lora = LoraConfig {
        rank: s.rank,
        alpha: s.alpha,
        dropout: 0.0,
        targets: s.targets.clone(),
        seed: 0,
    };
    let mut named = Vec::new();
    let mut decoder = Decoder::new(base.config.clone(), &base.weights, &lora, &mut named, &dev)
        .map_err(|e| e.to_string())?;
    let vocab = base.config.vocab as u64;
    // As a training run does: candle's copies of the packed projections go.
    drop(base);
    decoder.release_unpacked();
    let vars: Vec<Var> = named.into_iter().map(|(_, v)| v).collect();
    let mut opt = AdamW::new(vars.clone(), 1e-4, 0.0).map_err(|e| e.to_string())?;
    let ids = random_batch(vocab, s)?;
    let batch: Vec<Example> = ids
        .iter()
        .map(|row| Example {
            ids: row.clone(),
            learn: vec![true; row.len()],
        })
        .collect();
    let mut times = Vec::new();
    let (mut first, mut last) = (f64::NAN, f64::NAN);
    for step in 0..s.warmup + s.steps {
        let start = Instant::now();
        let loss = sft::loss(&decoder, &batch, true, true).map_err(|e| e.to_string())?;
        let grads = decoder.backward(&loss).map_err(|e| e.to_string())?;
        opt.step(&grads).map_err(|e| e.to_string())?;
        let value = f64::from(loss.to_scalar::<f32>().map_err(|e| e.to_string())?);
        if step == 0 {
            first = value;
        }
        last = value;
        if step >= s.warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let times = StepTimes {
        engine: format!("ours ({})", decoder.pass_description()),
        step_secs: times,
        loss_first: first,
        loss_last: last,
        peak_bytes: peak_resident_bytes(),
    };
    Ok((times, ids))
}

/// `s.batch` rows of `s.seq` token ids drawn uniformly from a `vocab`-token vocabulary with our
/// seeded generator; every token is learned (the reference's labels = ids).
fn random_batch(vocab: u64, s: &Setup) -> Result<Vec<Vec<u32>>, String> {
    let noise = Rng::new(0)
        .uniform((s.batch, s.seq), 1.0, &Device::Cpu)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| e.to_string())?;
    Ok(noise
        .chunks(s.seq)
        .map(|row| {
            row.iter()
                .map(|x| ((f64::from(*x) + 1.0) / 2.0 * vocab as f64) as u32 % vocab as u32)
                .collect()
        })
        .collect())
}

/// PyTorch + PEFT through the reference script, training on `ids` (written to `ids_file`).
pub fn pytorch(
    model: &Path,
    script: &Path,
    s: &Setup,
    ids: &[Vec<u32>],
    ids_file: &Path,
) -> Result<StepTimes, String> {
    let json = serde_json::to_string(ids).map_err(|e| e.to_string())?;
    std::fs::write(ids_file, json)
        .map_err(|e| format!("cannot write the batch to {}: {e}", ids_file.display()))?;
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("--model")
        .arg(model)
        .arg("--ids")
        .arg(ids_file)
        .args(["--threads", &s.threads.to_string()])
        .args(["--batch", &s.batch.to_string()])
        .args(["--seq", &s.seq.to_string()])
        .args(["--steps", &s.steps.to_string()])
        .args(["--warmup", &s.warmup.to_string()])
        .args(["--rank", &s.rank.to_string()])
        .args(["--alpha", &s.alpha.to_string()])
        .args(["--targets", &s.targets.join(",")])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "PyTorch failed; install it with `pip install torch transformers peft gguf`:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected output from {}: {e}", script.display()))?;
    Ok(StepTimes {
        engine: format!(
            "PyTorch {} + PEFT {}",
            v["torch"].as_str().unwrap_or("?"),
            v["peft"].as_str().unwrap_or("?")
        ),
        step_secs: v["step_secs"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default(),
        loss_first: v["loss_first"].as_f64().unwrap_or(f64::NAN),
        loss_last: v["loss_last"].as_f64().unwrap_or(f64::NAN),
        peak_bytes: v["peak_bytes"].as_u64(),
    })
}
