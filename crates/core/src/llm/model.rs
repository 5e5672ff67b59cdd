//! A GGUF model loaded with candle: metadata, weights (Llama or Qwen2 family), tokenizer and chat
//! template, and generation with streaming, sampling, stop strings, cancellation and a context guard.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::{llama, quantized_llama, quantized_qwen2, qwen2};

use super::chat::{self, Message};
pub(crate) use super::error::reason;
pub use super::error::LlmError;
use super::hf::HfModel;
pub use super::info::ModelInfo;
pub(crate) use super::info::Parts;

fn meta_str(meta: &HashMap<String, Value>, key: &str) -> Option<String> {
    meta.get(key).and_then(|v| v.to_string().ok()).cloned()
}

pub(crate) fn meta_u32(meta: &HashMap<String, Value>, key: &str) -> Option<u32> {
    meta.get(key).and_then(|v| {
        v.to_u32()
            .ok()
            .or_else(|| v.to_u64().ok().map(|x| x as u32))
    })
}

pub(crate) fn read_content(path: &Path) -> Result<(File, gguf_file::Content), LlmError> {
    let mut file = File::open(path).map_err(|_| LlmError::Missing {
        path: path.to_path_buf(),
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let corrupt = |reason| LlmError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    // candle allocates what the header claims before reading it: lengths are checked first.
    let header = File::open(path).map_err(|e| corrupt(e.to_string()))?;
    super::gguf_check::check_lengths(header, len).map_err(corrupt)?;
    let content = gguf_file::Content::read(&mut file).map_err(|e| LlmError::Corrupt {
        path: path.to_path_buf(),
        reason: reason(&e),
    })?;
    check_tensor_extents(&content, len).map_err(corrupt)?;
    Ok((file, content))
}

/// Every tensor's size must be a number (its shape's product cannot overflow) and its bytes must
/// lie inside the file: a header can claim anything, and a truncated download passes the header
/// read and fails only when the weights are read, or worse, when a size wraps around.
fn check_tensor_extents(content: &gguf_file::Content, file_len: u64) -> Result<(), String> {
    for (name, t) in &content.tensor_infos {
        let elements = t
            .shape
            .dims()
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
            .ok_or_else(|| {
                format!(
                    "tensor `{name}` has an impossible shape {:?}",
                    t.shape.dims()
                )
            })?;
        let block = t.ggml_dtype.block_size() as u64;
        let bytes = (elements / block.max(1)).checked_mul(t.ggml_dtype.type_size() as u64);
        let end = bytes
            .and_then(|b| b.checked_add(t.offset))
            .and_then(|e| e.checked_add(content.tensor_data_offset));
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(format!(
                    "tensor `{name}` lies past the end of the file's {file_len} bytes"
                ))
            }
        }
    }
    Ok(())
}

/// The GGUF rewritten in memory (for candle on a GPU, and merged-model files): each tensor named in `deltas`
/// (by GGUF name) dequantised, updated and kept in f32 so a small LoRA update is not lost to
/// rounding. `None` when nothing needs rewriting.
fn rewritten(
    content: &gguf_file::Content,
    file: &mut File,
    deltas: &HashMap<String, Tensor>,
) -> candle_core::Result<Option<(gguf_file::Content, std::io::Cursor<Vec<u8>>)>> {
    use candle_core::quantized::{GgmlDType, QTensor};
    if deltas.is_empty() {
        return Ok(None);
    }
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let t = content.tensor(file, name, &Device::Cpu)?;
        let t = if let Some(delta) = deltas.get(name.as_str()) {
            let merged = (t.dequantize(&Device::Cpu)? + delta)?;
            QTensor::quantize(&merged, GgmlDType::F32)?
        } else {
            t
        };
        tensors.push((name.clone(), t));
    }
    let metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut buf = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut buf, &metadata, &refs)?;
    buf.set_position(0);
    let content = gguf_file::Content::read(&mut buf)?;
    Ok(Some((content, buf)))
}

