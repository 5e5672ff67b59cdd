//! Fine-tuning in candle: a trainable Llama/Qwen2 decoder with LoRA adapters over frozen base weights
//! (`model`), supervised fine-tuning on the assistant's tokens (`sft`), DPO against the adapter-off
//! reference (`dpo`), a resumable AdamW (`adamw`) and PEFT adapter files (`peft`). The `train`
//! command, detached runs and the Train screen are still to build on these.

pub mod adamw;
pub mod dpo;
pub mod model;
pub mod peft;
pub mod sft;

#[cfg(test)]
mod tests;
