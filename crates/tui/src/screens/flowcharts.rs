//! The Flowcharts screen: the chart list with validation status, a tree view, and a keyboard node
//! editor with live validation, add/delete/relink, undo/redo, atomic save and revert, new charts from
//! a template, and a preview of the walk over the lines selected on the Logs screen.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::input::TextInput;
use crate::jobs::JobOutput;
use crate::keys::{Binding, Key};
use logreasoner_core::flowchart::edit::{
    apply_field, field_text, template, valid_id, Field, FIELDS,
};
use logreasoner_core::flowchart::walk::{walk, CheckOutcome, End, Walk, Window};
use logreasoner_core::flowchart::{self, export, Diagnostic, Entry, Flowchart, Node, NodeKind};

/// Undo keeps this many steps.
pub const UNDO_DEPTH: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Down,
    Up,
    Top,
    Bottom,
    Open,
    New,
    Reload,
    SwitchFocus,
    Edit,
    AddNode,
    DeleteNode,
    Relink,
    Undo,
    Redo,
    Save,
    Revert,
    Preview,
    Close,
    Apply,
    Cancel,
}

const LIST_KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Next chart",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Previous chart",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::ch('g'), Key::code(KeyCode::Home)],
        help: "First chart",
        cmd: Cmd::Top,
    },
    Binding {
        keys: &[Key::ch('G'), Key::code(KeyCode::End)],
        help: "Last chart",
        cmd: Cmd::Bottom,
    },
    Binding {
        keys: &[Key::code(KeyCode::Enter), Key::ch('e')],
        help: "Open the chart in the editor",
        cmd: Cmd::Open,
    },
    Binding {
        keys: &[Key::ch('n')],
        help: "New chart from a template",
        cmd: Cmd::New,
    },
    Binding {
        keys: &[Key::ch('r')],
        help: "Reload the folder from disk",
        cmd: Cmd::Reload,
    },
];

const EDIT_KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Next node or field",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Previous node or field",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::code(KeyCode::Tab)],
        help: "Switch between tree and node fields",
        cmd: Cmd::SwitchFocus,
    },
    Binding {
        keys: &[Key::code(KeyCode::Enter), Key::ch('e')],
        help: "Edit the selected field",
        cmd: Cmd::Edit,
    },
    Binding {
        keys: &[Key::ch('a')],
        help: "Add a node",
        cmd: Cmd::AddNode,
    },
    Binding {
        keys: &[Key::ch('d')],
        help: "Delete the selected node",
        cmd: Cmd::DeleteNode,
    },
    Binding {
        keys: &[Key::ch('r')],
        help: "Relink: set a branch or next of the node",
        cmd: Cmd::Relink,
    },
    Binding {
        keys: &[Key::ch('u')],
        help: "Undo",
        cmd: Cmd::Undo,
    },
    Binding {
        keys: &[Key::ctrl('r'), Key::ch('U')],
        help: "Redo",
        cmd: Cmd::Redo,
    },
    Binding {
        keys: &[Key::ch('s')],
        help: "Save (atomic; only a valid chart)",
        cmd: Cmd::Save,
    },
    Binding {
        keys: &[Key::ch('R')],
        help: "Revert to the saved file",
        cmd: Cmd::Revert,
    },
    Binding {
        keys: &[Key::ch('w')],
        help: "Preview the walk on the Logs selection",
        cmd: Cmd::Preview,
    },
    Binding {
        keys: &[Key::ch('q'), Key::code(KeyCode::Esc)],
        help: "Back to the list (twice to drop changes)",
        cmd: Cmd::Close,
    },
];

const INPUT_KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::code(KeyCode::Enter)],
        help: "Apply",
        cmd: Cmd::Apply,
    },
    Binding {
        keys: &[Key::code(KeyCode::Esc)],
        help: "Cancel",
        cmd: Cmd::Cancel,
    },
];

/// What a text input is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Field(Field),
    NewChart,
    AddNode,
    Relink,
}

