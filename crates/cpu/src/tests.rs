//! The CPU forward pass against candle's quantized Llama and Qwen2 on tiny GGUF files written
//! here, with every tensor type the packer handles (Q4_0, Q4_1, Q8_0, F32, and Q5_0, which is
//! requantised), grouped-query attention, biases, tied and separate output layers.

use std::collections::HashMap;
use std::io::Cursor;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::matrix::tests_support::seeded;
use super::CpuModel;

const DIM: usize = 64;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const FFN: usize = 128;
const LAYERS: usize = 2;
const VOCAB: usize = 80;

fn tensor(rows: usize, cols: usize, seed: u64, scale: f32, dtype: GgmlDType) -> QTensor {
    let values: Vec<f32> = seeded(rows * cols, seed)
        .iter()
        .map(|v| v * scale)
        .collect();
    let shape: &[usize] = if rows == 1 { &[cols] } else { &[rows, cols] };
    let t = Tensor::from_vec(values, shape, &Device::Cpu).expect("tensor");
    QTensor::quantize(&t, dtype).expect("quantize")
}

/// A two-layer model of `arch` as GGUF bytes.
fn tiny_gguf(arch: &str) -> Vec<u8> {
    let qwen = arch == "qwen2";
    let kv = KV_HEADS * DIM / HEADS;
    let mut tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            tensor(VOCAB, DIM, 1, 1.0, GgmlDType::F32),
        ),
        (
            "output_norm.weight".into(),
            tensor(1, DIM, 2, 0.2, GgmlDType::F32),
        ),
    ];
    if qwen {
        tensors.push((
            "output.weight".into(),
            tensor(VOCAB, DIM, 3, 0.3, GgmlDType::Q8_0),
        ));
    }
    for i in 0..LAYERS {
        let s = 100 * (i as u64 + 1);
        let n = |name: &str| format!("blk.{i}.{name}");
        // Norm weights around 1, so activations keep their scale from layer to layer.
        let norm = |seed| {
            let v: Vec<f32> = seeded(DIM, seed).iter().map(|x| 1.0 + 0.1 * x).collect();
            QTensor::quantize(
                &Tensor::from_vec(v, DIM, &Device::Cpu).expect("norm"),
                GgmlDType::F32,
            )
            .expect("quantize")
        };
        tensors.extend([
            (n("attn_norm.weight"), norm(s)),
            (
                n("attn_q.weight"),
                tensor(DIM, DIM, s + 1, 0.3, GgmlDType::Q4_1),
            ),
            (
                n("attn_k.weight"),
                tensor(kv, DIM, s + 2, 0.3, GgmlDType::Q4_1),
            ),
            (
                n("attn_v.weight"),
                tensor(kv, DIM, s + 3, 0.3, GgmlDType::Q4_0),
            ),
            (
                n("attn_output.weight"),
                tensor(DIM, DIM, s + 4, 0.2, GgmlDType::Q8_0),
            ),
            (n("ffn_norm.weight"), norm(s + 5)),
            (
                n("ffn_gate.weight"),
                tensor(FFN, DIM, s + 6, 0.3, GgmlDType::Q8_0),
            ),
            (
                n("ffn_up.weight"),
                tensor(FFN, DIM, s + 7, 0.3, GgmlDType::Q4_1),
            ),
            (
                n("ffn_down.weight"),
                tensor(DIM, FFN, s + 8, 0.2, GgmlDType::Q5_0),
            ),
        ]);
        if qwen {
            tensors.extend([
                (n("attn_q.bias"), tensor(1, DIM, s + 9, 0.1, GgmlDType::F32)),
                (n("attn_k.bias"), tensor(1, kv, s + 10, 0.1, GgmlDType::F32)),
                (n("attn_v.bias"), tensor(1, kv, s + 11, 0.1, GgmlDType::F32)),
            ]);
        }
    }
    let key = |k: &str| format!("{arch}.{k}");
    let metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (key("embedding_length"), Value::U32(DIM as u32)),
        (key("block_count"), Value::U32(LAYERS as u32)),
        (key("feed_forward_length"), Value::U32(FFN as u32)),
        (key("context_length"), Value::U32(256)),
        (key("attention.head_count"), Value::U32(HEADS as u32)),
        (key("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        (key("rope.freq_base"), Value::F32(10_000.0)),
        (
            key("rope.dimension_count"),
            Value::U32((DIM / HEADS) as u32),
        ),
    ];
    let meta: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut buf = Cursor::new(Vec::new());
    gguf_file::write(&mut buf, &meta, &refs).expect("write gguf");
    buf.into_inner()
}

