//! Diagnosis: the flowchart-walk baseline on a crafted HDFS window (asserted exactly), the headless
//! command with its exit codes and documented JSON schema, follow mode, and a real BGL window on the
//! default model.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use logreasoner_core::diagnose::{
    self, prompt::PromptLimits, verdict, verdict::VerdictFrom, Input,
};
use logreasoner_core::flowchart;

fn schema() -> PathBuf {
    common::repo("docs/diagnosis.schema.json")
}

fn hdfs_input() -> Input {
    Input {
        source: "crafted-hdfs.log".into(),
        first_line: 1,
        lines: common::HDFS_WINDOW.iter().map(|s| s.to_string()).collect(),
        question: None,
    }
}

#[test]
fn the_walk_baseline_on_a_crafted_hdfs_window() {
    let charts = flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
    let plan = diagnose::plan(&charts, hdfs_input(), PromptLimits::default());
    let report = diagnose::finish(&plan, None, Duration::ZERO);
    assert_eq!(report.chart.as_deref(), Some("hdfs-replication"));
    assert_eq!(
        report.chart_path,
        [
            "replication-scheduled",
            "heartbeat-lost",
            "replication-stalled",
            "transfers-succeeding",
            "transfer-failures",
            "transfers-broken"
        ]
    );
    assert_eq!(report.walk_end.as_deref(), Some("conclusion"));
    let v = &report.verdict;
    assert!(v.anomalous);
    assert_eq!(v.cause.as_deref(), Some("network_failure"));
    assert!(v.cause_is_category);
    assert_eq!(v.evidence, [2, 3, 4, 5]);
    assert_eq!(v.confidence, 0.8);
    assert_eq!(v.from, VerdictFrom::Walk);
    assert_eq!(
        v.next_steps,
        ["Check the network between the source and target DataNodes (NIC error counters, switch ports, \
          rack uplinks) and the sources' transfer-thread limit (dfs.datanode.max.transfer.threads). Once \
          transfers succeed the pending queue drains by itself."]
    );
    assert!(report.model.is_none() && report.reasoning.is_empty());
    // The prompt carries the chart's thought, the walk and every line with its number.
    let user = &plan.messages[1].content;
    assert!(user.contains("Problem overview:"), "{user}");
    assert!(user.contains("Conclusion: network_failure"), "{user}");
    assert!(
        user.contains("\n5 081109 203710 WARN dfs.DataNode: "),
        "{user}"
    );
}

#[test]
fn a_window_without_symptoms_is_normal() {
    let charts = flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
    let input = Input {
        source: "quiet.log".into(),
        first_line: 40,
        lines: vec!["081109 203615 148 INFO dfs.DataNode: all is well".into()],
        question: None,
    };
    let plan = diagnose::plan(&charts, input, PromptLimits::default());
    let report = diagnose::finish(&plan, None, Duration::ZERO);
    assert!(!report.verdict.anomalous);
    assert!(report.chart.is_none() && report.verdict.evidence.is_empty());
}

/// `diagnose --no-model --json` on `log` with the shipped charts.
fn diagnose_headless(home: &Path, log: &Path) -> std::process::Output {
    common::command(home)
        .args(["diagnose", "--no-model", "--json", "--flowcharts"])
        .arg(common::repo("flowcharts"))
        .arg(log)
        .output()
        .expect("run")
}

fn write_log(dir: &Path, lines: &[&str]) -> PathBuf {
    let path = dir.join("app.log");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write log");
    path
}