#[derive(Debug, Clone)]
struct Pending {
    purpose: Purpose,
    input: TextInput,
    /// What applying the current text would do: an error, or the validation summary.
    live: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    Tree,
    Fields,
}

struct Editor {
    path: PathBuf,
    chart: Flowchart,
    /// The chart as on disk; `None` until a new chart is first saved.
    saved: Option<Flowchart>,
    undo: Vec<Flowchart>,
    redo: Vec<Flowchart>,
    row: usize,
    field: usize,
    focus: Focus,
    diagnostics: Vec<Diagnostic>,
    confirm_close: bool,
}

impl Editor {
    fn new(path: PathBuf, chart: Flowchart, saved: Option<Flowchart>) -> Self {
        let mut e = Editor {
            path,
            chart,
            saved,
            undo: Vec::new(),
            redo: Vec::new(),
            row: 0,
            field: 0,
            focus: Focus::Tree,
            diagnostics: Vec::new(),
            confirm_close: false,
        };
        e.revalidate();
        e
    }

    fn revalidate(&mut self) {
        self.diagnostics = flowchart::validate(&self.chart, &self.chart.to_yaml(), &self.path);
    }

    fn dirty(&self) -> bool {
        self.saved.as_ref() != Some(&self.chart)
    }

    fn rows(&self) -> Vec<export::TreeRow> {
        export::tree(&self.chart)
    }

    fn selected_node(&self) -> Option<String> {
        self.rows()
            .get(self.row)
            .map(|r| r.node.clone())
            .filter(|id| self.chart.nodes.contains_key(id))
    }

    /// Replaces the chart, keeping the previous one for undo.
    fn change(&mut self, chart: Flowchart) {
        if chart == self.chart {
            return;
        }
        self.undo.push(std::mem::replace(&mut self.chart, chart));
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
        self.confirm_close = false;
        self.clamp();
        self.revalidate();
    }

    /// Undo (or redo, with `undo` false) one change, saying so with how many remain.
    fn step_back(&mut self, undo: bool) -> Action {
        let (from, to, done) = if undo {
            (&mut self.undo, &mut self.redo, "undone")
        } else {
            (&mut self.redo, &mut self.undo, "redone")
        };
        let Some(chart) = from.pop() else {
            return Action::Message(format!("nothing to {}", if undo { "undo" } else { "redo" }));
        };
        to.push(std::mem::replace(&mut self.chart, chart));
        let left = if undo {
            self.undo.len()
        } else {
            self.redo.len()
        };
        self.clamp();
        self.revalidate();
        Action::Message(format!("{done}; {left} more (Ctrl-r redoes, u undoes)"))
    }

    fn clamp(&mut self) {
        self.row = self.row.min(self.rows().len().saturating_sub(1));
    }

    fn select_node(&mut self, id: &str) {
        if let Some(i) = self.rows().iter().position(|r| r.node == id) {
            self.row = i;
        }
    }
}

#[derive(Default)]
pub struct FlowchartsScreen {
    entries: Vec<Entry>,
    loaded: bool,
    cursor: usize,
    editor: Option<Editor>,
    pending: Option<Pending>,
    preview: Option<Walk>,
}

impl FlowchartsScreen {
    fn load(ctx: &mut Ctx) {
        let dir = ctx.config().flowcharts.value.clone();
        let store = ctx.store.clone();
        ctx.jobs.spawn("loading flowcharts", move |report| {
            report.progress(format!("reading {}", dir.display()));
            let entries = flowchart::load_dir(&dir).map_err(|e| e.to_string())?;
            // Derive thoughts for new or changed charts, so edits made outside the app mark old ones stale.
            report.progress("deriving thoughts");
            let valid: Vec<Flowchart> = entries.iter().filter_map(|e| e.chart.clone().ok()).collect();
            let synced = flowchart::thought::sync(&store, &valid).map_err(|e| e.to_string())?;
            tracing::info!(created = ?synced.created, staled = ?synced.staled, "thoughts synced with the charts");
            Ok(JobOutput::Charts(entries))
        });
    }

