//! The log-probability of target tokens under logits, as one fused op: a row's log-sum-exp and its
//! target's logit in one pass forward, `grad · (onehot − softmax)` in one pass backward. Written out
//! with candle's ops it takes half a dozen full-size temporaries of `[rows, vocab]` each way, which
//! dominated a training step on CPU (memory traffic and page faults, not arithmetic).
// gemm's product takes raw pointers; the shapes it reads are checked where it is called.
#![allow(unsafe_code)]

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use std::sync::Arc;

use logreasoner_cpu::train::{
    target_logp as target_logp_blocked, Head, VocabularyBlocks, VOCAB_BLOCK,
};
use rayon::prelude::*;

struct TargetLogp {
    targets: Vec<u32>,
    /// Each row's log-sum-exp, kept from the forward pass for the backward pass.
    lse: Mutex<Vec<f32>>,
}

fn rows<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<(&'a [f32], usize, usize)> {
    if !layout.is_contiguous() {
        candle_core::bail!("target-logp: the logits must be contiguous");
    }
    let (m, v) = layout.shape().dims2()?;
    let data = match storage {
        CpuStorage::F32(d) => d,
        _ => candle_core::bail!("target-logp: f32 logits only"),
    };
    let start = layout.start_offset();
    Ok((&data[start..start + m * v], m, v))
}

impl CustomOp1 for TargetLogp {
    fn name(&self) -> &'static str {
        "target-logp"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (data, m, v) = rows(storage, layout)?;
        if self.targets.len() != m || self.targets.iter().any(|t| *t as usize >= v) {
            candle_core::bail!(
                "target-logp: {} targets for {m} rows of {v}",
                self.targets.len()
            );
        }
        let lse: Vec<f32> = data
            .par_chunks(v)
            .map(|row| {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = row.iter().map(|x| (x - max).exp()).sum();
                max + sum.ln()
            })
            .collect();
        let out: Vec<f32> = (0..m)
            .map(|i| data[i * v + self.targets[i] as usize] - lse[i])
            .collect();
        if let Ok(mut kept) = self.lse.lock() {
            *kept = lse;
        }
        Ok((CpuStorage::F32(out), Shape::from(m)))
    }

    fn bwd(&self, logits: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad: Vec<f32> = grad.to_dtype(DType::F32)?.to_vec1()?;
        let lse = self
            .lse
            .lock()
            .map_err(|_| candle_core::Error::Msg("target-logp: poisoned".into()))?
            .clone();
        let (storage, layout) = logits.storage_and_layout();
        let candle_core::Storage::Cpu(cpu) = &*storage else {
            candle_core::bail!("target-logp: the logits are not on the CPU");
        };
        let (data, m, v) = rows(cpu, layout)?;
        let mut out = vec![0f32; m * v];
        out.par_chunks_mut(v).enumerate().for_each(|(i, row)| {
            let (g, l, t) = (grad[i], lse[i], self.targets[i] as usize);
            for (j, o) in row.iter_mut().enumerate() {
                *o = -g * (data[i * v + j] - l).exp();
            }
            row[t] += g;
        });
        drop(storage);
        Ok(Some(Tensor::from_vec(out, (m, v), logits.device())?))
    }
}

/// `log softmax(logits)[i, targets[i]]` for `logits` `[rows, vocab]`, `[rows]`, differentiable.
/// Off the CPU (or in another dtype) it falls back to candle's ops.
pub fn target_logp(logits: &Tensor, targets: &[u32]) -> Result<Tensor> {
    if logits.device().is_cpu() && logits.dtype() == DType::F32 {
        return logits.contiguous()?.apply_op1(TargetLogp {
            targets: targets.to_vec(),
            lse: Mutex::new(Vec::new()),
        });
    }
    // In f32 whatever the logits' dtype: a bf16 log-sum-exp over 49,152 logits loses the target.
    let logits = logits.to_dtype(DType::F32)?;
    let logp = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?;
    let idx = Tensor::new(targets, logits.device())?.unsqueeze(1)?;
    logp.gather(&idx, 1)?.squeeze(1)
}

/// A frozen `[vocab, hidden]` projection packed for the AVX-512 product in vocabulary blocks, each
/// both ways (as Wᵀ for the logits, as W for their gradient), once per training run: packing per
/// chunk would copy the whole matrix for every job. `None` off the CPU, for other dtypes, or
/// where the CPU lacks AVX-512.
pub fn pack_projection(weight: &Tensor) -> Option<Arc<Head>> {
    let (v, d) = weight.dims2().ok()?;
    if !weight.device().is_cpu() || weight.dtype() != DType::F32 {
        return None;
    }
    super::frozen::with_f32(weight, |w| Head::new(w, v, d).map(Arc::new)).flatten()
}

struct ProjectedTargetLogp {
    /// `[vocab, hidden]`, frozen.
    weight: Tensor,
    packed: Option<Arc<Head>>,
    targets: Vec<u32>,
    with_grad: bool,
    /// `[rows, hidden]`: d logp / d hidden, from the forward pass.
    grad: Mutex<Vec<f32>>,
}

