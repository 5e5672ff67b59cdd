//! The base model a run trains on: its shape, its weights in f32 under Hugging Face names (read from a
//! Hugging Face folder, or dequantised from a GGUF file with Llama's query and key rows put back in
//! Hugging Face order), its tokenizer and its chat template, which formats the training examples.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};

use super::model::{RopeScaling, Shape, Weights};
use super::sft::Example;
use super::TrainError;
use crate::llm::chat::{self, Message};
use crate::llm::layout;
use crate::llm::model::{self as runtime, LlmError, Parts};

/// The base model a run trains on: shape, f32 weights, tokenizer and chat template.
pub struct Base {
    /// The GGUF file or Hugging Face folder it was read from.
    pub path: PathBuf,
    /// The decoder's shape: sizes, rotary settings, norm epsilon, biases.
    pub config: Shape,
    /// Every base tensor in f32, by Hugging Face name.
    pub weights: Weights,
    /// Architecture as the model names it (`llama`, `qwen2`).
    pub architecture: String,
    tokenizer: tokenizers::Tokenizer,
    template: String,
    bos: String,
    eos: String,
}

/// How an example was made to fit the length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Prompt and answer fit as they are.
    Whole,
    /// The answer's end was cut at the length limit (the start is kept, as TRL does).
    Truncated,
    /// The prompt lost tokens from its middle (the log lines between its opening and its closing
    /// instructions) so the answer fits: a long window still teaches its answer rather than
    /// being dropped.
    PromptCut,
}

/// An example's tokens before fitting: the chat-rendered prompt, then the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokens {
    /// The chat-rendered prompt's token ids, then the answer's.
    pub ids: Vec<u32>,
    /// Where the answer (the learned part) starts.
    pub answer_start: usize,
}

impl Tokens {
    /// Tokens in the answer.
    pub fn answer_len(&self) -> usize {
        self.ids.len() - self.answer_start
    }

    /// The example in at most `max_len` tokens with `reserve` of them kept for the answer (an
    /// answer longer than what remains loses its end). A prompt longer than `max_len - reserve`
    /// keeps its first third and its last two thirds (the task, and the closing instructions with
    /// the turn's header) and loses its middle. The prompt's fate depends only on its own length
    /// and `reserve`, so a DPO pair fitted with one reserve keeps one prompt. `None` when no answer
    /// token fits.
    pub fn fit(&self, max_len: usize, reserve: usize) -> Option<(Example, Fit)> {
        let start = self.answer_start;
        let prompt_room = max_len.saturating_sub(reserve.max(1));
        let (mut ids, fit) = if start <= prompt_room {
            (self.ids[..start].to_vec(), Fit::Whole)
        } else {
            let head = prompt_room / 3;
            let tail = prompt_room - head;
            let mut ids = self.ids[..head].to_vec();
            ids.extend_from_slice(&self.ids[start - tail..start]);
            (ids, Fit::PromptCut)
        };
        let new_start = ids.len();
        let answer = self.answer_len().min(max_len.saturating_sub(new_start));
        // A token is learned from the one before it: the example needs a prompt token too.
        if answer == 0 || new_start == 0 {
            return None;
        }
        ids.extend_from_slice(&self.ids[start..start + answer]);
        let fit = match fit {
            Fit::Whole if answer < self.answer_len() => Fit::Truncated,
            other => other,
        };
        let learn = (0..ids.len()).map(|i| i >= new_start).collect();
        Some((Example { ids, learn }, fit))
    }
}