    fn start_input(&mut self, purpose: Purpose, text: String) {
        self.pending = Some(Pending {
            purpose,
            input: TextInput::new(text),
            live: String::new(),
        });
        self.update_live();
    }

    /// What applying the text would do, shown while typing.
    fn update_live(&mut self) {
        let Some(p) = &self.pending else { return };
        let live = match (p.purpose, &self.editor) {
            (Purpose::Field(field), Some(ed)) => {
                let mut draft = ed.chart.clone();
                let applied = ed
                    .selected_node()
                    .and_then(|id| {
                        draft
                            .nodes
                            .get_mut(&id)
                            .map(|n| apply_field(n, field, p.input.text()))
                    })
                    .unwrap_or(Ok(()));
                match applied {
                    Err(e) => format!("✗ {e}"),
                    Ok(()) => {
                        let problems = flowchart::validate(&draft, &draft.to_yaml(), &ed.path);
                        match problems.first() {
                            None => "✓ chart valid with this value".to_string(),
                            Some(d) => format!("✗ {} problem(s): {}", problems.len(), d.message),
                        }
                    }
                }
            }
            (Purpose::NewChart | Purpose::AddNode, _) => match valid_id(p.input.text().trim()) {
                Ok(()) => "✓ id".to_string(),
                Err(e) => format!("✗ {e}"),
            },
            _ => String::new(),
        };
        if let Some(p) = &mut self.pending {
            p.live = live;
        }
    }

    fn apply_pending(&mut self, ctx: &Ctx) -> Action {
        let Some(p) = self.pending.take() else {
            return Action::None;
        };
        let text = p.input.text().trim().to_string();
        match p.purpose {
            Purpose::NewChart => {
                if let Err(e) = valid_id(&text) {
                    return Action::Message(format!("chart id: {e}"));
                }
                let path = ctx.config().flowcharts.value.join(format!("{text}.yaml"));
                if path.exists() {
                    return Action::Message(format!("{} exists already", path.display()));
                }
                self.editor = Some(Editor::new(path, template(&text), None));
                Action::Message(format!("new chart `{text}` (not saved yet)"))
            }
            Purpose::AddNode => {
                let Some(ed) = &mut self.editor else {
                    return Action::None;
                };
                if let Err(e) = valid_id(&text) {
                    return Action::Message(format!("node id: {e}"));
                }
                if ed.chart.nodes.contains_key(&text) {
                    return Action::Message(format!("node `{text}` exists already"));
                }
                let mut chart = ed.chart.clone();
                chart.nodes.insert(
                    text.clone(),
                    Node::new(NodeKind::Action, "Describe what the operator does"),
                );
                ed.change(chart);
                ed.select_node(&text);
                Action::Message(format!("added `{text}`; link it with r from another node"))
            }
            Purpose::Relink => {
                let Some(ed) = &mut self.editor else {
                    return Action::None;
                };
                let Some(id) = ed.selected_node() else {
                    return Action::None;
                };
                let mut chart = ed.chart.clone();
                let node = &mut chart.nodes[&id];
                let mut words = text.split_whitespace();
                let (label, target) = match (words.next(), words.next()) {
                    (Some(l), Some(t)) => (Some(l.to_string()), t.to_string()),
                    (Some(t), None) => (None, t.to_string()),
                    _ => {
                        return Action::Message(
                            "relink: type TARGET, or LABEL TARGET for a decision".into(),
                        )
                    }
                };
                match (node.kind, label) {
                    (NodeKind::Decision, Some(label)) => {
                        node.branches.insert(label, target.clone());
                    }
                    (NodeKind::Decision, None) => {
                        return Action::Message(
                            "a decision needs LABEL TARGET, e.g. `no disk-health`".into(),
                        )
                    }
                    (NodeKind::Check | NodeKind::Action, _) => node.next = Some(target.clone()),
                    (kind, _) => {
                        return Action::Message(format!(
                            "a {} has no outgoing links",
                            kind.as_str()
                        ))
                    }
                }
                ed.change(chart);
                Action::Message(format!("`{id}` → `{target}`"))
            }
            Purpose::Field(field) => {
                let Some(ed) = &mut self.editor else {
                    return Action::None;
                };
                let Some(id) = ed.selected_node() else {
                    return Action::None;
                };
                let mut chart = ed.chart.clone();
                if let Err(e) = apply_field(&mut chart.nodes[&id], field, &text) {
                    // Keep the input open so the text is not lost.
                    self.pending = Some(p);
                    return Action::Message(format!("{}: {e}", field.name()));
                }
                ed.change(chart);
                Action::None
            }
        }
    }

