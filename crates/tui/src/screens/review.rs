//! The Thoughts and Solutions review screens (one component, two kinds): filter by status, task and
//! system; accept (`a`), reject (`x`) or edit (`e`, an inline editor) each item, with the gold answer
//! beside the model's and the diff of the last edit. Every decision is durable when the key returns.
//! On Solutions, `g` generates more in the background (the instances of the task filter) and `c`
//! cancels it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::jobs::JobOutput;
use crate::keys::{Binding, Key};
use crate::pane::{PaneMove, TextPane, MAX_LINE_CHARS};
use crate::textarea::TextArea;
use logreasoner_core::llm::backend::BackendSpec;
use logreasoner_core::reasoning::{self, review::line_diff, thought_text, Generator, Settings};
use logreasoner_core::store::{
    Edit, Id, ReviewDecision, ReviewStatus, ReviewTarget, Solution, Store, StoreError, Task,
    TaskInstance, Thought, ThoughtOrigin,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Thoughts,
    Solutions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Down,
    Up,
    Top,
    Bottom,
    Accept,
    Reject,
    Edit,
    StatusFilter,
    TaskFilter,
    SystemFilter,
    Generate,
    CancelJob,
    Reload,
    Save,
    Discard,
    Undo,
    Pane(PaneMove),
}

const KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Next item",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Previous item",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::code(KeyCode::Home)],
        help: "First item",
        cmd: Cmd::Top,
    },
    Binding {
        keys: &[Key::ch('G'), Key::code(KeyCode::End)],
        help: "Last item",
        cmd: Cmd::Bottom,
    },
    Binding {
        keys: &[Key::ch('a')],
        help: "Accept",
        cmd: Cmd::Accept,
    },
    Binding {
        keys: &[Key::ch('x')],
        help: "Reject",
        cmd: Cmd::Reject,
    },
    Binding {
        keys: &[Key::ch('u')],
        help: "Undo the last accept or reject (its item goes back to what it was)",
        cmd: Cmd::Undo,
    },
    Binding {
        keys: &[Key::ch('e')],
        help: "Edit inline (Ctrl-s saves as accepted, Esc discards)",
        cmd: Cmd::Edit,
    },
    Binding {
        keys: &[Key::ch('f')],
        help: "Filter by status: pending, accepted, rejected, stale, all",
        cmd: Cmd::StatusFilter,
    },
    Binding {
        keys: &[Key::ch('t')],
        help: "Filter by task",
        cmd: Cmd::TaskFilter,
    },
    Binding {
        keys: &[Key::ch('s')],
        help: "Filter by system",
        cmd: Cmd::SystemFilter,
    },
    Binding {
        keys: &[Key::ch('g')],
        help: "Generate (Solutions: K=2 for 10 instances of the task filter; Thoughts: rewrite chart thoughts)",
        cmd: Cmd::Generate,
    },
    Binding {
        keys: &[Key::ch('c')],
        help: "Cancel the generation (what is done is kept)",
        cmd: Cmd::CancelJob,
    },
    Binding {
        keys: &[Key::ch('r')],
        help: "Reload from the database",
        cmd: Cmd::Reload,
    },
    Binding {
        keys: &[Key::ch('J')],
        help: "Scroll the item's text down (long ones)",
        cmd: Cmd::Pane(PaneMove::Down),
    },
    Binding {
        keys: &[Key::ch('K')],
        help: "Scroll the item's text up",
        cmd: Cmd::Pane(PaneMove::Up),
    },
    Binding {
        keys: &[Key::ch('>')],
        help: "Scroll the log lines and text right (when not wrapped)",
        cmd: Cmd::Pane(PaneMove::Right),
    },
    Binding {
        keys: &[Key::ch('<')],
        help: "Scroll the log lines and text left",
        cmd: Cmd::Pane(PaneMove::Left),
    },
    Binding {
        keys: &[Key::ch('z')],
        help: "Wrap long lines (on/off)",
        cmd: Cmd::Pane(PaneMove::Wrap),
    },
];

const EDIT_KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ctrl('s'), Key::code(KeyCode::F(2))],
        help: "Save the edit (the item is accepted as edited)",
        cmd: Cmd::Save,
    },
    Binding {
        keys: &[Key::code(KeyCode::Esc)],
        help: "Discard the edit",
        cmd: Cmd::Discard,
    },
];

