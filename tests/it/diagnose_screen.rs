//! The Diagnose screen: a snapshot while reasoning streams, the real model through key events
//! (run, verdict, accept into labelled data), the no-model path, and the follow-mode watch.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use logreasoner_core::diagnose::{self, prompt::PromptLimits, Input};
use logreasoner_core::llm::engine::{Event, Running};
use logreasoner_core::llm::model::{Generation, StopReason};
use logreasoner_core::store::{Diagnosis, ReviewStatus, Solution, Store, Task, TaskInstance};
use logreasoner_tui::keys::press_char;
use logreasoner_tui::screens::diagnose::DiagnoseScreen;
use logreasoner_tui::screens::{Ctx, Screen, ScreenId};
use logreasoner_tui::App;

fn hdfs_log(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let path = logs.join("hdfs.log");
    std::fs::write(&path, common::HDFS_WINDOW.join("\n") + "\n").expect("write");
    path
}

fn draw_screen(screen: &mut DiagnoseScreen, ctx: &Ctx) -> String {
    draw_sized(screen, ctx, 120, 34)
}

fn draw_sized(screen: &mut DiagnoseScreen, ctx: &Ctx, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| screen.render(f, f.area(), ctx))
        .expect("draw");
    terminal.backend().to_string()
}

/// Hands the screen the next `n` events of the app's queue, as the shell would (they come through
/// a forwarding thread, so each is waited for). Returns whether any changed the screen.
fn deliver(screen: &mut DiagnoseScreen, ctx: &mut Ctx, n: usize) -> bool {
    let mut changed = false;
    for _ in 0..n {
        let event = ctx
            .events()
            .next_within(Duration::from_secs(10))
            .expect("an event within 10 s");
        changed |= ctx.apply(&event);
        changed |= screen.on_event(&event, ctx);
    }
    changed
}

fn draw_app(app: &mut App) -> String {
    common::draw_app(app, 120, 34)
}

/// Timestamps and the temporary folder vary between runs.
macro_rules! snapshot {
    ($name:literal, $text:expr) => {{
        insta::with_settings!({ filters => vec![
            (r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]"),
            (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "[TIME]"),
            (r"total \d+\.\d s", "total [T] s"),
            (r"chars, \d+ s\)", "chars, [T] s)"),
            (r"#\d+ ", "#[ID] "),
            (r"model \d+\.\d s", "model [T] s"),
        ] }, {
            insta::assert_snapshot!($name, $text);
        });
    }};
}

