//! Training runs end to end through the binary on a tiny Llama the test makes (the default model's
//! tokenizer, random weights): a SIGKILLed run resumes onto the same curve; thought → stepwise → DPO
//! chain through their adapters; the adapter changes what the runtime computes, exactly as the
//! trainer computes it; a diverging run stops and keeps its last good adapter; bad input is named.
//! One test checks the runtime's adapter merge on the default GGUF model against the trainer.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use logreasoner_core::llm::model::Model;
use logreasoner_core::store::RunState;
use logreasoner_core::train::base::Base;
use logreasoner_core::train::model::{Decoder, LoraConfig};
use logreasoner_core::train::run::{MetricLine, RunDir};

struct Fixture {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    model: PathBuf,
    sft: PathBuf,
    dpo: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().to_path_buf();
    let model = home.join("tiny");
    std::fs::create_dir_all(&model).expect("model dir");
    common::tiny_hf_llama(&model, 49152);
    let sft = home.join("sft.jsonl");
    let rows: Vec<String> = (0..16)
        .map(|i| {
            serde_json::json!({ "messages": [
                { "role": "system", "content": "You read logs." },
                { "role": "user", "content": format!("Block blk_{i} was lost on node {}. Anomalous?", i % 4) },
                { "role": "assistant", "content": format!("Step 1: the block blk_{i} is missing.\nAnswer: anomaly") },
            ]})
            .to_string()
        })
        .collect();
    std::fs::write(&sft, rows.join("\n") + "\n").expect("sft data");
    let dpo = home.join("dpo.jsonl");
    let rows: Vec<String> = (0..8)
        .map(|i| {
            serde_json::json!({
                "prompt": [{ "role": "user", "content": format!("Disk {i} full. Anomalous?") }],
                "chosen": [{ "role": "assistant", "content": "The disk is full.\nAnswer: anomaly" }],
                "rejected": [{ "role": "assistant", "content": "Nothing happened.\nAnswer: normal" }],
            })
            .to_string()
        })
        .collect();
    std::fs::write(&dpo, rows.join("\n") + "\n").expect("dpo data");
    Fixture {
        _tmp: tmp,
        home,
        model,
        sft,
        dpo,
    }
}

fn train(f: &Fixture, args: &[&str]) -> Command {
    let mut cmd = common::command(&f.home);
    cmd.arg("--model")
        .arg(&f.model)
        .arg("train")
        .args([
            "--threads",
            "1",
            "--max-len",
            "64",
            "--batch",
            "2",
            "--seed",
            "3",
        ])
        .args(args);
    cmd
}

fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

fn losses(m: &[MetricLine]) -> Vec<(usize, f64)> {
    m.iter().filter_map(|l| Some((l.step, l.loss?))).collect()
}

#[test]
fn a_run_killed_with_sigkill_resumes_onto_the_same_curve() {
    let f = fixture();
    let steps = "300";
    let whole = f.home.join("whole");
    let common = [
        "--stage",
        "thought",
        "--steps",
        steps,
        "--checkpoint-every",
        "7",
        "--lr",
        "1e-3",
    ];
    let mut cmd = train(&f, &common);
    cmd.arg("--data").arg(&f.sft).arg("--run-dir").arg(&whole);
    run_ok(cmd);
    let expected = losses(&RunDir::open(&whole).metrics());
    assert_eq!(expected.len(), 300);
    assert!(
        expected[299].1 < expected[0].1,
        "the loss falls: {expected:?}"
    );

    let killed = f.home.join("killed");
    let mut cmd = train(&f, &common);
    cmd.arg("--data").arg(&f.sft).arg("--run-dir").arg(&killed);
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let dir = RunDir::open(&killed);
    let deadline = Instant::now() + Duration::from_secs(120);
    while dir.metrics().len() < 30 {
        assert!(Instant::now() < deadline, "the run never reached step 30");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let status = dir.status().expect("status");
    assert_eq!(
        status.state,
        RunState::Running,
        "killed mid-run: {status:?}"
    );
    let written = dir.metrics().len();
    assert!(written < 300, "killed before the end ({written} lines)");

    let mut cmd = common::command(&f.home);
    cmd.arg("--model")
        .arg(&f.model)
        .args(["train", "--threads", "1", "--resume"])
        .arg(&killed);
    let out = run_ok(cmd);
    assert!(out.contains("succeeded"), "{out}");
    let resumed = losses(&dir.metrics());
    let steps_seen: Vec<usize> = resumed.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        steps_seen,
        (1..=300).collect::<Vec<_>>(),
        "no step lost or doubled"
    );
    assert_eq!(
        resumed, expected,
        "the resumed curve is the uninterrupted one"
    );
    let log = std::fs::read_to_string(dir.log_path()).expect("log");
    assert!(log.contains("resumed from the checkpoint of step"), "{log}");
}

