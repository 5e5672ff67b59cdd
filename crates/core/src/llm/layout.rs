//! Where one model's weights sit in the two layouts we read: Hugging Face names
//! (`model.layers.3.self_attn.q_proj.weight`) and GGUF names (`blk.3.attn_q.weight`), and the row
//! order of Llama's query and key projections, which llama.cpp's converter interleaves for its
//! rotary embedding while Hugging Face keeps the two rotated halves apart.

use candle_core::{Result, Tensor};

/// Per-layer suffixes: (Hugging Face, GGUF).
const LAYER_PARTS: [(&str, &str); 12] = [
    ("self_attn.q_proj", "attn_q"),
    ("self_attn.k_proj", "attn_k"),
    ("self_attn.v_proj", "attn_v"),
    ("self_attn.o_proj", "attn_output"),
    ("mlp.gate_proj", "ffn_gate"),
    ("mlp.up_proj", "ffn_up"),
    ("mlp.down_proj", "ffn_down"),
    ("input_layernorm", "attn_norm"),
    ("post_attention_layernorm", "ffn_norm"),
    // Qwen2 and some Llama variants.
    ("self_attn.q_norm", "attn_q_norm"),
    ("self_attn.k_norm", "attn_k_norm"),
    ("self_attn.rotary_emb", "rope"),
];

const GLOBAL_PARTS: [(&str, &str); 3] = [
    ("model.embed_tokens", "token_embd"),
    ("model.norm", "output_norm"),
    ("lm_head", "output"),
];

/// Splits `stem.kind` where kind is `weight` or `bias`.
fn split_kind(name: &str) -> Option<(&str, &str)> {
    let (stem, kind) = name.rsplit_once('.')?;
    matches!(kind, "weight" | "bias").then_some((stem, kind))
}

/// The GGUF name of a Hugging Face tensor name, if it is one of a Llama/Qwen2 decoder's.
pub fn gguf_name(hf: &str) -> Option<String> {
    let (stem, kind) = split_kind(hf)?;
    if let Some((_, g)) = GLOBAL_PARTS.iter().find(|(h, _)| *h == stem) {
        return Some(format!("{g}.{kind}"));
    }
    let rest = stem.strip_prefix("model.layers.")?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (_, g) = LAYER_PARTS.iter().find(|(h, _)| *h == part)?;
    Some(format!("blk.{layer}.{g}.{kind}"))
}

/// The Hugging Face name of a GGUF tensor name.
pub fn hf_name(gguf: &str) -> Option<String> {
    let (stem, kind) = split_kind(gguf)?;
    if let Some((h, _)) = GLOBAL_PARTS.iter().find(|(_, g)| *g == stem) {
        return Some(format!("{h}.{kind}"));
    }
    let rest = stem.strip_prefix("blk.")?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (h, _) = LAYER_PARTS.iter().find(|(_, g)| *g == part)?;
    Some(format!("model.layers.{layer}.{h}.{kind}"))
}

/// How many heads a projection's rows are grouped in when llama.cpp permutes them: the query
/// projection has `heads`, the key projection `kv_heads`; nothing else is permuted.
pub fn permuted_heads(hf: &str, heads: usize, kv_heads: usize) -> Option<usize> {
    if hf.ends_with("self_attn.q_proj.weight") || hf.ends_with("self_attn.q_proj.bias") {
        Some(heads)
    } else if hf.ends_with("self_attn.k_proj.weight") || hf.ends_with("self_attn.k_proj.bias") {
        Some(kv_heads)
    } else {
        None
    }
}

/// Rows of each head from Hugging Face's order (first half, second half) to llama.cpp's
/// interleaved order: row `c·d/2 + j` of a head moves to `2j + c`.
pub fn to_interleaved(t: &Tensor, heads: usize) -> Result<Tensor> {
    regroup(t, heads, true)
}

/// The inverse of [`to_interleaved`].
pub fn to_halves(t: &Tensor, heads: usize) -> Result<Tensor> {
    regroup(t, heads, false)
}

fn regroup(t: &Tensor, heads: usize, interleave: bool) -> Result<Tensor> {
    let dims = t.dims().to_vec();
    let rows = dims.first().copied().unwrap_or(0);
    if heads == 0 || rows % (2 * heads) != 0 {
        candle_core::bail!("{rows} rows cannot be split into {heads} heads of two halves");
    }
    let rest: usize = dims[1..].iter().product();
    let half = rows / heads / 2;
    let (a, b) = if interleave { (2, half) } else { (half, 2) };
    t.reshape((heads, a, b, rest))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn names_map_both_ways() {
        for hf in [
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.11.mlp.down_proj.weight",
            "model.layers.2.self_attn.k_proj.bias",
            "model.layers.5.post_attention_layernorm.weight",
            "model.embed_tokens.weight",
            "model.norm.weight",
            "lm_head.weight",
        ] {
            let g = gguf_name(hf).expect(hf);
            assert_eq!(hf_name(&g).as_deref(), Some(hf), "{g}");
        }
        assert_eq!(
            gguf_name("model.layers.3.self_attn.o_proj.weight").as_deref(),
            Some("blk.3.attn_output.weight")
        );
        assert_eq!(gguf_name("model.layers.x.self_attn.o_proj.weight"), None);
        assert_eq!(hf_name("blk.1.unknown.weight"), None);
    }

    #[test]
    fn interleaving_matches_llama_cpp_and_inverts() {
        // Two heads of dimension 4: rows [h0: 0 1 | 2 3, h1: 4 5 | 6 7] interleave to
        // [0 2 1 3, 4 6 5 7], as llama.cpp's converter writes them.
        let t = Tensor::arange(0f32, 8., &Device::Cpu)
            .and_then(|t| t.reshape((8, 1)))
            .expect("tensor");
        let i = to_interleaved(&t, 2).expect("interleave");
        let rows: Vec<f32> = i.flatten_all().and_then(|x| x.to_vec1()).expect("rows");
        assert_eq!(rows, vec![0., 2., 1., 3., 4., 6., 5., 7.]);
        let back: Vec<f32> = to_halves(&i, 2)
            .and_then(|x| x.flatten_all())
            .and_then(|x| x.to_vec1())
            .expect("back");
        assert_eq!(back, (0..8).map(|x| x as f32).collect::<Vec<_>>());
        assert_eq!(
            permuted_heads("model.layers.0.self_attn.k_proj.weight", 9, 3),
            Some(3)
        );
        assert_eq!(
            permuted_heads("model.layers.0.self_attn.v_proj.weight", 9, 3),
            None
        );
    }
}
