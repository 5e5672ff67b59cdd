//! A trainable Llama-family decoder (Llama and Qwen2 share the shape) with LoRA adapters over frozen
//! base weights. Built from differentiable candle ops only (softmax, RMSNorm and rotary embeddings
//! written out), so gradients reach the adapters; the base weights are plain tensors, never `Var`s,
//! so they take no gradient and no optimiser state.

use std::collections::HashMap;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Module, Result, Tensor, Var, D};
use logreasoner_cpu::train as pass;

use super::kernels::{causal_softmax, rms_norm, rope};

/// The decoder's shape (sizes, rotary base and scaling, norm epsilon, q/k/v biases): one
/// description for candle's decoder and our training pass.
pub use logreasoner_cpu::train::{RopeScaling, Shape};

/// Which projections get adapters, their rank, scale and dropout.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// LoRA rank: the inner size of each adapter's `B·A`.
    pub rank: usize,
    /// Adapter scale: the update is `alpha / rank · B·A`.
    pub alpha: f64,
    /// Share of an adapter's inputs dropped in training, 0 to below 1; 0 turns dropout off.
    pub dropout: f32,
    /// Projection names: `q_proj`, `k_proj`, `v_proj`, `o_proj`, and optionally `gate_proj`,
    /// `up_proj`, `down_proj`.
    pub targets: Vec<String>,
    /// Seeds the adapters' initial A matrices (candle's CPU generator cannot be seeded).
    pub seed: u64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
            seed: 42,
        }
    }
}

/// `t`, unless it was released to our pass (then candle's path has nothing to run on).
fn held<'a>(t: &'a Option<Tensor>, what: &str) -> Result<&'a Tensor> {
    match t {
        Some(t) => Ok(t),
        None => candle_core::bail!(
            "the {what} weights were released to our training pass; candle's path cannot run this decoder"
        ),
    }
}

/// A frozen linear map with an optional low-rank update: `y = x Wᵀ + b + s · (x Aᵀ) Bᵀ`.
pub struct LoraLinear {
    /// Which projection of its layer this is (it picks the dropout mask).
    proj: pass::Proj,
    /// `[out, in]`; `None` once our pass holds it packed ([`Decoder::release_unpacked`]).
    weight: Option<Tensor>,
    /// Rows of the weight.
    out: usize,
    bias: Option<Tensor>,
    /// `a`: rank × in, `b`: out × rank (zero at start, so a new adapter changes nothing).
    pub adapter: Option<(Var, Var)>,
    scale: f64,
    dropout: f32,
}

impl LoraLinear {
    /// With `dropout` (the pass's seed and this layer's index) the adapter reads its input
    /// through the dropout mask our pass would draw for it.
    fn forward(
        &self,
        x: &Tensor,
        use_adapter: bool,
        dropout: Option<(u64, usize)>,
    ) -> Result<Tensor> {
        let mut y = super::frozen::linear(x, held(&self.weight, self.proj.name())?)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        if let (true, Some((a, b))) = (use_adapter, &self.adapter) {
            let x = match dropout {
                Some((seed, layer)) if self.dropout > 0.0 => {
                    let width = x.dim(D::Minus1)?;
                    let rows = x.elem_count() / width.max(1);
                    // Uploaded as bytes (a quarter of f32's traffic to a GPU).
                    let mask =
                        pass::dropout_mask(seed, layer, self.proj, (rows, width), self.dropout);
                    let mask =
                        Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
                    (x * mask)?.affine(1.0 / (1.0 - f64::from(self.dropout)), 0.0)?
                }
                _ => x.clone(),
            };
            // The adapters stay f32 (their updates are small); in a bf16 decoder they are used
            // in bf16 and their gradients flow back through the cast.
            let (a, b) = (
                a.as_tensor().to_dtype(x.dtype())?,
                b.as_tensor().to_dtype(x.dtype())?,
            );
            let low = x.broadcast_matmul(&a.t()?)?;
            let up = low.broadcast_matmul(&b.t()?)?;
            y = (y + (up * self.scale)?)?;
        }
        Ok(y)
    }
}