impl Base {
    /// Loads a GGUF file or a Hugging Face folder, in f32 on `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Base, TrainError> {
        let (config, weights, parts) = if path.is_dir() {
            from_folder(path, device)?
        } else {
            from_gguf(path, device)?
        };
        let template = chat::template_of(&parts.info, &parts.tokenizer).to_string();
        Ok(Base {
            path: path.to_path_buf(),
            config,
            weights,
            architecture: parts.info.architecture,
            tokenizer: parts.tokenizer,
            template,
            bos: parts.bos,
            eos: parts.eos_text,
        })
    }

    fn encode(&self, text: &str) -> Result<tokenizers::Encoding, TrainError> {
        self.tokenizer
            .encode(text, false)
            .map_err(|e| TrainError::Tokenizer(e.to_string()))
    }

    /// `prompt` then the assistant's `answer`, in the model's chat template, as token ids; only the
    /// answer's tokens (with the turn's end token) are learned. At most `max_len` tokens, fitted
    /// by [`Tokens::fit`] with up to half of them kept for the answer. `None` when no answer token fits.
    pub fn example(
        &self,
        prompt: &[Message],
        answer: &str,
        max_len: usize,
    ) -> Result<Option<(Example, Fit)>, TrainError> {
        let tokens = self.tokens(prompt, answer)?;
        let reserve = tokens.answer_len().min(max_len / 2);
        Ok(tokens.fit(max_len, reserve))
    }

    /// The rendered prompt and answer as tokens, with where the answer starts.
    pub fn tokens(&self, prompt: &[Message], answer: &str) -> Result<Tokens, TrainError> {
        let head = chat::render(&self.template, prompt, &self.bos, &self.eos, true)
            .map_err(LlmError::from)?;
        let mut all = prompt.to_vec();
        all.push(Message::assistant(answer));
        let full = chat::render(&self.template, &all, &self.bos, &self.eos, false)
            .map_err(LlmError::from)?;
        // Templates differ in what follows the prompt; the answer starts where the two renderings
        // part, which is the end of `head` for every template that extends its prompt.
        let split = head
            .char_indices()
            .zip(full.chars())
            .find(|((_, a), b)| a != b)
            .map_or(head.len().min(full.len()), |((i, _), _)| i);
        let enc = self.encode(&full)?;
        let ids = enc.get_ids().to_vec();
        // Offsets grow through the text, so the answer's tokens are a suffix (never the first).
        let answer_start = enc
            .get_offsets()
            .iter()
            .position(|(s, _)| *s >= split)
            .unwrap_or(ids.len())
            .max(1)
            .min(ids.len());
        Ok(Tokens { ids, answer_start })
    }
}

