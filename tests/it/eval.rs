//! `logreasoner eval` on LogLM's anomaly items (the flowchart walk on all of them, the default model
//! on a few), bad lines in the data, and the Eval screen.

use crate::common;

use std::path::PathBuf;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::Terminal;

use logreasoner_core::store::{EvalResult, EvalRun, Store, Task};
use logreasoner_tui::keys::{press, press_char};
use logreasoner_tui::screens::ScreenId;

fn loglm_dev() -> PathBuf {
    common::repo("assets/datasets/loglm/dev.jsonl")
}

#[test]
fn the_walk_baseline_on_every_anomaly_item_of_loglm_dev() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = common::command(home.path())
        .args([
            "eval",
            "--task",
            "anomaly_detection",
            "--no-model",
            "--data",
        ])
        .arg(loglm_dev())
        .arg("--flowcharts")
        .arg(common::repo("flowcharts"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("anomaly_detection · 30 items"),
        "{stdout}"
    );
    assert!(
        stdout.contains("precision     recall         f1   accuracy"),
        "{stdout}"
    );
    assert!(stdout.contains("flowchart walk"), "{stdout}");
    assert!(stdout.contains("0/30"), "the walk always answers: {stdout}");
    let store = Store::open(home.path().join(".local/share/logreasoner/db")).expect("store");
    let runs: Vec<EvalRun> = store.all().expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].items, 30);
    let f1 = runs[0].results[0].metrics["f1"];
    assert!((0.0..=1.0).contains(&f1));
}

