//! Weight matrices packed for the CPU forward pass, and the activations they multiply.
//!
//! Quantised weights are stored *unsigned* with a scale and a minimum per 32-value block
//! (`w = d·q + m`), the form of GGUF's Q4_1. Q4_0 and Q8_0 convert to it exactly (`m = -8d`,
//! `m = -128d`), other GGUF types are requantised to 8 bits. Unsigned weights times signed 8-bit
//! activations is exactly what AVX-512 VNNI's `vpdpbusd` multiplies, and the minimum's share of a
//! dot product is `m · Σx` per block, which costs nothing per weight.
//!
//! Rows are interleaved in groups of 16: one AVX-512 lane per row. A block of a group is loaded
//! whole, multiplied with a broadcast 4-byte slice of the activations, and the 16 sums land in one
//! register as 16 outputs, so no horizontal additions are needed and every load is contiguous.

use half::f16;

/// Rows per interleaved group: one 32-bit lane of a 512-bit register each.
pub(crate) const GROUP: usize = 16;
/// Values per quantisation block (GGUF's block size for the 4- and 8-bit types).
pub(crate) const BLOCK: usize = 32;

/// How a matrix is stored, from the most compact; a stack of parts takes the widest of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// 4-bit unsigned values, two per byte, with f16 scale and minimum per block.
    Q4,
    /// 8-bit unsigned values with f16 scale and minimum per block.
    Q8,
    /// Plain f32 rows (float tensors and weights with a LoRA update merged in).
    F32,
}

impl Kind {
    /// Bytes of quantised values per group and block.
    pub(crate) const fn group_block_bytes(self) -> usize {
        match self {
            Kind::Q4 => GROUP * BLOCK / 2,
            Kind::Q8 | Kind::F32 => GROUP * BLOCK,
        }
    }
}