fn from_gguf(path: &Path, device: &Device) -> Result<(Shape, Weights, Parts), TrainError> {
    let (mut file, content) = runtime::read_content(path)?;
    let parts = runtime::gguf_parts(path, &content)?;
    let arch = parts.info.architecture.clone();
    if !matches!(arch.as_str(), "llama" | "mistral" | "qwen2") {
        return Err(LlmError::Unsupported {
            path: path.to_path_buf(),
            architecture: arch,
        }
        .into());
    }
    let meta = &content.metadata;
    let need = |key: &str| -> Result<usize, TrainError> {
        runtime::meta_u32(meta, &format!("{arch}.{key}"))
            .map(|v| v as usize)
            .ok_or_else(|| {
                TrainError::Llm(LlmError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("the metadata has no `{arch}.{key}`"),
                })
            })
    };
    let heads = need("attention.head_count")?;
    let f32_meta = |key: &str| {
        meta.get(&format!("{arch}.{key}"))
            .and_then(|v| v.to_f32().ok())
    };
    let config = Shape {
        vocab: parts.info.vocab_size,
        hidden: need("embedding_length")?,
        intermediate: need("feed_forward_length")?,
        layers: need("block_count")?,
        heads,
        kv_heads: need("attention.head_count_kv").unwrap_or(heads),
        rope_theta: f64::from(f32_meta("rope.freq_base").unwrap_or(10_000.0)),
        eps: f64::from(f32_meta("attention.layer_norm_rms_epsilon").unwrap_or(1e-5)),
        max_positions: parts.info.context_length,
        qkv_bias: content.tensor_infos.contains_key("blk.0.attn_q.bias"),
        // A GGUF file carries Llama 3's scaling as a `rope_freqs` tensor, which the runtime's
        // GGUF path does not apply either: the trainer trains the model the runtime runs.
        rope_scaling: None,
    };
    let corrupt = |e: candle_core::Error| {
        TrainError::Llm(LlmError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let mut weights = Weights::new();
    for name in content.tensor_infos.keys() {
        let Some(hf) = layout::hf_name(name) else {
            continue;
        };
        let t = content
            .tensor(&mut file, name, device)
            .and_then(|q| q.dequantize(device))
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(corrupt)?;
        let t = match layout::permuted_heads(&hf, config.heads, config.kv_heads) {
            Some(n) if arch != "qwen2" => layout::to_halves(&t, n).map_err(corrupt)?,
            _ => t,
        };
        weights.insert(hf, t);
    }
    Ok((config, weights, parts))
}

/// A config.json's `rope_scaling`: none, or Llama 3's (what the runtime's Llama applies too). Any
/// other kind is refused rather than trained without.
fn rope_scaling(
    value: Option<&serde_json::Value>,
    config: &Path,
) -> Result<Option<RopeScaling>, TrainError> {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let kind = v
        .get("rope_type")
        .or_else(|| v.get("type"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("default");
    match kind {
        "default" => return Ok(None),
        "llama3" => {}
        other => {
            return Err(TrainError::Invalid(format!(
                "{}: rope scaling of type `{other}` is not supported for training (llama3 is)",
                config.display()
            )))
        }
    }
    let number = |key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| {
                TrainError::Llm(LlmError::Corrupt {
                    path: config.to_path_buf(),
                    reason: format!("`rope_scaling` has no number `{key}`"),
                })
            })
    };
    Ok(Some(RopeScaling {
        factor: number("factor")? as f32,
        low_freq_factor: number("low_freq_factor")? as f32,
        high_freq_factor: number("high_freq_factor")? as f32,
        original_max_positions: number("original_max_position_embeddings")? as usize,
    }))
}

fn from_folder(dir: &Path, device: &Device) -> Result<(Shape, Weights, Parts), TrainError> {
    let folder = crate::llm::hf_folder(dir)?;
    let c = &folder.config;
    let arch = folder.parts.info.architecture.clone();
    if !matches!(arch.as_str(), "llama" | "mistral" | "qwen2") {
        return Err(LlmError::Unsupported {
            path: dir.to_path_buf(),
            architecture: arch,
        }
        .into());
    }
    let need = |key: &str| -> Result<usize, TrainError> {
        c.get(key)
            .and_then(serde_json::Value::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| {
                TrainError::Llm(LlmError::Corrupt {
                    path: dir.join("config.json"),
                    reason: format!("no `{key}`"),
                })
            })
    };
    let heads = need("num_attention_heads")?;
    let config = Shape {
        vocab: need("vocab_size")?,
        hidden: need("hidden_size")?,
        intermediate: need("intermediate_size")?,
        layers: need("num_hidden_layers")?,
        heads,
        kv_heads: need("num_key_value_heads").unwrap_or(heads),
        rope_theta: c
            .get("rope_theta")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(10_000.0),
        eps: c
            .get("rms_norm_eps")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(1e-5),
        max_positions: need("max_position_embeddings").unwrap_or(2048),
        qkv_bias: arch == "qwen2",
        // The runtime's Qwen2 (candle's) has no rope scaling and ignores the key: so does the
        // trainer, to train the model the runtime runs.
        rope_scaling: if arch == "qwen2" {
            None
        } else {
            rope_scaling(c.get("rope_scaling"), &dir.join("config.json"))?
        },
    };
    let mut weights = Weights::new();
    for file in &folder.files {
        let tensors = candle_core::safetensors::load(file, device).map_err(|e| {
            TrainError::Llm(LlmError::Corrupt {
                path: file.clone(),
                reason: e.to_string(),
            })
        })?;
        for (name, t) in tensors {
            let t = t.to_dtype(DType::F32)?;
            weights.insert(name, t);
        }
    }
    Ok((config, weights, folder.parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(prompt: usize, answer: usize) -> Tokens {
        Tokens {
            ids: (0..(prompt + answer) as u32).collect(),
            answer_start: prompt,
        }
    }

    fn learned(e: &Example) -> Vec<u32> {
        e.ids
            .iter()
            .zip(&e.learn)
            .filter(|(_, l)| **l)
            .map(|(i, _)| *i)
            .collect()
    }

    #[test]
    fn a_short_example_is_whole() {
        let (e, fit) = tokens(10, 5).fit(32, 5).unwrap();
        assert_eq!(fit, Fit::Whole);
        assert_eq!(e.ids.len(), 15);
        assert_eq!(learned(&e), (10..15).collect::<Vec<_>>());
    }

    #[test]
    fn a_long_prompt_loses_its_middle_and_keeps_the_answer_whole() {
        let (e, fit) = tokens(100, 8).fit(40, 8).unwrap();
        assert_eq!(fit, Fit::PromptCut);
        assert_eq!(e.ids.len(), 40);
        // 32 prompt tokens: the first 10 and the last 22 (the closing instructions).
        assert_eq!(&e.ids[..10], &(0..10).collect::<Vec<_>>()[..]);
        assert_eq!(&e.ids[10..32], &(78..100).collect::<Vec<_>>()[..]);
        assert_eq!(learned(&e), (100..108).collect::<Vec<_>>());
    }

    #[test]
    fn a_long_answer_keeps_its_start() {
        let (e, fit) = tokens(10, 100).fit(40, 20).unwrap();
        assert_eq!(fit, Fit::Truncated);
        assert_eq!(e.ids.len(), 40);
        assert_eq!(learned(&e), (10..40).collect::<Vec<_>>());
    }

    #[test]
    fn one_reserve_cuts_both_sides_of_a_pair_alike() {
        let (a, _) = tokens(100, 4).fit(40, 12).unwrap();
        let (b, _) = tokens(100, 12).fit(40, 12).unwrap();
        let prompt = |e: &Example| e.ids.iter().zip(&e.learn).filter(|(_, l)| !**l).count();
        assert_eq!(prompt(&a), prompt(&b));
        assert_eq!(a.ids[..prompt(&a)], b.ids[..prompt(&b)]);
    }

    #[test]
    fn no_room_for_an_answer_is_none() {
        assert!(tokens(10, 0).fit(32, 0).is_none());
        assert!(tokens(10, 5).fit(1, 1).is_none());
    }
}
