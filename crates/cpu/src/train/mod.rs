//! A LoRA training pass of our own for Llama/Qwen2 decoders on the CPU: forward with the
//! activations the backward pass needs kept on a [`Tape`], then backward to the adapters'
//! gradients only (the base is frozen, so no weight gradient of it is ever formed).
//!
//! Written with candle's autograd, a step spent most of its time outside the matrix products: a
//! tensor and a gradient buffer per op, gradients zero-filled and added op by op, a scheduler
//! wake-up per parallel op. Here a layer is a fixed sequence of our AVX-512 or AVX2 products
//! (`sgemm`) over weights packed once both ways, fused elementwise passes (`ops`), and attention
//! that keeps only log-sum-exps (`attention`).

mod attention;
pub mod ops;
mod xent;

use std::sync::Arc;

use rayon::prelude::*;

use crate::sgemm::{gemm, PackedB, Threads, View};
pub use xent::{target_logp, Head, VocabularyBlocks, PROJECTION_ROWS, VOCAB_BLOCK};

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("token id {id} is outside the vocabulary of {vocab}")]
    Token { id: u32, vocab: usize },
    #[error("sequences of {len} tokens are longer than the model's {max} positions")]
    TooLong { len: usize, max: usize },
    #[error("{0}")]
    Shape(String),
}

/// The decoder's shape: its sizes, rotary base and scaling, norm epsilon, and whether its q/k/v
/// projections carry biases. The trainer's candle decoder is described by the same type.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub vocab: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub max_positions: usize,
    pub rope_theta: f64,
    pub eps: f64,
    /// Qwen2 adds a bias to the q, k and v projections.
    pub qkv_bias: bool,
    /// Llama 3's scaling of the rotary frequencies, where the model has it.
    pub rope_scaling: Option<RopeScaling>,
}

/// Llama 3's rotary frequency scaling (`rope_scaling` of type `llama3` in a config.json):
/// wavelengths past `original_max_positions / low_freq_factor` are stretched `factor` times,
/// those under `original_max_positions / high_freq_factor` kept, and those between blended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RopeScaling {
    pub factor: f32,
    pub low_freq_factor: f32,
    pub high_freq_factor: f32,
    pub original_max_positions: usize,
}

impl Shape {
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// The rotary frequencies `θ^(−2i/head_dim)` (the power in f64, as candle's Qwen2 takes it;
    /// candle's Llama takes it in f32, which can differ by an ulp), scaled as `rope_scaling`
    /// says in f32, step for step as candle's Llama scales them.
    pub fn inv_freq(&self) -> Vec<f32> {
        let dim = self.head_dim();
        let plain =
            (0..dim / 2).map(|i| 1.0 / self.rope_theta.powf(2.0 * i as f64 / dim as f64) as f32);
        let Some(s) = self.rope_scaling else {
            return plain.collect();
        };
        let original = s.original_max_positions as f32;
        let (low_wavelength, high_wavelength) =
            (original / s.low_freq_factor, original / s.high_freq_factor);
        plain
            .map(|freq| {
                let wavelength = 2.0 * std::f32::consts::PI / freq;
                if wavelength < high_wavelength {
                    freq
                } else if wavelength > low_wavelength {
                    freq / s.factor
                } else {
                    let smooth = (original / wavelength - s.low_freq_factor)
                        / (s.high_freq_factor - s.low_freq_factor);
                    (1.0 - smooth) * freq / s.factor + smooth * freq
                }
            })
            .collect()
    }

    fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim()
    }

    fn qkv_width(&self) -> usize {
        self.hidden + 2 * self.kv_width()
    }

    /// Where attention finds its heads in a batch of `sequences` of `len` tokens.
    fn attention_heads(&self, sequences: usize, len: usize) -> attention::Heads {
        attention::Heads {
            sequences,
            seq: len,
            heads: self.heads,
            kv_heads: self.kv_heads,
            dim: self.head_dim(),
        }
    }
}

/// A frozen linear map `x·Wᵀ` packed both ways: as Wᵀ for the forward product and as W for the
/// input's gradient (twice the weight's size, against packing per use, which cost a tenth of
/// every product).
pub struct FrozenLinear {
    forward: PackedB,
    backward: PackedB,
}

impl FrozenLinear {
    /// `weight` is row-major `[out, in]`. `None` where the CPU lacks AVX-512.
    pub fn new(weight: &[f32], out: usize, inp: usize) -> Option<FrozenLinear> {
        let w = View::rows(weight, out, inp);
        Some(FrozenLinear {
            forward: PackedB::new(w.t())?,
            backward: PackedB::new(w)?,
        })
    }

    pub fn out_width(&self) -> usize {
        self.forward.width()
    }

    pub fn in_width(&self) -> usize {
        self.forward.depth()
    }

    /// `c = x·Wᵀ` (or `+=`), `c` with row stride `ldc`.
    fn apply(&self, x: View, c: &mut [f32], ldc: usize, accumulate: bool) {
        gemm(x, &self.forward, c, ldc, accumulate, Threads::All);
    }