const STATUSES: [Option<ReviewStatus>; 5] = [
    Some(ReviewStatus::Pending),
    Some(ReviewStatus::Accepted),
    Some(ReviewStatus::Rejected),
    Some(ReviewStatus::Stale),
    None,
];

/// One reviewable item, whatever its kind.
#[derive(Debug, Clone)]
struct Item {
    target: ReviewTarget,
    status: ReviewStatus,
    task: Option<Task>,
    system: String,
    title: String,
    text: String,
    /// The instance's lines and gold answer (solutions and instance thoughts).
    input: Vec<String>,
    gold: Option<String>,
    answer: Option<String>,
    grade: Option<(f32, bool)>,
    last_edit: Option<Edit>,
}

pub struct ReviewScreen {
    kind: Kind,
    all: Vec<Item>,
    /// Indexes into `all` that pass the filters.
    shown: Vec<usize>,
    cursor: usize,
    status: usize,
    task: Option<Task>,
    system: Option<String>,
    editor: Option<TextArea>,
    cancel: Option<Arc<AtomicBool>>,
    /// Accepts and rejects of this session, newest last, with the status each item had before.
    decided: Vec<(ReviewTarget, ReviewStatus, String)>,
    /// How the item's log lines and text are scrolled and wrapped (back to the top per item).
    pane: TextPane,
}

impl ReviewScreen {
    pub fn new(kind: Kind) -> ReviewScreen {
        ReviewScreen {
            kind,
            all: Vec::new(),
            shown: Vec::new(),
            cursor: 0,
            status: 0,
            task: None,
            system: None,
            editor: None,
            cancel: None,
            decided: Vec::new(),
            pane: TextPane::default(),
        }
    }

    fn load(&mut self, store: &Store) -> Result<(), StoreError> {
        let mut edits: BTreeMap<ReviewTarget, Edit> = BTreeMap::new();
        for r in store.all::<ReviewDecision>()? {
            if let Some(e) = r.edit {
                edits.insert(r.target, e);
            }
        }
        let instances: BTreeMap<Id, TaskInstance> = store
            .all::<TaskInstance>()?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        self.all = match self.kind {
            Kind::Thoughts => store
                .all::<Thought>()?
                .into_iter()
                .map(|t| {
                    let instance = t.instance_id.and_then(|id| instances.get(&id));
                    let origin = match &t.origin {
                        ThoughtOrigin::Chart => "derived".to_string(),
                        ThoughtOrigin::Model { model } => format!("by {model}"),
                        ThoughtOrigin::Human { annotator } => format!("edited by {annotator}"),
                    };
                    let what = match (&t.chart_id, instance) {
                        (Some(c), _) => c.clone(),
                        (None, Some(i)) => format!("instance #{}", i.id),
                        (None, None) => "?".into(),
                    };
                    let target = ReviewTarget::Thought(t.id);
                    Item {
                        target,
                        status: t.status,
                        task: instance.map(|i| i.task),
                        system: instance.map(|i| i.system.clone()).unwrap_or_default(),
                        title: format!("#{} {what} v{} {origin}", t.id, t.version),
                        text: thought_text(&t),
                        input: instance.map(|i| i.input.clone()).unwrap_or_default(),
                        gold: None,
                        answer: None,
                        grade: None,
                        last_edit: edits.get(&target).cloned(),
                    }
                })
                .collect(),
            Kind::Solutions => store
                .all::<Solution>()?
                .into_iter()
                .map(|s| {
                    let instance = instances.get(&s.instance_id);
                    let target = ReviewTarget::Solution(s.id);
                    Item {
                        target,
                        status: s.status,
                        task: instance.map(|i| i.task),
                        system: instance.map(|i| i.system.clone()).unwrap_or_default(),
                        // The task and the answer, so a row says what it is before it is opened.
                        title: format!(
                            "#{} on #{} {} {} {}",
                            s.id,
                            s.instance_id,
                            match s.correct {
                                Some(true) => "✓",
                                Some(false) => "✗",
                                None => "?",
                            },
                            instance.map_or("?", |i| task_short(i.task)),
                            s.answer.as_deref().unwrap_or("(no answer)")
                        ),
                        text: s.text.clone(),
                        input: instance.map(|i| i.input.clone()).unwrap_or_default(),
                        gold: instance.map(|i| i.gold.clone()),
                        answer: s.answer.clone(),
                        grade: s.score.zip(s.correct),
                        last_edit: edits.get(&target).cloned(),
                    }
                })
                .collect(),
        };
        self.refilter();
        Ok(())
    }

