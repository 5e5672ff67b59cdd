//! Line ranges of log files, as the CLI takes them (`--lines A..B`).

use std::path::Path;

use super::index::LogFile;

/// A 1-based inclusive line range, as given on the command line (`A..B`, `A..`, `..B`, `A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    /// First line, 1-based (1 when the range starts open, `..B`).
    pub first: usize,
    /// Last line, inclusive; `None` runs to the end of the file.
    pub last: Option<usize>,
}

impl std::str::FromStr for LineRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("`{s}` is not a line range; write A..B (1-based, inclusive), A.. or ..B");
        let num = |t: &str| -> Result<Option<usize>, String> {
            if t.is_empty() {
                Ok(None)
            } else {
                t.trim().parse::<usize>().map(Some).map_err(|_| bad())
            }
        };
        let (first, last) = match s.split_once("..") {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(s)?.ok_or_else(bad)?;
                (Some(n), Some(n))
            }
        };
        let first = first.unwrap_or(1);
        if first == 0 || last.is_some_and(|l| l < first) {
            return Err(bad());
        }
        Ok(LineRange { first, last })
    }
}

/// The lines of `path` in `range` (all when `None`), with the number of the first one. Invalid UTF-8
/// is replaced.
pub fn read_window(path: &Path, range: Option<LineRange>) -> Result<(Vec<String>, usize), String> {
    let log = LogFile::open(path, 0).map_err(|e| e.to_string())?;
    let (first, last) = window_bounds(path, log.len(), range, log.len())?;
    Ok((lines(&log, first, last), first))
}

/// The 1-based first and last line of a window of a file with `total` lines: `range` when given,
/// else its last `tail` lines. An empty file, or a range past its end, is an error naming `path`.
pub fn window_bounds(
    path: &Path,
    total: usize,
    range: Option<LineRange>,
    tail: usize,
) -> Result<(usize, usize), String> {
    if total == 0 {
        return Err(format!(
            "{} is empty; it has no lines to read",
            path.display()
        ));
    }
    let Some(range) = range else {
        return Ok((total.saturating_sub(tail) + 1, total));
    };
    if range.first > total {
        return Err(format!(
            "{} has {total} lines; the range starts at line {}",
            path.display(),
            range.first
        ));
    }
    Ok((range.first, range.last.unwrap_or(total).min(total)))
}

/// Lines `first..=last` (1-based) of `log`, invalid UTF-8 replaced.
pub fn lines(log: &LogFile, first: usize, last: usize) -> Vec<String> {
    (first.max(1) - 1..last.min(log.len()))
        .map(|i| log.line(i).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_an_error_not_a_window_of_lines_one_to_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.log");
        std::fs::write(&path, "").expect("write");
        let err = read_window(&path, None).expect_err("empty");
        assert!(err.contains("is empty"), "{err}");
    }

    #[test]
    fn windows_keep_invalid_utf8_lossily_and_drop_only_the_final_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"ok\r\nbad \xff byte\n\nlast\n").expect("write");
        let (lines, first) = read_window(&path, None).expect("read");
        assert_eq!(lines, vec!["ok", "bad \u{fffd} byte", "", "last"]);
        assert_eq!(first, 1);
    }

    #[test]
    fn line_ranges_parse_and_slice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        std::fs::write(&path, "1\n2\n3\n4\n").expect("write");
        let r = |s: &str| s.parse::<LineRange>();
        assert_eq!(
            read_window(&path, Some(r("2..3").expect("range"))).expect("read"),
            (vec!["2".into(), "3".into()], 2)
        );
        assert_eq!(
            read_window(&path, Some(r("3..").expect("range")))
                .expect("read")
                .0,
            vec!["3", "4"]
        );
        assert_eq!(
            read_window(&path, Some(r("..9").expect("range")))
                .expect("read")
                .0
                .len(),
            4
        );
        assert_eq!(
            read_window(&path, Some(r("4").expect("range"))).expect("read"),
            (vec!["4".into()], 4)
        );
        assert!(r("3..2").is_err() && r("0..2").is_err() && r("a..b").is_err());
        // Without a range, the last `tail` lines.
        assert_eq!(window_bounds(&path, 4, None, 2), Ok((3, 4)));
        assert_eq!(window_bounds(&path, 4, None, 9), Ok((1, 4)));
        assert!(read_window(&path, Some(r("9..").expect("range")))
            .expect_err("past end")
            .contains("has 4 lines"));
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = read_window(Path::new("/no/such/file.log"), None).expect_err("missing");
        assert!(err.contains("/no/such/file.log"), "{err}");
    }
}
