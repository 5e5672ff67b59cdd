//! The Thoughts and Solutions review screens driven by key events: accept, reject, inline edit (with
//! its diff and regrading), filters, and snapshots.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use logreasoner_core::store::{
    ReviewDecision, ReviewStatus, ReviewTarget, Solution, Store, Task, TaskInstance, Thought,
    ThoughtOrigin,
};
use logreasoner_tui::keys::{press, press_char};
use logreasoner_tui::screens::ScreenId;
use logreasoner_tui::App;

fn draw(app: &mut App) -> String {
    common::draw_app(app, 120, 30)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn setup(dir: &Path) -> App {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("a.log"), "hello\n").expect("write");
    let mut config = common::config_with(dir, &logs, &common::repo("flowcharts"));
    config.annotator.value = "ana".into();
    {
        let store = Store::open(&config.db.value).expect("store");
        let input = vec!["GM: Could not open port because LANai is not running.".to_string()];
        let mut i = TaskInstance {
            id: 0,
            task: Task::AnomalyDetection,
            system: "HPC".into(),
            instruction: "Classify the log line as normal or abnormal.".into(),
            content_hash: TaskInstance::hash(Task::AnomalyDetection, "", &input),
            input,
            gold: "abnormal".into(),
            source: "test".into(),
            params: BTreeMap::new(),
            created_at: 0,
        };
        store.insert_instance(&mut i).expect("instance");
        for text in [
            "1. Line 1: the port cannot open because LANai is down.\nAnswer: normal",
            "1. Line 1 reports a failure to open a port.\nAnswer: abnormal",
        ] {
            let mut s = Solution {
                id: 0,
                instance_id: i.id,
                thought_id: None,
                text: text.into(),
                answer: text.rsplit("Answer: ").next().map(str::to_string),
                score: Some(0.0),
                correct: Some(text.ends_with("abnormal")),
                model: "test".into(),
                status: ReviewStatus::Pending,
                diagnosis: None,
                created_at: 0,
            };
            store.insert(&mut s).expect("solution");
        }
    }
    common::app_with(config)
}

#[test]
fn solutions_are_accepted_rejected_edited_and_regraded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = setup(dir.path());
    app.handle_key(press(KeyCode::F(5)));
    assert_eq!(app.active_screen(), ScreenId::Solutions);
    insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
        insta::assert_snapshot!("solutions_pending", draw(&mut app));
    });
    // Edit the first one's answer line: normal → abnormal, saved as accepted.
    app.handle_key(press_char('e'));
    for _ in 0.."normal".len() {
        app.handle_key(press(KeyCode::Backspace));
    }
    for c in "abnormal".chars() {
        app.handle_key(press_char(c));
    }
    app.handle_key(ctrl('s'));
    let solutions: Vec<Solution> = app.ctx.store.all().expect("solutions");
    assert_eq!(solutions[0].status, ReviewStatus::Accepted);
    assert!(solutions[0].text.ends_with("Answer: abnormal"));
    assert_eq!(solutions[0].correct, Some(true), "regraded after the edit");
    let reviews: Vec<ReviewDecision> = app.ctx.store.all().expect("reviews");
    let edit = reviews[0].edit.as_ref().expect("the edit is recorded");
    assert!(edit.before.ends_with("Answer: normal"));
    // The pending filter now shows the second; reject it. The message line says so, and `u`
    // takes it back (pending again), then it is rejected for good.
    app.handle_key(press_char('x'));
    let solutions: Vec<Solution> = app.ctx.store.all().expect("solutions");
    assert_eq!(solutions[1].status, ReviewStatus::Rejected);
    let said = draw(&mut app);
    assert!(
        said.contains("rejected #3 on #1") && said.contains("(u undoes)"),
        "{said}"
    );
    app.handle_key(press_char('u'));
    let solutions: Vec<Solution> = app.ctx.store.all().expect("solutions");
    assert_eq!(solutions[1].status, ReviewStatus::Pending);
    assert!(draw(&mut app).contains("is pending again"));
    app.handle_key(press_char('u'));
    assert!(draw(&mut app).contains("nothing to undo"));
    app.handle_key(press_char('x'));
    let solutions: Vec<Solution> = app.ctx.store.all().expect("solutions");
    assert_eq!(solutions[1].status, ReviewStatus::Rejected);
    // Show all, back on the edited one: its diff is on screen.
    for _ in 0..4 {
        app.handle_key(press_char('f'));
    }
    app.handle_key(press_char('k'));
    let screen = draw(&mut app);
    assert!(
        screen.contains("- Answer: normal") && screen.contains("+ Answer: abnormal"),
        "{screen}"
    );
    insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
        insta::assert_snapshot!("solutions_edited_with_diff", screen);
    });
}

