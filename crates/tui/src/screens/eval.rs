//! The Eval screen: the evaluations recorded by `logreasoner eval`, newest first; the selected one's
//! table of metrics per variant, and a bar chart of one metric across variants.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, List, ListItem, ListState, Paragraph, Row, Table, Wrap,
};
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::keys::{Binding, Key};
use logreasoner_core::eval::metric_names;
use logreasoner_core::store::EvalRun;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Down,
    Up,
    NextMetric,
    PrevMetric,
    Reload,
}

const KEYS: &[Binding<Cmd>] = &[
    Binding {
        keys: &[Key::ch('j'), Key::code(KeyCode::Down)],
        help: "Next (older) evaluation",
        cmd: Cmd::Down,
    },
    Binding {
        keys: &[Key::ch('k'), Key::code(KeyCode::Up)],
        help: "Previous (newer) evaluation",
        cmd: Cmd::Up,
    },
    Binding {
        keys: &[Key::code(KeyCode::Tab), Key::ch('m')],
        help: "Chart the next metric",
        cmd: Cmd::NextMetric,
    },
    Binding {
        keys: &[Key::code(KeyCode::BackTab), Key::ch('M')],
        help: "Chart the previous metric",
        cmd: Cmd::PrevMetric,
    },
    Binding {
        keys: &[Key::ch('r')],
        help: "Reload from the database",
        cmd: Cmd::Reload,
    },
];

#[derive(Default)]
pub struct EvalScreen {
    runs: Vec<EvalRun>,
    cursor: usize,
    metric: usize,
}

impl EvalScreen {
    fn reload(&mut self, ctx: &Ctx) -> Action {
        match ctx.store.all::<EvalRun>() {
            Ok(mut runs) => {
                runs.reverse();
                self.runs = runs;
                self.cursor = self.cursor.min(self.runs.len().saturating_sub(1));
                Action::None
            }
            Err(e) => Action::Message(format!("cannot read the evaluations: {e}")),
        }
    }

    /// The metrics the selected run has, in the task's order.
    fn metrics(&self) -> Vec<&'static str> {
        let Some(run) = self.runs.get(self.cursor) else {
            return Vec::new();
        };
        metric_names(run.task)
            .iter()
            .copied()
            .filter(|m| run.results.iter().any(|r| r.metrics.contains_key(*m)))
            .collect()
    }
}

impl Screen for EvalScreen {
    type Cmd = Cmd;

    fn id(&self) -> ScreenId {
        ScreenId::Eval
    }

    fn bindings(&self) -> &'static [Binding<Cmd>] {
        KEYS
    }

    fn start(&mut self, ctx: &mut Ctx) {
        let _ = self.reload(ctx);
    }

    fn run(&mut self, cmd: Cmd, _key: KeyEvent, ctx: &mut Ctx) -> Action {
        let metrics = self.metrics().len().max(1);
        match cmd {
            Cmd::Down => self.cursor = (self.cursor + 1).min(self.runs.len().saturating_sub(1)),
            Cmd::Up => self.cursor = self.cursor.saturating_sub(1),
            Cmd::NextMetric => self.metric = (self.metric + 1) % metrics,
            Cmd::PrevMetric => self.metric = (self.metric + metrics - 1) % metrics,
            Cmd::Reload => return self.reload(ctx),
        }
        Action::None
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let [list_area, right] =
            Layout::horizontal([Constraint::Length(30), Constraint::Min(30)]).areas(area);
        let items: Vec<ListItem> = self
            .runs
            .iter()
            .map(|r| {
                ListItem::new(Line::from(vec![
                    Span::styled(format!("#{} ", r.id), Style::new().dim()),
                    Span::raw(format!("{} ", r.task)),
                    Span::styled(format!("{} items", r.items), Style::new().dim()),
                ]))
            })
            .collect();
        let list = List::new(items)
            .block(Block::bordered().title(format!(" evaluations ({}) ", self.runs.len())))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state =
            ListState::default().with_selected((!self.runs.is_empty()).then_some(self.cursor));
        frame.render_stateful_widget(list, list_area, &mut state);

        let Some(run) = self.runs.get(self.cursor) else {
            frame.render_widget(
                Paragraph::new(
                    "No evaluation yet. Run one from the shell, for example:\n  logreasoner eval \
                     --task anomaly_detection --data assets/datasets/loglm/dev.jsonl",
                )
                .style(Style::new().dim())
                .wrap(Wrap { trim: false })
                .block(Block::bordered()),
                right,
            );
            return;
        };
        let metrics = self.metrics();
        let rows = run.results.len() as u16;
        let [table_area, note_area, chart_area] = Layout::vertical([
            Constraint::Length(rows + 4),
            Constraint::Length(3),
            Constraint::Min(6),
        ])
        .areas(right);
        let mut header: Vec<String> = vec!["variant".into()];
        header.extend(metrics.iter().map(|m| m.to_string()));
        header.extend(["unparsed".into(), "latency".into()]);
        let body: Vec<Row> = run
            .results
            .iter()
            .map(|r| {
                let mut cells = vec![r.variant.clone()];
                cells.extend(metrics.iter().map(|m| {
                    r.metrics
                        .get(*m)
                        .map_or("-".to_string(), |v| format!("{v:.3}"))
                }));
                cells.push(format!("{}/{}", r.unparsed, r.items));
                cells.push(format!("{:.0} ms", r.mean_latency_ms));
                Row::new(cells)
            })
            .collect();
        let mut widths = vec![Constraint::Min(15)];
        widths.extend(metrics.iter().map(|_| Constraint::Length(9)));
        widths.extend([Constraint::Length(8), Constraint::Length(9)]);
        let table = Table::new(body, widths)
            .header(Row::new(header).style(Style::new().fg(Color::Cyan)))
            .block(Block::bordered().title(format!(
                " #{} {} · {} · {} items · ≤{} tokens · {} ",
                run.id,
                run.task,
                run.data.rsplit('/').next().unwrap_or(&run.data),
                run.items,
                run.max_tokens,
                logreasoner_core::time::format_utc(run.created_at)
            )));
        frame.render_widget(table, table_area);
        frame.render_widget(
            Paragraph::new(run.note.clone())
                .wrap(Wrap { trim: true })
                .style(Style::new().dim()),
            note_area,
        );
        let Some(metric) = metrics.get(self.metric.min(metrics.len().saturating_sub(1))) else {
            return;
        };
        let bars: Vec<Bar> = run
            .results
            .iter()
            .map(|r| {
                let v = r.metrics.get(*metric).copied().unwrap_or(0.0);
                Bar::default()
                    .label(Line::from(r.variant.clone()))
                    .value((v * 1000.0).round() as u64)
                    .text_value(format!("{v:.3}"))
            })
            .collect();
        let chart = BarChart::default()
            .block(Block::bordered().title(format!(" {metric} (Tab: next metric) ")))
            .data(BarGroup::default().bars(&bars))
            .bar_width(16)
            .bar_gap(3)
            .max(1000)
            .bar_style(Style::new().fg(Color::Cyan))
            .value_style(Style::new().fg(Color::Black).bg(Color::Cyan));
        frame.render_widget(chart, chart_area);
    }
}
