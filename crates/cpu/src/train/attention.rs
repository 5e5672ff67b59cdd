//! Causal attention for training, forward and backward, with grouped-query heads.
//!
//! Forward keeps only each row's log-sum-exp, not the `[seq, seq]` probabilities (at 2,048 tokens
//! those are 600 MB a layer); backward recomputes the probabilities a block of queries at a time
//! from it, as FlashAttention does. Queries go in blocks of 48 so that the keys after a block's
//! last query are never multiplied. One job per sequence and query head; its products run on
//! the job's thread.

use rayon::prelude::*;

use super::ops::{exp_shifted, max_of, scale_row};
use crate::kernels::best;
use crate::sgemm::{gemm, gemm_part, PackedB, Threads, View};

/// Queries per block: four panels of the product's micro-kernel.
const QUERY_BLOCK: usize = 48;

/// Where the heads lie in the fused `[q | k | v]` rows of the projection's output.
#[derive(Clone, Copy, Debug)]
pub struct Heads {
    pub sequences: usize,
    pub seq: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub dim: usize,
}

impl Heads {
    fn qkv_width(&self) -> usize {
        (self.heads + 2 * self.kv_heads) * self.dim
    }

    fn width(&self) -> usize {
        self.heads * self.dim
    }

    /// Rows `start..` of the `dim` columns from `col` of sequence `s` in `rows` of `width`.
    fn view<'a>(&self, rows: &'a [f32], width: usize, s: usize, col: usize) -> View<'a> {
        View {
            data: &rows[s * self.seq * width + col..],
            rows: self.seq,
            cols: self.dim,
            rs: width,
            cs: 1,
        }
    }

    fn q<'a>(&self, qkv: &'a [f32], s: usize, h: usize) -> View<'a> {
        self.view(qkv, self.qkv_width(), s, h * self.dim)
    }

    fn k<'a>(&self, qkv: &'a [f32], s: usize, h: usize) -> View<'a> {
        let g = h / (self.heads / self.kv_heads);
        self.view(qkv, self.qkv_width(), s, (self.heads + g) * self.dim)
    }

    fn v<'a>(&self, qkv: &'a [f32], s: usize, h: usize) -> View<'a> {
        let g = h / (self.heads / self.kv_heads);
        self.view(
            qkv,
            self.qkv_width(),
            s,
            (self.heads + self.kv_heads + g) * self.dim,
        )
    }

    fn jobs(&self) -> usize {
        self.sequences * self.heads
    }
}

/// Rows `a..b` of `v`.
fn rows(v: View, a: usize, b: usize) -> View {
    View {
        data: &v.data[a * v.rs..],
        rows: b - a,
        ..v
    }
}

fn pack(v: View) -> PackedB {
    // The callers run only where `sgemm::available()`.
    PackedB::new(v).expect("the products of `sgemm` (AVX-512 or AVX2)")
}

/// Scores of queries `i0..` against keys `0..n` (`scores`, a row of `n` per query) turned in
/// place into probabilities, masked after each query's own position. With `known`, `lse` holds
/// each row's log-sum-exp from the forward pass; otherwise it receives them.
fn probabilities(
    scores: &mut [f32],
    n: usize,
    i0: usize,
    scale: f32,
    lse: &mut [f32],
    known: bool,
) {
    let isa = best();
    for (r, row) in scores.chunks_exact_mut(n).enumerate() {
        let (row, masked) = row.split_at_mut(i0 + r + 1);
        masked.fill(0.0);
        if known {
            exp_shifted(isa, row, scale, lse[r], 1.0);
            continue;
        }
        let max = max_of(isa, row) * scale;
        let sum = exp_shifted(isa, row, scale, max, 1.0);
        scale_row(isa, row, 1.0 / sum);
        lse[r] = max + sum.ln();
    }
}

/// One head's forward pass: its output `[seq, dim]` and log-sum-exps `[seq]`.
fn forward_job(heads: &Heads, qkv: &[f32], s: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let (t, d) = (heads.seq, heads.dim);
    let scale = 1.0 / (d as f32).sqrt();
    let (q, k, v) = (heads.q(qkv, s, h), heads.k(qkv, s, h), heads.v(qkv, s, h));
    let keys_t = pack(k.t());
    let values = pack(v);
    let mut out = vec![0f32; t * d];
    let mut lse = vec![0f32; t];
    let mut scores = vec![0f32; QUERY_BLOCK * t];
    for i0 in (0..t).step_by(QUERY_BLOCK) {
        let i1 = (i0 + QUERY_BLOCK).min(t);
        let n = i1;
        let scores = &mut scores[..(i1 - i0) * n];
        // Keys 0..n are the first n columns of the packed Kᵀ.
        gemm_part(rows(q, i0, i1), &keys_t, n, scores, n, false, Threads::One);
        probabilities(scores, n, i0, scale, &mut lse[i0..i1], false);
        // Values 0..n are the first n depths of the packed V.
        gemm_part(
            View::rows(scores, i1 - i0, n),
            &values,
            d,
            &mut out[i0 * d..i1 * d],
            d,
            false,
            Threads::One,
        );
    }
    (out, lse)
}