impl Layer {
    /// The projections in `logreasoner_cpu::train::Proj` order.
    fn projections(&self) -> [&LoraLinear; 7] {
        [
            &self.q, &self.k, &self.v, &self.o, &self.gate, &self.up, &self.down,
        ]
    }

    fn projections_mut(&mut self) -> [&mut LoraLinear; 7] {
        [
            &mut self.q,
            &mut self.k,
            &mut self.v,
            &mut self.o,
            &mut self.gate,
            &mut self.up,
            &mut self.down,
        ]
    }
}

struct Layer {
    input_norm: Tensor,
    q: LoraLinear,
    k: LoraLinear,
    v: LoraLinear,
    o: LoraLinear,
    post_norm: Tensor,
    gate: LoraLinear,
    up: LoraLinear,
    down: LoraLinear,
}

/// The trainable decoder: frozen base weights with LoRA adapters on the chosen projections.
pub struct Decoder {
    /// The decoder's shape, from the base model.
    pub config: Shape,
    /// `None`, as `lm_head` and the projections' weights, once our pass holds them packed
    /// ([`Decoder::release_unpacked`]).
    embed: Option<Tensor>,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Option<Tensor>,
    /// `lm_head` packed for the AVX-512 product, once, on first use (CPU only).
    lm_head_packed: OnceLock<Option<Arc<pass::Head>>>,
    cos: Tensor,
    sin: Tensor,
    device: Device,
    pass: Pass,
    /// The base packed for our training pass, once, on first use.
    our_base: OnceLock<Option<Arc<pass::Base>>>,
    /// Forward passes of ours whose gradient [`Decoder::backward`] has yet to take.
    pending: Mutex<Vec<Pending>>,
    /// Our pass's dropout masks: the adapters' seed, the current micro-batch's stream (see
    /// [`Decoder::begin_micro_batch`]) and the training passes made in it.
    dropout_seed: u64,
    dropout_stream: AtomicU64,
    dropout_passes: AtomicU64,
}

/// Which implementation computes a training step's forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Ours (`logreasoner_cpu::train`) where it applies: on a CPU with AVX-512 and f32 weights
    /// (its dropout masks are seeded). Elsewhere candle's autograd.
    Ours,
    /// candle's autograd everywhere: the reference ours is tested against.
    Candle,
}

/// Adapter values as one forward pass of ours used them, per layer and projection: `(A, B)`.
type AdapterValues = Vec<[Option<(Vec<f32>, Vec<f32>)>; 7]>;

/// One forward pass of ours awaiting its backward pass: the log-probabilities were handed out as
/// `leaf`, a variable, so candle differentiates the loss down to them and no further.
struct Pending {
    leaf: Var,
    tape: pass::Tape,
    adapters: AdapterValues,
    /// Whether the forward pass applied the adapters' dropout.
    dropout: bool,
}

/// Where the base weights come from: tensors by Hugging Face name.
pub type Weights = HashMap<String, Tensor>;

impl Decoder {
    /// Builds the decoder from base weights (HF names: `model.layers.N.self_attn.q_proj.weight`, …)
    /// and adds fresh adapters per `lora` (A random, B zero), registered in `vars` with PEFT names.
    /// The frozen base is held in [`training_dtype`]`(device)`.
    pub fn new(
        config: Shape,
        weights: &Weights,
        lora: &LoraConfig,
        vars: &mut Vec<(String, Var)>,
        device: &Device,
    ) -> Result<Decoder> {
        Decoder::with_dtype(config, weights, lora, vars, device, training_dtype(device))
    }

