//! LogReasoner's own forward pass for GGUF Llama- and Qwen2-family models on the CPU.
//!
//! candle's quantized models spend most of a token outside the matrix products (a new tensor per
//! op, a key-value cache that is concatenated anew every token) and multiply 4-bit weights with a
//! scalar loop. Here the weights are packed once at load (`matrix`), products run in AVX-512 VNNI
//! kernels (`kernels`), projections that read the same input are fused (q/k/v, gate/up), the
//! key-value cache is preallocated (`attention`), and every buffer is reused from token to token.
//! Other devices keep candle's models.

// First, so its `dispatched!` macro is in scope for `attention`.
#[macro_use]
mod kernels;
mod attention;
mod matrix;
pub mod sgemm;
#[cfg(test)]
mod tests;
pub mod train;

use std::collections::HashMap;
use std::io::{Read, Seek};

use candle_core::quantized::gguf_file;
use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};

pub use attention::KvSnapshot;
use attention::{KvCache, QkvLayout};
use kernels::Isa;
use matrix::{Acts, Matrix, Part, Source};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the metadata has no `{0}`")]
    Meta(String),
    #[error("the file has no tensor `{0}`")]
    Missing(String),
    #[error("tensor `{name}`: {reason}")]
    Tensor { name: String, reason: String },
    #[error("the metadata's sizes do not fit together: {0}")]
    Sizes(String),
}

/// Most tokens one pass takes: a longer prompt runs in several, since a pass's activations must
/// stay in cache while each weight group is multiplied with all of them (a prompt of about 4,600
/// tokens took 50 s in one pass and 21 s in passes of 512).
pub const PASS_TOKENS: usize = 512;

/// Whether this CPU runs one of the SIMD kernels (AVX2 or AVX-512) rather than the portable ones.
pub fn fast_kernels() -> bool {
    kernels::best() != Isa::Portable
}

/// What `model info` says about the kernels this CPU gets.
pub fn kernel_description() -> &'static str {
    match kernels::best() {
        Isa::Portable => "ours, portable (this CPU has neither AVX2 nor AVX-512; correct, but several times slower)",
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => "ours, AVX2 + FMA; Q4_0/Q4_1/Q8_0 packed as they are, other types requantised to 8 bits",
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => "ours, AVX-512 VNNI; Q4_0/Q4_1/Q8_0 packed as they are, other types requantised to 8 bits",
    }
}

/// Shape and hyperparameters read from the GGUF metadata.
#[derive(Debug, Clone)]
struct Config {
    dim: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// Leading dimensions of each head that rotate (all of them in these families).
    rope_dim: usize,
    ffn: usize,
    eps: f32,
    rope_base: f32,
    /// Qwen2 rotates the two halves of a head; llama.cpp's Llama files interleave pairs.
    rope_halves: bool,
}

struct Layer {
    attn_norm: Vec<f32>,
    /// Query, key and value projections stacked, so the input is quantised and read once.
    qkv: Matrix,
    /// Qwen2's biases of the same projections.
    qkv_bias: Option<Vec<f32>>,
    attn_out: Matrix,
    ffn_norm: Vec<f32>,
    /// Gate and up projections stacked.
    gate_up: Matrix,
    down: Matrix,
}

/// Buffers reused by every forward pass.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    normed: Vec<f32>,
    qkv: Vec<f32>,
    attended: Vec<f32>,
    projected: Vec<f32>,
    gate_up: Vec<f32>,
    hidden: Vec<f32>,
    acts: Acts,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

pub struct CpuModel {
    cfg: Config,
    embed: Matrix,
    /// `None` when the output layer is the embedding (tied weights).
    output: Option<Matrix>,
    out_norm: Vec<f32>,
    layers: Vec<Layer>,
    cache: KvCache,
    isa: Isa,
    scratch: Scratch,
}

fn meta_usize(content: &gguf_file::Content, key: &str) -> Option<usize> {
    let v = content.metadata.get(key)?;
    v.to_u32()
        .map(|x| x as usize)
        .ok()
        .or_else(|| v.to_u64().ok().map(|x| x as usize))
}