/// Causal attention of the `[q | k | v]` rows `qkv` (rotated): the output `[rows, heads·dim]`
/// and the log-sum-exp of every sequence, head and query (`[sequences, heads, seq]`).
pub fn forward(heads: &Heads, qkv: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (t, d, width) = (heads.seq, heads.dim, heads.width());
    let results: Vec<(Vec<f32>, Vec<f32>)> = (0..heads.jobs())
        .into_par_iter()
        .map(|job| forward_job(heads, qkv, job / heads.heads, job % heads.heads))
        .collect();
    let mut out = vec![0f32; heads.sequences * t * width];
    let mut lse = Vec::with_capacity(heads.jobs() * t);
    for (job, (o, l)) in results.into_iter().enumerate() {
        let (s, h) = (job / heads.heads, job % heads.heads);
        for (i, row) in o.chunks_exact(d).enumerate() {
            let at = (s * t + i) * width + h * d;
            out[at..at + d].copy_from_slice(row);
        }
        lse.extend(l);
    }
    (out, lse)
}

/// One head's backward pass: the gradients of its queries, keys and values, `[seq, dim]` each.
fn backward_job(
    heads: &Heads,
    qkv: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    (s, h): (usize, usize),
) -> [Vec<f32>; 3] {
    let (t, d, width) = (heads.seq, heads.dim, heads.width());
    let scale = 1.0 / (d as f32).sqrt();
    let (q, k, v) = (heads.q(qkv, s, h), heads.k(qkv, s, h), heads.v(qkv, s, h));
    let o = heads.view(out, width, s, h * d);
    let dout = heads.view(dout, width, s, h * d);
    let mut lse = lse[(s * heads.heads + h) * t..][..t].to_vec();
    // Dᵢ = Σ dOᵢ·Oᵢ, the softmax backward's row term.
    let rows_dot: Vec<f32> = (0..t)
        .map(|i| (0..d).map(|j| o.at(i, j) * dout.at(i, j)).sum())
        .collect();
    let keys_t = pack(k.t());
    let keys = pack(k);
    let values_t = pack(v.t());
    let (mut dq, mut dk, mut dv) = (vec![0f32; t * d], vec![0f32; t * d], vec![0f32; t * d]);
    let mut p = vec![0f32; QUERY_BLOCK * t];
    let mut dp = vec![0f32; QUERY_BLOCK * t];
    for i0 in (0..t).step_by(QUERY_BLOCK) {
        let i1 = (i0 + QUERY_BLOCK).min(t);
        let (b, n) = (i1 - i0, i1);
        let (p, dp) = (&mut p[..b * n], &mut dp[..b * n]);
        let (q_block, dout_block) = (rows(q, i0, i1), rows(dout, i0, i1));
        gemm_part(q_block, &keys_t, n, p, n, false, Threads::One);
        probabilities(p, n, i0, scale, &mut lse[i0..i1], true);
        gemm_part(dout_block, &values_t, n, dp, n, false, Threads::One);
        // dV += Pᵀ·dO
        gemm(
            View::rows(p, b, n).t(),
            &pack(dout_block),
            &mut dv[..n * d],
            d,
            true,
            Threads::One,
        );
        // dS = P ⊙ (dP − D) · scale, into dp.
        for (r, (dp_row, p_row)) in dp.chunks_exact_mut(n).zip(p.chunks_exact(n)).enumerate() {
            let di = rows_dot[i0 + r];
            for (g, pv) in dp_row.iter_mut().zip(p_row) {
                *g = pv * (*g - di) * scale;
            }
        }
        let ds = View::rows(dp, b, n);
        gemm_part(
            ds,
            &keys,
            d,
            &mut dq[i0 * d..i1 * d],
            d,
            false,
            Threads::One,
        );
        gemm(
            ds.t(),
            &pack(q_block),
            &mut dk[..n * d],
            d,
            true,
            Threads::One,
        );
    }
    [dq, dk, dv]
}

