//! The Diagnose screen: the window under diagnosis with its evidence lines marked, the flowchart path
//! the walk took, the model's reasoning as it streams, the verdict card, and the history of
//! diagnoses. `r` diagnoses the Logs selection; `a`/`x` accept or reject a verdict, which turns it
//! into labelled data. With the watch on, an error burst in the followed file starts a diagnosis.

use std::sync::mpsc::Receiver;
use std::time::Instant;

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::events::{forward, AppEvent};
use crate::keys::{Binding, Key};
use crate::pane::{PaneMove, TextPane, MAX_LINE_CHARS};
use logreasoner_core::diagnose::review::{answer_text, review};
use logreasoner_core::diagnose::watch::Watch;
use logreasoner_core::diagnose::{self, FileContext, Input, ModelRun, Plan, Report};
use logreasoner_core::flowchart::walk::{CheckOutcome, End};
use logreasoner_core::llm::backend::BackendSpec;
use logreasoner_core::llm::engine::{Engine, Event, Running};
use logreasoner_core::llm::model::{ModelInfo, StopReason};
use logreasoner_core::store::{Diagnosis, ReviewStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Run,
    Baseline,
    Cancel,
    Accept,
    Reject,
    Focus,
    Down,
    Up,
    Top,
    Bottom,
    Open,
    Watch,
    Right,
    Left,
    Wrap,
    Short,
}

const KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('r')],
        help: "Diagnose the Logs selection (again)",
        cmd: Cmd::Run,
    },
    Binding {
        keys: &[Key::ch('b')],
        help: "Flowchart walk only, without the model",
        cmd: Cmd::Baseline,
    },
    Binding {
        keys: &[Key::ch('c')],
        help: "Cancel the running diagnosis",
        cmd: Cmd::Cancel,
    },
    Binding {
        keys: &[Key::ch('a')],
        help: "Accept the verdict (it becomes a correct solution)",
        cmd: Cmd::Accept,
    },
    Binding {
        keys: &[Key::ch('x')],
        help: "Reject the verdict (it becomes an incorrect solution)",
        cmd: Cmd::Reject,
    },
    Binding {
        keys: &[Key::code(KeyCode::Tab)],
        help: "Switch between reasoning, history and window",
        cmd: Cmd::Focus,
    },
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Scroll the reasoning or window / next diagnosis",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Scroll back / previous diagnosis",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::ch('>')],
        help: "Scroll the window's long lines right",
        cmd: Cmd::Right,
    },
    Binding {
        keys: &[Key::ch('<')],
        help: "Scroll the window's long lines left",
        cmd: Cmd::Left,
    },
    Binding {
        keys: &[Key::ch('z')],
        help: "Wrap the window's long lines (on/off)",
        cmd: Cmd::Wrap,
    },
    Binding {
        keys: &[Key::ch('s')],
        help: "Short headers in the window: time, level, component, message",
        cmd: Cmd::Short,
    },
    Binding {
        keys: &[Key::ch('g'), Key::code(KeyCode::Home)],
        help: "Top / newest diagnosis",
        cmd: Cmd::Top,
    },
    Binding {
        keys: &[Key::ch('G'), Key::code(KeyCode::End)],
        help: "Bottom / oldest diagnosis",
        cmd: Cmd::Bottom,
    },
    Binding {
        keys: &[Key::code(KeyCode::Enter)],
        help: "Show the selected diagnosis from the history",
        cmd: Cmd::Open,
    },
    Binding {
        keys: &[Key::ch('w')],
        help: "Watch the followed file: diagnose error bursts by themselves",
        cmd: Cmd::Watch,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    Reasoning,
    History,
    Window,
}

/// The diagnosis on screen: one being computed, or a finished one.
struct Current {
    plan: Plan,
    started: Instant,
    text: String,
    /// The request in flight: a handle to cancel it (its events come through the app's queue).
    running: Option<Running>,
    /// Which engine events belong to this diagnosis.
    request: u64,
    /// Waiting for the model to load before the request goes out.
    queued: bool,
    report: Option<Report>,
    state: String,
}

/// The model's thread, started on the first diagnosis.
enum ModelState {
    NotStarted,
    /// Loading; its `Loaded` or `Failed` arrives as engine events of this request number.
    Loading(Engine, u64),
    Ready(Engine, ModelInfo),
    Failed,
}

pub struct DiagnoseScreen {
    model: ModelState,
    current: Option<Current>,
    /// A diagnosis from the history, shown instead of `current`.
    viewing: Option<Diagnosis>,
    history: Vec<Diagnosis>,
    cursor: usize,
    focus: Focus,
    scroll: u16,
    /// How the window pane shows its lines.
    pane: WindowPane,
    watch: Option<Watch>,
    /// The followed file's last line the watch has seen.
    watch_seen: usize,
    /// The last number given to a stream of engine events.
    last_request: u64,
}

