//! What a loaded model is ([`ModelInfo`]) and what a loader hands over before the weights are
//! bound (`Parts`); shared by the GGUF and Hugging Face loaders without either depending on the
//! other.

use std::path::PathBuf;

/// What `logreasoner model info` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The model file or folder (the server URL for a remote model).
    pub path: PathBuf,
    /// The model's own name (GGUF `general.name`), else the file or folder name.
    pub name: String,
    /// Architecture as the model names it (`llama`, `qwen2`; `remote` for a server).
    pub architecture: String,
    /// Number of weights over all tensors (0 for a remote model).
    pub parameters: u64,
    /// Tensor type holding most of the weights (e.g. `Q4_1`, `F32`; `-` for a remote model).
    pub quantization: String,
    /// Context the model declares, in tokens (2048 when unstated; 0 for a remote model).
    pub context_length: usize,
    /// Tokens in the vocabulary (0 when unknown).
    pub vocab_size: usize,
    /// The model's own Jinja chat template; `None` means a built-in fallback is used.
    pub chat_template: Option<String>,
    /// The LoRA adapter merged in at load, if any.
    pub adapter: Option<PathBuf>,
}

/// What the Hugging Face loader hands over.
pub(crate) struct Parts {
    pub info: ModelInfo,
    pub tokenizer: tokenizers::Tokenizer,
    pub bos: String,
    pub eos_text: String,
    pub eos_ids: Vec<u32>,
}
