//! The Train screen driven by keys: the history with live curves (from run folders the test writes,
//! so the snapshots are exact), DPO curves and the log scale, the launch form with its shell command,
//! cancelling with a confirmation, choosing the adapter the other screens use, and a real detached
//! run launched from the form on a tiny model.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::KeyCode;

use logreasoner_core::store::{RunState, TrainingRun};
use logreasoner_core::train::run::{MetricLine, RunConfig, RunDir, Stage, Status};
use logreasoner_tui::keys::press;
use logreasoner_tui::screens::ScreenId;
use logreasoner_tui::App;

fn draw(app: &mut App) -> String {
    common::draw_app(app, 120, 32)
}

macro_rules! snapshot {
    ($name:literal, $app:expr) => {{
        insta::with_settings!({ filters => vec![
            (r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]"),
        ] }, {
            insta::assert_snapshot!($name, draw($app));
        });
    }};
}

/// A run folder as a training process leaves it: config, metrics, status and (when done) adapter.
fn craft_run(
    root: &Path,
    name: &str,
    stage: Stage,
    state: RunState,
    steps: usize,
    done: usize,
    pid: u32,
) {
    let dir = RunDir::create_at(
        &root.join(name),
        &RunConfig::new(
            stage,
            "models/base.gguf".into(),
            format!("export/{stage}.jsonl").into(),
        ),
    )
    .expect("run");
    let mut lines = Vec::new();
    for step in 1..=done {
        let x = step as f64;
        let mut m = MetricLine {
            step,
            loss: Some(2.5 * (-x / 12.0).exp() + 0.3),
            lr: Some(2e-4),
            tokens_per_sec: Some(180.0),
            ..Default::default()
        };
        if stage == Stage::Dpo {
            m.margin = Some(x / 10.0);
            m.accuracy = Some((0.5 + x / 40.0).min(1.0));
        }
        lines.push(serde_json::to_string(&m).expect("json"));
        if step % 10 == 0 {
            let e = MetricLine {
                step,
                eval_loss: Some(2.7 * (-x / 14.0).exp() + 0.4),
                ..Default::default()
            };
            lines.push(serde_json::to_string(&e).expect("json"));
        }
    }
    std::fs::write(dir.path.join("metrics.jsonl"), lines.join("\n") + "\n").expect("metrics");
    let status = Status {
        state,
        step: done,
        steps,
        pid,
        message: if state == RunState::Running {
            format!("step {done}/{steps}, loss 0.9000")
        } else {
            format!("done: {steps} steps; the adapter is in adapter/")
        },
        updated_at: 0,
        tokens_per_sec: 181.5,
        secs_per_step: 5.5,
        eta_secs: 5.5 * (steps - done) as f64,
        checkpoint_step: Some(done),
        final_metrics: if state == RunState::Succeeded {
            [("loss".to_string(), 0.42), ("eval_loss".to_string(), 0.61)].into()
        } else {
            Default::default()
        },
        fitted: None,
    };
    std::fs::write(
        dir.path.join("status.json"),
        serde_json::to_string(&status).expect("json"),
    )
    .expect("status");
    if state == RunState::Succeeded {
        std::fs::create_dir_all(dir.adapter_dir()).expect("adapter");
        std::fs::write(dir.adapter_dir().join("adapter_config.json"), "{}").expect("adapter");
    }
}