/// Forwards a stream of engine events into the app's queue under a new request number; a stream
/// that ends without `Done` reads as the model thread having stopped.
fn listen(last_request: &mut u64, events: Receiver<Event>, ctx: &Ctx) -> Result<u64, String> {
    *last_request += 1;
    let request = *last_request;
    forward(
        "model events",
        events,
        ctx.events().sender(),
        move |event| {
            Some(AppEvent::Engine {
                request,
                event: event.unwrap_or_else(|| Event::Failed("the model thread stopped".into())),
            })
        },
    )
    .map_err(|e| format!("cannot start a thread: {e}"))?;
    Ok(request)
}

impl Default for DiagnoseScreen {
    fn default() -> Self {
        DiagnoseScreen {
            model: ModelState::NotStarted,
            current: None,
            viewing: None,
            history: Vec::new(),
            cursor: 0,
            focus: Focus::Reasoning,
            scroll: 0,
            pane: WindowPane::default(),
            watch: None,
            watch_seen: 0,
            last_request: 0,
        }
    }
}

impl DiagnoseScreen {
    fn reload_history(&mut self, ctx: &Ctx) {
        match ctx.store.all::<Diagnosis>() {
            Ok(mut all) => {
                all.reverse();
                self.history = all;
                self.cursor = self.cursor.min(self.history.len().saturating_sub(1));
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the diagnosis history"),
        }
    }

    fn plan(&self, input: Input, file: Option<FileContext>, ctx: &Ctx) -> Result<Plan, String> {
        let charts = logreasoner_core::flowchart::valid_charts(&ctx.config().flowcharts.value)
            .map_err(|e| e.to_string())?;
        Ok(diagnose::plan_in_file(
            &charts,
            input,
            (&ctx.config().diagnosis.value).into(),
            file,
        ))
    }

    fn selection_input(ctx: &Ctx) -> Option<Input> {
        let sel = ctx.selection()?;
        Some(Input {
            source: sel.source.clone(),
            first_line: sel.first,
            lines: sel.lines().to_vec(),
            question: None,
        })
    }

    /// Starts a diagnosis of `input`, compared with `file`'s error lines when the caller has
    /// them: with the model when there is one, else the walk alone.
    fn begin(
        &mut self,
        input: Input,
        file: Option<FileContext>,
        use_model: bool,
        ctx: &mut Ctx,
    ) -> Action {
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.running.is_some() || c.queued)
        {
            return Action::Message("a diagnosis is running; c cancels it".into());
        }
        let mut plan = match self.plan(input, file, ctx) {
            Ok(p) => p,
            Err(e) => return Action::Message(format!("cannot read the flowcharts: {e}")),
        };
        self.viewing = None;
        self.scroll = 0;
        let spec = BackendSpec::from_config(ctx.config());
        let missing = spec.as_ref().err().map(|e| e.to_string()).or_else(|| {
            spec.as_ref()
                .ok()
                .and_then(|s| s.available().err())
                .map(|e| e.to_string())
        });
        if !use_model || missing.is_some() {
            let note = match missing.filter(|_| use_model) {
                Some(why) => format!("{why}; this is the flowchart walk alone"),
                None => "flowchart walk only".to_string(),
            };
            let started = Instant::now();
            plan.measure(&ctx.store, None, None);
            let report = diagnose::finish(&plan, None, started.elapsed());
            self.current = Some(Current {
                plan,
                started,
                text: String::new(),
                running: None,
                request: 0,
                queued: false,
                report: None,
                state: note.clone(),
            });
            self.complete(report, ctx);
            return Action::Message(note);
        }
        // The Train screen may have picked another model or adapter since this one loaded.
        if let ModelState::Ready(_, info) = &self.model {
            let wanted = (
                &ctx.config().model.value,
                ctx.config().adapter.as_ref().map(|a| &a.value),
            );
            if ctx.config().remote.is_none() && (&info.path, info.adapter.as_ref()) != wanted {
                self.model = ModelState::NotStarted;
            }
        }
        if matches!(self.model, ModelState::NotStarted | ModelState::Failed) {
            let Ok(spec) = spec else {
                return Action::None;
            };
            match Engine::start_with(spec) {
                Ok((engine, status)) => match listen(&mut self.last_request, status, ctx) {
                    Ok(request) => self.model = ModelState::Loading(engine, request),
                    Err(e) => return Action::Message(e),
                },
                Err(e) => return Action::Message(format!("cannot start the model thread: {e}")),
            }
        }
        self.current = Some(Current {
            plan,
            started: Instant::now(),
            text: String::new(),
            running: None,
            request: 0,
            queued: true,
            report: None,
            state: "loading the model…".into(),
        });
        ctx.post(AppEvent::ModelWork(Some(
            "diagnosis: loading the model".into(),
        )));
        self.send_if_ready(ctx);
        Action::None
    }

