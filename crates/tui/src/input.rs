//! A single-line text input with a cursor, for the prompt and inline editors.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    /// Cursor as a char index.
    cursor: usize,
}

impl TextInput {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let cursor = text.chars().count();
        TextInput { text, cursor }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Moves the cursor to a char index (clamped to the text).
    pub fn set_cursor(&mut self, at: usize) {
        self.cursor = at.min(self.text.chars().count());
    }

    /// Splits at the cursor: keeps the text before it, returns the text after it.
    pub fn split_off(&mut self) -> String {
        let at = self.byte(self.cursor);
        self.text.split_off(at)
    }

    /// Appends text, leaving the cursor where it is.
    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn byte(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Applies an editing key; returns false for keys it does not handle (Enter, Esc, Tab, …).
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return match key.code {
                KeyCode::Char('a') => {
                    self.cursor = 0;
                    true
                }
                KeyCode::Char('e') => {
                    self.cursor = self.text.chars().count();
                    true
                }
                KeyCode::Char('u') => {
                    let at = self.byte(self.cursor);
                    self.text.replace_range(..at, "");
                    self.cursor = 0;
                    true
                }
                KeyCode::Char('w') => {
                    // The word before the cursor, and the spaces after it.
                    let chars: Vec<char> = self.text.chars().collect();
                    let mut from = self.cursor;
                    while from > 0 && chars[from - 1].is_whitespace() {
                        from -= 1;
                    }
                    while from > 0 && !chars[from - 1].is_whitespace() {
                        from -= 1;
                    }
                    let (a, b) = (self.byte(from), self.byte(self.cursor));
                    self.text.replace_range(a..b, "");
                    self.cursor = from;
                    true
                }
                _ => false,
            };
        }
        match key.code {
            KeyCode::Char(c) => {
                let at = self.byte(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let at = self.byte(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }

    /// The text with a visible cursor mark, for rendering.
    pub fn with_cursor(&self) -> String {
        let at = self.byte(self.cursor);
        format!("{}▏{}", &self.text[..at], &self.text[at..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{press, press_char};

    #[test]
    fn edits_in_the_middle_of_multibyte_text() {
        let mut input = TextInput::new("naïve");
        input.handle(press(KeyCode::Left));
        input.handle(press(KeyCode::Left));
        input.handle(press(KeyCode::Backspace));
        input.handle(press_char('i'));
        assert_eq!(input.text(), "naive");
        assert_eq!(input.with_cursor(), "nai▏ve");
        assert!(!input.handle(press(KeyCode::Enter)));
        input.handle(press(KeyCode::Home));
        input.handle(press(KeyCode::Delete));
        assert_eq!(input.text(), "aive");
    }

    #[test]
    fn ctrl_w_deletes_the_word_before_the_cursor_and_ctrl_u_the_line_before_it() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        let mut input = TextInput::new("batch 4u1  ");
        assert!(input.handle(ctrl('w')));
        assert_eq!(input.text(), "batch ");
        input.handle(ctrl('w'));
        assert_eq!(input.text(), "");
        let mut input = TextInput::new("abc def");
        input.handle(press(KeyCode::Left));
        input.handle(ctrl('u'));
        assert_eq!((input.text(), input.cursor()), ("f", 0));
    }
}
