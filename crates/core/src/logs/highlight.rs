//! Syntax highlighting of log lines with syntect, using the syntax definition and theme shipped in
//! `assets/syntax/` (compiled into the binary). Each line is highlighted on its own, and only the lines
//! on screen are ever highlighted.

use std::io::Cursor;
use std::sync::OnceLock;

use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, Theme, ThemeSet};
use syntect::parsing::{SyntaxDefinition, SyntaxSet, SyntaxSetBuilder};

const SYNTAX: &str = include_str!("../../../../assets/syntax/log.sublime-syntax");
const THEME: &[u8] = include_bytes!("../../../../assets/syntax/log.tmTheme");

/// A colour and emphasis for a piece of a line, independent of the UI toolkit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Foreground colour as red, green, blue.
    pub rgb: (u8, u8, u8),
    /// Bold text.
    pub bold: bool,
    /// Italic text.
    pub italic: bool,
    /// Underlined text.
    pub underline: bool,
}

/// The log syntax and theme, ready to highlight lines; [`Highlighter::shared`] is the usual one.
pub struct Highlighter {
    syntaxes: SyntaxSet,
    theme: Theme,
}

impl Highlighter {
    /// The shipped syntax and theme; `None` only if the assets are broken (a test guards that).
    pub fn shared() -> Option<&'static Highlighter> {
        static SHARED: OnceLock<Option<Highlighter>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                Highlighter::load()
                    .map_err(|e| tracing::error!(error = %e, "log highlighting off"))
                    .ok()
            })
            .as_ref()
    }

    /// Compiles the shipped syntax and theme; the error names the one that is broken.
    pub fn load() -> Result<Highlighter, String> {
        let def = SyntaxDefinition::load_from_str(SYNTAX, true, None)
            .map_err(|e| format!("log syntax: {e}"))?;
        let mut builder = SyntaxSetBuilder::new();
        builder.add(def);
        let syntaxes = builder.build();
        let theme = ThemeSet::load_from_reader(&mut Cursor::new(THEME))
            .map_err(|e| format!("log theme: {e}"))?;
        Ok(Highlighter { syntaxes, theme })
    }

    /// The line split into styled pieces that cover it exactly.
    pub fn highlight<'a>(&self, line: &'a str) -> Vec<(Style, &'a str)> {
        let plain = || {
            vec![(
                Style {
                    rgb: (208, 208, 208),
                    bold: false,
                    italic: false,
                    underline: false,
                },
                line,
            )]
        };
        let Some(syntax) = self.syntaxes.syntaxes().first() else {
            return plain();
        };
        let mut h = HighlightLines::new(syntax, &self.theme);
        match h.highlight_line(line, &self.syntaxes) {
            Ok(pieces) => pieces
                .into_iter()
                .map(|(s, text)| {
                    let style = Style {
                        rgb: (s.foreground.r, s.foreground.g, s.foreground.b),
                        bold: s.font_style.contains(FontStyle::BOLD),
                        italic: s.font_style.contains(FontStyle::ITALIC),
                        underline: s.font_style.contains(FontStyle::UNDERLINE),
                    };
                    (style, text)
                })
                .collect(),
            Err(_) => plain(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style_of(h: &Highlighter, line: &str, token: &str) -> Style {
        let pieces = h.highlight(line);
        assert_eq!(
            pieces.iter().map(|p| p.1).collect::<String>(),
            line,
            "pieces cover the line"
        );
        pieces
            .iter()
            .find(|(_, t)| *t == token)
            .or_else(|| pieces.iter().find(|(_, t)| t.contains(token)))
            .map(|p| p.0)
            .unwrap_or_else(|| panic!("{token} not in {pieces:?}"))
    }

    #[test]
    fn tokens_get_their_styles() {
        let h = Highlighter::load().expect("shipped assets load");
        let line = r#"2015-10-18 18:01:47,978 ERROR [main] Connection to 10.190.173.170:8030 failed for blk_-42 at /data/hdfs/dn: java.net.ConnectException: "refused" after 3 tries"#;
        let error = style_of(&h, line, "ERROR");
        assert_eq!(error.rgb, (0xFF, 0x5F, 0x5F));
        assert!(error.bold);
        assert_eq!(style_of(&h, line, "2015-10-18").rgb, (0x5F, 0xAF, 0xD7));
        assert_eq!(style_of(&h, line, "10.190.173.170").rgb, (0xAF, 0x87, 0xFF));
        assert_eq!(style_of(&h, line, "blk_-42").rgb, (0x87, 0xAF, 0xAF));
        assert_eq!(style_of(&h, line, "/data/hdfs/dn").rgb, (0x87, 0xD7, 0xAF));
        assert_eq!(
            style_of(&h, line, "ConnectException").rgb,
            (0xFF, 0x87, 0xAF)
        );
        assert_eq!(style_of(&h, line, "\"refused\"").rgb, (0xD7, 0xAF, 0x5F));
        assert_eq!(style_of(&h, line, "3").rgb, (0xAF, 0xD7, 0xFF));
        assert_eq!(style_of(&h, line, "Connection").rgb, (0xD0, 0xD0, 0xD0));
        let warn = style_of(
            &h,
            "17/06/09 20:10:40 WARN storage.BlockManager: slow",
            "WARN",
        );
        assert_eq!(warn.rgb, (0xFF, 0xAF, 0x00));
        let frame = style_of(&h, "\tat org.apache.Foo.bar(Foo.java:42)", "org.apache");
        assert!(frame.italic);
    }
}
