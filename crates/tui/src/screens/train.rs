//! The Train screen: the history of training runs (read from their folders, recorded in the
//! database), the selected run's live curves (loss and eval loss, or DPO's margin and accuracy, on a
//! linear or log scale), its progress with ETA and tokens/s, cancelling it, a form that launches a new
//! detached run and shows the equivalent command, and the choice of the adapter the other screens use.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Chart, Dataset, Gauge, GraphType, List, ListItem, ListState, Paragraph, Wrap,
};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::events::AppEvent;
use crate::keys::{Binding, Key};
use logreasoner_core::store::RunState;
use logreasoner_core::train::run::{self, MetricLine, RunConfig, RunDir, Stage, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Down,
    Up,
    NewRun,
    Launch,
    Cancel,
    Confirm,
    Use,
    UseBase,
    Curves,
    LogScale,
    Edit,
    Back,
    Reload,
}

const KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Next run (or form field)",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Previous run (or form field)",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::ch('n')],
        help: "New run: open the form",
        cmd: Cmd::NewRun,
    },
    Binding {
        keys: &[Key::ch('L')],
        help: "Launch the form's run (a detached process)",
        cmd: Cmd::Launch,
    },
    Binding {
        keys: &[Key::code(KeyCode::Enter)],
        help: "Edit the form field (Enter again to finish; stage cycles)",
        cmd: Cmd::Edit,
    },
    Binding {
        keys: &[Key::ch('x')],
        help: "Cancel the selected run (asks first)",
        cmd: Cmd::Cancel,
    },
    Binding {
        keys: &[Key::ch('y')],
        help: "Yes: confirm the cancel",
        cmd: Cmd::Confirm,
    },
    Binding {
        keys: &[Key::ch('u')],
        help: "Use the selected run's adapter for generation, diagnosis and eval",
        cmd: Cmd::Use,
    },
    Binding {
        keys: &[Key::ch('U')],
        help: "Use the base model without an adapter",
        cmd: Cmd::UseBase,
    },
    Binding {
        keys: &[Key::ch('c')],
        help: "Curves: loss / DPO margin and accuracy",
        cmd: Cmd::Curves,
    },
    Binding {
        keys: &[Key::ch('l')],
        help: "Toggle a log scale for the loss",
        cmd: Cmd::LogScale,
    },
    Binding {
        keys: &[Key::code(KeyCode::Esc)],
        help: "Close the form, or keep the run (no cancel)",
        cmd: Cmd::Back,
    },
    Binding {
        keys: &[Key::ch('r')],
        help: "Reload the runs",
        cmd: Cmd::Reload,
    },
];

/// One run as last read from its folder.
struct RunView {
    dir: RunDir,
    config: Option<RunConfig>,
    status: Option<Status>,
    live: bool,
}

/// The launch form: a field per setting, as text.
struct Form {
    fields: Vec<(&'static str, String)>,
    cursor: usize,
    editing: bool,
    /// The field being edited, with the `:` prompt's editing keys.
    input: Option<crate::input::TextInput>,
}

/// Fields that must hold a number, with whether they may be empty.
const NUMERIC: [(&str, bool); 11] = [
    ("steps", true),
    ("epochs", false),
    ("lr", false),
    ("batch", false),
    ("accumulation", false),
    ("max len", false),
    ("rank", false),
    ("alpha", false),
    ("dropout", false),
    ("beta (dpo)", false),
    ("seed", false),
];

const STAGE: usize = 0;

impl Form {
    fn new(ctx: &Ctx) -> Form {
        let d = RunConfig::new(
            Stage::Thought,
            ctx.config().model.value.clone(),
            PathBuf::new(),
        );
        Form {
            fields: vec![
                ("stage", "thought".into()),
                ("base model", d.base_model.display().to_string()),
                ("data", default_data(Stage::Thought).into()),
                ("eval data", String::new()),
                ("from adapter", "(previous stage's newest)".into()),
                ("steps", String::new()),
                ("epochs", d.epochs.to_string()),
                ("lr", format!("{:e}", d.lr)),
                ("batch", d.batch.to_string()),
                ("accumulation", d.accumulation.to_string()),
                ("max len", d.max_len.to_string()),
                ("rank", d.rank.to_string()),
                ("alpha", d.alpha.to_string()),
                ("dropout", d.dropout.to_string()),
                ("targets", d.targets.join(",")),
                ("beta (dpo)", d.beta.to_string()),
                ("seed", d.seed.to_string()),
            ],
            cursor: 0,
            editing: false,
            input: None,
        }
    }

