//! A screen whose feature is still an open issue: it says so in one line and binds no keys.

use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{Action, Ctx, Screen, ScreenId};
use crate::tui::keys::Binding;

#[derive(Debug, Clone, Copy)]
pub enum NoCmd {}

pub struct Placeholder {
    id: ScreenId,
    note: &'static str,
}

impl Placeholder {
    pub fn new(id: ScreenId, note: &'static str) -> Self {
        Placeholder { id, note }
    }
}

impl Screen for Placeholder {
    type Cmd = NoCmd;

    fn id(&self) -> ScreenId {
        self.id
    }

    fn bindings(&self) -> &'static [Binding<NoCmd>] {
        &[]
    }

    fn run(&mut self, cmd: NoCmd, _key: KeyEvent, _ctx: &mut Ctx) -> Action {
        match cmd {}
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let line = Paragraph::new(self.note).style(Style::new().dim());
        frame.render_widget(line, area.inner(ratatui::layout::Margin::new(1, 1)));
    }
}
