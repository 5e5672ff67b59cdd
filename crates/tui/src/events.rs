//! The app's one event queue. Background threads (jobs, the model engine, the log follower) and
//! screens post [`AppEvent`]s into it; the shell drains it between frames, applies the events that
//! change state screens share (the selection, the followed tail, the model's speed) and hands every
//! event to every screen. No screen writes another screen's state, and no screen polls a channel.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use logreasoner_core::llm::engine;
use logreasoner_core::logs::follow::Update;

use crate::jobs::JobOutput;
use crate::screens::Selection;

/// Something that happened, for whoever cares.
#[derive(Debug)]
pub enum AppEvent {
    /// A running job's progress note.
    JobProgress { id: u64, note: String },
    /// A job finished: its output, or why it failed.
    JobDone {
        id: u64,
        result: Result<JobOutput, String>,
    },
    /// A message of the model thread: loading (`request` 0) or one diagnosis request.
    Engine { request: u64, event: engine::Event },
    /// A batch of lines (and notes) from the Logs screen's follower `follower`; `None` when that
    /// follower stopped.
    Follow {
        follower: u64,
        update: Option<Update>,
    },
    /// The lines other screens work on changed (the Logs screen's cursor or range moved).
    SelectionChanged(Option<Selection>),
    /// New lines at the end of the followed file; `restart` when its numbering started over
    /// (another file, or this one truncated or replaced).
    LinesFollowed {
        source: String,
        lines: Vec<String>,
        last_line: usize,
        restart: bool,
    },
    /// The last generation's prefill and decode speed, for the status bar.
    ModelSpeed(String),
    /// The model engine started work on a screen's behalf (what it does, for the status bar's
    /// job list), or finished it (`None`).
    ModelWork(Option<String>),
    /// The Train screen chose the model (`None`: keep it) and the adapter (`None`: the base
    /// model alone) that generation, diagnosis and eval use from now on.
    ModelChosen {
        model: Option<std::path::PathBuf>,
        adapter: Option<std::path::PathBuf>,
    },
}

/// The queue: any thread may hold a [`Sender`]; only the shell receives.
pub struct EventQueue {
    tx: Sender<AppEvent>,
    rx: Receiver<AppEvent>,
}

impl Default for EventQueue {
    fn default() -> Self {
        let (tx, rx) = channel();
        EventQueue { tx, rx }
    }
}

impl EventQueue {
    /// A sender for a background thread.
    pub fn sender(&self) -> Sender<AppEvent> {
        self.tx.clone()
    }

    /// Posts an event; the shell delivers it before the next frame.
    pub fn post(&self, event: AppEvent) {
        // The receiver lives as long as the queue, so this cannot fail while `self` exists.
        let _ = self.tx.send(event);
    }

    /// The next event if one is waiting; never blocks.
    pub(crate) fn try_next(&self) -> Option<AppEvent> {
        self.rx.try_recv().ok()
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_within(&self, timeout: Duration) -> Option<AppEvent> {
        self.rx.recv_timeout(timeout).ok()
    }
}

/// Bridges a thread's own channel into the queue: a small thread forwards each message wrapped by
/// `wrap`, then `wrap(None)` once the sending side hangs up, and ends. Used where the core hands
/// back a receiver (the model engine, the log follower), so the core needs no TUI type.
pub fn forward<T: Send + 'static>(
    name: &str,
    rx: Receiver<T>,
    to: Sender<AppEvent>,
    wrap: impl Fn(Option<T>) -> Option<AppEvent> + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("forward {name}"))
        .spawn(move || {
            for message in rx {
                if let Some(event) = wrap(Some(message)) {
                    if to.send(event).is_err() {
                        return;
                    }
                }
            }
            if let Some(event) = wrap(None) {
                let _ = to.send(event);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_channel_arrives_in_order_then_says_it_ended() {
        let queue = EventQueue::default();
        let (tx, rx) = channel::<String>();
        forward("test", rx, queue.sender(), |line| {
            Some(AppEvent::ModelSpeed(line.unwrap_or_else(|| "end".into())))
        })
        .expect("thread");
        for line in ["a", "b"] {
            tx.send(line.to_string()).expect("send");
        }
        drop(tx);
        let mut seen = Vec::new();
        while let Some(AppEvent::ModelSpeed(s)) = queue.next_within(Duration::from_secs(5)) {
            seen.push(s);
            if seen.len() == 3 {
                break;
            }
        }
        assert_eq!(seen, ["a", "b", "end"]);
    }
}
