//! f32 matrix products on AVX-512 or AVX2 + FMA for training.
//!
//! The gemm crate candle uses runs its AVX2 kernel on stable Rust (its AVX-512 kernels need a
//! nightly feature), and that kernel was half of a LoRA training step. This is the textbook
//! blocked product: B is packed in strips of 32 columns per block of at most 320 depths (shared by
//! the threads), and a 12×32 micro-kernel keeps its 24 accumulators in registers, one broadcast of
//! A feeding two fused multiply-adds. AVX2 has 16 registers of 8 floats, so its kernel takes the
//! same 12×32 tile as four 6×16 quarters (12 accumulators, two loads of B and six broadcasts of A
//! per depth); the packing, blocking and threading are shared. Each thread takes one equal range of rows; a row-major A is
//! read in place, 12 rows at a time, any other A packed a panel at a time. Operands are strided
//! views, so transposed operands (attention's `Kᵀ`, a gradient's `dYᵀ`) need no copy of their own.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::kernels::{best, Isa};

/// Rows of A per micro-kernel call.
const MR: usize = 12;
/// Columns of B per micro-kernel call: two 16-float registers.
const NR: usize = 32;
/// Most depths in one packed block: a strip of B (up to 40 KB) stays in the 48 KB L1 cache.
const KC_MAX: usize = 320;
/// Most columns of B one pass over a job's rows meets.
const NC_MAX: usize = 1024;
/// Rows of A one job packs and multiplies against every strip of B.
const MC: usize = 96;