#[test]
fn the_screen_while_reasoning_streams_and_when_it_is_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = hdfs_log(dir.path());
    let config = common::config_with(dir.path(), &log, &common::repo("flowcharts"));
    let store = Store::open(&config.db.value).expect("store");
    let mut ctx = Ctx::new(config, store);
    let mut screen = DiagnoseScreen::default();
    screen.start(&mut ctx);
    let charts =
        logreasoner_core::flowchart::valid_charts(&common::repo("flowcharts")).expect("charts");
    let input = Input {
        source: log.display().to_string(),
        first_line: 1,
        lines: common::HDFS_WINDOW.iter().map(|s| s.to_string()).collect(),
        question: None,
    };
    let plan = diagnose::plan(&charts, input, PromptLimits::default());
    let (tx, rx) = channel();
    screen
        .attach(plan, Running::from_channel(rx), &ctx)
        .expect("attach");
    // The events the model thread sends, a piece at a time.
    let reasoning = [
        "1. Re-replication: line 2 asks a DataNode to replicate a block.\n",
        "2. Line 3 shows a lost heartbeat, so a DataNode died.\n",
        "3. Line 4: the pending replication timed out; line 5: the transfer failed with a socket timeout.\n",
    ];
    for piece in &reasoning[..2] {
        tx.send(Event::Text(piece.to_string())).expect("send");
    }
    // The screen told the status bar first that the model works for it, then the two pieces.
    assert!(deliver(&mut screen, &mut ctx, 3));
    let (work, _) = ctx
        .model_work()
        .expect("the model's work is in the status bar");
    assert_eq!(work, "diagnosing lines 1..5");
    snapshot!("diagnose_streaming", draw_screen(&mut screen, &ctx));

    tx.send(Event::Text(reasoning[2].to_string()))
        .expect("send");
    let closing = "Anomalous: yes\nCause: network_failure\nConfidence: 0.7\nEvidence: 3, 4, 5\nAnswer: abnormal";
    tx.send(Event::Text(closing.into())).expect("send");
    tx.send(Event::Done(Generation {
        text: reasoning.concat() + closing,
        prompt_tokens: 900,
        cached_tokens: 0,
        generated_tokens: 80,
        stop: StopReason::EndToken,
        prefill_secs: 2.0,
        decode_secs: 4.0,
        first_token_secs: Some(2.1),
    }))
    .expect("send");
    assert!(deliver(&mut screen, &mut ctx, 3));
    // The work's end and the speed, both posted for the status bar.
    assert!(deliver(&mut screen, &mut ctx, 2));
    assert!(ctx.model_work().is_none() && ctx.model_speed().is_some());
    snapshot!("diagnose_done", draw_screen(&mut screen, &ctx));
    // At 80x24 the screen gets 80x21: the verdict card still shows its timings.
    let small = draw_sized(&mut screen, &ctx, 80, 21);
    assert!(small.contains("first token 2.1 s"), "{small}");
    snapshot!("diagnose_done_80x24", small);
    let saved: Vec<Diagnosis> = ctx.store.all().expect("diagnoses");
    assert_eq!(saved.len(), 1);
    assert_eq!(
        saved[0].evidence,
        [2, 3, 4, 5],
        "cited in the steps and in Evidence:"
    );
    assert_eq!(saved[0].cause.as_deref(), Some("network_failure"));
    assert_eq!(saved[0].first_token_ms, Some(2100));
    assert!(ctx
        .model_speed()
        .is_some_and(|s| s.contains("prefill 450 tok/s")));
}

#[test]
fn without_a_model_the_screen_says_how_to_fetch_one_and_shows_the_walk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = hdfs_log(dir.path());
    let mut config = common::config_with(dir.path(), &log, &common::repo("flowcharts"));
    config.model.value = dir.path().join("no-such-model.gguf");
    let mut app = common::app_with(config);
    app.handle_key(press_char('2'));
    assert_eq!(app.active_screen(), ScreenId::Diagnose);
    app.handle_key(press_char('r'));
    let screen = draw_app(&mut app);
    assert!(screen.contains("logreasoner model fetch"), "{screen}");
    assert!(screen.contains("ANOMALY"), "{screen}");
    assert!(screen.contains("network_failure"), "{screen}");
    // Reject it: a rejected solution on a new task instance, and the verdict's status.
    app.handle_key(press_char('x'));
    let store = &app.ctx.store;
    let d: Vec<Diagnosis> = store.all().expect("diagnoses");
    assert_eq!(d[0].status, ReviewStatus::Rejected);
    let instances: Vec<TaskInstance> = store.all().expect("instances");
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].task, Task::RootCause);
    assert_eq!(
        instances[0].gold, "",
        "a rejection leaves the gold answer open"
    );
    assert_eq!(instances[0].source, format!("diagnosis:{}", d[0].id));
    let solutions: Vec<Solution> = store.all().expect("solutions");
    assert_eq!(solutions[0].correct, Some(false));
    // A change of mind (x again, then a) updates the one solution and supplies the gold answer;
    // it never leaves two solutions that disagree about one verdict.
    app.handle_key(press_char('x'));
    app.handle_key(press_char('a'));
    let store = &app.ctx.store;
    let solutions: Vec<Solution> = store.all().expect("solutions");
    assert_eq!(solutions.len(), 1, "{solutions:#?}");
    assert_eq!(solutions[0].correct, Some(true));
    assert_eq!(solutions[0].diagnosis, Some(d[0].id));
    let instances: Vec<TaskInstance> = store.all().expect("instances");
    assert_eq!(instances.len(), 1);
    assert!(!instances[0].gold.is_empty());
    // And back: the rejection takes back the gold answer this diagnosis gave.
    app.handle_key(press_char('x'));
    let instances: Vec<TaskInstance> = app.ctx.store.all().expect("instances");
    assert_eq!(instances[0].gold, "");
    let solutions: Vec<Solution> = app.ctx.store.all().expect("solutions");
    assert_eq!((solutions.len(), solutions[0].correct), (1, Some(false)));
}