#[test]
fn history_curves_form_cancel_and_the_adapter_choice() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let config = common::config(tmp.path(), &logs);
    let root = config.data_dir.value.join("runs");
    // A live run is a process whose command line says `train` (a stand-in that sleeps).
    let mut trainer = std::process::Command::new("sh")
        .args(["-c", "sleep 120", "train"])
        .spawn()
        .expect("stand-in process");
    let (thought, dpo) = ("20261127-101500-thought", "20261127-103000-dpo");
    craft_run(
        &root,
        thought,
        Stage::Thought,
        RunState::Succeeded,
        40,
        40,
        1,
    );
    craft_run(
        &root,
        dpo,
        Stage::Dpo,
        RunState::Running,
        60,
        24,
        trainer.id(),
    );
    let mut app = common::app_with(config);
    common::type_keys(&mut app, "7");
    assert_eq!(app.active_screen(), ScreenId::Train);
    snapshot!("train_running_dpo_loss", &mut app);
    common::type_keys(&mut app, "c");
    snapshot!("train_running_dpo_margin_accuracy", &mut app);
    common::type_keys(&mut app, "cj");
    snapshot!("train_finished_thought", &mut app);
    common::type_keys(&mut app, "l");
    assert!(draw(&mut app).contains("loss (log scale)"));
    common::type_keys(&mut app, "l");

    // The outcome is recorded in the database.
    let runs: Vec<TrainingRun> = app.ctx.store.all().expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .any(|r| r.state == RunState::Succeeded && r.final_metrics["loss"] == 0.42));

    // Using the finished run's adapter: the status bar names it, and the configuration carries it.
    common::type_keys(&mut app, "u");
    let screen = draw(&mut app);
    assert!(
        screen.contains("+ adapter 20261127-101500-thought"),
        "{screen}"
    );
    assert_eq!(
        app.ctx.config().adapter.as_ref().map(|a| a.value.clone()),
        Some(root.join("20261127-101500-thought/adapter"))
    );
    assert!(screen.contains("U: base model"), "{screen}");
    common::type_keys(&mut app, "U");
    assert!(app.ctx.config().adapter.is_none());
    // The message names what was in use before, so the choice can be put back.
    let screen = draw(&mut app);
    assert!(
        screen.contains("(was: adapter 20261127-101500-thought"),
        "{screen}"
    );

    // Cancelling asks first, says what is kept, and only `y` cancels.
    common::type_keys(&mut app, "k");
    common::type_keys(&mut app, "x");
    let screen = draw(&mut app);
    assert!(screen.contains("keeps that step's adapter"), "{screen}");
    app.handle_key(press(KeyCode::Esc));
    assert!(!root.join("20261127-103000-dpo/cancel").exists());
    common::type_keys(&mut app, "xy");
    assert!(root.join("20261127-103000-dpo/cancel").exists());

    // The form shows the command that starts the same run; the stage cycles, fields edit.
    common::type_keys(&mut app, "n");
    app.handle_key(press(KeyCode::Enter));
    app.handle_key(press(KeyCode::Enter));
    common::type_keys(&mut app, "jjjjj");
    app.handle_key(press(KeyCode::Enter));
    common::type_keys(&mut app, "30");
    app.handle_key(press(KeyCode::Enter));
    snapshot!("train_form_dpo", &mut app);
    let screen = draw(&mut app);
    assert!(screen.contains("--stage dpo"), "{screen}");
    assert!(screen.contains("--steps 30"), "{screen}");
    common::type_keys(&mut app, "L");
    assert!(draw(&mut app).contains("no data at export/dpo.jsonl"));
    app.handle_key(press(KeyCode::Esc));
    assert!(!draw(&mut app).contains("new run"));
    let _ = trainer.kill();
    let _ = trainer.wait();
}

