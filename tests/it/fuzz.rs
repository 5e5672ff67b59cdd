//! A bounded fuzzing suite on stable Rust: every parser that reads a user's file is fed generated
//! and mutated inputs, seeded from real ones (the shipped charts, Loghub lines, a GGUF and a
//! safetensors file written here, adapter and config files). No input may panic, take longer
//! than `CASE_LIMIT`, or hold more than `MEMORY_LIMIT` at once (counted per thread by the test's
//! allocator). Inputs that once failed live in `tests/fuzz_corpus/<target>/` and are
//! replayed first, every run.
//!
//! `LOGREASONER_FUZZ_CASES` (default 2,000 per target, about 5 s in all) and `LOGREASONER_FUZZ_SEED` (default fixed,
//! so a CI failure reproduces) widen a local run; a failing input is written to
//! `target/fuzz-failures/` for the corpus.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest one input may take (debug build, a shared two-core machine).
const CASE_LIMIT: Duration = Duration::from_secs(5);

/// The most memory one input may hold at once beyond what was held before it. Inputs are at most
/// a few kilobytes: a parser that allocates more trusted a length field it read.
const MEMORY_LIMIT: usize = 64 << 20;

/// The system allocator, counting each thread's live bytes and their peak, so a case is charged
/// for what its own thread allocated while tests run side by side.
struct Counting;

thread_local! {
    static LIVE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    static PEAK: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn charge(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            charge(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        charge(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            charge(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns the most bytes this thread held at once during it, beyond what it held
/// before.
fn peak_memory(f: impl FnOnce()) -> usize {
    let before = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(before));
    f();
    (PEAK.with(|p| p.get()) - before).max(0) as usize
}

/// xorshift64*: seeded, so a failure's case number reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte strings that parsers treat specially, spliced into inputs.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b":",
    b": ",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"'",
    b"\"",
    b"\\",
    b"#",
    b"&a",
    b"*a",
    b"!!binary",
    b"\t",
    b"nodes:",
    b"kind: decision",
    b"next: ",
    b"branches: { yes: a, no: a }",
    b"check: { any: '(' }",
    b"within: 99999999999h",
    b"99999999999999999999",
    b"-1",
    b"NaN",
    b"1e308",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x1b[2J",
    b"\0",
    b"{\"task\":",
    b"\"input\": [",
    b"null",
    b"true",
    b"\"r\": 0",
    b"\"lora_alpha\": -1e30",
];

/// One to four random edits of `seed`.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(9) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = [0, 0xff, 0x7f, 0x80, b'\n', b' '][rng.below(6)];
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(256)).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, copy);
            }
            5 => out.truncate(at),
            // Binary formats: a length or count field turned huge, zero or small.
            6 if out.len() >= 8 => {
                let i = rng.below(out.len() - 7);
                let v: u64 = [u64::MAX, u64::MAX / 2, 1 << 40, 0, 7][rng.below(5)];
                out[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
            7 if out.len() >= 4 => {
                let i = rng.below(out.len() - 3);
                out[i..i + 4].copy_from_slice(&(rng.next() as u32).to_le_bytes());
            }
            _ => {
                let n = rng.below(32);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, junk);
            }
        }
    }
    out
}