/// An adapter's updates by GGUF tensor name, in the GGUF's row order, checked against the file.
fn gguf_deltas(
    path: &Path,
    content: &gguf_file::Content,
    architecture: &str,
    adapter: &Path,
) -> Result<HashMap<String, Tensor>, LlmError> {
    use super::layout;
    let meta = &content.metadata;
    let heads = meta_u32(meta, &format!("{architecture}.attention.head_count"))
        .filter(|h| *h > 0)
        .ok_or_else(|| LlmError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("the metadata has no `{architecture}.attention.head_count`"),
        })? as usize;
    let kv_heads = meta_u32(meta, &format!("{architecture}.attention.head_count_kv"))
        .map_or(heads, |k| k as usize);
    let misfit = |reason: String| LlmError::Adapter {
        path: adapter.to_path_buf(),
        reason: format!("does not fit {}: {reason}", path.display()),
    };
    let mut out = HashMap::new();
    for (hf, delta) in super::adapter::deltas(adapter, &Device::Cpu)? {
        let gguf = layout::gguf_name(&hf).ok_or_else(|| {
            misfit(format!(
                "it adapts `{hf}`, which this runtime does not know"
            ))
        })?;
        let info = content
            .tensor_infos
            .get(&gguf)
            .ok_or_else(|| misfit(format!("the model has no `{gguf}` for `{hf}`")))?;
        if info.shape.dims() != delta.dims() {
            return Err(misfit(format!(
                "`{hf}` is {:?} in the model and {:?} in the adapter",
                info.shape.dims(),
                delta.dims()
            )));
        }
        // llama.cpp stores Llama's query and key rows interleaved; Qwen2's stay as trained.
        let delta = match layout::permuted_heads(&hf, heads, kv_heads) {
            Some(n) if architecture != "qwen2" => layout::to_interleaved(&delta, n)?,
            _ => delta,
        };
        out.insert(gguf, delta);
    }
    Ok(out)
}

fn info_of(path: &Path, content: &gguf_file::Content) -> ModelInfo {
    let meta = &content.metadata;
    let architecture = meta_str(meta, "general.architecture").unwrap_or_else(|| "unknown".into());
    let parameters = content
        .tensor_infos
        .values()
        .map(|t| t.shape.elem_count() as u64)
        .sum();
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for t in content.tensor_infos.values() {
        *kinds.entry(format!("{:?}", t.ggml_dtype)).or_default() += t.shape.elem_count();
    }
    let quantization = kinds
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(k, _)| k)
        .unwrap_or_default();
    ModelInfo {
        path: path.to_path_buf(),
        name: meta_str(meta, "general.name").unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        context_length: meta_u32(meta, &format!("{architecture}.context_length")).unwrap_or(2048)
            as usize,
        vocab_size: meta
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
            .map_or(0, |v| v.len()),
        chat_template: meta_str(meta, "tokenizer.chat_template"),
        adapter: None,
        architecture,
        parameters,
        quantization,
    }
}

/// Writes the GGUF at `path` with `adapter` merged into its weights to `out`, atomically.
pub fn write_merged(path: &Path, adapter: &Path, out: &Path) -> Result<(), LlmError> {
    // Writing over the base would lose it: the merge cannot be undone.
    if let (Ok(a), Ok(b)) = (path.canonicalize(), out.canonicalize()) {
        if a == b {
            return Err(LlmError::Compute(format!(
                "--out {} is the base model itself; merging over it would lose the base, so \
                 write the merged model to another file",
                out.display()
            )));
        }
    }
    let (mut file, content) = read_content(path)?;
    let architecture = info_of(path, &content).architecture;
    let deltas = gguf_deltas(path, &content, &architecture, adapter)?;
    let corrupt = |e: candle_core::Error| LlmError::Corrupt {
        path: path.to_path_buf(),
        reason: reason(&e),
    };
    let (_, buf) = rewritten(&content, &mut file, &deltas)
        .map_err(corrupt)?
        .ok_or_else(|| LlmError::Adapter {
            path: adapter.to_path_buf(),
            reason: "adapts nothing".into(),
        })?;
    let write_err =
        |e: std::io::Error| LlmError::Compute(format!("cannot write {}: {e}", out.display()));
    crate::fsutil::write_atomic(out, &buf.into_inner()).map_err(write_err)
}

