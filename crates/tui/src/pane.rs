//! A text pane for log lines and model text that scrolls down and sideways or wraps: the Label and
//! review screens use it, and the Diagnose window (which scrolls by whole lines and follows the
//! evidence); the Logs screen keeps its own, which follows a cursor. Sideways scrolling moves the
//! text, never the line numbers.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// Characters of a log line a pane keeps (a 10 MB line must not be laid out whole).
pub const MAX_LINE_CHARS: usize = 2000;

/// Columns one `>` or `<` moves.
pub const SIDE_STEP: usize = 16;

/// What a pane key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneMove {
    /// One row down.
    Down,
    /// One row up.
    Up,
    /// [`SIDE_STEP`] columns right (unwrapped only).
    Right,
    /// [`SIDE_STEP`] columns left.
    Left,
    /// Wrap on or off.
    Wrap,
}

/// Where a pane is scrolled and whether it wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPane {
    /// First row shown (clamped to the text when drawn).
    pub scroll: usize,
    /// Columns of text hidden on the left when not wrapping.
    pub hscroll: usize,
    /// Long lines wrap (the default) or are cut at the edge.
    pub wrap: bool,
}

impl Default for TextPane {
    fn default() -> TextPane {
        TextPane {
            scroll: 0,
            hscroll: 0,
            wrap: true,
        }
    }
}

impl TextPane {
    /// Back to the top and the first column, for new content; the wrap choice stays.
    pub fn reset(&mut self) {
        self.scroll = 0;
        self.hscroll = 0;
    }

    /// Applies `m`; the message line's text where the key changed how `what` is shown.
    pub fn apply(&mut self, m: PaneMove, what: &str) -> Option<String> {
        match m {
            PaneMove::Down => self.scroll = self.scroll.saturating_add(1),
            PaneMove::Up => self.scroll = self.scroll.saturating_sub(1),
            PaneMove::Right if self.wrap => {
                return Some(format!("{what}: lines are wrapped (z unwraps)"))
            }
            PaneMove::Right => self.hscroll += SIDE_STEP,
            PaneMove::Left => self.hscroll = self.hscroll.saturating_sub(SIDE_STEP),
            PaneMove::Wrap => {
                self.wrap = !self.wrap;
                self.hscroll = 0;
                let how = if self.wrap {
                    "wrapped"
                } else {
                    "cut at the edge (> and < scroll sideways)"
                };
                return Some(format!("{what}: lines {how}"));
            }
        }
        None
    }

    /// `text` cut by the sideways scroll (nothing cut when wrapping).
    pub fn shift(&self, text: &str) -> String {
        if self.wrap {
            text.to_string()
        } else {
            text.chars().skip(self.hscroll).collect()
        }
    }

