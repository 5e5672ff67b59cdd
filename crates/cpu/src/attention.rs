//! The key-value cache and causal attention of the CPU forward pass.
//!
//! Keys are stored transposed (`[dim][position]`), so one query's scores against every cached
//! position are 64 contiguous multiply-adds of a row instead of one horizontal sum per position.
//! Values stay `[position][dim]`, where the weighted sum is contiguous too. The cache grows by
//! doubling, so a generation reallocates it a handful of times at most.

use rayon::prelude::*;

use super::kernels::{madd, Isa};
use super::train::ops::{exp, max_body, sum_map};

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

/// The keys and values of a sequence's first `len` positions, copied out of a model's cache so
/// a later prompt with the same start can skip them (a prompt-prefix cache entry).
#[derive(Clone)]
pub struct KvSnapshot {
    len: usize,
    /// `[layer][kv_head][dim][len]`
    k: Vec<f32>,
    /// `[layer][kv_head][len][dim]`
    v: Vec<f32>,
}

impl KvSnapshot {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no position.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Memory taken, in bytes.
    pub fn bytes(&self) -> usize {
        (self.k.len() + self.v.len()) * std::mem::size_of::<f32>()
    }
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

    /// A copy of positions `..len` (`None` when the cache has no room for that many).
    pub(crate) fn snapshot(&self, len: usize) -> Option<KvSnapshot> {
        if len > self.cap {
            return None;
        }
        let (hd, cap) = (self.head_dim, self.cap);
        let heads = self.layers * self.kv_heads;
        let mut k = Vec::with_capacity(heads * hd * len);
        for row in 0..heads * hd {
            k.extend_from_slice(&self.k[row * cap..][..len]);
        }
        let mut v = Vec::with_capacity(heads * len * hd);
        for head in 0..heads {
            v.extend_from_slice(&self.v[head * cap * hd..][..len * hd]);
        }
        Some(KvSnapshot { len, k, v })
    }

