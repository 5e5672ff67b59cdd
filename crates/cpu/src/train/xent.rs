//! The log-probability of target tokens after final hidden states, through the frozen vocabulary
//! projection, without the `[rows, vocab]` logits ever existing: each job takes 128 rows through
//! the vocabulary a block of 1,024 tokens at a time, keeping per row a running maximum, a running
//! sum of exponentials and (when a gradient is wanted) a running `Σ exp(l − max)·W_v`, rescaled
//! whenever the maximum grows, as FlashAttention keeps its output. A block's logits stay in L2
//! from their product to their softmax to their share of the gradient product, and each logit's
//! exponential is taken once. The gradient `(onehot − softmax) · W` is finished per row at the end;
//! the backward pass only scales it.

use rayon::prelude::*;

use super::ops::{exp, exp_shifted, max_of, scale_row, sum_exp};
use super::FrozenLinear;
use crate::kernels::best;
use crate::sgemm::{gemm, Threads, View};

/// Rows each job projects. Every job streams the whole projection (113 MB for SmolLM2, twice),
/// so fewer, larger jobs read less memory. 1,024 rows are eight jobs, an equal share for two
/// threads.
pub const PROJECTION_ROWS: usize = 128;

/// Vocabulary tokens per block: a job's logits for one block (128 × 1,024 floats, 512 KB) stay
/// in L2 between the products on either side of their softmax.
pub const VOCAB_BLOCK: usize = 1024;

/// The vocabulary projection (`[vocab, width]`, frozen) packed for [`target_logp`]: blocks of
/// [`VOCAB_BLOCK`] tokens, each packed both ways (Wᵀ for its logits, W for its gradient).
pub struct Head {
    width: usize,
    vocab: usize,
    blocks: Vec<FrozenLinear>,
}

impl Head {
    /// `weight` is row-major `[vocab, width]`. `None` where the CPU lacks AVX-512 or the
    /// weight is not `vocab × width`.
    pub fn new(weight: &[f32], vocab: usize, width: usize) -> Option<Head> {
        if weight.len() != vocab.checked_mul(width)? {
            return None;
        }
        let blocks = (0..vocab)
            .step_by(VOCAB_BLOCK)
            .map(|v0| {
                let len = VOCAB_BLOCK.min(vocab - v0);
                FrozenLinear::new(&weight[v0 * width..(v0 + len) * width], len, width)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Head {
            width,
            vocab,
            blocks,
        })
    }
}

/// A frozen vocabulary projection `W` (`[vocab, width]`) as [`target_logp`] reads it: a block of
/// [`VOCAB_BLOCK`] tokens at a time, through two products, and one row at a time. [`Head`] serves
/// it with our AVX-512 product; a caller without it can serve it with another.
pub trait VocabularyBlocks: Sync {
    fn width(&self) -> usize;
    fn vocab(&self) -> usize;
    /// `logits` (`rows × len` for block `block`'s `len` tokens) `= hidden · W_blockᵀ`.
    fn logits(&self, block: usize, hidden: &[f32], rows: usize, logits: &mut [f32]);
    /// `grad` (`rows × width`) `+= weights · W_block` for `weights` `rows × len`.
    fn add_grad(&self, block: usize, weights: &[f32], rows: usize, grad: &mut [f32]);
    /// Row `token` of `W` into `out`.
    fn row(&self, token: usize, out: &mut [f32]);
}

impl VocabularyBlocks for Head {
    fn width(&self) -> usize {
        self.width
    }

    fn vocab(&self) -> usize {
        self.vocab
    }

    fn logits(&self, block: usize, hidden: &[f32], rows: usize, logits: &mut [f32]) {
        let b = &self.blocks[block];
        let hidden = View::rows(hidden, rows, self.width);
        gemm(
            hidden,
            &b.forward,
            logits,
            b.out_width(),
            false,
            Threads::One,
        );
    }

    fn add_grad(&self, block: usize, weights: &[f32], rows: usize, grad: &mut [f32]) {
        let b = &self.blocks[block];
        let weights = View::rows(weights, rows, b.out_width());
        gemm(weights, &b.backward, grad, self.width, true, Threads::One);
    }