/// Metadata only, without loading the weights.
pub fn info(path: &Path) -> Result<ModelInfo, LlmError> {
    let (_, content) = read_content(path)?;
    Ok(info_of(path, &content))
}

enum Weights {
    /// Our own forward pass (GGUF on the CPU).
    Cpu(Box<logreasoner_cpu::CpuModel>),
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    /// A Hugging Face Llama; its key-value cache is rebuilt for every generation.
    LlamaHf {
        model: llama::Llama,
        config: llama::Config,
        cache: llama::Cache,
    },
    Qwen2Hf(qwen2::ModelForCausalLM),
}

impl Weights {
    /// Logits of the last of `ids` (at positions `pos..`), as one vector.
    fn forward(&mut self, ids: &[u32], pos: usize, device: &Device) -> candle_core::Result<Tensor> {
        let input = || Tensor::new(ids, device)?.unsqueeze(0);
        let logits = match self {
            Weights::Cpu(m) => {
                let logits = m.forward(ids, pos).map_err(candle_core::Error::Msg)?;
                let n = logits.len();
                Tensor::from_vec(logits, n, &Device::Cpu)?
            }
            Weights::Llama(m) => m.forward(&input()?, pos)?,
            Weights::Qwen2(m) => m.forward(&input()?, pos)?,
            Weights::LlamaHf { model, cache, .. } => model.forward(&input()?, pos, cache)?,
            Weights::Qwen2Hf(m) => m.forward(&input()?, pos)?,
        };
        logits.flatten_all()?.to_dtype(candle_core::DType::F32)
    }

    /// Forgets the previous generation's keys and values.
    fn reset(&mut self, device: &Device) -> candle_core::Result<()> {
        match self {
            // These start over at position 0 by themselves.
            Weights::Cpu(_) | Weights::Llama(_) | Weights::Qwen2(_) => {}
            Weights::LlamaHf { config, cache, .. } => {
                *cache = llama::Cache::new(true, candle_core::DType::F32, config, device)?
            }
            Weights::Qwen2Hf(m) => m.clear_kv_cache(),
        }
        Ok(())
    }
}

/// Sampling and stopping settings of one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// Most tokens to generate (an appended answer cue's line may add up to 24).
    pub max_tokens: usize,
    /// 0 means greedy decoding.
    pub temperature: f64,
    /// Sample only among this many likeliest tokens (0 counts as 1).
    pub top_k: usize,
    /// Nucleus sampling: keep the likeliest tokens up to this total probability.
    pub top_p: f64,
    /// Penalty on tokens among the last `repeat_last_n`; 1 means none.
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Seed of the sampler, so the same prompt and settings write the same text.
    pub seed: u64,
    /// Generation stops before the first of these strings, which is left out of the text.
    pub stop: Vec<String>,
    /// Keep going past the end token (benchmarks that need a fixed number of tokens).
    pub ignore_eos: bool,
    /// When the model ends (or runs out of tokens) without writing this cue (e.g. `Answer:`), the
    /// cue is appended and the model completes that one line greedily (at most 24 tokens), so a
    /// small model that rambles still commits to an answer. The cue and its line are part of the
    /// returned text.
    pub answer_cue: Option<String>,
    /// The answers the appended cue's line may hold (`normal`, `abnormal`): the model's likeliest
    /// of them is written instead of a free line, so a reasoning cut off by `max_tokens` still
    /// closes with a readable label. Empty: the line is free.
    pub answer_choices: Vec<String>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        GenerationParams {
            max_tokens: 256,
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 42,
            stop: Vec::new(),
            ignore_eos: false,
            answer_cue: None,
            answer_choices: Vec::new(),
        }
    }
}

impl GenerationParams {
    /// The configured generation defaults; the fields they lack keep their defaults.
    pub fn from_defaults(d: &crate::config::GenerationDefaults) -> Self {
        GenerationParams {
            max_tokens: d.max_tokens,
            temperature: f64::from(d.temperature),
            top_k: d.top_k,
            top_p: f64::from(d.top_p),
            repeat_penalty: d.repeat_penalty,
            seed: d.seed,
            ..Default::default()
        }
    }
}

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model wrote an end-of-sequence token.
    EndToken,
    /// The text reached one of the stop strings.
    StopString,
    /// `max_tokens` tokens were generated.
    MaxTokens,
    /// The cancel flag was set.
    Cancelled,
}

