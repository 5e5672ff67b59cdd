//! A tokenizer rebuilt from GGUF metadata: the BPE vocabulary and merges, the pre-tokenizer the
//! model was trained with, and the special tokens (so `<|im_start|>` encodes as one token).

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

/// GGUF token types: 3 = control (special), 4 = user-defined.
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;

/// Qwen2's pre-tokenizer split.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn strings(meta: &HashMap<String, Value>, key: &str) -> Result<Vec<String>, String> {
    let v = meta
        .get(key)
        .ok_or_else(|| format!("no `{key}` in the GGUF metadata"))?;
    let arr = v.to_vec().map_err(|e| format!("`{key}`: {e}"))?;
    arr.iter()
        .map(|x| x.to_string().cloned().map_err(|e| format!("`{key}`: {e}")))
        .collect()
}

fn ints(meta: &HashMap<String, Value>, key: &str) -> Vec<i32> {
    meta.get(key)
        .and_then(|v| v.to_vec().ok())
        .map(|a| a.iter().filter_map(|x| x.to_i32().ok()).collect())
        .unwrap_or_default()
}

/// Builds the tokenizer; the error says what is missing or unsupported.
pub fn from_gguf(meta: &HashMap<String, Value>) -> Result<Tokenizer, String> {
    let model = meta
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if model != "gpt2" {
        return Err(format!(
            "tokenizer model `{model}` is not supported from GGUF metadata (only byte-level BPE, `gpt2`); use a Hugging Face folder with tokenizer.json"
        ));
    }
    let tokens = strings(meta, "tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> = strings(meta, "tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    let types = ints(meta, "tokenizer.ggml.token_type");
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("the BPE vocabulary does not build: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let pre = meta
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    let byte_level = ByteLevel::new(false, true, true);
    let pre_tokenizer: PreTokenizerWrapper = match pre.as_str() {
        // SmolLM: every digit on its own, then GPT-2's split.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        "qwen2" => {
            let split = Split::new(
                SplitPattern::Regex(QWEN2_SPLIT.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|e| format!("pre-tokenizer: {e}"))?;
            Sequence::new(vec![
                split.into(),
                ByteLevel::new(false, true, false).into(),
            ])
            .into()
        }
        _ => byte_level.into(),
    };
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let specials: Vec<AddedToken> = tokens
        .iter()
        .zip(types.iter().chain(std::iter::repeat(&1)))
        .filter(|(_, &t)| t == CONTROL || t == USER_DEFINED)
        .map(|(tok, &t)| AddedToken::from(tok.clone(), t == CONTROL))
        .collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}
