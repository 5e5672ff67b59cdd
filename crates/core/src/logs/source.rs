//! A log as the UI and the diagnosis see it: an indexed file (or stdin) plus lines appended while it is
//! followed, the detected header format, and per-line facts (level, time, template) computed once.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{self, Format, Level};
use super::index::{IndexError, LogFile};
use super::timestamp;
use crate::template::miner::Miner;

/// Per-line facts, computed in one pass. `level` 0 means none; otherwise `Level as u8 + 1`.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Level of each analysed line: 0 for none, else its place in `Level::ALL` plus 1.
    pub level: Vec<u8>,
    /// Seconds, `i64::MIN` when the line has no timestamp.
    pub time: Vec<i64>,
    /// Template cluster of each line, in `miner`.
    pub template: Vec<u32>,
}

impl Facts {
    /// Level of line `line` (0-based); `None` when it has none or is not analysed yet.
    pub fn level(&self, line: usize) -> Option<Level> {
        match self.level.get(line) {
            Some(&l) if l > 0 => Level::ALL.get(l as usize - 1).copied(),
            _ => None,
        }
    }

    /// Timestamp of line `line` (0-based) in seconds; `None` when it has none or is not analysed.
    pub fn time(&self, line: usize) -> Option<i64> {
        self.time.get(line).copied().filter(|&t| t != i64::MIN)
    }
}

/// How often a template occurs in a source, and its first and last line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStats {
    /// The template's cluster id in the source's miner.
    pub id: u32,
    /// The template text, variables shown as `<*>`.
    pub text: String,
    /// Analysed lines of this template.
    pub count: usize,
    /// Its first line, 1-based.
    pub first: usize,
    /// Its last line, 1-based.
    pub last: usize,
}

/// One open log: its indexed lines, lines appended while following, format and line facts.
pub struct LogSource {
    /// Shown name: the file name, or `stdin`.
    pub name: String,
    /// The log file's path (`-` for stdin).
    pub path: PathBuf,
    file: Option<Arc<LogFile>>,
    appended: Vec<String>,
    /// Header format, given or detected from the first 200 lines; `None` when none fits.
    pub format: Option<&'static Format>,
    /// Level, time and template per analysed line.
    pub facts: Facts,
    /// The template miner the lines are clustered with, tuned to the format's system.
    pub miner: Miner,
}

impl std::fmt::Debug for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSource")
            .field("path", &self.path)
            .field("lines", &self.len())
            .finish()
    }
}

fn encode(level: Option<Level>) -> u8 {
    level
        .and_then(|l| Level::ALL.iter().position(|x| *x == l))
        .map_or(0, |i| i as u8 + 1)
}

impl LogSource {
    /// Opens and indexes a file and detects its format (unless given). Facts are computed later, a
    /// slice at a time ([`LogSource::analyse_step`]), so a huge file shows at once.
    pub fn open(path: &Path, format: Option<&'static Format>) -> Result<LogSource, IndexError> {
        let file = LogFile::open(path, 0)?;
        Ok(Self::from_file(file, format))
    }

    /// A source over an indexed file, detecting the format from its first 200 lines unless given.
    pub fn from_file(file: LogFile, format: Option<&'static Format>) -> LogSource {
        let path = file.path().to_path_buf();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let sample: Vec<String> = (0..file.len().min(200))
            .map(|i| file.line(i).into_owned())
            .collect();
        let format = format.or_else(|| format::detect(&sample));
        let miner = Miner::for_system(format.map(|f| f.name));
        LogSource {
            name,
            path,
            file: Some(Arc::new(file)),
            appended: Vec::new(),
            format,
            facts: Facts::default(),
            miner,
        }
    }

    /// Lines whose facts are known (they are computed in order).
    pub fn analysed(&self) -> usize {
        self.facts.level.len()
    }

    /// Computes the facts of up to `max_lines` more lines; returns whether lines remain.
    pub fn analyse_step(&mut self, max_lines: usize) -> bool {
        let start = self.analysed();
        let end = (start + max_lines).min(self.len());
        self.analyse(start..end);
        end < self.len()
    }

    /// Computes the facts of every line.
    pub fn analyse_all(&mut self) {
        while self.analyse_step(1 << 16) {}
    }