/// The result of a generation, with its speed.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated text, cut before any stop string (with the answer cue's line if added).
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Of those, how many the prompt-prefix cache already held (not run again).
    pub cached_tokens: usize,
    /// Tokens generated, the end token included.
    pub generated_tokens: usize,
    /// Why generation stopped.
    pub stop: StopReason,
    /// Seconds from the start (tokenizing included) to the first generated token.
    pub prefill_secs: f64,
    /// Seconds from the first generated token to the end.
    pub decode_secs: f64,
    /// Seconds from the start to the first generated token.
    pub first_token_secs: Option<f64>,
}

impl Generation {
    /// Prompt tokens run per second of the prefill (cached ones were not run).
    pub fn prefill_tokens_per_sec(&self) -> f64 {
        self.prompt_tokens.saturating_sub(self.cached_tokens) as f64 / self.prefill_secs.max(1e-9)
    }

    /// Tokens per second after the first one, which comes from the prefill pass.
    pub fn decode_tokens_per_sec(&self) -> f64 {
        // The first generated token comes from the prefill pass.
        self.generated_tokens.saturating_sub(1) as f64 / self.decode_secs.max(1e-9)
    }
}

/// A local model loaded with candle: weights, tokenizer and chat template on one device.
pub struct Model {
    /// What the model is: name, size, context and merged adapter.
    pub info: ModelInfo,
    weights: Weights,
    tokenizer: tokenizers::Tokenizer,
    device: Device,
    bos: String,
    eos_text: String,
    eos_ids: Vec<u32>,
    /// candle's quantized models precompute rotary tables for this many positions.
    max_positions: usize,
    /// What our CPU forward pass's key-value cache holds, and snapshots of shared prompt starts.
    prefix: super::prefix::PrefixCache,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("info", &self.info).finish()
    }
}

impl Model {
    pub(crate) fn llama_hf(
        parts: Parts,
        model: llama::Llama,
        config: llama::Config,
        device: &Device,
    ) -> Result<Model, LlmError> {
        let cache = llama::Cache::new(true, candle_core::DType::F32, &config, device)?;
        Ok(Self::assemble(
            parts,
            Weights::LlamaHf {
                model,
                config,
                cache,
            },
            device,
        ))
    }

    pub(crate) fn qwen2_hf(parts: Parts, model: qwen2::ModelForCausalLM, device: &Device) -> Model {
        Self::assemble(parts, Weights::Qwen2Hf(model), device)
    }

    fn assemble(parts: Parts, weights: Weights, device: &Device) -> Model {
        let max_positions = parts.info.context_length;
        Model {
            info: parts.info,
            weights,
            tokenizer: parts.tokenizer,
            device: device.clone(),
            bos: parts.bos,
            eos_text: parts.eos_text,
            eos_ids: parts.eos_ids,
            max_positions,
            prefix: super::prefix::PrefixCache::default(),
        }
    }
}

/// The GGUF's metadata, tokenizer and special tokens (everything but the weights).
pub(crate) fn gguf_parts(path: &Path, content: &gguf_file::Content) -> Result<Parts, LlmError> {
    let info = info_of(path, content);
    let tokenizer =
        super::tokenizer::from_gguf(&content.metadata).map_err(|reason| LlmError::Tokenizer {
            path: path.to_path_buf(),
            reason,
        })?;
    let vocab = tokenizer.get_vocab_size(true);
    if vocab < info.vocab_size {
        return Err(LlmError::Tokenizer {
            path: path.to_path_buf(),
            reason: format!("{vocab} tokens for a model with {}", info.vocab_size),
        });
    }
    let token = |key: &str| meta_u32(&content.metadata, key);
    let bos_id = token("tokenizer.ggml.bos_token_id");
    let eos_id = token("tokenizer.ggml.eos_token_id");
    let id_text = |id: Option<u32>| {
        id.and_then(|i| tokenizer.id_to_token(i))
            .unwrap_or_default()
    };
    let (bos, eos_text) = (id_text(bos_id), id_text(eos_id));
    let mut eos_ids: Vec<u32> = eos_id.into_iter().collect();
    // Chat models end a turn with their end-of-turn token even where EOS differs.
    for t in ["<|im_end|>", "<|eot_id|>", "<|endoftext|>"] {
        if let Some(id) = tokenizer.token_to_id(t) {
            if !eos_ids.contains(&id) {
                eos_ids.push(id);
            }
        }
    }
    Ok(Parts {
        info,
        tokenizer,
        bos,
        eos_text,
        eos_ids,
    })
}

