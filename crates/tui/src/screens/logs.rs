//! The Logs screen, where on-call engineers live: virtual scrolling over indexed files, syntax
//! highlighting of the visible lines only, regex search, level and template filters, jumps to the next
//! error or warning, a template panel, a time histogram split by level, marks, a range selection that
//! the Diagnose and Flowcharts screens take as input, follow mode, and several files merged by time.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};
use ratatui::Frame;
use regex::Regex;

use super::{Action, Ctx, Screen, ScreenId, Selection};
use crate::events::{forward, AppEvent};
use crate::input::TextInput;
use crate::jobs::JobOutput;
use crate::keys::{Binding, Key};
use crate::pane::SIDE_STEP;
use logreasoner_core::diagnose::burst::Baseline;
use logreasoner_core::diagnose::FileContext;
use logreasoner_core::logs::follow::{Follower, Note, Update};
use logreasoner_core::logs::format::{self, Level};
use logreasoner_core::logs::highlight::Highlighter;
use logreasoner_core::logs::novelty;
use logreasoner_core::logs::source::{open_sources, LogSource, TemplateStats};

/// The selection handed to other screens when no range is marked: the lines around the cursor.
pub const SELECTION_LINES: usize = 5000;
/// Bytes of a line given to the renderer; the rest of a huge line is never decoded.
const DISPLAY_BYTES: usize = 4096;

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
    Exclude,
    Search,
    NextHit,
    PrevHit,
    NextError,
    PrevError,
    NextWarning,
    PrevWarning,
    Level,
    ClearFilters,
    Templates,
    Histogram,
    Mark,
    NextMark,
    Select,
    Follow,
    ScrollRight,
    ScrollLeft,
    ShortHeaders,
    Wrap,
    Apply,
    Cancel,
}

const KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Next line (file, template)",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Previous line (file, template)",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::code(KeyCode::PageDown), Key::ctrl('f'), Key::ch(' ')],
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
        help: "Next pane: files, lines, templates",
        cmd: Cmd::SwitchPane,
    },
    Binding {
        keys: &[Key::code(KeyCode::Enter)],
        help: "Open file / show only this template (again: undo)",
        cmd: Cmd::Open,
    },
    Binding {
        keys: &[Key::ch('x')],
        help: "Hide this template (again: show)",
        cmd: Cmd::Exclude,
    },
    Binding {
        keys: &[Key::ch('/')],
        help: "Search (regex)",
        cmd: Cmd::Search,
    },
    Binding {
        keys: &[Key::ch('n')],
        help: "Next search hit",
        cmd: Cmd::NextHit,
    },
    Binding {
        keys: &[Key::ch('N')],
        help: "Previous search hit",
        cmd: Cmd::PrevHit,
    },
    Binding {
        keys: &[Key::ch('e')],
        help: "Next error",
        cmd: Cmd::NextError,
    },
    Binding {
        keys: &[Key::ch('E')],
        help: "Previous error",
        cmd: Cmd::PrevError,
    },
    Binding {
        keys: &[Key::ch('w')],
        help: "Next warning",
        cmd: Cmd::NextWarning,
    },
    Binding {
        keys: &[Key::ch('W')],
        help: "Previous warning",
        cmd: Cmd::PrevWarning,
    },
    Binding {
        keys: &[Key::ch('L')],
        help: "Minimum level: all, info, warn, error",
        cmd: Cmd::Level,
    },
    Binding {
        keys: &[Key::ch('c')],
        help: "Clear filters and search",
        cmd: Cmd::ClearFilters,
    },
    Binding {
        keys: &[Key::ch('t')],
        help: "Template panel",
        cmd: Cmd::Templates,
    },
    Binding {
        keys: &[Key::ch('H')],
        help: "Histogram of lines over time",
        cmd: Cmd::Histogram,
    },
    Binding {
        keys: &[Key::ch('m')],
        help: "Mark or unmark the line",
        cmd: Cmd::Mark,
    },
    Binding {
        keys: &[Key::ch('M'), Key::ch('\'')],
        help: "Next mark",
        cmd: Cmd::NextMark,
    },
    Binding {
        keys: &[Key::ch('v')],
        help: "Select a range (v again ends it)",
        cmd: Cmd::Select,
    },
    Binding {
        keys: &[Key::ch('F')],
        help: "Follow the file (tail -F)",
        cmd: Cmd::Follow,
    },
    Binding {
        keys: &[Key::ch('>')],
        help: "Scroll long lines right",
        cmd: Cmd::ScrollRight,
    },
    Binding {
        keys: &[Key::ch('<')],
        help: "Scroll long lines left",
        cmd: Cmd::ScrollLeft,
    },
    Binding {
        keys: &[Key::ch('s')],
        help: "Short headers: time, level, component, then the message",
        cmd: Cmd::ShortHeaders,
    },
    Binding {
        keys: &[Key::ch('z')],
        help: "Wrap long lines (on/off; at most 8 rows a line)",
        cmd: Cmd::Wrap,
    },
    Binding {
        keys: &[Key::code(KeyCode::Esc)],
        help: "Drop the range selection",
        cmd: Cmd::Cancel,
    },
];

/// The Files pane's width: 32 columns from 120 up, down to 18 at 80.
fn files_width(total: u16) -> u16 {
    (total.saturating_sub(80) * 14 / 40 + 18).clamp(18, 32)
}

/// The Lines pane's summary for its bottom border: right-aligned, or left-aligned when too long
/// for the border, so what is cut is the last notes and never the line count that opens it.
fn summary_line(summary: String, width: u16) -> Line<'static> {
    let fits = summary.chars().count() + 4 <= usize::from(width);
    let line = Line::from(format!(" {summary} "));
    if fits {
        line.right_aligned()
    } else {
        line.left_aligned()
    }
}

/// `text` in syntax colours (the shared highlighter), or plain where there is none.
fn highlighted(text: &str) -> Vec<Span<'static>> {
    match Highlighter::shared() {
        Some(h) => h
            .highlight(text)
            .into_iter()
            .map(|(st, piece)| {
                let mut style = Style::new().fg(Color::Rgb(st.rgb.0, st.rgb.1, st.rgb.2));
                if st.bold {
                    style = style.add_modifier(Modifier::BOLD);
                }
                if st.italic {
                    style = style.add_modifier(Modifier::ITALIC);
                }
                Span::styled(piece.to_string(), style)
            })
            .collect(),
        None => vec![Span::raw(text.to_string())],
    }
}

/// Rows a wrapped line takes at most (the rest of a longer one is reached with `z` off and `>`).
const WRAP_ROWS: usize = 8;