/// The rows of one weight tensor as they come from a GGUF file, before packing.
pub(crate) enum Source<'a> {
    /// GGUF Q4_0 blocks: f16 scale, 16 bytes of nibbles (values 0..15, offset by 8).
    Q4_0(&'a [u8]),
    /// GGUF Q4_1 blocks: f16 scale, f16 minimum, 16 bytes of nibbles.
    Q4_1(&'a [u8]),
    /// GGUF Q8_0 blocks: f16 scale, 32 signed bytes.
    Q8_0(&'a [u8]),
    /// Dequantised values, row-major. `exact` keeps them in f32; otherwise they are requantised
    /// to 8 bits.
    Dense { values: &'a [f32], exact: bool },
}

/// One part of a stack of matrices (a fused projection is several parts, one after another).
pub(crate) struct Part<'a> {
    pub rows: usize,
    pub cols: usize,
    pub source: Source<'a>,
}

/// One 32-value block in the unsigned form `w = d·q + m`.
#[derive(Clone, Copy)]
struct Block {
    d: f16,
    m: f16,
    q: [u8; BLOCK],
}

impl Part<'_> {
    fn natural_kind(&self) -> Kind {
        match &self.source {
            Source::Q4_0(_) | Source::Q4_1(_) => Kind::Q4,
            Source::Q8_0(_) => Kind::Q8,
            Source::Dense { exact: false, .. } if self.cols.is_multiple_of(BLOCK) => Kind::Q8,
            Source::Dense { .. } => Kind::F32,
        }
    }

    /// Bytes the source must hold for its shape.
    fn expected_len(&self) -> usize {
        let blocks = self.rows * self.cols / BLOCK;
        match &self.source {
            Source::Q4_0(_) => blocks * 18,
            Source::Q4_1(_) => blocks * 20,
            Source::Q8_0(_) => blocks * 34,
            Source::Dense { .. } => self.rows * self.cols,
        }
    }

    fn len(&self) -> usize {
        match &self.source {
            Source::Q4_0(b) | Source::Q4_1(b) | Source::Q8_0(b) => b.len(),
            Source::Dense { values, .. } => values.len(),
        }
    }

    /// Block `b` of row `r` in unsigned form.
    fn block(&self, r: usize, b: usize) -> Block {
        let at = r * (self.cols / BLOCK) + b;
        let half =
            |bytes: &[u8], i: usize| f16::from_bits(u16::from_le_bytes([bytes[i], bytes[i + 1]]));
        match &self.source {
            Source::Q4_0(bytes) => {
                let raw = &bytes[at * 18..at * 18 + 18];
                let d = half(raw, 0);
                Block {
                    d,
                    // An exact power-of-two multiple of an f16.
                    m: f16::from_f32(-8.0 * d.to_f32()),
                    q: nibbles(&raw[2..18]),
                }
            }
            Source::Q4_1(bytes) => {
                let raw = &bytes[at * 20..at * 20 + 20];
                Block {
                    d: half(raw, 0),
                    m: half(raw, 2),
                    q: nibbles(&raw[4..20]),
                }
            }
            Source::Q8_0(bytes) => {
                let raw = &bytes[at * 34..at * 34 + 34];
                let d = half(raw, 0);
                let mut q = [0u8; BLOCK];
                for (dst, &src) in q.iter_mut().zip(&raw[2..34]) {
                    *dst = (src as i8 as i16 + 128) as u8;
                }
                Block {
                    d,
                    m: f16::from_f32(-128.0 * d.to_f32()),
                    q,
                }
            }
            Source::Dense { values, .. } => {
                let x = &values[r * self.cols + b * BLOCK..][..BLOCK];
                quantize_u8(x)
            }
        }
    }

    /// Row `r` as f32 values (exact for every source).
    fn row(&self, r: usize, out: &mut [f32]) {
        if let Source::Dense { values, .. } = &self.source {
            out.copy_from_slice(&values[r * self.cols..][..self.cols]);
            return;
        }
        for (b, chunk) in out.chunks_exact_mut(BLOCK).enumerate() {
            let block = self.block(r, b);
            let (d, m) = (block.d.to_f32(), block.m.to_f32());
            for (o, &q) in chunk.iter_mut().zip(&block.q) {
                *o = d * f32::from(q) + m;
            }
        }
    }
}

/// GGUF's nibble order: low nibbles are values 0..15, high nibbles values 16..31.
fn nibbles(packed: &[u8]) -> [u8; BLOCK] {
    let mut q = [0u8; BLOCK];
    for (j, &byte) in packed.iter().enumerate() {
        q[j] = byte & 0x0f;
        q[j + 16] = byte >> 4;
    }
    q
}

/// 8-bit asymmetric quantisation of one block, with `q` computed from the f16-rounded scale and
/// minimum so the stored form is self-consistent.
fn quantize_u8(x: &[f32]) -> Block {
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let m = f16::from_f32(lo);
    let d = f16::from_f32((hi - m.to_f32()) / 255.0);
    let (df, mf) = (d.to_f32(), m.to_f32());
    let mut q = [0u8; BLOCK];
    if df > 0.0 {
        for (dst, &v) in q.iter_mut().zip(x) {
            *dst = ((v - mf) / df).round().clamp(0.0, 255.0) as u8;
        }
    }
    Block { d, m, q }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PackError {
    #[error("{rows}x{cols} needs {expected} values or bytes, the file holds {found}")]
    Size {
        rows: usize,
        cols: usize,
        expected: usize,
        found: usize,
    },
    #[error("parts of one stack have {0} and {1} columns")]
    Columns(usize, usize),
}

/// A packed weight matrix: `rows` outputs of `cols` inputs.
pub(crate) struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub kind: Kind,
    /// Blocks per row (quantised kinds).
    pub blocks: usize,
    /// Per group, per block: the 16 rows' values (see `pack_block`).
    pub quants: Vec<u8>,
    /// Per group, per block: 16 f16 scales, then 16 f16 minimums.
    pub scales: Vec<u16>,
    /// Row-major values of an F32 matrix.
    pub dense: Vec<f32>,
}

impl Matrix {
    /// Packs `parts` stacked by rows into one matrix of their widest kind (conversions between
    /// kinds are exact).
    pub(crate) fn pack(parts: &[Part<'_>]) -> Result<Matrix, PackError> {
        let cols = parts.first().map_or(0, |p| p.cols);
        for p in parts {
            if p.cols != cols {
                return Err(PackError::Columns(cols, p.cols));
            }
            let (expected, found) = (p.expected_len(), p.len());
            if expected != found || (p.natural_kind() != Kind::F32 && p.cols % BLOCK != 0) {
                return Err(PackError::Size {
                    rows: p.rows,
                    cols: p.cols,
                    expected,
                    found,
                });
            }
        }
        let kind = parts
            .iter()
            .map(Part::natural_kind)
            .max()
            .unwrap_or(Kind::F32);
        let rows: usize = parts.iter().map(|p| p.rows).sum();
        // Global row index -> (part, row within it).
        let mut owner = Vec::with_capacity(rows);
        for (i, p) in parts.iter().enumerate() {
            owner.extend((0..p.rows).map(|r| (i, r)));
        }
        let mut m = Matrix {
            rows,
            cols,
            kind,
            blocks: cols / BLOCK,
            quants: Vec::new(),
            scales: Vec::new(),
            dense: Vec::new(),
        };
        if kind == Kind::F32 {
            m.dense = vec![0.0; rows * cols];
            for (r, out) in m.dense.chunks_exact_mut(cols.max(1)).enumerate() {
                let (i, pr) = owner[r];
                parts[i].row(pr, out);
            }
            return Ok(m);
        }
        let groups = rows.div_ceil(GROUP);
        m.quants = vec![0; groups * m.blocks * kind.group_block_bytes()];
        m.scales = vec![0; groups * m.blocks * 2 * GROUP];
        let empty = Block {
            d: f16::ZERO,
            m: f16::ZERO,
            q: [0; BLOCK],
        };
        for g in 0..groups {
            for b in 0..m.blocks {
                let blocks: [Block; GROUP] =
                    std::array::from_fn(|lane| match owner.get(g * GROUP + lane) {
                        Some(&(i, pr)) => parts[i].block(pr, b),
                        None => empty,
                    });
                let at = g * m.blocks + b;
                let bytes = kind.group_block_bytes();
                pack_block(kind, &blocks, &mut m.quants[at * bytes..(at + 1) * bytes]);
                let scales = &mut m.scales[at * 2 * GROUP..(at + 1) * 2 * GROUP];
                for (lane, block) in blocks.iter().enumerate() {
                    scales[lane] = block.d.to_bits();
                    scales[GROUP + lane] = block.m.to_bits();
                }
            }
        }
        Ok(m)
    }

    pub(crate) fn groups(&self) -> usize {
        self.rows.div_ceil(GROUP)
    }

    /// Row `r` as f32 values (an embedding lookup).
    pub(crate) fn row(&self, r: usize, out: &mut [f32]) {
        if self.kind == Kind::F32 {
            out.copy_from_slice(&self.dense[r * self.cols..][..self.cols]);
            return;
        }
        let (g, lane) = (r / GROUP, r % GROUP);
        let bytes = self.kind.group_block_bytes();
        for (b, chunk) in out.chunks_exact_mut(BLOCK).enumerate() {
            let at = g * self.blocks + b;
            let quants = &self.quants[at * bytes..(at + 1) * bytes];
            let scales = &self.scales[at * 2 * GROUP..];
            let d = f16::from_bits(scales[lane]).to_f32();
            let m = f16::from_bits(scales[GROUP + lane]).to_f32();
            for (c, o) in chunk.iter_mut().enumerate() {
                *o = d * f32::from(unpacked(self.kind, quants, lane, c)) + m;
            }
        }
    }
}

/// Lays out 16 rows' block so that 64-byte load `k` holds, for each row (lane), 4 consecutive
/// values: Q8 load `k` covers values `4k..4k+4`; Q4 load `k` holds values `4k..4k+4` in its low
/// nibbles and `16+4k..16+4k+4` in its high nibbles (GGUF's own split of a Q4 block).
fn pack_block(kind: Kind, rows: &[Block], out: &mut [u8]) {
    for (lane, block) in rows.iter().enumerate() {
        for c in 0..4 {
            match kind {
                Kind::Q8 | Kind::F32 => {
                    for k in 0..8 {
                        out[k * 64 + lane * 4 + c] = block.q[4 * k + c];
                    }
                }
                Kind::Q4 => {
                    for k in 0..4 {
                        out[k * 64 + lane * 4 + c] =
                            block.q[4 * k + c] | (block.q[16 + 4 * k + c] << 4);
                    }
                }
            }
        }
    }
}

/// Value `c` of row `lane` in one packed group block.
pub(crate) fn unpacked(kind: Kind, quants: &[u8], lane: usize, c: usize) -> u8 {
    match kind {
        Kind::Q8 | Kind::F32 => quants[(c / 4) * 64 + lane * 4 + c % 4],
        Kind::Q4 => {
            let byte = quants[((c % 16) / 4) * 64 + lane * 4 + c % 4];
            if c < 16 {
                byte & 0x0f
            } else {
                byte >> 4
            }
        }
    }
}

/// Activations of `tokens` rows, quantised to signed 8 bits per 32-value block, with each
/// block's scale and the sum of its quantised values (for the weights' minimum).
///
/// The sum is that of the quantised values, not of the exact ones: then a product is exactly
/// that of the dequantised weights and activations, and its error is `Σ w·(x − x̂)`. With the
/// exact sum it would be `Σ (w − m)·(x − x̂)`, where `w − m` is never negative and much larger
/// than the centred `w` (on one prompt of the default model, the logits' cosine distance from a
/// float reference was 1.4e-3 with the exact sum and 4.8e-4 with this one).
#[derive(Default)]
pub(crate) struct Acts {
    pub tokens: usize,
    pub cols: usize,
    pub blocks: usize,
    pub q: Vec<i8>,
    pub scale: Vec<f32>,
    /// Per block: `scale · Σ q`, the activations' sum as the minimum term needs it.
    pub sum: Vec<f32>,
    /// Per block: `Σ q` in integers (the AVX2 kernel's shift of 8-bit weights).
    pub isum: Vec<i32>,
}

impl Acts {
    /// Quantises `x` (`tokens` rows of `cols`) into this buffer, reusing its memory.
    pub(crate) fn quantize(&mut self, x: &[f32], cols: usize) {
        let tokens = x.len() / cols.max(1);
        let blocks = cols / BLOCK;
        self.tokens = tokens;
        self.cols = cols;
        self.blocks = blocks;
        if !cols.is_multiple_of(BLOCK) {
            // Only F32 matrices take such widths, and they read the floats.
            return;
        }
        self.q.resize(tokens * cols, 0);
        self.scale.resize(tokens * blocks, 0.0);
        self.sum.resize(tokens * blocks, 0.0);
        self.isum.resize(tokens * blocks, 0);
        for (i, chunk) in x.chunks_exact(BLOCK).enumerate() {
            let amax = chunk.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
            let mut total = 0i32;
            for (q, v) in self.q[i * BLOCK..(i + 1) * BLOCK].iter_mut().zip(chunk) {
                *q = (v * inv).round() as i8;
                total += i32::from(*q);
            }
            self.scale[i] = d;
            self.sum[i] = d * total as f32;
            self.isum[i] = total;
        }
    }
}

/// Seeded test inputs shared by the CPU runtime's tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn seeded(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Q4_1 bytes for `rows x cols` random nibbles and scales.
    pub(crate) fn q4_1_bytes(rows: usize, cols: usize, seed: u64) -> Vec<u8> {
        let noise = seeded(rows * cols / BLOCK * 18, seed);
        let mut out = Vec::new();
        for block in noise.chunks_exact(18) {
            out.extend(f16::from_f32(block[0].abs() * 0.05).to_bits().to_le_bytes());
            out.extend(f16::from_f32(block[1] * 0.1).to_bits().to_le_bytes());
            for v in &block[2..] {
                out.push(((v + 1.0) * 127.9) as u8);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::{q4_1_bytes, seeded};
    use super::*;

    #[test]
    fn every_source_unpacks_to_its_own_values() {
        let (rows, cols) = (21, 64);
        let q41 = q4_1_bytes(rows, cols, 1);
        let mut q80 = Vec::new();
        for (i, v) in seeded(rows * cols / BLOCK * 33, 2)
            .chunks_exact(33)
            .enumerate()
        {
            q80.extend(
                f16::from_f32(0.01 + i as f32 * 1e-4)
                    .to_bits()
                    .to_le_bytes(),
            );
            q80.extend(v[1..].iter().map(|x| (x * 127.0) as i8 as u8));
        }
        let mut q40 = Vec::new();
        for v in q41.chunks_exact(20) {
            q40.extend(&v[..2]);
            q40.extend(&v[4..]);
        }
        for source in [Source::Q4_0(&q40), Source::Q4_1(&q41), Source::Q8_0(&q80)] {
            let part = Part { rows, cols, source };
            let m = Matrix::pack(std::slice::from_ref(&part)).unwrap();
            let (mut want, mut got) = (vec![0.0; cols], vec![0.0; cols]);
            for r in 0..rows {
                part.row(r, &mut want);
                m.row(r, &mut got);
                assert_eq!(want, got, "row {r}");
            }
        }
    }

    #[test]
    fn a_stack_takes_the_widest_kind_without_changing_a_value() {
        let (cols, q41) = (32, q4_1_bytes(3, 32, 3));
        let dense = seeded(5 * cols, 4);
        let parts = [
            Part {
                rows: 3,
                cols,
                source: Source::Q4_1(&q41),
            },
            Part {
                rows: 5,
                cols,
                source: Source::Dense {
                    values: &dense,
                    exact: true,
                },
            },
        ];
        let m = Matrix::pack(&parts).unwrap();
        assert_eq!((m.kind, m.rows), (Kind::F32, 8));
        let mut got = vec![0.0; cols];
        m.row(4, &mut got);
        assert_eq!(got, dense[cols..2 * cols]);
        let mut want = vec![0.0; cols];
        parts[0].row(2, &mut want);
        m.row(2, &mut got);
        assert_eq!(got, want);
    }

    #[test]
    fn requantised_rows_stay_within_half_a_step() {
        let values = seeded(4 * 64, 5);
        let part = Part {
            rows: 4,
            cols: 64,
            source: Source::Dense {
                values: &values,
                exact: false,
            },
        };
        let m = Matrix::pack(std::slice::from_ref(&part)).unwrap();
        assert_eq!(m.kind, Kind::Q8);
        let mut got = vec![0.0; 64];
        for r in 0..4 {
            m.row(r, &mut got);
            for (g, w) in got.iter().zip(&values[r * 64..]) {
                assert!((g - w).abs() < 2.0 / 255.0 + 1e-3, "{g} vs {w}");
            }
        }
    }

    #[test]
    fn a_short_file_is_named_by_size() {
        let q41 = q4_1_bytes(2, 32, 6);
        let part = Part {
            rows: 3,
            cols: 32,
            source: Source::Q4_1(&q41),
        };
        let err = Matrix::pack(&[part]).err().unwrap().to_string();
        assert!(
            err.contains("needs 60") && err.contains("holds 40"),
            "{err}"
        );
    }
}
