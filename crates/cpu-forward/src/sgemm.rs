//! f32 matrix products on AVX-512 for the trainer's frozen projections.
//!
//! The gemm crate candle uses runs its AVX2 kernel on stable Rust (its AVX-512 kernels need a
//! nightly feature), and that kernel was half of a LoRA training step. This is the textbook
//! blocked product: B is packed in strips of 32 columns per block of 256 depths (shared by the
//! threads), each thread packs 96 rows of A at a time, and a 12×32 micro-kernel keeps its 24
//! accumulators in registers, one broadcast of A feeding two fused multiply-adds.

use rayon::prelude::*;

use super::kernels::{best, Isa};

/// Rows of A per micro-kernel call.
const MR: usize = 12;
/// Columns of B per micro-kernel call: two 16-float registers.
const NR: usize = 32;
/// Depth of one packed block (a strip of packed B, 32 KB, stays in L1).
const KC: usize = 256;
/// Rows of A one job packs and multiplies against every strip of B.
const MC: usize = 96;

/// Whether this CPU runs [`product`].
pub fn available() -> bool {
    best() != Isa::Portable
}

/// B packed for the micro-kernel: per block of `KC` depths, strips of `NR` columns, each
/// `[depth][NR]` (columns past `n` are zero). A frozen weight can be packed once and reused.
pub struct PackedB {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// Packs B, whose element `(k, n)` is at `b[k·b_rs + n·b_cs]` (a row-major `[n, k]` weight
    /// is Bᵀ with strides `(1, k)`; a row-major `[k, n]` matrix is B with `(n, 1)`). `None` when
    /// this CPU lacks AVX-512.
    pub fn new(b: &[f32], (b_rs, b_cs): (usize, usize), k: usize, n: usize) -> Option<PackedB> {
        if !available() {
            return None;
        }
        if k > 0 && n > 0 {
            let last = (k - 1) * b_rs + (n - 1) * b_cs;
            assert!(
                b.len() > last,
                "b holds {} values, reads reach {last}",
                b.len()
            );
        }
        let strips = n.div_ceil(NR);
        let mut data = vec![0.0f32; k * strips * NR];
        data.par_chunks_mut(KC * strips * NR)
            .enumerate()
            .for_each(|(block, packed)| {
                let (k0, kc) = (block * KC, packed.len() / (strips * NR));
                for (s, strip) in packed.chunks_exact_mut(kc * NR).enumerate() {
                    let cols = (n - s * NR).min(NR);
                    // Read along B's contiguous direction; the strip (kc·NR floats) stays in L1
                    // for the strided writes. (Reading across a transposed weight cost a
                    // cache miss per value.)
                    if b_rs <= b_cs {
                        for j in 0..cols {
                            let from = (s * NR + j) * b_cs + k0 * b_rs;
                            for kk in 0..kc {
                                strip[kk * NR + j] = b[from + kk * b_rs];
                            }
                        }
                    } else {
                        for (kk, row) in strip.chunks_exact_mut(NR).enumerate() {
                            let from = (k0 + kk) * b_rs + s * NR * b_cs;
                            for (j, v) in row[..cols].iter_mut().enumerate() {
                                *v = b[from + j * b_cs];
                            }
                        }
                    }
                }
            });
        Some(PackedB { k, n, data })
    }
}

/// `c[m×n] = a[m×k] · B` for B as in [`PackedB::new`]; `None` when this CPU lacks AVX-512.
pub fn product(
    a: &[f32],
    (m, k): (usize, usize),
    b: &[f32],
    strides: (usize, usize),
    n: usize,
) -> Option<Vec<f32>> {
    let packed = PackedB::new(b, strides, k, n)?;
    Some(product_packed(a, m, &packed))
}

/// `c[m×n] = a[m×k] · B` with B packed; rows of A are split across rayon's threads.
pub fn product_packed(a: &[f32], m: usize, b: &PackedB) -> Vec<f32> {
    let (k, n) = (b.k, b.n);
    assert!(a.len() >= m * k, "a holds {} values, not {m}×{k}", a.len());
    let mut c = vec![0.0f32; m * n];
    if m == 0 || n == 0 {
        return c;
    }
    let strips = n.div_ceil(NR);
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        let packed_b = &b.data[k0 * strips * NR..(k0 + kc) * strips * NR];
        c.par_chunks_mut(MC * n).enumerate().for_each(|(block, c)| {
            let rows = c.len() / n;
            let r0 = block * MC;
            let panels = rows.div_ceil(MR);
            let mut packed_a = vec![0.0f32; panels * kc * MR];
            for (i, panel) in packed_a.chunks_exact_mut(kc * MR).enumerate() {
                for (kk, col) in panel.chunks_exact_mut(MR).enumerate() {
                    for (r, v) in col.iter_mut().enumerate() {
                        let row = i * MR + r;
                        if row < rows {
                            *v = a[(r0 + row) * k + k0 + kk];
                        }
                    }
                }
            }
            for s in 0..strips {
                let strip = &packed_b[s * kc * NR..(s + 1) * kc * NR];
                for i in 0..panels {
                    let panel = &packed_a[i * kc * MR..(i + 1) * kc * MR];
                    let tile = Tile {
                        rows: (rows - i * MR).min(MR),
                        cols: (n - s * NR).min(NR),
                        at: i * MR * n + s * NR,
                        stride: n,
                    };
                    // SAFETY: a `PackedB` exists only where AVX-512 is available; the panels
                    // hold kc·MR and kc·NR values; the tile lies inside `c` (clipped).
                    unsafe { micro(panel, strip, kc, c, tile, k0 > 0) };
                }
            }
        });
    }
    c
}

/// Where one micro-kernel's block of C lies.
struct Tile {
    rows: usize,
    cols: usize,
    at: usize,
    stride: usize,
}

/// # Safety
/// The CPU must have AVX-512 F; `panel` holds `kc·MR` values, `strip` `kc·NR`, and the tile's
/// clipped rows and columns lie inside `c`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn micro(panel: &[f32], strip: &[f32], kc: usize, c: &mut [f32], tile: Tile, add: bool) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let (pa, pb) = (panel.as_ptr(), strip.as_ptr());
    for kk in 0..kc {
        let b0 = _mm512_loadu_ps(pb.add(kk * NR));
        let b1 = _mm512_loadu_ps(pb.add(kk * NR + 16));
        for (i, row) in acc.iter_mut().enumerate() {
            let a = _mm512_set1_ps(*pa.add(kk * MR + i));
            row[0] = _mm512_fmadd_ps(a, b0, row[0]);
            row[1] = _mm512_fmadd_ps(a, b1, row[1]);
        }
    }
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

#[cfg(not(target_arch = "x86_64"))]
unsafe fn micro(_: &[f32], _: &[f32], _: usize, _: &mut [f32], _: Tile, _: bool) {
    unreachable!("product() returns None off x86-64")
}

#[cfg(test)]
mod tests {
    use super::super::matrix::tests_support::seeded;
    use super::*;

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
                let got = product(&a, (m, k), &w, strides, n).expect("avx-512");
                for (g, r) in got.iter().zip(want(strides)) {
                    assert!(
                        (g - r).abs() < 1e-4 * (1.0 + r.abs()),
                        "{m}×{k}×{n} {strides:?}: {g} vs {r}"
                    );
                }
            }
        }
    }
}
