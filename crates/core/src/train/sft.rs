//! Supervised fine-tuning of the adapters: the loss counts only the tokens a training example marks
//! (the assistant's), AdamW with linear warmup then cosine decay, global gradient-norm clipping, and
//! gradient accumulation over micro-batches. Seeded: the same data and seed give the same curve.

use super::adamw::AdamW;
use super::metrics::DpoMetrics;
use super::model::Decoder;
use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};

/// Token ids with a mask of the positions whose token is learned (the assistant's reply).
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The token ids of prompt and answer, in order.
    pub ids: Vec<u32>,
    /// For each id, whether the loss learns it (true for the assistant's reply).
    pub learn: Vec<bool>,
}

/// The log-probability of every learned token of `batch` given the tokens before it (`[learned]`),
/// and for each the index of its example. Only the positions that predict a learned token go
/// through the vocabulary projection, so prompt tokens cost no logits at all.
pub fn learned_logp(
    model: &Decoder,
    batch: &[Example],
    use_adapter: bool,
    train: bool,
) -> Result<(Tensor, Vec<usize>)> {
    let device = model.device();
    let t = batch.iter().map(|e| e.ids.len()).max().unwrap_or(0);
    if t < 2 {
        candle_core::bail!("training examples need at least two tokens");
    }
    // Right padding: with causal attention a padded tail changes nothing before it.
    let mut ids = Vec::with_capacity(batch.len() * t);
    let (mut rows, mut targets, mut owners) = (Vec::new(), Vec::new(), Vec::new());
    for (b, e) in batch.iter().enumerate() {
        for i in 0..t {
            ids.push(e.ids.get(i).copied().unwrap_or(0));
        }
        for i in 1..e.ids.len() {
            if e.learn.get(i).copied().unwrap_or(false) {
                rows.push((b * t + i - 1) as u32);
                targets.push(e.ids[i]);
                owners.push(b);
            }
        }
    }
    if rows.is_empty() {
        candle_core::bail!("no token of the batch is marked to be learned");
    }
    let flat_rows: Vec<usize> = rows.iter().map(|r| *r as usize).collect();
    if let Some(logp) = model.our_learned_logp(
        &ids,
        (batch.len(), t),
        &flat_rows,
        &targets,
        use_adapter,
        train,
    )? {
        return Ok((logp, owners));
    }
    let ids = Tensor::from_vec(ids, (batch.len(), t), device)?;
    let hidden = model.hidden(&ids, use_adapter, train)?;
    let width = hidden.dim(2)?;
    let picked = hidden
        .reshape((batch.len() * t, width))?
        .index_select(&Tensor::new(rows.as_slice(), device)?, 0)?;
    let logp = model.learned_logp(&picked, &targets)?;
    Ok((logp, owners))
}

/// Mean negative log-likelihood of the learned tokens of `batch`, each predicted from the tokens
/// before it. Padding and unlearned (prompt) tokens contribute nothing.
pub fn loss(model: &Decoder, batch: &[Example], use_adapter: bool, train: bool) -> Result<Tensor> {
    let (logp, _) = learned_logp(model, batch, use_adapter, train)?;
    logp.mean_all()?.neg()
}

/// Optimiser and schedule settings of a training loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Peak learning rate, reached after warmup.
    pub lr: f64,
    /// Steps of linear warmup.
    pub warmup: usize,
    /// Total optimiser steps; the cosine decay ends here.
    pub steps: usize,
    /// Examples per micro-batch.
    pub batch: usize,
    /// Micro-batches whose gradients are summed into one step.
    pub accumulation: usize,
    /// Global gradient L2 norm is clipped to this (0 for no clipping).
    pub clip: f64,
    /// AdamW's decoupled weight decay (0 for none).
    pub weight_decay: f64,
    /// Seed of the example order: the same data and seed give the same curve.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lr: 2e-4,
            warmup: 10,
            steps: 100,
            batch: 4,
            accumulation: 1,
            clip: 1.0,
            weight_decay: 0.0,
            seed: 42,
        }
    }
}

/// Learning rate at `step`: linear warmup to `lr`, then cosine decay to a tenth of it.
pub fn lr_at(s: &Settings, step: usize) -> f64 {
    if step < s.warmup {
        return s.lr * (step + 1) as f64 / s.warmup as f64;
    }
    let span = s.steps.saturating_sub(s.warmup).max(1) as f64;
    let progress = ((step - s.warmup) as f64 / span).min(1.0);
    let floor = 0.1 * s.lr;
    floor + (s.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// One optimiser step's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMetrics {
    /// The step's index, from 0.
    pub step: usize,
    /// Loss averaged over the step's micro-batches.
    pub loss: f64,
    /// Learning rate the step used.
    pub lr: f64,
    /// Global gradient L2 norm before clipping.
    pub grad_norm: f64,
    /// Tokens in the step's micro-batches (padding not counted).
    pub tokens: usize,
    /// Means over the step's micro-batches, for DPO steps.
    pub dpo: Option<DpoMetrics>,
}

/// Scales every gradient so their global L2 norm is at most `clip`; returns the norm before.
pub fn clip_gradients(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    clip: f64,
) -> Result<f64> {
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v) {
            sq += f64::from(
                g.sqr()?
                    .sum_all()?
                    .to_dtype(DType::F32)?
                    .to_scalar::<f32>()?,
            );
        }
    }
    let norm = sq.sqrt();
    if clip > 0.0 && norm > clip {
        let scale = clip / norm;
        for v in vars {
            if let Some(g) = grads.remove(v) {
                grads.insert(v, (g * scale)?);
            }
        }
    }
    Ok(norm)
}

