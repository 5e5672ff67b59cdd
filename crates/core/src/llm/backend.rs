//! Which model answers: the local one (candle) or an OpenAI-compatible server, chosen by
//! configuration. Every feature generates through [`Backend::chat`], so the two are interchangeable.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use candle_core::Device;

use super::chat::Message;
use super::model::{self, Generation, GenerationParams, LlmError, Model, ModelInfo};
use super::remote::{self, Remote};
use crate::config::{Config, RemoteSettings};

/// What to open, decided on the calling thread and opened where the model will live.
#[derive(Debug, Clone)]
pub enum BackendSpec {
    /// The local model, run with candle in this process.
    Local {
        /// The model: a GGUF file or a Hugging Face folder.
        path: PathBuf,
        /// A PEFT LoRA adapter merged into the model at load.
        adapter: Option<PathBuf>,
        /// Where the model runs (CPU or a CUDA GPU).
        device: Device,
    },
    /// An OpenAI-compatible server named in the config file.
    Remote(RemoteSettings),
}

impl BackendSpec {
    /// The remote server when the configuration names one, else the configured local model.
    pub fn from_config(config: &Config) -> Result<BackendSpec, LlmError> {
        Ok(match &config.remote {
            Some(r) => BackendSpec::Remote(r.clone()),
            None => BackendSpec::Local {
                path: config.model.value.clone(),
                // A run folder stands for the adapter inside it.
                adapter: config
                    .adapter
                    .as_ref()
                    .map(|a| super::adapter::locate(&a.value).unwrap_or_else(|_| a.value.clone())),
                device: model::device(config.device.value)?,
            },
        })
    }

    /// Whether opening can work at all: a local model file exists (a remote is checked on use).
    pub fn available(&self) -> Result<(), LlmError> {
        match self {
            BackendSpec::Local { path, .. } if !path.exists() => {
                Err(LlmError::Missing { path: path.clone() })
            }
            _ => Ok(()),
        }
    }

    /// Loads the local model (slow: reads and merges the weights) or connects to the server;
    /// fails when the model cannot be read or the server's API key cannot be found.
    pub fn open(&self) -> Result<Backend, LlmError> {
        match self {
            BackendSpec::Local {
                path,
                adapter,
                device,
            } => Ok(Backend::Local(Box::new(Model::load_adapted(
                path,
                adapter.as_deref(),
                device,
            )?))),
            BackendSpec::Remote(r) => {
                let env = |k: &str| std::env::var(k).ok();
                let key = remote::api_key(r, &env)?;
                Ok(Backend::Remote(Remote::new(r, key)))
            }
        }
    }
}

/// An opened model that answers chats.
#[derive(Debug)]
pub enum Backend {
    /// The local model, loaded with its adapter merged in.
    Local(Box<Model>),
    /// A chat-completions server.
    Remote(Remote),
}

impl Backend {
    /// The name recorded with what the model wrote.
    pub fn name(&self) -> String {
        match self {
            Backend::Local(m) => m.info.name.clone(),
            Backend::Remote(r) => r.model.clone(),
        }
    }

    /// What the status bar and `Loaded` report.
    pub fn info(&self) -> ModelInfo {
        match self {
            Backend::Local(m) => m.info.clone(),
            Backend::Remote(r) => ModelInfo {
                path: PathBuf::from(&r.url),
                name: r.model.clone(),
                architecture: "remote".into(),
                parameters: 0,
                quantization: "-".into(),
                context_length: 0,
                vocab_size: 0,
                chat_template: None,
                adapter: None,
            },
        }
    }

    /// A chat, streamed to `on_text`. The answer cue is the local model's (a server cannot be asked
    /// to continue its own turn portably); a remote answer without one is read as it is.
    pub fn chat(
        &mut self,
        messages: &[Message],
        params: &GenerationParams,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, LlmError> {
        match self {
            Backend::Local(m) => {
                let prompt = m.chat_prompt(messages)?;
                m.generate(&prompt, params, cancel, on_text)
            }
            Backend::Remote(r) => r.chat(messages, params, cancel, on_text),
        }
    }
}
