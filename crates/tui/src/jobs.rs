//! Background work. A job runs on its own thread and reports progress and its result through a
//! channel; the UI thread drains the channel between frames and never waits on a job.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// What a finished job hands back to the screens.
#[derive(Debug)]
pub enum JobOutput {
    /// The opened logs, or why they could not be opened (shown in the Logs pane).
    Logs(Result<Vec<logreasoner_core::logs::source::LogSource>, String>),
    Charts(Vec<logreasoner_core::flowchart::Entry>),
    /// The flowcharts were (re)loaded and their thoughts synced into the database.
    ThoughtsChanged,
    /// A generation run of the data engine finished (or was cancelled).
    Generated(logreasoner_core::reasoning::Report),
}

#[derive(Debug)]
pub enum JobEvent {
    Progress {
        id: u64,
        note: String,
    },
    Done {
        id: u64,
        result: Result<JobOutput, String>,
    },
}

/// Passed to a job so it can report progress.
#[derive(Clone)]
pub struct Reporter {
    id: u64,
    tx: Sender<JobEvent>,
}

impl Reporter {
    pub fn progress(&self, note: impl Into<String>) {
        // The UI may be gone (quit while the job ran); the job then simply finishes unheard.
        let _ = self.tx.send(JobEvent::Progress {
            id: self.id,
            note: note.into(),
        });
    }
}

#[derive(Debug, Clone)]
pub struct JobStatus {
    pub name: String,
    pub note: String,
}

pub struct Jobs {
    tx: Sender<JobEvent>,
    rx: Receiver<JobEvent>,
    running: BTreeMap<u64, JobStatus>,
    next_id: u64,
}

impl Default for Jobs {
    fn default() -> Self {
        let (tx, rx) = channel();
        Jobs {
            tx,
            rx,
            running: BTreeMap::new(),
            next_id: 1,
        }
    }
}

impl Jobs {
    pub fn spawn<F>(&mut self, name: &str, work: F) -> u64
    where
        F: FnOnce(&Reporter) -> Result<JobOutput, String> + Send + 'static,
    {
        let id = self.next_id;
        self.next_id += 1;
        self.running.insert(
            id,
            JobStatus {
                name: name.to_string(),
                note: String::new(),
            },
        );
        let reporter = Reporter {
            id,
            tx: self.tx.clone(),
        };
        let thread_name = format!("job-{id}-{name}");
        let spawned = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let result = work(&reporter);
                let _ = reporter.tx.send(JobEvent::Done { id, result });
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(JobEvent::Done {
                id,
                result: Err(format!("cannot start a thread: {e}")),
            });
        }
        id
    }

    pub fn running(&self) -> impl Iterator<Item = &JobStatus> {
        self.running.values()
    }

    /// Finished jobs since the last call, with the name they were started under; never blocks.
    pub fn drain(&mut self) -> Vec<(String, Result<JobOutput, String>)> {
        let mut finished = Vec::new();
        while let Ok(ev) = self.rx.try_recv() {
            self.absorb(ev, &mut finished);
        }
        finished
    }

    /// Waits until no job is running or `timeout` passes; for tests and orderly shutdown.
    pub fn wait_all(&mut self, timeout: Duration) -> Vec<(String, Result<JobOutput, String>)> {
        let deadline = Instant::now() + timeout;
        let mut finished = Vec::new();
        while !self.running.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) => self.absorb(ev, &mut finished),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        finished
    }

    fn absorb(&mut self, ev: JobEvent, finished: &mut Vec<(String, Result<JobOutput, String>)>) {
        match ev {
            JobEvent::Progress { id, note } => {
                if let Some(job) = self.running.get_mut(&id) {
                    job.note = note;
                }
            }
            JobEvent::Done { id, result } => {
                let name = self.running.remove(&id).map(|j| j.name).unwrap_or_default();
                finished.push((name, result));
            }
        }
    }
}
