//! The Logs screen driven by key events on the TestBackend, on the bundled HDFS incident sample:
//! search, a level filter, the template panel, a range selection, error/warning jumps, marks, the
//! merged view and follow mode.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::KeyCode;

use logreasoner_tui::keys::{press, press_char};
use logreasoner_tui::App;

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
    assert!(
        draw(&mut app).contains("1 matching line(s)"),
        "the hit count"
    );
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
    let sel = app.ctx.selection().cloned().expect("selection");
    assert_eq!((sel.first, sel.last()), (181, 186));
    assert!(sel.lines()[0].contains("lost heartbeat"));
    app.handle_key(press(KeyCode::Esc));
    // Without a range, the selection is the file around the cursor.
    assert_eq!(app.ctx.selection().map(|s| s.lines().len()), Some(370));
    // In the Files pane `v` selects nothing and says where to go.
    app.handle_key(press(KeyCode::Tab));
    keys(&mut app, "v");
    assert!(draw(&mut app).contains("Tab to the lines pane first"));
    assert_eq!(app.ctx.selection().map(|s| s.lines().len()), Some(370));
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
        app.pump_events();
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

/// An app on a fresh 30-line log whose lines end in `<word> <n>`.
fn thirty_lines(word: &str) -> (tempfile::TempDir, PathBuf, App) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let text: String = (1..=30)
        .map(|i| format!("Jun 14 15:16:{i:02} combo app[1]: {word} {i}\n"))
        .collect();
    std::fs::write(&log, text).expect("write");
    let app = common::app(dir.path(), &log);
    (dir, log, app)
}

/// `logrotate copytruncate` empties the open log and the program writes on: the view reads the
/// new content from the file's start instead of dying (the old mapping raised SIGBUS) or waiting
/// for the file to grow past its old length. Like `tail -F`, the lines already shown stay above
/// as history, and the status says what happened.
#[test]
fn a_log_truncated_while_following_is_read_anew() {
    let (_dir, log, mut app) = thirty_lines("old line");
    keys(&mut app, "GF");
    assert!(draw(&mut app).contains("old line 30"));
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .expect("truncate");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    std::io::Write::write_all(&mut file, b"Jun 14 15:17:00 combo app[1]: after rotation\n")
        .expect("append");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        app.pump_events();
        let screen = draw(&mut app);
        if screen.contains("after rotation") {
            assert!(
                screen.contains("the file was truncated; reading from its start"),
                "{screen}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rewritten log never showed:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    keys(&mut app, "ggjG");
    assert_eq!(
        cursor_line(&mut app),
        31,
        "the new line follows the history"
    );
}

/// Without follow mode the screen keeps the snapshot it read: truncating the file under it
/// changes nothing on screen and every key still works.
#[test]
fn a_log_truncated_under_a_still_view_keeps_its_snapshot() {
    let (_dir, log, mut app) = thirty_lines("line");
    std::fs::write(&log, "").expect("truncate");
    keys(&mut app, "G/line 2");
    app.handle_key(press(KeyCode::Enter));
    keys(&mut app, "nvjy");
    app.pump_events();
    let screen = draw(&mut app);
    assert!(screen.contains("line 2"), "{screen}");
}

/// Bytes of a log line that would drive the terminal (clear screen, set the title, move the
/// cursor, an OSC 8 link) never reach it: the frame written through crossterm carries only the
/// escape sequences the TUI itself emits.
#[test]
fn escape_sequences_in_a_log_never_reach_the_terminal() {
    use ratatui::backend::CrosstermBackend;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("hostile.log");
    std::fs::write(
        &log,
        "Jun 14 15:16:01 combo app[1]: \x1bc\x1b]0;pwned\x07 title \x1b[2J\x1b[H home\n\
         Jun 14 15:16:02 combo app[1]: \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ \u{9b}31m C1 \u{202e}bidi\n",
    )
    .expect("write");
    let mut app = common::app(dir.path(), &log);
    /// What the backend writes, kept where the test can read it.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    // A fixed viewport: the backend never asks a (missing) tty for its size.
    let mut terminal = ratatui::Terminal::with_options(
        CrosstermBackend::new(capture.clone()),
        ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 120, 30)),
        },
    )
    .expect("terminal");
    terminal.draw(|f| app.render(f)).expect("draw");
    let bytes = capture.0.lock().expect("capture").clone();
    let text = String::from_utf8_lossy(&bytes);
    for injected in [
        "\x1bc", "\x1b]0;", "\x1b]8;", "\x1b[2J", "\u{9b}", "\u{202e}", "\x07",
    ] {
        assert!(
            !text.contains(injected),
            "{injected:?} from the log reached the terminal"
        );
    }
    assert!(
        text.contains("pwned") && text.contains("home"),
        "the text around them stays"
    );
}

/// At 80x24 a BGL line's header fills the pane: `s` shortens headers to time, level and component
/// so the message shows, and `>` / `<` scroll what is still cut.
#[test]
fn a_bgl_message_comes_into_view_at_80_columns() {
    let (_dir, mut app) = open(&sample("bgl-kernel-fault-burst.log"));
    let small = |app: &mut App| common::draw_app(app, 80, 24);
    let before = small(&mut app);
    assert!(!before.contains("10731 total"), "{before}");
    keys(&mut app, "s");
    let short = small(&mut app);
    assert!(short.contains("KERNEL: 10731 total"), "{short}");
    assert!(short.contains("short headers"), "{short}");
    keys(&mut app, ">>>");
    let scrolled = small(&mut app);
    assert!(scrolled.contains("from column 49"), "{scrolled}");
    // The summary says it once, beside the line count (the message line said what `s` does).
    assert!(
        scrolled.contains(" 316 lines · short headers · from column 49 "),
        "{scrolled}"
    );
    assert!(!scrolled.contains("2005-09-21-07.05.07"), "{scrolled}");
    keys(&mut app, "<<<s");
    let back = small(&mut app);
    let rows = |screen: &str| {
        screen
            .lines()
            .take(21)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&back), rows(&before), "whole lines again");
    assert!(back.contains("whole lines"), "{back}");
}