fn meta_f32(content: &gguf_file::Content, key: &str) -> Option<f32> {
    let v = content.metadata.get(key)?;
    v.to_f32()
        .ok()
        .or_else(|| v.to_f64().ok().map(|x| x as f32))
}

impl Config {
    fn read(content: &gguf_file::Content, arch: &str) -> Result<Config, LoadError> {
        let need = |key: &str| {
            let key = format!("{arch}.{key}");
            meta_usize(content, &key)
                .filter(|v| *v > 0)
                .ok_or(LoadError::Meta(key))
        };
        let dim = need("embedding_length")?;
        let heads = need("attention.head_count")?;
        let kv_heads =
            meta_usize(content, &format!("{arch}.attention.head_count_kv")).unwrap_or(heads);
        if dim % heads != 0 || kv_heads == 0 || heads % kv_heads != 0 {
            return Err(LoadError::Sizes(format!(
                "{heads} heads and {kv_heads} key-value heads for a width of {dim} (the width must split evenly into heads, and the heads into key-value groups)"
            )));
        }
        let head_dim = dim / heads;
        Ok(Config {
            dim,
            heads,
            kv_heads,
            head_dim,
            rope_dim: meta_usize(content, &format!("{arch}.rope.dimension_count"))
                .unwrap_or(head_dim)
                .min(head_dim),
            ffn: need("feed_forward_length")?,
            eps: meta_f32(content, &format!("{arch}.attention.layer_norm_rms_epsilon"))
                .unwrap_or(1e-5),
            rope_base: meta_f32(content, &format!("{arch}.rope.freq_base")).unwrap_or(10_000.0),
            rope_halves: arch == "qwen2",
        })
    }
}

/// Reads tensors of one GGUF file, with LoRA updates (by GGUF name) merged in f32.
struct Reader<'a, R> {
    content: &'a gguf_file::Content,
    file: &'a mut R,
    deltas: &'a HashMap<String, Tensor>,
}

impl<R: Read + Seek> Reader<'_, R> {
    fn tensor(&mut self, name: &str) -> Result<candle_core::quantized::QTensor, LoadError> {
        if !self.content.tensor_infos.contains_key(name) {
            return Err(LoadError::Missing(name.into()));
        }
        self.content
            .tensor(self.file, name, &Device::Cpu)
            .map_err(|e| LoadError::Tensor {
                name: name.into(),
                reason: e.to_string(),
            })
    }

    fn floats(&mut self, name: &str) -> Result<Vec<f32>, LoadError> {
        let bad = |e: candle_core::Error| LoadError::Tensor {
            name: name.into(),
            reason: e.to_string(),
        };
        let t = self.tensor(name)?.dequantize(&Device::Cpu).map_err(bad)?;
        t.flatten_all().and_then(|t| t.to_vec1()).map_err(bad)
    }

    /// Packs the named 2-D tensors stacked by rows.
    fn matrix(&mut self, names: &[String]) -> Result<Matrix, LoadError> {
        let mut raws = Vec::with_capacity(names.len());
        for name in names {
            let bad = |e: candle_core::Error| LoadError::Tensor {
                name: name.clone(),
                reason: e.to_string(),
            };
            let t = self.tensor(name)?;
            let &[rows, cols] = t.shape().dims() else {
                return Err(LoadError::Tensor {
                    name: name.clone(),
                    reason: format!("shape {:?} is not a matrix", t.shape().dims()),
                });
            };
            let raw = match (self.deltas.get(name), t.dtype()) {
                (Some(delta), _) => {
                    let merged = (t.dequantize(&Device::Cpu).map_err(bad)? + delta).map_err(bad)?;
                    Raw::Dense(
                        merged
                            .flatten_all()
                            .and_then(|m| m.to_vec1())
                            .map_err(bad)?,
                        true,
                    )
                }
                (None, dtype @ (GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q8_0)) => {
                    Raw::Bytes(t.data().map_err(bad)?.into_owned(), dtype)
                }
                (None, dtype) => {
                    let exact = matches!(dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16);
                    let values = t.dequantize(&Device::Cpu).map_err(bad)?;
                    Raw::Dense(
                        values
                            .flatten_all()
                            .and_then(|m| m.to_vec1())
                            .map_err(bad)?,
                        exact,
                    )
                }
            };
            raws.push((rows, cols, raw));
        }
        let parts: Vec<Part<'_>> = raws
            .iter()
            .map(|(rows, cols, raw)| Part {
                rows: *rows,
                cols: *cols,
                source: match raw {
                    Raw::Bytes(b, GgmlDType::Q4_0) => Source::Q4_0(b),
                    Raw::Bytes(b, GgmlDType::Q4_1) => Source::Q4_1(b),
                    Raw::Bytes(b, _) => Source::Q8_0(b),
                    Raw::Dense(v, exact) => Source::Dense {
                        values: v,
                        exact: *exact,
                    },
                },
            })
            .collect();
        Matrix::pack(&parts).map_err(|e| LoadError::Tensor {
            name: names.join(" + "),
            reason: e.to_string(),
        })
    }
}

