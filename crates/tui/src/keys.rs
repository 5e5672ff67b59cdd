//! Key tables. Every screen declares its keys as data; dispatch and the `?` overlay both read the same
//! table, so help can never drift from what the keys do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One key, as a table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn ch(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: false,
        }
    }

    pub const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// Shift is part of the character for printable keys (`G` arrives as Shift+g), so it is ignored;
    /// Ctrl and Alt must match exactly.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        !alt && ctrl == self.ctrl && ev.code == self.code
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Backspace => "Backspace".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

/// A row of a key table: the keys, what they do (shown in help), and the command they run.
#[derive(Debug, Clone, Copy)]
pub struct Binding<C: 'static> {
    pub keys: &'static [Key],
    pub help: &'static str,
    pub cmd: C,
}

/// The command bound to `ev` in `table`, if any.
pub fn lookup<C: Copy>(table: &[Binding<C>], ev: &KeyEvent) -> Option<C> {
    table
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.cmd)
}

/// `j / ↓` for a binding's keys; a run of three or more consecutive digits or function keys
/// collapses to `1-8` or `F1-F8`.
pub fn keys_label(keys: &[Key]) -> String {
    let ordinal = |k: &Key| match (k.code, k.ctrl) {
        (KeyCode::Char(c), false) if c.is_ascii_digit() => Some((0u32, c as u32)),
        (KeyCode::F(n), false) => Some((1, u32::from(n))),
        _ => None,
    };
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i;
        while let (Some((kind, n)), Some(Some((next_kind, m)))) =
            (ordinal(&keys[j]), keys.get(j + 1).map(ordinal))
        {
            if kind != next_kind || m != n + 1 {
                break;
            }
            j += 1;
        }
        if j >= i + 2 {
            parts.push(format!("{}-{}", keys[i].label(), keys[j].label()));
            i = j + 1;
        } else {
            parts.push(keys[i].label());
            i += 1;
        }
    }
    parts.join(" / ")
}

/// Key event helpers for tests and the command prompt.
pub fn press(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn press_char(c: char) -> KeyEvent {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(KeyCode::Char(c), mods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_is_ignored_for_characters_but_ctrl_is_not() {
        assert!(Key::ch('G').matches(&press_char('G')));
        assert!(!Key::ch('c').matches(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(Key::ctrl('c').matches(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert_eq!(
            keys_label(&[Key::ch('j'), Key::code(KeyCode::Down), Key::ctrl('c')]),
            "j / ↓ / Ctrl-c"
        );
        let digits = [
            Key::ch('1'),
            Key::ch('2'),
            Key::ch('3'),
            Key::ch('5'),
            Key::ch('6'),
        ];
        assert_eq!(keys_label(&digits), "1-3 / 5 / 6");
        let f = [
            Key::code(KeyCode::F(1)),
            Key::code(KeyCode::F(2)),
            Key::code(KeyCode::F(3)),
        ];
        assert_eq!(keys_label(&f), "F1-F3");
    }
}
