//! The data engine end to end on the default model: LogLM rows and BGL items imported, K=2
//! solutions generated and graded, automatic pairs, five pairs labelled through key events on the
//! Label screen, and `export dpo` checked against TRL's record shape.

use crate::common;

use std::sync::atomic::AtomicBool;

use ratatui::crossterm::event::KeyCode;

use logreasoner_core::data::export::{self, Format};
use logreasoner_core::data::import::{self, LoghubSettings};
use logreasoner_core::llm::backend::Backend;
use logreasoner_core::llm::model::Model;
use logreasoner_core::reasoning::{self, Generator, Settings};
use logreasoner_core::store::{LabelSource, PreferenceLabel, Solution, Store, Task, TaskInstance};
use logreasoner_tui::keys::{press, press_char};

#[test]
fn import_generate_pair_label_and_export_dpo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("a.log"), "hello\n").expect("write");
    let mut config = common::config_with(dir.path(), &logs, &common::repo("flowcharts"));
    config.annotator.value = "ana".into();
    {
        let store = Store::open(&config.db.value).expect("store");
        // 20 LogLM rows (anomaly items: short lines, so generation stays quick) and a few BGL items.
        let dev =
            std::fs::read_to_string(common::repo("assets/datasets/loglm/dev.jsonl")).expect("dev");
        let rows: Vec<&str> = dev
            .lines()
            .filter(|l| l.contains("\"anomaly_detection\""))
            .take(20)
            .collect();
        let file = dir.path().join("loglm20.jsonl");
        std::fs::write(&file, rows.join("\n") + "\n").expect("write rows");
        let r = import::jsonl(&store, &file).expect("import loglm");
        assert_eq!(r.added + r.merged, 20);
        let settings = LoghubSettings {
            parsing_per_system: 0,
            anomaly_items: 4,
            window: 20,
            horizon: 10,
            stride: 1000,
        };
        let r = import::loghub(&store, &common::repo("assets/datasets/loghub-2k"), settings)
            .expect("import bgl");
        assert_eq!(r.by_task.get(&Task::AnomalyDetection), Some(&4));
        assert!(r
            .by_task
            .get(&Task::FailurePrediction)
            .is_some_and(|n| *n >= 1));
        let windows: Vec<TaskInstance> = store.all().expect("instances");
        let w = windows
            .iter()
            .find(|i| i.task == Task::FailurePrediction)
            .expect("window");
        assert_eq!(
            (w.params["window"].as_str(), w.params["horizon"].as_str()),
            ("20", "10")
        );

        // K=2 solutions for five anomaly instances, short answers.
        let mut model = Backend::Local(Box::new(
            Model::load(&common::default_model(), &candle_core::Device::Cpu).expect("model"),
        ));
        let charts =
            logreasoner_core::flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
        let mut generator = Generator {
            model: &mut model,
            store: &store,
            charts,
            settings: Settings {
                k: 2,
                temperature: 0.9,
                max_tokens: 24,
                seed: 7,
            },
        };
        let cancel = AtomicBool::new(false);
        let report = reasoning::run_solutions(
            &mut generator,
            Some(Task::AnomalyDetection),
            5,
            &cancel,
            &mut |_, _| {},
        )
        .expect("generate");
        assert_eq!(report.instances, 5);
        assert_eq!(report.solutions, 10);
        let solutions: Vec<Solution> = store.all().expect("solutions");
        for s in &solutions {
            assert!(
                s.text.contains("Answer:"),
                "every solution ends in an answer line: {}",
                s.text
            );
            assert!(s.correct.is_some(), "graded against the gold label");
        }
        // Automatic pairs: exactly one per instance whose two solutions disagree in correctness.
        let mixed = solutions
            .chunks(2)
            .filter(|p| p.len() == 2 && p[0].correct != p[1].correct)
            .count();
        let auto: Vec<PreferenceLabel> = store.all().expect("labels");
        assert_eq!(
            auto.iter()
                .filter(|l| l.source == LabelSource::Auto)
                .count(),
            mixed
        );
        for l in &auto {
            let chosen: Solution = store.load(l.chosen).expect("chosen");
            assert_eq!(chosen.correct, Some(true), "the correct solution is chosen");
        }
        // Running again is resumable: nothing new for instances that have K solutions.
        let again = reasoning::run_solutions(
            &mut generator,
            Some(Task::AnomalyDetection),
            5,
            &cancel,
            &mut |_, _| {},
        )
        .expect("resume");
        assert_eq!(again.solutions, 0);
    }

    // Up to five pairs labelled on the Label screen. Two samples of one instance can come out
    // the same (24 tokens, a few words apart at most); such a pair is never queued, since a
    // label whose sides are equal teaches nothing.
    let mut app = common::app_with(config.clone());
    let pairs = logreasoner_core::data::labeling::queue(&app.ctx.store, "ana")
        .expect("queue")
        .len();
    assert!(pairs >= 3, "{pairs} pairs to label of five instances");
    app.handle_key(press(KeyCode::F(6)));
    for key in ['1', '2', '1', '2', '1'] {
        app.handle_key(press_char(key));
    }
    let human = app
        .ctx
        .store
        .all::<PreferenceLabel>()
        .expect("labels")
        .into_iter()
        .filter(|l| l.source == LabelSource::Human)
        .count();
    assert_eq!(human, pairs.min(5));

    // export dpo in TRL's conversational shape.
    let out = dir.path().join("export");
    let examples = export::dpo_examples(&app.ctx.store).expect("examples");
    let written = export::write(&out, "dpo", &examples, Format::Trl, 0.0, None).expect("write");
    assert_eq!(written.files[0].1, examples.len());
    let text = std::fs::read_to_string(out.join("dpo.jsonl")).expect("read");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(records.len() >= human, "every human choice at least");
    for r in &records {
        let obj = r.as_object().expect("object");
        let mut keys: Vec<&String> = obj.keys().collect();
        keys.sort();
        assert_eq!(keys, ["chosen", "prompt", "rejected"]);
        let prompt = r["prompt"]
            .as_array()
            .expect("prompt is a list of messages");
        assert_eq!(prompt[0]["role"], "system");
        assert_eq!(prompt.last().expect("user")["role"], "user");
        for side in ["chosen", "rejected"] {
            let msgs = r[side].as_array().expect("list");
            assert_eq!(msgs.len(), 1);
            assert_eq!(msgs[0]["role"], "assistant");
            assert!(!msgs[0]["content"].as_str().unwrap_or("").is_empty());
        }
        assert_ne!(r["chosen"], r["rejected"]);
    }
}
