//! A frozen linear map `x·Wᵀ` as a custom op. candle's matmul backward computes the gradient of both
//! operands, so a plain matmul over frozen base weights spends as much again on a weight gradient
//! nobody reads (for the vocabulary projection, a `[batch, hidden, vocab]` tensor per step). This
//! op's backward computes only the input's gradient. CPU only; other devices use the plain matmul.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};

struct Frozen {
    /// `[out, in]` (a handle: tensors share their storage).
    weight: Tensor,
}

impl CustomOp1 for Frozen {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, x: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.dims();
        let Some(&k) = dims.last() else {
            candle_core::bail!("frozen-linear: a scalar input");
        };
        if !layout.is_contiguous() {
            candle_core::bail!("frozen-linear: the input must be contiguous");
        }
        let m = layout.shape().elem_count() / k.max(1);
        let (storage, w_layout) = self.weight.storage_and_layout();
        let Storage::Cpu(w) = &*storage else {
            candle_core::bail!("frozen-linear: the weight is not on the CPU");
        };
        let (n, w_in) = w_layout.shape().dims2()?;
        if w_in != k {
            candle_core::bail!("frozen-linear: input width {k}, weight {n}×{w_in}");
        }
        let lhs = Layout::contiguous_with_offset((m, k), layout.start_offset());
        let rhs = w_layout.transpose(0, 1)?;
        let out = x.matmul(w, (1, m, n, k), &lhs, &rhs)?;
        let mut out_dims = dims.to_vec();
        out_dims[dims.len() - 1] = n;
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.broadcast_matmul(&self.weight)?))
    }
}

/// `x·Wᵀ` for a frozen `weight` (`[out, in]`); gradients flow to `x` only.
pub fn linear(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && weight.device().is_cpu() && weight.dtype() == x.dtype() {
        x.contiguous()?.apply_op1(Frozen {
            weight: weight.clone(),
        })
    } else {
        x.broadcast_matmul(&weight.t()?)
    }
}