    fn run_edit(&mut self, cmd: Cmd, ctx: &mut Ctx) -> Action {
        let Some(ed) = &mut self.editor else {
            return Action::None;
        };
        match cmd {
            Cmd::Down | Cmd::Up => {
                let delta: isize = if cmd == Cmd::Down { 1 } else { -1 };
                match ed.focus {
                    Focus::Tree => {
                        ed.row = ed
                            .row
                            .saturating_add_signed(delta)
                            .min(ed.rows().len().saturating_sub(1))
                    }
                    Focus::Fields => {
                        ed.field = ed.field.saturating_add_signed(delta).min(FIELDS.len() - 1)
                    }
                }
            }
            Cmd::SwitchFocus => {
                ed.focus = if ed.focus == Focus::Tree {
                    Focus::Fields
                } else {
                    Focus::Tree
                };
            }
            Cmd::Edit => {
                if ed.focus == Focus::Tree {
                    ed.focus = Focus::Fields;
                    return Action::None;
                }
                let Some(id) = ed.selected_node() else {
                    return Action::None;
                };
                let field = FIELDS[ed.field];
                let text = field_text(&ed.chart.nodes[&id], field);
                self.start_input(Purpose::Field(field), text);
            }
            Cmd::AddNode => self.start_input(Purpose::AddNode, String::new()),
            Cmd::DeleteNode => {
                let Some(id) = ed.selected_node() else {
                    return Action::None;
                };
                if id == ed.chart.start {
                    return Action::Message("the start node cannot be deleted".into());
                }
                let mut chart = ed.chart.clone();
                chart.nodes.shift_remove(&id);
                ed.change(chart);
                return Action::Message(format!("deleted `{id}` (u undoes)"));
            }
            Cmd::Relink => {
                let Some(id) = ed.selected_node() else {
                    return Action::None;
                };
                let prefill = match ed.chart.nodes[&id].kind {
                    NodeKind::Decision => String::new(),
                    _ => ed.chart.nodes[&id].next.clone().unwrap_or_default(),
                };
                self.start_input(Purpose::Relink, prefill);
            }
            Cmd::Undo | Cmd::Redo => return ed.step_back(cmd == Cmd::Undo),
            Cmd::Save => {
                if !ed.diagnostics.is_empty() {
                    return Action::Message(format!(
                        "not saved: {} problem(s) to fix first",
                        ed.diagnostics.len()
                    ));
                }
                let left = flowchart::edit::placeholders(&ed.chart);
                if !left.is_empty() {
                    return Action::Message(format!(
                        "not saved: still the new-chart template's {}",
                        left.join(", ")
                    ));
                }
                if let Err(e) = flowchart::save(&ed.chart, &ed.path) {
                    return Action::Message(e.to_string());
                }
                ed.saved = Some(ed.chart.clone());
                let entry = flowchart::load_entry(&ed.path);
                let path = ed.path.clone();
                match self.entries.iter().position(|e| e.path == path) {
                    Some(i) => self.entries[i] = entry,
                    None => {
                        self.entries.push(entry);
                        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
                    }
                }
                let ids: Vec<Flowchart> = self
                    .entries
                    .iter()
                    .filter_map(|e| e.chart.clone().ok())
                    .collect();
                if let Err(e) = flowchart::thought::sync(&ctx.store, &ids) {
                    return Action::Message(format!(
                        "saved {}, but thoughts were not updated: {e}",
                        path.display()
                    ));
                }
                return Action::Message(format!("saved {}", path.display()));
            }
            Cmd::Revert => {
                let Some(saved) = ed.saved.clone() else {
                    return Action::Message("never saved: nothing to revert to".into());
                };
                ed.change(saved);
                return Action::Message("reverted to the saved file (u undoes)".into());
            }
            Cmd::Preview => {
                if self.preview.take().is_some() {
                    return Action::None;
                }
                let Some(sel) = ctx.selection() else {
                    return Action::Message("select lines on the Logs screen first".into());
                };
                self.preview = Some(walk(&ed.chart, Window::new(sel.lines(), sel.first)));
            }
            Cmd::Close => {
                if ed.dirty() && !ed.confirm_close {
                    ed.confirm_close = true;
                    return Action::Message("unsaved changes: s saves, q again drops them".into());
                }
                self.editor = None;
                self.preview = None;
            }
            _ => {}
        }
        Action::None
    }
}