    /// An empty source that lines are appended to (stdin, or a followed file that does not exist yet).
    pub fn empty(name: &str, path: &Path, format: Option<&'static Format>) -> LogSource {
        LogSource {
            name: name.to_string(),
            path: path.to_path_buf(),
            file: None,
            appended: Vec::new(),
            format,
            facts: Facts::default(),
            miner: Miner::for_system(format.map(|f| f.name)),
        }
    }

    /// Lines in the source: the indexed file's plus those appended.
    pub fn len(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.len()) + self.appended.len()
    }

    /// Bytes of the file that were indexed (appended lines not counted): where following resumes.
    pub fn indexed_bytes(&self) -> u64 {
        self.file.as_ref().map_or(0, |f| f.byte_len())
    }

    /// Whether the source has no lines.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn base(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.len())
    }

    /// Line `i` (0-based), whole.
    pub fn line(&self, i: usize) -> Cow<'_, str> {
        match &self.file {
            Some(f) if i < f.len() => f.line(i),
            _ => Cow::Borrowed(
                self.appended
                    .get(i - self.base())
                    .map_or("", String::as_str),
            ),
        }
    }

    /// Line `i` cut to `max_bytes` for display; the flag says whether it was cut.
    pub fn display_line(&self, i: usize, max_bytes: usize) -> (Cow<'_, str>, bool) {
        match &self.file {
            Some(f) if i < f.len() => f.display_line(i, max_bytes),
            _ => {
                let line = self
                    .appended
                    .get(i - self.base())
                    .map_or("", String::as_str);
                super::index::display_cut(line.as_bytes(), max_bytes)
            }
        }
    }

    /// Appends followed lines and analyses them.
    pub fn append(&mut self, lines: Vec<String>) {
        if self.format.is_none() && self.len() < 200 {
            let mut sample: Vec<String> =
                (0..self.len()).map(|i| self.line(i).into_owned()).collect();
            sample.extend(lines.iter().cloned());
            self.format = format::detect(&sample);
        }
        self.appended.extend(lines);
        // Appended lines are few; catching up keeps facts in step with the view.
        self.analyse_all();
    }

    fn analyse(&mut self, range: std::ops::Range<usize>) {
        let format = self.format;
        for i in range {
            let line = self.line(i).into_owned();
            let header = format::parse_line(format, &line);
            let level = encode(header.level);
            let time = timestamp::parse(&line).unwrap_or(i64::MIN);
            let template = self.miner.add(header.content);
            self.facts.level.push(level);
            self.facts.time.push(time);
            self.facts.template.push(template);
        }
    }

    /// The text of template `id` (variables as `<*>`).
    pub fn template_text(&self, id: u32) -> String {
        self.miner.template(id)
    }

    /// Every template of the analysed lines, most frequent first (ties: first seen first).
    pub fn template_stats(&self) -> Vec<TemplateStats> {
        let mut by_id: Vec<Option<TemplateStats>> = vec![None; self.miner.len()];
        for (line, &id) in self.facts.template.iter().enumerate() {
            let Some(slot) = by_id.get_mut(id as usize) else {
                continue;
            };
            match slot {
                Some(t) => {
                    t.count += 1;
                    t.last = line + 1;
                }
                None => {
                    *slot = Some(TemplateStats {
                        id,
                        text: self.miner.template(id),
                        count: 1,
                        first: line + 1,
                        last: line + 1,
                    })
                }
            }
        }
        let mut rows: Vec<TemplateStats> = by_id.into_iter().flatten().collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
        rows
    }

    /// Lines `first..=last` (1-based) as owned text, for a selection.
    pub fn lines(&self, first: usize, last: usize) -> Vec<String> {
        (first.max(1)..=last.min(self.len()))
            .map(|n| self.line(n - 1).into_owned())
            .collect()
    }
}

/// Lines analysed when a path is opened; a screen analyses a bigger file between frames.
pub const ANALYSE_UPFRONT: usize = 1 << 20;

/// Opens the log files of a path (a file, a folder of files, or `-` for stdin read to its end).
pub fn open_sources(
    path: &Path,
    format: Option<&'static Format>,
) -> Result<Vec<LogSource>, String> {
    if path == Path::new("-") {
        // Standard input streams in; the screen reads it as it arrives.
        return Ok(vec![LogSource::empty("stdin", path, format)]);
    }
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot list {}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    files
        .iter()
        .map(|p| {
            let mut source = LogSource::open(p, format).map_err(|e| e.to_string())?;
            source.analyse_step(ANALYSE_UPFRONT);
            Ok(source)
        })
        .collect()
}
