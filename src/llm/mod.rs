//! The local model runtime: loading GGUF models of the Llama and Qwen2 families with candle, their
//! tokenizer and chat template, and streaming generation.

pub mod backend;
pub mod chat;
pub mod engine;
pub mod fetch;
mod hf;
pub mod model;
pub mod remote;
pub mod tokenizer;