    /// What is wrong with a field's text as typed (`None`: nothing).
    fn field_problem(name: &str, value: &str) -> Option<String> {
        let value = value.trim();
        let &(_, optional) = NUMERIC.iter().find(|(n, _)| *n == name)?;
        if value.is_empty() {
            return (!optional).then(|| "needs a value".to_string());
        }
        let ok = if matches!(name, "epochs" | "lr" | "alpha" | "dropout" | "beta (dpo)") {
            value.parse::<f64>().is_ok_and(f64::is_finite)
        } else {
            value.parse::<u64>().is_ok()
        };
        (!ok).then(|| format!("`{value}` is not a number"))
    }

    /// Every field's problem, as `name: problem`.
    fn problems(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter_map(|(n, v)| Form::field_problem(n, v).map(|p| format!("{n}: {p}")))
            .collect()
    }

    /// Starts or ends editing the field under the cursor.
    fn toggle_editing(&mut self) {
        self.editing = !self.editing;
        self.input = self
            .editing
            .then(|| crate::input::TextInput::new(self.fields[self.cursor].1.clone()));
    }

    fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.trim())
    }

    fn stage(&self) -> Stage {
        self.get("stage").parse().unwrap_or(Stage::Thought)
    }

    /// The run the form describes, or what is wrong with it.
    fn config(&self, ctx: &Ctx) -> Result<RunConfig, String> {
        let stage = self.stage();
        let mut c = RunConfig::new(
            stage,
            PathBuf::from(self.get("base model")),
            PathBuf::from(self.get("data")),
        );
        fn num<T: std::str::FromStr>(form: &Form, name: &str) -> Result<T, String> {
            form.get(name)
                .parse()
                .map_err(|_| format!("{name}: `{}` is not a number", form.get(name)))
        }
        c.eval_data = Some(self.get("eval data"))
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let from = self.get("from adapter");
        c.from_adapter = if from.starts_with('(') || from.is_empty() {
            stage.previous().and_then(|p| {
                run::latest_adapter(
                    &run::runs_root(&ctx.config().data_dir.value),
                    p,
                    &c.base_model,
                )
            })
        } else {
            Some(
                logreasoner_core::llm::adapter::locate(&PathBuf::from(from))
                    .map_err(|e| e.to_string())?,
            )
        };
        c.steps = match self.get("steps") {
            "" => None,
            _ => Some(num(self, "steps")?),
        };
        c.epochs = num(self, "epochs")?;
        c.lr = num(self, "lr")?;
        c.batch = num(self, "batch")?;
        c.accumulation = num(self, "accumulation")?;
        c.max_len = num(self, "max len")?;
        c.rank = num(self, "rank")?;
        c.alpha = num(self, "alpha")?;
        c.dropout = num(self, "dropout")?;
        c.beta = num(self, "beta (dpo)")?;
        c.seed = num(self, "seed")?;
        c.targets = self
            .get("targets")
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if !c.data.exists() {
            return Err(format!(
                "no data at {}; export it first (logreasoner export …)",
                c.data.display()
            ));
        }
        if !c.base_model.exists() {
            return Err(format!("no base model at {}", c.base_model.display()));
        }
        Ok(c)
    }

    /// The shell command that starts the same run.
    fn command(&self) -> String {
        let mut cmd = format!(
            "logreasoner --model {} train --stage {} --data {}",
            self.get("base model"),
            self.get("stage"),
            self.get("data")
        );
        let flags = [
            ("eval data", "--eval-data"),
            ("steps", "--steps"),
            ("epochs", "--epochs"),
            ("lr", "--lr"),
            ("batch", "--batch"),
            ("accumulation", "--accumulation"),
            ("max len", "--max-len"),
            ("rank", "--rank"),
            ("alpha", "--alpha"),
            ("dropout", "--dropout"),
            ("targets", "--targets"),
            ("beta (dpo)", "--beta"),
            ("seed", "--seed"),
        ];
        let from = self.get("from adapter");
        if !from.is_empty() && !from.starts_with('(') {
            cmd.push_str(&format!(" --from {from}"));
        }
        for (field, flag) in flags {
            let v = self.get(field);
            let irrelevant = field == "beta (dpo)" && self.stage() != Stage::Dpo;
            if !v.is_empty() && !irrelevant {
                cmd.push_str(&format!(" {flag} {v}"));
            }
        }
        cmd + " --detach"
    }
}