    /// Puts a snapshot's positions back at `..snapshot.len`; later positions are left as they
    /// are (the caller treats them as stale).
    pub(crate) fn restore(&mut self, snapshot: &KvSnapshot) {
        let len = snapshot.len;
        self.reserve(len, 0);
        let (hd, cap) = (self.head_dim, self.cap);
        for (row, keys) in snapshot.k.chunks_exact(len.max(1)).enumerate() {
            self.k[row * cap..][..len].copy_from_slice(&keys[..len]);
        }
        for (head, values) in snapshot.v.chunks_exact((len * hd).max(1)).enumerate() {
            self.v[head * cap * hd..][..len * hd].copy_from_slice(&values[..len * hd]);
        }
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
    ///
    /// One job takes the query heads that share a key-value head, for up to `QUERY_TILE` tokens,
    /// so each cached key and value is read once for all of them. A single token (decoding) also
    /// splits the positions into ranges, so both threads work on a long cache; the ranges'
    /// partial softmaxes are merged afterwards.
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
        let tokens = qkv.len() / layout.stride;
        let per_kv = (layout.heads / self.kv_heads.max(1)).max(1);
        let tile = if tokens > 1 { QUERY_TILE } else { 1 };
        let tiles = tokens.div_ceil(tile);
        let positions = pos0 + tokens;
        let ranges = if tokens == 1 {
            positions
                .div_ceil(SPLIT_POSITIONS)
                .clamp(1, 2 * rayon::current_num_threads())
        } else {
            1
        };
        let span = positions.div_ceil(ranges);
        // Per job: for each of its rows (token × head), max, sum and the unnormalised output.
        let row_len = hd + 2;
        let rows_per_job = tile * per_kv;
        let mut partials = vec![0.0f32; self.kv_heads * tiles * ranges * rows_per_job * row_len];
        let job = |scores: &mut Vec<f32>, (j, part): (usize, &mut [f32])| {
            let (g, rest) = (j / (tiles * ranges), j % (tiles * ranges));
            let (tile_index, range) = (rest / ranges, rest % ranges);
            let t0 = tile_index * tile;
            let t1 = (t0 + tile).min(tokens);
            let head = layer * self.kv_heads + g;
            let view = Head {
                keys: &self.k[head * hd * self.cap..(head + 1) * hd * self.cap],
                values: &self.v[head * self.cap * hd..(head + 1) * self.cap * hd],
                cap: self.cap,
                head_dim: hd,
            };
            let mut queries = Vec::with_capacity(rows_per_job);
            for t in t0..t1 {
                for h in g * per_kv..(g + 1) * per_kv {
                    queries.push((&qkv[t * layout.stride + h * hd..][..hd], pos0 + t + 1));
                }
            }
            let keys = range * span..((range + 1) * span).min(positions);
            attend_tile(isa, &view, &queries, keys, scores, part);
        };
        let jobs = partials.chunks_mut(rows_per_job * row_len).enumerate();
        if rayon::current_num_threads() > 1 && self.kv_heads * tiles * ranges > 1 {
            let jobs: Vec<_> = jobs.collect();
            jobs.into_par_iter()
                .with_max_len(1)
                .for_each_init(Vec::new, job);
        } else {
            let mut scores = Vec::new();
            jobs.for_each(|j| job(&mut scores, j));
        }
        // Merge each row's ranges: rescale to the largest max, add, normalise.
        for t in 0..tokens {
            let (tile_index, in_tile) = (t / tile, t % tile);
            for h in 0..layout.heads {
                let (g, in_group) = (h / per_kv, h % per_kv);
                let row = in_tile * per_kv + in_group;
                let at = |range: usize| {
                    let job = (g * tiles + tile_index) * ranges + range;
                    (job * rows_per_job + row) * row_len
                };
                let max = (0..ranges)
                    .map(|r| partials[at(r)])
                    .fold(f32::NEG_INFINITY, f32::max);
                let o = &mut out[(t * layout.heads + h) * hd..][..hd];
                o.fill(0.0);
                let mut total = 0.0;
                for r in 0..ranges {
                    let p = &partials[at(r)..at(r) + row_len];
                    if p[1] == 0.0 {
                        continue;
                    }
                    let w = (p[0] - max).exp();
                    total += w * p[1];
                    o.iter_mut().zip(&p[2..]).for_each(|(o, v)| *o += w * v);
                }
                let inv = 1.0 / total;
                o.iter_mut().for_each(|v| *v *= inv);
            }
        }
    }
}

/// Tokens whose queries share one read of the cache in a prompt (with three query heads to a
/// key-value head, 48 rows: eight register blocks for each block of keys read).
const QUERY_TILE: usize = 16;
/// Cached positions per job when decoding one token.
const SPLIT_POSITIONS: usize = 512;

/// One kv head's cached keys (transposed) and values.
pub(crate) struct Head<'a> {
    keys: &'a [f32],
    values: &'a [f32],
    cap: usize,
    head_dim: usize,
}

/// Query rows one register block holds, each as [`LANES`] lanes of key positions (scores) or of
/// value dimensions (the weighted sum): six vector registers with AVX-512, twelve of AVX2's
/// sixteen, beside the load and the broadcast.
const ROWS: usize = 6;
/// Lanes of one block row: one AVX-512 register, two AVX2 ones.
const LANES: usize = 16;

/// Positions whose values one pass of the weighted sum reads for every block of queries (16 KB
/// of values at 64 dimensions: they stay in L1 while all the job's queries use them).
const VALUE_CHUNK: usize = 64;

/// One register block of scores: `qt` is a block's scaled queries `[dim][ROWS]`, `keys` the
/// block's first position of dimension 0 in transposed keys whose dimensions lie `stride`
/// apart; fixed-size chunks let the compiler keep the block in registers.
#[inline(always)]
fn score_block<const FMA: bool>(qt: &[f32], keys: &[f32], stride: usize) -> [[f32; LANES]; ROWS] {
    let mut acc = [[0.0f32; LANES]; ROWS];
    for (d, q) in qt.chunks_exact(ROWS).enumerate() {
        let k = &keys[d * stride..][..LANES];
        for r in 0..ROWS {
            for i in 0..LANES {
                acc[r][i] = madd::<FMA>(q[r], k[i], acc[r][i]);
            }
        }
    }
    acc
}

