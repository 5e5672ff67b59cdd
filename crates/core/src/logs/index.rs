//! A log file read into memory and indexed by line, the index built in parallel. The index keeps 4
//! bytes per line (offsets relative to the chunk they fall in), so a 1 GB log of 60-byte lines costs
//! about 70 MB beside its bytes. Lines are bytes; display converts lossily and cuts long lines,
//! analysis gets them whole.
//!
//! The bytes are a snapshot taken with plain reads, never a memory map: logrotate's copytruncate
//! (or any writer) may shrink the file at any moment, and touching a mapped page past the new end
//! kills the process with SIGBUS. A snapshot keeps showing what was read; `follow` notices the
//! truncation with its own reads.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes per indexing chunk: large enough to amortise thread start-up, small enough to balance.
const CHUNK: u64 = 64 << 20;

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file could not be opened.
    #[error("cannot open {path}: {error}")]
    Open {
        /// The log's path.
        path: PathBuf,
        /// Not `source`: the message already includes it, and an error chain would print it twice.
        error: std::io::Error,
    },
    /// The path is a named pipe, socket or folder, which would block or read as nothing.
    #[error("{path} is {what}, not a file; pipe it into `--logs -` instead")]
    NotAFile {
        /// The log's path.
        path: PathBuf,
        /// What it is instead: `a named pipe`, `a socket` or `a folder`.
        what: &'static str,
    },
    /// Reading the file failed part way.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The log's path.
        path: PathBuf,
        /// Not `source`: the message already includes it, and an error chain would print it twice.
        error: std::io::Error,
    },
}

/// Line starts of one chunk of the file, relative to the chunk's first byte.
#[derive(Debug, Default)]
struct Chunk {
    base: u64,
    first_line: usize,
    starts: Vec<u32>,
}

/// An indexed, read-only log: a snapshot of a file or bytes read from stdin.
pub struct LogFile {
    path: PathBuf,
    bytes: Vec<u8>,
    chunks: Vec<Chunk>,
    lines: usize,
}

impl std::fmt::Debug for LogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFile")
            .field("path", &self.path)
            .field("lines", &self.lines)
            .finish()
    }
}

impl LogFile {
    /// Reads and indexes `path` using `threads` threads (0 = all cores).
    pub fn open(path: &Path, threads: usize) -> Result<LogFile, IndexError> {
        // A named pipe or socket would block the open (or read as empty) instead of being read.
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            let kind = meta.file_type();
            let what = if kind.is_fifo() {
                Some("a named pipe")
            } else if kind.is_socket() {
                Some("a socket")
            } else if kind.is_dir() {
                Some("a folder")
            } else {
                None
            };
            if let Some(what) = what {
                return Err(IndexError::NotAFile {
                    path: path.to_path_buf(),
                    what,
                });
            }
        }
        let mut file = File::open(path).map_err(|source| IndexError::Open {
            path: path.to_path_buf(),
            error: source,
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        // The length is a hint only: the file may grow or shrink while it is read.
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|source| IndexError::Read {
                path: path.to_path_buf(),
                error: source,
            })?;
        Ok(Self::index(path.to_path_buf(), bytes, threads))
    }

