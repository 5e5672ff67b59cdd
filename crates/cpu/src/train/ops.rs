//! The elementwise parts of the training pass, each with the backward pass the trainer needs:
//! RMSNorm (gradient to the input only; the norm's weight is frozen), rotary embeddings in the
//! Hugging Face layout (halves rotated), the SiLU-gated product of the MLP, and an exponential
//! the compiler vectorises (softmax and the vocabulary's log-sum-exp call it tens of millions of
//! times a step).

use rayon::prelude::*;

use crate::kernels::{best, Isa};

/// Rows per rayon job in the row-wise ops: enough work to outweigh a job's start.
const ROWS_PER_JOB: usize = 16;

/// Each row's `1 / rms` into `inverse` and the normed row into `out`.
#[inline(always)]
fn norm_rows_body<const FMA: bool>(
    out: &mut [f32],
    x: &[f32],
    weight: &[f32],
    eps: f32,
    inverse: &mut [f32],
) {
    let width = weight.len();
    for ((o, row), r) in out
        .chunks_exact_mut(width)
        .zip(x.chunks_exact(width))
        .zip(inverse.iter_mut())
    {
        let mean = sum_map(row, |v| v * v) / width as f32;
        *r = 1.0 / (mean + eps).sqrt();
        for ((o, v), w) in o.iter_mut().zip(row).zip(weight) {
            *o = v * *r * w;
        }
    }
}

dispatched!(fn norm_rows(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32, inverse: &mut [f32]) = norm_rows_body);

/// `out = x / rms(x) · weight` per row of `width`; returns each row's `1 / rms`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) -> Vec<f32> {
    let width = weight.len();
    let isa = best();
    let mut inverse = vec![0f32; x.len() / width];
    out.par_chunks_mut(width * ROWS_PER_JOB)
        .zip(x.par_chunks(width * ROWS_PER_JOB))
        .zip(inverse.par_chunks_mut(ROWS_PER_JOB))
        .for_each(|((out, x), inverse)| norm_rows(isa, out, x, weight, eps, inverse));
    inverse
}

#[inline(always)]
fn norm_backward_body<const FMA: bool>(
    dx: &mut [f32],
    dy: &[f32],
    x: &[f32],
    inverse: &[f32],
    weight: &[f32],
) {
    let width = weight.len();
    for (((dx, dy), x), r) in dx
        .chunks_exact_mut(width)
        .zip(dy.chunks_exact(width))
        .zip(x.chunks_exact(width))
        .zip(inverse)
    {
        let dot = dot3(dy, weight, x);
        let k = r * r * r * dot / width as f32;
        for (((d, g), w), v) in dx.iter_mut().zip(dy).zip(weight).zip(x) {
            *d += r * g * w - k * v;
        }
    }
}

dispatched!(fn norm_backward_rows(dx: &mut [f32], dy: &[f32], x: &[f32], inverse: &[f32], weight: &[f32]) = norm_backward_body);

/// `dx += d rms_norm(x) / dx · dy`, with `inverse` from the forward pass:
/// `dx = r·(w⊙dy) − r³/n · Σ(w⊙dy⊙x) · x`.
pub fn rms_norm_backward(dy: &[f32], x: &[f32], inverse: &[f32], weight: &[f32], dx: &mut [f32]) {
    let width = weight.len();
    let isa = best();
    dx.par_chunks_mut(width * ROWS_PER_JOB)
        .zip(dy.par_chunks(width * ROWS_PER_JOB))
        .zip(x.par_chunks(width * ROWS_PER_JOB))
        .zip(inverse.par_chunks(ROWS_PER_JOB))
        .for_each(|(((dx, dy), x), inverse)| norm_backward_rows(isa, dx, dy, x, inverse, weight));
}

