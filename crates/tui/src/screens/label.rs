//! The Label screen: one instance with two of its solutions side by side (sides randomised per
//! annotator, the left one recorded); one key press records a durable preference and the next pair
//! is already on screen. Each annotator resumes where they stopped and never sees a pair twice.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::keys::{Binding, Key};
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
    Down,
    Up,
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
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Scroll both solutions up",
        cmd: Cmd::Up,
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
    /// Lines both solution panes are scrolled by (back to 0 with each new pair).
    scroll: u16,
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
        self.scroll = 0;
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
            Cmd::Down => {
                // No further than the longer solution's last line.
                let last = self.shown.as_ref().map_or(0, |s| {
                    s.left
                        .text
                        .lines()
                        .count()
                        .max(s.right.text.lines().count())
                });
                let last = u16::try_from(last.saturating_sub(1)).unwrap_or(u16::MAX);
                self.scroll = self.scroll.saturating_add(1).min(last);
                Action::None
            }
            Cmd::Up => {
                self.scroll = self.scroll.saturating_sub(1);
                Action::None
            }
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
            lines.push(Line::from(vec![
                Span::styled(format!("{:>3} ", n + 1), Style::new().fg(Color::DarkGray)),
                Span::raw(l.chars().take(300).collect::<String>()),
            ]));
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
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(" instance ")),
            head,
        );
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(body);
        for (area, s, title) in [(left, &shown.left, " 1 ← "), (right, &shown.right, " 2 → ")] {
            // The answer, not the automatic grade: the labeler judges, unprompted.
            let verdict = Span::styled(
                format!(" answer: {} ", s.answer.as_deref().unwrap_or("(none)")),
                Style::new().dim(),
            );
            frame.render_widget(
                Paragraph::new(Text::from(s.text.clone()))
                    .wrap(Wrap { trim: false })
                    .scroll((self.scroll, 0))
                    .block(
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