impl Screen for FlowchartsScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        ScreenId::Flowcharts
    }

    fn commands(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        &[
            ("title", "TEXT", "The open chart's title (one line)"),
            (
                "system",
                "TEXT",
                "The system it is for (`any` for every system)",
            ),
            (
                "description",
                "TEXT",
                "Its overview paragraph (empty removes it)",
            ),
            (
                "symptoms",
                "['RE', …]",
                "The regexes that make it match a window",
            ),
            (
                "causes",
                "[id, …]",
                "Cause categories it adds to the built-in ones",
            ),
        ]
    }

    fn command(&mut self, name: &str, args: &str, _ctx: &mut Ctx) -> Option<Action> {
        if !flowchart::edit::META_FIELDS.contains(&name) {
            return None;
        }
        let Some(ed) = &mut self.editor else {
            return Some(Action::Message(
                "open a chart first (Enter edits the selected one, n starts a new one)".into(),
            ));
        };
        Some(Action::Message(
            match flowchart::edit::set_meta(&ed.chart, name, args) {
                Ok(chart) if chart == ed.chart => format!("{name} unchanged"),
                Ok(chart) => {
                    ed.change(chart);
                    format!("{name} set (u undoes; s saves)")
                }
                Err(e) => format!("{name} not set: {e}"),
            },
        ))
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        match (&self.pending, &self.editor) {
            (Some(_), _) => INPUT_KEYS,
            (None, Some(_)) => EDIT_KEYS,
            (None, None) => LIST_KEYS,
        }
    }

    fn start(&mut self, ctx: &mut Ctx) {
        Self::load(ctx);
    }

    fn on_job(&mut self, output: JobOutput, _ctx: &mut Ctx) -> Option<JobOutput> {
        let JobOutput::Charts(entries) = output else {
            return Some(output);
        };
        self.entries = entries;
        self.loaded = true;
        self.cursor = self.cursor.min(self.entries.len().saturating_sub(1));
        // Loading synced the charts' thoughts: the Thoughts screen shows them.
        Some(JobOutput::ThoughtsChanged)
    }

    fn wants_text(&self) -> bool {
        self.pending.is_some()
    }

    fn text_key(&mut self, key: KeyEvent, _ctx: &mut Ctx) -> Action {
        if let Some(p) = &mut self.pending {
            p.input.handle(key);
        }
        self.update_live();
        Action::None
    }

    fn run(&mut self, cmd: Cmd, _key: KeyEvent, ctx: &mut Ctx) -> Action {
        match cmd {
            Cmd::Apply => return self.apply_pending(ctx),
            Cmd::Cancel => {
                self.pending = None;
                return Action::None;
            }
            _ => {}
        }
        if self.editor.is_some() {
            return self.run_edit(cmd, ctx);
        }
        let last = self.entries.len().saturating_sub(1);
        match cmd {
            Cmd::Down => self.cursor = (self.cursor + 1).min(last),
            Cmd::Up => self.cursor = self.cursor.saturating_sub(1),
            Cmd::Top => self.cursor = 0,
            Cmd::Bottom => self.cursor = last,
            Cmd::Open => {
                let Some(entry) = self.entries.get(self.cursor) else {
                    return Action::None;
                };
                match &entry.chart {
                    Ok(chart) => {
                        self.editor = Some(Editor::new(
                            entry.path.clone(),
                            chart.clone(),
                            Some(chart.clone()),
                        ))
                    }
                    Err(list) => {
                        return Action::Message(format!(
                            "{} has {} problem(s); fix the file (shown on the right) and press r",
                            entry.path.display(),
                            list.len()
                        ))
                    }
                }
            }
            Cmd::New => self.start_input(Purpose::NewChart, String::new()),
            Cmd::Reload => {
                self.loaded = false;
                Self::load(ctx);
            }
            _ => {}
        }
        Action::None
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let [list_area, right] =
            Layout::horizontal([Constraint::Length(34), Constraint::Min(20)]).areas(area);
        self.render_list(frame, list_area);
        if self.editor.is_some() {
            self.render_editor(frame, right);
        } else {
            self.render_preview(frame, right);
        }
    }
}