/// Whether this CPU runs the products of this module (AVX-512, or AVX2 with FMA).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        matches!(best(), Isa::Avx512 | Isa::Avx2)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The instruction set this module's products run on here, in words (`None` where they do not).
pub fn instruction_set() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        match best() {
            Isa::Avx512 => Some("AVX-512"),
            Isa::Avx2 => Some("AVX2 + FMA"),
            Isa::Portable => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// A matrix read through strides: element `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> View<'a> {
        View {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, without a copy.
    pub fn t(self) -> View<'a> {
        View {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Panics (a caller's bug, not bad input) when an element lies outside `data`.
    fn check(&self, what: &str) {
        if self.rows > 0 && self.cols > 0 {
            // Checked arithmetic: a wrapped sum must not pass the bounds test.
            let last = (self.rows - 1)
                .checked_mul(self.rs)
                .and_then(|r| (self.cols - 1).checked_mul(self.cs)?.checked_add(r))
                .unwrap_or(usize::MAX);
            assert!(
                self.data.len() > last,
                "{what} holds {} values, its {}×{} view reaches {last}",
                self.data.len(),
                self.rows,
                self.cols
            );
        }
    }

    pub(crate) fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// How many depths each packed block of a product over `k` depths holds: equal blocks of at
/// most `KC_MAX` (576 depths are two blocks of 288, not 256 and a short 64).
fn block_depth(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC_MAX).max(1)).max(1)
}

/// B packed for the micro-kernel: per block of `kc` depths, strips of `NR` columns, each
/// `[depth][NR]` (columns past `n` are zero). A frozen weight can be packed once and reused.
pub struct PackedB {
    k: usize,
    n: usize,
    kc: usize,
    data: Vec<f32>,
    /// The instruction set its products run on (AVX-512 or AVX2, which this CPU has).
    #[cfg(target_arch = "x86_64")]
    isa: Isa,
}

impl PackedB {
    /// Packs `b` (`k × n`). `None` when this CPU has neither AVX-512 nor AVX2 + FMA. A
    /// row-major `[n, k]` weight W is packed as Wᵀ with `View::rows(w, n, k).t()`.
    pub fn new(b: View) -> Option<PackedB> {
        #[cfg(target_arch = "x86_64")]
        {
            PackedB::for_isa(b, best())
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = b;
            None
        }
    }

    /// Packs `b` for the products of `isa` (`None` unless it is AVX-512 or AVX2, which the
    /// tests use to run every kernel this CPU has).
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn for_isa(b: View, isa: Isa) -> Option<PackedB> {
        if !matches!(isa, Isa::Avx512 | Isa::Avx2) || !super::kernels::runnable().contains(&isa) {
            return None;
        }
        b.check("b");
        let (k, n) = (b.rows, b.cols);
        let kc = block_depth(k);
        let strips = n.div_ceil(NR);
        let mut data = vec![0.0f32; k * strips * NR];
        if data.is_empty() {
            return Some(PackedB {
                k,
                n,
                kc,
                data,
                isa,
            });
        }
        let pack = |(block, packed): (usize, &mut [f32])| {
            let (k0, kc) = (block * kc, packed.len() / (strips * NR));
            for (s, strip) in packed.chunks_exact_mut(kc * NR).enumerate() {
                let cols = (n - s * NR).min(NR);
                // Read along B's contiguous direction; the strip (kc·NR floats) stays in L1
                // for the strided writes. (Reading across a transposed weight cost a cache
                // miss per value.)
                if b.rs <= b.cs {
                    for j in 0..cols {
                        for kk in 0..kc {
                            strip[kk * NR + j] = b.at(k0 + kk, s * NR + j);
                        }
                    }
                } else {
                    for (kk, row) in strip.chunks_exact_mut(NR).enumerate() {
                        for (j, v) in row[..cols].iter_mut().enumerate() {
                            *v = b.at(k0 + kk, s * NR + j);
                        }
                    }
                }
            }
        };
        if k * n >= 1 << 16 {
            data.par_chunks_mut(kc * strips * NR)
                .enumerate()
                .for_each(pack);
        } else {
            data.chunks_mut(kc * strips * NR).enumerate().for_each(pack);
        }
        Some(PackedB {
            k,
            n,
            kc,
            data,
            isa,
        })
    }

    /// Depths (rows of B).
    pub fn depth(&self) -> usize {
        self.k
    }

    /// Columns of B.
    pub fn width(&self) -> usize {
        self.n
    }

    /// Row `k` of B (its `width()` values) read back from the packing into `out`.
    pub fn row(&self, k: usize, out: &mut [f32]) {
        assert!(k < self.k, "row {k} of a packed B of depth {}", self.k);
        let strips = self.n.div_ceil(NR);
        // Every block before `k`'s holds `kc` depths; its own may be the short last one.
        let k0 = k / self.kc * self.kc;
        let kc = self.kc.min(self.k - k0);
        let block = &self.data[k0 * strips * NR..];
        for (j, v) in out[..self.n].iter_mut().enumerate() {
            *v = block[(j / NR) * kc * NR + (k - k0) * NR + j % NR];
        }
    }
}

/// Where a product's rows are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// On the calling thread (the caller already runs jobs in parallel).
    One,
    /// Split into one contiguous range of rows per rayon thread.
    All,
}

/// `c = a · b`, or `c += a · b` with `accumulate`, where `c` is `a.rows × b.width()` with row
/// stride `ldc`. Panics when the shapes disagree (a caller's bug).
pub fn gemm(a: View, b: &PackedB, c: &mut [f32], ldc: usize, accumulate: bool, threads: Threads) {
    assert_eq!(
        a.cols, b.k,
        "a is {}×{}, b has depth {}",
        a.rows, a.cols, b.k
    );
    gemm_part(a, b, b.n, c, ldc, accumulate, threads);
}

/// `c (+)= a · b[..a.cols, ..n]`: the first `a.cols` depths and `n` columns of a packed `b`
/// (attention's values and keys up to a query block, packed once per head).
pub fn gemm_part(
    a: View,
    b: &PackedB,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    threads: Threads,
) {
    let (m, k) = (a.rows, a.cols);
    assert!(n <= b.n, "{n} columns of a packed B of {}", b.n);
    assert!(k <= b.k, "a is {}×{k}, b has depth {}", a.rows, b.k);
    a.check("a");
    assert!(ldc >= n, "c's row stride {ldc} is under its width {n}");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        c.len() >= (m - 1) * ldc + n,
        "c holds {} values, not {m} rows of {ldc}",
        c.len()
    );
    if k == 0 {
        if !accumulate {
            c.chunks_mut(ldc).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    let parts = match threads {
        Threads::One => 1,
        Threads::All => rayon::current_num_threads().min(m.div_ceil(MR)).max(1),
    };
    // Equal ranges in whole panels: 1,024 rows on two threads are 516 and 508, where chunks of
    // MC rows (six against five) left one thread idle a twelfth of the time.
    let rows_per = m.div_ceil(parts).div_ceil(MR) * MR;
    if parts == 1 {
        rows_job(a, b, n, c, ldc, accumulate, 0, m);
        return;
    }
    c.par_chunks_mut(rows_per * ldc)
        .enumerate()
        .for_each(|(part, c)| {
            let r0 = part * rows_per;
            rows_job(a, b, n, c, ldc, accumulate, r0, (r0 + rows_per).min(m));
        });
}

/// How the micro-kernel reads a panel of A: straight from A when a full panel's rows are
/// contiguous (packing such an A cost a tenth of a training step, element by element), else
/// from a packed copy (for a transposed A, a copy of 12 contiguous values per depth, which
/// reads better than the scattered lines of the panel itself).
enum PanelSource {
    /// Element `(i, kk)` at `i·rs + kk` from the panel's first element.
    Rows { rs: usize },
    /// Element `(i, kk)` at `i + kk·cs` (a packed panel is this with `cs = MR`).
    Columns { cs: usize },
}

/// Rows `r0..r1` of the product into `c`, whose first row is row `r0`.
#[allow(clippy::too_many_arguments)]
fn rows_job(
    a: View,
    b: &PackedB,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    r0: usize,
    r1: usize,
) {
    let (k, kc_full) = (a.cols, b.kc);
    // The packing's layout counts all of B's strips and depths; the product uses the first `n`
    // columns and `a.cols` depths.
    let layout_strips = b.n.div_ceil(NR);
    let strips = n.div_ceil(NR);
    let mut packed_a = vec![0.0f32; MR * kc_full];
    // Strips per column block: equal blocks of at most NC_MAX columns, so the part of B that
    // every row block of this job meets stays in L2 (a vocabulary-wide B block is 56 MB).
    let block_strips = strips.div_ceil(strips.div_ceil(NC_MAX / NR));
    for k0 in (0..k).step_by(kc_full) {
        // A strip of this block holds `layout_kc` depths; the product reads the first `kc`.
        let layout_kc = kc_full.min(b.k - k0);
        let kc = layout_kc.min(k - k0);
        let packed_b = &b.data[k0 * layout_strips * NR..(k0 + layout_kc) * layout_strips * NR];
        for s0 in (0..strips).step_by(block_strips) {
            // The block of B this job meets next, fetched into cache a slice per panel of this
            // one, so that it is not read from memory at the pace of its first panel (which cost
            // a tenth of a product whose B is not in cache).
            let upcoming = next_block(b, (k, n, kc_full, block_strips), (k0, s0));
            let panels = (r1 - r0).div_ceil(MR).max(1);
            let slice = upcoming.map_or(0, |u| u.len().div_ceil(panels));
            for m0 in (r0..r1).step_by(MC) {
                let rows = MC.min(r1 - m0);
                for i in 0..rows.div_ceil(MR) {
                    let first = m0 + i * MR;
                    if let Some(upcoming) = upcoming {
                        let from = ((first - r0) / MR * slice).min(upcoming.len());
                        prefetch(&upcoming[from..(from + slice).min(upcoming.len())]);
                    }
                    let live = (rows - i * MR).min(MR);
                    let (panel, source): (&[f32], PanelSource) = if live == MR && a.cs == 1 {
                        (&a.data[first * a.rs + k0..], PanelSource::Rows { rs: a.rs })
                    } else {
                        pack_a(a, first, live, k0, kc, &mut packed_a[..MR * kc]);
                        (&packed_a[..MR * kc], PanelSource::Columns { cs: MR })
                    };
                    for s in s0..strips.min(s0 + block_strips) {
                        let strip = &packed_b[s * layout_kc * NR..][..kc * NR];
                        let tile = Tile {
                            rows: live,
                            cols: (n - s * NR).min(NR),
                            at: (first - r0) * ldc + s * NR,
                            stride: ldc,
                        };
                        let add = accumulate || k0 > 0;
                        // The first panel to meet a block of B reads it from memory: it
                        // prefetches the next strip while multiplying this one.
                        let next = (m0 == r0 && i == 0 && s + 1 < strips.min(s0 + block_strips))
                            .then(|| &packed_b[(s + 1) * layout_kc * NR..][..kc * NR]);
                        let (rows_a, stride) = match source {
                            PanelSource::Rows { rs } => (true, rs),
                            PanelSource::Columns { cs } => (false, cs),
                        };
                        // SAFETY: a `PackedB` exists only for an instruction set this CPU runs
                        // (`for_isa`); the strip holds kc·NR values; the panel's 12 rows and kc
                        // depths lie inside A (`a.check` and the `live == MR` tests above) or
                        // the packed copy; the tile lies inside `c` (clipped).
                        unsafe {
                            run_micro(
                                b,
                                rows_a,
                                (panel.as_ptr(), stride),
                                (strip, next),
                                kc,
                                c,
                                tile,
                                add,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The packed data of the block of B that follows block `(k0, s0)` in `rows_job`'s order (the
/// next column block at this depth, else the first at the next depth), or `None` after the last.
fn next_block(
    b: &PackedB,
    (k, n, kc_full, block_strips): (usize, usize, usize, usize),
    (k0, s0): (usize, usize),
) -> Option<&[f32]> {
    let strips = n.div_ceil(NR);
    let layout_strips = b.n.div_ceil(NR);
    let (k0, s0) = if s0 + block_strips < strips {
        (k0, s0 + block_strips)
    } else {
        (k0 + kc_full, 0)
    };
    if k0 >= k {
        return None;
    }
    let layout_kc = kc_full.min(b.k - k0);
    let start = k0 * layout_strips * NR + s0 * layout_kc * NR;
    let len = (strips.min(s0 + block_strips) - s0) * layout_kc * NR;
    b.data.get(start..start + len)
}

/// Asks for `values` to be brought into the L2 cache, a cache line at a time.
fn prefetch(values: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks(16) {
        // SAFETY: a prefetch never faults, and the address is inside `values`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(
                line.as_ptr() as *const i8
            )
        };
    }
}

/// Packs rows `first..first+live` and depths `k0..k0+kc` of `a` as one panel `[depth][MR]`
/// (rows past `live` are zero).
fn pack_a(a: View, first: usize, live: usize, k0: usize, kc: usize, panel: &mut [f32]) {
    if live < MR {
        panel.fill(0.0);
    }
    if a.rs == 1 {
        for (kk, to) in panel.chunks_exact_mut(MR).enumerate() {
            let from = first + (k0 + kk) * a.cs;
            to[..live].copy_from_slice(&a.data[from..from + live]);
        }
        return;
    }
    for kk in 0..kc {
        for r in 0..live {
            panel[kk * MR + r] = a.at(first + r, k0 + kk);
        }
    }
}

/// `c[m×n] = a[m×k] · b` for a row-major `a`; `None` when this CPU lacks AVX-512.
pub fn product(a: &[f32], (m, k): (usize, usize), b: View) -> Option<Vec<f32>> {
    assert_eq!(b.rows, k, "a has {k} columns, b {} rows", b.rows);
    let packed = PackedB::new(b)?;
    Some(product_packed(a, m, &packed))
}

/// `c[m×n] = a[m×k] · B` with B packed and a row-major `a`; rows split across rayon's threads.
pub fn product_packed(a: &[f32], m: usize, b: &PackedB) -> Vec<f32> {
    let mut c = vec![0.0f32; m * b.n];
    gemm(View::rows(a, m, b.k), b, &mut c, b.n, false, Threads::All);
    c
}

/// Where element `(row, kk)` of a micro-kernel's A panel lies: `row·stride + kk` for A read by
/// rows, `row + kk·stride` by columns (both kernels share it).
#[inline(always)]
fn a_index<const ROWS: bool>(row: usize, kk: usize, stride: usize) -> usize {
    if ROWS {
        row * stride + kk
    } else {
        row + kk * stride
    }
}

/// Where one micro-kernel's block of C lies.
struct Tile {
    rows: usize,
    cols: usize,
    at: usize,
    stride: usize,
}

/// The micro-kernel of `b`'s instruction set, for an A read by rows (`rows_a`) or by columns.
///
/// # Safety
/// As [`micro`], for `b.isa`, which the CPU must run.
#[allow(clippy::too_many_arguments)]
unsafe fn run_micro(
    b: &PackedB,
    rows_a: bool,
    (a, stride): (*const f32, usize),
    (strip, next): (&[f32], Option<&[f32]>),
    kc: usize,
    c: &mut [f32],
    tile: Tile,
    add: bool,
) {
    #[cfg(target_arch = "x86_64")]
    match (b.isa, rows_a) {
        (Isa::Avx512, true) => micro::<true>(a, stride, strip, next, kc, c, tile, add),
        (Isa::Avx512, false) => micro::<false>(a, stride, strip, next, kc, c, tile, add),
        (_, true) => avx2::micro::<true>(a, stride, strip, kc, c, tile, add),
        (_, false) => avx2::micro::<false>(a, stride, strip, kc, c, tile, add),
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (b, rows_a, a, stride, strip, next, kc, c, tile, add);
        unreachable!("PackedB::new returns None off x86-64")
    }
}

/// # Safety
/// The CPU must have AVX-512 F; A's element `(i, kk)` for `i < MR`, `kk < kc` is at
/// `a + i·stride + kk` (`ROWS`) or `a + i + kk·stride` and readable; `strip` holds `kc·NR`
/// values, and `next` (prefetched, never read) at least as many; the tile's clipped rows and
/// columns lie inside `c`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn micro<const ROWS: bool>(
    a: *const f32,
    stride: usize,
    strip: &[f32],
    next: Option<&[f32]>,
    kc: usize,
    c: &mut [f32],
    tile: Tile,
    add: bool,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let pb = strip.as_ptr();
    if let Some(next) = next {
        // Two cache lines of the next strip per depth: all of it by the end of this one.
        let pn = next.as_ptr() as *const i8;
        for kk in 0..kc {
            _mm_prefetch::<_MM_HINT_T0>(pn.add(kk * NR * 4));
            _mm_prefetch::<_MM_HINT_T0>(pn.add(kk * NR * 4 + 64));
            micro_step::<ROWS>(a, stride, pb, kk, &mut acc);
        }
    } else {
        for kk in 0..kc {
            micro_step::<ROWS>(a, stride, pb, kk, &mut acc);
        }
    }
    store_tile(acc, c, tile, add);
}

/// One depth of the micro-kernel: 24 fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn micro_step<const ROWS: bool>(
    a: *const f32,
    stride: usize,
    pb: *const f32,
    kk: usize,
    acc: &mut [[std::arch::x86_64::__m512; 2]; MR],
) {
    use std::arch::x86_64::*;
    let b0 = _mm512_loadu_ps(pb.add(kk * NR));
    let b1 = _mm512_loadu_ps(pb.add(kk * NR + 16));
    for (i, row) in acc.iter_mut().enumerate() {
        let a = _mm512_set1_ps(*a.add(a_index::<ROWS>(i, kk, stride)));
        row[0] = _mm512_fmadd_ps(a, b0, row[0]);
        row[1] = _mm512_fmadd_ps(a, b1, row[1]);
    }
}

/// Writes (or with `add`, adds) the accumulators into the tile of `c`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store_tile(
    acc: [[std::arch::x86_64::__m512; 2]; MR],
    c: &mut [f32],
    tile: Tile,
    add: bool,
) {
    use std::arch::x86_64::*;
    let mask = |cols: usize| -> __mmask16 {
        if cols >= 16 {
            0xffff
        } else {
            (1u16 << cols) - 1
        }
    };
    let masks = [mask(tile.cols), mask(tile.cols.saturating_sub(16))];
    for (i, row) in acc.iter().enumerate().take(tile.rows) {
        let p = c.as_mut_ptr().add(tile.at + i * tile.stride);
        for (half, (&v, &m)) in row.iter().zip(&masks).enumerate() {
            if m == 0 {
                // Not even a pointer past the tile's end is formed.
                continue;
            }
            let p = p.add(16 * half);
            let v = if add {
                _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, p))
            } else {
                v
            };
            _mm512_mask_storeu_ps(p, m, v);
        }
    }
}

/// The AVX2 + FMA micro-kernel: the 12×32 tile as four 6×16 quarters, each over every depth
/// with its 12 accumulators in registers.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Tile, MR, NR};
    use std::arch::x86_64::*;

    /// Rows and columns of one quarter.
    const QR: usize = 6;
    const QC: usize = 16;

    /// # Safety
    /// The CPU must have AVX2 and FMA; A, the strip and the tile as for the AVX-512 kernel.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn micro<const ROWS: bool>(
        a: *const f32,
        stride: usize,
        strip: &[f32],
        kc: usize,
        c: &mut [f32],
        tile: Tile,
        add: bool,
    ) {
        let pb = strip.as_ptr();
        for r0 in (0..MR).step_by(QR) {
            if r0 >= tile.rows {
                break;
            }
            for c0 in (0..NR).step_by(QC) {
                if c0 >= tile.cols {
                    break;
                }
                let mut acc = [[_mm256_setzero_ps(); 2]; QR];
                for kk in 0..kc {
                    let b0 = _mm256_loadu_ps(pb.add(kk * NR + c0));
                    let b1 = _mm256_loadu_ps(pb.add(kk * NR + c0 + 8));
                    for (i, row) in acc.iter_mut().enumerate() {
                        let at = super::a_index::<ROWS>(r0 + i, kk, stride);
                        let av = _mm256_set1_ps(*a.add(at));
                        row[0] = _mm256_fmadd_ps(av, b0, row[0]);
                        row[1] = _mm256_fmadd_ps(av, b1, row[1]);
                    }
                }
                store(&acc, c, &tile, (r0, c0), add);
            }
        }
    }

    /// Writes (or adds) one quarter's accumulators into the clipped tile of `c`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(
        acc: &[[__m256; 2]; QR],
        c: &mut [f32],
        tile: &Tile,
        (r0, c0): (usize, usize),
        add: bool,
    ) {
        let rows = tile.rows.saturating_sub(r0).min(QR);
        for (i, row) in acc.iter().enumerate().take(rows) {
            let at = tile.at + (r0 + i) * tile.stride + c0;
            for (half, &v) in row.iter().enumerate() {
                let first = c0 + 8 * half;
                if first >= tile.cols {
                    break;
                }
                let live = (tile.cols - first).min(8);
                let out = &mut c[at + 8 * half..at + 8 * half + live];
                if live == 8 {
                    let p = out.as_mut_ptr();
                    let v = if add {
                        _mm256_add_ps(v, _mm256_loadu_ps(p))
                    } else {
                        v
                    };
                    _mm256_storeu_ps(p, v);
                } else {
                    let mut lanes = [0f32; 8];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                    for (o, l) in out.iter_mut().zip(lanes) {
                        *o = if add { *o + l } else { l };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::matrix::tests_support::seeded;
    use super::*;

    /// `b` packed for every kernel this CPU runs (AVX-512 and AVX2 on a CPU with both), so each
    /// is held to the same references whichever the CPU would choose.
    fn packings(b: View) -> Vec<PackedB> {
        #[cfg(target_arch = "x86_64")]
        {
            [Isa::Avx512, Isa::Avx2]
                .into_iter()
                .filter_map(|isa| PackedB::for_isa(b, isa))
                .collect()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = b;
            Vec::new()
        }
    }

    #[test]
    fn every_kernel_this_cpu_runs_is_tested() {
        let b = seeded(4, 1);
        let n = packings(View::rows(&b, 2, 2)).len();
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let want = usize::from(has!("avx2") && has!("fma") && has!("f16c"))
                + usize::from(has!("avx512f") && has!("avx512bw") && has!("avx512vnni"));
            assert_eq!(n, want);
        }
        assert_eq!(available(), PackedB::new(View::rows(&b, 2, 2)).is_some());
    }

    /// Edges in every direction (rows and columns not multiples of the tile, a depth of two
    /// blocks and a bit), both stride layouts, against a float64 reference.
    #[test]
    fn products_match_a_reference() {
        if !available() {
            return;
        }
        for (m, k, n) in [(37, 300, 45), (100, 64, 33), (1, 7, 1), (13, 256, 32)] {
            let a = seeded(m * k, 1);
            let w = seeded(n * k, 2);
            let want = |strides: (usize, usize)| -> Vec<f32> {
                (0..m * n)
                    .map(|i| {
                        let (r, col) = (i / n, i % n);
                        (0..k)
                            .map(|kk| {
                                f64::from(a[r * k + kk])
                                    * f64::from(w[kk * strides.0 + col * strides.1])
                            })
                            .sum::<f64>() as f32
                    })
                    .collect()
            };
            // `w` as a row-major [n, k] weight (forward) and as a row-major [k, n] matrix.
            for strides in [(1, k), (n, 1)] {
                let b = View {
                    data: &w,
                    rows: k,
                    cols: n,
                    rs: strides.0,
                    cs: strides.1,
                };
                let want = want(strides);
                for packed in packings(b) {
                    let got = product_packed(&a, m, &packed);
                    for (g, r) in got.iter().zip(&want) {
                        assert!(
                            (g - r).abs() < 1e-4 * (1.0 + r.abs()),
                            "{:?} {m}×{k}×{n} {strides:?}: {g} vs {r}",
                            packed.isa
                        );
                    }
                }
            }
        }
    }

    /// Transposed and strided A, C inside a wider matrix (row stride past its width), adding to
    /// what C holds, on one thread and split, and column and depth prefixes of B (the depth
    /// prefix ending inside B's second packed block).
    #[test]
    fn views_accumulation_and_column_prefixes_match_a_reference() {
        if !available() {
            return;
        }
        let (m, k, n, ldc) = (50, 333, 70, 90);
        let a_t = seeded(k * m, 5); // Aᵀ row-major: A(i, kk) = a_t[kk·m + i]
        let b = seeded(k * n, 6);
        let start = seeded(m * ldc, 7);
        let a = View::rows(&a_t, k, m).t();
        for (packed, threads) in packings(View::rows(&b, k, n))
            .iter()
            .flat_map(|p| [(p, Threads::One), (p, Threads::All)])
        {
            for (cols, depth) in [(n, k), (37, k), (n, 200), (40, 100)] {
                let a = View { cols: depth, ..a };
                let mut c = start.clone();
                gemm_part(a, packed, cols, &mut c, ldc, true, threads);
                for i in 0..m {
                    for j in 0..ldc {
                        let want = if j < cols {
                            f64::from(start[i * ldc + j])
                                + (0..depth)
                                    .map(|kk| f64::from(a_t[kk * m + i]) * f64::from(b[kk * n + j]))
                                    .sum::<f64>()
                        } else {
                            f64::from(start[i * ldc + j])
                        };
                        let got = f64::from(c[i * ldc + j]);
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "({i}, {j}) {threads:?} {cols}×{depth}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// Every row read back from a packing equals the packed matrix's, for a width that is not
    /// a multiple of a strip and a depth whose last block is short, from both stride layouts.
    #[test]
    fn rows_read_back_from_a_packing() {
        if !available() {
            return;
        }
        let (k, n) = (700, 45);
        let b = seeded(k * n, 8);
        for view in [View::rows(&b, k, n), View::rows(&b, n, k).t()] {
            let packed = PackedB::new(view).expect("a packing");
            let mut row = vec![0f32; n];
            for kk in 0..k {
                packed.row(kk, &mut row);
                for (j, &got) in row.iter().enumerate() {
                    assert_eq!(got, view.at(kk, j), "({kk}, {j})");
                }
            }
        }
    }
}
