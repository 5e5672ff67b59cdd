//! Hugging Face model folders: config.json, tokenizer.json (with tokenizer_config.json for the chat
//! template and special tokens, and generation_config.json for end tokens) and *.safetensors, for the
//! Llama and Qwen2 families. Weights load as f32 on CPU.
// Safetensors files are memory-mapped by candle, which is unsafe only if the file changes under us.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::{llama, qwen2};
use serde_json::Value;

use super::error::LlmError;
use super::info::{ModelInfo, Parts};

fn read_json(path: &Path) -> Result<Option<Value>, LlmError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LlmError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("not valid JSON: {e}"),
            }),
        Err(_) => Ok(None),
    }
}

/// `"<s>"` or `{ "content": "<s>" }`.
fn token_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_u64)
            .map(|x| x as u32)
            .collect(),
        _ => Vec::new(),
    }
}

/// A folder's parsed config.json, its weight files, and everything but the weights.
pub(crate) struct Folder {
    pub config: Value,
    pub files: Vec<PathBuf>,
    pub parts: Parts,
}

/// A Hugging Face model with its weights bound, for `model` to wrap.
pub(crate) enum HfModel {
    Llama {
        parts: Parts,
        model: llama::Llama,
        config: llama::Config,
    },
    Qwen2 {
        parts: Parts,
        model: qwen2::ModelForCausalLM,
    },
}

pub(crate) fn load(
    dir: &Path,
    adapter: Option<&Path>,
    device: &Device,
) -> Result<HfModel, LlmError> {
    let Folder {
        config,
        files,
        mut parts,
    } = read(dir)?;
    parts.info.adapter = adapter.map(Path::to_path_buf);
    let corrupt = |e: candle_core::Error| LlmError::Corrupt {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    let vb = match adapter {
        // SAFETY: the weight files are mapped read-only for the life of the model.
        None => unsafe { VarBuilder::from_mmaped_safetensors(&files, DType::F32, device) }
            .map_err(corrupt)?,
        Some(adapter) => merged(dir, &files, adapter, device)?,
    };
    let architecture = parts.info.architecture.clone();
    let bad_config = |e: serde_json::Error| LlmError::Corrupt {
        path: dir.join("config.json"),
        reason: e.to_string(),
    };
    match architecture.as_str() {
        "llama" | "mistral" => {
            let cfg: llama::LlamaConfig = serde_json::from_value(config).map_err(bad_config)?;
            let cfg = cfg.into_config(false);
            let model = llama::Llama::load(vb, &cfg).map_err(corrupt)?;
            Ok(HfModel::Llama {
                parts,
                model,
                config: cfg,
            })
        }
        "qwen2" => {
            let cfg: qwen2::Config = serde_json::from_value(config).map_err(bad_config)?;
            let model = qwen2::ModelForCausalLM::new(&cfg, vb).map_err(corrupt)?;
            Ok(HfModel::Qwen2 { parts, model })
        }
        other => Err(LlmError::Unsupported {
            path: dir.to_path_buf(),
            architecture: other.to_string(),
        }),
    }
}

/// Reads a Hugging Face folder without loading its weights.
pub(crate) fn read(dir: &Path) -> Result<Folder, LlmError> {
    let missing = |name: &str| LlmError::Missing {
        path: dir.join(name),
    };
    let config = read_json(&dir.join("config.json"))?.ok_or_else(|| missing("config.json"))?;
    let tokenizer_path = dir.join("tokenizer.json");
    if !tokenizer_path.exists() {
        return Err(missing("tokenizer.json"));
    }
    let tokenizer =
        tokenizers::Tokenizer::from_file(&tokenizer_path).map_err(|e| LlmError::Tokenizer {
            path: tokenizer_path.clone(),
            reason: e.to_string(),
        })?;
    let tok_config = read_json(&dir.join("tokenizer_config.json"))?.unwrap_or(Value::Null);
    let gen_config = read_json(&dir.join("generation_config.json"))?.unwrap_or(Value::Null);

    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|_| missing("*.safetensors"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(missing("model.safetensors"));
    }
    let corrupt = |e: candle_core::Error| LlmError::Corrupt {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    let parameters = {
        let st = unsafe { candle_core::safetensors::MmapedSafetensors::multi(&files) }
            .map_err(corrupt)?;
        st.tensors()
            .iter()
            .map(|(_, v)| v.shape().iter().product::<usize>() as u64)
            .sum()
    };

    let architecture = config
        .get("model_type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let context_length = config
        .get("max_position_embeddings")
        .and_then(Value::as_u64)
        .unwrap_or(2048) as usize;
    let vocab_size = config
        .get("vocab_size")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    if vocab_size == 0 || tokenizer.get_vocab_size(true) > vocab_size {
        return Err(LlmError::Tokenizer {
            path: tokenizer_path,
            reason: format!(
                "{} tokens for a model with a vocabulary of {vocab_size}",
                tokenizer.get_vocab_size(true)
            ),
        });
    }
    let chat_template = tok_config
        .get("chat_template")
        .and_then(Value::as_str)
        .map(str::to_string);
    let bos = token_text(tok_config.get("bos_token")).unwrap_or_default();
    let eos_text = token_text(tok_config.get("eos_token")).unwrap_or_default();
    let mut eos_ids = ids(gen_config.get("eos_token_id"));
    eos_ids.extend(ids(config.get("eos_token_id")));
    if let Some(id) = tokenizer.token_to_id(&eos_text) {
        eos_ids.push(id);
    }
    eos_ids.sort_unstable();
    eos_ids.dedup();
    let info = ModelInfo {
        path: dir.to_path_buf(),
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        architecture: architecture.clone(),
        parameters,
        quantization: "F32".into(),
        context_length,
        vocab_size,
        chat_template,
        adapter: None,
    };
    let parts = Parts {
        info,
        tokenizer,
        bos,
        eos_text,
        eos_ids,
    };
    Ok(Folder {
        config,
        files,
        parts,
    })
}

/// The folder's weights with the adapter's updates added (Hugging Face and PEFT share names and row
/// order, so the updates apply as they are).
fn merged(
    dir: &Path,
    files: &[PathBuf],
    adapter: &Path,
    device: &Device,
) -> Result<VarBuilder<'static>, LlmError> {
    let mut weights = std::collections::HashMap::new();
    for file in files {
        let tensors =
            candle_core::safetensors::load(file, device).map_err(|e| LlmError::Corrupt {
                path: file.clone(),
                reason: e.to_string(),
            })?;
        weights.extend(tensors);
    }
    for (name, delta) in super::adapter::deltas(adapter, device)? {
        let misfit = |reason: String| LlmError::Adapter {
            path: adapter.to_path_buf(),
            reason: format!("does not fit {}: {reason}", dir.display()),
        };
        let w = weights
            .get(&name)
            .ok_or_else(|| misfit(format!("the model has no `{name}`")))?;
        let updated = w
            .to_dtype(DType::F32)
            .and_then(|w| w + &delta)
            .map_err(|e| misfit(format!("`{name}`: {e}")))?;
        weights.insert(name, updated);
    }
    Ok(VarBuilder::from_tensors(weights, DType::F32, device))
}