    /// A log line with its number, the text shifted sideways.
    pub fn numbered(&self, n: usize, text: &str, max_chars: usize) -> Line<'static> {
        let cut: String = text.chars().take(max_chars).collect();
        Line::from(vec![
            Span::styled(format!("{n:>3} "), Style::new().fg(Color::DarkGray)),
            Span::raw(self.shift(&cut)),
        ])
    }

    /// Model text as lines, shifted sideways.
    pub fn text_lines(&self, text: &str) -> Vec<Line<'static>> {
        text.lines().map(|l| Line::raw(self.shift(l))).collect()
    }

    /// Screen rows `lines` take in a pane `width` columns wide (inside its border).
    pub fn rows(&self, lines: &[Line], width: u16) -> usize {
        let inner = usize::from(width).max(1);
        lines
            .iter()
            .map(|l| {
                if self.wrap {
                    word_wrapped_rows(&l.to_string(), inner)
                } else {
                    1
                }
            })
            .sum()
    }

    /// Keeps the scroll within `rows` rows of text in `area` (bordered: two rows and columns go
    /// to the border), so a key pressed past the end does not have to be undone.
    pub fn clamp(&mut self, rows: usize, area: Rect) {
        let visible = usize::from(area.height.saturating_sub(2));
        self.scroll = self.scroll.min(rows.saturating_sub(visible));
    }

    /// `lines` as a paragraph for `area`, scrolled no further than their last row.
    pub fn paragraph(&mut self, lines: Vec<Line<'static>>, area: Rect) -> Paragraph<'static> {
        self.clamp(self.rows(&lines, area.width.saturating_sub(2)), area);
        self.shown(lines)
    }

    /// `lines` as a paragraph at the current scroll, as it is.
    pub fn shown(&self, lines: Vec<Line<'static>>) -> Paragraph<'static> {
        let p = Paragraph::new(lines).scroll((u16::try_from(self.scroll).unwrap_or(u16::MAX), 0));
        if self.wrap {
            p.wrap(Wrap { trim: false })
        } else {
            p
        }
    }

    /// The pane title's prefix saying where it is scrolled sideways ("" at column 1).
    pub fn column_note(&self) -> String {
        if self.wrap || self.hscroll == 0 {
            String::new()
        } else {
            format!(" from column {} ·", self.hscroll + 1)
        }
    }
}

/// Rows `text` takes when wrapped at word boundaries in `width` columns (a word longer than the
/// width is broken), as the paragraph wraps it; never fewer than a plain division.
fn word_wrapped_rows(text: &str, width: usize) -> usize {
    let width = width.max(1);
    let (mut rows, mut col) = (1, 0);
    for word in text.split(' ') {
        let w = word.chars().count();
        let need = if col == 0 { w } else { col + 1 + w };
        if need <= width {
            col = need;
        } else if w <= width {
            rows += 1;
            col = w;
        } else {
            // A long word starts on its own row and is cut into full rows.
            if col > 0 {
                rows += 1;
            }
            rows += (w - 1) / width;
            col = w - (w - 1) / width * width;
        }
    }
    rows.max(text.chars().count().div_ceil(width)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sideways_scrolling_needs_the_wrap_off_and_keeps_line_numbers() {
        let mut pane = TextPane::default();
        assert!(pane
            .apply(PaneMove::Right, "x")
            .is_some_and(|m| m.contains("z unwraps")));
        assert_eq!(pane.hscroll, 0);
        pane.apply(PaneMove::Wrap, "x");
        pane.apply(PaneMove::Right, "x");
        assert_eq!(pane.hscroll, SIDE_STEP);
        let text = format!("{}message", "-".repeat(SIDE_STEP));
        let line = pane.numbered(7, &text, 300);
        assert_eq!(line.to_string(), "  7 message");
        pane.apply(PaneMove::Left, "x");
        pane.apply(PaneMove::Left, "x");
        assert_eq!(pane.hscroll, 0);
        // Wrapping again starts at column 1.
        pane.apply(PaneMove::Right, "x");
        pane.apply(PaneMove::Wrap, "x");
        assert_eq!((pane.wrap, pane.hscroll), (true, 0));
    }

    #[test]
    fn wrapped_rows_count_words_carried_to_the_next_row() {
        assert_eq!(word_wrapped_rows("", 10), 1);
        assert_eq!(word_wrapped_rows("aaaa bbbb", 10), 1);
        // "aaaa bbbb c" is 11 columns: `c` goes to a second row.
        assert_eq!(word_wrapped_rows("aaaa bbbb c", 10), 2);
        // Six-letter words, two never fit one 10-column row.
        assert_eq!(word_wrapped_rows("aaaaaa bbbbbb cccccc", 10), 3);
        assert_eq!(word_wrapped_rows(&"x".repeat(25), 10), 3);
    }

    #[test]
    fn the_scroll_stops_at_the_last_wrapped_row() {
        let mut pane = TextPane::default();
        // One 50-character line in a pane 10 columns wide inside its border: 5 rows; 3 visible.
        let lines = vec![Line::raw("x".repeat(50))];
        let area = Rect::new(0, 0, 12, 5);
        for _ in 0..10 {
            pane.apply(PaneMove::Down, "x");
        }
        let _ = pane.paragraph(lines.clone(), area);
        assert_eq!(pane.scroll, 2);
        // Unwrapped, the line is one row and nothing scrolls.
        pane.apply(PaneMove::Wrap, "x");
        let _ = pane.paragraph(lines, area);
        assert_eq!(pane.scroll, 0);
    }
}
