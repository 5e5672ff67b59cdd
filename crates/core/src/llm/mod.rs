//! The local model runtime: loading GGUF models of the Llama and Qwen2 families with candle, their
//! tokenizer and chat template, and streaming generation.

pub mod adapter;
pub mod backend;
pub mod chat;
pub mod engine;
pub mod error;
pub mod fetch;
mod gguf_check;
mod hf;
pub mod info;
pub mod layout;
pub mod model;
pub mod prefix;
pub mod remote;
pub mod tokenizer;

/// A Hugging Face folder's config, weight files and tokenizer, without its weights (training reads
/// the weights itself).
pub(crate) fn hf_folder(dir: &std::path::Path) -> Result<hf::Folder, error::LlmError> {
    hf::read(dir)
}

/// What runs GGUF products on this CPU, for `model info`.
pub fn cpu_kernels() -> &'static str {
    logreasoner_cpu::kernel_description()
}