    /// `dx = dy·W`, `[rows, in]`.
    fn input_grad(&self, dy: View) -> Vec<f32> {
        let mut dx = vec![0f32; dy.rows * self.in_width()];
        gemm(
            dy,
            &self.backward,
            &mut dx,
            self.in_width(),
            false,
            Threads::All,
        );
        dx
    }
}

/// The projections of a layer that can carry an adapter, in PEFT's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proj {
    Q = 0,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl Proj {
    pub const ALL: [Proj; 7] = [
        Proj::Q,
        Proj::K,
        Proj::V,
        Proj::O,
        Proj::Gate,
        Proj::Up,
        Proj::Down,
    ];

    /// The Hugging Face module names, in the order of [`Proj::ALL`].
    pub const NAMES: [&'static str; 7] = [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ];

    /// The Hugging Face module name (`q_proj`, …).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// One layer's frozen weights as the caller holds them: row-major `[out, in]`, q/k rows in
/// Hugging Face order (halves rotated).
pub struct LayerSource<'a> {
    pub input_norm: &'a [f32],
    pub post_norm: &'a [f32],
    /// Indexed by [`Proj`].
    pub weights: [&'a [f32]; 7],
    /// Qwen2's q, k and v biases.
    pub qkv_bias: Option<[&'a [f32]; 3]>,
}

struct Layer {
    input_norm: Vec<f32>,
    post_norm: Vec<f32>,
    /// q, k and v as one `[qkv_width, hidden]` map.
    qkv: FrozenLinear,
    qkv_bias: Option<Vec<f32>>,
    o: FrozenLinear,
    /// gate and up as one `[2·intermediate, hidden]` map.
    gate_up: FrozenLinear,
    down: FrozenLinear,
}

/// The frozen base: every projection packed both ways, once per run.
pub struct Base {
    shape: Shape,
    layers: Vec<Layer>,
    embed: Vec<f32>,
    norm: Vec<f32>,
    head: Arc<Head>,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

fn check_len(what: &str, got: usize, want: usize) -> Result<(), PassError> {
    if got == want {
        Ok(())
    } else {
        Err(PassError::Shape(format!(
            "{what} holds {got} values, not {want}"
        )))
    }
}

impl Base {
    /// The base without its layers (add them with [`Base::push_layer`], so a caller copies one
    /// layer's weights at a time). `head` is the vocabulary projection, shared with whoever else
    /// uses it. `Ok(None)` where the CPU lacks AVX-512.
    pub fn new(
        shape: Shape,
        embed: &[f32],
        norm: &[f32],
        head: Arc<Head>,
    ) -> Result<Option<Base>, PassError> {
        if !crate::sgemm::available() {
            return Ok(None);
        }
        let h = shape.hidden;
        if [
            h,
            shape.intermediate,
            shape.vocab,
            shape.layers,
            shape.max_positions,
        ]
        .contains(&0)
        {
            return Err(PassError::Shape(format!("a size of zero in {shape:?}")));
        }
        if shape.heads == 0
            || !h.is_multiple_of(shape.heads)
            || shape.kv_heads == 0
            || !shape.heads.is_multiple_of(shape.kv_heads)
            || !shape.head_dim().is_multiple_of(2)
        {
            return Err(PassError::Shape(format!(
                "{} heads and {} key-value heads do not split a width of {h}",
                shape.heads, shape.kv_heads
            )));
        }
        check_len("the embedding", embed.len(), shape.vocab * h)?;
        check_len("the final norm", norm.len(), h)?;
        if head.width() != h || head.vocab() != shape.vocab {
            return Err(PassError::Shape(format!(
                "the output projection is {}×{}, not {}×{h}",
                head.vocab(),
                head.width(),
                shape.vocab
            )));
        }
        let (cos, sin) = ops::rope_tables(shape.max_positions, &shape.inv_freq());
        Ok(Some(Base {
            layers: Vec::with_capacity(shape.layers),
            embed: embed.to_vec(),
            norm: norm.to_vec(),
            head,
            cos,
            sin,
            shape,
        }))
    }

    /// Packs the next layer.
    pub fn push_layer(&mut self, src: &LayerSource) -> Result<(), PassError> {
        let shape = &self.shape;
        let (h, i, kv) = (shape.hidden, shape.intermediate, shape.kv_width());
        let n = self.layers.len();
        if n == shape.layers {
            return Err(PassError::Shape(format!("more than {n} layers")));
        }
        let outs = [h, kv, kv, h, i, i, h];
        let ins = [h, h, h, h, h, h, i];
        for p in Proj::ALL {
            check_len(
                &format!("layer {n}'s {}", p.name()),
                src.weights[p as usize].len(),
                outs[p as usize] * ins[p as usize],
            )?;
        }
        check_len(&format!("layer {n}'s input norm"), src.input_norm.len(), h)?;
        check_len(&format!("layer {n}'s post norm"), src.post_norm.len(), h)?;
        let qkv_bias = match (src.qkv_bias, shape.qkv_bias) {
            (Some(b), true) => {
                for (j, part) in b.iter().enumerate() {
                    check_len(&format!("layer {n}'s bias {j}"), part.len(), outs[j])?;
                }
                Some(b.concat())
            }
            (None, false) => None,
            (given, _) => {
                return Err(PassError::Shape(format!(
                    "layer {n} {} q/k/v biases where the shape says {}",
                    if given.is_some() { "has" } else { "lacks" },
                    shape.qkv_bias
                )))
            }
        };
        let w = &src.weights;
        let qkv = [w[0], w[1], w[2]].concat();
        let gate_up = [w[4], w[5]].concat();
        let (Some(qkv), Some(o), Some(gate_up), Some(down)) = (
            FrozenLinear::new(&qkv, shape.qkv_width(), h),
            FrozenLinear::new(w[3], h, h),
            FrozenLinear::new(&gate_up, 2 * i, h),
            FrozenLinear::new(w[6], h, i),
        ) else {
            return Err(PassError::Shape("this CPU has no AVX-512".into()));
        };
        self.layers.push(Layer {
            input_norm: src.input_norm.to_vec(),
            post_norm: src.post_norm.to_vec(),
            qkv,
            qkv_bias,
            o,
            gate_up,
            down,
        });
        Ok(())
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }
}

/// An adapter on one projection: `y += scale·(x·Aᵀ)·Bᵀ`, `a` `[rank, in]`, `b` `[out, rank]`.
#[derive(Clone, Copy, Debug)]
pub struct Lora<'a> {
    pub a: &'a [f32],
    pub b: &'a [f32],
    pub rank: usize,
    pub scale: f32,
    /// The probability that an input value is dropped before `A` (0: no dropout). The masks
    /// come from the batch's seed, so a pass repeats exactly.
    pub dropout: f32,
}

/// A layer's adapters, indexed by [`Proj`].
pub type LayerLoras<'a> = [Option<Lora<'a>>; 7];

/// The gradients of one adapter, shaped as its matrices.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraGrad {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

/// Token ids of `sequences` sequences of `len` each (row-major), and the rows (flat positions)
/// whose next token, `targets`, is scored.
pub struct Batch<'a> {
    pub ids: &'a [u32],
    pub sequences: usize,
    pub len: usize,
    pub rows: &'a [usize],
    pub targets: &'a [u32],
    /// Seeds the adapters' dropout masks (unused without dropout).
    pub seed: u64,
}

/// What one layer's backward pass reads, kept by its forward pass.
struct LayerTape {
    input: Vec<f32>,
    inverse: Vec<f32>,
    normed: Vec<f32>,
    qkv: Vec<f32>,
    attended: Vec<f32>,
    lse: Vec<f32>,
    mid: Vec<f32>,
    mid_inverse: Vec<f32>,
    mid_normed: Vec<f32>,
    gate_up: Vec<f32>,
    /// The joint `scale·x·Aᵀ` of each group's adapters: q/k/v, o, gate/up, down.
    lows: [Option<Vec<f32>>; 4],
}

/// The forward pass's activations, for [`backward`].
pub struct Tape {
    layers: Vec<LayerTape>,
    last: Vec<f32>,
    last_inverse: Vec<f32>,
    rows: Vec<usize>,
    /// d logp / d (final hidden state) of each scored row.
    row_grads: Vec<f32>,
    sequences: usize,
    len: usize,
    seed: u64,
}

fn pack(v: View) -> PackedB {
    PackedB::new(v).expect("a Base exists only where the products of `sgemm` run")
}

/// Projections that read the same input, with where each one's output starts in the output
/// rows: q/k/v, o, gate/up, down. Their adapters' `A` products run as one.
/// An adapter of a group of projections that read the same input (q/k/v, o, gate/up, down):
/// its projection, itself, where its output starts in the rows it writes, and where its columns
/// start in the group's joint `x·Aᵀ`.
type Member<'a> = (Proj, &'a Lora<'a>, usize, usize);

/// The adapters present in `loras` among `group` (projections with their output columns).
fn present<'a>(group: &[(Proj, usize)], loras: &'a LayerLoras<'a>) -> Vec<Member<'a>> {
    let mut offset = 0;
    let mut out = Vec::new();
    for &(p, col) in group {
        if let Some(l) = &loras[p as usize] {
            out.push((p, l, col, offset));
            offset += l.rank;
        }
    }
    out
}

/// One step of SplitMix64: a fast generator whose every output is a good hash of its state.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed derived from `seed` and `salt` (a step, a layer, a projection): a good hash of both.
pub fn derive(seed: u64, salt: u64) -> u64 {
    let mut state = seed ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    splitmix(&mut state)
}

/// The seed of layer `layer`'s dropout masks in the pass seeded `pass`.
fn layer_seed(pass: u64, layer: usize) -> u64 {
    derive(pass, layer as u64)
}

/// The seed of the dropout mask on the input of a layer's adapter on `proj`.
fn mask_seed(layer_seed: u64, proj: Proj) -> u64 {
    derive(layer_seed, proj as u64)
}

/// The dropout mask our pass applies to the input of layer `layer`'s adapter on `proj` in the
/// pass seeded `pass` (see [`Batch::seed`]): `rows × width` values, 1 where a value is kept and
/// 0 where it is dropped (with probability `p`); kept values are then scaled by `1/(1−p)`.
/// candle's path applies the same mask, so the two drop the same values and a run resumes
/// exactly on either.
pub fn dropout_mask(
    pass: u64,
    layer: usize,
    proj: Proj,
    (rows, width): (usize, usize),
    p: f32,
) -> Vec<u8> {
    let seed = mask_seed(layer_seed(pass, layer), proj);
    let threshold = drop_threshold(p);
    let mut mask = vec![0u8; rows * width];
    mask.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(r, row)| {
            row_mask(seed, r, row.len(), threshold, |j, kept| {
                row[j] = kept.into()
            })
        });
    mask
}