impl FlowchartsScreen {
    fn render_list(&self, frame: &mut Frame, area: Rect) {
        let items: Vec<ListItem> = self
            .entries
            .iter()
            .map(|e| match &e.chart {
                Ok(c) => ListItem::new(Line::from(vec![
                    Span::styled("✓ ", Style::new().fg(Color::Green)),
                    Span::raw(e.id.clone()),
                    Span::styled(format!(" {}", c.nodes.len()), Style::new().dim()),
                ])),
                Err(list) => ListItem::new(Line::from(vec![
                    Span::styled("✗ ", Style::new().fg(Color::Red)),
                    Span::raw(e.id.clone()),
                    Span::styled(
                        format!(" {} error(s)", list.len()),
                        Style::new().fg(Color::Red),
                    ),
                ])),
            })
            .collect();
        let valid = self.entries.iter().filter(|e| e.chart.is_ok()).count();
        let title = if self.loaded {
            format!(" Flowcharts {valid}/{} valid ", self.entries.len())
        } else {
            " Flowcharts (loading…) ".to_string()
        };
        let focused = self.editor.is_none();
        let list = List::new(items)
            .block(Block::bordered().title(title).border_style(if focused {
                Style::new().fg(Color::Cyan)
            } else {
                Style::new().dim()
            }))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state =
            ListState::default().with_selected((!self.entries.is_empty()).then_some(self.cursor));
        frame.render_stateful_widget(list, area, &mut state);
    }