#[test]
fn the_default_model_and_the_walk_on_a_few_anomaly_items() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = common::command(home.path())
        .args([
            "eval",
            "--task",
            "anomaly_detection",
            "--limit",
            "3",
            "--max-tokens",
            "24",
            "--data",
        ])
        .arg(loglm_dev())
        .arg("--model")
        .arg(common::default_model())
        .arg("--flowcharts")
        .arg(common::repo("flowcharts"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("3/3"), "a progress bar: {stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("base") || l.starts_with("flowchart walk"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows[0].ends_with(" ms"), "{stdout}");
    let store = Store::open(home.path().join(".local/share/logreasoner/db")).expect("store");
    let runs: Vec<EvalRun> = store.all().expect("runs");
    assert_eq!(runs[0].results.len(), 2);
    assert_eq!(
        runs[0].results[0].model.as_deref(),
        Some("Smollm2 135M 8k Lc100K Mix1 Ep2")
    );
    assert!(runs[0].results[0].mean_latency_ms > 0.0);
}

/// The diagnosis chat is judged by the eval: the same items with repeats listed by number and
/// with every line whole, one row each, with the prompt's mean size; the stored diagnosis-prompt
/// row counts its disagreements with the walk (what the verdict rule reads); other tasks are
/// refused.
#[test]
fn the_diagnosis_prompt_is_evaluated_beside_its_whole_lines_form() {
    let home = tempfile::tempdir().expect("tempdir");
    let data = home.path().join("windows.jsonl");
    let window = |gold: &str, message: &str| {
        let lines: Vec<String> = (0..12)
            .map(|i| {
                format!(
                    "2005-06-03-15.42.{i:02}.000000 R02-M1-N0-C:J12-U11 RAS KERNEL {message} {}",
                    1000 + 37 * i
                )
            })
            .collect();
        serde_json::json!({"task": "anomaly_detection", "input": lines, "gold": gold}).to_string()
    };
    std::fs::write(
        &data,
        format!(
            "{}\n{}\n",
            window("abnormal", "FATAL data TLB error interrupt at address"),
            window("normal", "INFO generating core at address")
        ),
    )
    .expect("write");
    let answers_file = home.path().join("answers.jsonl");
    let run = |task: &str| {
        common::command(home.path())
            .args(["eval", "--task", task, "--max-tokens", "16"])
            .arg("--answers")
            .arg(&answers_file)
            .args(["--prompt", "diagnosis", "--prompt", "diagnosis-whole-lines"])
            .arg("--data")
            .arg(&data)
            .arg("--model")
            .arg(common::default_model())
            .arg("--flowcharts")
            .arg(common::repo("flowcharts"))
            .output()
            .expect("run")
    };
    let out = run("anomaly_detection");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("base, diagnosis prompt  "), "{stdout}");
    // The verdict diagnoses would give: without a measured adapter the walk stands wherever
    // the two disagree, so it scores what the walk scores.
    let metrics = |label: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row: {stdout}"))
            .split_whitespace()
            .filter(|w| w.contains('.'))
            .map(str::to_string)
            .collect()
    };
    let walk = metrics("flowchart walk");
    assert!(!walk.is_empty(), "{stdout}");
    assert_eq!(metrics("base, diagnosis verdict"), walk, "{stdout}");
    assert!(
        !stdout.contains("whole lines, diagnosis verdict"),
        "{stdout}"
    );
    assert!(
        stdout.contains("base, diagnosis prompt, whole lines"),
        "{stdout}"
    );
    let means = stdout
        .lines()
        .find_map(|l| l.strip_prefix("prompt tokens per item, mean: "))
        .unwrap_or_else(|| panic!("no token line: {stdout}"));
    let mean = |label: &str| -> f64 {
        means
            .split(" · ")
            .find_map(|m| m.strip_prefix(label)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no mean for {label}: {means}"))
    };
    let (collapsed, whole) = (
        mean("base, diagnosis prompt"),
        mean("base, diagnosis prompt, whole lines"),
    );
    assert!(
        collapsed + 200.0 < whole,
        "11 repeats of a message are listed by number: {collapsed} against {whole}"
    );
    let store = Store::open(home.path().join(".local/share/logreasoner/db")).expect("store");
    let runs: Vec<EvalRun> = store.all().expect("runs");
    let row = |variant: &str| {
        runs[0]
            .results
            .iter()
            .find(|r| r.variant == variant)
            .unwrap_or_else(|| panic!("no {variant} row"))
            .clone()
    };
    let counted = row("base, diagnosis prompt")
        .disagreements
        .expect("the diagnosis prompt's row counts its disagreements");
    // They are the recorded answers' disagreements with the walk, item by item.
    let items = logreasoner_core::eval::data::load(&data)
        .expect("items")
        .items;
    let recorded: Vec<logreasoner_core::eval::Answer> = std::fs::read_to_string(&answers_file)
        .expect("answers")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("row"))
        .filter(|r| r["variant"] == "base, diagnosis prompt")
        .map(|r| logreasoner_core::eval::Answer {
            text: r["text"].as_str().unwrap_or_default().to_string(),
            answer: r["answer"].as_str().map(str::to_string),
            latency: std::time::Duration::ZERO,
            prompt_tokens: 0,
            cut: false,
        })
        .collect();
    assert_eq!(recorded.len(), items.len());
    let charts =
        logreasoner_core::flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
    assert_eq!(
        counted,
        logreasoner_core::eval::disagreements(&charts, &items, &recorded)
    );
    assert!(row("base, diagnosis prompt, whole lines")
        .disagreements
        .is_none());
    drop(store);
    let out = run("log_parsing");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use it with --task anomaly_detection"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_lines_are_reported_and_the_rest_is_evaluated() {
    let home = tempfile::tempdir().expect("tempdir");
    let data = home.path().join("items.jsonl");
    std::fs::write(
        &data,
        "{\"task\": \"root_cause\", \"input\": [\"081109 203625 29 INFO dfs.FSNamesystem: BLOCK* NameSystem.heartbeatCheck: lost heartbeat from 10.251.73.220:50010\", \"081109 203620 35 INFO dfs.FSNamesystem: BLOCK* ask 10.250.14.224:50010 to replicate blk_1 to datanode(s) 10.251.215.16:50010\"], \"gold\": \"node failure\", \"category\": \"node_failure\"}\n\
         {\"task\": \"root_cause\", \"input\": \"all good\"\n\
         {\"task\": \"root_cause\", \"input\": [\"nothing to see\"], \"gold\": \"none\", \"category\": \"unknown\"}\n",
    )
    .expect("write");
    let out = common::command(home.path())
        .args([
            "eval",
            "--task",
            "root_cause",
            "--no-model",
            "--no-save",
            "--data",
        ])
        .arg(&data)
        .arg("--flowcharts")
        .arg(common::repo("flowcharts"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("items.jsonl:2: skipped"), "{stderr}");
    assert!(stdout.starts_with("root_cause · 2 items"), "{stdout}");
    assert!(stdout.contains("category_macro_f1"), "{stdout}");
    // An unknown task is an error.
    let out = common::command(home.path())
        .args(["eval", "--task", "astrology", "--no-model", "--data"])
        .arg(&data)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown task `astrology`"));
}