/// Rotary tables of candle's quantized Llama cover this many positions.
const CANDLE_MAX_SEQ: usize = 4096;

impl Model {
    /// Loads a GGUF file, or a Hugging Face folder (config.json, tokenizer.json, *.safetensors).
    pub fn load(path: &Path, device: &Device) -> Result<Model, LlmError> {
        Model::load_adapted(path, None, device)
    }

    /// Loads a model with a PEFT LoRA adapter merged into its weights (none when `adapter` is
    /// `None`).
    pub fn load_adapted(
        path: &Path,
        adapter: Option<&Path>,
        device: &Device,
    ) -> Result<Model, LlmError> {
        Model::load_gguf_or_folder(path, adapter, device, true)
    }

    /// A GGUF file run by candle's own quantized models on the CPU: the reference our forward
    /// pass is checked and benchmarked against.
    pub fn load_with_candle(path: &Path) -> Result<Model, LlmError> {
        Model::load_gguf_or_folder(path, None, &Device::Cpu, false)
    }

    fn load_gguf_or_folder(
        path: &Path,
        adapter: Option<&Path>,
        device: &Device,
        own_cpu_forward: bool,
    ) -> Result<Model, LlmError> {
        if path.is_dir() {
            return match super::hf::load(path, adapter, device)? {
                HfModel::Llama {
                    parts,
                    model,
                    config,
                } => Model::llama_hf(parts, model, config, device),
                HfModel::Qwen2 { parts, model } => Ok(Model::qwen2_hf(parts, model, device)),
            };
        }
        let (mut file, content) = read_content(path)?;
        let parts = gguf_parts(path, &content)?;
        let Parts {
            mut info,
            tokenizer,
            bos,
            eos_text,
            eos_ids,
        } = parts;
        info.adapter = adapter.map(Path::to_path_buf);
        let corrupt = |e: candle_core::Error| LlmError::Corrupt {
            path: path.to_path_buf(),
            reason: reason(&e),
        };
        let deltas = match adapter {
            Some(dir) => gguf_deltas(path, &content, &info.architecture, dir)?,
            None => HashMap::new(),
        };
        let arch = info.architecture.as_str();
        // Our pass on every CPU (AVX-512, AVX2 or portable kernels), so the context is the
        // model's own: candle's quantized Llama stops at 4,096 positions.
        let own =
            own_cpu_forward && device.is_cpu() && matches!(arch, "llama" | "mistral" | "qwen2");
        let (weights, max_positions) = if own {
            let weights = logreasoner_cpu::CpuModel::load(&content, &mut file, arch, &deltas)
                .map_err(|e| LlmError::Corrupt {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            (Weights::Cpu(Box::new(weights)), info.context_length)
        } else {
            // candle: on a GPU, or on the CPU as the reference our pass is checked against.
            let rewritten = rewritten(&content, &mut file, &deltas).map_err(corrupt)?;
            let weights = match (arch, rewritten) {
                ("llama" | "mistral", Some((content, mut buf))) => Weights::Llama(
                    quantized_llama::ModelWeights::from_gguf(content, &mut buf, device)
                        .map_err(corrupt)?,
                ),
                ("llama" | "mistral", None) => Weights::Llama(
                    quantized_llama::ModelWeights::from_gguf(content, &mut file, device)
                        .map_err(corrupt)?,
                ),
                ("qwen2", Some((content, mut buf))) => Weights::Qwen2(
                    quantized_qwen2::ModelWeights::from_gguf(content, &mut buf, device)
                        .map_err(corrupt)?,
                ),
                ("qwen2", None) => Weights::Qwen2(
                    quantized_qwen2::ModelWeights::from_gguf(content, &mut file, device)
                        .map_err(corrupt)?,
                ),
                (other, _) => {
                    return Err(LlmError::Unsupported {
                        path: path.to_path_buf(),
                        architecture: other.to_string(),
                    })
                }
            };
            (weights, info.context_length.min(CANDLE_MAX_SEQ))
        };
        Ok(Model {
            info,
            weights,
            tokenizer,
            device: device.clone(),
            bos,
            eos_text,
            eos_ids,
            max_positions,
            prefix: super::prefix::PrefixCache::default(),
        })
    }

    /// Token ids of `text`; special tokens in the text are recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| LlmError::Compute(format!("tokenizer: {e}")))
    }

    /// Text of token ids, special tokens left out; empty when they do not decode.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids, true).unwrap_or_default()
    }

