//! A frozen linear map `x·Wᵀ` as a custom op. candle's matmul backward computes the gradient of both
//! operands, so a plain matmul over frozen base weights spends as much again on a weight gradient
//! nobody reads (for the vocabulary projection, a `[batch, hidden, vocab]` tensor per step, and on
//! CUDA a second bf16 copy of every projection). This op's backward computes only the input's
//! gradient, on the CPU (our AVX-512 product where it applies) and on CUDA (cuBLAS).

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, DType, Layout, Result, Shape, Storage, Tensor,
};
use logreasoner_cpu::sgemm::View;

struct Frozen {
    /// `[out, in]` (a handle: tensors share their storage).
    weight: Tensor,
}

/// The sizes of one `x·Wᵀ`: `x` is `m` rows of `k`, `W` is `n`×`k`.
struct Product {
    m: usize,
    k: usize,
    n: usize,
    /// `x`'s dims with the last one `n`.
    out: Shape,
}

impl Product {
    fn of(layout: &Layout, w_layout: &Layout) -> Result<Product> {
        let dims = layout.dims();
        let Some(&k) = dims.last() else {
            candle_core::bail!("frozen-linear: a scalar input");
        };
        if !layout.is_contiguous() {
            candle_core::bail!("frozen-linear: the input must be contiguous");
        }
        let (n, w_in) = w_layout.shape().dims2()?;
        if w_in != k {
            candle_core::bail!("frozen-linear: input width {k}, weight {n}×{w_in}");
        }
        let mut out = dims.to_vec();
        out[dims.len() - 1] = n;
        Ok(Product {
            m: layout.shape().elem_count() / k.max(1),
            k,
            n,
            out: Shape::from(out),
        })
    }

    /// The product with the backend's own matmul (candle's gemm on the CPU, cuBLAS on CUDA),
    /// reading `W` transposed in place.
    fn run<S: BackendStorage>(
        &self,
        x: &S,
        layout: &Layout,
        w: &S,
        w_layout: &Layout,
    ) -> Result<(S, Shape)> {
        let lhs = Layout::contiguous_with_offset((self.m, self.k), layout.start_offset());
        let rhs = w_layout.transpose(0, 1)?;
        let out = x.matmul(w, (1, self.m, self.n, self.k), &lhs, &rhs)?;
        Ok((out, self.out.clone()))
    }
}

impl CustomOp1 for Frozen {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, x: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (storage, w_layout) = self.weight.storage_and_layout();
        let Storage::Cpu(w) = &*storage else {
            candle_core::bail!("frozen-linear: the weight is not on the CPU");
        };
        let p = Product::of(layout, w_layout)?;
        if let (CpuStorage::F32(xs), CpuStorage::F32(ws), true) = (x, w, w_layout.is_contiguous()) {
            let xs = &xs[layout.start_offset()..layout.start_offset() + p.m * p.k];
            let ws = &ws[w_layout.start_offset()..w_layout.start_offset() + p.n * p.k];
            // Element (k, n) of Wᵀ is W[n][k].
            let wt = View::rows(ws, p.n, p.k).t();
            if let Some(out) = logreasoner_cpu::sgemm::product(xs, (p.m, p.k), wt) {
                return Ok((CpuStorage::F32(out), p.out));
            }
        }
        p.run(x, layout, w, w_layout)
    }

    fn cuda_fwd(&self, x: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, Shape)> {
        let (storage, w_layout) = self.weight.storage_and_layout();
        let Storage::Cuda(w) = &*storage else {
            candle_core::bail!("frozen-linear: the weight is not on the input's GPU");
        };
        Product::of(layout, w_layout)?.run(x, layout, w, w_layout)
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if let Some(g) = self.input_grad(grad)? {
            return Ok(Some(g));
        }
        Ok(Some(grad.broadcast_matmul(&self.weight)?))
    }
}

impl Frozen {
    /// `grad · W` with our AVX-512 product, when the CPU has it and both are f32 on the CPU.
    fn input_grad(&self, grad: &Tensor) -> Result<Option<Tensor>> {
        let (n, k) = self.weight.dims2()?;
        let on_cpu = grad.device().is_cpu() && self.weight.device().is_cpu();
        if !on_cpu || grad.dtype() != DType::F32 || self.weight.dtype() != DType::F32 {
            return Ok(None);
        }
        let m = grad.elem_count() / n.max(1);
        let grad = grad.contiguous()?;
        let out = with_f32(&grad, |gs| {
            // B is W itself: element (n, k) at n·k_len + k.
            with_f32(&self.weight, |ws| {
                logreasoner_cpu::sgemm::product(gs, (m, n), View::rows(ws, n, k))
            })
        })
        .flatten()
        .flatten();
        let Some(out) = out else {
            return Ok(None);
        };
        let mut dims = grad.dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = k;
        }
        Ok(Some(Tensor::from_vec(out, dims, grad.device())?))
    }
}