    /// Sends the queued request once the model is loaded.
    fn send_if_ready(&mut self, ctx: &Ctx) {
        let ModelState::Ready(engine, info) = &self.model else {
            return;
        };
        let Some(cur) = self.current.as_mut().filter(|c| c.queued) else {
            return;
        };
        let adapter = info.adapter.as_ref().map(|a| a.display().to_string());
        cur.plan
            .measure(&ctx.store, Some(&info.name), adapter.as_deref());
        let params = logreasoner_core::diagnose::generation_params(
            &ctx.config().generation.value,
            ctx.config().diagnosis.value.max_tokens,
        );
        let mut running = engine.chat(cur.plan.messages.clone(), params);
        // The events go to the forwarder; the handle keeps the cancel flag.
        let events = std::mem::replace(&mut running.events, std::sync::mpsc::channel().1);
        cur.queued = false;
        cur.started = Instant::now();
        match listen(&mut self.last_request, events, ctx) {
            Ok(request) => {
                cur.request = request;
                cur.running = Some(running);
                cur.state = "reading the window…".into();
                ctx.post(AppEvent::ModelWork(Some(work_name(&cur.plan))));
            }
            Err(e) => {
                running.cancel();
                cur.state = e;
                ctx.post(AppEvent::ModelWork(None));
            }
        }
    }

    /// Attaches a stream of model events to a planned diagnosis (the engine's, or any other source
    /// of [`Event`]s); they arrive through the app's queue.
    pub fn attach(&mut self, plan: Plan, mut running: Running, ctx: &Ctx) -> Result<(), String> {
        let events = std::mem::replace(&mut running.events, std::sync::mpsc::channel().1);
        let request = listen(&mut self.last_request, events, ctx)?;
        ctx.post(AppEvent::ModelWork(Some(work_name(&plan))));
        self.viewing = None;
        self.current = Some(Current {
            plan,
            started: Instant::now(),
            text: String::new(),
            running: Some(running),
            request,
            queued: false,
            report: None,
            state: "reading the window…".into(),
        });
        Ok(())
    }

    /// Saves a finished report, shows it and adds it to the history.
    fn complete(&mut self, mut report: Report, ctx: &mut Ctx) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        if let Err(e) = diagnose::save(&ctx.store, &cur.plan, &mut report) {
            cur.state = format!("not saved: {e}");
        }
        cur.report = Some(report);
        self.reload_history(ctx);
        self.cursor = 0;
    }

    /// One message of the model thread. Returns whether anything changed.
    fn on_engine(&mut self, request: u64, event: &Event, ctx: &mut Ctx) -> bool {
        if matches!(self.model, ModelState::Loading(_, r) if r == request) {
            match event {
                Event::Loaded(info) => {
                    if let ModelState::Loading(engine, _) =
                        std::mem::replace(&mut self.model, ModelState::NotStarted)
                    {
                        self.model = ModelState::Ready(engine, info.clone());
                    }
                    self.send_if_ready(ctx);
                }
                Event::Failed(e) => {
                    if let Some(cur) = &mut self.current {
                        cur.queued = false;
                        cur.state = format!("the model did not load: {e}");
                    }
                    self.model = ModelState::Failed;
                }
                Event::Text(_) | Event::Done(_) => return false,
            }
            return true;
        }
        let model_name = match &self.model {
            ModelState::Ready(_, info) => info.name.clone(),
            _ => "model".to_string(),
        };
        let Some(cur) = self
            .current
            .as_mut()
            .filter(|c| c.request == request && c.running.is_some())
        else {
            return false;
        };
        let result = match event {
            Event::Text(t) => {
                cur.text.push_str(t);
                cur.state = "reasoning…".into();
                return true;
            }
            Event::Loaded(_) => return false,
            Event::Done(g) => Ok(g),
            Event::Failed(e) => Err(e),
        };
        cur.running = None;
        ctx.post(AppEvent::ModelWork(None));
        match result {
            Ok(g) if g.stop == StopReason::Cancelled => {
                cur.state = "cancelled; nothing saved".into();
            }
            Ok(g) => {
                ctx.post(AppEvent::ModelSpeed(format!(
                    "prefill {:.0} tok/s, decode {:.0} tok/s",
                    g.prefill_tokens_per_sec(),
                    g.decode_tokens_per_sec()
                )));
                let elapsed = cur.started.elapsed();
                let report = diagnose::finish(
                    &cur.plan,
                    Some(ModelRun {
                        model: &model_name,
                        adapter: None,
                        generation: g,
                        elapsed,
                    }),
                    elapsed,
                );
                cur.state = "done".into();
                self.complete(report, ctx);
            }
            Err(e) => cur.state = format!("the model failed: {e}"),
        }
        true
    }

    /// Feeds newly followed lines to the watch and starts a diagnosis on a burst.
    fn pump_watch(&mut self, ctx: &mut Ctx) -> bool {
        let (Some(watch), Some(followed)) = (self.watch.as_mut(), ctx.followed()) else {
            return false;
        };
        if followed.last_line <= self.watch_seen {
            self.watch_seen = followed.last_line;
            return false;
        }
        let new = (followed.last_line - self.watch_seen).min(followed.recent.len());
        self.watch_seen = followed.last_line;
        let now = Instant::now();
        let fmt = logreasoner_core::logs::format::detect(
            &followed.recent.iter().take(200).collect::<Vec<_>>(),
        );
        let mut fired = false;
        for line in followed.recent.iter().skip(followed.recent.len() - new) {
            fired |= watch.observe(line, fmt, now);
        }
        if !fired {
            return false;
        }
        let input = Input {
            source: followed.source.clone(),
            first_line: followed.first_line(),
            lines: followed.recent.iter().cloned().collect(),
            question: None,
        };
        let _ = self.begin(input, None, true, ctx);
        true
    }

    fn decide(&mut self, decision: ReviewStatus, ctx: &mut Ctx) -> Action {
        let id = match self.focus {
            Focus::History => self.history.get(self.cursor).map(|d| d.id),
            Focus::Reasoning | Focus::Window => match &self.viewing {
                Some(d) => Some(d.id),
                None => self
                    .current
                    .as_ref()
                    .and_then(|c| c.report.as_ref())
                    .and_then(|r| r.id),
            },
        };
        let Some(id) = id else {
            return Action::Message("no finished diagnosis to review".into());
        };
        match review(&ctx.store, id, decision, &ctx.config().annotator.value) {
            Ok(r) => {
                self.reload_history(ctx);
                if let Some(v) = &mut self.viewing {
                    v.status = decision;
                }
                let verb = if decision == ReviewStatus::Accepted {
                    "accepted"
                } else {
                    "rejected"
                };
                Action::Message(format!(
                    "diagnosis #{id} {verb}: task instance #{}, solution #{}",
                    r.instance, r.solution
                ))
            }
            Err(e) => Action::Message(format!("not recorded: {e}")),
        }
    }
}

