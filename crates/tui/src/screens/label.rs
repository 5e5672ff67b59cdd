//! The Label screen: one instance with two of its solutions side by side (sides randomised per
//! annotator, the left one recorded); one key press records a durable preference and the next pair
//! is already on screen. Each annotator resumes where they stopped and never sees a pair twice.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::keys::{Binding, Key};
use crate::pane::{PaneMove, TextPane, MAX_LINE_CHARS};
use logreasoner_core::data::labeling::{self, Decision, Pair};
use logreasoner_core::store::{Id, Preference, Solution, TaskInstance};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Left,
    Right,
    Tie,
    Skip,
    Undo,
    Flag,
    Guidelines,
    Close,
    Reload,
    Pane(PaneMove),
}

const KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('1'), Key::code(KeyCode::Left)],
        help: "The left solution is better",
        cmd: Cmd::Left,
    },
    Binding {
        keys: &[Key::ch('2'), Key::code(KeyCode::Right)],
        help: "The right solution is better",
        cmd: Cmd::Right,
    },
    Binding {
        keys: &[Key::ch('t')],
        help: "Tie: equally good (or bad)",
        cmd: Cmd::Tie,
    },
    Binding {
        keys: &[Key::ch('s')],
        help: "Skip this pair",
        cmd: Cmd::Skip,
    },
    Binding {
        keys: &[Key::ch('u')],
        help: "Undo the last label of this session",
        cmd: Cmd::Undo,
    },
    Binding {
        keys: &[Key::ch('f')],
        help: "Flag the pair for a second look (saved with the label)",
        cmd: Cmd::Flag,
    },
    Binding {
        keys: &[Key::ch('h')],
        help: "Labeling guidelines",
        cmd: Cmd::Guidelines,
    },
    Binding {
        keys: &[Key::code(KeyCode::Esc), Key::ch('q')],
        help: "Close the guidelines",
        cmd: Cmd::Close,
    },
    Binding {
        keys: &[Key::ch('r')],
        help: "Reload pairs from the database",
        cmd: Cmd::Reload,
    },
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Scroll both solutions down (long ones)",
        cmd: Cmd::Pane(PaneMove::Down),
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Scroll both solutions up",
        cmd: Cmd::Pane(PaneMove::Up),
    },
    Binding {
        keys: &[Key::ch('>')],
        help: "Scroll the log lines and solutions right (when not wrapped)",
        cmd: Cmd::Pane(PaneMove::Right),
    },
    Binding {
        keys: &[Key::ch('<')],
        help: "Scroll the log lines and solutions left",
        cmd: Cmd::Pane(PaneMove::Left),
    },
    Binding {
        keys: &[Key::ch('z')],
        help: "Wrap long lines (on/off)",
        cmd: Cmd::Pane(PaneMove::Wrap),
    },
];

pub const GUIDELINES: &str = "Pick the solution an expert would rather teach from.\n\n\
1. Correct answer first: a solution whose Answer line matches the gold answer beats one that does not.\n\
2. Then evidence: steps that quote the right line numbers and say what those lines show beat vague steps.\n\
3. Then the thought: steps that follow the expert thought's order beat ones that wander.\n\
4. Shorter wins when the two are otherwise equal.\n\n\
t (tie) when both are equally good or equally wrong; s (skip) when you cannot judge (say, the gold \
answer looks wrong), and f to flag such a pair for a second look. u undoes your last label.";

/// What is on screen for the current pair.
struct Shown {
    instance: TaskInstance,
    left: Solution,
    right: Solution,
}

#[derive(Default)]
pub struct LabelScreen {
    queue: Vec<Pair>,
    /// Position in `queue` of the pair on screen.
    at: usize,
    shown: Option<Shown>,
    /// Labels made in this session, for undo (newest last), with the pair each answered and
    /// whether it was flagged (undo puts the flag back with the pair).
    history: Vec<(Id, usize, bool)>,
    flagged: bool,
    guidelines: bool,
    total_done: usize,
    error: Option<String>,
    /// How the log lines and both solutions are shown: one scroll for the two solutions (back
    /// to the top with each new pair), one sideways scroll and wrap choice for every pane.
    pane: TextPane,
}