    fn render_preview(&self, frame: &mut Frame, area: Rect) {
        let [main, input_area] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(if self.pending.is_some() { 4 } else { 0 }),
        ])
        .areas(area);
        let Some(entry) = self.entries.get(self.cursor) else {
            let text = if self.loaded {
                "No charts here. n creates one from a template."
            } else {
                ""
            };
            frame.render_widget(Paragraph::new(text).block(Block::bordered()), main);
            self.render_input(frame, input_area);
            return;
        };
        let (title, lines): (String, Vec<Line>) = match &entry.chart {
            Ok(chart) => (
                format!(" {} — {} ", chart.id, chart.title),
                export::tree(chart)
                    .into_iter()
                    .map(|r| Line::from(r.text))
                    .collect(),
            ),
            Err(list) => (
                format!(" {} — invalid ", entry.id),
                list.iter()
                    .flat_map(|d| {
                        [
                            Line::from(Span::styled(
                                format!("{}:{}: {}", d.line, d.column, d.message),
                                Style::new().fg(Color::Red),
                            )),
                            Line::from(Span::styled(
                                format!("  hint: {}", d.hint),
                                Style::new().dim(),
                            )),
                        ]
                    })
                    .collect(),
            ),
        };
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::bordered()
                    .title(title)
                    .title_bottom(Line::from(" Enter edits · n new ").right_aligned()),
            ),
            main,
        );
        self.render_input(frame, input_area);
    }

    fn render_input(&self, frame: &mut Frame, area: Rect) {
        let Some(p) = &self.pending else { return };
        if area.height == 0 {
            return;
        }
        let label = match p.purpose {
            Purpose::Field(f) => f.name(),
            Purpose::NewChart => "new chart id",
            Purpose::AddNode => "new node id",
            Purpose::Relink => "link (TARGET, or LABEL TARGET)",
        };
        let live_style = if p.live.starts_with('✓') {
            Style::new().fg(Color::Green)
        } else {
            Style::new().fg(Color::Red)
        };
        let text = vec![
            Line::from(p.input.with_cursor()),
            Line::from(Span::styled(p.live.clone(), live_style)),
        ];
        frame.render_widget(
            Paragraph::new(text).block(
                Block::bordered()
                    .title(format!(" {label} "))
                    .title_bottom(Line::from(" Enter applies · Esc cancels ").right_aligned())
                    .border_style(Style::new().fg(Color::Yellow)),
            ),
            area,
        );
    }

    fn render_editor(&self, frame: &mut Frame, area: Rect) {
        let Some(ed) = &self.editor else { return };
        let diag_height = (2 * ed.diagnostics.len() as u16 + 2).clamp(3, 8);
        let [tree_area, lower, input_area, diag_area] = Layout::vertical([
            Constraint::Min(5),
            Constraint::Length(10),
            Constraint::Length(if self.pending.is_some() { 4 } else { 0 }),
            Constraint::Length(diag_height),
        ])
        .areas(area);

        let rows = ed.rows();
        let height = tree_area.height.saturating_sub(2) as usize;
        let top = ed.row.saturating_sub(height.saturating_sub(1));
        let tree_lines: Vec<Line> = rows
            .iter()
            .enumerate()
            .skip(top)
            .take(height)
            .map(|(i, r)| {
                let marker = if i == ed.row { "▶ " } else { "  " };
                let line = Line::from(format!("{marker}{}", r.text));
                if i == ed.row && ed.focus == Focus::Tree {
                    line.style(Style::new().bg(Color::DarkGray))
                } else {
                    line
                }
            })
            .collect();
        let state = format!(
            " {}{} · undo {} · redo {} ",
            ed.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            if ed.dirty() { " (modified)" } else { "" },
            ed.undo.len(),
            ed.redo.len()
        );
        let tree_style = if ed.focus == Focus::Tree {
            Style::new().fg(Color::Cyan)
        } else {
            Style::new().dim()
        };
        frame.render_widget(
            Paragraph::new(tree_lines).block(
                Block::bordered()
                    .title(format!(" {} ", ed.chart.title))
                    .title_bottom(Line::from(state).right_aligned())
                    .border_style(tree_style),
            ),
            tree_area,
        );

        if let Some(w) = &self.preview {
            frame.render_widget(walk_panel(w), lower);
        } else {
            let node_id = ed.selected_node();
            let node = node_id.as_ref().and_then(|id| ed.chart.nodes.get(id));
            let lines: Vec<Line> = match node {
                None => vec![Line::from("(select a node in the tree)")],
                Some(node) => FIELDS
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let at = i == ed.field && ed.focus == Focus::Fields;
                        let marker = if at { "▶ " } else { "  " };
                        let line = Line::from(vec![
                            Span::raw(marker),
                            Span::styled(format!("{:<9}", f.name()), Style::new().fg(Color::Cyan)),
                            Span::raw(field_text(node, *f)),
                        ]);
                        if at {
                            line.style(Style::new().bg(Color::DarkGray))
                        } else {
                            line
                        }
                    })
                    .collect(),
            };
            let fields_style = if ed.focus == Focus::Fields {
                Style::new().fg(Color::Cyan)
            } else {
                Style::new().dim()
            };
            frame.render_widget(
                Paragraph::new(lines).block(
                    Block::bordered()
                        .title(format!(" node {} ", node_id.unwrap_or_default()))
                        .border_style(fields_style),
                ),
                lower,
            );
        }
        self.render_input(frame, input_area);

        let (title, style, lines) = if ed.diagnostics.is_empty() {
            (
                " ✓ valid ".to_string(),
                Style::new().fg(Color::Green),
                vec![Line::from(
                    "s saves atomically · w previews the walk · ? lists every key",
                )],
            )
        } else {
            (
                format!(" ✗ {} problem(s) ", ed.diagnostics.len()),
                Style::new().fg(Color::Red),
                ed.diagnostics
                    .iter()
                    .map(|d| Line::from(format!("{}:{}: {}", d.line, d.column, d.message)))
                    .collect(),
            )
        };
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(title).border_style(style)),
            diag_area,
        );
    }
}

