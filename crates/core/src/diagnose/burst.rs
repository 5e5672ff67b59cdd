//! Statistical evidence for windows no chart explains: an error burst, a window whose share of
//! error lines is far above its own file's. A diagnosis where no chart concluded is then never a
//! bare "normal" while the window is full of errors.

use serde::{Deserialize, Serialize};

use crate::logs::format::{self, Format, Level};
use crate::logs::index::LogFile;
use crate::logs::source::LogSource;

/// Fewest error lines that make a burst (one or two errors are noise in any busy log).
pub const MIN_ERRORS: usize = 3;
/// How many times the rest of the file's error share a window's must be.
pub const RATIO: f64 = 3.0;
/// Most lines counted for a baseline on each side of the window.
pub const FILE_LINES: usize = 200_000;
/// Fewest baseline lines a comparison needs; a window that is most of its file has no baseline.
pub const MIN_BASELINE: usize = 50;
/// Most error lines a burst cites.
const MAX_CITED: usize = 20;

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
        let before = first.saturating_sub(1).min(log.len());
        let after = last.min(log.len());
        let lines = (before.saturating_sub(FILE_LINES)..before)
            .chain(after..(after + FILE_LINES).min(log.len()));
        Baseline::of(lines.map(|i| log.line(i)), format)
    }

    /// The error lines of an open source outside the window `first..=last` (1-based), from its
    /// analysed lines' levels, bounded like [`Baseline::around`].
    pub fn around_source(source: &LogSource, first: usize, last: usize) -> Self {
        let known = source.facts.level.len();
        let before = first.saturating_sub(1).min(known);
        let after = last.min(known);
        let mut b = Baseline::default();
        for i in (before.saturating_sub(FILE_LINES)..before)
            .chain(after..(after + FILE_LINES).min(known))
        {
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

/// A window whose error share is at least [`RATIO`] times the rest of its file's, with at least
/// [`MIN_ERRORS`] error lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    /// The window's error lines (1-based numbers in the source), at most 20, first ones first.
    pub lines: Vec<usize>,
    /// How many error lines the window has.
    pub errors: usize,
    /// The window's error lines per line.
    pub window_rate: f64,
    /// The rest of the file's error lines per line.
    pub file_rate: f64,
}

impl Burst {
    /// The burst in a sentence, for a verdict's next steps.
    pub fn describe(&self) -> String {
        format!(
            "{} error lines in this window ({:.0}% of its lines) against {:.1}% in the rest of \
             the file, and no chart explains them: read the cited lines, find the first failure, \
             and write a chart for it if it recurs.",
            self.errors,
            self.window_rate * 100.0,
            self.file_rate * 100.0
        )
    }
}

fn is_error(line: &str, format: Option<&Format>) -> bool {
    format::parse_line(format, line)
        .level
        .is_some_and(|l| l >= Level::Error)
}

/// The burst in `lines` (numbered from `first_line`) against `file`, if there is one.
pub fn detect(
    lines: &[String],
    first_line: usize,
    format: Option<&Format>,
    file: Baseline,
) -> Option<Burst> {
    let errors: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| is_error(l, format))
        .map(|(i, _)| first_line + i)
        .collect();
    if errors.len() < MIN_ERRORS || lines.is_empty() || file.lines < MIN_BASELINE {
        return None;
    }
    let window_rate = errors.len() as f64 / lines.len() as f64;
    let file_rate = file.rate();
    if window_rate < RATIO * file_rate {
        return None;
    }
    Some(Burst {
        errors: errors.len(),
        lines: errors.into_iter().take(MAX_CITED).collect(),
        window_rate,
        file_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(level: &str, msg: &str) -> String {
        format!(r#"{{"time":"2026-12-03T10:00:00Z","level":"{level}","msg":"{msg}"}}"#)
    }

    #[test]
    fn a_window_of_errors_in_a_quiet_file_is_a_burst_and_the_same_share_is_not() {
        let quiet: Vec<String> = (0..300)
            .map(|i| json("info", &format!("served {i}")))
            .collect();
        let mut window: Vec<String> = (0..20)
            .map(|i| json("info", &format!("served {i}")))
            .collect();
        for i in [4, 9, 10, 15] {
            window[i] = json("error", "payment provider answered 502");
        }
        let fmt = format::detect(&window);
        let file = Baseline::of(&quiet, fmt);
        let burst = detect(&window, 101, fmt, file).expect("burst");
        assert_eq!(burst.lines, [105, 110, 111, 116]);
        assert!(burst.window_rate > 3.0 * burst.file_rate);
        // A file that errs as often everywhere has no burst in this window.
        let noisy = Baseline {
            lines: 100,
            errors: 20,
        };
        assert_eq!(detect(&window, 101, fmt, noisy), None);
        // Nor is a file too short to have a baseline outside the window.
        assert_eq!(
            detect(
                &window,
                101,
                fmt,
                Baseline {
                    lines: 20,
                    errors: 0
                }
            ),
            None
        );
        // Two errors are not enough, however quiet the file.
        assert_eq!(
            detect(
                &window[..10],
                101,
                fmt,
                Baseline {
                    lines: 1000,
                    errors: 2
                }
            ),
            None
        );
    }

    #[test]
    fn levels_come_from_the_header_or_the_message() {
        let plain = ["ERROR db write failed", "all fine", "FATAL cannot start"];
        assert_eq!(
            Baseline::of(plain, None),
            Baseline {
                lines: 3,
                errors: 2
            }
        );
    }
}