impl LabelScreen {
    fn reload(&mut self, ctx: &Ctx) {
        let annotator = &ctx.config().annotator.value;
        match labeling::queue(&ctx.store, annotator) {
            Ok(q) => {
                self.queue = q;
                self.at = 0;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("cannot read the pairs: {e}")),
        }
        self.total_done = labeling::labels_by(&ctx.store, annotator).unwrap_or(0);
        self.load_current(ctx);
    }

    fn load_current(&mut self, ctx: &Ctx) {
        self.flagged = false;
        self.pane.reset();
        self.shown = self.queue.get(self.at).and_then(|p| {
            Some(Shown {
                instance: ctx.store.get(p.instance).ok()??,
                left: ctx.store.get(p.left).ok()??,
                right: ctx.store.get(p.right).ok()??,
            })
        });
    }

    /// Records the decision on the pair on screen (durable on return) and moves to the next.
    fn decide(&mut self, preference: Preference, left_wins: bool, ctx: &mut Ctx) -> Action {
        let Some(&pair) = self.queue.get(self.at) else {
            return Action::Message("no pair to label".into());
        };
        let decision = Decision {
            preference,
            left_wins,
            flagged: self.flagged,
        };
        let recorded = labeling::record(
            &ctx.store,
            &ctx.config().annotator.value,
            pair,
            decision,
            self.history.len() + 1,
            logreasoner_core::time::now_millis(),
        );
        match recorded {
            Ok(id) => {
                self.history.push((id, self.at, decision.flagged));
                self.total_done += 1;
                self.at += 1;
                self.load_current(ctx);
                Action::None
            }
            Err(e) => Action::Message(format!("the label was not saved: {e}")),
        }
    }

    fn undo(&mut self, ctx: &mut Ctx) -> Action {
        let Some((id, at, flagged)) = self.history.pop() else {
            return Action::Message("nothing to undo in this session".into());
        };
        match ctx.store.undo_label(id) {
            Ok(_) => {
                self.total_done = self.total_done.saturating_sub(1);
                self.at = at;
                self.load_current(ctx);
                self.flagged = flagged;
                Action::Message("label undone".into())
            }
            Err(e) => {
                self.history.push((id, at, flagged));
                Action::Message(format!("could not undo: {e}"))
            }
        }
    }
}