enum Candle {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

impl Candle {
    fn logits(&mut self, ids: &[u32], pos: usize) -> Vec<f32> {
        let input = Tensor::new(ids, &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .expect("input");
        let out = match self {
            Candle::Llama(m) => m.forward(&input, pos),
            Candle::Qwen2(m) => m.forward(&input, pos),
        };
        out.and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("candle forward")
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// A prompt in one pass and then three tokens one at a time: the logits follow candle's at every
/// step. (Both quantise activations per block; Q5_0 is requantised here, so they agree closely,
/// not exactly.)
#[test]
fn tiny_models_of_both_families_follow_candle() {
    for arch in ["llama", "qwen2"] {
        let bytes = tiny_gguf(arch);
        let mut reader = Cursor::new(bytes);
        let content = gguf_file::Content::read(&mut reader).expect("read gguf");
        let mut ours =
            CpuModel::load(&content, &mut reader, arch, &HashMap::new()).expect("load ours");
        let mut candle = match arch {
            "llama" => Candle::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu)
                    .expect("load candle"),
            ),
            _ => Candle::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu)
                    .expect("load candle"),
            ),
        };
        let steps: [(&[u32], usize); 4] = [
            (&[3, 17, 42, 5, 79, 0, 11], 0),
            (&[8], 7),
            (&[61], 8),
            (&[2], 9),
        ];
        for (ids, pos) in steps {
            let want = candle.logits(ids, pos);
            let got = ours.forward(ids, pos).expect("our forward");
            assert_eq!(got.len(), VOCAB);
            let c = cosine(&want, &got);
            assert!(c > 0.999, "{arch} at {pos}: cosine {c}");
        }
    }
}

#[test]
fn an_adapter_update_is_merged_exactly() {
    let bytes = tiny_gguf("llama");
    let mut reader = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader).expect("read gguf");
    let ids = [4u32, 9, 30];
    let base = CpuModel::load(&content, &mut reader, "llama", &HashMap::new())
        .expect("load")
        .forward(&ids, 0)
        .expect("forward");
    let delta = Tensor::from_vec(seeded(DIM * DIM, 7), (DIM, DIM), &Device::Cpu).expect("delta");
    let deltas = HashMap::from([(
        "blk.0.attn_q.weight".to_string(),
        (delta * 0.05).expect("scale"),
    )]);
    let mut adapted =
        CpuModel::load(&content, &mut reader, "llama", &deltas).expect("load adapted");
    assert_eq!(
        adapted.layers[0].qkv.kind,
        super::matrix::Kind::F32,
        "the update stays in f32"
    );
    let moved = adapted.forward(&ids, 0).expect("forward");
    let change = base
        .iter()
        .zip(&moved)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(change > 1e-2, "the update changes the output ({change})");
}

#[test]
fn a_token_outside_the_vocabulary_is_an_error_not_a_panic() {
    let mut reader = Cursor::new(tiny_gguf("llama"));
    let content = gguf_file::Content::read(&mut reader).expect("read gguf");
    let mut m = CpuModel::load(&content, &mut reader, "llama", &HashMap::new()).expect("load");
    let err = m.forward(&[VOCAB as u32], 0).expect_err("out of range");
    assert!(err.contains("outside the vocabulary"), "{err}");
}

#[test]
fn a_missing_tensor_is_named() {
    let mut reader = Cursor::new(tiny_gguf("llama"));
    let mut content = gguf_file::Content::read(&mut reader).expect("read gguf");
    content.tensor_infos.remove("blk.1.ffn_up.weight");
    let err = CpuModel::load(&content, &mut reader, "llama", &HashMap::new())
        .err()
        .expect("missing");
    assert!(err.to_string().contains("blk.1.ffn_up.weight"), "{err}");
}

#[test]
fn heads_that_do_not_divide_the_width_are_named() {
    let mut reader = Cursor::new(tiny_gguf("llama"));
    let mut content = gguf_file::Content::read(&mut reader).expect("read gguf");
    content
        .metadata
        .insert("llama.attention.head_count".into(), Value::U32(5));
    let err = CpuModel::load(&content, &mut reader, "llama", &HashMap::new())
        .err()
        .expect("bad sizes");
    assert!(err.to_string().contains("5 heads"), "{err}");
}

/// A prompt's start restored from a snapshot gives the logits of running the whole prompt, even
/// after the cache held another sequence in between.
#[test]
fn a_restored_prefix_gives_the_same_logits_as_running_it() {
    let mut reader = Cursor::new(tiny_gguf("llama"));
    let content = gguf_file::Content::read(&mut reader).expect("read gguf");
    let mut m = CpuModel::load(&content, &mut reader, "llama", &HashMap::new()).expect("load");
    let prompt = [3u32, 17, 42, 5, 79, 0, 11, 8, 61];
    let whole = m.forward(&prompt, 0).expect("whole prompt");
    m.forward(&prompt[..5], 0).expect("prefix");
    let snapshot = m.snapshot(5).expect("room for 5");
    assert_eq!(snapshot.len(), 5);
    assert_eq!(
        snapshot.bytes(),
        2 * LAYERS * KV_HEADS * (DIM / HEADS) * 5 * 4
    );
    // Another sequence overwrites the cache, and grows it.
    m.forward(&[1; 100], 0).expect("other sequence");
    m.restore(&snapshot);
    let resumed = m.forward(&prompt[5..], 5).expect("rest of the prompt");
    let c = cosine(&whole, &resumed);
    assert!(c > 0.999_999, "cosine {c}");
    assert!(m.snapshot(1_000_000).is_none());
}