    fn refilter(&mut self) {
        let keep = self.shown.get(self.cursor).copied();
        let status = STATUSES[self.status];
        self.shown = (0..self.all.len())
            .filter(|&i| {
                let it = &self.all[i];
                status.is_none_or(|s| it.status == s)
                    && self.task.is_none_or(|t| it.task == Some(t))
                    && self.system.as_ref().is_none_or(|s| &it.system == s)
            })
            .collect();
        self.cursor = keep
            .and_then(|k| self.shown.iter().position(|&i| i == k))
            .unwrap_or(0)
            .min(self.shown.len().saturating_sub(1));
    }

    fn current(&self) -> Option<&Item> {
        self.shown.get(self.cursor).map(|&i| &self.all[i])
    }

    fn reload(&mut self, ctx: &Ctx) -> Action {
        match self.load(&ctx.store) {
            Ok(()) => Action::None,
            Err(e) => Action::Message(format!("cannot read the database: {e}")),
        }
    }

    /// Records a decision (and an edit) on the current item; durable on return.
    fn decide(&mut self, decision: ReviewStatus, edited: Option<String>, ctx: &mut Ctx) -> Action {
        let Some(item) = self.current().cloned() else {
            return Action::Message("nothing to review with these filters".into());
        };
        let was_edit = edited.is_some();
        let review = reasoning::review::Review {
            target: item.target,
            decision,
            before: item.text.clone(),
            edited,
            annotator: ctx.config().annotator.value.clone(),
            at: logreasoner_core::time::now_millis(),
        };
        let decision = match reasoning::review::record(&ctx.store, review) {
            Ok(d) => d,
            Err(e) => return Action::Message(e.to_string()),
        };
        // An edit is undone by editing again; a plain decision can be taken back.
        if !was_edit {
            self.decided
                .push((item.target, item.status, item.title.clone()));
        }
        let said = if was_edit {
            format!("saved your edit of {}", item.title)
        } else {
            format!("{} {} (u undoes)", status_word(decision), item.title)
        };
        let action = self.reload(ctx);
        if self.status == 0 && decision != ReviewStatus::Pending {
            // The item left the pending list; the cursor now points at the next one.
            self.cursor = self.cursor.min(self.shown.len().saturating_sub(1));
        } else {
            self.cursor = (self.cursor + 1).min(self.shown.len().saturating_sub(1));
        }
        match action {
            Action::None => Action::Message(said),
            other => other,
        }
    }

    /// Takes back this session's last accept or reject: its item gets the status it had.
    fn undo(&mut self, ctx: &mut Ctx) -> Action {
        let Some((target, before, title)) = self.decided.pop() else {
            return Action::Message("nothing to undo: no accept or reject in this session".into());
        };
        let text = self
            .all
            .iter()
            .find(|i| i.target == target)
            .map(|i| i.text.clone())
            .unwrap_or_default();
        let review = reasoning::review::Review {
            target,
            decision: before,
            before: text,
            edited: None,
            annotator: ctx.config().annotator.value.clone(),
            at: logreasoner_core::time::now_millis(),
        };
        if let Err(e) = reasoning::review::record(&ctx.store, review) {
            return Action::Message(format!("not undone: {e}"));
        }
        let action = self.reload(ctx);
        if let Some(i) = self
            .shown
            .iter()
            .position(|&i| self.all[i].target == target)
        {
            self.cursor = i;
        }
        match action {
            Action::None => {
                Action::Message(format!("undone: {title} is {} again", status_word(before)))
            }
            other => other,
        }
    }