#[test]
fn thoughts_from_the_charts_are_reviewed_and_an_edit_is_a_new_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = setup(dir.path());
    app.handle_key(press(KeyCode::F(4)));
    assert_eq!(app.active_screen(), ScreenId::Thoughts);
    let screen = draw(&mut app);
    let charts = std::fs::read_dir(common::repo("flowcharts"))
        .expect("flowcharts")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert!(
        screen.contains(&format!("Thoughts ({charts})")),
        "the {charts} charts' derived thoughts: {screen}"
    );
    app.handle_key(press_char('a'));
    let thoughts: Vec<Thought> = app.ctx.store.all().expect("thoughts");
    assert_eq!(thoughts[0].status, ReviewStatus::Accepted);
    // Edit the next one: a new version by a person, accepted; the derived one stays as it was.
    let before = thoughts[1].clone();
    app.handle_key(press_char('e'));
    app.handle_key(press(KeyCode::Enter));
    for c in "- Logs may be partial.".chars() {
        app.handle_key(press_char(c));
    }
    app.handle_key(ctrl('s'));
    let thoughts: Vec<Thought> = app.ctx.store.all().expect("thoughts");
    let new = thoughts.last().expect("new version");
    assert_eq!(new.chart_id, before.chart_id);
    assert_eq!(new.version, before.version + 1);
    assert_eq!(new.status, ReviewStatus::Accepted);
    assert_eq!(
        new.origin,
        ThoughtOrigin::Human {
            annotator: "ana".into()
        }
    );
    assert!(
        new.steps
            .last()
            .is_some_and(|s| s.contains("Logs may be partial")),
        "{:?}",
        new.steps
    );
    // The edited one is rejected in favour of the new version, with the edit recorded on it.
    assert_eq!(
        app.ctx
            .store
            .load::<Thought>(before.id)
            .expect("old")
            .status,
        ReviewStatus::Rejected
    );
    let reviews: Vec<ReviewDecision> = app.ctx.store.all().expect("reviews");
    let last = reviews.last().expect("review");
    assert_eq!(last.target, ReviewTarget::Thought(before.id));
    assert!(last
        .edit
        .as_ref()
        .is_some_and(|e| e.after.contains("Logs may be partial")));
    insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]"), (r"#\d{6,}", "#[ID]")] }, {
        insta::assert_snapshot!("thoughts_pending", draw(&mut app));
    });
}

/// `G`/End and Home move to the last and the first item, as on the Logs screen.
#[test]
fn end_and_home_jump_to_the_last_and_first_thought() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = setup(dir.path());
    app.handle_key(press(KeyCode::F(4)));
    let mut ids: Vec<String> = std::fs::read_dir(common::repo("flowcharts"))
        .expect("flowcharts")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .filter_map(|e| {
            e.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect();
    ids.sort();
    let (first, last) = (ids.first().expect("charts"), ids.last().expect("charts"));
    app.handle_key(press_char('G'));
    let screen = draw(&mut app);
    assert!(
        screen.contains(&format!("{last} v1 derived · Pending")),
        "{screen}"
    );
    app.handle_key(press(KeyCode::Home));
    let screen = draw(&mut app);
    assert!(
        screen.contains(&format!("{first} v1 derived · Pending")),
        "{screen}"
    );
}

/// An empty Solutions screen says how to get solutions, and asks for the model to be fetched only
/// where the configured model is not there.
#[test]
fn the_empty_state_mentions_fetching_only_a_missing_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("a.log"), "hello\n").expect("write");
    for (model, fetch) in [
        (dir.path().join("missing.gguf"), true),
        (common::default_model(), false),
    ] {
        let mut config = common::config_with(dir.path(), &logs, &common::repo("flowcharts"));
        config.model.value = model;
        let mut app = common::app_with(config);
        app.handle_key(press(KeyCode::F(5)));
        let screen = common::draw_app(&mut app, 140, 30);
        assert!(
            screen.contains("No solutions with these filters"),
            "{screen}"
        );
        assert_eq!(
            screen.contains("logreasoner model fetch"),
            fetch,
            "{screen}"
        );
    }
}