/// One register block of weighted sums, added to `acc`: `pt` holds the block's weights
/// `[position][ROWS]`, `values` the same positions' value rows (`hd` apart) from the block's
/// first dimension on.
#[inline(always)]
fn value_block<const FMA: bool>(
    acc: &mut [[f32; LANES]; ROWS],
    pt: &[f32],
    values: &[f32],
    hd: usize,
) {
    for (p, v) in pt.chunks_exact(ROWS).zip(values.chunks(hd)) {
        let v = &v[..LANES];
        for r in 0..ROWS {
            for i in 0..LANES {
                acc[r][i] = madd::<FMA>(p[r], v[i], acc[r][i]);
            }
        }
    }
}

/// Scores, softmax numerators and weighted values of `queries` (each with the number of
/// positions it may see) over positions `keys`. `out` gets per query: max, sum of exponentials,
/// then the unnormalised weighted sum of values (a sum of 0 means no visible position).
///
/// Both products run in register blocks of [`ROWS`] queries by [`LANES`] positions (or
/// dimensions), accumulated over the other axis, so each loaded key or value feeds six
/// multiply-adds and no partial result goes through memory; every block of queries takes a
/// block of keys while it is in L1 (values likewise, a chunk at a time).
/// Row-by-row updates of a score buffer had kept three memory operations per multiply-add and
/// made attention four fifths of a 2,000-token prefill.
#[inline(always)]
fn attend_tile_body<const FMA: bool>(
    head: &Head<'_>,
    queries: &[(&[f32], usize)],
    keys: std::ops::Range<usize>,
    scratch: &mut Vec<f32>,
    out: &mut [f32],
) {
    let hd = head.head_dim;
    let scale = 1.0 / (hd as f32).sqrt();
    let visible = queries.iter().map(|q| q.1).max().unwrap_or(0).min(keys.end);
    let width = visible.saturating_sub(keys.start);
    out.fill(0.0);
    if width == 0 {
        return;
    }
    // Rows padded to whole blocks with zero queries (whose scores and weights stay zero).
    // Scratch: scaled queries by block `[block][dim][ROWS]`, scores (then weights)
    // `[row][position]`, weighted sums `[row][dim]`, the last (partial) block of keys
    // `[dim][LANES]` and one block's weights `[position][ROWS]`.
    let n = queries.len();
    let padded = n.div_ceil(ROWS) * ROWS;
    scratch.clear();
    scratch.resize(padded * (2 * hd + width) + hd * LANES + width * ROWS, 0.0);
    let (qt, rest) = scratch.split_at_mut(padded * hd);
    let (scores, rest) = rest.split_at_mut(padded * width);
    let (sums, rest) = rest.split_at_mut(padded * hd);
    let (kb, pt) = rest.split_at_mut(hd * LANES);
    for (r, (q, _)) in queries.iter().enumerate() {
        let (block, row) = (r / ROWS, r % ROWS);
        for (d, &x) in q[..hd].iter().enumerate() {
            qt[(block * hd + d) * ROWS + row] = x * scale;
        }
    }
    for j0 in (0..width).step_by(LANES) {
        let lanes = (width - j0).min(LANES);
        // Keys are read in place (a block's rows stay in L1 for every block of queries); the
        // last, partial block of positions is copied out padded with zeros.
        let (block_keys, stride) = if lanes == LANES {
            (&head.keys[keys.start + j0..], head.cap)
        } else {
            for (d, k) in kb.chunks_exact_mut(LANES).enumerate() {
                let from = d * head.cap + keys.start + j0;
                k[..lanes].copy_from_slice(&head.keys[from..from + lanes]);
                k[lanes..].fill(0.0);
            }
            (&kb[..], LANES)
        };
        for (block, q) in qt.chunks_exact(hd * ROWS).enumerate() {
            let acc = score_block::<FMA>(q, block_keys, stride);
            for (r, acc) in acc.iter().enumerate() {
                scores[(block * ROWS + r) * width + j0..][..lanes].copy_from_slice(&acc[..lanes]);
            }
        }
    }
    for (r, (_, n)) in queries.iter().enumerate() {
        let seen = n.min(&keys.end).saturating_sub(keys.start);
        let row = &mut scores[r * width..(r + 1) * width];
        let max = max_body::<FMA>(&row[..seen]);
        row[..seen].iter_mut().for_each(|s| *s = exp(*s - max));
        row[seen..].fill(0.0);
        out[r * (hd + 2)] = max;
        out[r * (hd + 2) + 1] = sum_map(&row[..seen], |x| x);
    }
    let values = &head.values[keys.start * hd..(keys.start + width) * hd];
    let whole = hd / LANES * LANES;
    for r0 in (0..padded).step_by(ROWS) {
        for j in 0..width {
            for r in 0..ROWS {
                pt[j * ROWS + r] = scores[(r0 + r) * width + j];
            }
        }
        for c0 in (0..width).step_by(VALUE_CHUNK) {
            let c1 = (c0 + VALUE_CHUNK).min(width);
            for d0 in (0..whole).step_by(LANES) {
                let mut acc = [[0.0f32; LANES]; ROWS];
                for (r, acc) in acc.iter_mut().enumerate() {
                    acc.copy_from_slice(&sums[(r0 + r) * hd + d0..][..LANES]);
                }
                value_block::<FMA>(
                    &mut acc,
                    &pt[c0 * ROWS..c1 * ROWS],
                    &values[c0 * hd + d0..],
                    hd,
                );
                for (r, acc) in acc.iter().enumerate() {
                    sums[(r0 + r) * hd + d0..][..LANES].copy_from_slice(acc);
                }
            }
            // Dimensions past the last whole block (head sizes that are not a multiple of 16).
            for r in 0..ROWS {
                for d in whole..hd {
                    let mut s = sums[(r0 + r) * hd + d];
                    for j in c0..c1 {
                        s = madd::<FMA>(pt[j * ROWS + r], values[j * hd + d], s);
                    }
                    sums[(r0 + r) * hd + d] = s;
                }
            }
        }
    }
    for r in 0..n {
        out[r * (hd + 2) + 2..(r + 1) * (hd + 2)].copy_from_slice(&sums[r * hd..(r + 1) * hd]);
    }
}