/// Resuming a run that already finished keeps its one final evaluation line, and its status.
#[test]
fn resuming_a_finished_run_evaluates_it_once() {
    let f = fixture();
    let dir = f.home.join("finished");
    let mut cmd = train(
        &f,
        &[
            "--stage",
            "thought",
            "--steps",
            "4",
            "--checkpoint-every",
            "2",
        ],
    );
    cmd.arg("--data")
        .arg(&f.sft)
        .arg("--eval-data")
        .arg(&f.sft)
        .arg("--run-dir")
        .arg(&dir);
    run_ok(cmd);
    let evals = |run: &RunDir| -> Vec<usize> {
        run.metrics()
            .iter()
            .filter(|m| m.eval_loss.is_some())
            .map(|m| m.step)
            .collect()
    };
    let run = RunDir::open(&dir);
    assert_eq!(evals(&run), vec![4]);
    let mut cmd = common::command(&f.home);
    cmd.arg("--model")
        .arg(&f.model)
        .args(["train", "--threads", "1", "--resume"])
        .arg(&dir);
    let out = run_ok(cmd);
    assert!(out.contains("succeeded"), "{out}");
    assert_eq!(evals(&run), vec![4], "one final evaluation, not two");
    let status = run.status().expect("status");
    assert!(status.final_metrics.contains_key("eval_loss"), "{status:?}");
}

/// Logits of the last position, computed by the trainer's decoder with the adapter in `adapter`
/// loaded (or none).
fn trainer_logits(model: &Path, adapter: Option<&Path>, prompt: &str) -> Vec<f32> {
    let dev = Device::Cpu;
    let base = Base::load(model, &dev).expect("base");
    let lora = match adapter {
        Some(a) => {
            let c = logreasoner_core::llm::adapter::read_config(a).expect("adapter config");
            LoraConfig {
                rank: c.rank,
                alpha: c.alpha,
                dropout: 0.0,
                targets: c.targets,
                seed: 0,
            }
        }
        None => LoraConfig::default(),
    };
    let mut named = Vec::new();
    let dec =
        Decoder::new(base.config.clone(), &base.weights, &lora, &mut named, &dev).expect("decoder");
    if let Some(a) = adapter {
        logreasoner_core::train::peft::load(a, &named).expect("load adapter");
    }
    let runtime = Model::load(model, &dev).expect("tokenizer");
    let ids = runtime.encode(prompt).expect("encode");
    let ids = Tensor::new(ids.as_slice(), &dev)
        .and_then(|t| t.unsqueeze(0))
        .expect("ids");
    let logits = dec
        .forward(&ids, adapter.is_some(), false)
        .expect("forward");
    let t = logits.dim(1).expect("dim");
    logits
        .narrow(1, t - 1, 1)
        .and_then(|l| l.flatten_all())
        .and_then(|l| l.to_vec1())
        .expect("logits")
}

