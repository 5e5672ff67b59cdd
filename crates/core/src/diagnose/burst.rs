//! Statistical evidence for windows no chart explains: an error burst, a window whose share of
//! error lines is far above its own file's. A diagnosis where no chart concluded is then never a
//! bare "normal" while the window is full of errors.

use serde::{Deserialize, Serialize};

use crate::logs::format::Format;

use crate::logs::errors::error_lines;
pub use crate::logs::errors::{Baseline, FILE_LINES, MIN_BASELINE, MIN_ERRORS};

/// How many times the rest of the file's error share a window's must be.
pub const RATIO: f64 = 3.0;
/// Most error lines a burst cites.
const MAX_CITED: usize = 20;

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

/// The burst in `lines` (numbered from `first_line`) against `file`, if there is one.
pub fn detect(
    lines: &[String],
    first_line: usize,
    format: Option<&Format>,
    file: Baseline,
) -> Option<Burst> {
    let errors = error_lines(
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| (first_line + i, l.as_str())),
        format,
    );
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
    use crate::logs::format;

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