#[test]
fn a_run_launched_from_the_form_trains_detached_and_its_adapter_can_be_used() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let model = tmp.path().join("tiny");
    std::fs::create_dir_all(&model).expect("model");
    common::tiny_hf_llama(&model, 49152);
    let data = tmp.path().join("sft.jsonl");
    let row = serde_json::json!({ "messages": [
        { "role": "user", "content": "Disk full on node 3. Anomalous?" },
        { "role": "assistant", "content": "Answer: anomaly" },
    ]});
    std::fs::write(&data, format!("{row}\n{row}\n")).expect("data");
    let mut config = common::config(tmp.path(), &logs);
    config.model.value = model.clone();
    let mut app = common::app_with(config);
    app.ctx.program = common::bin();
    common::type_keys(&mut app, "7n");
    // Field 2 is the data file: replace its text.
    common::type_keys(&mut app, "jj");
    app.handle_key(press(KeyCode::Enter));
    for _ in 0..40 {
        app.handle_key(press(KeyCode::Backspace));
    }
    common::type_keys(&mut app, &data.display().to_string());
    app.handle_key(press(KeyCode::Enter));
    common::type_keys(&mut app, "jjj");
    app.handle_key(press(KeyCode::Enter));
    common::type_keys(&mut app, "3");
    app.handle_key(press(KeyCode::Enter));
    common::type_keys(&mut app, "L");
    let screen = draw(&mut app);
    assert!(screen.contains("it goes on if you quit"), "{screen}");

    let root = app.ctx.config().data_dir.value.join("runs");
    let run = logreasoner_core::train::run::list(&root)
        .pop()
        .expect("a run folder");
    let deadline = Instant::now() + Duration::from_secs(120);
    while run.status().is_none_or(|s| s.state == RunState::Running) {
        assert!(Instant::now() < deadline, "the run did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(run.status().map(|s| s.state), Some(RunState::Succeeded));
    assert_eq!(run.config().expect("config").steps, Some(3));
    common::type_keys(&mut app, "r");
    assert!(draw(&mut app).contains("succeeded"));
    common::type_keys(&mut app, "u");
    assert_eq!(
        app.ctx.config().adapter.as_ref().map(|a| a.value.clone()),
        Some(run.adapter_dir())
    );
    assert!(logreasoner_core::llm::model::Model::load_adapted(
        &model,
        Some(&run.adapter_dir()),
        &candle_core::Device::Cpu
    )
    .is_ok());
}

/// The form's fields edit like the `:` prompt (Ctrl-u clears before the cursor, Ctrl-w a word),
/// are checked as they are typed, and the form is kept when it is closed.
#[test]
fn form_fields_edit_like_the_prompt_are_checked_as_typed_and_kept() {
    use ratatui::crossterm::event::{KeyEvent, KeyModifiers};
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let mut app = common::app_with(common::config(tmp.path(), &logs));
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    common::type_keys(&mut app, "7n");
    // stage, base model, data, eval data, from adapter, steps, epochs, lr, batch.
    common::type_keys(&mut app, "jjjjjjjj");
    app.handle_key(press(KeyCode::Enter));
    common::type_keys(&mut app, "u1");
    let typed = draw(&mut app);
    assert!(typed.contains("✗ `4u1` is not a number"), "{typed}");
    assert!(typed.contains("Fix before launching: batch"), "{typed}");
    app.handle_key(ctrl('u'));
    assert!(draw(&mut app).contains("✗ needs a value"));
    common::type_keys(&mut app, "8 x");
    app.handle_key(ctrl('w'));
    app.handle_key(press(KeyCode::Backspace));
    app.handle_key(press(KeyCode::Enter));
    let fixed = draw(&mut app);
    assert!(!fixed.contains('✗'), "{fixed}");
    assert!(fixed.contains("--batch 8"), "{fixed}");
    app.handle_key(press(KeyCode::Esc));
    assert!(!draw(&mut app).contains("--batch 8"));
    common::type_keys(&mut app, "n");
    assert!(draw(&mut app).contains("--batch 8"), "the form is kept");
}

/// A run that failed before its first step says so in its gauge, and its whole reason is read
/// (wrapped) at 80x24 instead of a box that still says it waits for the first step.
#[test]
fn a_run_that_failed_before_its_first_step_says_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let config = common::config(tmp.path(), &logs);
    let root = config.data_dir.value.join("runs");
    let name = "20261204-090000-stepwise";
    craft_run(&root, name, Stage::Stepwise, RunState::Failed, 40, 0, 0);
    let status_path = root.join(name).join("status.json");
    let mut status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&status_path).expect("status"))
            .expect("json");
    let reason = "no example fits in 512 tokens: raise --max-len or shorten the prompts of export/stepwise.jsonl";
    status["message"] = reason.into();
    std::fs::write(&status_path, status.to_string()).expect("status");
    let mut app = common::app_with(config);
    app.handle_key(press(KeyCode::F(7)));
    app.wait_for_jobs();
    let screen = common::draw_app(&mut app, 80, 24);
    assert!(screen.contains("failed before its first step"), "{screen}");
    assert!(!screen.contains("waiting for the first step"), "{screen}");
    // The reason's last words are on screen, wrapped inside the pane.
    assert!(screen.contains("export/stepwise.jsonl"), "{screen}");
}