impl Screen for DiagnoseScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        ScreenId::Diagnose
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        KEYS
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.reload_history(ctx);
        if ctx.config().diagnosis.value.watch {
            self.watch = Some(Watch::new((&ctx.config().diagnosis.value).into()));
        }
    }

    fn on_event(&mut self, event: &AppEvent, ctx: &mut Ctx) -> bool {
        match event {
            AppEvent::Engine { request, event } => self.on_engine(*request, event, ctx),
            AppEvent::LinesFollowed { .. } => self.pump_watch(ctx),
            _ => false,
        }
    }

    fn run(&mut self, cmd: Cmd, _key: KeyEvent, ctx: &mut Ctx) -> Action {
        match cmd {
            Cmd::Run | Cmd::Baseline => match Self::selection_input(ctx) {
                Some(input) => {
                    let file = ctx.selection().and_then(|s| s.file.clone());
                    self.begin(input, file, cmd == Cmd::Run, ctx)
                }
                None => Action::Message(
                    "nothing selected: pick lines on the Logs screen (v marks a range)".into(),
                ),
            },
            Cmd::Cancel => match self.current.as_mut() {
                Some(cur) if cur.running.is_some() => {
                    if let Some(r) = &cur.running {
                        r.cancel();
                    }
                    cur.state = "cancelling…".into();
                    Action::None
                }
                Some(cur) if cur.queued => {
                    cur.queued = false;
                    cur.state = "cancelled before the model was ready; nothing saved".into();
                    ctx.post(AppEvent::ModelWork(None));
                    Action::None
                }
                _ => Action::Message("nothing is running".into()),
            },
            Cmd::Accept => self.decide(ReviewStatus::Accepted, ctx),
            Cmd::Reject => self.decide(ReviewStatus::Rejected, ctx),
            Cmd::Focus => {
                self.focus = match self.focus {
                    Focus::Reasoning => Focus::History,
                    Focus::History => Focus::Window,
                    Focus::Window => Focus::Reasoning,
                };
                Action::None
            }
            Cmd::Right | Cmd::Left | Cmd::Wrap | Cmd::Short => self.pane.apply(cmd),
            Cmd::Down | Cmd::Up | Cmd::Top | Cmd::Bottom => {
                match self.focus {
                    Focus::Window => {
                        let from = self.pane.scroll.unwrap_or(0);
                        self.pane.scroll = Some(match cmd {
                            Cmd::Down => from.saturating_add(1),
                            Cmd::Up => from.saturating_sub(1),
                            Cmd::Top => 0,
                            _ => usize::MAX / 2,
                        });
                    }
                    Focus::Reasoning => {
                        self.scroll = match cmd {
                            Cmd::Down => self.scroll.saturating_add(1),
                            Cmd::Up => self.scroll.saturating_sub(1),
                            Cmd::Top => 0,
                            _ => u16::MAX / 2,
                        }
                    }
                    Focus::History => {
                        let last = self.history.len().saturating_sub(1);
                        self.cursor = match cmd {
                            Cmd::Down => (self.cursor + 1).min(last),
                            Cmd::Up => self.cursor.saturating_sub(1),
                            Cmd::Top => 0,
                            _ => last,
                        }
                    }
                }
                Action::None
            }
            Cmd::Open => match self.history.get(self.cursor) {
                Some(d) => {
                    self.viewing = Some(d.clone());
                    self.focus = Focus::Reasoning;
                    self.scroll = 0;
                    Action::None
                }
                None => Action::Message("the history is empty".into()),
            },
            Cmd::Watch => {
                if self.watch.take().is_some() {
                    Action::Message("watch off".into())
                } else {
                    let s = &ctx.config().diagnosis.value;
                    self.watch = Some(Watch::new(s.into()));
                    self.watch_seen = ctx.followed().map_or(0, |f| f.last_line);
                    Action::Message(format!(
                        "watch on: {} error lines within {} lines of a followed file (F on Logs) start a diagnosis, at most every {} s",
                        s.burst_errors, s.burst_lines, s.min_interval_secs
                    ))
                }
            }
        }
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        // The history gives rows back on small terminals (three entries at 80x24).
        let history_rows = (area.height / 4).clamp(4, 7);
        let [top, history_area] =
            Layout::vertical([Constraint::Min(8), Constraint::Length(history_rows)]).areas(area);
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        let [window_area, chart_area] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
        let [reasoning_area, verdict_area] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(12)]).areas(right);
        let view = self.view();
        render_window(
            frame,
            window_area,
            &view,
            &self.pane,
            self.focus == Focus::Window,
        );
        render_chart(frame, chart_area, &view);
        // Focus shows by a mark in the title as well as by the border's colour.
        let mark = |f: Focus| if self.focus == f { "▸" } else { "" };
        let focused = |f: Focus| {
            if self.focus == f {
                Style::new().fg(Color::Cyan)
            } else {
                Style::new().dim()
            }
        };
        let reasoning = Paragraph::new(if view.reasoning.is_empty() {
            Line::from(Span::styled(view.placeholder.clone(), Style::new().dim())).into()
        } else {
            ratatui::text::Text::from(view.reasoning.clone())
        })
        .wrap(Wrap { trim: false })
        .scroll((self.scroll, 0))
        .block(
            Block::bordered()
                .title(format!(
                    "{} reasoning — {} ",
                    mark(Focus::Reasoning),
                    view.state
                ))
                .border_style(focused(Focus::Reasoning)),
        );
        frame.render_widget(reasoning, reasoning_area);
        render_verdict(frame, verdict_area, &view);
        // Ids of every width line up.
        let id_width = self
            .history
            .iter()
            .map(|d| d.id.to_string().len())
            .max()
            .unwrap_or(1);
        let items: Vec<ListItem> = self
            .history
            .iter()
            .map(|d| {
                // Who decided: the walk alone, or a model run (with how long it took).
                let by = if d.reasoning.is_empty() || d.model == "flowchart walk" {
                    "walk".to_string()
                } else {
                    format!("model {:.1} s", d.total_ms as f64 / 1000.0)
                };
                let verdict = if d.anomalous {
                    Span::styled("ANOMALY", Style::new().fg(Color::Red))
                } else {
                    Span::styled("normal ", Style::new().fg(Color::Green))
                };
                ListItem::new(Line::from(vec![
                    Span::styled(format!("#{:<id_width$} ", d.id), Style::new().dim()),
                    Span::raw(format!(
                        "{} ",
                        logreasoner_core::time::format_utc(d.created_at)
                    )),
                    verdict,
                    Span::raw(format!(
                        " {:<22} {:<24} ",
                        d.cause.as_deref().unwrap_or("-"),
                        d.chart_id.as_deref().unwrap_or("no chart")
                    )),
                    Span::styled(
                        format!("{:?}", d.status).to_lowercase(),
                        status_style(d.status),
                    ),
                    Span::styled(
                        format!(
                            "  {by} · {} {}..{}",
                            short_source(&d.source),
                            d.first_line,
                            d.last_line
                        ),
                        Style::new().dim(),
                    ),
                ]))
            })
            .collect();
        let title = format!(
            "{} history ({}) — Tab focuses, Enter shows, a/x review{} ",
            mark(Focus::History),
            self.history.len(),
            if self.watch.is_some() {
                " — watch on"
            } else {
                ""
            }
        );
        let list = List::new(items)
            .block(
                Block::bordered()
                    .title(title)
                    .border_style(focused(Focus::History)),
            )
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state = ListState::default().with_selected(
            (self.focus == Focus::History && !self.history.is_empty()).then_some(self.cursor),
        );
        frame.render_stateful_widget(list, history_area, &mut state);
    }
}