    fn generate(&mut self, ctx: &mut Ctx) -> Action {
        if self.cancel.is_some() {
            return Action::Message("a generation is running; c cancels it".into());
        }
        let spec =
            match BackendSpec::from_config(ctx.config()).and_then(|s| s.available().map(|()| s)) {
                Ok(s) => s,
                Err(e) => return Action::Message(e.to_string()),
            };
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancel = Some(Arc::clone(&cancel));
        let store = ctx.store.clone();
        let charts_dir = ctx.config().flowcharts.value.clone();
        let kind = self.kind;
        let task = self.task;
        let max_tokens = ctx.config().generation.value.max_tokens.min(256);
        ctx.jobs.spawn("generate", move |reporter| {
            let charts = logreasoner_core::flowchart::valid_charts(&charts_dir)
                .map_err(|e| e.to_string())?;
            reporter.progress("loading the model");
            let mut model = spec.open().map_err(|e| e.to_string())?;
            let mut g = Generator {
                model: &mut model,
                store: &store,
                charts,
                settings: Settings {
                    max_tokens,
                    ..Settings::default()
                },
            };
            let mut progress =
                |done: usize, total: usize| reporter.progress(format!("{done}/{total}"));
            let report =
                match kind {
                    Kind::Solutions => {
                        reasoning::run_solutions(&mut g, task, 10, &cancel, &mut progress)
                    }
                    Kind::Thoughts => reasoning::run_rewrites(&mut g, 100, &cancel, &mut progress)
                        .map(|n| reasoning::Report {
                            thoughts_written: n,
                            ..Default::default()
                        }),
                }
                .map_err(|e| e.to_string())?;
            Ok(JobOutput::Generated(report))
        });
        Action::Message("generating in the background; c cancels (what is done is kept)".into())
    }
}

fn cycle<T: Clone + PartialEq>(options: &[T], current: &Option<T>) -> Option<T> {
    match current {
        None => options.first().cloned(),
        Some(c) => {
            let at = options.iter().position(|o| o == c);
            at.and_then(|i| options.get(i + 1).cloned())
        }
    }
}

impl Screen for ReviewScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        match self.kind {
            Kind::Thoughts => ScreenId::Thoughts,
            Kind::Solutions => ScreenId::Solutions,
        }
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        if self.editor.is_some() {
            EDIT_KEYS
        } else {
            KEYS
        }
    }

    fn start(&mut self, ctx: &mut Ctx) {
        let _ = self.reload(ctx);
    }

    fn wants_text(&self) -> bool {
        self.editor.is_some()
    }

    fn text_key(&mut self, key: KeyEvent, _ctx: &mut Ctx) -> Action {
        if let Some(editor) = &mut self.editor {
            editor.handle(key);
        }
        Action::None
    }

    fn on_job(&mut self, output: JobOutput, ctx: &mut Ctx) -> Option<JobOutput> {
        match output {
            JobOutput::Generated(r) if self.cancel.is_some() => {
                self.cancel = None;
                let _ = self.reload(ctx);
                tracing::info!(?r, "generation finished");
                None
            }
            JobOutput::ThoughtsChanged if self.kind == Kind::Thoughts => {
                let _ = self.reload(ctx);
                None
            }
            JobOutput::Generated(_) => {
                // The other review screen's job: both show the new data.
                let _ = self.reload(ctx);
                Some(output)
            }
            other => Some(other),
        }
    }

    fn run(&mut self, cmd: Cmd, _key: KeyEvent, ctx: &mut Ctx) -> Action {
        let before = self.cursor;
        let action = self.apply(cmd, ctx);
        if self.cursor != before {
            self.pane.reset();
        }
        action
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        self.draw(frame, area, ctx);
    }
}