#[test]
fn the_default_model_diagnoses_the_selection_and_an_accept_becomes_labelled_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = hdfs_log(dir.path());
    let mut config = common::config_with(dir.path(), &log, &common::repo("flowcharts"));
    config.model.value = common::default_model();
    config.diagnosis.value.max_tokens = 24;
    let mut app = common::app_with(config);
    app.handle_key(press_char('2'));
    app.handle_key(press_char('r'));
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        app.pump_events();
        let done = app.ctx.store.count::<Diagnosis>().expect("count") == 1;
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no verdict:\n{}",
            draw_app(&mut app)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let d: Vec<Diagnosis> = app.ctx.store.all().expect("diagnoses");
    assert!(!d[0].reasoning.is_empty(), "the reasoning streamed");
    assert!(d[0].first_token_ms.is_some());
    assert_eq!(d[0].chart_id.as_deref(), Some("hdfs-replication"));
    let screen = draw_app(&mut app);
    assert!(
        screen.contains("tok/s"),
        "the status bar shows the speed:\n{screen}"
    );
    app.handle_key(press_char('a'));
    let d: Vec<Diagnosis> = app.ctx.store.all().expect("diagnoses");
    assert_eq!(d[0].status, ReviewStatus::Accepted);
    let solutions: Vec<Solution> = app.ctx.store.all().expect("solutions");
    assert_eq!(solutions.len(), 1);
    assert_eq!(solutions[0].correct, Some(true));
    assert!(solutions[0].text.ends_with(&format!(
        "Answer: {}",
        logreasoner_core::diagnose::review::answer_text(&d[0])
    )));
}

#[test]
fn the_watch_diagnoses_an_error_burst_in_a_followed_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.log");
    std::fs::write(&log, format!("{}\n", common::HDFS_WINDOW[0])).expect("write");
    let mut config = common::config_with(dir.path(), &log, &common::repo("flowcharts"));
    config.model.value = dir.path().join("no-model.gguf");
    config.diagnosis.value.watch = true;
    config.diagnosis.value.burst_errors = 2;
    config.diagnosis.value.min_interval_secs = 0;
    let mut app = common::app_with(config);
    app.handle_key(press_char('F'));
    let mut text = common::HDFS_WINDOW[1..].join("\n") + "\n";
    text.push_str("081109 203720 1920 ERROR dfs.DataNode: 10.250.14.224:50010:Exception writing block blk_-1608999687919862906 to mirror 10.251.215.16:50010\n");
    text.push_str("081109 203721 1920 ERROR dfs.DataNode: 10.250.14.224:50010:Exception writing block blk_-1608999687919862906 to mirror 10.251.215.16:50010\n");
    // Appended, as a logger does (rewriting the file would read as a truncation).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    std::io::Write::write_all(&mut f, text.as_bytes()).expect("append");
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.ctx.store.count::<Diagnosis>().expect("count") == 0 {
        assert!(Instant::now() < deadline, "the watch never fired");
        app.pump_events();
        std::thread::sleep(Duration::from_millis(50));
    }
    let d: Vec<Diagnosis> = app.ctx.store.all().expect("diagnoses");
    assert!(d[0].anomalous);
    assert_eq!((d[0].first_line, d[0].last_line), (2, 7));
}