    /// [`Decoder::new`] with the frozen base held in `dtype` (f32 or bf16; the adapters, their
    /// optimiser state and the loss stay f32).
    pub fn with_dtype(
        config: Shape,
        weights: &Weights,
        lora: &LoraConfig,
        vars: &mut Vec<(String, Var)>,
        device: &Device,
        dtype: DType,
    ) -> Result<Decoder> {
        let get = |name: &str| -> Result<Tensor> {
            weights
                .get(name)
                .ok_or_else(|| {
                    candle_core::Error::Msg(format!("the base model has no tensor `{name}`"))
                })?
                .to_dtype(dtype)
        };
        let scale = lora.alpha / lora.rank.max(1) as f64;
        let mut rng = Rng::new(lora.seed);
        let mut linear = |prefix: &str,
                          proj: pass::Proj,
                          bias: bool,
                          vars: &mut Vec<(String, Var)>|
         -> Result<LoraLinear> {
            let name = proj.name();
            let weight = get(&format!("{prefix}.{name}.weight"))?;
            let bias = if bias {
                Some(get(&format!("{prefix}.{name}.bias"))?)
            } else {
                None
            };
            let adapter = if lora.targets.iter().any(|t| t == name) && lora.rank > 0 {
                let (out, inp) = weight.dims2()?;
                let bound = 1.0 / (inp as f64).sqrt();
                let a = Var::from_tensor(&rng.uniform((lora.rank, inp), bound as f32, device)?)?;
                let b = Var::zeros((out, lora.rank), DType::F32, device)?;
                // PEFT's names, so a saved adapter loads in transformers / PEFT / vLLM.
                let peft = format!("base_model.model.{prefix}.{name}");
                vars.push((format!("{peft}.lora_A.weight"), a.clone()));
                vars.push((format!("{peft}.lora_B.weight"), b.clone()));
                Some((a, b))
            } else {
                None
            };
            Ok(LoraLinear {
                proj,
                out: weight.dim(0)?,
                weight: Some(weight),
                bias,
                adapter,
                scale,
                dropout: lora.dropout,
            })
        };
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = format!("model.layers.{i}");
            let attn = format!("{p}.self_attn");
            let mlp = format!("{p}.mlp");
            layers.push(Layer {
                input_norm: get(&format!("{p}.input_layernorm.weight"))?,
                q: linear(&attn, pass::Proj::Q, config.qkv_bias, vars)?,
                k: linear(&attn, pass::Proj::K, config.qkv_bias, vars)?,
                v: linear(&attn, pass::Proj::V, config.qkv_bias, vars)?,
                o: linear(&attn, pass::Proj::O, false, vars)?,
                post_norm: get(&format!("{p}.post_attention_layernorm.weight"))?,
                gate: linear(&mlp, pass::Proj::Gate, false, vars)?,
                up: linear(&mlp, pass::Proj::Up, false, vars)?,
                down: linear(&mlp, pass::Proj::Down, false, vars)?,
            });
        }
        let embed = get("model.embed_tokens.weight")?;
        let lm_head = match weights.get("lm_head.weight") {
            Some(w) => w.to_dtype(dtype)?,
            None => embed.clone(),
        };
        let inv = Tensor::new(config.inv_freq().as_slice(), device)?;
        let pos =
            Tensor::arange(0u32, config.max_positions as u32, device)?.to_dtype(DType::F32)?;
        let freqs = pos.unsqueeze(1)?.broadcast_mul(&inv.unsqueeze(0)?)?;
        let freqs = Tensor::cat(&[&freqs, &freqs], D::Minus1)?;
        Ok(Decoder {
            embed: Some(embed),
            layers,
            norm: get("model.norm.weight")?,
            lm_head: Some(lm_head),
            lm_head_packed: OnceLock::new(),
            cos: freqs.cos()?.to_dtype(dtype)?,
            sin: freqs.sin()?.to_dtype(dtype)?,
            config,
            device: device.clone(),
            pass: Pass::Ours,
            our_base: OnceLock::new(),
            pending: Mutex::new(Vec::new()),
            dropout_seed: lora.seed,
            dropout_stream: AtomicU64::new(0),
            dropout_passes: AtomicU64::new(0),
        })
    }

    /// Starts the dropout masks of micro-batch `index` of optimiser step `step`: our pass draws
    /// them from the adapters' seed, the step, the micro-batch and the order of the passes in
    /// it, so a resumed run draws the masks the uninterrupted one did.
    pub fn begin_micro_batch(&self, step: usize, index: usize) {
        let stream = pass::derive(pass::derive(self.dropout_seed, step as u64), index as u64);
        self.dropout_stream.store(stream, Ordering::Relaxed);
        self.dropout_passes.store(0, Ordering::Relaxed);
    }

    /// The dropout seed of the next training pass of the current micro-batch.
    fn next_pass_seed(&self) -> u64 {
        let index = self.dropout_passes.fetch_add(1, Ordering::Relaxed);
        pass::derive(self.dropout_stream.load(Ordering::Relaxed), index)
    }

    /// Frees candle's copies of the frozen weights our pass holds packed (packing them now if it
    /// has not yet): the projections, the embedding and the output projection, a third of what
    /// the frozen weights take, for the rest of a run. Returns whether it did; candle's path
    /// cannot run this decoder afterwards.
    pub fn release_unpacked(&mut self) -> bool {
        if self.our_base().is_none() {
            return false;
        }
        for l in &mut self.layers {
            for p in l.projections_mut() {
                p.weight = None;
            }
        }
        self.embed = None;
        self.lm_head = None;
        true
    }

    /// Chooses the implementation of training passes (tests compare the two).
    pub fn set_pass(&mut self, pass: Pass) {
        self.pass = pass;
    }

    fn packed_head(&self) -> Option<Arc<pass::Head>> {
        self.lm_head_packed
            .get_or_init(|| {
                let head = self.lm_head.as_ref()?;
                super::xent::pack_projection(head)
            })
            .clone()
    }

    /// Which implementation training steps run, in words.
    pub fn pass_description(&self) -> &'static str {
        match logreasoner_cpu::sgemm::instruction_set() {
            Some("AVX-512") if self.our_base().is_some() => "own pass, AVX-512",
            Some(_) if self.our_base().is_some() => "own pass, AVX2 + FMA",
            _ => "candle autograd",
        }
    }

    /// The base packed for our pass, `None` where it does not apply.
    fn our_base(&self) -> Option<&Arc<pass::Base>> {
        if self.pass != Pass::Ours
            || !self.device.is_cpu()
            || self.norm.dtype() != DType::F32
            || !logreasoner_cpu::sgemm::available()
        {
            return None;
        }
        self.our_base
            .get_or_init(|| match self.pack_base() {
                Ok(base) => base.map(Arc::new),
                Err(e) => {
                    tracing::warn!("training on candle's autograd: packing the base failed: {e}");
                    None
                }
            })
            .as_ref()
    }

    fn pack_base(&self) -> Result<Option<pass::Base>> {
        let values = |t: &Tensor| -> Result<Vec<f32>> { t.flatten_all()?.to_vec1::<f32>() };
        let err = |e: pass::PassError| candle_core::Error::Msg(e.to_string());
        let Some(head) = self.packed_head() else {
            return Ok(None);
        };
        let shape = self.config.clone();
        let Some(mut base) = pass::Base::new(
            shape,
            &values(held(&self.embed, "embedding")?)?,
            &values(&self.norm)?,
            head,
        )
        .map_err(err)?
        else {
            return Ok(None);
        };
        for l in &self.layers {
            let w = l
                .projections()
                .map(|p| values(held(&p.weight, p.proj.name())?))
                .into_iter()
                .collect::<Result<Vec<_>>>()?;
            let bias = [&l.q, &l.k, &l.v]
                .iter()
                .map(|p| p.bias.as_ref().map(values).transpose())
                .collect::<Result<Vec<_>>>()?;
            let qkv_bias = match bias.as_slice() {
                [Some(q), Some(k), Some(v)] => Some([q.as_slice(), k.as_slice(), v.as_slice()]),
                _ => None,
            };
            base.push_layer(&pass::LayerSource {
                input_norm: &values(&l.input_norm)?,
                post_norm: &values(&l.post_norm)?,
                weights: std::array::from_fn(|i| w[i].as_slice()),
                qkv_bias,
            })
            .map_err(err)?;
        }
        Ok(Some(base))
    }

    /// The current adapter values (none when `use_adapter` is off).
    fn adapter_values(&self, use_adapter: bool) -> Result<AdapterValues> {
        if !use_adapter {
            return Ok(Vec::new());
        }
        let values = |v: &Var| -> Result<Vec<f32>> { v.as_tensor().flatten_all()?.to_vec1() };
        self.layers
            .iter()
            .map(|l| {
                let mut out: [Option<(Vec<f32>, Vec<f32>)>; 7] = Default::default();
                for (slot, p) in out.iter_mut().zip(l.projections()) {
                    if let Some((a, b)) = &p.adapter {
                        *slot = Some((values(a)?, values(b)?));
                    }
                }
                Ok(out)
            })
            .collect()
    }

    /// The adapters as our pass reads them, with their dropout when `dropout` is on.
    fn loras<'a>(&self, values: &'a AdapterValues, dropout: bool) -> Vec<pass::LayerLoras<'a>> {
        values
            .iter()
            .zip(&self.layers)
            .map(|(v, l)| {
                let p = l.projections();
                std::array::from_fn(|i| {
                    v[i].as_ref().map(|(a, b)| pass::Lora {
                        a,
                        b,
                        rank: b.len() / p[i].out.max(1),
                        scale: p[i].scale as f32,
                        dropout: if dropout { p[i].dropout } else { 0.0 },
                    })
                })
            })
            .collect()
    }

    /// The log-probability of each `targets[i]` after flat position `rows[i]` of `ids`
    /// (`sequences × len`), computed by our pass; `None` where it does not apply (the caller
    /// then uses candle's). With `use_adapter` and `train` the result is differentiable through
    /// [`Decoder::backward`].
    #[allow(clippy::too_many_arguments)]
    pub fn our_learned_logp(
        &self,
        ids: &[u32],
        (sequences, len): (usize, usize),
        rows: &[usize],
        targets: &[u32],
        use_adapter: bool,
        train: bool,
    ) -> Result<Option<Tensor>> {
        let Some(base) = self.our_base() else {
            return Ok(None);
        };
        let adapters = self.adapter_values(use_adapter)?;
        let keep = use_adapter && train;
        let seed = if keep { self.next_pass_seed() } else { 0 };
        let batch = pass::Batch {
            ids,
            sequences,
            len,
            rows,
            targets,
            seed,
        };
        let (logp, tape) = pass::forward(base, &self.loras(&adapters, train), &batch, keep)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let logp = Tensor::from_vec(logp, rows.len(), &self.device)?;
        let Some(tape) = tape else {
            return Ok(Some(logp));
        };
        let leaf = Var::from_tensor(&logp)?;
        let out = leaf.as_tensor().clone();
        self.pending
            .lock()
            .map_err(|_| candle_core::Error::Msg("a training pass panicked".into()))?
            .push(Pending {
                leaf,
                tape,
                adapters,
                dropout: train,
            });
        Ok(Some(out))
    }

    /// The gradients of `loss` for every adapter variable: candle's backward pass, then ours for
    /// the log-probabilities our forward passes handed out (each pass's tape is freed here).
    pub fn backward(&self, loss: &Tensor) -> Result<GradStore> {
        let mut grads = loss.backward()?;
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .map_err(|_| candle_core::Error::Msg("a training pass panicked".into()))?,
        );
        let Some(base) = self.our_base() else {
            return Ok(grads);
        };
        for p in pending {
            let Some(d) = grads.remove(p.leaf.as_tensor()) else {
                continue;
            };
            let dlogp: Vec<f32> = d.to_vec1()?;
            let loras = self.loras(&p.adapters, p.dropout);
            let layer_grads = pass::backward(base, &loras, p.tape, &dlogp)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            for (l, g) in self.layers.iter().zip(layer_grads) {
                for (proj, g) in l.projections().iter().zip(g) {
                    let (Some((a, b)), Some(g)) = (&proj.adapter, g) else {
                        continue;
                    };
                    for (var, values) in [(a, g.a), (b, g.b)] {
                        let t = Tensor::from_vec(values, var.shape(), &self.device)?;
                        let sum = match grads.remove(var.as_tensor()) {
                            Some(before) => (before + t)?,
                            None => t,
                        };
                        grads.insert(var.as_tensor(), sum);
                    }
                }
            }
        }
        Ok(grads)
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Logits `[batch, seq, vocab]` for token ids `[batch, seq]`, causal. `use_adapter = false` is
    /// the base model (DPO's reference, with no second copy of the weights).
    pub fn forward(&self, ids: &Tensor, use_adapter: bool, train: bool) -> Result<Tensor> {
        self.project(&self.hidden(ids, use_adapter, train)?)
    }

    /// Logits of final hidden states (`[..., hidden]` → `[..., vocab]`).
    pub fn project(&self, hidden: &Tensor) -> Result<Tensor> {
        super::frozen::linear(hidden, held(&self.lm_head, "output projection")?)?
            .to_dtype(DType::F32)
    }

    /// Log-probabilities of `targets` after final hidden states `[rows, hidden]`, without the
    /// rows' full logits; their gradient is prepared only when `hidden` is part of a tracked graph.
    pub fn learned_logp(&self, hidden: &Tensor, targets: &[u32]) -> Result<Tensor> {
        let with_grad = hidden.track_op();
        let packed = self.packed_head();
        let head = held(&self.lm_head, "output projection")?;
        super::xent::projected_target_logp(hidden, head, packed, targets, with_grad)
    }

    /// The final (normed) hidden states `[batch, seq, hidden]` for token ids `[batch, seq]`.
    pub fn hidden(&self, ids: &Tensor, use_adapter: bool, train: bool) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let c = &self.config;
        let (heads, kv, dim) = (c.heads, c.kv_heads, c.head_dim());
        let embed = held(&self.embed, "embedding")?.clone();
        let mut x = candle_nn::Embedding::new(embed, c.hidden).forward(ids)?;
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        // Training passes draw their dropout masks as our pass does.
        let pass_seed = (use_adapter && train).then(|| self.next_pass_seed());
        for (n, l) in self.layers.iter().enumerate() {
            let dropout = pass_seed.map(|seed| (seed, n));
            let h = rms_norm(&x, &l.input_norm, c.eps)?;
            let q =
                l.q.forward(&h, use_adapter, dropout)?
                    .reshape((b, t, heads, dim))?
                    .transpose(1, 2)?;
            let k =
                l.k.forward(&h, use_adapter, dropout)?
                    .reshape((b, t, kv, dim))?
                    .transpose(1, 2)?;
            let v =
                l.v.forward(&h, use_adapter, dropout)?
                    .reshape((b, t, kv, dim))?
                    .transpose(1, 2)?;
            let q = rope(&q.contiguous()?, &cos, &sin)?;
            let k = rope(&k.contiguous()?, &cos, &sin)?;
            // Grouped-query attention: each kv head serves heads / kv query heads.
            let repeat = |x: Tensor| -> Result<Tensor> {
                if heads == kv {
                    return Ok(x);
                }
                let n = heads / kv;
                x.unsqueeze(2)?
                    .expand((b, kv, n, t, dim))?
                    .reshape((b, heads, t, dim))
            };
            let (k, v) = (repeat(k)?, repeat(v)?);
            let att = causal_softmax(&q.matmul(&k.t()?.contiguous()?)?, 1.0 / (dim as f64).sqrt())?;
            let y = att
                .matmul(&v.contiguous()?)?
                .transpose(1, 2)?
                .reshape((b, t, heads * dim))?;
            x = (x + l.o.forward(&y, use_adapter, dropout)?)?;
            let h = rms_norm(&x, &l.post_norm, c.eps)?;
            let gate = candle_nn::ops::silu(&l.gate.forward(&h, use_adapter, dropout)?)?;
            let up = l.up.forward(&h, use_adapter, dropout)?;
            x = (x + l.down.forward(&(gate * up)?, use_adapter, dropout)?)?;
        }
        rms_norm(&x, &self.norm, c.eps)
    }
}