    /// The model's context in tokens (as far as this runtime can use it).
    pub fn context_limit(&self) -> usize {
        self.max_positions
    }

    /// The prompt text for `messages` in the model's chat template, ready for the assistant's turn.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<String, LlmError> {
        let template = chat::template_of(&self.info, &self.tokenizer);
        Ok(chat::render(
            template,
            messages,
            &self.bos,
            &self.eos_text,
            true,
        )?)
    }

    /// The next-token logits after `prompt` (already in chat form), from an empty cache: what
    /// evaluation and adapter checks compare.
    pub fn next_logits(&mut self, prompt: &str) -> Result<Vec<f32>, LlmError> {
        let ids = self.encode(prompt)?;
        if ids.is_empty() || ids.len() > self.max_positions {
            return Err(LlmError::ContextTooLong {
                prompt: ids.len(),
                max_new: 0,
                limit: self.max_positions,
            });
        }
        self.weights.reset(&self.device)?;
        self.prefix.forget_live();
        let logits = self.feed(&ids, 0)?;
        Ok(logits.to_vec1()?)
    }

    /// Runs `ids` at positions `pos..`, keeping the prefix cache's record of the model's
    /// key-value cache true (a failed pass leaves it unknown, so it is forgotten).
    fn feed(&mut self, ids: &[u32], pos: usize) -> candle_core::Result<Tensor> {
        match self.weights.forward(ids, pos, &self.device) {
            Ok(logits) => {
                self.prefix.fed(ids);
                Ok(logits)
            }
            Err(e) => {
                self.prefix.forget_live();
                Err(e)
            }
        }
    }

    /// Bounds the prompt-prefix cache's snapshots to `bytes`, dropping what it holds.
    pub fn set_prefix_budget(&mut self, bytes: usize) {
        self.prefix = super::prefix::PrefixCache::with_budget(bytes);
    }

    /// Forgets every cached prompt start, so the next prompt is read whole (a benchmark's cold
    /// prefill).
    pub fn clear_prefix_cache(&mut self) {
        self.prefix.clear();
    }

    /// Prompt-prefix cache: snapshots held and the bytes they take.
    pub fn prefix_cache_usage(&self) -> (usize, usize) {
        (self.prefix.len(), self.prefix.bytes())
    }

    /// Readies the model for `prompt_ids`: the start the prefix cache holds is skipped, and all
    /// but the last pass of the rest is run (in passes, so a cancel takes effect within one).
    /// Returns the tokens skipped, the next position and the tokens still to run.
    fn start_prompt(
        &mut self,
        prompt_ids: &[u32],
        cancel: &AtomicBool,
    ) -> Result<(usize, usize, Vec<u32>), LlmError> {
        let Weights::Cpu(model) = &mut self.weights else {
            // candle's models start over; the live record starts over with them.
            self.weights.reset(&self.device)?;
            self.prefix.forget_live();
            return Ok((0, 0, prompt_ids.to_vec()));
        };
        let cached = self.prefix.prepare(model, prompt_ids);
        let mut pos = cached;
        let mut input = prompt_ids[cached..].to_vec();
        while input.len() > logreasoner_cpu::PASS_TOKENS && !cancel.load(Ordering::Relaxed) {
            let chunk: Vec<u32> = input.drain(..logreasoner_cpu::PASS_TOKENS).collect();
            self.feed(&chunk, pos)?;
            pos += logreasoner_cpu::PASS_TOKENS;
        }
        Ok((cached, pos, input))
    }

    /// Generates from `prompt` (already in chat form), handing each new piece of text to `on_text` as it
    /// is decoded. `cancel` is checked before every token. The prompt and `max_tokens` must fit the
    /// context: otherwise nothing runs and the error says by how much.
    pub fn generate(
        &mut self,
        prompt: &str,
        params: &GenerationParams,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, LlmError> {
        let start = Instant::now();
        let prompt_ids = self.encode(prompt)?;
        let limit = self.max_positions;
        if prompt_ids.is_empty() || prompt_ids.len() + params.max_tokens > limit {
            return Err(LlmError::ContextTooLong {
                prompt: prompt_ids.len(),
                max_new: params.max_tokens,
                limit,
            });
        }
        let sampling = if params.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::TopKThenTopP {
                k: params.top_k.max(1),
                p: params.top_p,
                temperature: params.temperature,
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling);
        let mut all: Vec<u32> = prompt_ids.clone();
        let mut generated: Vec<u32> = Vec::new();
        let mut text = String::new();
        let mut stop = StopReason::MaxTokens;
        let mut prefill_secs = 0.0;
        let mut first_token_secs = None;
        let decode_start = Instant::now();
        let mut decode_from = decode_start;

        let (cached_tokens, mut pos, mut input) = self.start_prompt(&prompt_ids, cancel)?;
        for step in 0..params.max_tokens {
            if cancel.load(Ordering::Relaxed) {
                stop = StopReason::Cancelled;
                break;
            }
            let logits = self.feed(&input, pos)?;
            pos += input.len();
            let logits = if (params.repeat_penalty - 1.0).abs() < f32::EPSILON {
                logits
            } else {
                let from = all.len().saturating_sub(params.repeat_last_n);
                candle_transformers::utils::apply_repeat_penalty(
                    &logits,
                    params.repeat_penalty,
                    &all[from..],
                )?
            };
            let next = sampler.sample(&logits)?;
            if step == 0 {
                prefill_secs = start.elapsed().as_secs_f64();
                first_token_secs = Some(prefill_secs);
                decode_from = Instant::now();
            }
            if self.eos_ids.contains(&next) && !params.ignore_eos {
                stop = StopReason::EndToken;
                break;
            }
            all.push(next);
            generated.push(next);
            // Decode the whole answer and emit what is new; hold back a partial UTF-8 sequence.
            let full = self.decode(&generated);
            if full.len() > text.len() && !full.ends_with('\u{fffd}') {
                let new = full[text.len()..].to_string();
                text = full;
                if let Some(at) = params
                    .stop
                    .iter()
                    .filter_map(|s| text.find(s.as_str()))
                    .min()
                {
                    let keep = at.saturating_sub(text.len() - new.len());
                    on_text(&new[..keep.min(new.len())]);
                    text.truncate(at);
                    stop = StopReason::StopString;
                    break;
                }
                on_text(&new);
            }
            input = vec![next];
        }
        if let Some(cue) = params.answer_cue.as_deref() {
            let pending = (stop == StopReason::MaxTokens)
                .then(|| generated.last().copied())
                .flatten();
            let has_cue = text.to_lowercase().contains(&cue.to_lowercase());
            if matches!(stop, StopReason::EndToken | StopReason::MaxTokens) && !has_cue {
                let cue_text = if text.is_empty() || text.ends_with('\n') {
                    cue.to_string()
                } else {
                    format!("\n{cue}")
                };
                let cue_ids = self.encode(&cue_text)?;
                let fits = pos + cue_ids.len() + 1 + ANSWER_TOKENS < limit;
                if fits && !cue_ids.is_empty() {
                    let mut feed: Vec<u32> = pending.into_iter().collect();
                    feed.extend(&cue_ids);
                    text.push_str(&cue_text);
                    on_text(&cue_text);
                    let (line, ids) = self.answer_line(feed, pos, params, cancel, on_text)?;
                    text.push_str(&line);
                    generated.extend(ids);
                }
            }
        }
        let decode_secs = decode_from.elapsed().as_secs_f64();
        Ok(Generation {
            text,
            prompt_tokens: prompt_ids.len(),
            cached_tokens,
            generated_tokens: generated.len() + usize::from(stop == StopReason::EndToken),
            stop,
            prefill_secs,
            decode_secs,
            first_token_secs,
        })
    }
}

