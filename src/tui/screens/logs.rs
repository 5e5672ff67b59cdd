//! The Logs screen as the foundation ships it: the configured log files, a file list and a scrolling
//! view with line numbers. Loading runs as a background job. The full log engine (mmap index, follow,
//! search, filters, templates) replaces the loader and extends this screen (issue #4).

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use std::sync::Arc;

use super::{Action, Ctx, Screen, ScreenId, Selection};
use crate::logs::file::{load_logs, LoadedLog, MAX_LINES};
use crate::tui::jobs::JobOutput;
use crate::tui::keys::{Binding, Key};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    SwitchPane,
    Open,
}

const KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Next line or file",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Previous line or file",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::code(KeyCode::PageDown), Key::ctrl('f')],
        help: "Page down",
        cmd: Cmd::PageDown,
    },
    Binding {
        keys: &[Key::code(KeyCode::PageUp), Key::ctrl('b')],
        help: "Page up",
        cmd: Cmd::PageUp,
    },
    Binding {
        keys: &[Key::ch('g'), Key::code(KeyCode::Home)],
        help: "First line",
        cmd: Cmd::Top,
    },
    Binding {
        keys: &[Key::ch('G'), Key::code(KeyCode::End)],
        help: "Last line",
        cmd: Cmd::Bottom,
    },
    Binding {
        keys: &[Key::code(KeyCode::Tab)],
        help: "Switch between file list and lines",
        cmd: Cmd::SwitchPane,
    },
    Binding {
        keys: &[Key::code(KeyCode::Enter)],
        help: "Open the selected file",
        cmd: Cmd::Open,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pane {
    Files,
    Lines,
}

/// The selection handed to other screens: the whole current file up to this many lines, else a
/// window of this size around the cursor (the log engine adds explicit range selection).
pub const SELECTION_LINES: usize = 5000;

pub struct LogsScreen {
    files: Vec<Arc<LoadedLog>>,
    selected_file: usize,
    cursor: usize,
    top: usize,
    page: usize,
    pane: Pane,
    status: String,
}

impl Default for LogsScreen {
    fn default() -> Self {
        LogsScreen {
            files: Vec::new(),
            selected_file: 0,
            cursor: 0,
            top: 0,
            page: 20,
            pane: Pane::Lines,
            status: "loading logs…".into(),
        }
    }
}

impl LogsScreen {
    fn current(&self) -> Option<&LoadedLog> {
        self.files.get(self.selected_file).map(|f| f.as_ref())
    }

    fn publish_selection(&self, ctx: &mut Ctx) {
        ctx.selection = self.files.get(self.selected_file).map(|log| {
            let len = log.lines.len();
            let half = SELECTION_LINES / 2;
            let first = if len <= SELECTION_LINES {
                1
            } else {
                (self.cursor + 1)
                    .saturating_sub(half)
                    .clamp(1, len - SELECTION_LINES + 1)
            };
            Selection {
                log: Arc::clone(log),
                first,
                last: (first + SELECTION_LINES - 1).min(len),
            }
        });
    }

    fn move_cursor(&mut self, delta: isize) {
        match self.pane {
            Pane::Files => {
                let last = self.files.len().saturating_sub(1);
                self.selected_file = self.selected_file.saturating_add_signed(delta).min(last);
                self.cursor = 0;
                self.top = 0;
            }
            Pane::Lines => {
                let last = self
                    .current()
                    .map_or(0, |f| f.lines.len().saturating_sub(1));
                self.cursor = self.cursor.saturating_add_signed(delta).min(last);
            }
        }
    }
}

impl Screen for LogsScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        ScreenId::Logs
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        KEYS
    }

    fn start(&mut self, ctx: &mut Ctx) {
        let path = ctx.config.logs.value.clone();
        ctx.jobs.spawn("loading logs", move |report| {
            report.progress(format!("reading {}", path.display()));
            load_logs(&path).map(JobOutput::Logs)
        });
    }

    fn on_job(&mut self, output: &JobOutput, ctx: &mut Ctx) {
        let JobOutput::Logs(files) = output else {
            return;
        };
        self.files = files.iter().cloned().map(Arc::new).collect();
        let lines: usize = self.files.iter().map(|f| f.lines.len()).sum();
        self.status = if self.files.is_empty() {
            "no log files here; open one with --logs PATH".to_string()
        } else {
            format!("{} files, {lines} lines", self.files.len())
        };
        self.selected_file = 0;
        self.cursor = 0;
        self.top = 0;
        self.publish_selection(ctx);
    }

    fn run(&mut self, cmd: Cmd, _key: KeyEvent, ctx: &mut Ctx) -> Action {
        let page = self.page.max(1) as isize;
        match cmd {
            Cmd::Down => self.move_cursor(1),
            Cmd::Up => self.move_cursor(-1),
            Cmd::PageDown => self.move_cursor(page),
            Cmd::PageUp => self.move_cursor(-page),
            Cmd::Top => self.move_cursor(isize::MIN / 2),
            Cmd::Bottom => self.move_cursor(isize::MAX / 2),
            Cmd::SwitchPane => {
                self.pane = match self.pane {
                    Pane::Files => Pane::Lines,
                    Pane::Lines => Pane::Files,
                }
            }
            Cmd::Open => self.pane = Pane::Lines,
        }
        self.publish_selection(ctx);
        Action::None
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let [list_area, view_area] =
            Layout::horizontal([Constraint::Length(34), Constraint::Min(10)]).areas(area);
        let focused = |p: Pane| {
            if self.pane == p {
                Style::new().fg(Color::Cyan)
            } else {
                Style::new().dim()
            }
        };

        let items: Vec<ListItem> = self
            .files
            .iter()
            .map(|f| {
                ListItem::new(Line::from(vec![
                    Span::raw(f.name()),
                    Span::styled(format!(" {}", f.lines.len()), Style::new().dim()),
                ]))
            })
            .collect();
        let list = List::new(items)
            .block(
                Block::bordered()
                    .title(" Files ")
                    .border_style(focused(Pane::Files)),
            )
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state = ListState::default().with_selected(Some(self.selected_file));
        frame.render_stateful_widget(list, list_area, &mut state);

        let title = match self.current() {
            Some(f) if f.truncated => format!(" {} (first {MAX_LINES} lines) ", f.path.display()),
            Some(f) => format!(" {} ", f.path.display()),
            None => format!(" {} ", self.status),
        };
        let block = Block::bordered()
            .title(title)
            .title_bottom(Line::from(format!(" {} ", self.status)).right_aligned())
            .border_style(focused(Pane::Lines));
        let inner = block.inner(view_area);
        frame.render_widget(block, view_area);

        let height = inner.height as usize;
        self.page = height.saturating_sub(1).max(1);
        // Keep the cursor on screen with the least scrolling.
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if height > 0 && self.cursor >= self.top + height {
            self.top = self.cursor + 1 - height;
        }
        let Some(file) = self.current() else {
            return;
        };
        let gutter = file.lines.len().to_string().len();
        let lines: Vec<Line> = file
            .lines
            .iter()
            .enumerate()
            .skip(self.top)
            .take(height)
            .map(|(i, text)| {
                // Never hand a 10 MB line to the renderer: the width of the pane is all that shows.
                let shown: String = text.chars().take(inner.width as usize).collect();
                let at_cursor = i == self.cursor && self.pane == Pane::Lines;
                let marker = if at_cursor { "▶" } else { " " };
                let line = Line::from(vec![
                    Span::styled(format!("{:>gutter$}{marker}", i + 1), Style::new().dim()),
                    Span::raw(shown),
                ]);
                if at_cursor {
                    line.style(Style::new().bg(Color::DarkGray))
                } else {
                    line
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
