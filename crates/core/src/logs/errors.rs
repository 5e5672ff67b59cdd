//! Error lines as a statistic: how many lines of a stretch of a log are at level error or worse,
//! so a window can be compared with the rest of its file (the diagnosis's error-burst rule and
//! the charts' `error_rate` check).

use super::format::{self, Format, Level};
use super::index::LogFile;
use super::source::LogSource;

/// Fewest error lines that make a burst (one or two errors are noise in any busy log).
pub const MIN_ERRORS: usize = 3;
/// Most lines counted for a baseline on each side of the window.
pub const FILE_LINES: usize = 200_000;
/// Fewest baseline lines a comparison needs; a window that is most of its file has no baseline.
pub const MIN_BASELINE: usize = 50;

/// The error lines of a stretch of a log (the file the window comes from), for comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Baseline {
    /// Lines counted.
    pub lines: usize,
    /// Of those, lines at level error or worse (from the header, else inferred from the message).
    pub errors: usize,
}

impl Baseline {
    /// Counts the error lines of `lines`, read with `format` (whole lines when `None`).
    pub fn of<S: AsRef<str>>(lines: impl IntoIterator<Item = S>, format: Option<&Format>) -> Self {
        let mut b = Baseline::default();
        for line in lines {
            b.lines += 1;
            b.errors += usize::from(is_error(line.as_ref(), format));
        }
        b
    }

    /// Counts the error lines of `log` outside the window `first..=last` (1-based): up to
    /// [`FILE_LINES`] lines before it and as many after, so a huge file costs a bounded pass and
    /// the window is compared with the rest of its file, not with itself.
    pub fn around(log: &LogFile, first: usize, last: usize, format: Option<&Format>) -> Self {
        let (before, after) = outside(first, last, log.len());
        Baseline::of(before.chain(after).map(|i| log.line(i)), format)
    }

    /// The error lines of an open source outside the window `first..=last` (1-based), from its
    /// analysed lines' levels, bounded like [`Baseline::around`].
    pub fn around_source(source: &LogSource, first: usize, last: usize) -> Self {
        let (before, after) = outside(first, last, source.facts.level.len());
        let mut b = Baseline::default();
        for i in before.chain(after) {
            b.lines += 1;
            b.errors += usize::from(source.facts.level(i).is_some_and(|l| l >= Level::Error));
        }
        b
    }

    /// Error lines per line, 0 for no lines.
    pub fn rate(&self) -> f64 {
        if self.lines == 0 {
            0.0
        } else {
            self.errors as f64 / self.lines as f64
        }
    }
}

/// The 0-based lines a window `first..=last` (1-based) of a `len`-line log is compared with: up
/// to [`FILE_LINES`] before it and as many after it.
pub fn outside(
    first: usize,
    last: usize,
    len: usize,
) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let before = first.saturating_sub(1).min(len);
    let after = last.min(len);
    (
        before.saturating_sub(FILE_LINES)..before,
        after..(after + FILE_LINES).min(len),
    )
}

/// Whether `line`, read with `format` (whole line when `None`), is at level error or worse.
pub fn is_error(line: &str, format: Option<&Format>) -> bool {
    format::parse_line(format, line)
        .level
        .is_some_and(|l| l >= Level::Error)
}

/// The numbers of the error lines among `lines` (number, text), in order.
pub fn error_lines<'a>(
    lines: impl IntoIterator<Item = (usize, &'a str)>,
    format: Option<&Format>,
) -> Vec<usize> {
    lines
        .into_iter()
        .filter(|(_, l)| is_error(l, format))
        .map(|(n, _)| n)
        .collect()
}
