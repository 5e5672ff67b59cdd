//! Following a growing log with `tail -F` semantics: appended lines, a partial last line held until its
//! newline, truncation (copytruncate), rotation by rename, and a file deleted and created again. Reads
//! with ordinary reads, never a memory map, so a writer shrinking the file cannot fault the reader.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Something the follower noticed besides new lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The file became shorter than what was read: reading restarts at its beginning.
    Truncated,
    /// A new file took the path (rotation, or delete and re-create): the old one was read to its end.
    Replaced,
    /// The path does not exist right now; the follower waits for it.
    Missing,
}

/// New complete lines (invalid UTF-8 replaced) and notes, in the order they happened.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Update {
    /// Lines completed since the last poll, without their newlines.
    pub lines: Vec<String>,
    /// Truncation, replacement or a missing file noticed since the last poll.
    pub notes: Vec<Note>,
}

/// Follows one log path across truncation, rotation and re-creation; [`Follower::poll`] reads on.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    offset: u64,
    partial: Vec<u8>,
    /// The last bytes read (up to `ANCHOR` of them), which must still be in front of `offset`: a
    /// file truncated and written again past the old length within one poll is not shorter, and
    /// only changed bytes there show that it was rewritten.
    anchor: Vec<u8>,
    missing_reported: bool,
}

/// Bytes kept to recognise a rewritten file.
const ANCHOR: usize = 64;

impl Follower {
    /// Follows `path` from byte `offset` of the file now at the path (clamped to its length), so
    /// nothing written after a view was indexed is missed.
    pub fn from_offset(path: &Path, offset: u64) -> std::io::Result<Follower> {
        let mut f = Follower::new(path, true)?;
        if let Some(file) = &f.file {
            f.offset = offset.min(file.metadata()?.len());
        }
        f.prime_anchor()?;
        Ok(f)
    }

