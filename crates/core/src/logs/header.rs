//! What a parsed line's header holds ([`Header`]) and the severity scale ([`Level`]), shared by the
//! text formats (`logs::format`) and the structured ones (`logs::structured`).

use std::sync::OnceLock;

use regex::Regex;

/// Severity, from the header when the format has one, else inferred from words in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Finest tracing detail (`trace`, `verbose`).
    Trace,
    /// Debugging detail (`debug`, `dbg`).
    Debug,
    /// Routine information.
    Info,
    /// A normal but noteworthy event (syslog's `notice`).
    Notice,
    /// Something unexpected that did not fail (warnings, timeouts, retries).
    Warn,
    /// An operation failed.
    Error,
    /// A failure that can stop a component (`fatal`, `critical`, `panic`, `emerg`).
    Fatal,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 7] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Notice,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// A syslog severity (0 emergency … 7 debug), as priorities and journald's `PRIORITY` carry
    /// it; a priority's low three bits.
    pub fn from_syslog_severity(severity: u32) -> Level {
        match severity {
            0..=2 => Level::Fatal,
            3 => Level::Error,
            4 => Level::Warn,
            5 => Level::Notice,
            6 => Level::Info,
            _ => Level::Debug,
        }
    }

    /// The level a header word names (`warn`, `E`, `crit`), ignoring case; `None` for other words.
    pub fn parse(text: &str) -> Option<Level> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "trace" | "v" | "verbose" => Level::Trace,
            "debug" | "d" | "dbg" => Level::Debug,
            "info" | "i" | "information" => Level::Info,
            "notice" => Level::Notice,
            "warn" | "warning" | "w" => Level::Warn,
            "error" | "err" | "e" | "severe" | "failure" => Level::Error,
            "fatal" | "f" | "crit" | "critical" | "alert" | "emerg" | "panic" | "failed" => {
                Level::Fatal
            }
            _ => return None,
        })
    }

    /// The upper-case name, e.g. `WARN`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Notice => "NOTICE",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// A guess from the message when the header has no level: the strongest word wins. Only the
    /// first `HEADER_WINDOW` bytes are read: a level word sits near the start, and Unicode word
    /// boundaries make the regex engine slow on a very long line.
    pub fn infer(content: &str) -> Option<Level> {
        let content = &content[..floor_char_boundary(content, HEADER_WINDOW)];
        static WORDS: OnceLock<[(Regex, Level); 3]> = OnceLock::new();
        let words = WORDS.get_or_init(|| {
            let re = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("level pattern {p}: {e}"));
            [
                (re(r"(?i)\b(fatal|panic|critical|emergency)\b"), Level::Fatal),
                (re(r"(?i)\b(error|errors|failed|failure|exception|refused|denied|cannot|unable)\b"), Level::Error),
                (re(r"(?i)\b(warn|warning|timed out|timeout|retrying)\b"), Level::Warn),
            ]
        });
        words
            .iter()
            .find(|(re, _)| re.is_match(content))
            .map(|(_, l)| *l)
    }
}

/// One parsed line. Fields borrow from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The time as written, from its first to its last time field; `None` when the line has none.
    pub timestamp: Option<&'a str>,
    /// The severity, from the header or inferred from the message; `None` when neither gives one.
    pub level: Option<Level>,
    /// Whether `level` came from the header (true) or was inferred from the message.
    pub level_from_header: bool,
    /// The component or program that wrote the line, when the format names one.
    pub component: Option<&'a str>,
    /// The message after the header (the whole line when the format has no header).
    pub content: &'a str,
}

/// Bytes of a line that header parsing and level guessing look at.
pub const HEADER_WINDOW: usize = 4096;

/// The largest character boundary of `text` at or below `at`.
pub(crate) fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}