fn status_style(s: ReviewStatus) -> Style {
    match s {
        ReviewStatus::Accepted => Style::new().fg(Color::Green),
        ReviewStatus::Rejected => Style::new().fg(Color::Red),
        _ => Style::new().dim(),
    }
}

fn short_source(source: &str) -> &str {
    source.rsplit('/').next().unwrap_or(source)
}

/// What the panes show, from the diagnosis in progress or one from the history.
struct View {
    title: String,
    lines: Vec<(usize, String)>,
    /// The lines' log format, for short headers.
    format: Option<&'static logreasoner_core::logs::format::Format>,
    evidence: Vec<usize>,
    chart: Option<String>,
    steps: Vec<Line<'static>>,
    reasoning: String,
    placeholder: String,
    state: String,
    verdict: Option<VerdictView>,
}

struct VerdictView {
    anomalous: bool,
    cause: Option<String>,
    category: bool,
    confidence: Option<f32>,
    from: String,
    answer: String,
    next_steps: Vec<String>,
    timing: String,
    status: Option<ReviewStatus>,
}

impl DiagnoseScreen {
    /// The view of a saved diagnosis from the history.
    fn saved_view(&self, d: &Diagnosis) -> View {
        View {
            title: format!(
                " #{} {} lines {}..{} ",
                d.id, d.source, d.first_line, d.last_line
            ),
            lines: d
                .shown
                .iter()
                .map(|(n, l)| (*n as usize, l.clone()))
                .collect(),
            // A saved diagnosis keeps no plan: its format is detected when headers are
            // shortened, the only use of it.
            format: if self.pane.short {
                let lines: Vec<String> = d.shown.iter().take(50).map(|(_, l)| l.clone()).collect();
                logreasoner_core::logs::format::detect(&lines)
            } else {
                None
            },
            evidence: d.evidence.iter().map(|&n| n as usize).collect(),
            chart: d.chart_id.clone(),
            steps: d
                .chart_path
                .iter()
                .enumerate()
                .map(|(i, n)| Line::from(format!("{}. {n}", i + 1)))
                .collect(),
            reasoning: d.reasoning.clone(),
            placeholder: format!("({} wrote no reasoning: the flowchart walk alone)", d.model),
            state: format!("saved #{}", d.id),
            verdict: Some(VerdictView {
                anomalous: d.anomalous,
                cause: d.cause.clone(),
                category: d.cause_is_category,
                confidence: d.confidence,
                from: d.model.clone(),
                answer: answer_text(d),
                next_steps: d.next_steps.clone(),
                timing: timing(d.first_token_ms, d.total_ms),
                status: Some(d.status),
            }),
        }
    }