/// A JSON log shows its message column, and `:filter FIELD=VALUE` keeps the lines whose field has
/// that value, says how many, is listed in the `?` overlay; `:filter` alone brings every line back.
#[test]
fn a_field_filter_keeps_the_lines_with_that_value() {
    let (_dir, mut app) = open(&sample("orders-api-db-refused.jsonl"));
    let text = std::fs::read_to_string(sample("orders-api-db-refused.jsonl")).expect("sample");
    let errors = text
        .lines()
        .filter(|l| l.contains(r#""level":"error""#))
        .count();
    assert!(errors > 0 && errors < text.lines().count());
    common::type_keys(&mut app, ":filter level=error");
    app.handle_key(press(KeyCode::Enter));
    let screen = draw(&mut app);
    assert!(
        screen.contains(&format!("filter level=error: {errors} line(s)")),
        "{screen}"
    );
    // Structured lines show their message column by default: time, level, component, message.
    assert!(
        screen.contains("ERROR orders.db: connection refused"),
        "{screen}"
    );
    snapshot!("logs_field_filter", &mut app);
    app.handle_key(press_char('?'));
    for _ in 0..60 {
        app.handle_key(press_char('j'));
    }
    assert!(
        draw(&mut app).contains("filter FIELD=VALUE"),
        "{}",
        draw(&mut app)
    );
    app.handle_key(press(KeyCode::Esc));
    common::type_keys(&mut app, ":filter");
    app.handle_key(press(KeyCode::Enter));
    assert!(draw(&mut app).contains("field filter cleared"));
    common::type_keys(&mut app, ":filter nonsense");
    app.handle_key(press(KeyCode::Enter));
    assert!(draw(&mut app).contains("usage: :filter FIELD=VALUE"));
}

/// `z` wraps long lines onto up to eight rows, each continued under the text with the line number
/// kept once; moving down keeps the cursor on screen though lines above it take several rows.
/// At 80x24 the end of a 500-character BGL line is read without scrolling sideways.
#[test]
fn z_wraps_long_lines_and_the_cursor_stays_on_screen() {
    let bgl = std::fs::read_to_string(common::repo("assets/datasets/loghub-2k/BGL/BGL_2k.log"))
        .expect("BGL sample");
    let longest = bgl
        .lines()
        .max_by_key(|l| l.len())
        .expect("a line")
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let mut text = String::new();
    for n in 0..40 {
        text.push_str(if n % 4 == 1 { &longest } else { "- short line" });
        text.push('\n');
    }
    std::fs::write(logs.join("bgl.log"), text).expect("write");
    let (_home, mut app) = open(&logs);
    let small = |app: &mut App| common::draw_app(app, 80, 24);
    // 300 characters in: cut at the edge before, wrapped into view after `z`.
    let tail: String = longest.chars().skip(300).take(12).collect();
    assert!(!small(&mut app).contains(&tail));
    keys(&mut app, "z");
    let wrapped = small(&mut app);
    assert!(wrapped.contains(&tail), "`{tail}`:\n{wrapped}");
    assert!(wrapped.contains("long lines wrap"), "{wrapped}");
    let wide = common::draw_app(&mut app, 140, 42);
    assert!(wide.contains(&tail), "`{tail}`:\n{wide}");
    insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
        insta::assert_snapshot!("logs_wrapped_80x24", wrapped);
        insta::assert_snapshot!("logs_wrapped_140x42", wide);
    });
    keys(&mut app, &"j".repeat(37));
    let down = small(&mut app);
    assert_eq!(cursor_line(&mut app), 38, "{down}");
    assert!(down.contains("▶"), "{down}");
    // `>` does nothing while wrapped, and says why; `z` again cuts lines at the edge.
    keys(&mut app, ">");
    assert!(small(&mut app).contains("z unwraps"));
    keys(&mut app, "z");
    assert!(!small(&mut app).contains(&tail));
    // Marks and level filters say what they did.
    keys(&mut app, "m");
    assert!(small(&mut app).contains("marked line 38"));
    keys(&mut app, "m");
    assert!(small(&mut app).contains("unmarked line 38"));
}

/// `H` shows lines over time with a time axis: first and last time, what a column spans, the peak.
#[test]
fn the_histogram_has_a_time_axis_and_a_scale() {
    let (_dir, mut app) = open(&sample("bgl-kernel-fault-burst.log"));
    keys(&mut app, "H");
    for (w, h) in [(80, 24), (140, 42)] {
        let screen = common::draw_app(&mut app, w, h);
        assert!(screen.contains("2005-09-21 14:05:07"), "{w}x{h}:\n{screen}");
        assert!(
            screen.contains(", peak ") || screen.contains("· peak "),
            "{w}x{h}:\n{screen}"
        );
        insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
            insta::assert_snapshot!(format!("logs_histogram_{w}x{h}"), screen);
        });
    }
}
