//! The Logs screen driven by key events on the TestBackend, on the bundled HDFS incident sample:
//! search, a level filter, the template panel, a range selection, error/warning jumps, marks, the
//! merged view and follow mode.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::KeyCode;

use logreasoner::tui::keys::{press, press_char};
use logreasoner::tui::App;

/// Relative to the package root (the working directory of tests), so titles and snapshots do not
/// depend on where the repository is checked out.
fn sample(name: &str) -> PathBuf {
    PathBuf::from("assets/samples").join(name)
}

fn draw(app: &mut App) -> String {
    common::draw_app(app, 120, 30)
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(press_char(c));
    }
}

macro_rules! snapshot {
    ($name:literal, $app:expr) => {{
        insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
            insta::assert_snapshot!($name, draw($app));
        });
    }};
}

fn open(logs: &Path) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = common::app(dir.path(), logs);
    (dir, app)
}

fn cursor_line(app: &mut App) -> usize {
    let screen = draw(app);
    let row = screen
        .lines()
        .find(|l| l.contains('▶'))
        .unwrap_or_else(|| panic!("no cursor in\n{screen}"));
    let before: String = row
        .split('▶')
        .next()
        .unwrap_or_default()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    before
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no line number in {row}"))
}

#[test]
fn search_jumps_to_the_first_match_and_n_to_the_next() {
    let (_dir, mut app) = open(&sample("hdfs-datanode-loss.log"));
    keys(&mut app, "/lost heartbeat");
    assert!(draw(&mut app).contains("search (regex)"));
    app.handle_key(press(KeyCode::Enter));
    assert_eq!(cursor_line(&mut app), 181);
    snapshot!("logs_search", &mut app);
    keys(&mut app, "/Got exception while serving");
    app.handle_key(press(KeyCode::Enter));
    assert!(
        draw(&mut app).contains("no match below"),
        "nothing matches below line 181"
    );
    keys(&mut app, "N");
    assert_eq!(cursor_line(&mut app), 140);
    keys(&mut app, "N");
    assert_eq!(cursor_line(&mut app), 129);
    keys(&mut app, "n");
    assert_eq!(cursor_line(&mut app), 140);
    keys(&mut app, "/(unclosed");
    app.handle_key(press(KeyCode::Enter));
    assert!(draw(&mut app).contains("not a regex"));
}

#[test]
fn a_level_filter_shows_only_warnings_and_worse() {
    let (_dir, mut app) = open(&sample("hdfs-datanode-loss.log"));
    keys(&mut app, "LL");
    let screen = draw(&mut app);
    assert!(screen.contains("level ≥ WARN"), "{screen}");
    snapshot!("logs_level_filter", &mut app);
    let shown = screen.lines().filter(|l| l.contains(" WARN ")).count();
    assert!(shown >= 9 && !screen.contains(" INFO dfs."), "{screen}");
    keys(&mut app, "c");
    assert!(draw(&mut app).contains("370 lines"));
}

#[test]
fn error_and_warning_jumps() {
    let (_dir, mut app) = open(&sample("hdfs-datanode-loss.log"));
    keys(&mut app, "w");
    assert_eq!(cursor_line(&mut app), 128);
    keys(&mut app, "w");
    assert_eq!(cursor_line(&mut app), 129);
    keys(&mut app, "W");
    assert_eq!(cursor_line(&mut app), 128);
    keys(&mut app, "e");
    assert!(draw(&mut app).contains("no error below"));
}

#[test]
fn the_template_panel_lists_templates_and_filters_on_enter() {
    let (_dir, mut app) = open(&sample("hdfs-datanode-loss.log"));
    keys(&mut app, "t");
    snapshot!("logs_templates", &mut app);
    // Enter on the first (most frequent) template shows only its lines; x on it hides them instead.
    app.handle_key(press(KeyCode::Enter));
    let only = draw(&mut app);
    assert!(only.contains("only 1 template(s)"), "{only}");
    app.handle_key(press(KeyCode::Enter));
    keys(&mut app, "x");
    let hidden = draw(&mut app);
    assert!(hidden.contains("1 template(s) hidden"), "{hidden}");
}

#[test]
fn a_range_selection_is_what_other_screens_get() {
    let (_dir, mut app) = open(&sample("hdfs-datanode-loss.log"));
    keys(&mut app, "/lost heartbeat");
    app.handle_key(press(KeyCode::Enter));
    keys(&mut app, "vjjjjjv");
    snapshot!("logs_selection", &mut app);
    let sel = app.ctx.selection.clone().expect("selection");
    assert_eq!((sel.first, sel.last()), (181, 186));
    assert!(sel.lines()[0].contains("lost heartbeat"));
    app.handle_key(press(KeyCode::Esc));
    // Without a range, the selection is the file around the cursor.
    assert_eq!(
        app.ctx.selection.as_ref().map(|s| s.lines().len()),
        Some(370)
    );
}

#[test]
fn marks_and_the_merged_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("a.log"), "2015-07-29 17:41:44,747 - INFO  [main:A@1] - first\n2015-07-29 17:41:46,000 - WARN  [main:A@1] - third\n").expect("write");
    std::fs::write(
        logs.join("b.log"),
        "2015-07-29 17:41:45,000 - ERROR [main:B@1] - second\n",
    )
    .expect("write");
    let mut app = common::app(dir.path(), &logs);
    keys(&mut app, "m");
    assert!(draw(&mut app).contains("1 marked"));
    app.handle_key(press(KeyCode::Tab));
    keys(&mut app, "jj");
    app.handle_key(press(KeyCode::Enter));
    let merged = draw(&mut app);
    assert!(merged.contains("2 files merged by time"), "{merged}");
    let order: Vec<&str> = merged
        .lines()
        .filter_map(|l| {
            ["first", "second", "third"]
                .into_iter()
                .find(|w| l.contains(w))
        })
        .collect();
    assert_eq!(order, ["first", "second", "third"], "{merged}");
    keys(&mut app, "M");
    assert!(
        draw(&mut app).contains("▶[1] 2015-07-29 17:41:44,747"),
        "the mark set in a.log is found in the merged view"
    );
}

#[test]
fn follow_mode_shows_appended_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.log");
    std::fs::write(&log, "Jun 14 15:16:01 combo app[1]: started\n").expect("write");
    let mut app = common::app(dir.path(), &log);
    keys(&mut app, "F");
    assert!(draw(&mut app).contains("following"));
    // Appended, not rewritten: a rewrite truncates the file first, and a poll that lands
    // between the truncation and the write sees a truncated log and reads it anew (the test
    // then sometimes counted three lines).
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    std::io::Write::write_all(
        &mut file,
        b"Jun 14 15:16:02 combo app[1]: write failed: No space left on device\n",
    )
    .expect("append");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !draw(&mut app).contains("No space left") {
        assert!(
            Instant::now() < deadline,
            "the appended line never showed:\n{}",
            draw(&mut app)
        );
        app.pump_jobs();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        cursor_line(&mut app),
        2,
        "the view stays at the end while following"
    );
    keys(&mut app, "F");
    assert!(draw(&mut app).contains("stopped following"));
}
