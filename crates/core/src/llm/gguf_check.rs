//! A GGUF header's lengths checked against the file before candle reads it. candle allocates what a
//! header claims (a string's length, an array's count) before reading it, so a corrupt 1 KB file
//! could ask for gigabytes; this walk reads the same fields without keeping them and refuses any
//! count or length the rest of the file cannot hold.

use std::io::{BufReader, Read, Seek};

/// Reads GGUF's preamble, metadata and tensor descriptions from `file` (of `len` bytes), skipping
/// the values, and names the first count or length that runs past the end of the file.
pub fn check_lengths<R: Read + Seek>(file: R, len: u64) -> Result<(), String> {
    let mut r = Cursor {
        inner: BufReader::new(file),
        at: 0,
        len,
        wide: true,
    };
    let mut magic = [0u8; 4];
    r.bytes(&mut magic)?;
    if &magic != b"GGUF" {
        // candle names a wrong magic number itself.
        return Ok(());
    }
    let version = r.u32()?;
    // Version 1 wrote counts and lengths in 32 bits.
    r.wide = version != 1;
    // A tensor is at least its name's length, its dimension count, its type and its offset.
    let tensors = r.count("tensor count", 8 + 4 + 4 + 8)?;
    let entries = r.count("metadata count", 8 + 4 + 1)?;
    for _ in 0..entries {
        r.string("a metadata key")?;
        let kind = r.u32()?;
        r.value(kind, 0)?;
    }
    for _ in 0..tensors {
        r.string("a tensor name")?;
        let dims = r.u32()? as u64;
        r.fits("a tensor's dimensions", dims.saturating_mul(r.width()))?;
        r.skip(dims * r.width())?;
        r.skip(4 + 8)?;
    }
    Ok(())
}

struct Cursor<R> {
    inner: BufReader<R>,
    at: u64,
    len: u64,
    /// Counts and lengths in 64 bits (versions 2 and 3) rather than 32.
    wide: bool,
}

impl<R: Read + Seek> Cursor<R> {
    fn bytes(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.inner
            .read_exact(buf)
            .map_err(|_| format!("the header ends early, at byte {}", self.at))?;
        self.at += buf.len() as u64;
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut b = [0u8; 4];
        self.bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        self.bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn width(&self) -> u64 {
        if self.wide {
            8
        } else {
            4
        }
    }

    /// A count or length field.
    fn size(&mut self) -> Result<u64, String> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    /// Whether `bytes` more can still be in the file.
    fn fits(&self, what: &str, bytes: u64) -> Result<(), String> {
        let left = self.len.saturating_sub(self.at);
        if bytes > left {
            return Err(format!(
                "{what} at byte {} claims {bytes} bytes, but only {left} follow in the file",
                self.at
            ));
        }
        Ok(())
    }

    /// A count of items each at least `min_bytes` long.
    fn count(&mut self, what: &str, min_bytes: u64) -> Result<u64, String> {
        let n = self.size()?;
        self.fits(what, n.saturating_mul(min_bytes))?;
        Ok(n)
    }

    fn skip(&mut self, bytes: u64) -> Result<(), String> {
        self.fits("a field", bytes)?;
        let step = i64::try_from(bytes).map_err(|_| format!("a field of {bytes} bytes"))?;
        self.inner
            .seek_relative(step)
            .map_err(|e| format!("cannot read the header: {e}"))?;
        self.at += bytes;
        Ok(())
    }

    fn string(&mut self, what: &str) -> Result<(), String> {
        let n = self.size()?;
        self.fits(what, n)?;
        self.skip(n)
    }

    /// Skips one value of GGUF type `kind`; arrays nest at most a few levels in real files.
    fn value(&mut self, kind: u32, depth: usize) -> Result<(), String> {
        match kind {
            0 | 1 | 7 => self.skip(1),
            2 | 3 => self.skip(2),
            4..=6 => self.skip(4),
            10..=12 => self.skip(8),
            8 => self.string("a string value"),
            9 => {
                if depth >= 8 {
                    return Err(format!("arrays nested past 8 levels at byte {}", self.at));
                }
                let item = self.u32()?;
                let n = self.count("an array", item_min_bytes(item, self.width()))?;
                match item {
                    8 | 9 => (0..n).try_for_each(|_| self.value(item, depth + 1)),
                    _ => self.skip(n * item_min_bytes(item, self.width())),
                }
            }
            other => Err(format!("unknown metadata type {other} at byte {}", self.at)),
        }
    }
}

/// The fewest bytes one item of GGUF type `kind` takes.
fn item_min_bytes(kind: u32, width: u64) -> u64 {
    match kind {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        // A string or an array is at least its length field.
        _ => width,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(entries: &[u8]) -> Vec<u8> {
        let mut h = b"GGUF".to_vec();
        h.extend(3u32.to_le_bytes());
        h.extend(0u64.to_le_bytes()); // tensors
        h.extend(1u64.to_le_bytes()); // metadata entries
        h.extend(entries);
        h
    }

    fn key(h: &mut Vec<u8>, k: &str) {
        h.extend((k.len() as u64).to_le_bytes());
        h.extend(k.as_bytes());
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        check_lengths(std::io::Cursor::new(bytes), bytes.len() as u64)
    }

    #[test]
    fn a_sound_header_passes() {
        let mut e = Vec::new();
        key(&mut e, "general.name");
        e.extend(8u32.to_le_bytes());
        key(&mut e, "tiny");
        assert_eq!(check(&header(&e)), Ok(()));
    }

    #[test]
    fn a_string_longer_than_the_file_is_refused() {
        let mut e = Vec::new();
        key(&mut e, "general.name");
        e.extend(8u32.to_le_bytes());
        e.extend((1u64 << 40).to_le_bytes());
        let err = check(&header(&e)).unwrap_err();
        assert!(
            err.contains("a string value") && err.contains("claims"),
            "{err}"
        );
    }

    #[test]
    fn an_array_count_beyond_the_file_is_refused() {
        let mut e = Vec::new();
        key(&mut e, "tokenizer.ggml.tokens");
        e.extend(9u32.to_le_bytes());
        e.extend(8u32.to_le_bytes());
        e.extend((1u64 << 33).to_le_bytes());
        let err = check(&header(&e)).unwrap_err();
        assert!(err.contains("an array"), "{err}");
    }

    #[test]
    fn a_metadata_count_beyond_the_file_is_refused() {
        let mut h = b"GGUF".to_vec();
        h.extend(3u32.to_le_bytes());
        h.extend(0u64.to_le_bytes());
        h.extend(u64::MAX.to_le_bytes());
        assert!(check(&h).unwrap_err().contains("metadata count"));
    }
}