const INPUT_KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::code(KeyCode::Enter)],
        help: "Search",
        cmd: Cmd::Apply,
    },
    Binding {
        keys: &[Key::code(KeyCode::Esc)],
        help: "Cancel",
        cmd: Cmd::Cancel,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pane {
    Files,
    Lines,
    Templates,
}

/// A line of the current view: (source, 0-based line).
type Row = (usize, usize);

/// A file (or stdin) being read as it grows. Its reader thread's updates arrive as
/// [`AppEvent::Follow`] events and wait in `arrived` until the next frame takes them in.
struct Following {
    source: usize,
    /// Which `AppEvent::Follow` events are this reader's.
    id: u64,
    stop: Arc<AtomicBool>,
    arrived: Vec<Update>,
    /// The reader ended (end of stdin, or the thread stopped).
    ended: bool,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts a thread that sends updates until told to stop or the screen is gone; they reach the
/// app's queue as `AppEvent::Follow` events of reader `id`.
fn spawn_reader(
    name: &str,
    id: u64,
    ctx: &Ctx,
    body: impl FnOnce(std::sync::mpsc::Sender<Update>, Arc<AtomicBool>) + Send + 'static,
) -> std::io::Result<Arc<AtomicBool>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_thread = Arc::clone(&stop);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || body(tx, stop_thread))?;
    forward(name, rx, ctx.events().sender(), move |update| {
        Some(AppEvent::Follow {
            follower: id,
            update,
        })
    })?;
    Ok(stop)
}

pub struct LogsScreen {
    sources: Vec<LogSource>,
    /// Which file is shown; `sources.len()` means all files merged by time.
    current: usize,
    merged: Vec<Row>,
    /// The filtered rows; `None` shows every line of the current view.
    rows: Option<Vec<Row>>,
    cursor: usize,
    top: usize,
    page: usize,
    pane: Pane,
    file_cursor: usize,
    search: Option<Regex>,
    input: Option<TextInput>,
    min_level: Option<Level>,
    include: BTreeSet<(usize, u32)>,
    exclude: BTreeSet<(usize, u32)>,
    marks: BTreeSet<Row>,
    anchor: Option<usize>,
    range: Option<(usize, usize)>,
    show_templates: bool,
    show_histogram: bool,
    templates: Vec<TemplateStats>,
    template_cursor: usize,
    following: Option<Following>,
    /// `:filter FIELD=VALUE`: only lines whose field has that value (any case).
    field_filter: Option<(String, String)>,
    /// The last id given to a reader thread.
    last_follower: u64,
    status: String,
    loaded: bool,
    /// Characters of every line scrolled out to the left.
    hscroll: usize,
    /// Lines shown with their header compacted (`logs::format::compact`).
    short_headers: bool,
    /// Long lines wrap onto up to [`WRAP_ROWS`] rows instead of being cut at the edge.
    wrap: bool,
}

impl Default for LogsScreen {
    fn default() -> Self {
        LogsScreen {
            sources: Vec::new(),
            current: 0,
            merged: Vec::new(),
            rows: None,
            cursor: 0,
            top: 0,
            page: 20,
            pane: Pane::Lines,
            file_cursor: 0,
            search: None,
            input: None,
            min_level: None,
            include: BTreeSet::new(),
            exclude: BTreeSet::new(),
            marks: BTreeSet::new(),
            anchor: None,
            range: None,
            show_templates: false,
            show_histogram: false,
            templates: Vec::new(),
            template_cursor: 0,
            following: None,
            field_filter: None,
            last_follower: 0,
            status: "loading logs…".into(),
            loaded: false,
            hscroll: 0,
            short_headers: false,
            wrap: false,
        }
    }
}

/// Lines analysed per frame after the loading job's first [`ANALYSE_UPFRONT`].
const ANALYSE_PER_TICK: usize = 50_000;

impl LogsScreen {
    /// Enter in the search prompt: the regex becomes the search and the cursor goes to its first
    /// hit from here; an empty one clears the search.
    fn apply_search(&mut self) -> Action {
        let text = self
            .input
            .take()
            .map(|i| i.text().to_string())
            .unwrap_or_default();
        if text.is_empty() {
            self.search = None;
            Action::None
        } else {
            match Regex::new(&text) {
                Ok(re) => {
                    self.search = Some(re);
                    let current = self.cursor;
                    let hit = |s: &Self, (src, l): Row| {
                        s.search
                            .as_ref()
                            .is_some_and(|re| re.is_match(&s.sources[src].line(l)))
                    };
                    // How many lines of the view match, so n/N say how far there is to go.
                    let hits = (0..self.view_len())
                        .filter(|&i| self.row(i).is_some_and(|r| hit(self, r)))
                        .count();
                    let moved = if self.row(current).is_some_and(|r| hit(self, r)) {
                        Action::None
                    } else {
                        self.jump(true, "match", hit)
                    };
                    match moved {
                        Action::None => {
                            Action::Message(format!("{hits} matching line(s); n next, N previous"))
                        }
                        _ if hits == 0 => Action::Message(format!("no line matches `{text}`")),
                        other => other,
                    }
                }
                Err(e) => Action::Message(format!(
                    "not a regex: {}",
                    e.to_string().lines().last().unwrap_or("")
                )),
            }
        }
    }

    /// The next mark after the cursor, wrapping around to the first.
    fn next_mark(&mut self) -> Action {
        if self.marks.is_empty() {
            Action::Message("no marks: m marks a line".into())
        } else {
            let found = self.jump(true, "mark", |s, r| s.marks.contains(&r));
            if found == Action::None {
                found
            } else {
                // Wrap around to the first mark.
                self.cursor = 0;
                if self.row(0).is_some_and(|r| self.marks.contains(&r)) {
                    Action::None
                } else {
                    self.jump(true, "mark", |s, r| s.marks.contains(&r))
                }
            }
        }
    }

    /// `v`: starts a selection at the cursor, or ends the one in progress.
    fn toggle_selection(&mut self) -> Action {
        if self.pane != Pane::Lines {
            return Action::Message("v selects log lines: Tab to the lines pane first".into());
        }
        match self.anchor.take() {
            Some(_) => {}
            None => {
                self.anchor = Some(self.cursor);
                self.range = Some((self.cursor, self.cursor));
            }
        }
        match self.range {
            Some((a, b)) if self.anchor.is_none() => Action::Message(format!(
                "selected {} line(s) for Diagnose and Flowcharts",
                b - a + 1
            )),
            _ => Action::None,
        }
    }