impl Screen for LabelScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        ScreenId::Label
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        KEYS
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.reload(ctx);
    }

    fn run(&mut self, cmd: Cmd, key: KeyEvent, ctx: &mut Ctx) -> Action {
        if self.guidelines && !matches!(cmd, Cmd::Guidelines | Cmd::Close) {
            self.guidelines = false;
        }
        match cmd {
            Cmd::Left => self.decide(Preference::Chosen, true, ctx),
            Cmd::Right => self.decide(Preference::Chosen, false, ctx),
            Cmd::Tie => self.decide(Preference::Tie, true, ctx),
            Cmd::Skip => self.decide(Preference::Skip, true, ctx),
            Cmd::Undo => self.undo(ctx),
            Cmd::Flag => {
                self.flagged = !self.flagged;
                Action::None
            }
            Cmd::Guidelines => {
                self.guidelines = !self.guidelines;
                Action::None
            }
            Cmd::Close if self.guidelines => {
                self.guidelines = false;
                Action::None
            }
            Cmd::Close if key.code == KeyCode::Esc => Action::None,
            Cmd::Close => Action::Quit,
            Cmd::Reload => {
                self.reload(ctx);
                Action::Message(format!("{} pair(s) to label", self.queue.len()))
            }
            // Drawing clamps the scroll to the longer solution's last row.
            Cmd::Pane(m) => self
                .pane
                .apply(m, "log lines and solutions")
                .map_or(Action::None, Action::Message),
        }
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let [head, body, foot] = Layout::vertical([
            Constraint::Length(9),
            Constraint::Min(5),
            Constraint::Length(1),
        ])
        .areas(area);
        let progress = format!(
            " {} · this session {} · total {} labelled · {} to go{}",
            ctx.config().annotator.value,
            self.history.len(),
            self.total_done,
            self.queue.len().saturating_sub(self.at),
            if self.flagged { " · ⚑ flagged" } else { "" }
        );
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(progress, Style::new().fg(Color::Cyan)),
                Span::styled(
                    "   1/← left · 2/→ right · t tie · s skip · u undo · f flag · h guidelines",
                    Style::new().dim(),
                ),
            ])),
            foot,
        );
        let Some(shown) = &self.shown else {
            let text = self.error.clone().unwrap_or_else(|| {
                "No pairs left to label. Generate solutions first (logreasoner generate solutions \
                 --k 2), then r reloads."
                    .into()
            });
            frame.render_widget(
                Paragraph::new(text)
                    .style(Style::new().dim())
                    .wrap(Wrap { trim: true })
                    .block(Block::bordered().title(" Label ")),
                head.union(body),
            );
            if self.guidelines {
                render_guidelines(frame, area);
            }
            return;
        };
        let i = &shown.instance;
        let mut lines = vec![Line::from(vec![
            Span::styled(
                format!("#{} {} ", i.id, i.task),
                Style::new().fg(Color::Cyan),
            ),
            Span::styled(i.system.clone(), Style::new().dim()),
            Span::raw(format!("  {}", i.instruction)),
        ])];
        for (n, l) in i.input.iter().enumerate().take(5) {
            lines.push(self.pane.numbered(n + 1, l, MAX_LINE_CHARS));
        }
        if i.input.len() > 5 {
            lines.push(Line::from(Span::styled(
                format!("    … {} more line(s)", i.input.len() - 5),
                Style::new().dim(),
            )));
        }
        lines.push(Line::from(vec![
            Span::styled("gold ", Style::new().fg(Color::Green)),
            Span::raw(if i.gold.is_empty() {
                "(none)".to_string()
            } else {
                i.gold.clone()
            }),
        ]));
        let mut instance = Paragraph::new(lines);
        if self.pane.wrap {
            instance = instance.wrap(Wrap { trim: false });
        }
        frame.render_widget(
            instance
                .block(Block::bordered().title(format!("{} instance ", self.pane.column_note()))),
            head,
        );
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(body);
        // Both solutions scroll together, as far as the longer one goes.
        let texts = [
            self.pane.text_lines(&shown.left.text),
            self.pane.text_lines(&shown.right.text),
        ];
        let inner = left
            .width
            .saturating_sub(2)
            .min(right.width.saturating_sub(2));
        let rows = texts
            .iter()
            .map(|t| self.pane.rows(t, inner))
            .max()
            .unwrap_or(0);
        self.pane.clamp(rows, left);
        let [left_lines, right_lines] = texts;
        for (area, s, title, lines) in [
            (left, &shown.left, " 1 ← ", left_lines),
            (right, &shown.right, " 2 → ", right_lines),
        ] {
            // The answer, not the automatic grade: the labeler judges, unprompted.
            let verdict = Span::styled(
                format!(" answer: {} ", s.answer.as_deref().unwrap_or("(none)")),
                Style::new().dim(),
            );
            frame.render_widget(
                self.pane.shown(lines).block(
                    Block::bordered()
                        .title(title)
                        .title(Line::from(verdict).right_aligned()),
                ),
                area,
            );
        }
        if self.guidelines {
            render_guidelines(frame, area);
        }
    }
}

fn render_guidelines(frame: &mut Frame, area: Rect) {
    let pop = area.inner(Margin::new(area.width / 8, area.height / 6));
    frame.render_widget(Clear, pop);
    frame.render_widget(
        Paragraph::new(GUIDELINES)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" guidelines (h or Esc closes) ")),
        pop,
    );
}
