//! What goes wrong loading a model or generating with it, for every loader and backend.

use std::path::PathBuf;

use super::chat::ChatError;

/// Why a model could not be loaded or could not generate.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// No model file or folder at the given path.
    #[error("no model at {path}; run `logreasoner model fetch` for the default model, or point --model at a GGUF file")]
    Missing {
        /// Where the model was looked for.
        path: PathBuf,
    },
    /// The file is not a readable GGUF model (truncated or corrupt).
    #[error("{path} is not a readable GGUF model ({reason}); it may be truncated or corrupt: fetch it again")]
    Corrupt {
        /// The model file.
        path: PathBuf,
        /// What the reader found wrong.
        reason: String,
    },
    /// The model's architecture is neither Llama- nor Qwen2-family.
    #[error("{path}: architecture `{architecture}` is not supported; use a Llama- or Qwen2-family model")]
    Unsupported {
        /// The model file or folder.
        path: PathBuf,
        /// The architecture the model names.
        architecture: String,
    },
    /// The tokenizer cannot be read or does not fit the model's vocabulary.
    #[error("{path}: the tokenizer does not fit this model: {reason}")]
    Tokenizer {
        /// The model or tokenizer file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The prompt and the tokens asked for do not fit the model's context; nothing ran.
    #[error("the prompt has {prompt} tokens and {max_new} more were asked for, but the model's context holds {limit}; shorten the input (fewer lines) or lower max tokens")]
    ContextTooLong {
        /// Tokens in the prompt.
        prompt: usize,
        /// Tokens asked for on top (0 when only the prompt runs).
        max_new: usize,
        /// Tokens the context holds.
        limit: usize,
    },
    /// The chat template could not be parsed or rendered.
    #[error(transparent)]
    Chat(#[from] ChatError),
    /// A model computation (or tokenizing, or writing a merged model) failed; holds the reason.
    #[error("model computation failed: {0}")]
    Compute(String),
    /// A LoRA adapter cannot be found, read or merged.
    #[error("adapter {path}: {reason}")]
    Adapter {
        /// The adapter folder (or the path given for it).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The remote server cannot be reached, refused, or answered something unreadable.
    #[error("remote backend {url}: {message}")]
    Remote {
        /// The server's base URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl From<candle_core::Error> for LlmError {
    fn from(e: candle_core::Error) -> Self {
        LlmError::Compute(reason(&e))
    }
}

/// A candle error's message without the backtrace candle attaches when `RUST_BACKTRACE` is set:
/// a person needs the reason, and printing a backtrace resolves symbols (hundreds of MB).
pub(crate) fn reason(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => reason(inner),
        other => other.to_string(),
    }
}
