//! The one generation API the TUI and the CLI share: a model owned by its own thread, requests sent
//! in, text streamed back through a channel, cancellation within one token. The UI thread never
//! waits on the model.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use candle_core::Device;

use super::backend::BackendSpec;
use super::chat::Message;
use super::model::{Generation, GenerationParams, ModelInfo};

/// What a running generation reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The model is loaded (sent once, before the first generation).
    Loaded(ModelInfo),
    /// New text of the answer.
    Text(String),
    /// The answer is complete (or was cancelled), with its speed.
    Done(Generation),
    /// Loading or generating failed; the message says what to do.
    Failed(String),
}

struct Request {
    messages: Vec<Message>,
    params: GenerationParams,
    cancel: Arc<AtomicBool>,
    events: Sender<Event>,
}

/// A handle on a running generation: its events, and a way to stop it.
pub struct Running {
    /// What the generation reports, in order, ending with `Done` or `Failed`.
    pub events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
}

impl Running {
    /// A handle on events that arrive on `events` (the engine makes these; tests and other
    /// backends may feed one themselves).
    pub fn from_channel(events: Receiver<Event>) -> Running {
        Running {
            events,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether [`Running::cancel`] has been called.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Stops the generation before its next token.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The model's thread. Dropping the engine ends the thread after the current request.
pub struct Engine {
    requests: Sender<Request>,
}

impl Engine {
    /// Starts the thread and loads the model there; `Loaded` or `Failed` arrives on the returned
    /// receiver.
    pub fn start(path: PathBuf, device: Device) -> std::io::Result<(Engine, Receiver<Event>)> {
        Engine::start_with(BackendSpec::Local {
            path,
            adapter: None,
            device,
        })
    }

    /// Like [`Engine::start`], for any backend (the local model or a remote server).
    pub fn start_with(spec: BackendSpec) -> std::io::Result<(Engine, Receiver<Event>)> {
        let (requests, inbox) = channel::<Request>();
        let (status, status_rx) = channel();
        std::thread::Builder::new()
            .name("model".into())
            .spawn(move || {
                let mut model = match spec.open() {
                    Ok(m) => {
                        let _ = status.send(Event::Loaded(m.info()));
                        m
                    }
                    Err(e) => {
                        let _ = status.send(Event::Failed(e.to_string()));
                        return;
                    }
                };
                for req in inbox {
                    let result =
                        model.chat(&req.messages, &req.params, &req.cancel, &mut |piece| {
                            let _ = req.events.send(Event::Text(piece.to_string()));
                        });
                    let _ = req.events.send(match result {
                        Ok(g) => Event::Done(g),
                        Err(e) => Event::Failed(e.to_string()),
                    });
                }
            })?;
        Ok((Engine { requests }, status_rx))
    }

    /// Queues a chat; its events arrive on the returned handle.
    pub fn chat(&self, messages: Vec<Message>, params: GenerationParams) -> Running {
        let (events, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let req = Request {
            messages,
            params,
            cancel: Arc::clone(&cancel),
            events,
        };
        if let Err(e) = self.requests.send(req) {
            let _ = e.0.events.send(Event::Failed(
                "the model thread has stopped; restart logreasoner".into(),
            ));
        }
        Running { events: rx, cancel }
    }
}
