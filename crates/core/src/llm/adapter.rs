//! LoRA adapters in PEFT's layout (`adapter_config.json`, `adapter_model.safetensors` with names like
//! `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`), read for inference. The runtime
//! merges an adapter into the base weights at load (`W + α/r · B·A`), so generation with an adapter
//! runs exactly as fast as without one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::error::LlmError;

/// The projections of a Llama/Qwen2 layer an adapter can target, attention first.
pub const PROJECTIONS: [&str; 7] = logreasoner_cpu::train::Proj::NAMES;

/// A PEFT adapter folder, given as itself or as the training run folder holding it (`adapter/`).
pub fn locate(path: &Path) -> Result<PathBuf, LlmError> {
    let adapter = if path.join("adapter_config.json").exists() {
        path.to_path_buf()
    } else {
        path.join("adapter")
    };
    if !adapter.join("adapter_config.json").exists() {
        return Err(LlmError::Adapter {
            path: path.to_path_buf(),
            reason: "neither a PEFT adapter folder nor a run folder with an adapter".into(),
        });
    }
    Ok(adapter)
}

/// The LoRA settings of a saved adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterConfig {
    /// LoRA rank `r`: the inner size of each `B·A` update; at least 1.
    pub rank: usize,
    /// `lora_alpha`: the update is scaled by `alpha / rank`; the rank when the file has none.
    pub alpha: f64,
    /// `lora_dropout` used in training (0 when absent); inference ignores it.
    pub dropout: f32,
    /// Projection names the adapter changes (`q_proj`, ...); `all-linear` becomes every one.
    pub targets: Vec<String>,
    /// The base model the adapter was trained on, as recorded by whoever trained it.
    pub base_model: Option<String>,
}

