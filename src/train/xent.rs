//! The log-probability of target tokens under logits, as one fused op: a row's log-sum-exp and its
//! target's logit in one pass forward, `grad · (onehot − softmax)` in one pass backward. Written out
//! with candle's ops it takes half a dozen full-size temporaries of `[rows, vocab]` each way, which
//! dominated a training step on CPU (memory traffic and page faults, not arithmetic).

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
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
    let logp = candle_nn::ops::log_softmax(logits, candle_core::D::Minus1)?;
    let idx = Tensor::new(targets, logits.device())?.unsqueeze(1)?;
    logp.gather(&idx, 1)?.squeeze(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

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