/// The 32-bit draw below which a value is dropped, for a dropout probability `p`.
fn drop_threshold(p: f32) -> u64 {
    (f64::from(p) * 4_294_967_296.0) as u64
}

/// Row `r`'s mask: `keep(j, kept)` for each of its `width` columns, from `(seed, r)` alone, so
/// the backward pass (and candle's path) regenerates the forward's.
#[inline(always)]
fn row_mask(seed: u64, r: usize, width: usize, threshold: u64, mut keep: impl FnMut(usize, bool)) {
    let mut state = derive(seed, r as u64);
    for pair in (0..width).step_by(2) {
        let bits = splitmix(&mut state);
        for j in pair..(pair + 2).min(width) {
            keep(j, (bits >> (32 * (j - pair))) & 0xFFFF_FFFF >= threshold);
        }
    }
}

/// `x` with each value dropped with probability `p` and the rest scaled by `1/(1−p)` into `out`,
/// or (with `add`) added into `out`.
fn dropout(x: &[f32], width: usize, p: f32, seed: u64, out: &mut [f32], add: bool) {
    let threshold = drop_threshold(p);
    let keep = 1.0 / (1.0 - p);
    out.par_chunks_mut(width)
        .zip(x.par_chunks(width))
        .enumerate()
        .for_each(|(r, (out, x))| {
            row_mask(seed, r, out.len(), threshold, |j, kept| {
                let v = if kept { x[j] * keep } else { 0.0 };
                if add {
                    out[j] += v;
                } else {
                    out[j] = v;
                }
            });
        });
}