/// A Llama 3 folder scales its rotary frequencies (`rope_scaling`, type llama3): the trainer's
/// decoder gives the runtime's logits for it (1e-7 apart here; ignoring the scaling, 6e-4), and
/// those differ from the unscaled model's.
#[test]
fn the_trainer_scales_rotary_frequencies_as_the_runtime_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (scaled, plain) = (dir.path().join("scaled"), dir.path().join("plain"));
    let rope_scaling = serde_json::json!({ "rope_scaling": {
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64 } });
    for (path, extra) in [(&scaled, rope_scaling), (&plain, serde_json::json!({}))] {
        std::fs::create_dir_all(path).expect("mkdir");
        common::tiny_hf_llama_with(path, 49152, extra);
    }
    let prompt = "the disk on node 7 filled up at 03:12 and the writer stalled for a while";
    let runtime = |model: &Path| {
        Model::load(model, &Device::Cpu)
            .expect("runtime")
            .next_logits(prompt)
            .expect("logits")
    };
    let ours = trainer_logits(&scaled, None, prompt);
    let theirs = runtime(&scaled);
    assert!(
        max_diff(&ours, &theirs) < 1e-5,
        "trainer and runtime differ by {}",
        max_diff(&ours, &theirs)
    );
    assert!(
        max_diff(&theirs, &runtime(&plain)) > 1e-4,
        "the scaling changed nothing; the test would not see it ignored"
    );
    // A scaling the trainer does not know is refused, not ignored.
    let yarn = dir.path().join("yarn");
    std::fs::create_dir_all(&yarn).expect("mkdir");
    common::tiny_hf_llama_with(
        &yarn,
        49152,
        serde_json::json!({ "rope_scaling": { "rope_type": "yarn", "factor": 4.0 } }),
    );
    let err = Base::load(&yarn, &Device::Cpu).err().expect("refused");
    assert!(err.to_string().contains("yarn"), "{err}");
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_three_stages_chain_and_their_adapter_changes_the_runtime() {
    let f = fixture();
    let out = run_ok({
        let mut c = train(&f, &["--stage", "thought", "--steps", "12", "--lr", "5e-3"]);
        c.arg("--data").arg(&f.sft);
        c
    });
    assert!(out.contains("succeeded"), "{out}");
    let out = run_ok({
        let mut c = train(
            &f,
            &["--stage", "stepwise", "--steps", "12", "--lr", "5e-3"],
        );
        c.arg("--data").arg(&f.sft);
        c
    });
    assert!(out.contains("starting from the thought adapter"), "{out}");
    let out = run_ok({
        let mut c = train(
            &f,
            &[
                "--stage",
                "dpo",
                "--steps",
                "12",
                "--lr",
                "5e-3",
                "--rank",
                "4",
                "--alpha",
                "8",
                "--eval-every",
                "6",
            ],
        );
        c.arg("--data").arg(&f.dpo).arg("--eval-data").arg(&f.dpo);
        c
    });
    assert!(out.contains("starting from the stepwise adapter"), "{out}");

    let runs = logreasoner_core::train::run::list(&f.home.join(".local/share/logreasoner/runs"));
    assert_eq!(runs.len(), 3, "{runs:?}");
    let (thought, stepwise, dpo) = (&runs[0], &runs[1], &runs[2]);
    assert_eq!(
        stepwise.config().expect("config").from_adapter,
        Some(thought.adapter_dir())
    );
    assert_eq!(
        dpo.config().expect("config").from_adapter,
        Some(stepwise.adapter_dir())
    );

    // DPO logs its rewards, margin and accuracy every step, and evaluates.
    let metrics = dpo.metrics();
    let train_lines: Vec<&MetricLine> = metrics.iter().filter(|m| m.loss.is_some()).collect();
    assert_eq!(train_lines.len(), 12);
    assert!(train_lines
        .iter()
        .all(|m| m.margin.is_some() && m.accuracy.is_some() && m.chosen_reward.is_some()));
    assert!(metrics.iter().any(|m| m.eval_accuracy.is_some()));
    let first = train_lines[0].margin.expect("margin");
    let last = train_lines[11].margin.expect("margin");
    assert!(last > first, "the margin rises: {first} → {last}");
    let status = dpo.status().expect("status");
    assert_eq!(status.state, RunState::Succeeded);
    assert!(
        status.final_metrics.contains_key("eval_accuracy"),
        "{status:?}"
    );

    // The published DPO adapter stacks the stepwise update and DPO's own (rank 8 + 4, scale 1).
    let stacked = logreasoner_core::llm::adapter::read_config(&dpo.adapter_dir()).expect("config");
    assert_eq!((stacked.rank, stacked.alpha), (12, 12.0));
    let total =
        logreasoner_core::llm::adapter::deltas(&dpo.adapter_dir(), &Device::Cpu).expect("stacked");
    let sft = logreasoner_core::llm::adapter::deltas(&stepwise.adapter_dir(), &Device::Cpu)
        .expect("stepwise");
    let own = logreasoner_core::llm::adapter::deltas(&dpo.path.join("checkpoint"), &Device::Cpu)
        .expect("dpo");
    for (name, t) in &total {
        let sum = (&sft[name] + &own[name]).expect("sum");
        let d: f32 = (t - sum)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar())
            .expect("diff");
        assert!(d < 1e-5, "{name}: {d}");
    }

    // The runtime with the adapter computes what the trainer computes, and differs from the base.
    let prompt = "<|im_start|>user\nDisk 3 full. Anomalous?<|im_end|>\n<|im_start|>assistant\n";
    let mut plain = Model::load(&f.model, &Device::Cpu).expect("base");
    let mut adapted = Model::load_adapted(&f.model, Some(&stepwise.adapter_dir()), &Device::Cpu)
        .expect("adapted");
    assert_eq!(
        adapted.info.adapter.as_deref(),
        Some(stepwise.adapter_dir().as_path())
    );
    let base_logits = plain.next_logits(prompt).expect("logits");
    let adapted_logits = adapted.next_logits(prompt).expect("logits");
    let trained = trainer_logits(&f.model, Some(&stepwise.adapter_dir()), prompt);
    assert!(
        max_diff(&adapted_logits, &trained) < 1e-3,
        "{}",
        max_diff(&adapted_logits, &trained)
    );
    assert!(
        max_diff(&base_logits, &adapted_logits) > 1e-2,
        "the adapter changes the output"
    );
    assert!(Model::load_adapted(&f.model, Some(&dpo.adapter_dir()), &Device::Cpu).is_ok());

    let out = run_ok({
        let mut c = common::command(&f.home);
        c.args(["runs", "list"]);
        c
    });
    assert_eq!(out.matches("succeeded").count(), 3, "{out}");
    // A damaged status is shown as such, not as a new run.
    std::fs::write(stepwise.path.join("status.json"), b"{\"state\": ").expect("damage");
    let out = run_ok({
        let mut c = common::command(&f.home);
        c.args(["runs", "list"]);
        c
    });
    assert_eq!(out.matches("succeeded").count(), 2, "{out}");
    assert!(out.contains("damaged") && !out.contains(" new "), "{out}");
}