fn bad(dir: &Path, reason: impl Into<String>) -> LlmError {
    LlmError::Adapter {
        path: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// The largest `lora_alpha` accepted: far above any real adapter's (PEFT's are 8 to 512), far
/// below what turns a merge into infinities.
const MAX_ALPHA: f64 = 65_536.0;

/// Reads `adapter_config.json` in `dir`.
pub fn read_config(dir: &Path) -> Result<AdapterConfig, LlmError> {
    let path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad(dir, format!("cannot read adapter_config.json: {e}")))?;
    let j: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(dir, format!("adapter_config.json is not valid JSON: {e}")))?;
    if let Some(kind) = j["peft_type"].as_str() {
        if kind != "LORA" {
            return Err(bad(
                dir,
                format!("a {kind} adapter; only LoRA is supported"),
            ));
        }
    }
    let rank = j["r"]
        .as_u64()
        .filter(|r| *r > 0)
        .ok_or_else(|| bad(dir, "adapter_config.json has no rank `r`"))? as usize;
    let targets = match &j["target_modules"] {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        // PEFT's shorthand for every linear layer but the output head.
        serde_json::Value::String(s) if s == "all-linear" => PROJECTIONS.map(String::from).to_vec(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    let alpha = match &j["lora_alpha"] {
        serde_json::Value::Null => rank as f64,
        v => v
            .as_f64()
            .filter(|a| a.is_finite() && *a > 0.0 && *a <= MAX_ALPHA)
            .ok_or_else(|| {
                bad(
                    dir,
                    format!("lora_alpha is {v}; it must be a positive number up to {MAX_ALPHA}"),
                )
            })?,
    };
    Ok(AdapterConfig {
        rank,
        alpha,
        dropout: j["lora_dropout"].as_f64().unwrap_or(0.0) as f32,
        targets,
        base_model: j["base_model_name_or_path"].as_str().map(String::from),
    })
}

/// The Hugging Face weight a PEFT tensor adapts, and which factor it is (`A` or `B`).
fn adapted_weight(peft: &str) -> Option<(String, char)> {
    let stem = peft.strip_prefix("base_model.model.").unwrap_or(peft);
    for (marker, factor) in [(".lora_A", 'A'), (".lora_B", 'B')] {
        if let Some(at) = stem.find(marker) {
            return Some((format!("{}.weight", &stem[..at]), factor));
        }
    }
    None
}

/// The weight updates `α/r · B·A` of the adapter in `dir`, by the Hugging Face name of the weight
/// they add to (`model.layers.0.self_attn.q_proj.weight`), each `[out, in]` in f32.
pub fn deltas(dir: &Path, device: &Device) -> Result<HashMap<String, Tensor>, LlmError> {
    let config = read_config(dir)?;
    let file: PathBuf = dir.join("adapter_model.safetensors");
    let tensors = candle_core::safetensors::load(&file, device)
        .map_err(|e| bad(dir, format!("adapter_model.safetensors: {e}")))?;
    let mut factors: HashMap<String, (Option<Tensor>, Option<Tensor>)> = HashMap::new();
    for (name, t) in tensors {
        let Some((weight, factor)) = adapted_weight(&name) else {
            continue;
        };
        let t = t
            .to_dtype(candle_core::DType::F32)
            .map_err(|e| bad(dir, e.to_string()))?;
        let slot = factors.entry(weight).or_default();
        if factor == 'A' {
            slot.0 = Some(t);
        } else {
            slot.1 = Some(t);
        }
    }
    if factors.is_empty() {
        return Err(bad(dir, "adapter_model.safetensors holds no LoRA tensors"));
    }
    let scale = config.alpha / config.rank as f64;
    let mut out = HashMap::with_capacity(factors.len());
    for (weight, pair) in factors {
        let (Some(a), Some(b)) = pair else {
            return Err(bad(
                dir,
                format!("`{weight}` has only one of lora_A and lora_B"),
            ));
        };
        check_factors(&weight, &a, &b, config.rank).map_err(|reason| bad(dir, reason))?;
        let delta = b
            .matmul(&a)
            .and_then(|d| d * scale)
            .map_err(|e| bad(dir, format!("`{weight}`: {e}")))?;
        out.insert(weight, delta);
    }
    Ok(out)
}

/// A `[r, in]` and B `[out, r]` must have the configured rank (another rank would merge with the
/// wrong `α/r` scale) and only finite values (a NaN would poison every logit).
fn check_factors(weight: &str, a: &Tensor, b: &Tensor, rank: usize) -> Result<(), String> {
    let (a_dims, b_dims) = (a.dims(), b.dims());
    if a_dims.len() != 2 || b_dims.len() != 2 {
        return Err(format!(
            "`{weight}`: lora_A {a_dims:?} and lora_B {b_dims:?} must be matrices"
        ));
    }
    if a_dims[0] != rank || b_dims[1] != rank {
        return Err(format!(
            "`{weight}`: lora_A {a_dims:?} and lora_B {b_dims:?} do not have rank r = {rank} of \
             adapter_config.json"
        ));
    }
    for (name, t) in [("lora_A", a), ("lora_B", b)] {
        let values = t
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("`{weight}` {name}: {e}"))?;
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!(
                "`{weight}` {name} holds {v}; the adapter is corrupt"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_adapter(dir: &Path, config: &str, a: Tensor, b: Tensor) {
        std::fs::write(dir.join("adapter_config.json"), config).expect("config");
        let name = "base_model.model.model.layers.0.self_attn.q_proj";
        let tensors = HashMap::from([
            (format!("{name}.lora_A.weight"), a),
            (format!("{name}.lora_B.weight"), b),
        ]);
        candle_core::safetensors::save(&tensors, dir.join("adapter_model.safetensors"))
            .expect("save");
    }

    /// The audit's adapters: a rank in the config that the tensors do not have, a NaN, and an
    /// alpha of -1e30 are refused with the reason; a sound one merges.
    #[test]
    fn adapters_that_would_merge_wrong_are_refused() {
        let cpu = Device::Cpu;
        let dir = tempfile::tempdir().expect("tempdir");
        let ones = |r: usize, c: usize| Tensor::ones((r, c), candle_core::DType::F32, &cpu);
        let config = |r: usize, alpha: &str| {
            format!(
                r#"{{"peft_type":"LORA","r":{r},"lora_alpha":{alpha},"target_modules":["q_proj"]}}"#
            )
        };
        let sound = || (ones(2, 8).expect("a"), ones(8, 2).expect("b"));
        write_adapter(dir.path(), &config(2, "4"), sound().0, sound().1);
        let d = deltas(dir.path(), &cpu).expect("a sound adapter");
        assert_eq!(d.len(), 1);
        let nan = Tensor::new(&[[f32::NAN, 0.0], [0.0, 0.0]], &cpu).expect("nan");
        for (config, (a, b), wanted) in [
            (config(4, "8"), sound(), "do not have rank r = 4"),
            (config(2, "4"), (nan, ones(2, 2).expect("b")), "holds NaN"),
            (config(2, "-1e30"), sound(), "lora_alpha is -1e+30"),
        ] {
            write_adapter(dir.path(), &config, a, b);
            let err = deltas(dir.path(), &cpu).expect_err(wanted).to_string();
            assert!(err.contains(wanted), "{err}");
        }
    }

    #[test]
    fn peft_names_point_at_their_weights() {
        assert_eq!(
            adapted_weight("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"),
            Some(("model.layers.3.self_attn.q_proj.weight".into(), 'A'))
        );
        assert_eq!(
            adapted_weight("base_model.model.model.layers.0.mlp.up_proj.lora_B.default.weight"),
            Some(("model.layers.0.mlp.up_proj.weight".into(), 'B'))
        );
        assert_eq!(adapted_weight("base_model.model.lm_head.weight"), None);
    }

    #[test]
    fn missing_or_foreign_adapters_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let err = deltas(dir.path(), &Device::Cpu).expect_err("no files");
        assert!(err.to_string().contains("adapter_config.json"), "{err}");
        std::fs::write(
            dir.path().join("adapter_config.json"),
            r#"{"peft_type": "IA3", "r": 8}"#,
        )
        .expect("write");
        let err = deltas(dir.path(), &Device::Cpu).expect_err("not lora");
        assert!(err.to_string().contains("only LoRA"), "{err}");
        std::fs::write(
            dir.path().join("adapter_config.json"),
            r#"{"peft_type": "LORA", "r": 8, "lora_alpha": 16}"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("adapter_model.safetensors"), b"garbage").expect("write");
        let err = deltas(dir.path(), &Device::Cpu).expect_err("corrupt");
        assert!(
            err.to_string().contains("adapter_model.safetensors"),
            "{err}"
        );
    }
}