/// The input an adapter's `A` reads: `x` itself, or `x` with the adapter's dropout mask.
fn adapter_input(l: &Lora, x: View, seed: u64, p: Proj) -> Option<Vec<f32>> {
    (l.dropout > 0.0).then(|| {
        let mut out = vec![0f32; x.rows * x.cols];
        dropout(
            x.data,
            x.cols,
            l.dropout,
            mask_seed(seed, p),
            &mut out,
            false,
        );
        out
    })
}

/// Adds every present adapter's `scale·(x·Aᵀ)·Bᵀ` into `c` (row stride `ldc`) at its columns;
/// returns the joint `scale·x·Aᵀ` (`[rows, Σ rank]`), or `None` when no adapter is present.
/// `x` is row-major; `seed` is the layer's dropout seed.
fn lora_forward(
    members: &[Member],
    x: View,
    c: &mut [f32],
    ldc: usize,
    seed: u64,
) -> Option<Vec<f32>> {
    let ranks: usize = members.iter().map(|m| m.1.rank).sum();
    if ranks == 0 {
        return None;
    }
    let m = x.rows;
    let mut low = vec![0f32; m * ranks];
    if members.iter().all(|m| m.1.dropout <= 0.0) {
        // One product for all the group's A matrices: the input is read once.
        let a: Vec<f32> = members.iter().flat_map(|m| m.1.a.iter().copied()).collect();
        let a_t = pack(View::rows(&a, ranks, x.cols).t());
        gemm(x, &a_t, &mut low, ranks, false, Threads::All);
    } else {
        // Each adapter has its own dropout mask, so its own input.
        for (p, l, _, offset) in members {
            let dropped = adapter_input(l, x, seed, *p);
            let input = dropped.as_deref().map_or(x, |d| View::rows(d, m, x.cols));
            let a_t = pack(View::rows(l.a, l.rank, x.cols).t());
            gemm(input, &a_t, &mut low[*offset..], ranks, false, Threads::All);
        }
    }
    for (_, l, col, offset) in members {
        low.chunks_exact_mut(ranks).for_each(|row| {
            row[*offset..offset + l.rank]
                .iter_mut()
                .for_each(|v| *v *= l.scale)
        });
        let out = l.b.len() / l.rank;
        let low_cols = columns(&low, ranks, *offset, l.rank);
        let up = pack(View::rows(l.b, out, l.rank).t());
        gemm(low_cols, &up, &mut c[*col..], ldc, true, Threads::All);
    }
    Some(low)
}