/// The projection's weight as it is, for CPUs without our AVX-512 product: the same blocked
/// algorithm as our pass's (`logreasoner_cpu::train::target_logp`), on the gemm crate's products.
struct RawProjection<'a> {
    /// Row-major `[vocab, width]`.
    weight: &'a [f32],
    vocab: usize,
    width: usize,
}

impl RawProjection<'_> {
    /// `dst[m×n] (+)= a[m×k] · b` where `b`'s element `(k, n)` is at `b_rs·k + b_cs·n`,
    /// single-threaded (the caller runs jobs in parallel).
    fn product(
        dst: &mut [f32],
        a: &[f32],
        b: &[f32],
        (m, n, k): (usize, usize, usize),
        (b_rs, b_cs): (isize, isize),
        accumulate: bool,
    ) {
        debug_assert!(dst.len() >= m * n && a.len() >= m * k);
        // SAFETY: `dst` holds m×n values, `a` m×k, and `b` is a block of the `[vocab, width]`
        // weight read within its own shape by the strides the callers pass.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                accumulate,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                b_cs,
                b_rs,
                if accumulate { 1.0 } else { 0.0 },
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    }

    /// Block `block`'s rows of the weight and their count.
    fn block(&self, block: usize) -> (&[f32], usize) {
        let v0 = block * VOCAB_BLOCK;
        let len = VOCAB_BLOCK.min(self.vocab - v0);
        (&self.weight[v0 * self.width..(v0 + len) * self.width], len)
    }
}

impl VocabularyBlocks for RawProjection<'_> {
    fn width(&self) -> usize {
        self.width
    }

    fn vocab(&self) -> usize {
        self.vocab
    }

    fn logits(&self, block: usize, hidden: &[f32], rows: usize, logits: &mut [f32]) {
        let (w, len) = self.block(block);
        // Element (k, n) of Wᵀ is W[n][k].
        let strides = (1, self.width as isize);
        Self::product(logits, hidden, w, (rows, len, self.width), strides, false);
    }

    fn add_grad(&self, block: usize, weights: &[f32], rows: usize, grad: &mut [f32]) {
        let (w, len) = self.block(block);
        let strides = (self.width as isize, 1);
        Self::product(grad, weights, w, (rows, self.width, len), strides, true);
    }

    fn row(&self, token: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.weight[token * self.width..(token + 1) * self.width]);
    }
}

impl CustomOp1 for ProjectedTargetLogp {
    fn name(&self) -> &'static str {
        "projected-target-logp"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (hidden, m, d) = rows(storage, layout)?;
        let (w_storage, w_layout) = self.weight.storage_and_layout();
        let candle_core::Storage::Cpu(CpuStorage::F32(w)) = &*w_storage else {
            candle_core::bail!("projected-target-logp: the weight must be f32 on the CPU");
        };
        let (v, w_d) = w_layout.shape().dims2()?;
        if w_d != d || !w_layout.is_contiguous() {
            candle_core::bail!("projected-target-logp: hidden width {d}, weight {v}×{w_d}");
        }
        let w = &w[w_layout.start_offset()..w_layout.start_offset() + v * d];
        if self.targets.len() != m || self.targets.iter().any(|t| *t as usize >= v) {
            candle_core::bail!(
                "projected-target-logp: {} targets for {m} rows",
                self.targets.len()
            );
        }
        let (logp, grad) = match &self.packed {
            Some(p) => {
                if p.width() != d || p.vocab() != v {
                    candle_core::bail!("projected-target-logp: the packing is not of this weight");
                }
                target_logp_blocked(hidden, p.as_ref(), &self.targets, self.with_grad)
            }
            None => {
                let raw = RawProjection {
                    weight: w,
                    vocab: v,
                    width: d,
                };
                target_logp_blocked(hidden, &raw, &self.targets, self.with_grad)
            }
        };
        if let Ok(mut kept) = self.grad.lock() {
            *kept = grad;
        }
        Ok((CpuStorage::F32(logp), Shape::from(m)))
    }

    fn bwd(&self, hidden: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !self.with_grad {
            candle_core::bail!("projected-target-logp: built without a gradient");
        }
        let upstream: Vec<f32> = grad.to_dtype(DType::F32)?.to_vec1()?;
        let mut out = self
            .grad
            .lock()
            .map_err(|_| candle_core::Error::Msg("projected-target-logp: poisoned".into()))?
            .clone();
        let d = hidden.dim(1)?;
        out.par_chunks_mut(d)
            .zip(upstream.par_iter())
            .for_each(|(row, g)| row.iter_mut().for_each(|x| *x *= g));
        Ok(Some(Tensor::from_vec(
            out,
            hidden.shape(),
            hidden.device(),
        )?))
    }
}