    fn view(&self) -> View {
        if let Some(d) = &self.viewing {
            return self.saved_view(d);
        }
        let Some(cur) = &self.current else {
            return View {
                title: " window ".into(),
                lines: Vec::new(),
                format: None,
                evidence: Vec::new(),
                chart: None,
                steps: Vec::new(),
                reasoning: String::new(),
                placeholder: "r diagnoses the lines selected on the Logs screen (v marks a range; \
                              without one, the lines around the cursor); b runs the flowchart walk \
                              alone."
                    .into(),
                state: "idle".into(),
                verdict: None,
            };
        };
        let plan = &cur.plan;
        let evidence = match &cur.report {
            Some(r) => r.verdict.evidence.clone(),
            None => plan.walk.as_ref().map(|w| w.evidence()).unwrap_or_default(),
        };
        let mut steps: Vec<Line> = Vec::new();
        if let Some(w) = &plan.walk {
            for s in &w.steps {
                let (mark, style, detail) = match &s.outcome {
                    Some(CheckOutcome::Decided { holds, evidence }) => (
                        if *holds { "✓" } else { "✗" },
                        Style::new().fg(if *holds { Color::Yellow } else { Color::Gray }),
                        if evidence.is_empty() {
                            String::new()
                        } else {
                            let shown: Vec<String> =
                                evidence.iter().take(6).map(|n| n.to_string()).collect();
                            format!(" lines {}", shown.join(","))
                        },
                    ),
                    Some(CheckOutcome::Undecidable { .. }) => {
                        ("?", Style::new().fg(Color::Magenta), " cannot tell".into())
                    }
                    None => ("•", Style::new().fg(Color::Cyan), String::new()),
                };
                steps.push(Line::from(vec![
                    Span::styled(format!("{mark} "), style),
                    Span::raw(s.node.clone()),
                    Span::styled(
                        s.taken
                            .as_ref()
                            .map(|t| format!(" → {t}"))
                            .unwrap_or_default(),
                        Style::new().dim(),
                    ),
                    Span::styled(detail, Style::new().fg(Color::Yellow)),
                ]));
            }
            let end = match &w.end {
                End::Conclusion { cause, .. } => format!("= conclusion: {cause}"),
                End::Escalate { .. } => "= escalate to a person".to_string(),
                End::Undecided { reason, .. } => format!("= stopped: {reason}"),
            };
            steps.push(Line::from(Span::styled(end, Style::new().fg(Color::Cyan))));
        }
        let shown: Vec<(usize, String)> = plan
            .shown
            .iter()
            .filter_map(|&n| {
                let line = plan
                    .input
                    .lines
                    .get(n.checked_sub(plan.input.first_line)?)?;
                Some((n, line.clone()))
            })
            .collect();
        let verdict = cur.report.as_ref().map(|r| VerdictView {
            anomalous: r.verdict.anomalous,
            cause: r.verdict.cause.clone(),
            category: r.verdict.cause_is_category,
            confidence: Some(r.verdict.confidence),
            from: r.verdict.from.describe().to_string(),
            answer: logreasoner_core::diagnose::review::answer(
                r.verdict.anomalous,
                r.verdict.cause.as_deref(),
            ),
            next_steps: r.verdict.next_steps.clone(),
            timing: timing(r.timings.first_token_ms, r.timings.total_ms),
            status: r
                .id
                .and_then(|id| self.history.iter().find(|d| d.id == id))
                .map(|d| d.status),
        });
        let (placeholder, state) = progress_texts(cur);
        View {
            title: format!(
                " {} lines {}..{} ({} shown to the model) ",
                short_source(&plan.input.source),
                plan.input.first_line,
                plan.input.last_line(),
                plan.shown.len()
            ),
            lines: shown,
            format: plan.format,
            evidence,
            chart: plan.chart.as_ref().map(|c| c.id.clone()),
            steps,
            reasoning: cur.text.clone(),
            placeholder,
            state,
            verdict,
        }
    }
}

