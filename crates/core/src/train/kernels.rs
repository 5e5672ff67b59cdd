//! Fused CPU kernels for training, each with its backward pass: RMSNorm (gradient to the input
//! only; the norm's weight is frozen), the causal softmax of attention scores (scale and mask
//! included) and the rotary embedding. Written with candle's elementwise ops each takes several
//! passes and full-size temporaries forward and more backward; on a small model that overhead, not
//! the matrix products, was most of a training step. Off the CPU (or outside f32) the composed ops
//! run instead, so the results are the same everywhere.
// mallopt (libc) keeps freed activation memory instead of returning it to the kernel.
#![allow(unsafe_code)]

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

/// The contiguous f32 data of a CPU tensor operand.
fn data<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    if !layout.is_contiguous() {
        candle_core::bail!("{what}: the input must be contiguous");
    }
    match storage {
        CpuStorage::F32(d) => {
            let start = layout.start_offset();
            Ok(&d[start..start + layout.shape().elem_count()])
        }
        _ => candle_core::bail!("{what}: f32 only"),
    }
}

/// A tensor's contiguous f32 values (a copy; used for gradients and small tables).
fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

fn fused(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

struct RmsNorm {
    weight: Vec<f32>,
    eps: f32,
}

impl RmsNorm {
    fn inverse_rms(&self, row: &[f32]) -> f32 {
        let mean = row.iter().map(|x| x * x).sum::<f32>() / row.len() as f32;
        1.0 / (mean + self.eps).sqrt()
    }
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(storage, layout, "rms-norm")?;
        let n = self.weight.len();
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(n)
            .zip(x.par_chunks(n))
            .for_each(|(o, row)| {
                let r = self.inverse_rms(row);
                for ((o, x), w) in o.iter_mut().zip(row).zip(&self.weight) {
                    *o = x * r * w;
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// `dx = r·(u − ŷ·mean(u·ŷ))` with `u = g·w`, `ŷ = x·r`, `r = 1/rms(x)`.
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let x = values(arg)?;
        let g = values(grad)?;
        let n = self.weight.len();
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(n)
            .zip(x.par_chunks(n).zip(g.par_chunks(n)))
            .for_each(|(o, (row, g))| {
                let r = self.inverse_rms(row);
                let dot: f32 = row
                    .iter()
                    .zip(g)
                    .zip(&self.weight)
                    .map(|((x, g), w)| g * w * x * r)
                    .sum::<f32>()
                    / n as f32;
                for (((o, x), g), w) in o.iter_mut().zip(row).zip(g).zip(&self.weight) {
                    *o = r * (g * w - x * r * dot);
                }
            });
        Ok(Some(Tensor::from_vec(out, arg.shape(), arg.device())?))
    }
}

/// `x / rms(x) · weight` over the last dimension; gradients flow to `x` only.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    if fused(x) {
        return x.contiguous()?.apply_op1(RmsNorm {
            weight: values(weight)?,
            eps: eps as f32,
        });
    }
    // In f32 whatever the input's dtype, as Hugging Face's Llama and Qwen2 norm.
    let xf = x.to_dtype(DType::F32)?;
    let mean = xf.sqr()?.mean_keepdim(D::Minus1)?;
    xf.broadcast_div(&(mean + eps)?.sqrt()?)?
        .to_dtype(x.dtype())?
        .broadcast_mul(weight)
}

// ---------------------------------------------------------------------------------------------
// Causal softmax

struct CausalSoftmax {
    scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(storage, layout, "causal-softmax")?;
        let dims = layout.dims();
        let t = dims[dims.len() - 1];
        if dims.len() < 2 || dims[dims.len() - 2] != t {
            candle_core::bail!(
                "causal-softmax: scores must be square in their last two dimensions, not {dims:?}"
            );
        }
        let mut out = vec![0f32; x.len()];
        // Row i of each [t, t] block sees columns 0..=i.
        out.par_chunks_mut(t)
            .zip(x.par_chunks(t))
            .enumerate()
            .for_each(|(k, (o, row))| {
                let seen = k % t + 1;
                let max = row[..seen]
                    .iter()
                    .fold(f32::NEG_INFINITY, |m, v| m.max(v * self.scale));
                let mut sum = 0.0;
                for (o, v) in o[..seen].iter_mut().zip(&row[..seen]) {
                    *o = (v * self.scale - max).exp();
                    sum += *o;
                }
                for o in &mut o[..seen] {
                    *o /= sum;
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// `dx = scale · y·(g − Σ g·y)` per row (masked entries have y = 0).
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let y = values(res)?;
        let g = values(grad)?;
        let t = res.dim(D::Minus1)?;
        let mut out = vec![0f32; y.len()];
        out.par_chunks_mut(t)
            .zip(y.par_chunks(t).zip(g.par_chunks(t)))
            .for_each(|(o, (y, g))| {
                let dot: f32 = y.iter().zip(g).map(|(y, g)| y * g).sum();
                for ((o, y), g) in o.iter_mut().zip(y).zip(g) {
                    *o = self.scale * y * (g - dot);
                }
            });
        Ok(Some(Tensor::from_vec(out, res.shape(), res.device())?))
    }
}

/// Softmax over the last dimension of `scale · scores` (`[..., t, t]`), with query `i` attending to
/// keys `0..=i` only.
pub fn causal_softmax(scores: &Tensor, scale: f64) -> Result<Tensor> {
    if fused(scores) {
        return scores.contiguous()?.apply_op1(CausalSoftmax {
            scale: scale as f32,
        });
    }
    let t = scores.dim(D::Minus1)?;
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    let mask = Tensor::from_vec(mask, (t, t), scores.device())?;
    // The softmax in f32 (as Hugging Face's eager attention), back in the scores' dtype.
    let scores_f32 = (scores.to_dtype(DType::F32)? * scale)?;
    // `softmax` is composed of differentiable ops; `softmax_last_dim` has no backward pass, and
    // with it the q/k adapters of a run off the CPU got no gradient at all.
    candle_nn::ops::softmax(&scores_f32.broadcast_add(&mask)?, D::Minus1)?.to_dtype(scores.dtype())
}

// ---------------------------------------------------------------------------------------------
// Rotary embedding (Hugging Face layout: the two halves of each head rotate together)

struct Rope {
    /// `[t, d]` tables, each half repeated.
    cos: Vec<f32>,
    sin: Vec<f32>,
    t: usize,
    d: usize,
}

impl Rope {
    /// Rotates every `[t, d]` block of `x` by `sign · angle`.
    fn rotate(&self, x: &[f32], sign: f32) -> Vec<f32> {
        let (t, d, h) = (self.t, self.d, self.d / 2);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .enumerate()
            .for_each(|(k, (o, row))| {
                let p = (k % t) * d;
                for j in 0..h {
                    let (c, s) = (self.cos[p + j], sign * self.sin[p + j]);
                    o[j] = row[j] * c - row[j + h] * s;
                    o[j + h] = row[j + h] * c + row[j] * s;
                }
            });
        out
    }
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(storage, layout, "rope")?;
        Ok((CpuStorage::F32(self.rotate(x, 1.0)), layout.shape().clone()))
    }

    /// A rotation's transpose is the rotation back.
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = values(grad)?;
        Ok(Some(Tensor::from_vec(
            self.rotate(&g, -1.0),
            arg.shape(),
            arg.device(),
        )?))
    }
}

/// Rotary embedding of `x` `[batch, heads, t, d]` with tables `cos`, `sin` `[t, d]`.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (t, d) = cos.dims2()?;
    if fused(x) && x.dim(D::Minus2)? == t && d % 2 == 0 {
        return x.contiguous()?.apply_op1(Rope {
            cos: values(cos)?,
            sin: values(sin)?,
            t,
            d,
        });
    }
    let half = d / 2;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// glibc's allocator returns big blocks to the system as soon as they are freed, so every step
/// page-faults its activations in again (a quarter of a step's time on two cores). Keeping blocks
/// up to 32 MB in the heap, and the heap from shrinking, makes later steps reuse the memory.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; it is called before training
    // allocates, and any value is valid for these two parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Values and input gradients of `fused` and `plain` agree on random input of `shape`.
    fn agree(
        shape: &[usize],
        fused: &dyn Fn(&Tensor) -> Tensor,
        plain: &dyn Fn(&Tensor) -> Tensor,
    ) {
        let dev = Device::Cpu;
        let x =
            Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev).expect("randn")).expect("var");
        let w = Tensor::randn(0f32, 1.0, shape, &dev).expect("weights");
        let a = fused(x.as_tensor());
        let b = plain(x.as_tensor());
        let close = |p: &Tensor, q: &Tensor, what: &str| {
            let d: f32 = (p - q)
                .and_then(|d| d.abs())
                .and_then(|d| d.max_all())
                .and_then(|d| d.to_scalar())
                .expect("diff");
            assert!(d < 1e-4, "{what} differs by {d}");
        };
        close(&a, &b, "value");
        let ga = (a * &w)
            .and_then(|t| t.sum_all())
            .and_then(|t| t.backward())
            .expect("bwd");
        let gb = (b * &w)
            .and_then(|t| t.sum_all())
            .and_then(|t| t.backward())
            .expect("bwd");
        close(ga.get(&x).expect("ga"), gb.get(&x).expect("gb"), "gradient");
    }

    #[test]
    fn rms_norm_matches_the_composed_ops() {
        let weight = Tensor::randn(0f32, 1.0, 6, &Device::Cpu).expect("w");
        agree(
            &[2, 3, 6],
            &|x| rms_norm(x, &weight, 1e-5).expect("fused"),
            &|x| {
                let mean = x
                    .sqr()
                    .and_then(|s| s.mean_keepdim(D::Minus1))
                    .expect("mean");
                x.broadcast_div(&(mean + 1e-5).and_then(|m| m.sqrt()).expect("rms"))
                    .and_then(|y| y.broadcast_mul(&weight))
                    .expect("plain")
            },
        );
    }

    #[test]
    fn causal_softmax_matches_mask_and_softmax() {
        agree(
            &[2, 3, 5, 5],
            &|x| causal_softmax(x, 0.5).expect("fused"),
            &|x| {
                let mask: Vec<f32> = (0..5)
                    .flat_map(|i| (0..5).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
                    .collect();
                let mask = Tensor::from_vec(mask, (5, 5), &Device::Cpu).expect("mask");
                (x * 0.5)
                    .and_then(|s| s.broadcast_add(&mask))
                    .and_then(|s| candle_nn::ops::softmax(&s, D::Minus1))
                    .expect("plain")
            },
        );
    }

    #[test]
    fn rope_matches_the_composed_rotation() {
        let dev = Device::Cpu;
        let cos = Tensor::randn(0f32, 1.0, (4, 3), &dev).expect("cos");
        let sin = Tensor::randn(0f32, 1.0, (4, 3), &dev).expect("sin");
        // Tables repeat their halves, as the decoder builds them.
        let cos = Tensor::cat(&[&cos, &cos], 1).expect("cos");
        let sin = Tensor::cat(&[&sin, &sin], 1).expect("sin");
        agree(
            &[2, 3, 4, 6],
            &|x| rope(x, &cos, &sin).expect("fused"),
            &|x| {
                let x1 = x.narrow(D::Minus1, 0, 3).expect("x1");
                let x2 = x.narrow(D::Minus1, 3, 3).expect("x2");
                let rotated = Tensor::cat(&[&x2.neg().expect("neg"), &x1], D::Minus1).expect("cat");
                (x.broadcast_mul(&cos).expect("c") + rotated.broadcast_mul(&sin).expect("s"))
                    .expect("plain")
            },
        );
    }
}