    /// Follows `path`, starting at its end (`from_start` = false) or its beginning.
    pub fn new(path: &Path, from_start: bool) -> std::io::Result<Follower> {
        let mut f = Follower {
            path: path.to_path_buf(),
            file: None,
            inode: 0,
            offset: 0,
            partial: Vec::new(),
            anchor: Vec::new(),
            missing_reported: false,
        };
        if let Ok(file) = File::open(path) {
            let meta = file.metadata()?;
            f.inode = meta.ino();
            f.offset = if from_start { 0 } else { meta.len() };
            f.file = Some(file);
        }
        f.prime_anchor()?;
        Ok(f)
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads whatever happened since the last call.
    pub fn poll(&mut self) -> std::io::Result<Update> {
        let mut update = Update::default();
        self.read_open_file(&mut update)?;
        match std::fs::metadata(&self.path) {
            Err(_) => {
                if !self.missing_reported {
                    update.notes.push(Note::Missing);
                    self.missing_reported = true;
                }
            }
            Ok(meta) if self.file.is_none() || meta.ino() != self.inode => {
                // A new file has the path. Whatever the writer put into the old one is already read;
                // its unterminated tail is a line of its own.
                self.flush_partial(&mut update);
                if self.file.is_some() || self.missing_reported {
                    update.notes.push(Note::Replaced);
                }
                self.missing_reported = false;
                self.file = Some(File::open(&self.path)?);
                self.inode = meta.ino();
                self.offset = 0;
                self.anchor.clear();
                self.read_open_file(&mut update)?;
            }
            Ok(_) => self.missing_reported = false,
        }
        Ok(update)
    }

    fn read_open_file(&mut self, update: &mut Update) -> std::io::Result<()> {
        let Some(len) = self
            .file
            .as_ref()
            .map(|f| f.metadata().map(|m| m.len()))
            .transpose()?
        else {
            return Ok(());
        };
        let rewritten = len >= self.offset && !self.anchor_holds()?;
        if len < self.offset || rewritten {
            // Truncated in place (and maybe written again): what was read stays read; start
            // again at the top.
            self.offset = 0;
            self.anchor.clear();
            self.flush_partial(update);
            update.notes.push(Note::Truncated);
        }
        if len == self.offset {
            return Ok(());
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::with_capacity((len - self.offset) as usize);
        file.take(len - self.offset).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.anchor
            .extend_from_slice(&buf[buf.len().saturating_sub(ANCHOR)..]);
        let excess = self.anchor.len().saturating_sub(ANCHOR);
        self.anchor.drain(..excess);
        let mut rest: &[u8] = &buf;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            self.partial.extend_from_slice(&rest[..nl]);
            let line = std::mem::take(&mut self.partial);
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            update
                .lines
                .push(String::from_utf8_lossy(line).into_owned());
            rest = &rest[nl + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Takes the anchor from the bytes before a starting offset.
    fn prime_anchor(&mut self) -> std::io::Result<()> {
        let len = self.offset.min(ANCHOR as u64) as usize;
        // A file shrunk since its length was read has no anchor: the first poll sees the truncation.
        self.anchor = self.bytes_before_offset(len)?.unwrap_or_default();
        Ok(())
    }

    /// Whether the bytes just before `offset` are still the ones read there.
    fn anchor_holds(&mut self) -> std::io::Result<bool> {
        if self.anchor.is_empty() || self.file.is_none() {
            return Ok(true);
        }
        // The file no longer reaching the offset is a change too.
        let now = self.bytes_before_offset(self.anchor.len())?;
        Ok(now.as_deref() == Some(self.anchor.as_slice()))
    }

    /// The `len` bytes of the open file that end at `offset`: `None` when there is no open file
    /// or it no longer reaches that far.
    fn bytes_before_offset(&mut self, len: usize) -> std::io::Result<Option<Vec<u8>>> {
        let Some(file) = self.file.as_mut() else {
            return Ok(None);
        };
        file.seek(SeekFrom::Start(self.offset - len as u64))?;
        let mut bytes = vec![0; len];
        match file.read_exact(&mut bytes) {
            Ok(()) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn flush_partial(&mut self, update: &mut Update) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            update
                .lines
                .push(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("write");
    }

    #[test]
    fn appended_lines_arrive_and_a_partial_line_waits_for_its_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        append(&path, "old\n");
        let mut f = Follower::new(&path, false).expect("follow");
        append(&path, "one\ntw");
        assert_eq!(f.poll().expect("poll").lines, ["one"]);
        append(&path, "o\r\nthree\n");
        assert_eq!(f.poll().expect("poll").lines, ["two", "three"]);
        assert_eq!(f.poll().expect("poll"), Update::default());
    }

    /// copytruncate followed by a burst longer than the old file, all between two polls: the file
    /// is not shorter, but it is new from its first byte, and every new line is read (the first
    /// ones were skipped and the diagnosis cited lines that no longer existed).
    #[test]
    fn a_file_truncated_and_rewritten_longer_within_one_poll_is_read_from_its_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        append(&path, "old one\nold two\n");
        let mut f = Follower::new(&path, true).expect("follow");
        assert_eq!(f.poll().expect("poll").lines, ["old one", "old two"]);
        let fresh: Vec<String> = (0..10).map(|i| format!("new line {i}")).collect();
        std::fs::write(&path, fresh.join("\n") + "\n").expect("rewrite");
        let u = f.poll().expect("poll");
        assert_eq!(u.notes, [Note::Truncated]);
        assert_eq!(u.lines, fresh);
        append(&path, "appended\n");
        assert_eq!(f.poll().expect("poll").lines, ["appended"]);
    }

    #[test]
    fn following_from_an_offset_reads_what_was_written_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        append(&path, "seen\nwritten later\n");
        let mut f = Follower::from_offset(&path, 5).expect("follow");
        assert_eq!(f.poll().expect("poll").lines, ["written later"]);
    }

    #[test]
    fn rotation_truncation_and_recreation_lose_and_double_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        append(&path, "");
        let mut f = Follower::new(&path, true).expect("follow");
        let mut seen = Vec::new();
        let mut notes = Vec::new();
        let mut poll = |f: &mut Follower| {
            let u = f.poll().expect("poll");
            seen.extend(u.lines);
            notes.extend(u.notes);
        };
        append(&path, "1\n2\n");
        poll(&mut f);
        // Rotation by rename: lines written to the old file before the switch still count.
        append(&path, "3\n");
        std::fs::rename(&path, dir.path().join("app.log.1")).expect("rotate");
        append(&dir.path().join("app.log.1"), "4\n");
        append(&path, "5\n");
        poll(&mut f);
        // copytruncate: the file is cut to zero and written again.
        append(&path, "6\n");
        poll(&mut f);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(0)
            .expect("truncate");
        append(&path, "7\n");
        poll(&mut f);
        // Deleted, a poll while it is gone, then created again.
        std::fs::remove_file(&path).expect("delete");
        poll(&mut f);
        append(&path, "8\n9");
        poll(&mut f);
        append(&path, "\n");
        poll(&mut f);
        assert_eq!(seen, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        assert_eq!(
            notes,
            [
                Note::Replaced,
                Note::Truncated,
                Note::Missing,
                Note::Replaced
            ]
        );
    }
}