/// The dtype a training run holds its frozen base in: bf16 on CUDA (half the memory, and the
/// GPU's tensor cores), f32 elsewhere (CPUs have no fast bf16 products in candle, and our CPU pass
/// is f32).
pub fn training_dtype(device: &Device) -> DType {
    if device.is_cuda() {
        DType::BF16
    } else {
        DType::F32
    }
}

/// A small seeded generator (xorshift64*), so initial weights repeat exactly for a seed.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn next_f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` (`n` > 0); the modulo's bias is at most n / 2^48.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 16) % n as u64) as usize
    }

    /// Uniform in (-bound, bound).
    pub fn uniform(
        &mut self,
        shape: (usize, usize),
        bound: f32,
        device: &Device,
    ) -> Result<Tensor> {
        let v: Vec<f32> = (0..shape.0 * shape.1)
            .map(|_| (2.0 * self.next_f32() - 1.0) * bound)
            .collect();
        Tensor::from_vec(v, shape, device)
    }

    /// Normal with mean 0 and deviation `std` (Box–Muller).
    pub fn normal(&mut self, shape: (usize, usize), std: f32, device: &Device) -> Result<Tensor> {
        let v: Vec<f32> = (0..shape.0 * shape.1)
            .map(|_| {
                let (u1, u2) = (self.next_f32(), self.next_f32());
                std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
            })
            .collect();
        Tensor::from_vec(v, shape, device)
    }
}