#[test]
fn a_diverging_run_stops_and_keeps_its_last_good_adapter() {
    let f = fixture();
    let dir = f.home.join("nan");
    let mut cmd = train(
        &f,
        &[
            "--stage",
            "thought",
            "--steps",
            "10",
            "--lr",
            "1e30",
            "--warmup",
            "0",
            "--clip",
            "0",
            "--checkpoint-every",
            "1",
        ],
    );
    cmd.arg("--data").arg(&f.sft).arg("--run-dir").arg(&dir);
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let run = RunDir::open(&dir);
    let status = run.status().expect("status");
    assert_eq!(status.state, RunState::Failed);
    assert!(status.message.contains("became"), "{}", status.message);
    let kept = status
        .checkpoint_step
        .expect("a checkpoint before the divergence");
    assert!(
        status.message.contains(&format!("adapter of step {kept}")),
        "{}",
        status.message
    );
    assert!(run.adapter_dir().join("adapter_model.safetensors").exists());
    assert_eq!(run.metrics().len(), kept, "no metric line for the bad step");
}

#[test]
fn bad_training_input_is_named() {
    let f = fixture();
    let bad = f.home.join("bad.jsonl");
    std::fs::write(&bad, "{\"messages\": []}\n").expect("write");
    for (data, expect) in [
        (f.home.join("missing.jsonl"), "missing.jsonl"),
        (bad.clone(), "bad.jsonl:1"),
    ] {
        let mut cmd = train(&f, &["--stage", "thought"]);
        cmd.arg("--data").arg(&data);
        let out = cmd.output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(expect), "{err}");
    }
    // A dropout outside [0, 1) is refused with the reason.
    let mut cmd = train(&f, &["--stage", "thought", "--dropout", "1"]);
    cmd.arg("--data").arg(&f.sft);
    let out = cmd.output().expect("run");
    assert!(!out.status.success());
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("dropout must be at least 0 and below 1"),
        "{said}"
    );
    // A run folder must be new or empty, so nothing of the user's is replaced.
    let busy = f.home.join("busy");
    std::fs::create_dir_all(busy.join("adapter")).expect("busy");
    let mut cmd = train(&f, &["--stage", "thought"]);
    cmd.arg("--data").arg(&f.sft).arg("--run-dir").arg(&busy);
    let out = cmd.output().expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    assert!(busy.join("adapter").exists());
    // A run that cannot fit in memory says so before it starts computing.
    let mut cmd = common::command(&f.home);
    cmd.arg("--model")
        .arg(&f.model)
        .args([
            "train",
            "--stage",
            "thought",
            "--batch",
            "100000",
            "--max-len",
            "8192",
            "--data",
        ])
        .arg(&f.sft);
    let out = cmd.output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("GiB of memory") && text.contains("lower --batch or --max-len"),
        "{text}"
    );
    let mut cmd = common::command(&f.home);
    cmd.arg("--model")
        .arg(f.home.join("nowhere.gguf"))
        .args(["train", "--stage", "thought", "--data"])
        .arg(&f.sft);
    let out = cmd.output().expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no base model"));
}

