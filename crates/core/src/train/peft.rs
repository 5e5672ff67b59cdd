//! Adapters in PEFT's layout: `adapter_config.json` and `adapter_model.safetensors` with PEFT's tensor
//! names (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`), so transformers, PEFT and
//! vLLM load them unchanged, and so do we.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Result, Tensor, Var};
use serde_json::json;

use super::model::LoraConfig;

/// Writes the LoRA `vars` and their config to `dir` in PEFT's layout, naming `base_model`.
pub fn save(dir: &Path, vars: &[(String, Var)], lora: &LoraConfig, base_model: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let tensors: HashMap<String, Tensor> = vars
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&tensors, dir.join("adapter_model.safetensors"))?;
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "target_modules": lora.targets,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
    });
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    std::fs::write(dir.join("adapter_config.json"), text + "\n")?;
    Ok(())
}

/// The LoRA settings of a saved adapter.
pub fn read_config(dir: &Path) -> Result<LoraConfig> {
    let path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&path)?;
    let j: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| candle_core::Error::Msg(format!("{}: {e}", path.display())))?;
    let targets = j["target_modules"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Ok(LoraConfig {
        rank: j["r"].as_u64().unwrap_or(8) as usize,
        alpha: j["lora_alpha"].as_f64().unwrap_or(16.0),
        dropout: j["lora_dropout"].as_f64().unwrap_or(0.0) as f32,
        targets,
        seed: 0,
    })
}

/// Loads a saved adapter into `vars` (every adapter tensor must be in the file, with its shape).
pub fn load(dir: &Path, vars: &[(String, Var)]) -> Result<()> {
    let Some((_, first)) = vars.first() else {
        return Ok(());
    };
    let tensors =
        candle_core::safetensors::load(dir.join("adapter_model.safetensors"), first.device())?;
    for (name, var) in vars {
        let t = tensors.get(name).ok_or_else(|| {
            candle_core::Error::Msg(format!(
                "the adapter in {} has no tensor `{name}`",
                dir.display()
            ))
        })?;
        // PEFT often saves adapters in the model's dtype (bf16); ours are f32.
        var.set(&t.to_dtype(candle_core::DType::F32)?)?;
    }
    Ok(())
}