    /// A screen over sources that are already open (benchmarks, embedding).
    pub fn with_sources(sources: Vec<LogSource>) -> Self {
        let mut screen = LogsScreen {
            sources,
            loaded: true,
            ..Default::default()
        };
        screen.rebuild_merged();
        screen.select_source(0);
        screen
    }

    /// Analyses a slice of any source not yet done; filters and views catch up when it finishes.
    fn analyse_more(&mut self) -> bool {
        let Some(src) = self.sources.iter_mut().find(|s| s.analysed() < s.len()) else {
            return false;
        };
        if src.analyse_step(ANALYSE_PER_TICK) {
            return true;
        }
        if self.sources.iter().all(|s| s.analysed() == s.len()) {
            self.rebuild_merged();
            if self.has_filter() {
                self.refilter();
            }
            if self.show_templates {
                self.rebuild_templates();
            }
        }
        true
    }

    /// Takes in the lines the reader thread sent since the last frame (in one batch, so a fast
    /// pipe costs one refilter per frame, not one per line).
    fn follow_tick(&mut self, ctx: &mut Ctx) -> bool {
        let Some(f) = &mut self.following else {
            return false;
        };
        let updates = std::mem::take(&mut f.arrived);
        let gone = f.ended;
        let s = f.source;
        // Lines that came with the end are kept: a finished pipe sends all of them at once, and
        // its reader is gone before the first tick.
        if gone {
            self.following = None;
            self.status = if self.sources[s].path == Path::new("-") {
                "stdin ended".into()
            } else {
                "following stopped".into()
            };
            if updates.is_empty() {
                return true;
            }
        }
        if updates.is_empty() {
            return false;
        }
        let at_end = self.cursor + 1 >= self.view_len();
        for u in updates {
            for note in &u.notes {
                self.status = match note {
                    Note::Truncated => "the file was truncated; reading from its start".into(),
                    Note::Replaced => {
                        "the file was rotated or re-created; following the new one".into()
                    }
                    Note::Missing => "the file is gone; waiting for it to come back".into(),
                };
            }
            let last_line = self.sources[s].len() + u.lines.len();
            ctx.post(AppEvent::LinesFollowed {
                source: self.sources[s].path.display().to_string(),
                lines: u.lines.clone(),
                last_line,
                // Truncated or replaced: the file's numbering starts over.
                restart: u.notes.iter().any(|n| *n != Note::Missing),
            });
            self.sources[s].append(u.lines);
        }
        if self.has_filter() {
            self.refilter();
        }
        if at_end {
            self.cursor = self.view_len().saturating_sub(1);
        }
        if self.show_templates {
            self.rebuild_templates();
        }
        self.publish_selection(ctx);
        true
    }

    fn merged_view(&self) -> bool {
        self.current == self.sources.len() && self.sources.len() > 1
    }

    fn view_len(&self) -> usize {
        match &self.rows {
            Some(rows) => rows.len(),
            None if self.merged_view() => self.merged.len(),
            None => self.sources.get(self.current).map_or(0, |s| s.len()),
        }
    }

    fn row(&self, i: usize) -> Option<Row> {
        match &self.rows {
            Some(rows) => rows.get(i).copied(),
            None if self.merged_view() => self.merged.get(i).copied(),
            None => (i < self.sources.get(self.current)?.len()).then_some((self.current, i)),
        }
    }

    fn has_filter(&self) -> bool {
        self.min_level.is_some()
            || !self.include.is_empty()
            || !self.exclude.is_empty()
            || self.field_filter.is_some()
    }

    fn keep(&self, (s, l): Row) -> bool {
        let src = &self.sources[s];
        if let Some(min) = self.min_level {
            if src.facts.level(l).is_none_or(|lv| lv < min) {
                return false;
            }
        }
        if let Some((name, value)) = &self.field_filter {
            let line = src.line(l);
            let found = format::field_value(src.format, &line, name);
            if found.is_none_or(|v| !v.eq_ignore_ascii_case(value)) {
                return false;
            }
        }
        let t = src.facts.template.get(l).copied().unwrap_or(u32::MAX);
        if !self.include.is_empty() && !self.include.contains(&(s, t)) {
            return false;
        }
        !self.exclude.contains(&(s, t))
    }

    /// Recomputes the filtered rows, keeping the cursor on the same line when it is still shown.
    fn refilter(&mut self) {
        let at = self.row(self.cursor);
        self.rows = None;
        if self.has_filter() {
            let all: Vec<Row> = (0..self.view_len()).filter_map(|i| self.row(i)).collect();
            self.rows = Some(all.into_iter().filter(|r| self.keep(*r)).collect());
        }
        self.cursor = at
            .and_then(|at| (0..self.view_len()).find(|&i| self.row(i).is_some_and(|r| r >= at)))
            .unwrap_or(0);
        self.range = None;
        self.anchor = None;
    }

    fn rebuild_merged(&mut self) {
        // A k-way merge by time; lines without a time keep the time of the line before them in their file.
        if self.sources.len() < 2 {
            self.merged.clear();
            return;
        }
        let mut rows: Vec<(i64, usize, usize)> = Vec::new();
        for (s, src) in self.sources.iter().enumerate() {
            let mut last = i64::MIN;
            for l in 0..src.len() {
                if let Some(t) = src.facts.time(l) {
                    last = t;
                }
                rows.push((last, s, l));
            }
        }
        rows.sort();
        self.merged = rows.into_iter().map(|(_, s, l)| (s, l)).collect();
    }

    fn rebuild_templates(&mut self) {
        let Some(src) = self.sources.get(self.current) else {
            self.templates.clear();
            return;
        };
        self.templates = src.template_stats();
        self.template_cursor = self
            .template_cursor
            .min(self.templates.len().saturating_sub(1));
    }

    fn select_source(&mut self, index: usize) {
        self.current = index;
        // A structured record's message is one field among many: show time, level, component
        // and message by default (s shows the whole line).
        if let Some(f) = self.sources.get(index).and_then(|s| s.format) {
            self.short_headers = f.is_structured();
        }
        self.rows = None;
        self.include.clear();
        self.exclude.clear();
        self.cursor = 0;
        self.top = 0;
        self.range = None;
        self.anchor = None;
        self.refilter();
        if self.show_templates {
            self.rebuild_templates();
        }
    }