/// The present adapters' gradients from the output's gradient `dy` (`[rows, ldy]`, each adapter
/// reading its columns); adds their part of the input's gradient into `dx` (`[rows, in]`).
fn lora_backward(
    members: &[Member],
    (x, seed): (View, u64),
    low: &[f32],
    dy: &[f32],
    ldy: usize,
    dx: &mut [f32],
) -> Vec<(Proj, LoraGrad)> {
    let ranks: usize = members.iter().map(|m| m.1.rank).sum();
    let (m, inp) = (x.rows, x.cols);
    // g = scale·dy·B per adapter, side by side like `low`.
    let mut g = vec![0f32; m * ranks];
    let mut grads = Vec::with_capacity(members.len());
    for (p, l, col, offset) in members {
        let (r, out) = (l.rank, l.b.len() / l.rank);
        let dy = columns(dy, ldy, *col, out);
        // dB = dyᵀ·(scale·x·Aᵀ): the transposed dy is packed as A; the small low is B.
        let mut b = vec![0f32; out * r];
        let low_packed = pack(columns(low, ranks, *offset, r));
        gemm(dy.t(), &low_packed, &mut b, r, false, Threads::All);
        let b_packed = pack(View::rows(l.b, out, r));
        gemm(dy, &b_packed, &mut g[*offset..], ranks, false, Threads::All);
        g.chunks_exact_mut(ranks).for_each(|row| {
            row[*offset..offset + r]
                .iter_mut()
                .for_each(|v| *v *= l.scale)
        });
        grads.push((*p, b));
    }
    // dA = gᵀ·x (formed as xᵀ·g, whose B operand is the small g), and dx += g·A.
    let mut a_t = vec![0f32; inp * ranks];
    if members.iter().all(|m| m.1.dropout <= 0.0) {
        // All adapters at once.
        let g_packed = pack(View::rows(&g, m, ranks));
        gemm(x.t(), &g_packed, &mut a_t, ranks, false, Threads::All);
        let a: Vec<f32> = members.iter().flat_map(|m| m.1.a.iter().copied()).collect();
        let a_packed = pack(View::rows(&a, ranks, inp));
        gemm(
            View::rows(&g, m, ranks),
            &a_packed,
            dx,
            inp,
            true,
            Threads::All,
        );
    } else {
        for (p, l, _, offset) in members {
            let dropped = adapter_input(l, x, seed, *p);
            let input = dropped.as_deref().map_or(x, |d| View::rows(d, m, inp));
            let g_cols = columns(&g, ranks, *offset, l.rank);
            gemm(
                input.t(),
                &pack(g_cols),
                &mut a_t[*offset..],
                ranks,
                false,
                Threads::All,
            );
            let a_packed = pack(View::rows(l.a, l.rank, inp));
            if l.dropout <= 0.0 {
                gemm(g_cols, &a_packed, dx, inp, true, Threads::All);
            } else {
                // The input's gradient passes back through the same mask.
                let mut through = vec![0f32; m * inp];
                gemm(g_cols, &a_packed, &mut through, inp, false, Threads::All);
                dropout(&through, inp, l.dropout, mask_seed(seed, *p), dx, true);
            }
        }
    }
    grads
        .into_iter()
        .zip(members)
        .map(|((p, b), (_, l, _, offset))| {
            let a = (0..l.rank * inp)
                .map(|i| a_t[(i % inp) * ranks + offset + i / inp])
                .collect();
            (p, LoraGrad { a, b })
        })
        .collect()
}

/// Each layer's groups of projections that read one input, with where each one's output starts:
/// q/k/v in the fused projection's rows, o and down in the residual stream, gate/up in theirs.
fn groups(s: &Shape) -> [Vec<(Proj, usize)>; 4] {
    let (h, kv) = (s.hidden, s.kv_width());
    [
        vec![(Proj::Q, 0), (Proj::K, h), (Proj::V, h + kv)],
        vec![(Proj::O, 0)],
        vec![(Proj::Gate, 0), (Proj::Up, s.intermediate)],
        vec![(Proj::Down, 0)],
    ]
}

/// Columns of `rows` (row width `width`) from `col`, `cols` wide.
fn columns(rows: &[f32], width: usize, col: usize, cols: usize) -> View<'_> {
    let n = rows.len() / width;
    View {
        data: &rows[col..],
        rows: n,
        cols,
        rs: width,
        cs: 1,
    }
}

