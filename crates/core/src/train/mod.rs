//! Fine-tuning in candle: a trainable Llama/Qwen2 decoder with LoRA adapters over frozen base weights
//! (`model`) loaded from GGUF or Hugging Face weights (`base`), supervised fine-tuning on the
//! assistant's tokens (`sft`), DPO against the adapter-off reference (`dpo`), a resumable AdamW
//! (`adamw`), PEFT adapter files (`peft`), training data from JSONL (`data`), and runs in their own
//! folder that a detached process writes and the UI reads (`run`).

pub mod adamw;
pub mod base;
pub mod data;
pub mod dpo;
mod frozen;
pub mod kernels;
pub mod metrics;
pub mod model;
pub mod peft;
pub mod run;
pub mod sft;
mod xent;

use std::path::PathBuf;

use crate::llm::model::LlmError;

/// Why training (or reading its data or run folder) failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loading the base model or the adapter failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// A tensor computation failed; the message leaves out candle's backtrace.
    #[error("training computation failed: {}", crate::llm::model::reason(.0))]
    Compute(#[from] candle_core::Error),
    /// A training data file cannot be read or a row of it is malformed.
    #[error("{}:{line}: {reason}", path.display())]
    Data {
        /// The data file.
        path: PathBuf,
        /// The offending line, 1-based; 0 for the whole file.
        line: usize,
        /// What is wrong, with the layouts that are accepted.
        reason: String,
    },
    /// The base model's tokenizer failed on a text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A file or folder of the run cannot be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// A setting, run folder or model that training cannot use; the message says why.
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    /// A [`TrainError::Io`] for `path` with `e`'s message.
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> TrainError {
        TrainError::Io {
            path: path.into(),
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