/// Rotary-embedding tables for `positions × half` (`half` = head width / 2, the length of
/// `inverse`, the frequencies of [`super::Shape::inv_freq`]): `cos` and `sin` of
/// `position · inverse[i]`, the angle formed in f32 as Hugging Face and the candle path form it
/// (in f64 the two drift apart by about 1e-4 rad at positions in the thousands).
pub fn rope_tables(positions: usize, inverse: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let half = inverse.len();
    let mut cos = Vec::with_capacity(positions * half);
    let mut sin = Vec::with_capacity(positions * half);
    for p in 0..positions {
        for inv in inverse {
            let angle = p as f32 * inv;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    (cos, sin)
}

/// What [`rope`] rotates: rows of `stride` values whose columns `from..to` hold heads of
/// `head_dim`, row `i` at position `i % seq`, with the position tables; `sign` −1 undoes it.
#[derive(Clone, Copy)]
pub(crate) struct Rotation<'a> {
    stride: usize,
    from: usize,
    to: usize,
    head_dim: usize,
    seq: usize,
    cos: &'a [f32],
    sin: &'a [f32],
    sign: f32,
}

#[inline(always)]
fn rope_body<const FMA: bool>(rows: &mut [f32], first: usize, r: Rotation) {
    let half = r.head_dim / 2;
    for (i, row) in rows.chunks_exact_mut(r.stride).enumerate() {
        let p = (first + i) % r.seq;
        let (c, s) = (&r.cos[p * half..][..half], &r.sin[p * half..][..half]);
        for head in row[r.from..r.to].chunks_exact_mut(r.head_dim) {
            let (lo, hi) = head.split_at_mut(half);
            for j in 0..half {
                let (a, b) = (lo[j], hi[j]);
                let s = r.sign * s[j];
                lo[j] = a * c[j] - b * s;
                hi[j] = b * c[j] + a * s;
            }
        }
    }
}

dispatched!(fn rope_rows(rows: &mut [f32], first: usize, r: Rotation) = rope_body);

/// Rotates, in place, the heads in columns `cols` of each row of `x` (row width `stride`; row
/// `i` is at position `i % seq`), Hugging Face style: the head's first half pairs with its
/// second. `inverse` applies the transpose (the backward pass of the rotation).
#[allow(clippy::too_many_arguments)]
pub fn rope(
    x: &mut [f32],
    stride: usize,
    cols: std::ops::Range<usize>,
    head_dim: usize,
    seq: usize,
    (cos, sin): (&[f32], &[f32]),
    inverse: bool,
) {
    let rotation = Rotation {
        stride,
        from: cols.start,
        to: cols.end,
        head_dim,
        seq,
        cos,
        sin,
        sign: if inverse { -1.0 } else { 1.0 },
    };
    let isa = best();
    x.par_chunks_mut(stride * ROWS_PER_JOB)
        .enumerate()
        .for_each(|(job, rows)| rope_rows(isa, rows, job * ROWS_PER_JOB, rotation));
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn silu_body<const FMA: bool>(out: &mut [f32], gate_up: &[f32], width: usize) {
    for (o, gu) in out
        .chunks_exact_mut(width)
        .zip(gate_up.chunks_exact(2 * width))
    {
        let (g, u) = gu.split_at(width);
        for ((o, g), u) in o.iter_mut().zip(g).zip(u) {
            *o = g * sigmoid(*g) * u;
        }
    }
}

dispatched!(fn silu_rows(out: &mut [f32], gate_up: &[f32], width: usize) = silu_body);

/// `out = silu(gate) · up` where each row of `gate_up` is `[gate | up]`, `width` each.
pub fn silu_gate(gate_up: &[f32], width: usize, out: &mut [f32]) {
    let isa = best();
    out.par_chunks_mut(width * ROWS_PER_JOB)
        .zip(gate_up.par_chunks(2 * width * ROWS_PER_JOB))
        .for_each(|(out, gu)| silu_rows(isa, out, gu, width));
}

#[inline(always)]
fn silu_backward_body<const FMA: bool>(
    dgate_up: &mut [f32],
    gate_up: &[f32],
    dout: &[f32],
    width: usize,
) {
    for ((dgu, gu), d) in dgate_up
        .chunks_exact_mut(2 * width)
        .zip(gate_up.chunks_exact(2 * width))
        .zip(dout.chunks_exact(width))
    {
        let (g, u) = gu.split_at(width);
        let (dg, du) = dgu.split_at_mut(width);
        for i in 0..width {
            let s = sigmoid(g[i]);
            du[i] = d[i] * g[i] * s;
            dg[i] = d[i] * u[i] * s * (1.0 + g[i] * (1.0 - s));
        }
    }
}

dispatched!(fn silu_backward_rows(dgate_up: &mut [f32], gate_up: &[f32], dout: &[f32], width: usize) = silu_backward_body);

/// The gradient of [`silu_gate`]'s inputs, `[d gate | d up]` per row, from its output's.
pub fn silu_gate_backward(dout: &[f32], gate_up: &[f32], width: usize, dgate_up: &mut [f32]) {
    let isa = best();
    dgate_up
        .par_chunks_mut(2 * width * ROWS_PER_JOB)
        .zip(gate_up.par_chunks(2 * width * ROWS_PER_JOB))
        .zip(dout.par_chunks(width * ROWS_PER_JOB))
        .for_each(|((dgu, gu), dout)| silu_backward_rows(isa, dgu, gu, dout, width));
}

/// `Σ f(x)` with sixteen partial sums: a float sum in order does not vectorise.
#[inline(always)]
pub(crate) fn sum_map(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = row.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ aᵢ·bᵢ·cᵢ` with sixteen partial sums.
#[inline(always)]
fn dot3(a: &[f32], b: &[f32], c: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb, cc) = (a.chunks_exact(16), b.chunks_exact(16), c.chunks_exact(16));
    let tail: f32 = (ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .zip(cc.remainder()))
    .map(|((x, y), z)| x * y * z)
    .sum();
    for ((x, y), z) in ca.zip(cb).zip(cc) {
        for l in 0..16 {
            acc[l] += x[l] * y[l] * z[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
pub(crate) fn max_body<const FMA: bool>(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 16];
    let chunks = row.chunks_exact(16);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    acc.iter().fold(tail, |m, &x| m.max(x))
}

dispatched!(
    /// A row's largest value.
    fn max_of(row: &[f32]) -> f32 = max_body
);

#[inline(always)]
fn exp_shifted_body<const FMA: bool>(row: &mut [f32], scale: f32, shift: f32, sign: f32) -> f32 {
    row.iter_mut().for_each(|x| *x = exp(*x * scale - shift));
    let sum = sum_map(row, |x| x);
    if sign != 1.0 {
        row.iter_mut().for_each(|x| *x *= sign);
    }
    sum
}

dispatched!(
    /// `x ← sign·exp(x·scale − shift)` over a row; returns `Σ exp(x·scale − shift)`.
    fn exp_shifted(row: &mut [f32], scale: f32, shift: f32, sign: f32) -> f32 = exp_shifted_body
);

#[inline(always)]
fn sum_exp_body<const FMA: bool>(row: &[f32], shift: f32) -> f32 {
    sum_map(row, |x| exp(x - shift))
}

dispatched!(
    /// `Σ exp(x − shift)` over a row.
    fn sum_exp(row: &[f32], shift: f32) -> f32 = sum_exp_body
);

#[inline(always)]
fn scale_body<const FMA: bool>(row: &mut [f32], by: f32) {
    row.iter_mut().for_each(|x| *x *= by);
}

dispatched!(
    /// `x ← x·by` over a row.
    fn scale_row(row: &mut [f32], by: f32) = scale_body
);

/// `eˣ` to within a few units in the last place, written with arithmetic only so a loop of it
/// vectorises (libm's `expf` is a call per value). Inputs are clamped to [−87, 88], so the result
/// is a normal float.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // eˣ = 2ⁿ · eʳ with n = round(x / ln 2) and |r| ≤ ln 2 / 2.
    // Rounding by adding and subtracting 1.5·2²³, and plain products rather than `mul_add`:
    // `round` and `mul_add` are library calls on the baseline target. ln 2 is split in two
    // (Cody–Waite) so that n·ln2_hi is exact.
    const ROUND: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_145_75;
    let r = r - n * 1.428_606_8e-6;
    // Taylor terms to r⁶ / 720: error under 2e-7 relative on |r| ≤ 0.347.
    let p = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_standard_library() {
        let mut worst = 0f32;
        for i in -8700..8800 {
            let x = i as f32 * 0.01 + 0.003;
            let (ours, std) = (exp(x), x.exp());
            worst = worst.max(((ours - std) / std).abs());
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert!(exp(-100.0) < 1e-37 && exp(-100.0) >= 0.0);
        assert!(exp(100.0).is_finite());
    }

    #[test]
    fn the_inverse_rotation_undoes_the_rotation() {
        let (seq, dim, stride) = (5, 8, 20);
        let inverse: Vec<f32> = (0..dim / 2).map(|i| 0.5f32.powi(i as i32)).collect();
        let tables = rope_tables(seq, &inverse);
        let x: Vec<f32> = (0..seq * 2 * stride)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let mut y = x.clone();
        rope(
            &mut y,
            stride,
            2..18,
            dim,
            seq,
            (&tables.0, &tables.1),
            false,
        );
        assert_ne!(x, y);
        // Columns outside the range are untouched.
        assert_eq!(x[0], y[0]);
        assert_eq!(x[19], y[19]);
        rope(
            &mut y,
            stride,
            2..18,
            dim,
            seq,
            (&tables.0, &tables.1),
            true,
        );
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