/// On the Diagnose screen too, a selected range full of errors that no chart explains is compared
/// with the rest of its file (the Logs screen's selection carries the file's error count) and
/// called an anomaly with an unknown cause.
#[test]
fn a_selected_error_burst_no_chart_explains_is_an_anomaly_on_the_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let log = logs.join("app.jsonl");
    let lines: Vec<String> = (0..400)
        .map(|i| {
            let burst = (330..=360).contains(&i) && i % 3 == 0;
            let (level, msg) = if burst {
                ("error", "payment provider answered status 502 for order")
            } else {
                ("info", "order accepted")
            };
            format!(
                r#"{{"ts":"2026-12-03T11:{:02}:{:02}Z","level":"{level}","msg":"{msg}"}}"#,
                i / 60,
                i % 60
            )
        })
        .collect();
    std::fs::write(&log, lines.join("\n") + "\n").expect("write");
    let mut config = common::config_with(dir.path(), &logs, &common::repo("flowcharts"));
    config.model.value = dir.path().join("no-model.gguf");
    let mut app = common::app_with(config);
    // Select lines 301..400: the end, then a range up from it.
    app.handle_key(press_char('G'));
    app.handle_key(press_char('v'));
    for _ in 0..99 {
        app.handle_key(press_char('k'));
    }
    app.handle_key(press_char('v'));
    let selection = app.ctx.selection().cloned().expect("selection");
    assert_eq!((selection.first, selection.last()), (301, 400));
    let file = selection.file.as_ref().expect("one file's lines");
    assert_eq!((file.baseline.lines, file.baseline.errors), (300, 0));
    // The payment error is the one kind of message the file had not shown before line 301.
    assert_eq!(file.novel, Some(vec![331]));
    app.handle_key(press_char('2'));
    app.handle_key(press_char('r'));
    let d: Vec<Diagnosis> = app.ctx.store.all().expect("diagnoses");
    assert_eq!(d.len(), 1);
    assert!(d[0].anomalous, "{:?}", d[0]);
    assert_eq!(d[0].cause.as_deref(), Some("unknown"));
    assert_eq!(d[0].first_line, 301);
}

/// Long BGL lines in the window pane at 80x24: the message is beyond the edge until `>` scrolls
/// it into view (the line numbers stay); `s` shortens the headers and `z` wraps, at 140x42 too.
#[test]
fn the_window_pane_scrolls_long_lines_sideways_and_shortens_their_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bgl = std::fs::read_to_string(common::repo("assets/datasets/loghub-2k/BGL/BGL_2k.log"))
        .expect("BGL sample");
    let log = dir.path().join("bgl.log");
    let first: Vec<&str> = bgl.lines().take(12).collect();
    std::fs::write(&log, first.join("\n") + "\n").expect("write");
    let mut config = common::config_with(dir.path(), &log, &common::repo("flowcharts"));
    config.model.value = dir.path().join("no-such-model.gguf");
    let mut app = common::app_with(config);
    app.wait_for_jobs();
    app.handle_key(press_char('2'));
    app.handle_key(press_char('b'));
    for _ in 0..2 {
        app.handle_key(logreasoner_tui::keys::press(
            ratatui::crossterm::event::KeyCode::Tab,
        ));
    }
    let message = "failed to read message prefix";
    let cut = common::draw_app(&mut app, 80, 24);
    assert!(
        cut.contains("▸ bgl.log lines"),
        "the focused pane is marked: {cut}"
    );
    assert!(!cut.contains(message), "{cut}");
    snapshot!("diagnose_window_80x24", cut);
    for _ in 0..6 {
        app.handle_key(press_char('>'));
    }
    let scrolled = common::draw_app(&mut app, 80, 24);
    assert!(scrolled.contains("from column 97"), "{scrolled}");
    assert!(scrolled.contains("ciod: failed to read"), "{scrolled}");
    snapshot!("diagnose_window_80x24_scrolled", scrolled);
    app.handle_key(press_char('s'));
    for _ in 0..6 {
        app.handle_key(press_char('<'));
    }
    let short = common::draw_app(&mut app, 140, 42);
    assert!(short.contains("FATAL APP: ciod: failed to read"), "{short}");
    snapshot!("diagnose_window_140x42_short", short);
    app.handle_key(press_char('z'));
    let wrapped = common::draw_app(&mut app, 80, 24);
    assert!(wrapped.contains("window: lines wrapped"), "{wrapped}");
    snapshot!("diagnose_window_80x24_wrapped", wrapped);
}