    /// Indexes bytes already in memory (stdin).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> LogFile {
        Self::index(PathBuf::from(name), bytes, 1)
    }

    fn index(path: PathBuf, bytes: Vec<u8>, threads: usize) -> LogFile {
        let data = bytes.as_slice();
        let len = data.len() as u64;
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let n_chunks = len.div_ceil(CHUNK).max(1) as usize;
        let ranges: Vec<(u64, u64)> = (0..n_chunks as u64)
            .map(|i| (i * CHUNK, ((i + 1) * CHUNK).min(len)))
            .collect();
        let mut chunks: Vec<Chunk> = Vec::with_capacity(n_chunks);
        if threads <= 1 || n_chunks == 1 {
            chunks.extend(ranges.iter().map(|&(a, b)| scan(data, a, b)));
        } else {
            // Chunks are handed out round-robin; each thread returns its chunks in order.
            let per_thread: Vec<Vec<(usize, Chunk)>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads.min(n_chunks))
                    .map(|t| {
                        let ranges = &ranges;
                        s.spawn(move || {
                            ranges
                                .iter()
                                .enumerate()
                                .skip(t)
                                .step_by(threads)
                                .map(|(i, &(a, b))| (i, scan(data, a, b)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            let mut all: Vec<(usize, Chunk)> = per_thread.into_iter().flatten().collect();
            all.sort_by_key(|(i, _)| *i);
            chunks.extend(all.into_iter().map(|(_, c)| c));
        }
        // Line 0 starts at byte 0; a start at the very end of the file is not a line.
        let mut lines = 0;
        for c in &mut chunks {
            c.first_line = lines;
            lines += c.starts.len();
        }
        if let Some(last) = chunks.last_mut() {
            if last
                .starts
                .last()
                .is_some_and(|&s| last.base + s as u64 == len)
            {
                last.starts.pop();
                lines -= 1;
            }
        }
        LogFile {
            path,
            bytes,
            chunks,
            lines,
        }
    }

    /// The log's path (`-` for stdin).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many lines the log has.
    pub fn len(&self) -> usize {
        self.lines
    }

    /// Bytes indexed.
    pub fn byte_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether the log has no lines.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Bytes the index itself occupies.
    pub fn index_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.starts.capacity() * 4 + std::mem::size_of::<Chunk>())
            .sum()
    }

    fn start(&self, line: usize) -> u64 {
        let k = self.chunks.partition_point(|c| c.first_line <= line) - 1;
        let c = &self.chunks[k];
        c.base + c.starts[line - c.first_line] as u64
    }

    /// The raw bytes of line `i` (0-based), without its newline (and `\r`).
    pub fn line_bytes(&self, i: usize) -> &[u8] {
        if i >= self.lines {
            return &[];
        }
        let data = self.bytes.as_slice();
        let start = self.start(i) as usize;
        let end = if i + 1 < self.lines {
            self.start(i + 1) as usize - 1
        } else {
            data.len()
        };
        let line = &data[start..end.max(start)];
        // A UTF-8 byte-order mark belongs to the file, not to its first line.
        let line = match i {
            0 => line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line),
            _ => line,
        };
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// Line `i` as text, invalid UTF-8 replaced; whole, for analysis.
    pub fn line(&self, i: usize) -> Cow<'_, str> {
        String::from_utf8_lossy(self.line_bytes(i))
    }

    /// Line `i` cut to at most `max_bytes` bytes (at a character boundary) before decoding, so that a
    /// 10 MB line costs nothing to show.
    pub fn display_line(&self, i: usize, max_bytes: usize) -> (Cow<'_, str>, bool) {
        display_cut(self.line_bytes(i), max_bytes)
    }
}

/// `bytes` cut to at most `max_bytes` at a character boundary, decoded lossily and made safe for a
/// terminal (`safe_text::for_line`); the flag says whether anything was cut.
pub fn display_cut(bytes: &[u8], max_bytes: usize) -> (Cow<'_, str>, bool) {
    let (kept, cut) = if bytes.len() <= max_bytes {
        (bytes, false)
    } else {
        let mut end = max_bytes;
        // Back off continuation bytes so a multibyte character is not split.
        while end > 0 && (bytes[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        (&bytes[..end], true)
    };
    let shown = match String::from_utf8_lossy(kept) {
        Cow::Borrowed(text) => crate::safe_text::for_line(text),
        Cow::Owned(text) => Cow::Owned(crate::safe_text::for_line(&text).into_owned()),
    };
    (shown, cut)
}

/// Line starts (relative to `a`) of lines that begin in `[a, b)`: byte 0, and every byte after a `\n`.
fn scan(data: &[u8], a: u64, b: u64) -> Chunk {
    let slice = &data[a as usize..b as usize];
    let mut starts = Vec::with_capacity(slice.len() / 64);
    if a == 0 {
        starts.push(0);
    }
    starts.extend(memchr::memchr_iter(b'\n', slice).map(|p| p as u32 + 1));
    Chunk {
        base: a,
        first_line: 0,
        starts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: &LogFile) -> Vec<String> {
        (0..f.len()).map(|i| f.line(i).into_owned()).collect()
    }

    #[test]
    fn lines_with_and_without_a_final_newline() {
        assert_eq!(
            lines(&LogFile::from_bytes("-", b"a\nbb\r\n\nc".to_vec())),
            ["a", "bb", "", "c"]
        );
        assert_eq!(
            lines(&LogFile::from_bytes("-", b"a\nb\n".to_vec())),
            ["a", "b"]
        );
        assert_eq!(LogFile::from_bytes("-", Vec::new()).len(), 0);
        assert_eq!(lines(&LogFile::from_bytes("-", b"\n".to_vec())), [""]);
    }

    #[test]
    fn parallel_index_equals_sequential_across_chunk_borders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.log");
        // Enough bytes for several 64 MB chunks would be slow here; vary line lengths over 3 MB and
        // check with a small chunk through the same scan function instead.
        let mut text = Vec::new();
        for i in 0..50_000u32 {
            text.extend_from_slice(
                format!("line {i} {}\n", "x".repeat((i % 97) as usize)).as_bytes(),
            );
        }
        std::fs::write(&path, &text).expect("write");
        let one = LogFile::open(&path, 1).expect("open");
        let many = LogFile::open(&path, 4).expect("open");
        assert_eq!(one.len(), 50_000);
        assert_eq!(many.len(), 50_000);
        for i in [0, 1, 4999, 31_337, 49_999] {
            assert_eq!(one.line(i), many.line(i));
            assert!(one.line(i).starts_with(&format!("line {i} ")));
        }
        // Chunk borders: scanning in pieces gives the same starts as one scan.
        let whole = scan(&text, 0, text.len() as u64);
        let cut = 1_000_003u64;
        let (p, q) = (scan(&text, 0, cut), scan(&text, cut, text.len() as u64));
        let joined: Vec<u64> = p
            .starts
            .iter()
            .map(|&s| s as u64)
            .chain(q.starts.iter().map(|&s| cut + s as u64))
            .collect();
        assert_eq!(
            joined,
            whole.starts.iter().map(|&s| s as u64).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_ten_megabyte_line_is_cut_for_display_and_whole_for_analysis() {
        let mut text = b"short\n".to_vec();
        text.extend(std::iter::repeat_n(b'a', 10 << 20));
        text.extend_from_slice("é\nafter\n".as_bytes());
        let f = LogFile::from_bytes("-", text);
        assert_eq!(f.len(), 3);
        assert_eq!(f.line_bytes(1).len(), (10 << 20) + 2);
        let (shown, cut) = f.display_line(1, 200);
        assert!(cut && shown.len() == 200);
        let (shown, cut) = f.display_line(1, (10 << 20) + 1);
        assert!(
            cut && shown.ends_with('a'),
            "a split character is dropped, not garbled"
        );
        assert_eq!(f.line(2), "after");
    }

    /// logrotate's copytruncate empties the file under an open log: its lines stay readable (a
    /// mapped file died here with SIGBUS), and a reopen sees the new, shorter content.
    #[test]
    fn a_log_truncated_under_an_open_view_keeps_its_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        let text: String = (0..30_000).map(|i| format!("line {i} payload\n")).collect();
        std::fs::write(&path, &text).expect("write");
        let open = LogFile::open(&path, 2).expect("open");
        std::fs::File::create(&path).expect("truncate");
        assert_eq!(open.len(), 30_000);
        assert_eq!(open.line(29_999), "line 29999 payload");
        let total: usize = (0..open.len()).map(|i| open.line_bytes(i).len()).sum();
        assert!(total > 0);
        std::fs::write(&path, "new\n").expect("rewrite");
        let reopened = LogFile::open(&path, 2).expect("reopen");
        assert_eq!(lines(&reopened), ["new"]);
    }

    #[test]
    fn control_characters_are_shown_as_stand_ins() {
        let f = LogFile::from_bytes("-", b"evil \x1bc clear\tcol\n".to_vec());
        assert_eq!(f.display_line(0, 100).0, "evil \u{241b}c clear col");
        assert_eq!(
            f.line(0),
            "evil \x1bc clear\tcol",
            "analysis sees the line as written"
        );
    }

    #[test]
    fn a_named_pipe_is_refused_with_what_to_do_instead() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        #[allow(unsafe_code)]
        let made = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(made, 0);
        let err = LogFile::open(&fifo, 1).expect_err("a fifo").to_string();
        assert!(
            err.contains("a named pipe") && err.contains("--logs -"),
            "{err}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_line_one() {
        let f = LogFile::from_bytes("-", b"\xEF\xBB\xBF2024-01-01 ok\nsecond\n".to_vec());
        assert_eq!(f.line(0), "2024-01-01 ok");
        assert_eq!(f.line(1), "second");
    }

    #[test]
    fn invalid_utf8_is_shown_lossily() {
        let f = LogFile::from_bytes("-", b"ok \xff\xfe end\n".to_vec());
        assert_eq!(f.line(0), "ok \u{fffd}\u{fffd} end");
    }
}