enum Raw {
    Bytes(Vec<u8>, GgmlDType),
    Dense(Vec<f32>, bool),
}

impl CpuModel {
    /// Loads the weights of a GGUF Llama/Qwen2 file (`arch` from its metadata).
    pub fn load<R: Read + Seek>(
        content: &gguf_file::Content,
        file: &mut R,
        arch: &str,
        deltas: &HashMap<String, Tensor>,
    ) -> Result<CpuModel, LoadError> {
        let cfg = Config::read(content, arch)?;
        let layer_count = meta_usize(content, &format!("{arch}.block_count"))
            .ok_or_else(|| LoadError::Meta(format!("{arch}.block_count")))?;
        let mut r = Reader {
            content,
            file,
            deltas,
        };
        let one = |name: &str| vec![name.to_string()];
        let embed = r.matrix(&one("token_embd.weight"))?;
        let output = if content.tensor_infos.contains_key("output.weight") {
            Some(r.matrix(&one("output.weight"))?)
        } else {
            None
        };
        let out_norm = r.floats("output_norm.weight")?;
        let mut layers = Vec::with_capacity(layer_count);
        for i in 0..layer_count {
            let n = |s: &str| format!("blk.{i}.{s}");
            let biases = ["attn_q.bias", "attn_k.bias", "attn_v.bias"];
            let qkv_bias = if content.tensor_infos.contains_key(&n(biases[0])) {
                let mut all = Vec::new();
                for b in biases {
                    all.extend(r.floats(&n(b))?);
                }
                Some(all)
            } else {
                None
            };
            layers.push(Layer {
                attn_norm: r.floats(&n("attn_norm.weight"))?,
                qkv: r.matrix(&[n("attn_q.weight"), n("attn_k.weight"), n("attn_v.weight")])?,
                qkv_bias,
                attn_out: r.matrix(&[n("attn_output.weight")])?,
                ffn_norm: r.floats(&n("ffn_norm.weight"))?,
                gate_up: r.matrix(&[n("ffn_gate.weight"), n("ffn_up.weight")])?,
                down: r.matrix(&[n("ffn_down.weight")])?,
            });
        }
        let model = CpuModel {
            cache: KvCache::new(layer_count, cfg.kv_heads, cfg.head_dim),
            cfg,
            embed,
            output,
            out_norm,
            layers,
            isa: kernels::best(),
            scratch: Scratch::default(),
        };
        model.check_shapes()?;
        Ok(model)
    }

