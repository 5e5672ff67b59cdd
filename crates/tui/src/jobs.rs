//! Background work. A job runs on its own thread and reports progress and its result as events
//! in the app's queue ([`crate::events`]); the UI thread never waits on a job.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;

use crate::events::AppEvent;

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
    /// The default model was fetched (`:fetch`) and verified at this path.
    ModelFetched(std::path::PathBuf),
}

/// Passed to a job so it can report progress.
#[derive(Clone)]
pub struct Reporter {
    id: u64,
    tx: Sender<AppEvent>,
}

impl Reporter {
    pub fn progress(&self, note: impl Into<String>) {
        // The UI may be gone (quit while the job ran); the job then simply finishes unheard.
        let _ = self.tx.send(AppEvent::JobProgress {
            id: self.id,
            note: note.into(),
        });
    }
}

#[derive(Debug, Clone)]
pub struct JobStatus {
    pub name: String,
    pub note: String,
    /// When the job started, for the elapsed time in the status bar.
    pub started: std::time::Instant,
}

/// The running jobs. Their threads report into the app's event queue; the shell passes each job
/// event back here ([`Jobs::progress`], [`Jobs::finished`]) so the status bar's list stays current.
pub struct Jobs {
    tx: Sender<AppEvent>,
    running: BTreeMap<u64, JobStatus>,
    next_id: u64,
}

impl Jobs {
    /// Jobs that report into the queue `tx` sends to.
    pub fn new(tx: Sender<AppEvent>) -> Self {
        Jobs {
            tx,
            running: BTreeMap::new(),
            next_id: 1,
        }
    }

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
                started: std::time::Instant::now(),
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
                let _ = reporter.tx.send(AppEvent::JobDone { id, result });
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(AppEvent::JobDone {
                id,
                result: Err(format!("cannot start a thread: {e}")),
            });
        }
        id
    }

    pub fn running(&self) -> impl Iterator<Item = &JobStatus> {
        self.running.values()
    }

    /// Whether any job is still running.
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// Notes a running job's progress (shown in the status bar).
    pub fn progress(&mut self, id: u64, note: &str) {
        if let Some(job) = self.running.get_mut(&id) {
            note.clone_into(&mut job.note);
        }
    }

    /// Forgets a finished job; returns the name it was started under.
    pub fn finished(&mut self, id: u64) -> String {
        self.running.remove(&id).map(|j| j.name).unwrap_or_default()
    }
}
