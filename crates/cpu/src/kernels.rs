//! Products of packed matrices with activations (AVX-512 VNNI where the CPU has it, portable Rust
//! elsewhere), and the small f32 vector loops of the forward pass.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::matrix::{unpacked, Acts, Kind, Matrix, BLOCK, GROUP};

/// Which implementation runs; the portable one is the reference the others are tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    Portable,
    /// AVX2 + FMA + F16C: Intel since Haswell, AMD since Zen.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512 F/BW/VNNI + FMA.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// Whether the environment variable `name` is set to `1`.
fn switched_off(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}

/// The fastest implementation this CPU runs, checked once. `LOGREASONER_NO_AVX512=1` acts as a
/// CPU without AVX-512 (to measure or test that case on one that has it), and
/// `LOGREASONER_NO_AVX2=1` as one without AVX2 either.
pub(crate) fn best() -> Isa {
    static BEST: OnceLock<Isa> = OnceLock::new();
    *BEST.get_or_init(|| {
        let runnable = runnable();
        let allowed = |isa: &Isa| match isa {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => !switched_off("LOGREASONER_NO_AVX2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                !switched_off("LOGREASONER_NO_AVX512") && !switched_off("LOGREASONER_NO_AVX2")
            }
        };
        runnable
            .into_iter()
            .rev()
            .find(allowed)
            .unwrap_or(Isa::Portable)
    })
}

/// Every implementation this CPU can run, slowest first, whatever the environment says: the
/// tests compare each of them with the portable one.
pub(crate) fn runnable() -> Vec<Isa> {
    #[allow(unused_mut)]
    let mut isas = vec![Isa::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") && has!("f16c") {
            isas.push(Isa::Avx2);
        }
        if has!("avx512f") && has!("avx512bw") && has!("avx512vnni") && has!("fma") {
            isas.push(Isa::Avx512);
        }
    }
    isas
}

/// A pointer to the output that row-group jobs write disjoint parts of.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: every job writes only the rows of its own groups.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// Tokens that share one unpacking of a weight block.
const TILE: usize = 4;

/// `out[t][r] = Σ_c w[r][c] · x[t][c]` for every token `t` of `x` (`acts` is `x` quantised,
/// used by quantised matrices). Row groups are split across rayon's threads.
pub(crate) fn matmul(w: &Matrix, x: &[f32], acts: &Acts, out: &mut [f32]) {
    matmul_with(best(), w, x, acts, out)
}

pub(crate) fn matmul_with(isa: Isa, w: &Matrix, x: &[f32], acts: &Acts, out: &mut [f32]) {
    let tokens = x.len() / w.cols.max(1);
    assert_eq!(out.len(), tokens * w.rows, "output size");
    if w.kind != Kind::F32 {
        assert_eq!(
            (acts.tokens, acts.cols),
            (tokens, w.cols),
            "activations quantised for another shape"
        );
    }
    let groups = w.groups();
    let threads = rayon::current_num_threads();
    // A few jobs per thread even out the threads' speeds; tiny products run inline.
    let per = groups.div_ceil(threads * 4).max(1);
    let jobs = groups.div_ceil(per);
    let out = Out(out.as_mut_ptr());
    let job = |j: usize| {
        let range = j * per..((j + 1) * per).min(groups);
        // SAFETY: `range` is this job's own groups; `out` holds `tokens * w.rows` values.
        unsafe { run_groups(isa, w, x, acts, tokens, range, out) }
    };
    if threads == 1 || jobs == 1 || groups * tokens * w.cols < 1 << 15 {
        (0..jobs).for_each(job);
    } else {
        (0..jobs).into_par_iter().for_each(job);
    }
}