/// Where `logreasoner export` writes a stage's data by default.
fn default_data(stage: Stage) -> &'static str {
    match stage {
        Stage::Thought => "export/sft_thought.jsonl",
        Stage::Stepwise => "export/sft_stepwise.jsonl",
        Stage::Dpo => "export/dpo.jsonl",
    }
}

/// One curve of the chart: its name, colour and (step, value) points.
type Series = (&'static str, Color, Vec<(f64, f64)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curves {
    Loss,
    Preference,
}

pub struct TrainScreen {
    runs: Vec<RunView>,
    cursor: usize,
    metrics: Vec<MetricLine>,
    form: Option<Form>,
    /// The form of the last launch, reopened by the next `n`.
    last_form: Option<Form>,
    confirm_cancel: bool,
    curves: Curves,
    log_scale: bool,
    last_read: Option<Instant>,
}

impl Default for TrainScreen {
    fn default() -> Self {
        TrainScreen {
            runs: Vec::new(),
            cursor: 0,
            metrics: Vec::new(),
            form: None,
            last_form: None,
            confirm_cancel: false,
            curves: Curves::Loss,
            log_scale: false,
            last_read: None,
        }
    }
}

/// How often the folders are re-read while the screen is up.
const REFRESH: Duration = Duration::from_millis(1000);

impl TrainScreen {
    /// Re-reads the run folders (newest first) and the selected run's metrics, and records finished
    /// runs in the database.
    fn reload(&mut self, ctx: &Ctx) {
        let selected = self.runs.get(self.cursor).map(|r| r.dir.clone());
        let mut runs: Vec<RunView> = run::list(&run::runs_root(&ctx.config().data_dir.value))
            .into_iter()
            .map(|dir| RunView {
                config: dir.config().ok(),
                status: dir.status(),
                live: dir.is_live(),
                dir,
            })
            .collect();
        runs.reverse();
        for r in &runs {
            if let Err(e) = run::sync_record(&ctx.store, &r.dir) {
                tracing::warn!("cannot record run {}: {e}", r.dir.name());
            }
        }
        self.cursor = selected
            .and_then(|d| runs.iter().position(|r| r.dir == d))
            .unwrap_or(self.cursor)
            .min(runs.len().saturating_sub(1));
        self.runs = runs;
        self.metrics = self
            .runs
            .get(self.cursor)
            .map(|r| r.dir.metrics())
            .unwrap_or_default();
        self.last_read = Some(Instant::now());
    }

    fn launch(&mut self, ctx: &mut Ctx) -> Action {
        let Some(form) = &self.form else {
            return Action::Message("press n to open the form first".into());
        };
        let config = match form.config(ctx) {
            Ok(c) => c,
            Err(e) => return Action::Message(e),
        };
        let root = run::runs_root(&ctx.config().data_dir.value);
        let started = run::RunDir::create(&root, &config).and_then(|dir| {
            run::spawn_detached(
                &ctx.program,
                &ctx.config().data_dir.value,
                &ctx.config().device.value.to_string(),
                &dir,
                None,
            )
            .map(|pid| (dir, pid))
        });
        match started {
            Ok((dir, pid)) => {
                // Kept for the next launch, which is usually this one with a setting changed.
                self.last_form = self.form.take();
                self.reload(ctx);
                self.cursor = self.runs.iter().position(|r| r.dir == dir).unwrap_or(0);
                self.metrics = dir.metrics();
                Action::Message(format!(
                    "started {} (process {pid}); it goes on if you quit",
                    dir.name()
                ))
            }
            Err(e) => Action::Message(format!("cannot launch: {e}")),
        }
    }

