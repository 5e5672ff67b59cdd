//! What the shell offers every screen ([`Ctx`]) and the state screens share. The shared fields
//! are private to this module: a screen reads them and changes them only by posting an
//! [`AppEvent`], which the shell applies before handing the event to every screen.

use logreasoner_core::config::{Config, Origin, Setting};
use logreasoner_core::store::Store;

use crate::events::{AppEvent, EventQueue};
use crate::jobs::Jobs;

/// What the app offers every screen: configuration, the database, background jobs, the event
/// queue, and the state screens share. Shared state is read here and changed only by posting an
/// [`AppEvent`]: the shell applies it (see [`Ctx::apply`]) before any screen sees the event.
pub struct Ctx {
    config: Config,
    pub store: Store,
    pub jobs: Jobs,
    events: EventQueue,
    selection: Option<Selection>,
    followed: Option<Followed>,
    model_speed: Option<String>,
    model_work: Option<(String, std::time::Instant)>,
    /// This application's binary, which the Train screen starts detached training runs with.
    pub program: std::path::PathBuf,
}

impl Ctx {
    pub fn new(config: Config, store: Store) -> Self {
        let events = EventQueue::default();
        Ctx {
            config,
            store,
            jobs: Jobs::new(events.sender()),
            events,
            selection: None,
            followed: None,
            model_speed: None,
            model_work: None,
            program: std::env::current_exe().unwrap_or_else(|_| "logreasoner".into()),
        }
    }

    /// The resolved configuration (the Train screen's choice of model and adapter included).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Posts an event for the shell to apply and hand to every screen.
    pub fn post(&self, event: AppEvent) {
        self.events.post(event);
    }

    /// The queue, for a thread that posts events itself.
    pub fn events(&self) -> &EventQueue {
        &self.events
    }

    /// The lines the user selected on the Logs screen.
    pub fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
    }

    /// The newest lines of the file the Logs screen follows (the Diagnose screen's watch reads it).
    pub fn followed(&self) -> Option<&Followed> {
        self.followed.as_ref()
    }

    /// The last generation's speed, for the status bar.
    pub fn model_speed(&self) -> Option<&str> {
        self.model_speed.as_deref()
    }

    /// What the model engine is doing for a screen, and since when, for the status bar.
    pub fn model_work(&self) -> Option<(&str, std::time::Instant)> {
        self.model_work
            .as_ref()
            .map(|(what, since)| (what.as_str(), *since))
    }

    /// Applies an event's change to the shared state. Returns whether the event changed it. The
    /// shell calls it for every event; a test that drives one screen alone calls it too.
    pub fn apply(&mut self, event: &AppEvent) -> bool {
        match event {
            AppEvent::SelectionChanged(selection) => {
                self.selection.clone_from(selection);
                true
            }
            AppEvent::LinesFollowed {
                source,
                lines,
                last_line,
                restart,
            } => {
                let followed = self.followed.get_or_insert_with(Followed::default);
                if *restart || followed.source != *source {
                    followed.source.clone_from(source);
                    followed.recent.clear();
                }
                followed.push(lines, *last_line);
                true
            }
            AppEvent::ModelSpeed(speed) => {
                self.model_speed = Some(speed.clone());
                true
            }
            AppEvent::ModelWork(work) => {
                self.model_work = work.clone().map(|what| (what, std::time::Instant::now()));
                true
            }
            AppEvent::ModelChosen { model, adapter } => {
                const WHY: &str = "chosen on the Train screen";
                if let Some(model) = model {
                    self.config.model = Setting {
                        value: model.clone(),
                        origin: Origin::Default(WHY),
                    };
                }
                self.config.adapter = adapter.clone().map(|value| Setting {
                    value,
                    origin: Origin::Default(WHY),
                });
                // The speed measured was the previous model's.
                self.model_speed = None;
                true
            }
            AppEvent::JobProgress { id, note } => {
                self.jobs.progress(*id, note);
                true
            }
            // A finished job's output is moved to the screen that takes it (`App::dispatch`);
            // the threads' own messages concern their screen only.
            AppEvent::JobDone { .. } | AppEvent::Engine { .. } | AppEvent::Follow { .. } => false,
        }
    }

    /// The next queued event; never blocks.
    pub(crate) fn next_event(&self) -> Option<AppEvent> {
        self.events.try_next()
    }
}

/// Lines the user selected on the Logs screen: `lines[0]` is line `first` (1-based) of `source`.
#[derive(Debug, Clone)]
pub struct Selection {
    pub source: String,
    pub first: usize,
    pub lines: std::sync::Arc<[String]>,
    /// What the rest of the file says about the lines (its error lines, the messages new in the
    /// selection), when they come from one file; a merged or filtered view has none. A diagnosis
    /// compares the selection with it.
    pub file: Option<logreasoner_core::diagnose::FileContext>,
}

impl Selection {
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn last(&self) -> usize {
        self.first + self.lines.len().saturating_sub(1)
    }
}

/// The tail of a followed file: `recent` ends at line `last_line` of `source`.
#[derive(Debug, Clone, Default)]
pub struct Followed {
    pub source: String,
    pub last_line: usize,
    pub recent: std::collections::VecDeque<String>,
}

impl Followed {
    /// Lines kept; a diagnosis window is chosen from them.
    pub const KEEP: usize = 500;

    pub fn push(&mut self, lines: &[String], last_line: usize) {
        self.recent.extend(lines.iter().cloned());
        while self.recent.len() > Self::KEEP {
            self.recent.pop_front();
        }
        self.last_line = last_line;
    }

    /// Line number of `recent[0]`.
    pub fn first_line(&self) -> usize {
        (self.last_line + 1)
            .saturating_sub(self.recent.len())
            .max(1)
    }
}