/// The reasoning pane's placeholder and the state line of a diagnosis, with its elapsed
/// seconds while it waits or runs.
fn progress_texts(cur: &Current) -> (String, String) {
    let secs = cur.started.elapsed().as_secs();
    let placeholder = if cur.queued || cur.running.is_some() {
        format!("waiting for the first token… {secs} s")
    } else {
        "(no model reasoning: the flowchart walk alone)".into()
    };
    let state = if cur.running.is_some() {
        format!("{} ({} chars, {secs} s)", cur.state, cur.text.len())
    } else if cur.queued {
        format!("{} {secs} s", cur.state)
    } else {
        cur.state.clone()
    };
    (placeholder, state)
}

/// The status bar's name for a running diagnosis.
fn work_name(plan: &Plan) -> String {
    format!(
        "diagnosing lines {}..{}",
        plan.input.first_line,
        plan.input.last_line()
    )
}

fn timing(first_token_ms: Option<u64>, total_ms: u64) -> String {
    let first = first_token_ms.map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
    format!(
        "first token {first}, total {:.1} s",
        total_ms as f64 / 1000.0
    )
}

/// How the window pane shows its lines: scrolled by whole lines (`None`: kept on the first
/// evidence line), cut or wrapped and moved sideways as a [`TextPane`], with short headers or as
/// written.
#[derive(Debug)]
struct WindowPane {
    scroll: Option<usize>,
    text: TextPane,
    short: bool,
}

impl Default for WindowPane {
    fn default() -> WindowPane {
        // A window's lines start cut at the edge: one row per line keeps the evidence together.
        WindowPane {
            scroll: None,
            text: TextPane {
                wrap: false,
                ..TextPane::default()
            },
            short: false,
        }
    }
}

impl WindowPane {
    fn apply(&mut self, cmd: Cmd) -> Action {
        let m = match cmd {
            Cmd::Right => PaneMove::Right,
            Cmd::Left => PaneMove::Left,
            Cmd::Wrap => PaneMove::Wrap,
            Cmd::Short => {
                self.short = !self.short;
                let on = if self.short {
                    "short headers"
                } else {
                    "lines as written"
                };
                return Action::Message(format!("window: {on}"));
            }
            _ => return Action::None,
        };
        self.text
            .apply(m, "window")
            .map_or(Action::None, Action::Message)
    }
}