#[test]
fn headless_json_validates_and_the_exit_code_says_anomaly() {
    let home = tempfile::tempdir().expect("tempdir");
    let log = write_log(home.path(), common::HDFS_WINDOW);
    let out = diagnose_headless(home.path(), &log);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::assert_valid_json(&stdout, &schema());
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["cause"], "network_failure");
    assert_eq!(json["first_line"], 1);
    assert_eq!(json["last_line"], 5);
    assert!(
        json["id"].as_u64().is_some(),
        "saved in the database: {json}"
    );

    // A quiet range of the same file: exit 0.
    let out = common::command(home.path())
        .args(["diagnose", "--no-model", "--lines", "1..1", "--flowcharts"])
        .arg(common::repo("flowcharts"))
        .arg(&log)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict     normal"));

    // A range past the end: exit 2 with a message naming the file.
    let out = common::command(home.path())
        .args(["diagnose", "--no-model", "--lines", "50..60"])
        .arg(&log)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has 5 lines"));
}

#[test]
fn follow_diagnoses_each_error_burst_and_survives_truncation() {
    let home = tempfile::tempdir().expect("tempdir");
    let log = write_log(home.path(), &common::HDFS_WINDOW[..1]);
    let config = home.path().join("config.yaml");
    std::fs::write(
        &config,
        "diagnosis:\n  burst_errors: 2\n  burst_lines: 10\n  min_interval_secs: 0\n",
    )
    .expect("config");
    /// Kills the follower however the test ends, so a failed assertion leaves no process behind.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = common::command(home.path())
        .args(["diagnose", "--follow", "--no-model", "--json", "--config"])
        .arg(&config)
        .arg("--flowcharts")
        .arg(common::repo("flowcharts"))
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    let _guard = KillOnDrop(child);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next_verdict = || -> serde_json::Value {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a verdict for the burst");
        common::assert_valid_json(&line, &schema());
        serde_json::from_str(&line).expect("json")
    };
    // Let the follower start at the end of the file, then append a burst of two error lines.
    std::thread::sleep(Duration::from_millis(800));
    let append = |lines: &[&str]| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open");
        for l in lines {
            writeln!(f, "{l}").expect("append");
        }
    };
    // Warnings alone are no burst; two errors are.
    append(&common::HDFS_WINDOW[1..]);
    append(&[
        "081109 203720 1920 ERROR dfs.DataNode: 10.250.14.224:50010:Exception writing block blk_-1608999687919862906 to mirror 10.251.215.16:50010",
        "081109 203721 1920 ERROR dfs.DataNode: 10.250.14.224:50010:Exception writing block blk_-1608999687919862906 to mirror 10.251.215.16:50010",
    ]);
    let first = next_verdict();
    assert_eq!(first["anomalous"], true);
    assert_eq!(
        (first["first_line"].clone(), first["last_line"].clone()),
        (1.into(), 7.into())
    );
    assert_eq!(first["cause"], "network_failure");

    // Truncate (copytruncate rotation) and write a fresh burst: numbering restarts at line 1.
    std::fs::write(&log, "").expect("truncate");
    std::thread::sleep(Duration::from_millis(600));
    append(&[
        "081109 210000 1 ERROR dfs.DataNode: Exception in receiveBlock for block blk_1",
        "081109 210001 1 ERROR dfs.DataNode: Exception in receiveBlock for block blk_2",
    ]);
    let start = Instant::now();
    let second = next_verdict();
    assert_eq!(
        (second["first_line"].clone(), second["last_line"].clone()),
        (1.into(), 2.into())
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

/// A real BGL window (a FATAL data-TLB interrupt among kernel INFO lines) on the default model.
#[test]
fn a_real_bgl_window_on_the_default_model() {
    let home = tempfile::tempdir().expect("tempdir");
    let bgl = common::repo("assets/datasets/loghub-2k/BGL/BGL_2k.log");
    let out = common::command(home.path())
        .args([
            "diagnose",
            "--json",
            "--lines",
            "99..108",
            "--max-tokens",
            "48",
            "--model",
        ])
        .arg(common::default_model())
        .arg("--flowcharts")
        .arg(common::repo("flowcharts"))
        .arg(&bgl)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::assert_valid_json(&stdout, &schema());
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["chart"], "bgl-kernel-fault");
    assert_eq!(json["model"], "Smollm2 135M 8k Lc100K Mix1 Ep2");
    assert!(!json["reasoning"].as_str().unwrap_or("").is_empty());
    for n in json["evidence"].as_array().expect("evidence") {
        let n = n.as_u64().expect("line number");
        assert!(
            (99..=108).contains(&n),
            "evidence line {n} outside the window"
        );
    }
    assert_eq!(
        out.status.code() == Some(1),
        json["anomalous"] == true,
        "exit code follows the verdict"
    );
    assert!(json["timings"]["first_token_ms"].as_u64().is_some());
}