/// `log softmax(hidden · weightᵀ)[i, targets[i]]` for `hidden` `[rows, width]` and a frozen
/// `weight` `[vocab, width]` (with `packed`, its AVX-512 packing); differentiable in `hidden` when
/// `with_grad`. Off the CPU it is the
/// frozen projection followed by [`target_logp`].
pub fn projected_target_logp(
    hidden: &Tensor,
    weight: &Tensor,
    packed: Option<Arc<Head>>,
    targets: &[u32],
    with_grad: bool,
) -> Result<Tensor> {
    let cpu_f32 =
        hidden.device().is_cpu() && hidden.dtype() == DType::F32 && weight.dtype() == DType::F32;
    if cpu_f32 && weight.device().is_cpu() {
        return hidden.contiguous()?.apply_op1(ProjectedTargetLogp {
            weight: weight.contiguous()?,
            packed,
            targets: targets.to_vec(),
            with_grad,
            grad: Mutex::new(Vec::new()),
        });
    }
    target_logp(&super::frozen::linear(hidden, weight)?, targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The blocked projection equals projecting then taking the target log-prob, in value and
    /// in the hidden states' gradient, across a partial last chunk and two vocabulary blocks, on
    /// our AVX-512 product and on gemm's.
    #[test]
    fn the_projected_form_matches_projecting_first() {
        let dev = Device::Cpu;
        let rows = logreasoner_cpu::train::PROJECTION_ROWS + 7;
        let h = Var::from_tensor(&Tensor::randn(0f32, 1.0, (rows, 24), &dev).expect("randn"))
            .expect("var");
        // Two vocabulary blocks, the second short.
        let vocab = VOCAB_BLOCK + 300;
        let w = Tensor::randn(0f32, 0.5, (vocab, 24), &dev).expect("weight");
        let targets: Vec<u32> = (0..rows as u32).map(|i| (i * 37) % vocab as u32).collect();
        let weights = Tensor::randn(0f32, 1.0, rows, &dev).expect("weights");
        let packed = pack_projection(&w);
        let fused = projected_target_logp(h.as_tensor(), &w, None, &targets, true).expect("fused");
        let fast = projected_target_logp(h.as_tensor(), &w, packed.clone(), &targets, true)
            .expect("packed");
        let logits = h.as_tensor().matmul(&w.t().expect("t")).expect("logits");
        let plain = target_logp(&logits, &targets).expect("plain");
        let (a, b): (Vec<f32>, Vec<f32>) =
            (fused.to_vec1().expect("a"), plain.to_vec1().expect("b"));
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-4, "{p} vs {q}");
        }
        let grad_of = |t: Tensor| {
            let g = (t * &weights)
                .and_then(|t| t.sum_all())
                .and_then(|t| t.backward())
                .expect("backward");
            g.get(&h)
                .and_then(|t| t.flatten_all().ok())
                .and_then(|t| t.to_vec1::<f32>().ok())
                .expect("grad")
        };
        let reference = grad_of(plain);
        for (p, q) in grad_of(fused).iter().zip(&reference) {
            assert!((p - q).abs() < 1e-4, "{p} vs {q}");
        }
        let fast_values: Vec<f32> = fast.to_vec1().expect("fast");
        for (p, q) in fast_values.iter().zip(&b) {
            assert!((p - q).abs() < 1e-4, "packed: {p} vs {q}");
        }
        for (p, q) in grad_of(fast).iter().zip(&reference) {
            assert!((p - q).abs() < 1e-4, "packed gradient: {p} vs {q}");
        }
        let no_grad =
            projected_target_logp(h.as_tensor(), &w, packed, &targets, false).expect("no grad");
        for (p, q) in no_grad
            .to_vec1::<f32>()
            .expect("values")
            .iter()
            .zip(&fast_values)
        {
            assert!((p - q).abs() < 1e-6);
        }
    }

    #[test]
    fn matches_log_softmax_and_its_gradient() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 3.0, (5, 11), &dev).expect("randn"))
            .expect("var");
        let targets = [0u32, 3, 10, 7, 7];
        let weights = Tensor::new(&[1f32, -2.0, 0.5, 3.0, 0.0], &dev).expect("weights");
        let fused = target_logp(x.as_tensor(), &targets).expect("fused");
        let logp = candle_nn::ops::log_softmax(x.as_tensor(), 1).expect("log_softmax");
        let idx = Tensor::new(&targets, &dev)
            .and_then(|t| t.unsqueeze(1))
            .expect("idx");
        let plain = logp
            .gather(&idx, 1)
            .and_then(|t| t.squeeze(1))
            .expect("gather");
        let a: Vec<f32> = fused.to_vec1().expect("a");
        let b: Vec<f32> = plain.to_vec1().expect("b");
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5, "{a:?} {b:?}");
        }
        let g1 = (fused * &weights)
            .and_then(|t| t.sum_all())
            .and_then(|t| t.backward())
            .expect("backward");
        let g2 = (plain * &weights)
            .and_then(|t| t.sum_all())
            .and_then(|t| t.backward())
            .expect("backward");
        let d1: Vec<f32> = g1
            .get(&x)
            .and_then(|t| t.flatten_all().ok())
            .and_then(|t| t.to_vec1().ok())
            .expect("g1");
        let d2: Vec<f32> = g2
            .get(&x)
            .and_then(|t| t.flatten_all().ok())
            .and_then(|t| t.to_vec1().ok())
            .expect("g2");
        for (p, q) in d1.iter().zip(&d2) {
            assert!((p - q).abs() < 1e-5, "{d1:?} {d2:?}");
        }
    }
}
