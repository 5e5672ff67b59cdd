//! An editing session on the Flowcharts screen, driven by key events on the TestBackend: open a chart,
//! add a node, relink, undo, redo, save; the saved file is asserted.

use crate::common;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use logreasoner_core::flowchart;
use logreasoner_tui::keys::{press, press_char};
use logreasoner_tui::App;

const CHART: &str = "\
id: disk-full
title: Service fails because the disk is full
system: Linux
symptoms:
  - 'No space left on device'
start: space-errors
nodes:
  space-errors:
    kind: decision
    text: Do writes fail with ENOSPC?
    check: { any: 'No space left on device' }
    branches: { yes: data-growth, no: ask-storage }
  data-growth:
    kind: conclusion
    text: Data grew past capacity.
    cause: capacity
    remedy: Add space or move data.
  ask-storage:
    kind: escalate
    text: Ask the storage team.
";

fn draw(app: &mut App) -> String {
    common::draw_app(app, 110, 34)
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(press_char(c));
    }
}

fn enter(app: &mut App) {
    app.handle_key(press(KeyCode::Enter));
}

macro_rules! snapshot {
    ($name:literal, $app:expr) => {{
        insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
            insta::assert_snapshot!($name, draw($app));
        });
    }};
}

fn setup() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().expect("tempdir");
    let charts = dir.path().join("flowcharts");
    std::fs::create_dir_all(&charts).expect("mkdir");
    std::fs::write(charts.join("disk-full.yaml"), CHART).expect("write");
    std::fs::write(
        charts.join("broken.yaml"),
        "id: broken\ntitle: x\nsystem: y\nsymptoms: []\nstart: a\nnodes: {}\nextra: 1\n",
    )
    .expect("write");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(
        logs.join("app.log"),
        "Jun 14 15:16:01 host app[1]: started\nJun 14 15:16:04 host app[1]: write /data/x: No space left on device\n",
    )
    .expect("write");
    let mut app = common::app_with(common::config_with(dir.path(), &logs, &charts));
    keys(&mut app, "3");
    (dir, app)
}

#[test]
fn the_list_shows_validation_status_and_the_tree() {
    let (_dir, mut app) = setup();
    let screen = draw(&mut app);
    assert!(screen.contains("Flowcharts 1/2 valid"), "{screen}");
    assert!(screen.contains("✗ broken"), "{screen}");
    // The invalid chart shows its problem with line and column.
    assert!(screen.contains("7:1: unknown field `extra`"), "{screen}");
    keys(&mut app, "j");
    snapshot!("flowcharts_list", &mut app);
}

#[test]
fn an_editing_session_adds_relinks_undoes_redoes_and_saves() {
    let (dir, mut app) = setup();
    let path = dir.path().join("flowcharts/disk-full.yaml");
    keys(&mut app, "j"); // broken.yaml sorts first
    enter(&mut app);
    snapshot!("editor_open", &mut app);

    // Add an action node: it is unlinked, so validation says so while it is open.
    keys(&mut app, "a");
    keys(&mut app, "free-space");
    enter(&mut app);
    let screen = draw(&mut app);
    assert!(
        screen.contains("node `free-space` cannot be reached"),
        "{screen}"
    );
    assert!(screen.contains("has no `next`"), "{screen}");

    // Give it a next, then relink the decision's `no` branch to it.
    keys(&mut app, "r");
    keys(&mut app, "ask-storage");
    enter(&mut app);
    keys(&mut app, "k"); // from the unreachable node up the tree to the start
    keys(&mut app, "kkk");
    keys(&mut app, "r");
    keys(&mut app, "no free-space");
    enter(&mut app);
    snapshot!("editor_relinked", &mut app);

    // Edit the new node's text through the field editor, watching live validation.
    keys(&mut app, "jj"); // to free-space
    app.handle_key(press(KeyCode::Tab));
    keys(&mut app, "j");
    enter(&mut app);
    app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    keys(&mut app, "Delete rotated logs to free space");
    snapshot!("editor_typing", &mut app);
    enter(&mut app);
    app.handle_key(press(KeyCode::Tab));

    // Undo the text edit and the relink, redo both.
    keys(&mut app, "uu");
    let undone = draw(&mut app);
    assert!(undone.contains("no → ▲ ask-storage"), "{undone}");
    assert!(
        undone.contains("undone; "),
        "the message line says it: {undone}"
    );
    app.handle_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    keys(&mut app, "U");
    let redone = draw(&mut app);
    assert!(
        redone.contains("no → ■ free-space: Delete rotated logs to free space"),
        "{redone}"
    );

    keys(&mut app, "s");
    let saved = draw(&mut app);
    assert!(saved.contains("saved "), "{saved}");
    let text = std::fs::read_to_string(&path).expect("saved file");
    let chart = flowchart::load_file(&path).expect("saved chart is valid");
    assert_eq!(chart.nodes["space-errors"].branches["no"], "free-space");
    assert_eq!(
        chart.nodes["free-space"].next.as_deref(),
        Some("ask-storage")
    );
    assert_eq!(
        chart.nodes["free-space"].text,
        "Delete rotated logs to free space"
    );
    // Only what was edited is rewritten: the untouched symptom and check keep their quotes and
    // flow style; the edited branches come back in block style.
    assert_eq!(
        text,
        "id: disk-full\ntitle: Service fails because the disk is full\nsystem: Linux\nsymptoms:\n  - 'No space left on device'\nstart: space-errors\nnodes:\n  space-errors:\n    kind: decision\n    text: Do writes fail with ENOSPC?\n    check: { any: 'No space left on device' }\n    branches:\n      yes: data-growth\n      no: free-space\n  data-growth:\n    kind: conclusion\n    text: Data grew past capacity.\n    cause: capacity\n    remedy: Add space or move data.\n  ask-storage:\n    kind: escalate\n    text: Ask the storage team.\n  free-space:\n    kind: action\n    text: Delete rotated logs to free space\n    next: ask-storage\n"
    );
    // The derived thought was recorded for the saved chart.
    let thoughts = app
        .ctx
        .store
        .all::<logreasoner_core::store::Thought>()
        .expect("thoughts");
    assert!(thoughts
        .iter()
        .any(|t| t.chart_id.as_deref() == Some("disk-full")));
}