/// Runs `target` on the corpus, then on `cases` inputs (a fifth generated from scratch, the rest
/// mutated seeds). Returns how many inputs ran; panics naming every input that panicked or hung.
fn fuzz(name: &str, seeds: &[Vec<u8>], target: &dyn Fn(&[u8])) -> usize {
    let cases: usize = std::env::var("LOGREASONER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("LOGREASONER_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_1065);
    let mut rng = Rng(seed ^ name.bytes().fold(0u64, |h, b| h.rotate_left(5) ^ b as u64) | 1);
    let corpus_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(name);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&corpus_dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    Some((
                        format!("corpus {}", e.path().display()),
                        std::fs::read(e.path()).ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    inputs.sort();
    for case in 0..cases {
        let input = if case % 5 == 4 || seeds.is_empty() {
            let n = rng.below(512);
            (0..n).map(|_| rng.next() as u8).collect()
        } else {
            let base = &seeds[rng.below(seeds.len())];
            // Mutations compound now and then: a mutated input mutated again.
            let once = mutate(base, &mut rng);
            if rng.below(3) == 0 {
                mutate(&once, &mut rng)
            } else {
                once
            }
        };
        inputs.push((format!("case {case} (seed {seed})"), input));
    }
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for (label, input) in &inputs {
        let started = Instant::now();
        let mut outcome = Ok(());
        let memory = peak_memory(|| outcome = catch_unwind(AssertUnwindSafe(|| target(input))));
        let took = started.elapsed();
        let problem = match outcome {
            Err(panic) => Some(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
            Ok(()) if took > CASE_LIMIT => Some(format!("took {took:?}")),
            Ok(()) if memory > MEMORY_LIMIT => Some(format!("held {} MiB at once", memory >> 20)),
            Ok(()) => None,
        };
        if let Some(problem) = problem {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{name}-{}", failures.len()));
            let _ = std::fs::write(&file, input);
            failures.push(format!(
                "{label}: {problem} (input saved to {})",
                file.display()
            ));
        }
    }
    std::panic::set_hook(previous_hook);
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    eprintln!(
        "fuzz {name}: {} inputs, no panic, none over {CASE_LIMIT:?} or {} MiB",
        inputs.len(),
        MEMORY_LIMIT >> 20
    );
    inputs.len()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The first `n` lines of every Loghub-2k system's log.
fn loghub_seeds(n: usize) -> Vec<Vec<u8>> {
    let root = repo("assets/datasets/loghub-2k");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(&root)
        .expect("bundled Loghub-2k")
        .flatten()
    {
        let system = entry.file_name().to_string_lossy().into_owned();
        if let Ok(text) = std::fs::read_to_string(entry.path().join(format!("{system}_2k.log"))) {
            let head: Vec<&str> = text.lines().take(n).collect();
            seeds.push((head.join("\n") + "\n").into_bytes());
        }
    }
    assert!(seeds.len() >= 10, "Loghub systems found: {}", seeds.len());
    seeds
}

#[test]
fn flowchart_loading_validation_and_walks_survive_any_text() {
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(repo("flowcharts"))
        .expect("flowcharts")
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "yaml") {
            seeds.push(std::fs::read(entry.path()).expect("chart"));
        }
    }
    assert!(seeds.len() >= 10);
    let window: Vec<String> = loghub_seeds(20)
        .iter()
        .flat_map(|s| {
            String::from_utf8_lossy(s)
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    fuzz("flowchart", &seeds, &|bytes| {
        let text = String::from_utf8_lossy(bytes);
        let file = Path::new("flowcharts/fuzzed.yaml");
        if let Ok(chart) = logreasoner_core::flowchart::parse(&text, file) {
            let _ = logreasoner_core::flowchart::export::tree(&chart);
            let _ = logreasoner_core::flowchart::thought::derive(&chart);
            let _ = logreasoner_core::flowchart::walk::walk(
                &chart,
                logreasoner_core::flowchart::walk::Window::new(&window, 1),
            );
        }
    });
}

#[test]
fn log_splitting_and_header_detection_survive_any_bytes() {
    use logreasoner_core::logs::{format, index::LogFile};
    fuzz("log", &loghub_seeds(40), &|bytes| {
        let log = LogFile::from_bytes("-", bytes.to_vec());
        let lines: Vec<String> = (0..log.len().min(200))
            .map(|i| log.line(i).into_owned())
            .collect();
        for i in 0..log.len().min(200) {
            let _ = log.display_line(i, 80);
        }
        let detected = format::detect(&lines);
        for line in &lines {
            let _ = format::parse_line(detected, line);
        }
        for f in format::formats().iter().take(4) {
            for line in lines.iter().take(20) {
                let _ = format::parse_line(Some(f), line);
            }
        }
    });
}

/// A small GGUF with the metadata kinds a real header has: strings, numbers, an array of strings,
/// and two tensors.
fn gguf_seed() -> Vec<u8> {
    use candle_core::quantized::gguf_file::Value;
    use candle_core::quantized::{GgmlDType, QTensor};
    let cpu = candle_core::Device::Cpu;
    let t = candle_core::Tensor::ones((4, 32), candle_core::DType::F32, &cpu).expect("tensor");
    let q = QTensor::quantize(&t, GgmlDType::F32).expect("quantize");
    let q8 = QTensor::quantize(
        &candle_core::Tensor::ones((2, 32), candle_core::DType::F32, &cpu).expect("tensor"),
        GgmlDType::Q8_0,
    )
    .expect("quantize");
    let meta = [
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("fuzz".into())),
        ("llama.context_length", Value::U32(2048)),
        ("llama.block_count", Value::U32(1)),
        (
            "tokenizer.ggml.tokens",
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
        ),
    ];
    let meta: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let mut buf = std::io::Cursor::new(Vec::new());
    candle_core::quantized::gguf_file::write(
        &mut buf,
        &meta,
        &[("token_embd.weight", &q), ("blk.0.attn_q.weight", &q8)],
    )
    .expect("write gguf");
    buf.into_inner()
}

#[test]
fn gguf_headers_are_read_or_refused_never_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("model.gguf");
    fuzz("gguf", &[gguf_seed()], &|bytes| {
        std::fs::write(&file, bytes).expect("write");
        let _ = logreasoner_core::llm::model::info(&file);
    });
}

/// A sound adapter folder's two files.
fn adapter_seed() -> (Vec<u8>, Vec<u8>) {
    let cpu = candle_core::Device::Cpu;
    let name = "base_model.model.model.layers.0.self_attn.q_proj";
    let tensors = std::collections::HashMap::from([
        (
            format!("{name}.lora_A.weight"),
            candle_core::Tensor::ones((2, 8), candle_core::DType::F32, &cpu).expect("a"),
        ),
        (
            format!("{name}.lora_B.weight"),
            candle_core::Tensor::zeros((8, 2), candle_core::DType::F32, &cpu).expect("b"),
        ),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.safetensors");
    candle_core::safetensors::save(&tensors, &path).expect("save");
    let config = br#"{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"}"#;
    (config.to_vec(), std::fs::read(&path).expect("read"))
}

#[test]
fn adapter_configs_and_safetensors_are_read_or_refused_never_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, weights) = adapter_seed();
    let cpu = candle_core::Device::Cpu;
    std::fs::write(dir.path().join("adapter_model.safetensors"), &weights).expect("write");
    fuzz("adapter_config", std::slice::from_ref(&config), &|bytes| {
        std::fs::write(dir.path().join("adapter_config.json"), bytes).expect("write");
        let _ = logreasoner_core::llm::adapter::read_config(dir.path());
        let _ = logreasoner_core::llm::adapter::deltas(dir.path(), &cpu);
    });
    std::fs::write(dir.path().join("adapter_config.json"), &config).expect("write");
    fuzz("safetensors", &[weights], &|bytes| {
        std::fs::write(dir.path().join("adapter_model.safetensors"), bytes).expect("write");
        let _ = logreasoner_core::llm::adapter::deltas(dir.path(), &cpu);
    });
}

#[test]
fn jsonl_rows_are_imported_or_reported_never_crash() {
    let loglm =
        std::fs::read_to_string(repo("assets/datasets/loglm/dev.jsonl")).expect("LogLM dev");
    let rows: Vec<&str> = loglm.lines().collect();
    let seeds: Vec<Vec<u8>> = rows
        .chunks(rows.len().div_ceil(12).max(1))
        .map(|c| {
            c.iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        })
        .collect();
    fuzz("jsonl", &seeds, &|bytes| {
        let _ = logreasoner_core::eval::data::parse(&String::from_utf8_lossy(bytes));
    });
}

#[test]
fn config_files_are_read_or_refused_never_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.yaml");
    let seed = b"data_dir: /srv/lr\ndb: /srv/lr/db\nflowcharts: ./flowcharts\nlogs: /var/log/syslog\nmodel: /models/m.gguf\nadapter: none\ndevice: cuda:0\nannotator: ana\nformat: HDFS\ngeneration:\n  temperature: 0.2\n  top_k: 40\n  top_p: 0.9\n  repeat_penalty: 1.1\n  max_tokens: 256\n  seed: 7\ndiagnosis:\n  max_lines: 30\n  watch: true\n".to_vec();
    let home = dir.path().to_string_lossy().into_owned();
    fuzz("config", &[seed], &|bytes| {
        std::fs::write(&file, bytes).expect("write");
        let flags = logreasoner_core::config::Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let _ = logreasoner_core::config::Config::resolve(&flags, &|k| match k {
            "HOME" => Some(home.clone()),
            _ => None,
        });
    });
}