    fn check_shapes(&self) -> Result<(), LoadError> {
        let c = &self.cfg;
        let qkv_rows = (c.heads + 2 * c.kv_heads) * c.head_dim;
        let bad = |name: &str, want: String| {
            Err(LoadError::Tensor {
                name: name.into(),
                reason: format!("expected {want} for the metadata's sizes"),
            })
        };
        if self.embed.cols != c.dim {
            return bad("token_embd.weight", format!("{} columns", c.dim));
        }
        if self.output.as_ref().is_some_and(|o| o.cols != c.dim) || self.out_norm.len() != c.dim {
            return bad("output", format!("width {}", c.dim));
        }
        for (i, l) in self.layers.iter().enumerate() {
            let ok = l.qkv.rows == qkv_rows
                && l.qkv.cols == c.dim
                && l.qkv_bias.as_ref().is_none_or(|b| b.len() == qkv_rows)
                && (l.attn_out.rows, l.attn_out.cols) == (c.dim, c.dim)
                && (l.gate_up.rows, l.gate_up.cols) == (2 * c.ffn, c.dim)
                && (l.down.rows, l.down.cols) == (c.dim, c.ffn)
                && l.attn_norm.len() == c.dim
                && l.ffn_norm.len() == c.dim;
            if !ok {
                return bad(
                    &format!("blk.{i}"),
                    format!(
                        "width {}, {qkv_rows} q/k/v rows and {} feed-forward rows",
                        c.dim, c.ffn
                    ),
                );
            }
        }
        Ok(())
    }

    /// The cached keys and values of positions `..len`, which the caller knows to be valid
    /// (`None` when the cache never held that many).
    pub fn snapshot(&self, len: usize) -> Option<KvSnapshot> {
        self.cache.snapshot(len)
    }

    /// Puts back positions `..snapshot.len()` of a sequence, so its next [`CpuModel::forward`]
    /// can start at `pos = snapshot.len()`.
    pub fn restore(&mut self, snapshot: &KvSnapshot) {
        self.cache.restore(snapshot);
    }

    /// Runs `ids` at positions `pos..` (the cache must hold positions `..pos` of the same
    /// sequence) and returns the logits of the last one.
    pub fn forward(&mut self, ids: &[u32], pos: usize) -> Result<Vec<f32>, String> {
        // The whole pass runs on a pool thread: its parallel products then start as local jobs
        // instead of each waking the caller through a condition variable (a sixth of a decoded
        // token went to the scheduler before).
        rayon::scope(|_| {
            let mut logits = Err("nothing to run".to_string());
            for (i, chunk) in ids.chunks(PASS_TOKENS).enumerate() {
                logits = Ok(self.forward_in_pool(chunk, pos + i * PASS_TOKENS)?);
            }
            logits
        })
    }