/// Seven BGL lines: FATAL machine-check interrupts among correctable DDR errors. The walk concludes
/// an anomaly (failing memory).
fn bgl_machine_checks() -> Input {
    let lines = (0..7)
        .map(|n| {
            let (level, text) = if n == 0 || n == 6 {
                ("FATAL", "machine check interrupt (bit=0x1d): L2 dcache unit data parity error")
            } else {
                ("INFO", "ddr errors(s) detected and corrected on rank 0, symbol 4, bit 2")
            };
            format!(
                "- 11181{n:05} 2005.06.11 R23-M1-N8-C:J18-U11 2005-06-11-18.{:02}.10.000000 R23-M1-N8-C:J18-U11 RAS KERNEL {level} {text}",
                10 + n
            )
        })
        .collect();
    Input {
        source: "bgl-machine-checks.log".into(),
        first_line: 1,
        lines,
        question: None,
    }
}

fn generation(text: &str) -> logreasoner_core::llm::model::Generation {
    logreasoner_core::llm::model::Generation {
        text: text.into(),
        prompt_tokens: 100,
        cached_tokens: 0,
        generated_tokens: 20,
        stop: logreasoner_core::llm::model::StopReason::EndToken,
        prefill_secs: 0.1,
        decode_secs: 0.1,
        first_token_secs: Some(0.1),
    }
}

fn with_model_text(plan: &diagnose::Plan, text: &str) -> diagnose::Report {
    let g = generation(text);
    diagnose::finish(
        plan,
        Some(diagnose::ModelRun {
            model: "SmolLM2-135M-Instruct",
            adapter: None,
            generation: &g,
            elapsed: Duration::ZERO,
        }),
        Duration::ZERO,
    )
}

/// Where the walk concludes an anomaly, the verdict is never "normal" unless the model's answer
/// meets the override rule: readable, evidence inside the window, and a stored evaluation in which
/// the model beats the walk. Both opinions are in the JSON.
#[test]
fn a_walk_conclusion_stands_unless_the_model_meets_the_override_rule() {
    use logreasoner_core::store::Store;
    let charts = flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
    let mut plan = diagnose::plan(&charts, bgl_machine_checks(), PromptLimits::default());
    assert_eq!(
        plan.chart.as_ref().map(|c| c.id.as_str()),
        Some("bgl-kernel-fault")
    );
    let walk = diagnose::finish(&plan, None, Duration::ZERO);
    assert_eq!(walk.walk_end.as_deref(), Some("conclusion"));
    assert!(walk.verdict.anomalous);

    // The answer the 135M model wrote on the held-out window: it takes itself back.
    let contradicting =
        "1. Lines 1, 3 and 5 are FATAL machine check interrupts, so the answer is yes.\n\
                         Answer: no. The answer is no.";
    let r = with_model_text(&plan, contradicting);
    assert!(
        r.verdict.anomalous,
        "a self-contradicting answer leaves the walk's anomaly"
    );
    assert_eq!(r.verdict.from, VerdictFrom::Walk);
    let model = r.opinions.model.as_ref().expect("the model's opinion");
    assert!(model.conflicting && model.anomalous.is_none());

    // A readable "normal" with evidence, but no evaluation says the model beats the walk.
    let normal = "1. Line 2 shows the parity error was corrected.\nAnswer: normal";
    let r = with_model_text(&plan, normal);
    assert!(r.verdict.anomalous);
    assert_eq!(r.verdict.from, VerdictFrom::WalkAgainstModel);
    assert_eq!(
        r.opinions.model.as_ref().and_then(|m| m.anomalous),
        Some(false)
    );
    assert!(r.opinions.calibration.starts_with("uncalibrated"));
    let json = serde_json::to_string(&r).expect("json");
    common::assert_valid_json(&json, &schema());

    // With a stored evaluation in which this model, on the diagnosis prompt, beats the walk, the
    // same answer overrides it, and the confidence is the model's measured share of right
    // "normal" answers.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("db")).expect("store");
    let mut run = stored_run(row(
        "base, diagnosis prompt",
        Some("SmolLM2-135M-Instruct"),
        0.7,
        0.92,
    ));
    store.insert(&mut run).expect("eval");
    plan.measure(&store, Some("SmolLM2-135M-Instruct"), None);
    let r = with_model_text(&plan, normal);
    assert!(!r.verdict.anomalous);
    assert_eq!(r.verdict.from, VerdictFrom::ModelAgainstWalk);
    assert!((r.verdict.confidence - 0.92).abs() < 1e-6);
    assert!(r.opinions.calibration.contains("evaluation #"));
    // Still never on an answer without evidence inside the window.
    let r = with_model_text(&plan, "Answer: normal");
    assert!(r.verdict.anomalous);
    assert_eq!(r.verdict.from, VerdictFrom::WalkAgainstModel);
    // Nor on one whose evidence lies outside it.
    let r = with_model_text(&plan, "1. Line 40 is fine.\nAnswer: normal");
    assert!(r.verdict.anomalous);
}

