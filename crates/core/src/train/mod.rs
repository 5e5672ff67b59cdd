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
pub mod model;
pub mod peft;
pub mod run;
pub mod sft;
mod xent;

use std::path::PathBuf;

use crate::llm::model::LlmError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("training computation failed: {}", crate::llm::model::reason(.0))]
    Compute(#[from] candle_core::Error),
    #[error("{}:{line}: {reason}", path.display())]
    Data {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> TrainError {
        TrainError::Io {
            path: path.into(),
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