/// Random base weights for a decoder of `config` (tests and benchmarks build tiny models this way).
pub fn random_weights(config: &Shape, seed: u64, device: &Device) -> Result<Weights> {
    let mut rng = Rng::new(seed);
    let mut w = Weights::new();
    let h = config.hidden;
    let kv_dim = config.kv_heads * config.head_dim();
    let mut put = |name: String, shape: (usize, usize)| -> Result<()> {
        let std = 1.0 / (shape.1 as f64).sqrt();
        w.insert(name, rng.normal(shape, std as f32, device)?);
        Ok(())
    };
    put("model.embed_tokens.weight".into(), (config.vocab, h))?;
    for i in 0..config.layers {
        let p = format!("model.layers.{i}");
        put(format!("{p}.self_attn.q_proj.weight"), (h, h))?;
        put(format!("{p}.self_attn.k_proj.weight"), (kv_dim, h))?;
        put(format!("{p}.self_attn.v_proj.weight"), (kv_dim, h))?;
        put(format!("{p}.self_attn.o_proj.weight"), (h, h))?;
        put(
            format!("{p}.mlp.gate_proj.weight"),
            (config.intermediate, h),
        )?;
        put(format!("{p}.mlp.up_proj.weight"), (config.intermediate, h))?;
        put(
            format!("{p}.mlp.down_proj.weight"),
            (h, config.intermediate),
        )?;
    }
    let ones = |n: usize| Tensor::ones(n, DType::F32, device);
    for i in 0..config.layers {
        w.insert(format!("model.layers.{i}.input_layernorm.weight"), ones(h)?);
        w.insert(
            format!("model.layers.{i}.post_attention_layernorm.weight"),
            ones(h)?,
        );
    }
    w.insert("model.norm.weight".into(), ones(h)?);
    Ok(w)
}
