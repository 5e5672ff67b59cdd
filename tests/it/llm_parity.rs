//! Token-id parity with llama.cpp's tokenizer on the default model. Opt-in, because llama.cpp has to
//! be built from source by pip (`pip install llama-cpp-python`, about 20 minutes on two cores):
//! `cargo test --test llm_parity -- --ignored`.

use std::path::PathBuf;
use std::process::Command;

use candle_core::Device;
use logreasoner_core::llm::fetch;
use logreasoner_core::llm::model::Model;

const TEXTS: &[&str] = &[
    "hello world",
    "<|im_start|>user\nWhy did the DataNode fail?<|im_end|>\n<|im_start|>assistant\n",
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_-3886504906 terminating",
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 rhost=218.188.2.4 ",
    "Ünïcödé — 日本語 ✓ emoji 🚀",
    "  leading spaces,\ttabs\n\nand blank lines",
    "12345.678e-9 0x7fff79824000 [32776/0x7fff79824000]",
    "it's we'll they've I'M",
    "<|endoftext|>",
];

#[test]
#[ignore = "needs llama-cpp-python: pip install llama-cpp-python"]
fn token_ids_match_llama_cpp() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-model");
    let model_path = fetch::fetch(&dir, "python3").expect("default model");
    let input = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(input.path(), serde_json::to_string(TEXTS).expect("json")).expect("write");
    let out = Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/llama_cpp_speed.py"))
        .arg("--tokenize")
        .arg(&model_path)
        .arg(input.path())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "llama.cpp tokenizer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<Vec<u32>> = serde_json::from_slice(&out.stdout).expect("ids");
    let model = Model::load(&model_path, &Device::Cpu).expect("load");
    for (text, want) in TEXTS.iter().zip(theirs) {
        assert_eq!(model.encode(text).expect("encode"), want, "{text:?}");
    }
}
