//! The log-probability of target tokens after final hidden states, through the frozen vocabulary
//! projection, without the `[rows, vocab]` logits ever existing whole: each job projects 128 rows,
//! takes their log-sum-exp and target logit, and (when a gradient is wanted) their gradient
//! `(onehot − softmax) · W`, which the backward pass only scales. A step's logits were two
//! full-size buffers (200 MB each for SmolLM2), mapped and faulted in anew every step.

use rayon::prelude::*;

use super::ops::{exp_shifted, max_of, sum_exp};
use super::FrozenLinear;
use crate::kernels::best;
use crate::sgemm::{gemm, Threads, View};

/// Rows each job projects. Every job streams the whole projection (113 MB for SmolLM2, twice),
/// so fewer, larger jobs read less memory; their logits (`rows × vocab` floats, 25 MB) stay under
/// the 32 MB mmap threshold the trainer sets, so the buffer is reused rather than mapped and
/// faulted in anew. 1,024 rows are eight jobs, an equal share for two threads.
pub const PROJECTION_ROWS: usize = 128;

/// `log softmax(hidden · Wᵀ)[i, targets[i]]` for `hidden` `[rows, width]`, and with `with_grad`
/// its gradient in `hidden` (`[rows, width]`; empty otherwise). Targets must lie inside the
/// vocabulary (the caller checks them).
pub fn target_logp(
    hidden: &[f32],
    head: &FrozenLinear,
    targets: &[u32],
    with_grad: bool,
) -> (Vec<f32>, Vec<f32>) {
    let (width, vocab) = (head.in_width(), head.out_width());
    let m = targets.len();
    debug_assert_eq!(hidden.len(), m * width);
    let isa = best();
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
        .for_each(|(((logp, h), targets), g)| {
            let r = logp.len();
            let mut logits = vec![0f32; r * vocab];
            gemm(
                View::rows(h, r, width),
                &head.forward,
                &mut logits,
                vocab,
                false,
                Threads::One,
            );
            for ((row, lp), &t) in logits
                .chunks_exact_mut(vocab)
                .zip(logp.iter_mut())
                .zip(targets)
            {
                let t = t as usize;
                let max = max_of(isa, row);
                let lse = max + sum_exp(isa, row, max).ln();
                *lp = row[t] - lse;
                if with_grad {
                    // onehot − softmax, so that (·)·W is d logp / d hidden.
                    exp_shifted(isa, row, 1.0, lse, -1.0);
                    row[t] += 1.0;
                }
            }
            if with_grad {
                gemm(
                    View::rows(&logits, r, vocab),
                    &head.backward,
                    g,
                    width,
                    false,
                    Threads::One,
                );
            }
        });
    (logp, grad)
}
