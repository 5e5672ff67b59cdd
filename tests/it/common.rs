//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use logreasoner_core::config::{Config, Overrides};
use logreasoner_core::store::Store;
use logreasoner_tui::{screens::Ctx, App};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_logreasoner"))
}

/// The binary with a private HOME, data folder and no inherited LOGREASONER_* settings.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("LOGREASONER_") || key.starts_with("XDG_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", home).env("USER", "tester");
    cmd
}

/// Configuration rooted in `dir`, independent of the process environment.
pub fn config(dir: &Path, logs: &Path) -> Config {
    let charts = dir.join("flowcharts");
    std::fs::create_dir_all(&charts).expect("flowcharts folder");
    config_with(dir, logs, &charts)
}

/// Like [`config`], with a flowcharts folder of the test's choosing.
pub fn config_with(dir: &Path, logs: &Path, flowcharts: &Path) -> Config {
    let home = dir.to_string_lossy().into_owned();
    let env = move |k: &str| match k {
        "HOME" => Some(home.clone()),
        "USER" => Some("tester".to_string()),
        _ => None,
    };
    let overrides = Overrides {
        logs: Some(logs.to_path_buf()),
        flowcharts: Some(flowcharts.to_path_buf()),
        ..Default::default()
    };
    Config::resolve(&overrides, &env).expect("config")
}

/// An app on a fresh database in `dir`, with its background loading finished.
pub fn app(dir: &Path, logs: &Path) -> App {
    app_with(config(dir, logs))
}

pub fn app_with(config: Config) -> App {
    let store = Store::open(&config.db.value).expect("store");
    let mut app = App::new(Ctx::new(config, store));
    app.start();
    app.wait_for_jobs();
    app
}

/// The default model (SmolLM2-135M-Instruct Q4_1), fetched once with pip into target/test-model, as
/// `logreasoner model fetch` does.
pub fn default_model() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-model");
        logreasoner_core::llm::fetch::fetch(&dir, "python3")
            .unwrap_or_else(|e| panic!("the default model is needed for these tests: {e}"))
    })
    .clone()
}

/// Validates `json` against a JSON Schema file with Python's `jsonschema` (scripts/test.sh installs
/// it), so the check is an independent implementation of the standard.
pub fn assert_valid_json(json: &str, schema: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = dir.path().join("doc.json");
    std::fs::write(&doc, json).expect("write json");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[2])))\n\
             jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])),\n\
             cls=jsonschema.Draft202012Validator)",
        ])
        .arg(&doc)
        .arg(schema)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "JSON does not validate against {}:\n{}\n{json}",
        schema.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A path inside the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Re-replication after a lost DataNode whose transfers all fail: the chart must end in
/// `transfers-broken` (network_failure).
pub const HDFS_WINDOW: &[&str] = &[
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
    "081109 203620 35 INFO dfs.FSNamesystem: BLOCK* ask 10.250.14.224:50010 to replicate blk_-1608999687919862906 to datanode(s) 10.251.215.16:50010",
    "081109 203625 29 INFO dfs.FSNamesystem: BLOCK* NameSystem.heartbeatCheck: lost heartbeat from 10.251.73.220:50010",
    "081109 203700 19 WARN dfs.PendingReplicationBlocks$PendingReplicationMonitor: PendingReplicationMonitor timed out block blk_-1608999687919862906",
    "081109 203710 1920 WARN dfs.DataNode: 10.250.14.224:50010:Failed to transfer blk_-1608999687919862906 to 10.251.215.16:50010 got java.net.SocketTimeoutException: 480000 millis timeout",
];

/// A tiny Llama in Hugging Face layout, made by the test: random weights, the default model's
/// tokenizer saved as tokenizer.json, ChatML in tokenizer_config.json.
pub fn tiny_hf_llama(dir: &std::path::Path, vocab_in_config: usize) {
    tiny_hf_llama_with(dir, vocab_in_config, serde_json::json!({}));
}

/// [`tiny_hf_llama`] with `extra` keys added to its config.json.
pub fn tiny_hf_llama_with(dir: &std::path::Path, vocab_in_config: usize, extra: serde_json::Value) {
    use candle_core::quantized::gguf_file;
    use candle_core::Tensor;
    use std::collections::HashMap;
    let mut f = std::fs::File::open(default_model()).expect("model");
    let content = gguf_file::Content::read(&mut f).expect("gguf");
    let tok = logreasoner_core::llm::tokenizer::from_gguf(&content.metadata).expect("tokenizer");
    tok.save(dir.join("tokenizer.json"), false)
        .expect("save tokenizer");
    let (vocab, hidden, inter, layers) = (tok.get_vocab_size(true), 32usize, 64usize, 2usize);
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab_in_config,
        "hidden_size": hidden, "intermediate_size": inter, "num_attention_heads": 4, "num_key_value_heads": 2,
        "num_hidden_layers": layers, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 512,
        "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": false
    });
    let mut config = config;
    if let (Some(c), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    std::fs::write(dir.join("config.json"), config.to_string()).expect("config");
    let tok_config = serde_json::json!({ "chat_template": logreasoner_core::llm::chat::CHATML, "bos_token": "<|im_start|>", "eos_token": "<|im_end|>" });
    std::fs::write(dir.join("tokenizer_config.json"), tok_config.to_string())
        .expect("tokenizer config");
    let dev = candle_core::Device::Cpu;
    // Seeded, so every run of a test trains the same model.
    let rng = std::cell::RefCell::new(logreasoner_core::train::model::Rng::new(11));
    let t = |shape: &[usize]| {
        rng.borrow_mut()
            .normal((shape[0], shape[1]), 0.02, &dev)
            .expect("normal")
    };
    let ones = |n: usize| Tensor::ones(n, candle_core::DType::F32, &dev).expect("ones");
    let mut w: HashMap<String, Tensor> = HashMap::new();
    w.insert("model.embed_tokens.weight".into(), t(&[vocab, hidden]));
    w.insert("lm_head.weight".into(), t(&[vocab, hidden]));
    w.insert("model.norm.weight".into(), ones(hidden));
    let head_dim = hidden / 4;
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        w.insert(format!("{p}.self_attn.q_proj.weight"), t(&[hidden, hidden]));
        w.insert(
            format!("{p}.self_attn.k_proj.weight"),
            t(&[2 * head_dim, hidden]),
        );
        w.insert(
            format!("{p}.self_attn.v_proj.weight"),
            t(&[2 * head_dim, hidden]),
        );
        w.insert(format!("{p}.self_attn.o_proj.weight"), t(&[hidden, hidden]));
        w.insert(format!("{p}.mlp.gate_proj.weight"), t(&[inter, hidden]));
        w.insert(format!("{p}.mlp.up_proj.weight"), t(&[inter, hidden]));
        w.insert(format!("{p}.mlp.down_proj.weight"), t(&[hidden, inter]));
        w.insert(format!("{p}.input_layernorm.weight"), ones(hidden));
        w.insert(format!("{p}.post_attention_layernorm.weight"), ones(hidden));
    }
    candle_core::safetensors::save(&w, dir.join("model.safetensors")).expect("save weights");
}

/// The app drawn on a `width`×`height` test terminal, as text.
pub fn draw_app(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .expect("terminal");
    terminal.draw(|f| app.render(f)).expect("draw");
    terminal.backend().to_string()
}

/// Each character of `keys` pressed in turn.
pub fn type_keys(app: &mut App, keys: &str) {
    for c in keys.chars() {
        app.handle_key(logreasoner_tui::keys::press_char(c));
    }
}