fn walk_panel(w: &Walk) -> Paragraph<'static> {
    let mut lines: Vec<Line> = w
        .steps
        .iter()
        .map(|s| {
            let result = match &s.outcome {
                Some(CheckOutcome::Decided { holds, evidence }) => {
                    let ev: Vec<String> = evidence.iter().take(6).map(|n| n.to_string()).collect();
                    format!(
                        " {} [{}]",
                        if *holds { "holds" } else { "fails" },
                        ev.join(",")
                    )
                }
                Some(CheckOutcome::Undecidable { .. }) => " cannot tell".to_string(),
                None => String::new(),
            };
            let taken = s
                .taken
                .as_ref()
                .map(|t| format!(" → {t}"))
                .unwrap_or_default();
            Line::from(format!("{}{result}{taken}", s.node))
        })
        .collect();
    let end = match &w.end {
        End::Conclusion { cause, .. } => Span::styled(
            format!("conclusion: {cause}"),
            Style::new().fg(Color::Green),
        ),
        End::Escalate { .. } => {
            Span::styled("escalate".to_string(), Style::new().fg(Color::Yellow))
        }
        End::Undecided { node, reason } => Span::styled(
            format!("stopped at {node}: {reason}"),
            Style::new().fg(Color::Yellow),
        ),
    };
    lines.push(Line::from(end));
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(" walk on the Logs selection (w hides) "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_reaches_back_at_least_fifty_steps_and_redo_returns() {
        let original = template("t");
        let mut ed = Editor::new(
            PathBuf::from("t.yaml"),
            original.clone(),
            Some(original.clone()),
        );
        for i in 0..60 {
            let mut next = ed.chart.clone();
            next.title = format!("title {i}");
            ed.change(next);
        }
        assert_eq!(ed.undo.len(), 60);
        let mut screen = FlowchartsScreen {
            editor: Some(ed),
            ..Default::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let config = logreasoner_core::config::Config::resolve(
            &logreasoner_core::config::Overrides::default(),
            &|k| (k == "HOME").then(|| dir.path().display().to_string()),
        )
        .expect("config");
        let store = logreasoner_core::store::Store::open(dir.path().join("db")).expect("store");
        let mut ctx = Ctx::new(config, store);
        for _ in 0..60 {
            screen.run_edit(Cmd::Undo, &mut ctx);
        }
        let ed = screen.editor.as_ref().expect("editor");
        assert_eq!(ed.chart, original);
        assert!(!ed.dirty());
        for _ in 0..60 {
            screen.run_edit(Cmd::Redo, &mut ctx);
        }
        assert_eq!(
            screen.editor.as_ref().map(|e| e.chart.title.as_str()),
            Some("title 59")
        );
    }
}