/// With an adapter, a stored evaluation that kept only totals (made before evaluations counted
/// disagreements) gives way to the adapter's own `reliability.json` where that counted them (here
/// the model right once in 8 "normal" disagreements: the walk stands); a later evaluation that
/// counted them is read over the file, and an override is as sure as the lower end of the one-sided
/// 95% Wilson interval of the model's share right.
#[test]
fn counted_disagreements_outrank_stored_totals() {
    use logreasoner_core::store::{EvalResult, Store};
    let charts = flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
    let mut plan = diagnose::plan(&charts, bgl_machine_checks(), PromptLimits::default());
    let normal = "1. Line 2 shows the parity error was corrected.\nAnswer: normal";
    let dir = tempfile::tempdir().expect("tempdir");
    let adapter = dir.path().join("adapter");
    std::fs::create_dir_all(&adapter).expect("adapter dir");
    let adapter_name = adapter.display().to_string();
    let counted = |right: usize, cases: usize| verdict::Disagreements {
        model_normal: verdict::Tally {
            cases,
            model_right: right,
        },
        model_anomalous: verdict::Tally::default(),
    };
    let own = verdict::Reliability {
        model: Some(verdict::Measured {
            f1: 0.7,
            precision: 0.6,
            npv: 0.92,
            items: 40,
        }),
        walk: Some(verdict::Measured {
            f1: 0.5,
            precision: 0.6,
            npv: 0.8,
            items: 40,
        }),
        source: Some("experiment".into()),
        disagreements: Some(counted(1, 8)),
    };
    std::fs::write(
        adapter.join(verdict::RELIABILITY_FILE),
        serde_json::to_vec(&own).expect("json"),
    )
    .expect("write");
    let store = Store::open(dir.path().join("db")).expect("store");
    let with_adapter = |r: EvalResult| EvalResult {
        adapter: Some(adapter_name.clone()),
        ..r
    };
    let mut totals_only = stored_run(with_adapter(row(
        "base, diagnosis prompt",
        Some("SmolLM2-135M-Instruct"),
        0.7,
        0.92,
    )));
    store.insert(&mut totals_only).expect("eval");
    plan.measure(&store, Some("SmolLM2-135M-Instruct"), Some(&adapter_name));
    assert_eq!(plan.reliability.disagreements, Some(counted(1, 8)));
    let r = with_model_text(&plan, normal);
    assert!(r.verdict.anomalous);
    assert_eq!(r.verdict.from, VerdictFrom::WalkAgainstModel);
    // A later evaluation that counted them (7 right of 7) is read over the adapter's file, and
    // the override is as sure as the lower end of its one-sided 95% Wilson interval.
    let mut later = totals_only.clone();
    later.id = 0;
    later.created_at = 2;
    later.results[0].disagreements = Some(counted(7, 7));
    store.insert(&mut later).expect("eval");
    plan.measure(&store, Some("SmolLM2-135M-Instruct"), Some(&adapter_name));
    let r = with_model_text(&plan, normal);
    assert!(!r.verdict.anomalous);
    assert_eq!(r.verdict.from, VerdictFrom::ModelAgainstWalk);
    assert!(
        (r.verdict.confidence - 0.72).abs() < 0.01,
        "{}",
        r.verdict.confidence
    );
}

