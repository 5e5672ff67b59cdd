//! A trainable Llama-family decoder (Llama and Qwen2 share the shape) with LoRA adapters over frozen
//! base weights. Built from differentiable candle ops only (softmax, RMSNorm and rotary embeddings
//! written out), so gradients reach the adapters; the base weights are plain tensors, never `Var`s,
//! so they take no gradient and no optimiser state.

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Result, Tensor, Var, D};

use super::kernels::{causal_softmax, rms_norm, rope};

/// The shape of the decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub vocab: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub rope_theta: f64,
    pub eps: f64,
    pub max_positions: usize,
    /// Qwen2 adds a bias to the q, k and v projections.
    pub qkv_bias: bool,
}

impl Config {
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

/// Which projections get adapters, their rank, scale and dropout.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
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

/// A frozen linear map with an optional low-rank update: `y = x Wᵀ + b + s · (x Aᵀ) Bᵀ`.
pub struct LoraLinear {
    weight: Tensor,
    bias: Option<Tensor>,
    /// `a`: rank × in, `b`: out × rank (zero at start, so a new adapter changes nothing).
    pub adapter: Option<(Var, Var)>,
    scale: f64,
    dropout: f32,
}

impl LoraLinear {
    fn forward(&self, x: &Tensor, use_adapter: bool, train: bool) -> Result<Tensor> {
        let mut y = super::frozen::linear(x, &self.weight)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        if let (true, Some((a, b))) = (use_adapter, &self.adapter) {
            let x = if train && self.dropout > 0.0 {
                candle_nn::ops::dropout(x, self.dropout)?
            } else {
                x.clone()
            };
            let low = x.broadcast_matmul(&a.as_tensor().t()?)?;
            let up = low.broadcast_matmul(&b.as_tensor().t()?)?;
            y = (y + (up * self.scale)?)?;
        }
        Ok(y)
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

pub struct Decoder {
    pub config: Config,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
    /// `lm_head` packed for the AVX-512 product, once, on first use (CPU only).
    lm_head_packed: std::sync::OnceLock<Option<std::sync::Arc<super::xent::PackedProjection>>>,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

/// Where the base weights come from: tensors by Hugging Face name.
pub type Weights = HashMap<String, Tensor>;

impl Decoder {
    /// Builds the decoder from base weights (HF names: `model.layers.N.self_attn.q_proj.weight`, …)
    /// and adds fresh adapters per `lora` (A random, B zero), registered in `vars` with PEFT names.
    pub fn new(
        config: Config,
        weights: &Weights,
        lora: &LoraConfig,
        vars: &mut Vec<(String, Var)>,
        device: &Device,
    ) -> Result<Decoder> {
        let get = |name: &str| -> Result<Tensor> {
            weights.get(name).cloned().ok_or_else(|| {
                candle_core::Error::Msg(format!("the base model has no tensor `{name}`"))
            })
        };
        let scale = lora.alpha / lora.rank.max(1) as f64;
        let mut rng = Rng::new(lora.seed);
        let mut linear = |prefix: &str,
                          name: &str,
                          bias: bool,
                          vars: &mut Vec<(String, Var)>|
         -> Result<LoraLinear> {
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
                weight,
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
                q: linear(&attn, "q_proj", config.qkv_bias, vars)?,
                k: linear(&attn, "k_proj", config.qkv_bias, vars)?,
                v: linear(&attn, "v_proj", config.qkv_bias, vars)?,
                o: linear(&attn, "o_proj", false, vars)?,
                post_norm: get(&format!("{p}.post_attention_layernorm.weight"))?,
                gate: linear(&mlp, "gate_proj", false, vars)?,
                up: linear(&mlp, "up_proj", false, vars)?,
                down: linear(&mlp, "down_proj", false, vars)?,
            });
        }
        let embed = get("model.embed_tokens.weight")?;
        let lm_head = weights
            .get("lm_head.weight")
            .cloned()
            .unwrap_or_else(|| embed.clone());
        let dim = config.head_dim();
        let inv: Vec<f32> = (0..dim / 2)
            .map(|i| 1.0 / config.rope_theta.powf(2.0 * i as f64 / dim as f64) as f32)
            .collect();
        let inv = Tensor::new(inv.as_slice(), device)?;
        let pos =
            Tensor::arange(0u32, config.max_positions as u32, device)?.to_dtype(DType::F32)?;
        let freqs = pos.unsqueeze(1)?.broadcast_mul(&inv.unsqueeze(0)?)?;
        let freqs = Tensor::cat(&[&freqs, &freqs], D::Minus1)?;
        Ok(Decoder {
            embed,
            layers,
            norm: get("model.norm.weight")?,
            lm_head,
            lm_head_packed: std::sync::OnceLock::new(),
            cos: freqs.cos()?,
            sin: freqs.sin()?,
            config,
            device: device.clone(),
        })
    }

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
        super::frozen::linear(hidden, &self.lm_head)
    }

    /// Log-probabilities of `targets` after final hidden states `[rows, hidden]`, without the
    /// rows' full logits; their gradient is prepared only when `hidden` is part of a tracked graph.
    pub fn learned_logp(&self, hidden: &Tensor, targets: &[u32]) -> Result<Tensor> {
        let with_grad = hidden.track_op();
        let packed = self
            .lm_head_packed
            .get_or_init(|| super::xent::PackedProjection::new(&self.lm_head))
            .clone();
        super::xent::projected_target_logp(hidden, &self.lm_head, packed, targets, with_grad)
    }

    /// The final (normed) hidden states `[batch, seq, hidden]` for token ids `[batch, seq]`.
    pub fn hidden(&self, ids: &Tensor, use_adapter: bool, train: bool) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let c = &self.config;
        let (heads, kv, dim) = (c.heads, c.kv_heads, c.head_dim());
        let mut x = candle_nn::Embedding::new(self.embed.clone(), c.hidden).forward(ids)?;
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        for l in &self.layers {
            let h = rms_norm(&x, &l.input_norm, c.eps)?;
            let q =
                l.q.forward(&h, use_adapter, train)?
                    .reshape((b, t, heads, dim))?
                    .transpose(1, 2)?;
            let k =
                l.k.forward(&h, use_adapter, train)?
                    .reshape((b, t, kv, dim))?
                    .transpose(1, 2)?;
            let v =
                l.v.forward(&h, use_adapter, train)?
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
            x = (x + l.o.forward(&y, use_adapter, train)?)?;
            let h = rms_norm(&x, &l.post_norm, c.eps)?;
            let gate = candle_nn::ops::silu(&l.gate.forward(&h, use_adapter, train)?)?;
            let up = l.up.forward(&h, use_adapter, train)?;
            x = (x + l.down.forward(&(gate * up)?, use_adapter, train)?)?;
        }
        rms_norm(&x, &self.norm, c.eps)
    }
}

/// A small seeded generator (xorshift64*), so initial weights repeat exactly for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((x >> 40) as f32 + 0.5) / (1u64 << 24) as f32
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
pub fn random_weights(config: &Config, seed: u64, device: &Device) -> Result<Weights> {
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