fn check(base: &Base, loras: &[LayerLoras], batch: &Batch) -> Result<(), PassError> {
    let s = &base.shape;
    check_len("the packed layer list", base.layers.len(), s.layers)?;
    if batch.len > s.max_positions {
        return Err(PassError::TooLong {
            len: batch.len,
            max: s.max_positions,
        });
    }
    if batch.sequences == 0 || batch.len == 0 || batch.rows.is_empty() {
        return Err(PassError::Shape(format!(
            "an empty batch: {} sequences of {} tokens, {} scored rows",
            batch.sequences,
            batch.len,
            batch.rows.len()
        )));
    }
    check_len("the batch", batch.ids.len(), batch.sequences * batch.len)?;
    check_len("the targets", batch.targets.len(), batch.rows.len())?;
    for &id in batch.ids.iter().chain(batch.targets) {
        if id as usize >= s.vocab {
            return Err(PassError::Token { id, vocab: s.vocab });
        }
    }
    if let Some(r) = batch.rows.iter().find(|r| **r >= batch.ids.len()) {
        return Err(PassError::Shape(format!(
            "row {r} is outside a batch of {}",
            batch.ids.len()
        )));
    }
    if !loras.is_empty() {
        check_len("the adapter list", loras.len(), s.layers)?;
    }
    let (h, i, kv) = (s.hidden, s.intermediate, s.kv_width());
    let outs = [h, kv, kv, h, i, i, h];
    let ins = [h, h, h, h, h, h, i];
    for layer in loras {
        for p in Proj::ALL {
            if let Some(l) = &layer[p as usize] {
                let (out, inp) = (outs[p as usize], ins[p as usize]);
                if !(0.0..1.0).contains(&l.dropout) {
                    return Err(PassError::Shape(format!(
                        "the dropout of an adapter on {} is {}, not in [0, 1)",
                        p.name(),
                        l.dropout
                    )));
                }
                if l.rank == 0 || l.a.len() != l.rank * inp || l.b.len() != out * l.rank {
                    return Err(PassError::Shape(format!(
                        "an adapter on {} is {}/{} values for rank {}, in {inp}, out {out}",
                        p.name(),
                        l.a.len(),
                        l.b.len(),
                        l.rank
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The log-probability of each scored row's target, and with `keep` the tape for [`backward`].
/// `loras` is empty for the base alone (DPO's reference), else one entry per layer.
pub fn forward(
    base: &Base,
    loras: &[LayerLoras],
    batch: &Batch,
    keep: bool,
) -> Result<(Vec<f32>, Option<Tape>), PassError> {
    check(base, loras, batch)?;
    let s = &base.shape;
    let (h, iw, qw, kvw) = (s.hidden, s.intermediate, s.qkv_width(), s.kv_width());
    let m = batch.ids.len();
    let eps = s.eps as f32;
    let heads = s.attention_heads(batch.sequences, batch.len);
    let tables = (base.cos.as_slice(), base.sin.as_slice());
    let mut x: Vec<f32> = Vec::with_capacity(m * h);
    for &id in batch.ids {
        x.extend_from_slice(&base.embed[id as usize * h..][..h]);
    }
    let mut tapes = Vec::with_capacity(if keep { s.layers } else { 0 });
    let none: LayerLoras = [None; 7];
    let groups = groups(s);
    for (n, layer) in base.layers.iter().enumerate() {
        let loras = loras.get(n).unwrap_or(&none);
        let members = groups.each_ref().map(|g| present(g, loras));
        let seed = layer_seed(batch.seed, n);
        let mut normed = vec![0f32; m * h];
        let inverse = ops::rms_norm(&x, &layer.input_norm, eps, &mut normed);
        let normed_view = View::rows(&normed, m, h);
        let mut qkv = vec![0f32; m * qw];
        layer.qkv.apply(normed_view, &mut qkv, qw, false);
        if let Some(bias) = &layer.qkv_bias {
            qkv.par_chunks_mut(qw)
                .for_each(|row| row.iter_mut().zip(bias).for_each(|(v, b)| *v += b));
        }
        let low_qkv = lora_forward(&members[0], normed_view, &mut qkv, qw, seed);
        ops::rope(
            &mut qkv,
            qw,
            0..h + kvw,
            s.head_dim(),
            batch.len,
            tables,
            false,
        );
        let (attended, lse) = attention::forward(&heads, &qkv);
        let attended_view = View::rows(&attended, m, h);
        let input = if keep { x.clone() } else { Vec::new() };
        layer.o.apply(attended_view, &mut x, h, true);
        let low_o = lora_forward(&members[1], attended_view, &mut x, h, seed);
        let mut mid_normed = vec![0f32; m * h];
        let mid_inverse = ops::rms_norm(&x, &layer.post_norm, eps, &mut mid_normed);
        let mid_view = View::rows(&mid_normed, m, h);
        let mut gate_up = vec![0f32; m * 2 * iw];
        layer.gate_up.apply(mid_view, &mut gate_up, 2 * iw, false);
        let low_gate_up = lora_forward(&members[2], mid_view, &mut gate_up, 2 * iw, seed);
        let mut act = vec![0f32; m * iw];
        ops::silu_gate(&gate_up, iw, &mut act);
        let mid = if keep { x.clone() } else { Vec::new() };
        let act_view = View::rows(&act, m, iw);
        layer.down.apply(act_view, &mut x, h, true);
        let low_down = lora_forward(&members[3], act_view, &mut x, h, seed);
        if keep {
            tapes.push(LayerTape {
                input,
                inverse,
                normed,
                qkv,
                attended,
                lse,
                mid,
                mid_inverse,
                mid_normed,
                gate_up,
                lows: [low_qkv, low_o, low_gate_up, low_down],
            });
        }
    }
    let mut last_normed = vec![0f32; m * h];
    let last_inverse = ops::rms_norm(&x, &base.norm, eps, &mut last_normed);
    let mut picked = Vec::with_capacity(batch.rows.len() * h);
    for &r in batch.rows {
        picked.extend_from_slice(&last_normed[r * h..][..h]);
    }
    let (logp, row_grads) = xent::target_logp(&picked, base.head.as_ref(), batch.targets, keep);
    let tape = keep.then(|| Tape {
        layers: tapes,
        last: x,
        last_inverse,
        rows: batch.rows.to_vec(),
        row_grads,
        sequences: batch.sequences,
        len: batch.len,
        seed: batch.seed,
    });
    Ok((logp, tape))
}

/// The adapters' gradients of `Σ dlogp[i]·logp[i]` for the logp [`forward`] returned with `tape`
/// (one entry per layer, `None` where a projection has no adapter). `loras` must be those the
/// forward pass used.
pub fn backward(
    base: &Base,
    loras: &[LayerLoras],
    tape: Tape,
    dlogp: &[f32],
) -> Result<Vec<[Option<LoraGrad>; 7]>, PassError> {
    let s = &base.shape;
    check_len("the log-probability gradient", dlogp.len(), tape.rows.len())?;
    check_len("the adapter list", loras.len(), s.layers)?;
    let (h, iw, qw, kvw) = (s.hidden, s.intermediate, s.qkv_width(), s.kv_width());
    let m = tape.sequences * tape.len;
    let heads = s.attention_heads(tape.sequences, tape.len);
    let tables = (base.cos.as_slice(), base.sin.as_slice());
    let mut d_last = vec![0f32; m * h];
    for ((&r, g), &d) in tape
        .rows
        .iter()
        .zip(tape.row_grads.chunks_exact(h))
        .zip(dlogp)
    {
        for (o, v) in d_last[r * h..][..h].iter_mut().zip(g) {
            *o += d * v;
        }
    }
    let mut dx = vec![0f32; m * h];
    ops::rms_norm_backward(&d_last, &tape.last, &tape.last_inverse, &base.norm, &mut dx);
    drop(d_last);
    let mut grads: Vec<[Option<LoraGrad>; 7]> = (0..s.layers).map(|_| Default::default()).collect();
    let groups = groups(s);
    for (n, (layer, t)) in base.layers.iter().zip(tape.layers).enumerate().rev() {
        let members = groups.each_ref().map(|g| present(g, &loras[n]));
        let seed = layer_seed(tape.seed, n);
        let mut store = |found: Vec<(Proj, LoraGrad)>| {
            for (p, g) in found {
                grads[n][p as usize] = Some(g);
            }
        };
        let dx_view = View::rows(&dx, m, h);
        // The MLP: x += down(silu(gate)·up).
        let mut d_act = layer.down.input_grad(dx_view);
        if let Some(low) = &t.lows[3] {
            let mut act = vec![0f32; m * iw];
            ops::silu_gate(&t.gate_up, iw, &mut act);
            let act = View::rows(&act, m, iw);
            store(lora_backward(
                &members[3],
                (act, seed),
                low,
                &dx,
                h,
                &mut d_act,
            ));
        }
        let mut d_gate_up = vec![0f32; m * 2 * iw];
        ops::silu_gate_backward(&d_act, &t.gate_up, iw, &mut d_gate_up);
        drop(d_act);
        let mut d_mid_normed = layer.gate_up.input_grad(View::rows(&d_gate_up, m, 2 * iw));
        let mid_view = View::rows(&t.mid_normed, m, h);
        if let Some(low) = &t.lows[2] {
            let (dy, d_in) = (&d_gate_up, &mut d_mid_normed);
            store(lora_backward(
                &members[2],
                (mid_view, seed),
                low,
                dy,
                2 * iw,
                d_in,
            ));
        }
        drop(d_gate_up);
        ops::rms_norm_backward(
            &d_mid_normed,
            &t.mid,
            &t.mid_inverse,
            &layer.post_norm,
            &mut dx,
        );
        drop(d_mid_normed);
        // Attention: x += o(attention(rope(qkv(norm(x))))).
        let dx_view = View::rows(&dx, m, h);
        let mut d_attended = layer.o.input_grad(dx_view);
        if let Some(low) = &t.lows[1] {
            let x = View::rows(&t.attended, m, h);
            store(lora_backward(
                &members[1],
                (x, seed),
                low,
                &dx,
                h,
                &mut d_attended,
            ));
        }
        let mut d_qkv = attention::backward(&heads, &t.qkv, &t.attended, &t.lse, &d_attended);
        drop(d_attended);
        ops::rope(
            &mut d_qkv,
            qw,
            0..h + kvw,
            s.head_dim(),
            tape.len,
            tables,
            true,
        );
        let mut d_normed = layer.qkv.input_grad(View::rows(&d_qkv, m, qw));
        let normed_view = View::rows(&t.normed, m, h);
        if let Some(low) = &t.lows[0] {
            store(lora_backward(
                &members[0],
                (normed_view, seed),
                low,
                &d_qkv,
                qw,
                &mut d_normed,
            ));
        }
        ops::rms_norm_backward(&d_normed, &t.input, &t.inverse, &layer.input_norm, &mut dx);
    }
    Ok(grads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        crate::matrix::tests_support::seeded(n, seed)
    }

    /// A one-layer base without its layer; `None` without AVX-512.
    fn tiny_base(qkv_bias: bool) -> Option<Base> {
        let shape = Shape {
            vocab: 40,
            hidden: 16,
            intermediate: 24,
            layers: 1,
            heads: 4,
            kv_heads: 2,
            max_positions: 32,
            rope_theta: 10_000.0,
            eps: 1e-5,
            qkv_bias,
            rope_scaling: None,
        };
        let head = Arc::new(Head::new(&values(40 * 16, 1), 40, 16)?);
        Base::new(shape, &values(40 * 16, 2), &[1.0; 16], head).ok()?
    }

    /// The layer's projections, in `Proj` order.
    fn tiny_weights() -> Vec<Vec<f32>> {
        [16 * 16, 8 * 16, 8 * 16, 16 * 16, 24 * 16, 24 * 16, 16 * 24]
            .iter()
            .enumerate()
            .map(|(i, &n)| values(n, 10 + i as u64))
            .collect()
    }

    fn tiny() -> Option<Base> {
        let mut base = tiny_base(false)?;
        let w = tiny_weights();
        base.push_layer(&LayerSource {
            input_norm: &[1.0; 16],
            post_norm: &[1.0; 16],
            weights: std::array::from_fn(|i| w[i].as_slice()),
            qkv_bias: None,
        })
        .ok()?;
        Some(base)
    }

    /// A layer with q/k/v biases for a shape without them, or the other way round, is refused.
    #[test]
    fn q_k_v_biases_must_match_the_shape() {
        let w = tiny_weights();
        let (q, kv) = (values(16, 3), values(8, 4));
        for (shape_has, layer_has) in [(true, false), (false, true)] {
            let Some(mut base) = tiny_base(shape_has) else {
                return; // no AVX-512
            };
            let said = base
                .push_layer(&LayerSource {
                    input_norm: &[1.0; 16],
                    post_norm: &[1.0; 16],
                    weights: std::array::from_fn(|i| w[i].as_slice()),
                    qkv_bias: layer_has.then_some([q.as_slice(), kv.as_slice(), kv.as_slice()]),
                })
                .map_or_else(|e| e.to_string(), |()| "accepted".into());
            assert!(
                said.contains("q/k/v biases"),
                "{shape_has}, {layer_has}: {said}"
            );
        }
    }

    /// Bad batches and adapters are errors that say what is wrong, never panics.
    #[test]
    fn bad_input_is_an_error() {
        let Some(base) = tiny() else {
            return; // no AVX-512
        };
        let ids = [1u32, 2, 3, 4];
        let batch = |ids: &'static [u32], len: usize, rows: &'static [usize]| Batch {
            ids,
            sequences: 1,
            len,
            rows,
            targets: &[5],
            seed: 0,
        };
        let ok = Batch {
            ids: &ids,
            ..batch(&[], 4, &[2])
        };
        assert!(forward(&base, &[], &ok, false).is_ok());
        let message = |b: &Batch, loras: &[LayerLoras]| match forward(&base, loras, b, false) {
            Err(e) => e.to_string(),
            Ok(_) => "accepted".into(),
        };
        assert!(message(&batch(&[], 0, &[]), &[]).contains("empty batch"));
        assert!(message(&batch(&[1, 99], 2, &[0]), &[]).contains("token id 99"));
        assert!(message(&batch(&[1, 2], 2, &[7]), &[]).contains("row 7"));
        let long: &'static [u32] = &[1; 40];
        assert!(message(&batch(long, 40, &[0]), &[]).contains("longer than"));
        let (a, b) = (vec![0.1f32; 2 * 16], vec![0.1f32; 16 * 2]);
        for dropout in [-0.1, 1.0, f32::NAN] {
            let mut loras: Vec<LayerLoras> = vec![[None; 7]];
            loras[0][Proj::Q as usize] = Some(Lora {
                a: &a,
                b: &b,
                rank: 2,
                scale: 1.0,
                dropout,
            });
            let said = message(&ok, &loras);
            assert!(said.contains("dropout"), "{dropout}: {said}");
        }
    }
}