    fn form_key(&mut self, cmd: Cmd) -> Option<Action> {
        let form = self.form.as_mut()?;
        match cmd {
            Cmd::Down if !form.editing => {
                form.cursor = (form.cursor + 1).min(form.fields.len() - 1)
            }
            Cmd::Up if !form.editing => form.cursor = form.cursor.saturating_sub(1),
            Cmd::Edit if form.cursor == STAGE => {
                let next = match form.stage() {
                    Stage::Thought => Stage::Stepwise,
                    Stage::Stepwise => Stage::Dpo,
                    Stage::Dpo => Stage::Thought,
                };
                form.fields[STAGE].1 = next.to_string();
                // Follow the stage with the file `logreasoner export` writes for it, unless the
                // user typed another.
                if let Some(f) = form.fields.iter_mut().find(|(n, _)| *n == "data") {
                    if Stage::ALL.iter().any(|s| f.1 == default_data(*s)) {
                        f.1 = default_data(next).into();
                    }
                }
                let lr = if next == Stage::Dpo { 5e-5 } else { 2e-4 };
                if let Some(f) = form.fields.iter_mut().find(|(n, _)| *n == "lr") {
                    f.1 = format!("{lr:e}");
                }
            }
            Cmd::Edit => form.toggle_editing(),
            Cmd::Back if form.editing => form.toggle_editing(),
            // Closed, not discarded: `n` reopens it as it was.
            Cmd::Back => self.last_form = self.form.take(),
            // The list behind the form does not move or act while the form is open.
            Cmd::Down
            | Cmd::Up
            | Cmd::NewRun
            | Cmd::Cancel
            | Cmd::Confirm
            | Cmd::Use
            | Cmd::UseBase => {}
            _ => return None,
        }
        Some(Action::None)
    }

    fn render_form(&self, frame: &mut Frame, area: Rect, form: &Form) {
        let [fields_area, cmd_area] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(7)]).areas(area);
        let items: Vec<ListItem> = form
            .fields
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                let shown = match &form.input {
                    Some(input) if i == form.cursor => input.with_cursor(),
                    _ => value.clone(),
                };
                let mut spans = vec![
                    Span::styled(format!("{name:>14}  "), Style::new().fg(Color::Cyan)),
                    Span::raw(shown),
                ];
                // Checked as it is typed, like the flowchart editor's fields.
                if let Some(problem) = Form::field_problem(name, value) {
                    spans.push(Span::styled(
                        format!("  ✗ {problem}"),
                        Style::new().fg(Color::Red),
                    ));
                }
                ListItem::new(Line::from(spans))
            })
            .collect();
        let list =
            List::new(items)
                .block(Block::bordered().title(
                    " new run · Enter edits a field (stage cycles) · L launches · Esc closes ",
                ))
                .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state = ListState::default().with_selected(Some(form.cursor));
        frame.render_stateful_widget(list, fields_area, &mut state);
        let problems = form.problems();
        let (text, style) = if problems.is_empty() {
            (form.command(), Style::new())
        } else {
            (
                format!("Fix before launching: {}", problems.join("; ")),
                Style::new().fg(Color::Red),
            )
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(style)
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(" the same from a shell ")),
            cmd_area,
        );
    }

    fn render_chart(&self, frame: &mut Frame, area: Rect) {
        let pick = |f: fn(&MetricLine) -> Option<f64>| -> Vec<(f64, f64)> {
            self.metrics
                .iter()
                .filter_map(|m| Some((m.step as f64, f(m)?)))
                .collect()
        };
        let log = self.log_scale && self.curves == Curves::Loss;
        let scale = |v: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
            if log {
                v.into_iter()
                    .filter(|(_, y)| *y > 0.0)
                    .map(|(x, y)| (x, y.log10()))
                    .collect()
            } else {
                v
            }
        };
        let series: Vec<Series> = match self.curves {
            Curves::Loss => vec![
                ("train loss", Color::Cyan, scale(pick(|m| m.loss))),
                ("eval loss", Color::Yellow, scale(pick(|m| m.eval_loss))),
            ],
            Curves::Preference => vec![
                ("margin", Color::Cyan, pick(|m| m.margin)),
                ("accuracy", Color::Green, pick(|m| m.accuracy)),
                ("eval accuracy", Color::Yellow, pick(|m| m.eval_accuracy)),
            ],
        };
        let all = series.iter().flat_map(|(_, _, v)| v.iter());
        let (mut lo, mut hi, mut last) = (f64::MAX, f64::MIN, 1.0f64);
        for (x, y) in all {
            lo = lo.min(*y);
            hi = hi.max(*y);
            last = last.max(*x);
        }
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        }
        if (hi - lo).abs() < 1e-9 {
            hi = lo + 1.0;
        }
        let datasets: Vec<Dataset> = series
            .iter()
            .filter(|(_, _, v)| !v.is_empty())
            .map(|(name, color, v)| {
                Dataset::default()
                    .name(*name)
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(*color))
                    .data(v)
            })
            .collect();
        let label = |v: f64| {
            if log {
                format!("{:.3}", 10f64.powf(v))
            } else {
                format!("{v:.3}")
            }
        };
        let title = match (self.curves, log) {
            (Curves::Loss, true) => " loss (log scale) · c: DPO curves · l: linear ",
            (Curves::Loss, false) => " loss · c: DPO curves · l: log scale ",
            (Curves::Preference, _) => " DPO margin and accuracy · c: loss ",
        };
        let chart = Chart::new(datasets)
            .block(Block::bordered().title(title))
            .x_axis(
                Axis::default()
                    .title("step")
                    .bounds([0.0, last])
                    .labels(vec![Line::from("0"), Line::from(format!("{last:.0}"))]),
            )
            .y_axis(
                Axis::default()
                    .bounds([lo, hi])
                    .labels(vec![Line::from(label(lo)), Line::from(label(hi))]),
            );
        frame.render_widget(chart, area);
    }
}