dispatched!(
    /// [`attend_tile_body`] with fused multiply-adds where the CPU has them.
    fn attend_tile(
        head: &Head<'_>,
        queries: &[(&[f32], usize)],
        keys: std::ops::Range<usize>,
        scores: &mut Vec<f32>,
        out: &mut [f32]
    ) = attend_tile_body
);

#[cfg(test)]
mod tests {
    use super::super::kernels::runnable;
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

    /// A prompt in one pass (in query tiles, with a partial last tile), then tokens one at a time
    /// across reallocations of the cache (a long one split into position ranges) give what the
    /// textbook formula gives.
    #[test]
    fn cached_attention_matches_the_formula() {
        // Head sizes below, at and between whole register blocks of 16 lanes.
        for hd in [8, 64, 24] {
            cached_attention_matches_the_formula_at(hd);
        }
    }

    fn cached_attention_matches_the_formula_at(hd: usize) {
        let layout = QkvLayout {
            stride: (6 + 2 * 2) * hd,
            heads: 6,
            kv_heads: 2,
            head_dim: hd,
        };
        for (prompt, tokens) in [(50, 70), (1101, 1104)] {
            let qkv = seeded(tokens * layout.stride, 3);
            let want = naive(&qkv, layout, tokens);
            for isa in runnable() {
                let mut cache = KvCache::new(2, 2, hd);
                let width = layout.heads * hd;
                let mut got = vec![0.0; tokens * width];
                cache.reserve(prompt, 0);
                let head = &qkv[..prompt * layout.stride];
                cache.store(1, 0, head, layout);
                cache.attend(isa, 1, 0, head, layout, &mut got[..prompt * width]);
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
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() < 1e-5,
                        "{isa:?} hd {hd} {tokens} [{i}]: {g} vs {w}"
                    );
                }
            }
        }
    }
}
