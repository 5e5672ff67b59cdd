//! The key-value cache and causal attention of the CPU forward pass.
//!
//! Keys are stored transposed (`[dim][position]`), so one query's scores against every cached
//! position are 64 contiguous multiply-adds of a row instead of one horizontal sum per position.
//! Values stay `[position][dim]`, where the weighted sum is contiguous too. The cache grows by
//! doubling, so a generation reallocates it a handful of times at most.

use rayon::prelude::*;

use super::kernels::{axpy_body, Isa};

pub(crate) struct KvCache {
    layers: usize,
    kv_heads: usize,
    head_dim: usize,
    /// Positions each head's rows have room for.
    cap: usize,
    /// `[layer][kv_head][dim][cap]`
    k: Vec<f32>,
    /// `[layer][kv_head][cap][dim]`
    v: Vec<f32>,
}

/// Where one token's query, key and value sit in the fused projection's output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QkvLayout {
    /// Values per token.
    pub stride: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl QkvLayout {
    fn k_at(&self) -> usize {
        self.heads * self.head_dim
    }

    fn v_at(&self) -> usize {
        (self.heads + self.kv_heads) * self.head_dim
    }
}

impl KvCache {
    pub(crate) fn new(layers: usize, kv_heads: usize, head_dim: usize) -> Self {
        KvCache {
            layers,
            kv_heads,
            head_dim,
            cap: 0,
            k: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Makes room for `n` positions, keeping the first `keep`.
    pub(crate) fn reserve(&mut self, n: usize, keep: usize) {
        if n <= self.cap {
            return;
        }
        let cap = n.max(self.cap * 2).next_multiple_of(64);
        let keep = keep.min(self.cap);
        let heads = self.layers * self.kv_heads;
        let hd = self.head_dim;
        let mut k = vec![0.0; heads * hd * cap];
        for row in 0..heads * hd {
            k[row * cap..row * cap + keep]
                .copy_from_slice(&self.k[row * self.cap..row * self.cap + keep]);
        }
        let mut v = vec![0.0; heads * cap * hd];
        for head in 0..heads {
            v[head * cap * hd..][..keep * hd]
                .copy_from_slice(&self.v[head * self.cap * hd..][..keep * hd]);
        }
        self.k = k;
        self.v = v;
        self.cap = cap;
    }

    /// Stores the keys and values of `tokens` tokens of `qkv` at positions `pos0..`.
    pub(crate) fn store(&mut self, layer: usize, pos0: usize, qkv: &[f32], layout: QkvLayout) {
        let (hd, cap) = (self.head_dim, self.cap);
        for (t, token) in qkv.chunks_exact(layout.stride).enumerate() {
            let p = pos0 + t;
            for g in 0..self.kv_heads {
                let head = layer * self.kv_heads + g;
                let key = &token[layout.k_at() + g * hd..][..hd];
                for (d, &value) in key.iter().enumerate() {
                    self.k[(head * hd + d) * cap + p] = value;
                }
                self.v[(head * cap + p) * hd..][..hd]
                    .copy_from_slice(&token[layout.v_at() + g * hd..][..hd]);
            }
        }
    }

    /// Causal attention of the queries in `qkv` (positions `pos0..`) over the cache up to each
    /// query's own position; `out` gets `[token][head][dim]`.
    pub(crate) fn attend(
        &self,
        isa: Isa,
        layer: usize,
        pos0: usize,
        qkv: &[f32],
        layout: QkvLayout,
        out: &mut [f32],
    ) {
        let hd = self.head_dim;
        let width = layout.heads * hd;
        let per_kv = layout.heads / self.kv_heads.max(1);
        let item = |scores: &mut Vec<f32>, (t, h, o): (usize, usize, &mut [f32])| {
            let g = h / per_kv.max(1);
            let head = layer * self.kv_heads + g;
            let view = Head {
                keys: &self.k[head * hd * self.cap..(head + 1) * hd * self.cap],
                values: &self.v[head * self.cap * hd..(head + 1) * self.cap * hd],
                cap: self.cap,
                head_dim: hd,
            };
            let query = &qkv[t * layout.stride + h * hd..][..hd];
            attend_one(isa, &view, query, pos0 + t + 1, scores, o);
        };
        let items = out
            .chunks_exact_mut(width)
            .enumerate()
            .flat_map(|(t, row)| {
                row.chunks_exact_mut(hd)
                    .enumerate()
                    .map(move |(h, o)| (t, h, o))
            });
        if rayon::current_num_threads() > 1 && qkv.len() > layout.stride {
            let items: Vec<_> = items.collect();
            items.into_par_iter().for_each_init(Vec::new, item);
        } else if rayon::current_num_threads() > 1 {
            let items: Vec<_> = items.collect();
            items
                .into_par_iter()
                .with_max_len(1)
                .for_each_init(Vec::new, item);
        } else {
            let mut scores = Vec::new();
            items.for_each(|i| item(&mut scores, i));
        }
    }
}

/// One kv head's cached keys (transposed) and values.
struct Head<'a> {
    keys: &'a [f32],
    values: &'a [f32],
    cap: usize,
    head_dim: usize,
}

#[inline(always)]
fn attend_body<const FMA: bool>(
    head: &Head<'_>,
    query: &[f32],
    n: usize,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let scale = 1.0 / (head.head_dim as f32).sqrt();
    scores.clear();
    scores.resize(n, 0.0);
    for (d, &q) in query.iter().enumerate() {
        axpy_body::<FMA>(scores, q * scale, &head.keys[d * head.cap..][..n]);
    }
    let max = scores.iter().fold(f32::NEG_INFINITY, |a, &s| a.max(s));
    let mut total = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        total += *s;
    }
    out.fill(0.0);
    let inv = 1.0 / total;
    for (j, &s) in scores.iter().enumerate() {
        axpy_body::<FMA>(
            out,
            s * inv,
            &head.values[j * head.head_dim..][..head.head_dim],
        );
    }
}