/// `f` of a contiguous f32 CPU tensor's values, without copying them; `None` for any other.
pub(super) fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) => Some(f(&values[start..end])),
        _ => None,
    }
}

/// `x·Wᵀ` for a frozen `weight` (`[out, in]`); gradients flow to `x` only.
pub fn linear(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let device = x.device();
    if (device.is_cpu() || device.is_cuda())
        && device.same_device(weight.device())
        && weight.dtype() == x.dtype()
    {
        x.contiguous()?.apply_op1(Frozen {
            weight: weight.clone(),
        })
    } else {
        x.broadcast_matmul(&weight.t()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Value and input gradient equal candle's matmul, for a batched input whose depth spans two
    /// of the AVX-512 product's blocks and whose sizes are not multiples of its tiles.
    #[test]
    fn matches_a_plain_matmul_in_value_and_gradient() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 37, 300), &dev).expect("x"))
            .expect("var");
        let w = Tensor::randn(0f32, 1.0, (45, 300), &dev).expect("w");
        let up = Tensor::randn(0f32, 1.0, (3, 37, 45), &dev).expect("upstream");
        let fused = linear(x.as_tensor(), &w).expect("fused");
        let plain = x
            .as_tensor()
            .broadcast_matmul(&w.t().expect("t"))
            .expect("plain");
        let max_diff = |a: &Tensor, b: &Tensor| -> f32 {
            (a - b)
                .and_then(|d| d.abs())
                .and_then(|d| d.max_all())
                .and_then(|d| d.to_scalar())
                .expect("diff")
        };
        assert!(max_diff(&fused, &plain) < 1e-3);
        let grad = |t: Tensor| {
            let g = (t * &up)
                .and_then(|t| t.sum_all())
                .and_then(|t| t.backward())
                .expect("backward");
            g.get(&x).cloned().expect("gradient")
        };
        assert!(max_diff(&grad(fused), &grad(plain)) < 1e-3);
    }

    /// In bf16 the op takes the backend's own matmul (the path CUDA takes): the value and the
    /// input's gradient still equal a plain matmul's, and a weight that is itself a variable gets
    /// no gradient from it, where the plain matmul computes one.
    #[test]
    fn the_backend_path_computes_no_weight_gradient() {
        computes_no_weight_gradient(&Device::Cpu);
    }

    /// The same through cuBLAS; it needs a GPU: `cargo test --features cuda cuda`.
    #[cfg(feature = "cuda")]
    #[test]
    fn on_cuda_it_computes_no_weight_gradient() {
        computes_no_weight_gradient(&Device::new_cuda(0).expect("this test needs a CUDA device"));
    }

    fn computes_no_weight_gradient(dev: &Device) {
        let dev = dev.clone();
        let bf16 = |t: Tensor| t.to_dtype(DType::BF16).expect("bf16");
        let x = Var::from_tensor(&bf16(
            Tensor::randn(0f32, 1.0, (2, 9, 40), &dev).expect("x"),
        ))
        .expect("var");
        let w = Var::from_tensor(&bf16(Tensor::randn(0f32, 1.0, (13, 40), &dev).expect("w")))
            .expect("var");
        let up = bf16(Tensor::randn(0f32, 1.0, (2, 9, 13), &dev).expect("upstream"));
        let grads = |y: Tensor| {
            (y * &up)
                .and_then(|t| t.to_dtype(DType::F32))
                .and_then(|t| t.sum_all())
                .and_then(|t| t.backward())
                .expect("backward")
        };
        let to_f32 = |t: &Tensor| t.to_dtype(DType::F32).expect("f32");
        let max_diff = |a: &Tensor, b: &Tensor| -> f32 {
            (to_f32(a) - to_f32(b))
                .and_then(|d| d.abs())
                .and_then(|d| d.max_all())
                .and_then(|d| d.to_scalar())
                .expect("diff")
        };
        let fused = linear(x.as_tensor(), w.as_tensor()).expect("fused");
        let plain = x
            .as_tensor()
            .broadcast_matmul(&w.as_tensor().t().expect("t"))
            .expect("plain");
        assert_eq!(fused.dtype(), DType::BF16);
        assert!(max_diff(&fused, &plain) < 0.1, "bf16 values differ");
        let (ours, theirs) = (grads(fused), grads(plain));
        let dx = |g: &candle_core::backprop::GradStore| g.get(&x).cloned().expect("x gradient");
        assert!(
            max_diff(&dx(&ours), &dx(&theirs)) < 0.1,
            "input gradients differ"
        );
        assert!(
            ours.get(&w).is_none(),
            "the frozen op computed a weight gradient"
        );
        assert!(
            theirs.get(&w).is_some(),
            "the plain matmul should compute one"
        );
    }
}