/// A stored anomaly-detection row of 40 items (F1 `f1`, NPV `npv`).
fn row(
    variant: &str,
    model: Option<&str>,
    f1: f64,
    npv: f64,
) -> logreasoner_core::store::EvalResult {
    logreasoner_core::store::EvalResult {
        variant: variant.into(),
        model: model.map(str::to_string),
        adapter: None,
        metrics: [
            ("f1", f1),
            ("precision", 0.6),
            ("npv", npv),
            ("accuracy", 0.7),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        items: 40,
        unparsed: 0,
        mean_latency_ms: 0.0,
        disagreements: None,
    }
}

/// A stored anomaly-detection evaluation of 40 items: `model`'s row beside a walk at F1 0.5.
fn stored_run(model: logreasoner_core::store::EvalResult) -> logreasoner_core::store::EvalRun {
    logreasoner_core::store::EvalRun {
        id: 0,
        task: logreasoner_core::store::Task::AnomalyDetection,
        data: "dev.jsonl".into(),
        items: 40,
        max_tokens: 64,
        results: vec![model, row("flowchart walk", None, 0.5, 0.8)],
        note: String::new(),
        created_at: 1,
    }
}

/// A JSON-lines application log with a burst of `connection refused` errors among ordinary lines:
/// its format is read (levels from the `level` field), the generic dependency chart applies to a
/// system that has no chart of its own, and the window is not called normal.
#[test]
fn a_json_application_log_with_refused_connections_is_an_anomaly() {
    let home = tempfile::tempdir().expect("tempdir");
    let lines: Vec<String> = (0..300)
        .map(|i| {
            let (level, msg) = if i % 12 == 5 {
                ("error", "connection refused to db")
            } else {
                ("info", "request served")
            };
            format!(
                r#"{{"time":"2026-12-03T10:{:02}:{:02}Z","level":"{level}","logger":"api","msg":"{msg}","path":"/orders/{i}"}}"#,
                i / 60,
                i % 60
            )
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let log = write_log(home.path(), &refs);
    let parse = common::command(home.path())
        .arg("parse")
        .arg(&log)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&parse.stdout);
    assert!(text.contains("format JSON"), "{text}");
    let out = diagnose_headless(home.path(), &log);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["anomalous"], true, "{stdout}");
    assert_eq!(json["chart"], "generic-dependency-down", "{stdout}");
    assert_eq!(json["cause"], "dependency_failure", "{stdout}");
    assert_eq!(out.status.code(), Some(1));
}

/// A JSON-lines log of a system no chart covers: a burst of errors at its end is an anomaly with
/// an `unknown` cause and the burst's lines as evidence (exit 1); the same log without the burst,
/// and one that errs as often everywhere, are normal (exit 0).
#[test]
fn an_error_burst_no_chart_explains_is_an_anomaly_against_the_files_own_baseline() {
    let home = tempfile::tempdir().expect("tempdir");
    let log_of = |burst: bool, noisy: bool| -> Vec<String> {
        (0..400)
            .map(|i| {
                let in_burst = burst && (330..=360).contains(&i) && i % 3 == 0;
                let (level, msg) = if in_burst || (noisy && i % 9 == 4) {
                    ("error", "payment provider answered status 502 for order")
                } else {
                    ("info", "order accepted")
                };
                format!(
                    r#"{{"ts":"2026-12-03T11:{:02}:{:02}Z","level":"{level}","msg":"{msg}","order":{i}}}"#,
                    i / 60,
                    i % 60
                )
            })
            .collect()
    };
    let run = |name: &str, lines: Vec<String>| {
        let dir = home.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let log = write_log(&dir, &refs);
        let out = diagnose_headless(home.path(), &log);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        common::assert_valid_json(&stdout, &common::repo("docs/diagnosis.schema.json"));
        (out.status.code(), json)
    };
    let (code, json) = run("burst", log_of(true, false));
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(
        json["chart"],
        serde_json::Value::Null,
        "no chart covers it: {json}"
    );
    assert_eq!(json["cause"], "unknown");
    assert_eq!(json["verdict_from"], "error_burst");
    // Lines are 1-based: entry 330 of the log is line 331.
    let burst_lines: Vec<u64> = (330..=360).filter(|i| i % 3 == 0).map(|i| i + 1).collect();
    assert_eq!(json["evidence"], serde_json::json!(burst_lines), "{json}");
    let (code, json) = run("quiet", log_of(false, false));
    assert_eq!(
        (code, json["anomalous"].clone()),
        (Some(0), false.into()),
        "{json}"
    );
    let (code, json) = run("noisy", log_of(false, true));
    assert_eq!(
        (code, json["anomalous"].clone()),
        (Some(0), false.into()),
        "{json}"
    );
}

/// A burst found by comparing with the file is told to the model, with its lines shown.
#[test]
fn the_prompt_states_the_error_burst_and_shows_its_lines() {
    let lines: Vec<String> = (0..120)
        .map(|i| {
            let level = if i >= 100 && i % 4 == 0 {
                "error"
            } else {
                "info"
            };
            format!(
                r#"{{"ts":"2026-12-03T11:00:{:02}Z","level":"{level}","msg":"step {i}"}}"#,
                i % 60
            )
        })
        .collect();
    let input = Input {
        source: "app.log".into(),
        first_line: 1,
        lines,
        question: None,
    };
    let charts =
        logreasoner_core::flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
    let mut plan = diagnose::plan(&charts, input, PromptLimits::default());
    let before = plan.messages[1].content.clone();
    assert!(!before.contains("Statistics:"));
    plan.compare_with(logreasoner_core::diagnose::burst::Baseline {
        lines: 1000,
        errors: 0,
    });
    let text = &plan.messages[1].content;
    assert!(
        text.contains("Statistics: 5 error lines in this window")
            && text.contains("error lines 101, 105, 109, 113, 117."),
        "{text}"
    );
    assert!(
        plan.shown.contains(&101) && plan.shown.contains(&117),
        "{:?}",
        plan.shown
    );
    // Messages new to the file are stated and shown too.
    let file = diagnose::FileContext {
        baseline: logreasoner_core::diagnose::burst::Baseline {
            lines: 1000,
            errors: 0,
        },
        novel: Some(vec![42]),
        surges: vec![logreasoner_core::logs::novelty::Surge {
            template: "retrying call <*> to billing".into(),
            count: 9,
            window_share: 0.45,
            file_share: 0.01,
            first: 44,
        }],
    };
    let plan = diagnose::plan_in_file(
        &charts,
        plan.input.clone(),
        PromptLimits::default(),
        Some(file),
    );
    let text = &plan.messages[1].content;
    assert!(
        text.contains("Messages never seen earlier in this file: 1 kind(s), first at lines 42."),
        "{text}"
    );
    assert!(plan.shown.contains(&42) && plan.shown.contains(&44));
    assert!(
        text.contains("Surging message: \"retrying call <*> to billing\" on 9 lines (45% of the window against 1.0% before it), first at line 44."),
        "{text}"
    );
}