    /// Moves the cursor to the next (or previous) row after it that satisfies `pred`.
    fn jump(&mut self, forward: bool, what: &str, pred: impl Fn(&Self, Row) -> bool) -> Action {
        let n = self.view_len();
        let found = if forward {
            (self.cursor + 1..n).find(|&i| self.row(i).is_some_and(|r| pred(self, r)))
        } else {
            (0..self.cursor)
                .rev()
                .find(|&i| self.row(i).is_some_and(|r| pred(self, r)))
        };
        match found {
            Some(i) => {
                self.cursor = i;
                Action::None
            }
            None => Action::Message(format!(
                "no {what} {}",
                if forward { "below" } else { "above" }
            )),
        }
    }

    fn level_at(&self, (s, l): Row) -> Option<Level> {
        self.sources[s].facts.level(l)
    }

    fn move_cursor(&mut self, delta: isize) {
        match self.pane {
            Pane::Files => {
                let entries = self.sources.len() + usize::from(self.sources.len() > 1);
                self.file_cursor = self
                    .file_cursor
                    .saturating_add_signed(delta)
                    .min(entries.saturating_sub(1));
            }
            Pane::Templates => {
                self.template_cursor = self
                    .template_cursor
                    .saturating_add_signed(delta)
                    .min(self.templates.len().saturating_sub(1));
            }
            Pane::Lines => {
                self.cursor = self
                    .cursor
                    .saturating_add_signed(delta)
                    .min(self.view_len().saturating_sub(1));
                if let Some(anchor) = self.anchor {
                    self.range = Some((anchor.min(self.cursor), anchor.max(self.cursor)));
                }
            }
        }
    }

    /// The lines other screens work on: the marked range, else the lines around the cursor.
    fn selection(&self) -> Option<Selection> {
        let (s, _) = self.row(self.cursor)?;
        if self.merged_view() || self.rows.is_some() {
            // A merged or filtered view: the selected rows themselves, in view order.
            let (a, b) = self.range.unwrap_or((
                self.cursor.saturating_sub(SELECTION_LINES / 2),
                self.cursor + SELECTION_LINES / 2,
            ));
            let lines: Vec<String> = (a..=b.min(self.view_len().saturating_sub(1)))
                .filter_map(|i| self.row(i))
                .map(|(s, l)| self.sources[s].line(l).into_owned())
                .collect();
            return Some(Selection {
                source: self.title(),
                first: 1,
                lines: lines.into(),
                file: None,
            });
        }
        let src = &self.sources[s];
        let (first, last) = match self.range {
            Some((a, b)) => (a + 1, b + 1),
            None => {
                let first = (self.cursor + 1).saturating_sub(SELECTION_LINES / 2).max(1);
                (first, (first + SELECTION_LINES - 1).min(src.len()))
            }
        };
        let novelty = novelty::in_source(src, first, last);
        Some(Selection {
            source: src.path.display().to_string(),
            first,
            lines: src.lines(first, last).into(),
            file: Some(FileContext {
                baseline: Baseline::around_source(src, first, last),
                novel: novelty.as_ref().map(|n| n.novel.clone()),
                surges: novelty.map(|n| n.surges).unwrap_or_default(),
            }),
        })
    }

    /// Tells the other screens when the selection changed.
    fn publish_selection(&self, ctx: &mut Ctx) {
        let selection = self.selection();
        let same = match (&selection, ctx.selection()) {
            (Some(a), Some(b)) => {
                a.source == b.source && a.first == b.first && a.lines[..] == b.lines[..]
            }
            (None, None) => true,
            _ => false,
        };
        if !same {
            ctx.post(AppEvent::SelectionChanged(selection));
        }
    }

    fn title(&self) -> String {
        if self.merged_view() {
            format!(
                "{} files merged by time · [n]: file n of the list",
                self.sources.len()
            )
        } else {
            self.sources
                .get(self.current)
                .map_or(String::new(), |s| s.path.display().to_string())
        }
    }