#[test]
fn a_detached_run_finishes_on_its_own() {
    let f = fixture();
    let dir = f.home.join("detached");
    let mut cmd = train(&f, &["--stage", "thought", "--steps", "6", "--detach"]);
    cmd.arg("--data").arg(&f.sft).arg("--run-dir").arg(&dir);
    let out = run_ok(cmd);
    assert!(out.contains("training in the background"), "{out}");
    let run = RunDir::open(&dir);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(s) = run.status() {
            if s.state != RunState::Running {
                assert_eq!(s.state, RunState::Succeeded, "{s:?}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "the detached run did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(run.adapter_dir().join("adapter_config.json").exists());
}

/// The runtime merges an adapter into the quantised default model the way the trainer applies it:
/// Llama's query and key rows are interleaved in GGUF, so a wrong permutation would show here.
#[test]
fn the_runtime_merges_an_adapter_into_the_default_gguf_like_the_trainer() {
    let model = common::default_model();
    let dev = Device::Cpu;
    let base = Base::load(&model, &dev).expect("base from GGUF");
    assert_eq!(base.architecture, "llama");
    let mut named = Vec::new();
    // Only the projections whose rows GGUF reorders, so the check is about that order. B is large
    // enough that its effect stands well above the quantised runtime's rounding of activations:
    // the cosine is 0.996 here, and 0.70 with the rows in the wrong order (with B half as large,
    // rounding noise alone brought the right order down to 0.94).
    let lora = LoraConfig {
        targets: vec!["q_proj".into(), "k_proj".into()],
        ..LoraConfig::default()
    };
    let _dec =
        Decoder::new(base.config.clone(), &base.weights, &lora, &mut named, &dev).expect("decoder");
    let mut rng = logreasoner_core::train::model::Rng::new(9);
    for (name, var) in &named {
        if name.contains("lora_B") {
            let (r, c) = var.as_tensor().dims2().expect("dims");
            var.set(&rng.normal((r, c), 0.4, &dev).expect("normal"))
                .expect("set");
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    logreasoner_core::train::peft::save(tmp.path(), &named, &lora, "SmolLM2").expect("save");
    drop(base);

    let prompt =
        "<|im_start|>user\nIs 'ERROR disk full' anomalous?<|im_end|>\n<|im_start|>assistant\n";
    let mut plain = Model::load(&model, &dev).expect("plain");
    let mut adapted = Model::load_adapted(&model, Some(tmp.path()), &dev).expect("adapted");
    let runtime_delta: Vec<f32> = {
        let a = adapted.next_logits(prompt).expect("logits");
        let b = plain.next_logits(prompt).expect("logits");
        a.iter().zip(&b).map(|(x, y)| x - y).collect()
    };
    let trainer_delta: Vec<f32> = {
        let a = trainer_logits(&model, Some(tmp.path()), prompt);
        let b = trainer_logits(&model, None, prompt);
        a.iter().zip(&b).map(|(x, y)| x - y).collect()
    };
    let dot: f64 = runtime_delta
        .iter()
        .zip(&trainer_delta)
        .map(|(a, b)| f64::from(a * b))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    let cosine = dot / (norm(&runtime_delta) * norm(&trainer_delta));
    assert!(norm(&runtime_delta) > 0.1, "the adapter changes the logits");
    assert!(
        cosine > 0.95,
        "runtime and trainer agree on the adapter's effect: cosine {cosine}"
    );

    // The same merge written out as a GGUF file loads and computes what the merge at load does.
    let merged = tmp.path().join("merged.gguf");
    logreasoner_core::llm::model::write_merged(&model, tmp.path(), &merged).expect("write merged");
    let mut from_file = Model::load(&merged, &dev).expect("merged model loads");
    let a = from_file.next_logits(prompt).expect("logits");
    let b = adapted.next_logits(prompt).expect("logits");
    assert!(max_diff(&a, &b) < 1e-3, "{}", max_diff(&a, &b));
    // Merging over the base model itself is refused and leaves it as it was.
    let copy = tmp.path().join("base.gguf");
    std::fs::copy(&model, &copy).expect("copy the base");
    let before = std::fs::read(&copy).expect("read");
    let err = logreasoner_core::llm::model::write_merged(&copy, tmp.path(), &copy)
        .expect_err("over the base")
        .to_string();
    assert!(err.contains("is the base model itself"), "{err}");
    assert!(
        std::fs::read(&copy).expect("read") == before,
        "the base is untouched"
    );
}

/// Training's own pass on AVX2 + FMA (as on a CPU without AVX-512) takes the same steps as on
/// the fastest kernels this CPU has: the same losses, step by step, from one `bench train` each.
#[test]
fn the_avx2_training_pass_takes_the_same_steps_as_the_fastest() {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if !(has!("avx2") && has!("fma") && has!("f16c")) {
            return;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    return;
    let home = tempfile::tempdir().expect("tempdir");
    let bench = |no_avx512: bool| {
        let mut cmd = common::command(home.path());
        cmd.args(["bench", "train", "--no-pytorch", "--threads", "2"])
            .args([
                "--batch", "1", "--seq", "48", "--steps", "2", "--warmup", "1",
            ])
            .arg("--model")
            .arg(common::default_model());
        if no_avx512 {
            cmd.env("LOGREASONER_NO_AVX512", "1");
        }
        let out = cmd.output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let row = stdout
            .lines()
            .find(|l| l.starts_with("ours"))
            .unwrap_or_else(|| panic!("no row: {stdout}"))
            .to_string();
        // The pass's name, then the two losses (the columns before the peak memory).
        let fields: Vec<&str> = row.split_whitespace().collect();
        let losses = fields[fields.len() - 4..fields.len() - 2].join(" ");
        (row, losses)
    };
    let (avx2, avx2_losses) = bench(true);
    assert!(avx2.contains("own pass, AVX2 + FMA"), "{avx2}");
    let (best, best_losses) = bench(false);
    assert!(best.contains("own pass"), "{best}");
    assert_eq!(avx2_losses, best_losses, "{avx2}\n{best}");
}