#[test]
fn an_invalid_draft_is_not_saved_and_revert_restores_the_file() {
    let (dir, mut app) = setup();
    keys(&mut app, "j");
    enter(&mut app);
    keys(&mut app, "jd"); // delete the conclusion the decision points at
    keys(&mut app, "s");
    let screen = draw(&mut app);
    assert!(
        screen.contains("not saved: 1 problem(s) to fix first"),
        "{screen}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flowcharts/disk-full.yaml")).expect("read"),
        CHART
    );
    keys(&mut app, "R");
    assert!(draw(&mut app).contains("✓ valid"));
    // Leaving with no changes needs one q; after a change it asks first.
    keys(&mut app, "q");
    assert!(draw(&mut app).contains("Enter edits"));
}

#[test]
fn the_walk_preview_runs_on_the_logs_selection() {
    let (_dir, mut app) = setup();
    keys(&mut app, "j");
    enter(&mut app);
    keys(&mut app, "w");
    let screen = draw(&mut app);
    assert!(screen.contains("space-errors holds [2] → yes"), "{screen}");
    assert!(screen.contains("conclusion: capacity"), "{screen}");
}

#[test]
fn a_new_chart_starts_from_a_valid_template() {
    let (dir, mut app) = setup();
    keys(&mut app, "n");
    keys(&mut app, "bad id");
    assert!(draw(&mut app).contains("use letters, digits, - and _ only"));
    for _ in 0..6 {
        app.handle_key(press(KeyCode::Backspace));
    }
    keys(&mut app, "kernel-panic");
    enter(&mut app);
    assert!(draw(&mut app).contains("✓ valid"));
    // Valid, but still the template's words: not saved until a person has written the chart.
    keys(&mut app, "s");
    let refused = draw(&mut app);
    assert!(
        refused.contains("not saved: still the new-chart template's the title"),
        "{refused}"
    );
    let path = dir.path().join("flowcharts/kernel-panic.yaml");
    assert!(!path.exists());
    // The chart's own fields by `:` commands, the nodes' texts in the field editor.
    let command = |app: &mut App, line: &str| {
        keys(app, ":");
        keys(app, line);
        enter(app);
    };
    command(&mut app, "title Kernel panics at boot");
    command(&mut app, "symptoms ['Kernel panic', 'not syncing']");
    command(&mut app, "system Linux");
    let set_field = |app: &mut App, moves: &str, text: &str| {
        keys(app, moves);
        enter(app);
        app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        keys(app, text);
        enter(app);
    };
    app.handle_key(press(KeyCode::Tab));
    set_field(&mut app, "j", "Does the console show a kernel panic?");
    app.handle_key(press(KeyCode::Tab));
    keys(&mut app, "j"); // the conclusion
    app.handle_key(press(KeyCode::Tab));
    // The field cursor stays on `text` from node to node.
    set_field(
        &mut app,
        "",
        "A driver or the root file system failed at boot.",
    );
    set_field(
        &mut app,
        "jjjjjj",
        "Boot the previous kernel, then read the panic's call trace.",
    );
    app.handle_key(press(KeyCode::Tab));
    keys(&mut app, "s");
    let saved = draw(&mut app);
    assert!(saved.contains("saved "), "{saved}");
    let chart = flowchart::load_file(&path).expect("saved and valid");
    assert_eq!(chart.title, "Kernel panics at boot");
    assert_eq!(chart.symptoms, ["Kernel panic", "not syncing"]);
    assert!(flowchart::edit::placeholders(&chart).is_empty());
    keys(&mut app, "q");
    assert!(draw(&mut app).contains("Flowcharts 2/3 valid"));
}
