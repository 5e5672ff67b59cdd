//! A multi-line text editor for inline edits (thoughts, solutions): lines of [`TextInput`], Enter
//! splits, Backspace at a line's start joins, arrows move between lines.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::input::TextInput;

#[derive(Debug, Clone, Default)]
pub struct TextArea {
    lines: Vec<TextInput>,
    row: usize,
}

impl TextArea {
    pub fn new(text: &str) -> TextArea {
        let mut lines: Vec<TextInput> = text.split('\n').map(TextInput::new).collect();
        if lines.is_empty() {
            lines.push(TextInput::default());
        }
        let row = lines.len() - 1;
        TextArea { lines, row }
    }

    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The cursor's line, for scrolling.
    pub fn row(&self) -> usize {
        self.row
    }

    /// The lines with the cursor marked on its line.
    pub fn rendered(&self) -> Vec<String> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if i == self.row {
                    l.with_cursor()
                } else {
                    l.text().to_string()
                }
            })
            .collect()
    }

    /// Applies an editing key; false for keys it leaves to the caller (Esc, Ctrl-S, …).
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Enter => {
                let rest = self.lines[self.row].split_off();
                self.row += 1;
                let mut next = TextInput::new(rest);
                next.set_cursor(0);
                self.lines.insert(self.row, next);
                true
            }
            KeyCode::Backspace if self.lines[self.row].cursor() == 0 && self.row > 0 => {
                let line = self.lines.remove(self.row);
                self.row -= 1;
                let prev = &mut self.lines[self.row];
                let at = prev.text().chars().count();
                prev.push_str(line.text());
                prev.set_cursor(at);
                true
            }
            KeyCode::Up | KeyCode::Down => {
                let col = self.lines[self.row].cursor();
                self.row = if key.code == KeyCode::Up {
                    self.row.saturating_sub(1)
                } else {
                    (self.row + 1).min(self.lines.len() - 1)
                };
                self.lines[self.row].set_cursor(col);
                true
            }
            _ => self.lines[self.row].handle(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{press, press_char};

    #[test]
    fn lines_split_join_and_move() {
        let mut t = TextArea::new("1. check\nAnswer: normal");
        t.handle(press(KeyCode::Up));
        t.handle(press(KeyCode::End));
        t.handle(press(KeyCode::Enter));
        for c in "2. more".chars() {
            t.handle(press_char(c));
        }
        assert_eq!(t.text(), "1. check\n2. more\nAnswer: normal");
        t.handle(press(KeyCode::Home));
        t.handle(press(KeyCode::Backspace));
        assert_eq!(t.text(), "1. check2. more\nAnswer: normal");
        t.handle(press(KeyCode::Down));
        assert_eq!(t.row(), 1);
        assert!(!t.handle(press(KeyCode::Esc)));
    }
}
