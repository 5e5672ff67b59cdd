//! The one sanitiser for text from users' data on its way to a terminal: log lines, chart text,
//! model output, file names in errors. A terminal obeys control characters in what it prints, so
//! a log line holding `ESC c` would clear the engineer's screen and one holding an OSC sequence
//! could retitle it or write to the clipboard. Controls become visible stand-ins instead; line
//! breaks and tabs stay, since the CLI's own layout uses them.

use std::borrow::Cow;
use std::io::{self, Write};

/// Whether `c` must not reach a terminal as it is: C0 controls but tab and newline, DEL, C1
/// controls (xterm obeys UTF-8-encoded CSI), and the bidirectional overrides and isolates that
/// make text display in another order than it reads.
fn is_unsafe(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The visible stand-in for an unsafe character: a C0 control's Unicode control picture (`␛` for
/// ESC), `␡` for DEL, `�` for the rest.
fn stand_in(c: char) -> char {
    match c {
        '\0'..='\x1f' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
        '\x7f' => '\u{2421}',
        _ => '\u{fffd}',
    }
}

/// The first character of `text` that may not reach a terminal, if any.
pub fn first_unsafe(text: &str) -> Option<char> {
    text.chars().find(|&c| is_unsafe(c))
}

/// `text` safe to print: every control but newline and tab replaced by a visible stand-in.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_unsafe(c) { stand_in(c) } else { c })
            .collect(),
    )
}

/// As [`for_terminal`], for one line shown in a screen: newlines and tabs become stand-ins too
/// (a tab's width is the terminal's choice, not the layout's).
pub fn for_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\t' => ' ',
                c if c.is_control() || is_unsafe(c) => stand_in(c),
                c => c,
            })
            .collect(),
    )
}

/// A writer that passes everything through [`for_terminal`]. Bytes that are not UTF-8 become `�`;
/// a character split across two writes is joined first.
pub struct SafeWriter<W: Write> {
    inner: W,
    /// The start of a UTF-8 character whose other bytes have not been written yet.
    pending: Vec<u8>,
}

impl<W: Write> SafeWriter<W> {
    /// Wraps `inner`, which receives the text made safe.
    pub fn new(inner: W) -> SafeWriter<W> {
        SafeWriter {
            inner,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for SafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(buf);
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.inner.write_all(for_terminal(text).as_bytes())?;
                    rest = &[];
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // The first `valid_up_to` bytes are UTF-8, so this cannot fail.
                    let text = std::str::from_utf8(good).unwrap_or_default();
                    self.inner.write_all(for_terminal(text).as_bytes())?;
                    match e.error_len() {
                        Some(n) => {
                            self.inner.write_all("\u{fffd}".as_bytes())?;
                            rest = &bad[n..];
                        }
                        // An incomplete character at the end: keep it for the next write.
                        None => {
                            self.pending = bad.to_vec();
                            rest = &[];
                        }
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for SafeWriter<W> {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.inner.write_all("\u{fffd}".as_bytes());
        }
        let _ = self.inner.flush();
    }
}

/// Standard output through the sanitiser: what every CLI command prints to.
pub fn stdout() -> SafeWriter<io::StdoutLock<'static>> {
    SafeWriter::new(io::stdout().lock())
}

/// `println!` through the sanitiser.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = writeln!($crate::safe_text::stdout(), $($arg)*);
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_and_layout_stays() {
        assert_eq!(for_terminal("plain\tline\n"), "plain\tline\n");
        assert!(matches!(for_terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(for_terminal("a\x1bcb"), "a\u{241b}cb");
        assert_eq!(for_terminal("bell\x07 del\x7f"), "bell\u{2407} del\u{2421}");
        assert_eq!(for_terminal("csi\u{9b}2J"), "csi\u{fffd}2J");
        assert_eq!(for_terminal("abc\u{202e}fed"), "abc\u{fffd}fed");
        assert_eq!(for_terminal("cr\rover"), "cr\u{240d}over");
        assert_eq!(for_line("tab\there\nnext"), "tab here\u{240a}next");
    }

    #[test]
    fn the_writer_joins_split_characters_and_marks_bad_bytes() {
        let mut out = Vec::new();
        {
            let mut w = SafeWriter::new(&mut out);
            let text = "é\x1b[2J ok\n".as_bytes();
            w.write_all(&text[..1]).expect("write");
            w.write_all(&text[1..]).expect("write");
            w.write_all(b"bad \xff byte\n").expect("write");
        }
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "é\u{241b}[2J ok\nbad \u{fffd} byte\n"
        );
    }
}