/// The gradient of [`forward`]'s input `qkv` (`[rows, (heads + 2·kv_heads)·dim]`, rotated) from
/// its output's, given the forward pass's output and log-sum-exps.
pub fn backward(heads: &Heads, qkv: &[f32], out: &[f32], lse: &[f32], dout: &[f32]) -> Vec<f32> {
    let (t, d, qkv_width) = (heads.seq, heads.dim, heads.qkv_width());
    let results: Vec<[Vec<f32>; 3]> = (0..heads.jobs())
        .into_par_iter()
        .map(|job| {
            backward_job(
                heads,
                qkv,
                out,
                lse,
                dout,
                (job / heads.heads, job % heads.heads),
            )
        })
        .collect();
    let group = heads.heads / heads.kv_heads;
    let mut grad = vec![0f32; heads.sequences * t * qkv_width];
    for (job, [dq, dk, dv]) in results.into_iter().enumerate() {
        let (s, h) = (job / heads.heads, job % heads.heads);
        let g = h / group;
        let cols = [
            (h * d, &dq),
            ((heads.heads + g) * d, &dk),
            ((heads.heads + heads.kv_heads + g) * d, &dv),
        ];
        for i in 0..t {
            let row = &mut grad[(s * t + i) * qkv_width..][..qkv_width];
            for (col, values) in cols {
                // The heads of a group share their key and value: their gradients add.
                for (x, y) in row[col..col + d]
                    .iter_mut()
                    .zip(&values[i * d..(i + 1) * d])
                {
                    *x += y;
                }
            }
        }
    }
    grad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(n: usize, seed: u64) -> Vec<f32> {
        crate::matrix::tests_support::seeded(n, seed)
    }

    /// The textbook formula in float64: softmax(q·kᵀ/√d + causal mask)·v per sequence and head.
    fn reference(heads: &Heads, qkv: &[f32]) -> Vec<f64> {
        let (t, d, w) = (heads.seq, heads.dim, heads.width());
        let mut out = vec![0f64; heads.sequences * t * w];
        for s in 0..heads.sequences {
            for h in 0..heads.heads {
                let (q, k, v) = (heads.q(qkv, s, h), heads.k(qkv, s, h), heads.v(qkv, s, h));
                for i in 0..t {
                    let scores: Vec<f64> = (0..=i)
                        .map(|j| {
                            (0..d)
                                .map(|x| f64::from(q.at(i, x)) * f64::from(k.at(j, x)))
                                .sum::<f64>()
                                / (d as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = scores.iter().map(|x| (x - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for x in 0..d {
                        out[(s * t + i) * w + h * d + x] = (0..=i)
                            .map(|j| e[j] / sum * f64::from(v.at(j, x)))
                            .sum::<f64>();
                    }
                }
            }
        }
        out
    }

    /// Two sequences of 100 tokens (two full query blocks and a partial one), three query heads
    /// per key-value head: the output matches the formula, and the gradient matches finite
    /// differences of `Σ out ⊙ w` in a sample of inputs.
    #[test]
    fn matches_the_formula_and_finite_differences() {
        if !crate::sgemm::available() {
            return;
        }
        let heads = Heads {
            sequences: 2,
            seq: 100,
            heads: 6,
            kv_heads: 2,
            dim: 16,
        };
        let n = heads.sequences * heads.seq * heads.qkv_width();
        let qkv: Vec<f32> = seeded(n, 3).iter().map(|x| x * 2.0).collect();
        let (out, lse) = forward(&heads, &qkv);
        for (a, b) in out.iter().zip(reference(&heads, &qkv)) {
            assert!((f64::from(*a) - b).abs() < 1e-4, "{a} vs {b}");
        }
        let weights = seeded(out.len(), 4);
        let grad = backward(&heads, &qkv, &out, &lse, &weights);
        let objective = |qkv: &[f32]| -> f64 {
            reference(&heads, qkv)
                .iter()
                .zip(&weights)
                .map(|(o, w)| o * f64::from(*w))
                .sum()
        };
        let eps = 1e-2f32;
        for i in (0..n).step_by(n / 37) {
            let mut up = qkv.clone();
            up[i] += eps;
            let mut down = qkv.clone();
            down[i] -= eps;
            let numeric = (objective(&up) - objective(&down)) / (2.0 * f64::from(eps));
            assert!(
                (numeric - f64::from(grad[i])).abs() < 2e-3 * (1.0 + numeric.abs()),
                "input {i}: numeric {numeric}, ours {}",
                grad[i]
            );
        }
    }
}
