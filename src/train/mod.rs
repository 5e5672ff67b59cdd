//! Fine-tuning in candle: a trainable Llama/Qwen2 decoder with LoRA adapters over frozen base weights
//! (`model`) and supervised fine-tuning on the assistant's tokens (`sft`). DPO, PEFT adapter files,
//! detached runs and the Train screen build on these.

pub mod dpo;
pub mod model;
pub mod sft;

#[cfg(test)]
mod tests;