#[test]
fn the_eval_screen_shows_the_table_and_charts_a_metric() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("a.log"), "hello\n").expect("write");
    let config = common::config(dir.path(), &logs);
    {
        let store = Store::open(&config.db.value).expect("store");
        let row = |variant: &str, f1: f64, p: f64, r: f64, ms: f64| EvalResult {
            variant: variant.into(),
            model: None,
            adapter: None,
            metrics: [
                ("precision", p),
                ("recall", r),
                ("f1", f1),
                ("accuracy", 0.5),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            items: 30,
            unparsed: 4,
            mean_latency_ms: ms,
            disagreements: None,
        };
        let mut run = EvalRun {
            id: 0,
            task: Task::AnomalyDetection,
            data: "assets/datasets/loglm/dev.jsonl".into(),
            items: 30,
            max_tokens: 160,
            results: vec![
                row("base", 0.4, 0.5, 0.333, 5200.0),
                row("flowchart walk", 0.2, 1.0, 0.111, 4.0),
            ],
            note: "precision, recall and F1 of `abnormal`".into(),
            created_at: 1_780_000_000_000,
        };
        store.insert(&mut run).expect("insert");
    }
    let mut app = common::app_with(config);
    app.handle_key(press(KeyCode::F(8)));
    assert_eq!(app.active_screen(), ScreenId::Eval);
    app.handle_key(press_char('m'));
    app.handle_key(press_char('m'));
    let mut terminal = Terminal::new(TestBackend::new(110, 30)).expect("terminal");
    terminal.draw(|f| app.render(f)).expect("draw");
    insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
        insta::assert_snapshot!("eval_screen_f1", terminal.backend().to_string());
    });
}

/// An item too long for the model's context is scored as an unreadable answer; the evaluation
/// goes on to the next item instead of failing (a tiny model with 512 positions, made here).
#[test]
fn an_item_past_the_context_is_unreadable_not_the_end_of_the_evaluation() {
    let home = tempfile::tempdir().expect("tempdir");
    let model = home.path().join("tiny");
    std::fs::create_dir_all(&model).expect("dir");
    common::tiny_hf_llama(&model, 49152);
    let long: Vec<String> = (0..60)
        .map(|i| format!("2005-06-03-15.42.{i:02} R02-M1-N0 RAS KERNEL INFO generating core.{i} for process 4242 on node R02-M1-N0-C:J12-U11"))
        .collect();
    let rows = [
        serde_json::json!({ "task": "anomaly_detection", "input": long, "gold": "abnormal" }),
        serde_json::json!({ "task": "anomaly_detection", "input": ["GM: LANai is not running."], "gold": "normal" }),
    ];
    let data = home.path().join("items.jsonl");
    std::fs::write(
        &data,
        rows.iter().map(|r| format!("{r}\n")).collect::<String>(),
    )
    .expect("write");
    let out = common::command(home.path())
        .arg("--model")
        .arg(&model)
        .args([
            "eval",
            "--task",
            "anomaly_detection",
            "--no-walk",
            "--no-save",
            "--max-tokens",
            "4",
            "--data",
        ])
        .arg(&data)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("anomaly_detection · 2 items"),
        "{stdout}"
    );
    let base = stdout
        .lines()
        .find(|l| l.starts_with("base"))
        .expect("the base row");
    assert!(
        base.split_whitespace().any(|w| w == "1/2" || w == "2/2"),
        "the long item is unreadable: {base}"
    );
}