    fn toggle_follow(&mut self, ctx: &Ctx) -> Action {
        if let Some(f) = self.following.take() {
            return Action::Message(format!("stopped following {}", self.sources[f.source].name));
        }
        if self.merged_view() {
            return Action::Message("follow one file at a time".into());
        }
        let Some(src) = self.sources.get(self.current) else {
            return Action::None;
        };
        let path = src.path.clone();
        if path == Path::new("-") {
            return Action::Message("stdin is read as it arrives".into());
        }
        // Resume where the index ended, so lines written since the file was opened are not lost.
        let mut follower = match Follower::from_offset(&path, src.indexed_bytes()) {
            Ok(f) => f,
            Err(e) => return Action::Message(format!("cannot follow {}: {e}", path.display())),
        };
        self.last_follower += 1;
        let id = self.last_follower;
        let spawned = spawn_reader("follow", id, ctx, move |tx, stop| {
            while !stop.load(Ordering::Relaxed) {
                match follower.poll() {
                    Ok(u) if u == Update::default() => {}
                    Ok(u) => {
                        if tx.send(u).is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "follow poll failed"),
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let stop = match spawned {
            Ok(stop) => stop,
            Err(e) => return Action::Message(format!("cannot start following: {e}")),
        };
        self.following = Some(Following {
            source: self.current,
            id,
            stop,
            arrived: Vec::new(),
            ended: false,
        });
        self.cursor = self.view_len().saturating_sub(1);
        Action::Message(format!("following {} (F stops)", path.display()))
    }

    /// Reads standard input as it arrives into source `index`.
    fn read_stdin(&mut self, index: usize, ctx: &Ctx) {
        self.last_follower += 1;
        let id = self.last_follower;
        let spawned = spawn_reader("stdin", id, ctx, |tx, stop| {
            use std::io::BufRead;
            let mut input = std::io::stdin().lock();
            let mut buf = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                buf.clear();
                match input.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        let update = Update {
                            lines: vec![String::from_utf8_lossy(line).into_owned()],
                            notes: Vec::new(),
                        };
                        if tx.send(update).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        match spawned {
            Ok(stop) => {
                self.following = Some(Following {
                    source: index,
                    id,
                    stop,
                    arrived: Vec::new(),
                    ended: false,
                })
            }
            Err(e) => self.status = format!("cannot read stdin: {e}"),
        }
    }

    fn run_templates(&mut self, cmd: Cmd) -> Option<Action> {
        let t = self.templates.get(self.template_cursor)?.id;
        let key = (self.current, t);
        match cmd {
            Cmd::Open => {
                if !self.include.remove(&key) {
                    self.include.insert(key);
                }
            }
            Cmd::Exclude => {
                if !self.exclude.remove(&key) {
                    self.exclude.insert(key);
                }
            }
            _ => return None,
        }
        self.refilter();
        Some(Action::None)
    }
}

impl Screen for LogsScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        ScreenId::Logs
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        if self.input.is_some() {
            INPUT_KEYS
        } else {
            KEYS
        }
    }

    fn start(&mut self, ctx: &mut Ctx) {
        let path = ctx.config().logs.value.clone();
        let format_name = ctx.config().log_format.as_ref().map(|s| s.value.clone());
        ctx.jobs.spawn("loading logs", move |report| {
            report.progress(format!("indexing {}", path.display()));
            let fmt = match format_name.as_deref() {
                None => None,
                Some(name) => match format::by_name(name) {
                    Some(f) => Some(f),
                    None => {
                        return Ok(JobOutput::Logs(Err(format!(
                            "unknown log format `{name}`; known: {}",
                            format::names().join(", ")
                        ))))
                    }
                },
            };
            Ok(JobOutput::Logs(open_sources(&path, fmt)))
        });
    }

    fn on_job(&mut self, output: JobOutput, ctx: &mut Ctx) -> Option<JobOutput> {
        let JobOutput::Logs(result) = output else {
            return Some(output);
        };
        self.loaded = true;
        match result {
            Ok(sources) => self.sources = sources,
            Err(e) => {
                self.status = e;
                return None;
            }
        }
        if let Some(i) = self.sources.iter().position(|s| s.path == Path::new("-")) {
            self.read_stdin(i, ctx);
        }
        self.rebuild_merged();
        self.select_source(0);
        self.publish_selection(ctx);
        None
    }

    fn commands(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        &[(
            "filter",
            "FIELD=VALUE",
            "Lines whose field (a JSON key, level…) has VALUE",
        )]
    }

    fn command(&mut self, name: &str, args: &str, ctx: &mut Ctx) -> Option<Action> {
        if name != "filter" {
            return None;
        }
        if args.is_empty() {
            self.field_filter = None;
            self.refilter();
            self.publish_selection(ctx);
            return Some(Action::Message("field filter cleared".into()));
        }
        let Some((field, value)) = args.split_once('=') else {
            return Some(Action::Message(
                "usage: :filter FIELD=VALUE (e.g. :filter level=error)".into(),
            ));
        };
        let (field, value) = (field.trim(), value.trim().trim_matches('"'));
        if field.is_empty() {
            return Some(Action::Message("name a field: :filter FIELD=VALUE".into()));
        }
        self.field_filter = Some((field.to_string(), value.to_string()));
        self.refilter();
        self.publish_selection(ctx);
        let shown = self.view_len();
        Some(Action::Message(format!(
            "filter {field}={value}: {shown} line(s); :filter alone or c clears it"
        )))
    }

    fn on_event(&mut self, event: &AppEvent, _ctx: &mut Ctx) -> bool {
        let AppEvent::Follow { follower, update } = event else {
            return false;
        };
        let Some(f) = self.following.as_mut().filter(|f| f.id == *follower) else {
            return false;
        };
        match update {
            Some(u) => f.arrived.push(u.clone()),
            None => f.ended = true,
        }
        // Taken in at the next frame's tick, with whatever else arrived by then.
        false
    }

    fn tick(&mut self, ctx: &mut Ctx) -> bool {
        let analysed = self.analyse_more();
        let followed = self.follow_tick(ctx);
        analysed || followed
    }

    fn wants_text(&self) -> bool {
        self.input.is_some()
    }

    fn text_key(&mut self, key: KeyEvent, _ctx: &mut Ctx) -> Action {
        if let Some(input) = &mut self.input {
            input.handle(key);
        }
        Action::None
    }

    fn run(&mut self, cmd: Cmd, _key: KeyEvent, ctx: &mut Ctx) -> Action {
        let page = self.page.max(1) as isize;
        let action = match cmd {
            Cmd::Apply => self.apply_search(),
            Cmd::Cancel if self.input.is_some() => {
                self.input = None;
                Action::None
            }
            Cmd::Cancel => {
                self.anchor = None;
                self.range = None;
                Action::None
            }
            Cmd::Search => {
                self.input = Some(TextInput::default());
                Action::None
            }
            Cmd::NextHit | Cmd::PrevHit => {
                if self.search.is_none() {
                    Action::Message("no search yet: / starts one".into())
                } else {
                    self.jump(cmd == Cmd::NextHit, "match", |s, (src, l)| {
                        s.search
                            .as_ref()
                            .is_some_and(|re| re.is_match(&s.sources[src].line(l)))
                    })
                }
            }
            Cmd::NextError => self.jump(true, "error", |s, r| {
                s.level_at(r).is_some_and(|l| l >= Level::Error)
            }),
            Cmd::PrevError => self.jump(false, "error", |s, r| {
                s.level_at(r).is_some_and(|l| l >= Level::Error)
            }),
            Cmd::NextWarning => {
                self.jump(true, "warning", |s, r| s.level_at(r) == Some(Level::Warn))
            }
            Cmd::PrevWarning => {
                self.jump(false, "warning", |s, r| s.level_at(r) == Some(Level::Warn))
            }
            Cmd::Level => {
                self.min_level = match self.min_level {
                    None => Some(Level::Info),
                    Some(Level::Info) => Some(Level::Warn),
                    Some(Level::Warn) => Some(Level::Error),
                    _ => None,
                };
                self.refilter();
                let which = match self.min_level {
                    None => "every level".to_string(),
                    Some(l) => format!("{} and above", format!("{l:?}").to_lowercase()),
                };
                Action::Message(format!(
                    "showing {which}: {} line(s) (L: next level)",
                    self.view_len()
                ))
            }
            Cmd::ClearFilters => {
                self.min_level = None;
                self.include.clear();
                self.exclude.clear();
                self.field_filter = None;
                self.search = None;
                self.refilter();
                Action::Message(format!(
                    "filters and search cleared: {} line(s)",
                    self.view_len()
                ))
            }
            Cmd::Templates => {
                self.show_templates = !self.show_templates;
                if self.show_templates {
                    self.rebuild_templates();
                    self.pane = Pane::Templates;
                } else if self.pane == Pane::Templates {
                    self.pane = Pane::Lines;
                }
                Action::None
            }
            Cmd::Histogram => {
                self.show_histogram = !self.show_histogram;
                Action::None
            }
            Cmd::Mark => match self.row(self.cursor) {
                Some(r) if self.marks.remove(&r) => {
                    Action::Message(format!("unmarked line {}", r.1 + 1))
                }
                Some(r) => {
                    self.marks.insert(r);
                    Action::Message(format!(
                        "marked line {} ({} mark(s); M goes to the next, m again unmarks)",
                        r.1 + 1,
                        self.marks.len()
                    ))
                }
                None => Action::None,
            },
            Cmd::NextMark => self.next_mark(),
            Cmd::Select => self.toggle_selection(),
            Cmd::Follow => self.toggle_follow(ctx),
            Cmd::ScrollRight | Cmd::ScrollLeft | Cmd::Wrap | Cmd::ShortHeaders => {
                self.line_view(cmd)
            }
            Cmd::Down | Cmd::Up | Cmd::PageDown | Cmd::PageUp | Cmd::Top | Cmd::Bottom => {
                self.move_cursor(match cmd {
                    Cmd::Down => 1,
                    Cmd::Up => -1,
                    Cmd::PageDown => page,
                    Cmd::PageUp => -page,
                    Cmd::Top => isize::MIN / 2,
                    _ => isize::MAX / 2,
                });
                Action::None
            }
            Cmd::SwitchPane => {
                self.pane = match (self.pane, self.show_templates) {
                    (Pane::Files, _) => Pane::Lines,
                    (Pane::Lines, true) => Pane::Templates,
                    (Pane::Lines, false) | (Pane::Templates, _) => Pane::Files,
                };
                Action::None
            }
            Cmd::Open | Cmd::Exclude => match self.pane {
                Pane::Files if cmd == Cmd::Open => {
                    self.select_source(self.file_cursor);
                    self.pane = Pane::Lines;
                    Action::None
                }
                Pane::Templates => self.run_templates(cmd).unwrap_or(Action::None),
                _ => Action::None,
            },
        };
        self.publish_selection(ctx);
        action
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let [list_area, main] =
            // The file list gives way on narrow terminals: at 80 columns the lines need the room.
            Layout::horizontal([Constraint::Length(files_width(area.width)), Constraint::Min(20)])
                .areas(area);
        self.render_files(frame, list_area);
        let [hist_area, view_area, tpl_area, input_area] = Layout::vertical([
            Constraint::Length(if self.show_histogram { 7 } else { 0 }),
            Constraint::Min(3),
            Constraint::Length(if self.show_templates { 10 } else { 0 }),
            Constraint::Length(if self.input.is_some() { 3 } else { 0 }),
        ])
        .areas(main);
        if self.show_histogram {
            self.render_histogram(frame, hist_area);
        }
        self.render_lines(frame, view_area);
        if self.show_templates {
            self.render_templates(frame, tpl_area);
        }
        if let Some(input) = &self.input {
            frame.render_widget(
                Paragraph::new(input.with_cursor()).block(
                    Block::bordered()
                        .title(" search (regex) ")
                        .border_style(Style::new().fg(Color::Yellow)),
                ),
                input_area,
            );
        }
    }
}

fn pane_style(active: bool) -> Style {
    if active {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

fn level_color(level: Option<Level>) -> Color {
    match level {
        Some(Level::Fatal) => Color::Magenta,
        Some(Level::Error) => Color::Red,
        Some(Level::Warn) => Color::Yellow,
        _ => Color::Green,
    }
}

impl LogsScreen {
    fn render_files(&self, frame: &mut Frame, area: Rect) {
        let mut items: Vec<ListItem> = self
            .sources
            .iter()
            .map(|f| {
                let fmt = f.format.map_or("plain", |f| f.name);
                ListItem::new(Line::from(vec![
                    Span::raw(f.name.clone()),
                    Span::styled(
                        format!(" {} · {fmt}", f.len()),
                        Style::new().fg(Color::DarkGray),
                    ),
                ]))
            })
            .collect();
        if self.sources.len() > 1 {
            items.push(ListItem::new(Line::from(Span::styled(
                "⧉ all, merged by time",
                Style::new().fg(Color::Cyan),
            ))));
        }
        let list = List::new(items)
            .block(
                Block::bordered()
                    .title(" Files ")
                    .border_style(pane_style(self.pane == Pane::Files)),
            )
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let selected = if self.pane == Pane::Files {
            self.file_cursor
        } else {
            self.current
        };
        let mut state =
            ListState::default().with_selected((!self.sources.is_empty()).then_some(selected));
        frame.render_stateful_widget(list, area, &mut state);
    }

    fn filter_summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = self.min_level {
            parts.push(format!("level ≥ {}", l.name()));
        }
        if !self.include.is_empty() {
            parts.push(format!("only {} template(s)", self.include.len()));
        }
        if !self.exclude.is_empty() {
            parts.push(format!("{} template(s) hidden", self.exclude.len()));
        }
        if let Some(re) = &self.search {
            parts.push(format!("/{}/", re.as_str()));
        }
        if let Some((a, b)) = self.range {
            parts.push(format!("{} selected", b - a + 1));
        }
        if !self.marks.is_empty() {
            parts.push(format!("{} marked", self.marks.len()));
        }
        if self.following.is_some() {
            parts.push("following".into());
        }
        if self.short_headers {
            parts.push("short headers".into());
        }
        if self.hscroll > 0 {
            parts.push(format!("from column {}", self.hscroll + 1));
        }
        let shown = self.view_len();
        let total: usize = if self.merged_view() {
            self.sources.iter().map(|s| s.len()).sum()
        } else {
            self.sources.get(self.current).map_or(0, |s| s.len())
        };
        let count = if shown == total {
            format!("{total} lines")
        } else {
            format!("{shown} of {total} lines")
        };
        parts.insert(0, count);
        if !self.status.is_empty() && self.loaded && !self.status.starts_with("loading") {
            parts.push(self.status.clone());
        }
        parts.join(" · ")
    }

    fn render_lines(&mut self, frame: &mut Frame, area: Rect) {
        let title = if !self.loaded {
            format!(" {} ", self.status)
        } else if self.sources.is_empty() {
            " no logs ".to_string()
        } else {
            format!(" {} ", self.title())
        };
        let block = Block::bordered()
            .title(title)
            .title_bottom(summary_line(self.filter_summary(), area.width))
            .border_style(pane_style(self.pane == Pane::Lines));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if self.loaded && self.sources.is_empty() {
            let text = if self.status.starts_with("loading") {
                "No log files here; open one with --logs PATH.".to_string()
            } else {
                format!("{}\nOpen another with --logs PATH.", self.status)
            };
            frame.render_widget(
                Paragraph::new(text)
                    .wrap(ratatui::widgets::Wrap { trim: true })
                    .style(Style::new().fg(Color::Yellow)),
                inner,
            );
            return;
        }
        let height = inner.height as usize;
        self.page = height.saturating_sub(1).max(1);
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if height > 0 && self.cursor >= self.top + height {
            self.top = self.cursor + 1 - height;
        }
        let merged = self.merged_view();
        let total: usize = self.sources.iter().map(|s| s.len()).max().unwrap_or(0);
        let gutter = total.max(1).to_string().len();
        let width = inner.width as usize;
        let room = width.saturating_sub(gutter + 1).max(1);
        if self.wrap {
            // Lines above the cursor may take several rows: keep the cursor line's rows on screen.
            while self.top < self.cursor
                && (self.top..=self.cursor)
                    .map(|i| self.wrapped_rows(i, room))
                    .sum::<usize>()
                    > height
            {
                self.top += 1;
            }
        }
        let mut lines = Vec::with_capacity(height);
        let mut i = self.top;
        while lines.len() < height && i < self.view_len() {
            let Some((s, l)) = self.row(i) else { break };
            let at_cursor = i == self.cursor && self.pane == Pane::Lines;
            let selected = self.range.is_some_and(|(a, b)| (a..=b).contains(&i));
            let marker = if at_cursor {
                "▶"
            } else if self.marks.contains(&(s, l)) {
                "●"
            } else if selected {
                "┃"
            } else {
                " "
            };
            let mut head = vec![
                Span::styled(
                    format!("{:>gutter$}", l + 1),
                    Style::new().fg(level_color(self.sources[s].facts.level(l))),
                ),
                Span::styled(marker, Style::new().fg(Color::Cyan)),
            ];
            if merged {
                // The file's number in the Files pane, for lines merged from several files.
                head.push(Span::styled(
                    format!("[{}] ", s + 1),
                    Style::new().fg(Color::DarkGray),
                ));
            }
            let text = self
                .shown_text(i, self.display_bytes(room))
                .unwrap_or_default();
            let chars: Vec<char> = text.chars().collect();
            let pieces: Vec<String> = if self.wrap {
                chars
                    .chunks(room)
                    .take(WRAP_ROWS)
                    .map(|c| c.iter().collect())
                    .collect()
            } else {
                vec![chars.iter().skip(self.hscroll).take(room).collect()]
            };
            let background = if at_cursor {
                Some(Style::new().bg(Color::Rgb(50, 50, 70)))
            } else if selected {
                Some(Style::new().bg(Color::Rgb(30, 40, 55)))
            } else {
                None
            };
            for (n, piece) in pieces.iter().enumerate() {
                if lines.len() == height {
                    break;
                }
                let mut spans = if n == 0 {
                    std::mem::take(&mut head)
                } else {
                    vec![Span::raw(" ".repeat(gutter + 1))]
                };
                spans.extend(highlighted(piece));
                let mut line = Line::from(spans);
                if let Some(style) = background {
                    line = line.style(style);
                }
                lines.push(line);
            }
            if pieces.is_empty() {
                lines.push(Line::from(head));
            }
            i += 1;
        }
        frame.render_widget(Paragraph::new(lines), inner);
    }

    /// Keys that change how lines are shown: sideways, wrapped, with short headers.
    fn line_view(&mut self, cmd: Cmd) -> Action {
        match cmd {
            Cmd::ScrollRight if self.wrap => {
                Action::Message("lines are wrapped (z unwraps)".into())
            }
            Cmd::ScrollRight => {
                self.hscroll += SIDE_STEP;
                Action::None
            }
            Cmd::Wrap => {
                self.wrap = !self.wrap;
                self.hscroll = 0;
                Action::Message(if self.wrap {
                    format!("long lines wrap (up to {WRAP_ROWS} rows; z: cut at the edge)")
                } else {
                    "long lines cut at the edge (> and < scroll sideways; z wraps)".into()
                })
            }
            Cmd::ScrollLeft => {
                self.hscroll = self.hscroll.saturating_sub(SIDE_STEP);
                Action::None
            }
            Cmd::ShortHeaders => {
                self.short_headers = !self.short_headers;
                // Said once in the message line; the pane's summary keeps "short headers".
                Action::Message(if self.short_headers {
                    "short headers: time, level, component, then the message (s: whole lines)"
                        .into()
                } else {
                    "whole lines".into()
                })
            }
            _ => Action::None,
        }
    }

    /// Bytes of a line worth reading for a pane `room` columns wide (four bytes a character at
    /// most), so a 10 MB line is never laid out whole.
    fn display_bytes(&self, room: usize) -> usize {
        let columns = if self.wrap {
            room * WRAP_ROWS
        } else {
            room + self.hscroll
        };
        DISPLAY_BYTES.min(columns * 4 + 4)
    }

    /// View row `i`'s text as shown: cut to `max_bytes`, headers shortened when asked.
    fn shown_text(&self, i: usize, max_bytes: usize) -> Option<String> {
        let (s, l) = self.row(i)?;
        let src = &self.sources[s];
        let (text, _) = src.display_line(l, max_bytes);
        Some(if self.short_headers {
            logreasoner_core::logs::format::short(&text, src.format)
        } else {
            text.into_owned()
        })
    }

    /// Screen rows view row `i` takes when wrapped in `room` columns.
    fn wrapped_rows(&self, i: usize, room: usize) -> usize {
        let chars = self
            .shown_text(i, self.display_bytes(room))
            .map_or(0, |t| t.chars().count());
        chars.div_ceil(room.max(1)).clamp(1, WRAP_ROWS)
    }

    fn render_templates(&self, frame: &mut Frame, area: Rect) {
        let block = Block::bordered()
            .title(format!(
                " Templates ({}) · Enter shows only · x hides ",
                self.templates.len()
            ))
            .border_style(pane_style(self.pane == Pane::Templates));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let height = inner.height as usize;
        let top = self
            .template_cursor
            .saturating_sub(height.saturating_sub(1));
        let lines: Vec<Line> = self
            .templates
            .iter()
            .enumerate()
            .skip(top)
            .take(height)
            .map(|(i, t)| {
                let key = (self.current, t.id);
                let flag = if self.include.contains(&key) {
                    "+"
                } else if self.exclude.contains(&key) {
                    "−"
                } else {
                    " "
                };
                let line = Line::from(vec![
                    Span::styled(
                        format!("{flag}{:>6} ", t.count),
                        Style::new().fg(Color::Cyan),
                    ),
                    Span::styled(
                        format!("{:>5}-{:<5} ", t.first, t.last),
                        Style::new().fg(Color::DarkGray),
                    ),
                    Span::raw(t.text.clone()),
                ]);
                if i == self.template_cursor && self.pane == Pane::Templates {
                    line.style(Style::new().bg(Color::Rgb(50, 50, 70)))
                } else {
                    line
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }

    fn render_histogram(&self, frame: &mut Frame, area: Rect) {
        let block =
            Block::bordered().title(" Lines over time · red error · yellow warning · green other ");
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let rows: Vec<(Option<i64>, Option<Level>)> = (0..self.view_len())
            .filter_map(|i| self.row(i))
            .map(|(s, l)| {
                (
                    self.sources[s].facts.time(l),
                    self.sources[s].facts.level(l),
                )
            })
            .collect();
        let columns = inner.width as usize;
        let (Some(buckets), Some((from, to))) = (histogram(&rows, columns), time_span(&rows))
        else {
            frame.render_widget(Paragraph::new("no timestamps in this view"), inner);
            return;
        };
        // The bottom row is the time axis: first time, what a column spans, the peak, last time.
        let bar_rows = (inner.height as usize).saturating_sub(1).max(1);
        let mut lines = bars(&buckets, bar_rows);
        let peak = buckets.iter().map(|b| b.0 + b.1 + b.2).max().unwrap_or(0);
        lines.push(axis(from, to, columns, peak));
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// Counts per time bucket: (errors, warnings, other). `None` when no line has a time.
pub fn histogram(
    rows: &[(Option<i64>, Option<Level>)],
    buckets: usize,
) -> Option<Vec<(usize, usize, usize)>> {
    let (lo, hi) = time_span(rows)?;
    let n = buckets.max(1);
    let span = (hi - lo).max(1) as f64;
    let mut out = vec![(0, 0, 0); n];
    for (t, level) in rows {
        let Some(t) = t else { continue };
        let i = (((t - lo) as f64 / span) * (n - 1) as f64).round() as usize;
        let b = &mut out[i.min(n - 1)];
        match level {
            Some(l) if *l >= Level::Error => b.0 += 1,
            Some(Level::Warn) => b.1 += 1,
            _ => b.2 += 1,
        }
    }
    Some(out)
}

/// The first and last time of `rows` (Unix seconds).
fn time_span(rows: &[(Option<i64>, Option<Level>)]) -> Option<(i64, i64)> {
    rows.iter().filter_map(|r| r.0).fold(None, |acc, t| {
        Some(acc.map_or((t, t), |(a, b): (i64, i64)| (a.min(t), b.max(t))))
    })
}

/// A duration in its largest fitting unit: `45 s`, `12 min`, `3.5 h`, `2.0 d`.
fn span_text(secs: f64) -> String {
    if secs < 90.0 {
        format!("{secs:.0} s")
    } else if secs < 90.0 * 60.0 {
        format!("{:.0} min", secs / 60.0)
    } else if secs < 36.0 * 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} d", secs / 86_400.0)
    }
}

/// The histogram's time axis in `width` columns: the first time at the left, the last at the
/// right, between them what one column spans and the tallest column's line count.
fn axis(from: i64, to: i64, width: usize, peak: usize) -> Line<'static> {
    let stamp = |t: i64| logreasoner_core::time::format_utc(u64::try_from(t).unwrap_or(0) * 1000);
    let (left, right) = (stamp(from), stamp(to));
    let per_column = (to - from).max(0) as f64 / width.saturating_sub(1).max(1) as f64;
    let span = span_text(per_column);
    // The longest middle that fits; too narrow for any, the times alone (they anchor the bars).
    let middles = [
        format!(" {span} a column · peak {peak} lines "),
        format!(" {span}/col, peak {peak} "),
    ];
    let ends = left.chars().count() + right.chars().count();
    let text = match middles.iter().find(|m| ends + m.chars().count() <= width) {
        Some(middle) => {
            let pad = width - ends - middle.chars().count();
            format!(
                "{left}{}{middle}{}{right}",
                " ".repeat(pad / 2),
                " ".repeat(pad - pad / 2)
            )
        }
        None => format!("{left} … {right}"),
    };
    Line::from(Span::styled(text, Style::new().fg(Color::DarkGray)))
}

/// Stacked vertical bars, errors at the bottom, drawn with block characters.
fn bars(buckets: &[(usize, usize, usize)], height: usize) -> Vec<Line<'static>> {
    let max = buckets
        .iter()
        .map(|b| b.0 + b.1 + b.2)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut lines = Vec::with_capacity(height);
    for row in (0..height).rev() {
        let spans: Vec<Span> = buckets
            .iter()
            .map(|&(e, w, o)| {
                let scale = |v: usize| v * height / max + usize::from(v > 0 && v * height < max);
                let (e, w, o) = (scale(e), scale(w), scale(o));
                let color = if row < e {
                    Color::Red
                } else if row < e + w {
                    Color::Yellow
                } else if row < e + w + o {
                    Color::Green
                } else {
                    return Span::raw(" ");
                };
                Span::styled("█", Style::new().fg(color))
            })
            .collect();
        lines.push(Line::from(spans));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_too_long_for_the_border_keeps_its_start() {
        use ratatui::layout::Alignment;
        let short = summary_line("316 lines · following".into(), 60);
        assert_eq!(short.alignment, Some(Alignment::Right));
        let long = summary_line(format!("316 lines · /{}/", "x".repeat(80)), 60);
        assert_eq!(long.alignment, Some(Alignment::Left));
    }

    #[test]
    fn histogram_buckets_split_by_level() {
        let rows = [
            (Some(0), Some(Level::Error)),
            (Some(0), None),
            (Some(10), Some(Level::Warn)),
            (None, Some(Level::Error)),
        ];
        assert_eq!(histogram(&rows, 2), Some(vec![(1, 0, 1), (0, 1, 0)]));
        assert_eq!(histogram(&[(None, None)], 4), None);
        assert_eq!(time_span(&rows), Some((0, 10)));
    }

    #[test]
    fn the_histogram_axis_names_its_ends_its_column_span_and_peak() {
        // 2005-06-03 15:42:50 UTC to 90 minutes later.
        let from = 1_117_813_370;
        let line = axis(from, from + 5400, 80, 12).to_string();
        assert!(line.starts_with("2005-06-03 15:42:50"), "{line}");
        assert!(line.ends_with("2005-06-03 17:12:50"), "{line}");
        assert!(line.contains(" 68 s a column · peak 12 lines "), "{line}");
        assert_eq!(line.chars().count(), 80);
        assert_eq!(span_text(5400.0), "1.5 h");
        let narrower = axis(from, from + 5400, 60, 12).to_string();
        assert!(narrower.contains(" 2 min/col, peak 12 "), "{narrower}");
        let narrowest = axis(from, from + 5400, 50, 12).to_string();
        assert_eq!(narrowest, "2005-06-03 15:42:50 … 2005-06-03 17:12:50");
    }
}