impl ReviewScreen {
    fn apply(&mut self, cmd: Cmd, ctx: &mut Ctx) -> Action {
        match cmd {
            Cmd::Down => self.cursor = (self.cursor + 1).min(self.shown.len().saturating_sub(1)),
            Cmd::Up => self.cursor = self.cursor.saturating_sub(1),
            Cmd::Top => self.cursor = 0,
            Cmd::Bottom => self.cursor = self.shown.len().saturating_sub(1),
            Cmd::Pane(m) => {
                return self
                    .pane
                    .apply(m, "log lines and text")
                    .map_or(Action::None, Action::Message)
            }
            Cmd::Undo => return self.undo(ctx),
            Cmd::Accept => return self.decide(ReviewStatus::Accepted, None, ctx),
            Cmd::Reject => return self.decide(ReviewStatus::Rejected, None, ctx),
            Cmd::Edit => match self.current() {
                Some(item) => self.editor = Some(TextArea::new(&item.text)),
                None => return Action::Message("nothing to edit".into()),
            },
            Cmd::Save => {
                let text = self.editor.take().map(|e| e.text()).unwrap_or_default();
                let unchanged = self.current().is_some_and(|i| i.text == text);
                if unchanged {
                    return self.decide(ReviewStatus::Accepted, None, ctx);
                }
                return self.decide(ReviewStatus::Accepted, Some(text), ctx);
            }
            Cmd::Discard => self.editor = None,
            Cmd::StatusFilter => {
                self.status = (self.status + 1) % STATUSES.len();
                self.refilter();
            }
            Cmd::TaskFilter => {
                let mut tasks: Vec<Task> = self.all.iter().filter_map(|i| i.task).collect();
                tasks.sort();
                tasks.dedup();
                self.task = cycle(&tasks, &self.task);
                self.refilter();
            }
            Cmd::SystemFilter => {
                let mut systems: Vec<String> = self
                    .all
                    .iter()
                    .map(|i| i.system.clone())
                    .filter(|s| !s.is_empty())
                    .collect();
                systems.sort();
                systems.dedup();
                self.system = cycle(&systems, &self.system);
                self.refilter();
            }
            Cmd::Generate => return self.generate(ctx),
            Cmd::CancelJob => match &self.cancel {
                Some(c) => {
                    c.store(true, Ordering::Relaxed);
                    return Action::Message("cancelling after the current generation…".into());
                }
                None => return Action::Message("no generation is running".into()),
            },
            Cmd::Reload => return self.reload(ctx),
        }
        Action::None
    }

    fn draw(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let [list_area, right] =
            Layout::horizontal([Constraint::Length(34), Constraint::Min(30)]).areas(area);
        let count = |s: ReviewStatus| self.all.iter().filter(|i| i.status == s).count();
        let items: Vec<ListItem> = self
            .shown
            .iter()
            .map(|&i| {
                let it = &self.all[i];
                let style = match it.status {
                    ReviewStatus::Accepted => Style::new().fg(Color::Green),
                    ReviewStatus::Rejected => Style::new().fg(Color::Red),
                    ReviewStatus::Stale => Style::new().dim(),
                    ReviewStatus::Pending => Style::new(),
                };
                ListItem::new(Line::from(Span::styled(it.title.clone(), style)))
            })
            .collect();
        let filter = format!(
            " {} · {} · {} ",
            STATUSES[self.status].map_or("all".to_string(), |s| format!("{s:?}").to_lowercase()),
            self.task.map_or("any task".to_string(), |t| t.to_string()),
            self.system.clone().unwrap_or_else(|| "any system".into())
        );
        let list = List::new(items)
            .block(
                Block::bordered()
                    .title(format!(" {} ({}) ", self.id().title(), self.shown.len()))
                    .title_bottom(Line::styled(filter, Style::new().dim())),
            )
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state =
            ListState::default().with_selected((!self.shown.is_empty()).then_some(self.cursor));
        frame.render_stateful_widget(list, list_area, &mut state);

        let progress = format!(
            " {} pending · {} accepted · {} rejected{} ",
            count(ReviewStatus::Pending),
            count(ReviewStatus::Accepted),
            count(ReviewStatus::Rejected),
            if self.cancel.is_some() {
                " · generating (c cancels)"
            } else {
                ""
            }
        );
        let Some(item) = self.current() else {
            // The fetch is mentioned only where the configured model is not there yet.
            let fetch = if ctx.config().model.value.exists() {
                ""
            } else {
                " (fetch the model first: logreasoner model fetch)"
            };
            let hint = match self.kind {
                Kind::Solutions => format!("No solutions with these filters. `g` generates some with the configured model{fetch}, or from the shell: logreasoner generate solutions --k 2"),
                Kind::Thoughts => format!("No thoughts with these filters. Thoughts are derived from the flowcharts when the app starts; `g` has the configured model rewrite them{fetch}."),
            };
            frame.render_widget(
                Paragraph::new(hint)
                    .wrap(Wrap { trim: true })
                    .style(Style::new().dim())
                    .block(Block::bordered().title(progress)),
                right,
            );
            return;
        };
        let context_rows = instance_rows(item, right.width);
        let [context_area, body_area, diff_area] = Layout::vertical([
            Constraint::Length(context_rows),
            Constraint::Min(5),
            Constraint::Length(if item.last_edit.is_some() { 8 } else { 0 }),
        ])
        .areas(right);
        if context_rows > 0 {
            let mut lines: Vec<Line> = item
                .input
                .iter()
                .take(4)
                .enumerate()
                .map(|(n, l)| self.pane.numbered(n + 1, l, MAX_LINE_CHARS))
                .collect();
            if let Some(gold) = &item.gold {
                let grade = item.grade.map_or(String::new(), |(s, ok)| {
                    format!("  ({} {s:.2})", if ok { "correct" } else { "wrong" })
                });
                lines.push(Line::from(vec![
                    Span::styled("gold ", Style::new().fg(Color::Green)),
                    Span::raw(if gold.is_empty() {
                        "(none)".to_string()
                    } else {
                        gold.clone()
                    }),
                    Span::styled("   model ", Style::new().fg(Color::Cyan)),
                    Span::raw(
                        item.answer
                            .clone()
                            .unwrap_or_else(|| "(no answer line)".into()),
                    ),
                    Span::styled(grade, Style::new().dim()),
                ]));
            }
            let mut instance = Paragraph::new(lines);
            if self.pane.wrap {
                instance = instance.wrap(Wrap { trim: false });
            }
            frame.render_widget(
                instance.block(
                    Block::bordered().title(format!("{} instance ", self.pane.column_note())),
                ),
                context_area,
            );
        }
        // A copy, clamped by drawing and put back at the end (`item` borrows the screen).
        let mut pane = self.pane;
        let (body, title) = match &self.editor {
            Some(editor) => (
                Paragraph::new(editor.rendered().join("\n")).wrap(Wrap { trim: false }),
                " editing — Ctrl-s saves (accepted), Esc discards ".to_string(),
            ),
            None => (
                pane.paragraph(pane.text_lines(&item.text), body_area),
                format!(
                    "{} {} · {:?} ",
                    self.pane.column_note(),
                    item.title,
                    item.status
                ),
            ),
        };
        frame.render_widget(
            body.block(
                Block::bordered()
                    .title(title)
                    .title_bottom(Line::from(progress).right_aligned()),
            ),
            body_area,
        );
        if let Some(edit) = &item.last_edit {
            let lines: Vec<Line> = line_diff(&edit.before, &edit.after)
                .into_iter()
                .filter(|(k, _)| *k != ' ')
                .map(|(k, l)| {
                    let color = if k == '+' { Color::Green } else { Color::Red };
                    Line::from(Span::styled(format!("{k} {l}"), Style::new().fg(color)))
                })
                .collect();
            frame.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(" last edit ")),
                diff_area,
            );
        }
        self.pane = pane;
    }
}

