//! The Logs screen as the foundation ships it: the configured log files, a file list and a scrolling
//! view with line numbers. Loading runs as a background job. The full log engine (mmap index, follow,
//! search, filters, templates) replaces the loader and extends this screen (issue #4).

use std::path::{Path, PathBuf};

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::tui::jobs::JobOutput;
use crate::tui::keys::{Binding, Key};

/// Lines kept per file by this simple loader; larger files say they were cut.
pub const MAX_LINES: usize = 200_000;

/// A log file read into memory, invalid UTF-8 replaced.
#[derive(Debug, Clone)]
pub struct LoadedLog {
    pub path: PathBuf,
    pub lines: Vec<String>,
    pub truncated: bool,
}

impl LoadedLog {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// Reads one file, or every regular file of a folder in name order.
pub fn load_logs(path: &Path) -> Result<Vec<LoadedLog>, String> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot list {}: {e}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    files.iter().map(|p| load_one(p)).collect()
}

fn load_one(path: &Path) -> Result<LoadedLog, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = Vec::new();
    let mut truncated = false;
    for raw in bytes.split(|b| *b == b'\n') {
        if lines.len() == MAX_LINES {
            truncated = true;
            break;
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        lines.push(String::from_utf8_lossy(raw).into_owned());
    }
    // A trailing newline leaves one empty piece that is not a line.
    if !truncated && lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    Ok(LoadedLog {
        path: path.to_path_buf(),
        lines,
        truncated,
    })
}

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

pub struct LogsScreen {
    files: Vec<LoadedLog>,
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
        self.files.get(self.selected_file)
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

    fn on_job(&mut self, output: &JobOutput) {
        let JobOutput::Logs(files) = output;
        self.files = files.clone();
        let lines: usize = self.files.iter().map(|f| f.lines.len()).sum();
        self.status = if self.files.is_empty() {
            "no log files here; open one with --logs PATH".to_string()
        } else {
            format!("{} files, {lines} lines", self.files.len())
        };
        self.selected_file = 0;
        self.cursor = 0;
        self.top = 0;
    }

    fn run(&mut self, cmd: Cmd, _key: KeyEvent, _ctx: &mut Ctx) -> Action {
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
        Action::None
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let [list_area, view_area] =
            Layout::horizontal([Constraint::Length(30), Constraint::Min(10)]).areas(area);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_keeps_invalid_utf8_lossily_and_drops_only_the_final_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"ok\r\nbad \xff byte\n\nlast\n").expect("write");
        let logs = load_logs(dir.path()).expect("load");
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].lines, vec!["ok", "bad \u{fffd} byte", "", "last"]);
        assert!(!logs[0].truncated);
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = load_logs(Path::new("/no/such/file.log")).expect_err("missing");
        assert!(err.contains("/no/such/file.log"), "{err}");
    }
}