fn attend_one(
    isa: Isa,
    head: &Head<'_>,
    query: &[f32],
    n: usize,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    unsafe fn fast(
        head: &Head<'_>,
        query: &[f32],
        n: usize,
        scores: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        attend_body::<true>(head, query, n, scores, out)
    }
    match isa {
        Isa::Portable => attend_body::<false>(head, query, n, scores, out),
        // SAFETY: `Isa::Avx512` is only chosen on CPUs with these features.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { fast(head, query, n, scores, out) },
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernels::best;
    use super::super::matrix::tests_support::seeded;
    use super::*;

    /// Attention written out the long way: scores, softmax, weighted sum, per query and head.
    fn naive(qkv: &[f32], l: QkvLayout, tokens: usize) -> Vec<f32> {
        let hd = l.head_dim;
        let mut out = vec![0.0; tokens * l.heads * hd];
        for t in 0..tokens {
            for h in 0..l.heads {
                let g = h / (l.heads / l.kv_heads);
                let q = &qkv[t * l.stride + h * hd..][..hd];
                let scores: Vec<f32> = (0..=t)
                    .map(|j| {
                        let k = &qkv[j * l.stride + l.k_at() + g * hd..][..hd];
                        q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() / (hd as f32).sqrt()
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f32 = e.iter().sum();
                for (j, w) in e.iter().enumerate() {
                    let v = &qkv[j * l.stride + l.v_at() + g * hd..][..hd];
                    for d in 0..hd {
                        out[(t * l.heads + h) * hd + d] += w / total * v[d];
                    }
                }
            }
        }
        out
    }

    /// A prompt in one pass, then tokens one at a time across a reallocation of the cache, give
    /// what the textbook formula gives.
    #[test]
    fn cached_attention_matches_the_formula() {
        let layout = QkvLayout {
            stride: (6 + 2 * 2) * 8,
            heads: 6,
            kv_heads: 2,
            head_dim: 8,
        };
        let tokens = 70;
        let qkv = seeded(tokens * layout.stride, 3);
        let want = naive(&qkv, layout, tokens);
        for isa in [Isa::Portable, best()] {
            let mut cache = KvCache::new(2, 2, 8);
            let width = layout.heads * 8;
            let mut got = vec![0.0; tokens * width];
            let prompt = 50;
            cache.reserve(prompt, 0);
            cache.store(1, 0, &qkv[..prompt * layout.stride], layout);
            cache.attend(
                isa,
                1,
                0,
                &qkv[..prompt * layout.stride],
                layout,
                &mut got[..prompt * width],
            );
            for t in prompt..tokens {
                cache.reserve(t + 1, t);
                let token = &qkv[t * layout.stride..(t + 1) * layout.stride];
                cache.store(1, t, token, layout);
                cache.attend(
                    isa,
                    1,
                    t,
                    token,
                    layout,
                    &mut got[t * width..(t + 1) * width],
                );
            }
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{isa:?}: {g} vs {w}");
            }
        }
    }
}
