//! Screens. Each is a component: its own state, a key table that maps keys to its commands, a `run`
//! that turns a command into state changes and an [`Action`] for the app, and a render function.

pub mod diagnose;
pub mod eval;
pub mod flowcharts;
pub mod label;
pub mod logs;
pub mod review;
pub mod train;

use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

pub use super::ctx::{Ctx, Followed, Selection};
use super::events::AppEvent;
use super::jobs::JobOutput;
use super::keys::{keys_label, lookup, Binding};

/// What a key press asks of the app, beyond the screen's own state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Quit,
    Switch(ScreenId),
    Help,
    Prompt,
    Message(String),
}

/// The screens of SPEC, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenId {
    Logs,
    Diagnose,
    Flowcharts,
    Thoughts,
    Solutions,
    Label,
    Train,
    Eval,
}

impl ScreenId {
    pub const ALL: [ScreenId; 8] = [
        ScreenId::Logs,
        ScreenId::Diagnose,
        ScreenId::Flowcharts,
        ScreenId::Thoughts,
        ScreenId::Solutions,
        ScreenId::Label,
        ScreenId::Train,
        ScreenId::Eval,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ScreenId::Logs => "Logs",
            ScreenId::Diagnose => "Diagnose",
            ScreenId::Flowcharts => "Flowcharts",
            ScreenId::Thoughts => "Thoughts",
            ScreenId::Solutions => "Solutions",
            ScreenId::Label => "Label",
            ScreenId::Train => "Train",
            ScreenId::Eval => "Eval",
        }
    }

    /// The tab bar's name where the full titles do not fit (80 columns).
    pub fn short_title(self) -> &'static str {
        match self {
            ScreenId::Diagnose => "Diag",
            ScreenId::Flowcharts => "Charts",
            ScreenId::Thoughts => "Thought",
            ScreenId::Solutions => "Sols",
            other => other.title(),
        }
    }

    pub fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// By case-insensitive name or 1-based number, for `:go`.
    pub fn find(name: &str) -> Option<ScreenId> {
        if let Ok(n) = name.parse::<usize>() {
            return n.checked_sub(1).and_then(|i| Self::ALL.get(i).copied());
        }
        Self::ALL
            .into_iter()
            .find(|s| s.title().eq_ignore_ascii_case(name))
    }
}

/// A screen with a typed command set.
pub trait Screen {
    type Cmd: Copy + 'static;

    fn id(&self) -> ScreenId;
    fn bindings(&self) -> &'static [Binding<Self::Cmd>];
    fn run(&mut self, cmd: Self::Cmd, key: KeyEvent, ctx: &mut Ctx) -> Action;
    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx);
    /// Called once when the app starts, to kick off background loading.
    fn start(&mut self, _ctx: &mut Ctx) {}
    /// A background job finished: take the output if it is this screen's, else hand it back.
    fn on_job(&mut self, output: JobOutput, _ctx: &mut Ctx) -> Option<JobOutput> {
        Some(output)
    }
    /// An event from the queue, after the shell applied its shared change; returns whether the
    /// screen changed.
    fn on_event(&mut self, _event: &AppEvent, _ctx: &mut Ctx) -> bool {
        false
    }
    /// The screen's own `:` commands: (name, arguments, help), for the `?` overlay.
    fn commands(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        &[]
    }
    /// A `:` command the shell does not know; `None` when the screen does not either.
    fn command(&mut self, _name: &str, _args: &str, _ctx: &mut Ctx) -> Option<Action> {
        None
    }
    /// Called between frames; returns whether anything changed (a timer's display, say).
    fn tick(&mut self, _ctx: &mut Ctx) -> bool {
        false
    }
    /// True while an inline text field has focus: keys the table does not bind are typed into it.
    fn wants_text(&self) -> bool {
        false
    }
    /// A key for the focused text field.
    fn text_key(&mut self, _key: KeyEvent, _ctx: &mut Ctx) -> Action {
        Action::None
    }
}

/// The object-safe face of a [`Screen`] that the app holds.
pub trait Component {
    fn id(&self) -> ScreenId;
    /// `Some` when the screen binds the key (and has acted on it).
    fn handle_key(&mut self, key: KeyEvent, ctx: &mut Ctx) -> Option<Action>;
    fn binds(&self, key: &KeyEvent) -> bool;
    /// (keys, help) rows for the `?` overlay, straight from the key table.
    fn help_rows(&self) -> Vec<(String, &'static str)>;
    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx);
    fn start(&mut self, ctx: &mut Ctx);
    fn on_job(&mut self, output: JobOutput, ctx: &mut Ctx) -> Option<JobOutput>;
    fn on_event(&mut self, event: &AppEvent, ctx: &mut Ctx) -> bool;
    fn commands(&self) -> &'static [(&'static str, &'static str, &'static str)];
    fn command(&mut self, name: &str, args: &str, ctx: &mut Ctx) -> Option<Action>;
    fn tick(&mut self, ctx: &mut Ctx) -> bool;
}

impl<S: Screen> Component for S {
    fn id(&self) -> ScreenId {
        Screen::id(self)
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &mut Ctx) -> Option<Action> {
        match lookup(self.bindings(), &key) {
            Some(cmd) => Some(self.run(cmd, key, ctx)),
            None if self.wants_text() => Some(self.text_key(key, ctx)),
            None => None,
        }
    }

    fn binds(&self, key: &KeyEvent) -> bool {
        lookup(self.bindings(), key).is_some()
    }

    fn help_rows(&self) -> Vec<(String, &'static str)> {
        self.bindings()
            .iter()
            .map(|b| (keys_label(b.keys), b.help))
            .collect()
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        Screen::render(self, frame, area, ctx)
    }

    fn start(&mut self, ctx: &mut Ctx) {
        Screen::start(self, ctx)
    }

    fn on_job(&mut self, output: JobOutput, ctx: &mut Ctx) -> Option<JobOutput> {
        Screen::on_job(self, output, ctx)
    }

    fn on_event(&mut self, event: &AppEvent, ctx: &mut Ctx) -> bool {
        Screen::on_event(self, event, ctx)
    }

    fn commands(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        Screen::commands(self)
    }

    fn command(&mut self, name: &str, args: &str, ctx: &mut Ctx) -> Option<Action> {
        Screen::command(self, name, args, ctx)
    }

    fn tick(&mut self, ctx: &mut Ctx) -> bool {
        Screen::tick(self, ctx)
    }
}