    fn forward_in_pool(&mut self, ids: &[u32], pos: usize) -> Result<Vec<f32>, String> {
        let c = self.cfg.clone();
        let tokens = ids.len();
        if tokens == 0 {
            return Err("nothing to run".into());
        }
        let s = &mut self.scratch;
        s.x.resize(tokens * c.dim, 0.0);
        for (id, row) in ids.iter().zip(s.x.chunks_exact_mut(c.dim)) {
            let id = *id as usize;
            if id >= self.embed.rows {
                return Err(format!(
                    "token id {id} is outside the vocabulary ({})",
                    self.embed.rows
                ));
            }
            self.embed.row(id, row);
        }
        self.cache.reserve(pos + tokens, pos);
        rope_tables(&c, pos, tokens, &mut s.cos, &mut s.sin);
        let layout = QkvLayout {
            stride: (c.heads + 2 * c.kv_heads) * c.head_dim,
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
        };
        for (li, layer) in self.layers.iter().enumerate() {
            rms_norm(&s.x, &layer.attn_norm, c.eps, &mut s.normed);
            s.acts.quantize(&s.normed, c.dim);
            s.qkv.resize(tokens * layout.stride, 0.0);
            kernels::matmul(&layer.qkv, &s.normed, &s.acts, &mut s.qkv);
            if let Some(bias) = &layer.qkv_bias {
                for row in s.qkv.chunks_exact_mut(layout.stride) {
                    row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                }
            }
            for (t, row) in s.qkv.chunks_exact_mut(layout.stride).enumerate() {
                let (cos, sin) = (&s.cos[t * c.rope_dim / 2..], &s.sin[t * c.rope_dim / 2..]);
                for head in row[..(c.heads + c.kv_heads) * c.head_dim].chunks_exact_mut(c.head_dim)
                {
                    rotate(
                        head,
                        &cos[..c.rope_dim / 2],
                        &sin[..c.rope_dim / 2],
                        c.rope_halves,
                    );
                }
            }
            self.cache.store(li, pos, &s.qkv, layout);
            s.attended.resize(tokens * c.dim, 0.0);
            self.cache
                .attend(self.isa, li, pos, &s.qkv, layout, &mut s.attended);
            s.acts.quantize(&s.attended, c.dim);
            s.projected.resize(tokens * c.dim, 0.0);
            kernels::matmul(&layer.attn_out, &s.attended, &s.acts, &mut s.projected);
            s.x.iter_mut().zip(&s.projected).for_each(|(x, p)| *x += p);

            rms_norm(&s.x, &layer.ffn_norm, c.eps, &mut s.normed);
            s.acts.quantize(&s.normed, c.dim);
            s.gate_up.resize(tokens * 2 * c.ffn, 0.0);
            kernels::matmul(&layer.gate_up, &s.normed, &s.acts, &mut s.gate_up);
            s.hidden.resize(tokens * c.ffn, 0.0);
            for (gu, h) in s
                .gate_up
                .chunks_exact(2 * c.ffn)
                .zip(s.hidden.chunks_exact_mut(c.ffn))
            {
                let (gate, up) = gu.split_at(c.ffn);
                for ((h, g), u) in h.iter_mut().zip(gate).zip(up) {
                    *h = g / (1.0 + (-g).exp()) * u;
                }
            }
            s.acts.quantize(&s.hidden, c.ffn);
            kernels::matmul(&layer.down, &s.hidden, &s.acts, &mut s.projected);
            s.x.iter_mut().zip(&s.projected).for_each(|(x, p)| *x += p);
        }
        let last = &s.x[(tokens - 1) * c.dim..];
        rms_norm(last, &self.out_norm, c.eps, &mut s.normed);
        s.acts.quantize(&s.normed, c.dim);
        let output = self.output.as_ref().unwrap_or(&self.embed);
        let mut logits = vec![0.0; output.rows];
        kernels::matmul(output, &s.normed, &s.acts, &mut logits);
        Ok(logits)
    }
}

/// `out[t] = x[t] / rms(x[t]) * weight` for each row of `x`.
fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut Vec<f32>) {
    let dim = weight.len();
    out.resize(x.len(), 0.0);
    for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let mean = row.iter().map(|v| v * v).sum::<f32>() / dim as f32;
        let inv = 1.0 / (mean + eps).sqrt();
        for ((o, v), w) in o.iter_mut().zip(row).zip(weight) {
            *o = v * inv * w;
        }
    }
}

/// Cosines and sines of positions `pos..pos+tokens` for each rotating pair.
fn rope_tables(c: &Config, pos: usize, tokens: usize, cos: &mut Vec<f32>, sin: &mut Vec<f32>) {
    let pairs = c.rope_dim / 2;
    cos.clear();
    sin.clear();
    for t in 0..tokens {
        let p = (pos + t) as f32;
        for i in 0..pairs {
            let freq = 1.0 / c.rope_base.powf((2 * i) as f32 / c.rope_dim as f32);
            let (s, co) = (p * freq).sin_cos();
            cos.push(co);
            sin.push(s);
        }
    }
}

/// Rotates one head's leading `2 · cos.len()` values: adjacent pairs, or the two halves.
fn rotate(head: &mut [f32], cos: &[f32], sin: &[f32], halves: bool) {
    let pairs = cos.len();
    for i in 0..pairs {
        let (a, b) = if halves {
            (i, i + pairs)
        } else {
            (2 * i, 2 * i + 1)
        };
        let (x, y) = (head[a], head[b]);
        head[a] = x * cos[i] - y * sin[i];
        head[b] = x * sin[i] + y * cos[i];
    }
}