    /// Read back from the packing.
    fn row(&self, token: usize, out: &mut [f32]) {
        self.blocks[token / VOCAB_BLOCK]
            .backward
            .row(token % VOCAB_BLOCK, out);
    }
}

/// `log softmax(hidden · Wᵀ)[i, targets[i]]` for `hidden` `[rows, width]`, and with `with_grad`
/// its gradient in `hidden` (`[rows, width]`; empty otherwise). Targets must lie inside the
/// vocabulary (the caller checks them).
pub fn target_logp(
    hidden: &[f32],
    head: &impl VocabularyBlocks,
    targets: &[u32],
    with_grad: bool,
) -> (Vec<f32>, Vec<f32>) {
    let width = head.width();
    let m = targets.len();
    debug_assert_eq!(hidden.len(), m * width);
    let mut logp = vec![0f32; m];
    let mut grad = vec![0f32; if with_grad { m * width } else { 0 }];
    let grad_rows: Vec<&mut [f32]> = if with_grad {
        grad.chunks_mut(PROJECTION_ROWS * width).collect()
    } else {
        (0..m.div_ceil(PROJECTION_ROWS))
            .map(|_| Default::default())
            .collect()
    };
    logp.par_chunks_mut(PROJECTION_ROWS)
        .zip(hidden.par_chunks(PROJECTION_ROWS * width))
        .zip(targets.par_chunks(PROJECTION_ROWS))
        .zip(grad_rows)
        .for_each(|(((logp, h), targets), g)| job(head, h, targets, logp, g));
    (logp, grad)
}

/// One job's rows: `logp` for each, and when `grad` is not empty, d logp / d hidden into it.
fn job(
    head: &impl VocabularyBlocks,
    hidden: &[f32],
    targets: &[u32],
    logp: &mut [f32],
    grad: &mut [f32],
) {
    let isa = best();
    let (r, width, vocab) = (logp.len(), head.width(), head.vocab());
    let with_grad = !grad.is_empty();
    let mut tile = vec![0f32; r * VOCAB_BLOCK.min(vocab)];
    let mut max = vec![f32::NEG_INFINITY; r];
    let mut sum = vec![0f32; r];
    let mut target_logit = vec![0f32; r];
    for (b, v0) in (0..vocab).step_by(VOCAB_BLOCK).enumerate() {
        let len = VOCAB_BLOCK.min(vocab - v0);
        let tile = &mut tile[..r * len];
        head.logits(b, hidden, r, tile);
        for (i, row) in tile.chunks_exact_mut(len).enumerate() {
            if let Some(t) = (targets[i] as usize).checked_sub(v0).filter(|t| *t < len) {
                target_logit[i] = row[t];
            }
            let grown = max[i].max(max_of(isa, row));
            // What the sums so far are worth against the new maximum: nothing while every logit
            // so far was −∞ (the first block's, or a masked row's), whose sums are then dropped.
            let rescale = if max[i] == f32::NEG_INFINITY {
                0.0
            } else {
                exp(max[i] - grown)
            };
            // Shifting by −∞ would make exp(−∞ + ∞) a NaN; with every logit −∞, any shift does.
            let shift = if grown == f32::NEG_INFINITY {
                0.0
            } else {
                grown
            };
            if with_grad {
                // The row becomes exp(l − max), its share of Σ exp(l − max)·W_v below.
                sum[i] = sum[i] * rescale + exp_shifted(isa, row, 1.0, shift, 1.0);
                if b > 0 && rescale != 1.0 {
                    scale_row(isa, &mut grad[i * width..(i + 1) * width], rescale);
                }
            } else {
                sum[i] = sum[i] * rescale + sum_exp(isa, row, shift);
            }
            max[i] = grown;
        }
        if with_grad {
            head.add_grad(b, tile, r, grad);
        }
    }
    let mut target_row = vec![0f32; if with_grad { width } else { 0 }];
    for i in 0..r {
        logp[i] = target_logit[i] - (max[i] + sum[i].ln());
        if with_grad {
            // onehot − softmax: W[t] − Σ softmax_v·W_v, and the running sum is that times `sum`.
            head.row(targets[i] as usize, &mut target_row);
            let inverse = 1.0 / sum[i];
            for (g, w) in grad[i * width..(i + 1) * width].iter_mut().zip(&target_row) {
                *g = w - *g * inverse;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values and gradients against a float64 reference over the whole logits row, for a
    /// vocabulary of two blocks and a short third and rows in two jobs, with logits large enough
    /// that the running maximum grows in the second block and holds in the third.
    #[test]
    fn matches_a_whole_row_reference() {
        if !crate::sgemm::available() {
            return;
        }
        let (rows, width, vocab) = (PROJECTION_ROWS + 5, 24, 2 * VOCAB_BLOCK + 37);
        let seeded = crate::matrix::tests_support::seeded;
        let hidden = seeded(rows * width, 1);
        // The blocks' weights are scaled 1, 4 and 2.5: the second block's maximum beats the
        // first's, the third's does not.
        let weight: Vec<f32> = seeded(vocab * width, 2)
            .into_iter()
            .enumerate()
            .map(|(i, w)| w * 0.5 * [1.0, 4.0, 2.5][i / width / VOCAB_BLOCK])
            .collect();
        let targets: Vec<u32> = (0..rows as u32).map(|i| (i * 977) % vocab as u32).collect();
        let head = Head::new(&weight, vocab, width).expect("avx-512");
        let (logp, grad) = target_logp(&hidden, &head, &targets, true);
        let (plain, none) = target_logp(&hidden, &head, &targets, false);
        assert!(none.is_empty());
        for i in 0..rows {
            let h = &hidden[i * width..(i + 1) * width];
            let logits: Vec<f64> = (0..vocab)
                .map(|v| {
                    (0..width)
                        .map(|k| f64::from(h[k]) * f64::from(weight[v * width + k]))
                        .sum()
                })
                .collect();
            let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = top + logits.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
            let t = targets[i] as usize;
            let want = logits[t] - lse;
            for got in [logp[i], plain[i]] {
                assert!(
                    (f64::from(got) - want).abs() < 1e-4,
                    "row {i}: {got} vs {want}"
                );
            }
            for k in 0..width {
                let expected: f64 = f64::from(weight[t * width + k])
                    - (0..vocab)
                        .map(|v| (logits[v] - lse).exp() * f64::from(weight[v * width + k]))
                        .sum::<f64>();
                let got = f64::from(grad[i * width + k]);
                assert!(
                    (got - expected).abs() < 1e-4 * (1.0 + expected.abs()),
                    "row {i}, column {k}: {got} vs {expected}"
                );
            }
        }
    }
}