/// Tokens the answer line may take after an appended cue.
const ANSWER_TOKENS: usize = 24;

impl Model {
    /// The line after an appended answer cue (`input`: the cue's tokens, fed from `pos`): the
    /// likeliest of `params.answer_choices`, or else at most [`ANSWER_TOKENS`] greedy tokens to
    /// the end of the line. Returns the line's text and its tokens.
    fn answer_line(
        &mut self,
        mut input: Vec<u32>,
        mut pos: usize,
        params: &GenerationParams,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<(String, Vec<u32>), LlmError> {
        let mut answer: Vec<u32> = Vec::new();
        let mut greedy = LogitsProcessor::from_sampling(params.seed, Sampling::ArgMax);
        let mut shown = String::new();
        for step in 0..ANSWER_TOKENS {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let logits = self.feed(&input, pos)?;
            pos += input.len();
            if step == 0 {
                if let Some((choice, ids)) =
                    self.likeliest_choice(&params.answer_choices, &logits)?
                {
                    on_text(&choice);
                    return Ok((choice, ids));
                }
            }
            let next = greedy.sample(&logits)?;
            if self.eos_ids.contains(&next) {
                break;
            }
            answer.push(next);
            let full = self.decode(&answer);
            // The line ends at the first newline after some text.
            let lead = full.len() - full.trim_start().len();
            if let Some(nl) = full[lead..].find('\n').map(|at| at + lead) {
                let line = &full[..nl];
                on_text(&line[shown.len().min(line.len())..]);
                shown = line.to_string();
                break;
            }
            if !full.ends_with('\u{fffd}') {
                on_text(&full[shown.len().min(full.len())..]);
                shown = full;
            }
            input = vec![next];
        }
        Ok((shown, answer))
    }

    /// The answer of `choices` the model rates likeliest next (by the logit of each one's first
    /// token, `logits` being those after the cue), as text with its leading space and its tokens.
    /// `None` without choices, or when two of them start with the same token and the first token
    /// cannot tell them apart: the answer line is then written freely.
    fn likeliest_choice(
        &self,
        choices: &[String],
        logits: &Tensor,
    ) -> Result<Option<(String, Vec<u32>)>, LlmError> {
        let mut encoded = Vec::with_capacity(choices.len());
        for c in choices {
            let text = format!(" {}", c.trim());
            let ids = self.encode(&text)?;
            encoded.push((text, ids));
        }
        let firsts: Vec<u32> = encoded
            .iter()
            .filter_map(|(_, ids)| ids.first().copied())
            .collect();
        let distinct = firsts.len() == choices.len()
            && firsts
                .iter()
                .enumerate()
                .all(|(i, f)| !firsts[..i].contains(f));
        if choices.is_empty() || !distinct {
            return Ok(None);
        }
        let scores = logits
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        let score = |id: u32| {
            scores
                .get(id as usize)
                .copied()
                .unwrap_or(f32::NEG_INFINITY)
        };
        Ok(encoded
            .into_iter()
            .max_by(|(_, a), (_, b)| score(a[0]).total_cmp(&score(b[0]))))
    }
}

/// The compute device named in the configuration.
pub fn device(d: crate::config::Device) -> Result<Device, LlmError> {
    match d {
        crate::config::Device::Cpu => Ok(Device::Cpu),
        crate::config::Device::Cuda(n) => Device::new_cuda(n).map_err(|e| {
            LlmError::Compute(format!("cannot use cuda:{n} ({e}); build with `--features cuda` on a machine with a GPU, or use --device cpu"))
        }),
    }
}
