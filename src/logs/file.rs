//! Reading log files into memory, lossily, with line ranges.

use std::path::{Path, PathBuf};

/// Lines kept per file by this simple loader; larger files say they were cut.
pub const MAX_LINES: usize = 200_000;

/// A log file read into memory, invalid UTF-8 replaced.
#[derive(Debug, Clone)]
pub struct LoadedLog {
    pub path: PathBuf,
    pub lines: Vec<String>,
    pub truncated: bool,
}

impl LoadedLog {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// Reads one file, or every regular file of a folder in name order.
pub fn load_logs(path: &Path) -> Result<Vec<LoadedLog>, String> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot list {}: {e}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    files.iter().map(|p| load_one(p)).collect()
}

fn load_one(path: &Path) -> Result<LoadedLog, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = Vec::new();
    let mut truncated = false;
    for raw in bytes.split(|b| *b == b'\n') {
        if lines.len() == MAX_LINES {
            truncated = true;
            break;
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        lines.push(String::from_utf8_lossy(raw).into_owned());
    }
    // A trailing newline leaves one empty piece that is not a line.
    if !truncated && lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    Ok(LoadedLog {
        path: path.to_path_buf(),
        lines,
        truncated,
    })
}

/// A 1-based inclusive line range, as given on the command line (`A..B`, `A..`, `..B`, `A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    pub first: usize,
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

/// The lines of `path` in `range` (all when `None`), with the number of the first one.
pub fn read_window(path: &Path, range: Option<LineRange>) -> Result<(Vec<String>, usize), String> {
    let log = load_one(path)?;
    let Some(range) = range else {
        return Ok((log.lines, 1));
    };
    if range.first > log.lines.len() {
        return Err(format!(
            "{} has {} lines; the range starts at line {}",
            path.display(),
            log.lines.len(),
            range.first
        ));
    }
    let last = range.last.unwrap_or(log.lines.len()).min(log.lines.len());
    Ok((log.lines[range.first - 1..last].to_vec(), range.first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_keeps_invalid_utf8_lossily_and_drops_only_the_final_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"ok\r\nbad \xff byte\n\nlast\n").expect("write");
        let logs = load_logs(dir.path()).expect("load");
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].lines, vec!["ok", "bad \u{fffd} byte", "", "last"]);
        assert!(!logs[0].truncated);
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
        assert!(read_window(&path, Some(r("9..").expect("range")))
            .expect_err("past end")
            .contains("has 4 lines"));
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = load_logs(Path::new("/no/such/file.log")).expect_err("missing");
        assert!(err.contains("/no/such/file.log"), "{err}");
    }
}