/// # Safety
/// `out` must hold `tokens * w.rows` values, and no other job may write rows of `groups`.
unsafe fn run_groups(
    isa: Isa,
    w: &Matrix,
    x: &[f32],
    acts: &Acts,
    tokens: usize,
    groups: std::ops::Range<usize>,
    out: Out,
) {
    if w.kind == Kind::F32 {
        let rows = groups.start * GROUP..(groups.end * GROUP).min(w.rows);
        for r in rows {
            let row = &w.dense[r * w.cols..(r + 1) * w.cols];
            for t in 0..tokens {
                let value = dot_with(isa, row, &x[t * w.cols..(t + 1) * w.cols]);
                *out.0.add(t * w.rows + r) = value;
            }
        }
        return;
    }
    match isa {
        Isa::Portable => {
            for g in groups {
                portable_group(w, acts, g, out);
            }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => tiled(tiles!(avx2), w, acts, tokens, groups, out),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => tiled(tiles!(avx512), w, acts, tokens, groups, out),
    }
}

/// A kernel module's tiles for 1, 2, 3 and [`TILE`] tokens, as [`tiled`] takes them.
#[cfg(target_arch = "x86_64")]
macro_rules! tiles {
    ($kernel:ident) => {
        [
            $kernel::group_tile::<1>,
            $kernel::group_tile::<2>,
            $kernel::group_tile::<3>,
            $kernel::group_tile::<TILE>,
        ]
    };
}
#[cfg(target_arch = "x86_64")]
use tiles;

/// A SIMD kernel's product of one row group with tokens `t0..t0 + T` (`T` = 1 + its index in
/// [`tiled`]'s array).
#[cfg(target_arch = "x86_64")]
type Tile = unsafe fn(&Matrix, &Acts, usize, usize, *mut f32);

/// Runs `groups` through a kernel's tiles: [`TILE`] tokens at a time, the last few by the smaller
/// tile that fits.
///
/// # Safety
/// As for `run_groups`, and the CPU must have the tiles' instruction set.
#[cfg(target_arch = "x86_64")]
unsafe fn tiled(
    tiles: [Tile; TILE],
    w: &Matrix,
    acts: &Acts,
    tokens: usize,
    groups: std::ops::Range<usize>,
    out: Out,
) {
    for g in groups {
        let mut t0 = 0;
        while t0 < tokens {
            tiles[(tokens - t0).min(TILE) - 1](w, acts, g, t0, out.0);
            t0 += TILE;
        }
    }
}

/// One group of 16 rows for every token, in plain Rust.
///
/// # Safety
/// As for `run_groups`.
unsafe fn portable_group(w: &Matrix, acts: &Acts, g: usize, out: Out) {
    let bytes = w.kind.group_block_bytes();
    let mut acc = vec![[0.0f32; GROUP]; acts.tokens];
    let mut q = [[0u8; BLOCK]; GROUP];
    for b in 0..w.blocks {
        let at = g * w.blocks + b;
        let quants = &w.quants[at * bytes..(at + 1) * bytes];
        let scales = &w.scales[at * 2 * GROUP..(at + 1) * 2 * GROUP];
        for (lane, row) in q.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = unpacked(w.kind, quants, lane, c);
            }
        }
        for (t, acc) in acc.iter_mut().enumerate() {
            let a = &acts.q[(t * w.blocks + b) * BLOCK..][..BLOCK];
            let (da, sx) = (acts.scale[t * w.blocks + b], acts.sum[t * w.blocks + b]);
            for lane in 0..GROUP {
                let dot: i32 = q[lane]
                    .iter()
                    .zip(a)
                    .map(|(&w, &a)| i32::from(w) * i32::from(a))
                    .sum();
                let d = half::f16::from_bits(scales[lane]).to_f32();
                let m = half::f16::from_bits(scales[GROUP + lane]).to_f32();
                acc[lane] += d * da * dot as f32 + m * sx;
            }
        }
    }
    for (t, acc) in acc.iter().enumerate() {
        for (lane, v) in acc.iter().enumerate() {
            let r = g * GROUP + lane;
            if r < w.rows {
                *out.0.add(t * w.rows + r) = *v;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::super::matrix::{Acts, Kind, Matrix, BLOCK, GROUP};

    /// Rows per 256-bit register: a group's 16 rows are two halves.
    const HALF: usize = GROUP / 2;

    /// The AVX-512 kernel's algorithm on 256-bit registers: each half of group `g` (8 rows) times
    /// tokens `t0..t0+T`, every weight block unpacked once into eight registers and multiplied
    /// with each token's broadcast activations by `vpmaddubsw` + `vpmaddwd` (AVX2 has no
    /// `vpdpbusd`).
    ///
    /// `vpmaddubsw` adds pairs of u8·i8 products in saturating i16. Nibbles (≤ 15) cannot
    /// saturate; 8-bit values are taken as `w − 128` (|·| ≤ 128, so a pair is at most
    /// 2·128·127 = 32,512) and the shift is added back as 128 · the block's activation sum.
    ///
    /// # Safety
    /// The CPU must have AVX2, FMA and F16C; `out` must hold `acts.tokens * w.rows` values, and
    /// `t0 + T <= acts.tokens`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn group_tile<const T: usize>(
        w: &Matrix,
        acts: &Acts,
        g: usize,
        t0: usize,
        out: *mut f32,
    ) {
        let bytes = w.kind.group_block_bytes();
        let q4 = w.kind == Kind::Q4;
        let low = _mm256_set1_epi8(0x0f);
        let flip = _mm256_set1_epi8(i8::MIN);
        let ones = _mm256_set1_epi16(1);
        for h in 0..2 {
            let valid = (w.rows.saturating_sub(g * GROUP + h * HALF)).min(HALF);
            if valid == 0 {
                break;
            }
            let mut sums = [_mm256_setzero_ps(); T];
            for b in 0..w.blocks {
                let at = g * w.blocks + b;
                // Each 64-byte slice holds 4 bytes per row; this half's rows are its upper or lower 32.
                let qp = w.quants.as_ptr().add(at * bytes + h * 32);
                let sp = w.scales.as_ptr().add(at * 2 * GROUP + h * HALF);
                let d = _mm256_cvtph_ps(_mm_loadu_si128(sp as *const __m128i));
                let m = _mm256_cvtph_ps(_mm_loadu_si128(sp.add(GROUP) as *const __m128i));
                // `signed` holds the values as i8 (Q8) for their signs; `magnitude` is what
                // `vpmaddubsw` reads as unsigned.
                let mut signed = [_mm256_setzero_si256(); 8];
                let mut magnitude = [_mm256_setzero_si256(); 8];
                if q4 {
                    for k in 0..4 {
                        let v = _mm256_loadu_si256(qp.add(k * 64) as *const __m256i);
                        magnitude[k] = _mm256_and_si256(v, low);
                        magnitude[k + 4] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
                    }
                } else {
                    for k in 0..8 {
                        let v = _mm256_loadu_si256(qp.add(k * 64) as *const __m256i);
                        signed[k] = _mm256_xor_si256(v, flip);
                        magnitude[k] = _mm256_abs_epi8(signed[k]);
                    }
                }
                for (t, sum) in sums.iter_mut().enumerate() {
                    let tok = t0 + t;
                    let ap = acts.q.as_ptr().add((tok * w.blocks + b) * BLOCK) as *const i32;
                    let mut acc = _mm256_setzero_si256();
                    for k in 0..8 {
                        let mut a = _mm256_set1_epi32(ap.add(k).read_unaligned());
                        if !q4 {
                            a = _mm256_sign_epi8(a, signed[k]);
                        }
                        let pairs = _mm256_maddubs_epi16(magnitude[k], a);
                        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
                    }
                    if !q4 {
                        let shift = 128 * *acts.isum.get_unchecked(tok * w.blocks + b);
                        acc = _mm256_add_epi32(acc, _mm256_set1_epi32(shift));
                    }
                    let da = *acts.scale.get_unchecked(tok * w.blocks + b);
                    let sx = *acts.sum.get_unchecked(tok * w.blocks + b);
                    *sum = _mm256_fmadd_ps(
                        _mm256_cvtepi32_ps(acc),
                        _mm256_mul_ps(d, _mm256_set1_ps(da)),
                        *sum,
                    );
                    *sum = _mm256_fmadd_ps(m, _mm256_set1_ps(sx), *sum);
                }
            }
            let row0 = g * GROUP + h * HALF;
            for (t, sum) in sums.iter().enumerate() {
                let dst = out.add((t0 + t) * w.rows + row0);
                if valid == HALF {
                    _mm256_storeu_ps(dst, *sum);
                } else {
                    let mut tmp = [0.0f32; HALF];
                    _mm256_storeu_ps(tmp.as_mut_ptr(), *sum);
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, valid);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::super::matrix::{Acts, Kind, Matrix, BLOCK, GROUP};

    /// Group `g`'s 16 rows times tokens `t0..t0+T`: each weight block is unpacked once into eight
    /// registers (lane = row, 4 values each) and multiplied with every token's broadcast
    /// activations by `vpdpbusd`; scale and minimum are applied per block in f32.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/BW/VNNI; `out` must hold `acts.tokens * w.rows` values, and
    /// `t0 + T <= acts.tokens`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    pub(super) unsafe fn group_tile<const T: usize>(
        w: &Matrix,
        acts: &Acts,
        g: usize,
        t0: usize,
        out: *mut f32,
    ) {
        let bytes = w.kind.group_block_bytes();
        let q4 = w.kind == Kind::Q4;
        let low = _mm512_set1_epi8(0x0f);
        let mut sums = [_mm512_setzero_ps(); T];
        for b in 0..w.blocks {
            let at = g * w.blocks + b;
            let qp = w.quants.as_ptr().add(at * bytes);
            let sp = w.scales.as_ptr().add(at * 2 * GROUP);
            let d = _mm512_cvtph_ps(_mm256_loadu_si256(sp as *const __m256i));
            let m = _mm512_cvtph_ps(_mm256_loadu_si256(sp.add(GROUP) as *const __m256i));
            let mut wv = [_mm512_setzero_si512(); 8];
            if q4 {
                for k in 0..4 {
                    let v = _mm512_loadu_si512(qp.add(k * 64) as *const _);
                    wv[k] = _mm512_and_si512(v, low);
                    wv[k + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(v), low);
                }
            } else {
                for (k, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(qp.add(k * 64) as *const _);
                }
            }
            for (t, sum) in sums.iter_mut().enumerate() {
                let tok = t0 + t;
                let ap = acts.q.as_ptr().add((tok * w.blocks + b) * BLOCK) as *const i32;
                let mut acc = _mm512_setzero_si512();
                for (k, v) in wv.iter().enumerate() {
                    acc =
                        _mm512_dpbusd_epi32(acc, *v, _mm512_set1_epi32(ap.add(k).read_unaligned()));
                }
                let da = *acts.scale.get_unchecked(tok * w.blocks + b);
                let sx = *acts.sum.get_unchecked(tok * w.blocks + b);
                *sum = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(acc),
                    _mm512_mul_ps(d, _mm512_set1_ps(da)),
                    *sum,
                );
                *sum = _mm512_fmadd_ps(m, _mm512_set1_ps(sx), *sum);
            }
        }
        let valid = (w.rows - g * GROUP).min(GROUP);
        let mask: __mmask16 = if valid == GROUP {
            0xffff
        } else {
            (1u16 << valid) - 1
        };
        for (t, sum) in sums.iter().enumerate() {
            _mm512_mask_storeu_ps(out.add((t0 + t) * w.rows + g * GROUP), mask, *sum);
        }
    }
}

/// Generates a portable function, an AVX2 one and an AVX-512 one from one body; `$fma` picks fused
/// multiply-adds where the CPU has them (`mul_add` without hardware FMA is a slow libm call).
macro_rules! dispatched {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $body:ident) => {
        $(#[$doc])*
        pub(crate) fn $name(isa: Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body::<true>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,fma")]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                $body::<true>($($arg),*)
            }
            match isa {
                Isa::Portable => $body::<false>($($arg),*),
                // SAFETY: each `Isa` is only chosen on CPUs with its features.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { avx2($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe { avx512($($arg),*) },
            }
        }
    };
}

#[inline(always)]
pub(crate) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Sixteen partial sums, so the compiler can keep them in one vector register.
#[inline(always)]
pub(crate) fn dot_body<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let n = a.len().min(b.len()) / 16 * 16;
    for (ca, cb) in a[..n].chunks_exact(16).zip(b[..n].chunks_exact(16)) {
        for i in 0..16 {
            acc[i] = madd::<FMA>(ca[i], cb[i], acc[i]);
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in a[n..].iter().zip(&b[n..]) {
        s = madd::<FMA>(*x, *y, s);
    }
    s
}

dispatched!(
    /// `Σ a[i]·b[i]`.
    fn dot_with(a: &[f32], b: &[f32]) -> f32 = dot_body
);

#[cfg(test)]
mod tests {
    use super::super::matrix::tests_support::{q4_1_bytes, seeded};
    use super::super::matrix::{Part, Source};
    use super::*;

    fn reference(w: &Matrix, x: &[f32]) -> Vec<f32> {
        let tokens = x.len() / w.cols;
        let mut row = vec![0.0; w.cols];
        let mut out = vec![0.0; tokens * w.rows];
        for r in 0..w.rows {
            w.row(r, &mut row);
            for t in 0..tokens {
                out[t * w.rows + r] = row
                    .iter()
                    .zip(&x[t * w.cols..])
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    fn isas() -> Vec<Isa> {
        runnable()
    }

    /// Every kind, odd row counts (a partial last group) and token counts around the tile size
    /// agree with a float reference to within the activations' 8-bit rounding.
    #[test]
    fn products_match_a_float_reference() {
        for (kind_exact, rows, tokens) in [
            (None, 37, 1),
            (None, 48, 6),
            (Some(false), 21, 3),
            (Some(true), 19, 5),
        ] {
            let cols = 96;
            let q41 = q4_1_bytes(rows, cols, 9);
            let dense = seeded(rows * cols, 10);
            let source = match kind_exact {
                None => Source::Q4_1(&q41),
                Some(exact) => Source::Dense {
                    values: &dense,
                    exact,
                },
            };
            let w = Matrix::pack(&[Part { rows, cols, source }]).unwrap();
            let x = seeded(tokens * cols, 11);
            let mut acts = Acts::default();
            acts.quantize(&x, cols);
            let want = reference(&w, &x);
            let scale = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            for isa in isas() {
                let mut got = vec![f32::NAN; tokens * rows];
                matmul_with(isa, &w, &x, &acts, &mut got);
                for (g, r) in got.iter().zip(&want) {
                    assert!(
                        (g - r).abs() <= 0.02 * scale,
                        "{isa:?} {:?}: {g} vs {r}",
                        w.kind
                    );
                }
            }
        }
    }

    /// Both quantised kinds, a size that splits across threads, and a token count that leaves a
    /// partial tile.
    #[test]
    fn the_fast_kernel_equals_the_portable_one() {
        let (rows, cols, tokens) = (200, 1536, 7);
        let q41 = q4_1_bytes(rows, cols, 12);
        let dense = seeded(rows * cols, 14);
        for source in [
            Source::Q4_1(&q41),
            Source::Dense {
                values: &dense,
                exact: false,
            },
        ] {
            let w = Matrix::pack(&[Part { rows, cols, source }]).unwrap();
            let x: Vec<f32> = seeded(tokens * cols, 13)
                .iter()
                .map(|v| v * v * v * 30.0)
                .collect();
            let mut acts = Acts::default();
            acts.quantize(&x, cols);
            let mut want = vec![0.0; tokens * rows];
            matmul_with(Isa::Portable, &w, &x, &acts, &mut want);
            for isa in isas() {
                let mut got = vec![0.0; tokens * rows];
                matmul_with(isa, &w, &x, &acts, &mut got);
                for (i, (g, r)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - r).abs() <= 1e-4 * (1.0 + r.abs()),
                        "{isa:?} {:?} [{i}]: {g} vs {r}",
                        w.kind
                    );
                }
            }
        }
    }

    /// 8-bit weights at both ends of their range against full-scale activations of the same
    /// sign: the largest pairwise products, which AVX2's 16-bit pair sums must not saturate on.
    #[test]
    fn extreme_eight_bit_products_do_not_saturate() {
        let (rows, cols, tokens) = (24, 64, 5);
        let dense: Vec<f32> = (0..rows * cols)
            .map(|i| {
                if (i / 2 + i / cols) % 2 == 0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let w = Matrix::pack(&[Part {
            rows,
            cols,
            source: Source::Dense {
                values: &dense,
                exact: false,
            },
        }])
        .unwrap();
        assert_eq!(w.kind, Kind::Q8);
        let x: Vec<f32> = (0..tokens * cols)
            .map(|i| match (i / cols) % 3 {
                0 => dense[i % cols],
                1 => -dense[i % cols],
                _ => 1.0,
            })
            .collect();
        let mut acts = Acts::default();
        acts.quantize(&x, cols);
        let want = reference(&w, &x);
        for isa in isas() {
            let mut got = vec![f32::NAN; tokens * rows];
            matmul_with(isa, &w, &x, &acts, &mut got);
            for (i, (g, r)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - r).abs() <= 1e-3 * (1.0 + r.abs()),
                    "{isa:?} [{i}]: {g} vs {r}"
                );
            }
        }
    }

    #[test]
    fn dot_products_agree() {
        let (a, b) = (seeded(37, 1), seeded(37, 2));
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        for isa in isas() {
            assert!((dot_with(isa, &a, &b) - want).abs() < 1e-5);
        }
    }
}