fn render_window(frame: &mut Frame, area: Rect, view: &View, pane: &WindowPane, focused: bool) {
    let width = view.lines.last().map_or(1, |(n, _)| n.to_string().len());
    let lines: Vec<Line> = view
        .lines
        .iter()
        .map(|(n, text)| {
            let hit = view.evidence.contains(n);
            let style = if hit {
                Style::new().fg(Color::Black).bg(Color::Yellow)
            } else {
                Style::new()
            };
            let text = if pane.short {
                logreasoner_core::logs::format::short(text, view.format)
            } else {
                text.clone()
            };
            let cut: String = text.chars().take(MAX_LINE_CHARS).collect();
            Line::from(vec![
                Span::styled(
                    format!("{n:>width$}{}", if hit { "▶" } else { " " }),
                    Style::new().fg(Color::DarkGray),
                ),
                Span::styled(pane.text.shift(&cut), style),
            ])
        })
        .collect();
    let rows = area.height.saturating_sub(2) as usize;
    // Screen rows each line takes: one, or with wrapping as many as its words need.
    let inner = area.width.saturating_sub(2);
    let heights: Vec<usize> = lines
        .iter()
        .map(|l| pane.text.rows(std::slice::from_ref(l), inner))
        .collect();
    let rows_before = |line: usize| heights.iter().take(line).sum::<usize>();
    let total: usize = heights.iter().sum();
    let scroll = match pane.scroll {
        Some(s) => rows_before(s).min(total.saturating_sub(rows)),
        // Keep the first evidence line in view.
        None => rows_before(
            view.lines
                .iter()
                .position(|(n, _)| view.evidence.contains(n))
                .unwrap_or(0),
        )
        .saturating_sub(rows / 3),
    };
    // The column comes first, so a narrow pane still shows it.
    let title = format!("{}{}", pane.text.column_note(), view.title);
    let paragraph = TextPane {
        scroll,
        ..pane.text
    }
    .shown(lines);
    frame.render_widget(
        paragraph.block(
            Block::bordered()
                .title(if focused {
                    format!("▸{title}")
                } else {
                    title
                })
                .border_style(if focused {
                    Style::new().fg(Color::Cyan)
                } else {
                    Style::new().dim()
                }),
        ),
        area,
    );
}

fn render_chart(frame: &mut Frame, area: Rect, view: &View) {
    let title = match &view.chart {
        Some(c) => format!(" chart {c} "),
        None => " chart ".into(),
    };
    let body = if view.chart.is_none() && !view.lines.is_empty() {
        vec![Line::from(Span::styled(
            "no flowchart's symptoms appear in this window",
            Style::new().dim(),
        ))]
    } else {
        view.steps.clone()
    };
    frame.render_widget(
        Paragraph::new(body).wrap(Wrap { trim: true }).block(
            Block::bordered()
                .title(title)
                .border_style(Style::new().dim()),
        ),
        area,
    );
}

fn render_verdict(frame: &mut Frame, area: Rect, view: &View) {
    let block = Block::bordered()
        .title(" verdict ")
        .border_style(Style::new().dim());
    let Some(v) = &view.verdict else {
        frame.render_widget(
            Paragraph::new(Span::styled("not yet", Style::new().dim())).block(block),
            area,
        );
        return;
    };
    let label = |s: &'static str| Span::styled(s, Style::new().fg(Color::Cyan));
    let mut lines = vec![Line::from(vec![
        if v.anomalous {
            Span::styled(
                " ANOMALY ",
                Style::new().fg(Color::White).bg(Color::Red).bold(),
            )
        } else {
            Span::styled(
                " NORMAL ",
                Style::new().fg(Color::Black).bg(Color::Green).bold(),
            )
        },
        Span::raw(format!(
            "  confidence {}  from {}",
            v.confidence.map_or("-".into(), |c| format!("{c:.2}")),
            v.from
        )),
        Span::styled(
            v.status
                .map(|s| format!("  [{}]", format!("{s:?}").to_lowercase()))
                .unwrap_or_default(),
            v.status.map(status_style).unwrap_or_default(),
        ),
    ])];
    if let Some(c) = &v.cause {
        lines.push(Line::from(vec![
            label("cause  "),
            Span::raw(format!(
                "{c} ({})",
                if v.category { "category" } else { "free text" }
            )),
        ]));
    }
    lines.push(Line::from(vec![
        label("answer "),
        Span::raw(v.answer.clone()),
    ]));
    let evidence: Vec<String> = view.evidence.iter().map(|n| n.to_string()).collect();
    lines.push(Line::from(vec![
        label("lines  "),
        Span::raw(if evidence.is_empty() {
            "-".to_string()
        } else {
            evidence.join(", ")
        }),
    ]));
    for step in &v.next_steps {
        lines.push(Line::from(vec![label("next   "), Span::raw(step.clone())]));
    }
    // The timings sit on the border, so a small card cut at its bottom still shows them.
    let block = block.title_bottom(
        Line::from(Span::styled(format!(" {} ", v.timing), Style::new().dim())).right_aligned(),
    );
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}