/// One micro-batch's loss, how many tokens it read, and DPO's numbers when it is a DPO batch.
pub struct MicroBatch {
    /// The micro-batch's loss, to differentiate.
    pub loss: Tensor,
    /// Tokens the micro-batch read (padding not counted).
    pub tokens: usize,
    /// The DPO numbers, for a DPO batch; `None` for SFT.
    pub dpo: Option<DpoMetrics>,
}

/// The optimisation loop shared by SFT and DPO: for every step from `opt.step` to `s.steps`, sums
/// `s.accumulation` micro-batch losses from `micro(step, index)`, backpropagates, clips, steps
/// AdamW with the scheduled rate and reports. A loss or gradient that is not finite stops the loop
/// with an error before the optimiser touches the adapters, so the last checkpoint stays good.
pub fn optimise(
    model: &Decoder,
    opt: &mut AdamW,
    vars: &[Var],
    s: &Settings,
    micro: &mut dyn FnMut(usize, usize) -> Result<MicroBatch>,
    on_step: &mut dyn FnMut(&StepMetrics, &AdamW) -> Result<()>,
) -> Result<()> {
    let parts = s.accumulation.max(1);
    for step in opt.step..s.steps {
        let lr = lr_at(s, step);
        opt.lr = lr;
        let mut grads: Option<GradStore> = None;
        let mut value = 0f64;
        let mut tokens = 0;
        let mut dpo: Vec<DpoMetrics> = Vec::new();
        // Each micro-batch is differentiated on its own (the gradient of the sum is the sum of
        // the gradients), so only one micro-batch's activations are alive at a time.
        for index in 0..parts {
            model.begin_micro_batch(step, index);
            let m = micro(step, index)?;
            tokens += m.tokens;
            dpo.extend(m.dpo);
            let l = (m.loss / parts as f64)?;
            value += f64::from(l.to_scalar::<f32>()?);
            if !value.is_finite() {
                candle_core::bail!("the loss became {value} at step {}", step + 1);
            }
            let g = model.backward(&l)?;
            // The adapters' gradients only: candle's store also holds intermediate ones.
            let mut sum = grads.take().unwrap_or_default();
            for v in vars {
                if let Some(new) = g.get(v) {
                    let total = match sum.remove(v) {
                        Some(before) => (before + new)?,
                        None => new.clone(),
                    };
                    sum.insert(v, total);
                }
            }
            grads = Some(sum);
        }
        let Some(mut grads) = grads else { continue };
        let grad_norm = clip_gradients(&mut grads, vars, s.clip)?;
        if !grad_norm.is_finite() {
            candle_core::bail!("the gradient norm became {grad_norm} at step {}", step + 1);
        }
        opt.step(&grads)?;
        on_step(
            &StepMetrics {
                step,
                loss: value,
                lr,
                grad_norm,
                tokens,
                dpo: DpoMetrics::mean(&dpo),
            },
            opt,
        )?;
    }
    Ok(())
}

/// Supervised fine-tuning of `model`'s adapters on `examples`, in a seeded order.
pub fn train(
    model: &Decoder,
    opt: &mut AdamW,
    vars: &[Var],
    examples: &[Example],
    s: &Settings,
    on_step: &mut dyn FnMut(&StepMetrics, &AdamW) -> Result<()>,
) -> Result<()> {
    if examples.is_empty() {
        candle_core::bail!("there are no training examples");
    }
    let order = bucketed(
        &shuffled(examples.len(), s.seed),
        |i| examples[i].ids.len(),
        s.batch,
        s.seed,
    );
    let mut micro = |step: usize, index: usize| -> Result<MicroBatch> {
        let batch = batch_at(examples, &order, s, step, index);
        Ok(MicroBatch {
            tokens: batch.iter().map(|e| e.ids.len()).sum(),
            loss: loss(model, &batch, true, true)?,
            dpo: None,
        })
    };
    optimise(model, opt, vars, s, &mut micro, on_step)
}

/// The `index`-th micro-batch of `step`: consecutive items of the seeded order, wrapping around.
pub fn batch_at<T: Clone>(
    items: &[T],
    order: &[usize],
    s: &Settings,
    step: usize,
    index: usize,
) -> Vec<T> {
    let size = s.batch.max(1);
    let per_step = size * s.accumulation.max(1);
    (0..size)
        .map(|i| {
            let k = (step * per_step + index * size + i) % items.len();
            items[order[k]].clone()
        })
        .collect()
}

/// `order` regrouped so each batch holds examples of similar length: windows of `batch * 32`
/// consecutive items are sorted by `length`, cut into batches, and the batches shuffled again
/// (seeded). A batch pads to its longest example, so mixing a 1,500-token window with three
/// 200-token ones would spend most of a step on padding. The result is still a permutation.
pub fn bucketed(
    order: &[usize],
    length: impl Fn(usize) -> usize,
    batch: usize,
    seed: u64,
) -> Vec<usize> {
    let batch = batch.max(1);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for window in order.chunks(batch * 32) {
        let mut window = window.to_vec();
        window.sort_by_key(|&i| length(i));
        batches.extend(window.chunks(batch).map(<[usize]>::to_vec));
    }
    // A short last batch stays last, so every other batch keeps its full size.
    let last = match batches.last() {
        Some(b) if b.len() < batch => batches.pop(),
        _ => None,
    };
    let mut out: Vec<usize> = shuffled(batches.len(), seed ^ 0xB0C4)
        .into_iter()
        .flat_map(|b| batches[b].clone())
        .collect();
    out.extend(last.into_iter().flatten());
    out
}

/// A seeded permutation (xorshift), so the example order does not depend on a global RNG.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}