/// Rows of the instance pane for `item` in a pane `width` columns wide: log lines wrap, so it
/// counts the rows they and the gold line take (at most 12; none without input).
fn instance_rows(item: &Item, width: u16) -> u16 {
    if item.input.is_empty() {
        return 0;
    }
    let inner = (width.saturating_sub(2) as usize).max(1);
    let rows: usize = item
        .input
        .iter()
        .take(4)
        .map(|l| {
            (4 + l.chars().take(MAX_LINE_CHARS).count())
                .div_ceil(inner)
                .max(1)
        })
        .sum();
    // The gold line: `gold …   model …  (correct 1.00)`.
    let gold = item.gold.as_ref().map_or(0, |g| {
        let answer = item.answer.as_deref().map_or(16, |a| a.chars().count());
        (5 + g.chars().count().max(6) + 9 + answer + 16).div_ceil(inner)
    });
    (rows + gold + 2).min(12) as u16
}

/// A review status as the message line says it.
fn status_word(status: ReviewStatus) -> &'static str {
    match status {
        ReviewStatus::Pending => "pending",
        ReviewStatus::Accepted => "accepted",
        ReviewStatus::Rejected => "rejected",
        ReviewStatus::Stale => "stale",
    }
}

/// A task in a word, for list rows.
fn task_short(task: Task) -> &'static str {
    match task {
        Task::AnomalyDetection => "anomaly",
        Task::FailurePrediction => "failure",
        Task::LogParsing => "parsing",
        Task::RootCause => "cause",
        Task::Interpretation => "interpret",
    }
}