fn state_text(r: &RunView) -> (&'static str, Color) {
    match r.status.as_ref().map(|s| s.state) {
        // A run whose process is gone without recording an end: not running, whatever it says.
        Some(RunState::Running) if !r.live => ("stopped", Color::Magenta),
        Some(s @ RunState::Running) => (s.name(), Color::Cyan),
        Some(s @ RunState::Succeeded) => (s.name(), Color::Green),
        Some(s @ RunState::Failed) => (s.name(), Color::Red),
        Some(s @ RunState::Cancelled) => (s.name(), Color::Yellow),
        None => ("new", Color::Gray),
    }
}

fn duration_text(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

impl Screen for TrainScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        ScreenId::Train
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        KEYS
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.reload(ctx);
    }

    fn tick(&mut self, ctx: &mut Ctx) -> bool {
        let due = self.last_read.is_none_or(|t| t.elapsed() >= REFRESH);
        // A run just launched has no status until its process starts: keep looking.
        let watching = self.runs.iter().any(|r| r.live || r.status.is_none());
        if due && watching {
            self.reload(ctx);
            return true;
        }
        false
    }

    fn wants_text(&self) -> bool {
        self.form.as_ref().is_some_and(|f| f.editing)
    }

    fn text_key(&mut self, key: KeyEvent, _ctx: &mut Ctx) -> Action {
        if let Some(form) = self.form.as_mut() {
            if let Some(input) = form.input.as_mut() {
                input.handle(key);
                form.fields[form.cursor].1 = input.text().to_string();
            }
        }
        Action::None
    }

    fn run(&mut self, cmd: Cmd, key: KeyEvent, ctx: &mut Ctx) -> Action {
        if self.form.as_ref().is_some_and(|f| f.editing) {
            // While a field is edited, every key but Enter, Esc and the field moves edits it
            // (letters bound to commands, arrows, Home/End, Ctrl-u, Ctrl-w).
            if !matches!(
                key.code,
                KeyCode::Enter | KeyCode::Esc | KeyCode::Tab | KeyCode::Up | KeyCode::Down
            ) {
                return self.text_key(key, ctx);
            }
        }
        if let Some(action) = self.form_key(cmd) {
            return action;
        }
        if cmd != Cmd::Confirm {
            self.confirm_cancel = false;
        }
        match cmd {
            Cmd::Down => {
                self.cursor = (self.cursor + 1).min(self.runs.len().saturating_sub(1));
                self.metrics = self
                    .runs
                    .get(self.cursor)
                    .map(|r| r.dir.metrics())
                    .unwrap_or_default();
            }
            Cmd::Up => {
                self.cursor = self.cursor.saturating_sub(1);
                self.metrics = self
                    .runs
                    .get(self.cursor)
                    .map(|r| r.dir.metrics())
                    .unwrap_or_default();
            }
            Cmd::NewRun => {
                self.form = Some(self.last_form.take().unwrap_or_else(|| Form::new(ctx)))
            }
            Cmd::Launch => return self.launch(ctx),
            Cmd::Curves => {
                self.curves = match self.curves {
                    Curves::Loss => Curves::Preference,
                    Curves::Preference => Curves::Loss,
                }
            }
            Cmd::LogScale => self.log_scale = !self.log_scale,
            Cmd::Reload => self.reload(ctx),
            Cmd::Cancel => match self.runs.get(self.cursor) {
                Some(r) if r.live => {
                    self.confirm_cancel = true;
                    return Action::Message(format!(
                        "cancel {}? It stops at its next step and keeps that step's adapter in adapter/ (y: cancel, Esc: keep running)",
                        r.dir.name()
                    ));
                }
                Some(_) => return Action::Message("this run is not running".into()),
                None => {}
            },
            Cmd::Confirm if self.confirm_cancel => {
                self.confirm_cancel = false;
                if let Some(r) = self.runs.get(self.cursor) {
                    return match r.dir.request_cancel() {
                        Ok(()) => Action::Message(format!("asked {} to stop", r.dir.name())),
                        Err(e) => Action::Message(format!("cannot cancel: {e}")),
                    };
                }
            }
            Cmd::Use => {
                let Some(r) = self.runs.get(self.cursor) else {
                    return Action::None;
                };
                let adapter = r.dir.adapter_dir();
                if !adapter.join("adapter_config.json").exists() {
                    return Action::Message("this run has no adapter yet".into());
                }
                let before = adapter_word(ctx);
                ctx.post(AppEvent::ModelChosen {
                    model: r.config.as_ref().map(|c| c.base_model.clone()),
                    adapter: Some(adapter),
                });
                return Action::Message(format!(
                    "now using the adapter of {} (was: {before}; U: base model)",
                    r.dir.name()
                ));
            }
            Cmd::UseBase => {
                let before = adapter_word(ctx);
                ctx.post(AppEvent::ModelChosen {
                    model: None,
                    adapter: None,
                });
                return Action::Message(format!(
                    "now using the base model (was: {before}; u: a run's adapter)"
                ));
            }
            Cmd::Back | Cmd::Confirm | Cmd::Edit => {}
        }
        Action::None
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let [list_area, right] =
            Layout::horizontal([Constraint::Length(48), Constraint::Min(30)]).areas(area);
        let using = ctx.config().adapter.as_ref().map(|a| a.value.clone());
        let items: Vec<ListItem> = self
            .runs
            .iter()
            .map(|r| {
                let (state, color) = state_text(r);
                let stage = r
                    .config
                    .as_ref()
                    .map_or("?".into(), |c| c.stage.to_string());
                let progress = r
                    .status
                    .as_ref()
                    .map_or(String::new(), |s| format!("{}/{}", s.step, s.steps));
                let used = using.as_ref() == Some(&r.dir.adapter_dir());
                ListItem::new(Line::from(vec![
                    Span::raw(if used { "● " } else { "  " }),
                    Span::raw(format!(
                        "{:<16} ",
                        r.dir.name().get(..15).unwrap_or(&r.dir.name())
                    )),
                    Span::raw(format!("{stage:<9}")),
                    Span::styled(format!("{state:<10}"), Style::new().fg(color)),
                    Span::styled(progress, Style::new().dim()),
                ]))
            })
            .collect();
        let list = List::new(items)
            .block(
                Block::bordered().title(format!(" runs ({}) · n: new · u: use ", self.runs.len())),
            )
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state =
            ListState::default().with_selected((!self.runs.is_empty()).then_some(self.cursor));
        frame.render_stateful_widget(list, list_area, &mut state);

        if let Some(form) = &self.form {
            self.render_form(frame, right, form);
            return;
        }
        let Some(r) = self.runs.get(self.cursor) else {
            frame.render_widget(
                Paragraph::new(
                    "No training run yet. Press n for the form, or from a shell:\n  logreasoner \
                     export sft --stage thought\n  logreasoner train --stage thought --data \
                     export/sft_thought.jsonl --detach",
                )
                .style(Style::new().dim())
                .wrap(Wrap { trim: false })
                .block(Block::bordered()),
                right,
            );
            return;
        };
        let [info_area, gauge_area, chart_area] = Layout::vertical([
            Constraint::Length(6),
            Constraint::Length(3),
            Constraint::Min(6),
        ])
        .areas(right);
        let mut lines = Vec::new();
        if let Some(c) = &r.config {
            lines.push(Line::from(vec![
                Span::styled("stage ", Style::new().fg(Color::Cyan)),
                Span::raw(format!("{}  ", c.stage)),
                Span::styled("data ", Style::new().fg(Color::Cyan)),
                Span::raw(c.data.display().to_string()),
            ]));
            lines.push(Line::from(vec![
                Span::styled("LoRA ", Style::new().fg(Color::Cyan)),
                Span::raw(format!(
                    "r={} α={} on {}  lr {:e} · batch {}×{} · ≤{} tokens",
                    c.rank,
                    c.alpha,
                    c.targets.join(","),
                    c.lr,
                    c.batch,
                    c.accumulation,
                    c.max_len
                )),
            ]));
            if let Some(from) = &c.from_adapter {
                lines.push(Line::from(vec![
                    Span::styled("from ", Style::new().fg(Color::Cyan)),
                    Span::raw(from.display().to_string()),
                ]));
            }
        }
        if let Some(s) = &r.status {
            let finals: Vec<String> = s
                .final_metrics
                .iter()
                .map(|(k, v)| format!("{k} {v:.4}"))
                .collect();
            lines.push(Line::from(Span::styled(
                s.message.clone(),
                Style::new().fg(state_text(r).1),
            )));
            if !finals.is_empty() {
                lines.push(Line::from(finals.join(" · ")));
            }
        }
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(format!(" {} ", r.dir.name()))),
            info_area,
        );
        let (ratio, label) = match &r.status {
            Some(s) if s.steps > 0 && (r.live || s.step > 0) => (
                (s.step as f64 / s.steps as f64).clamp(0.0, 1.0),
                format!(
                    "{}/{} steps · {:.0} tokens/s · {:.1} s/step · ETA {}",
                    s.step,
                    s.steps,
                    s.tokens_per_sec,
                    s.secs_per_step,
                    duration_text(s.eta_secs)
                ),
            ),
            // Ended (or its process gone) before a step: say so, not "waiting".
            Some(_) if !r.live => (
                0.0,
                format!(
                    "{} before its first step (the reason is above)",
                    state_text(r).0
                ),
            ),
            _ => (0.0, "waiting for the first step".into()),
        };
        frame.render_widget(
            Gauge::default()
                .block(Block::bordered().title(if self.confirm_cancel {
                    " cancel? y: yes, Esc: no "
                } else {
                    " progress · x: cancel "
                }))
                .gauge_style(Style::new().fg(Color::Cyan))
                .ratio(ratio)
                .label(label),
            gauge_area,
        );
        self.render_chart(frame, chart_area);
    }
}

/// The adapter in use, as the message line names it.
fn adapter_word(ctx: &Ctx) -> String {
    match ctx.config().adapter.as_ref() {
        Some(a) => format!(
            "adapter {}",
            a.value
                .parent()
                .filter(|_| a.value.ends_with("adapter"))
                .unwrap_or(&a.value)
                .file_name()
                .map_or_else(
                    || a.value.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
        ),
        None => "the base model".into(),
    }
}
