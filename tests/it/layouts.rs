//! Every screen at the two sizes the TUI is made for, 80x24 and 140x42, on the same data: BGL
//! lines on the Logs screen, the shipped charts, seeded instances and solutions. A layout that
//! cuts what matters shows up in these snapshots.

use crate::common;

use ratatui::crossterm::event::KeyCode;

use logreasoner_tui::keys::press;
use logreasoner_tui::App;

fn app(dir: &std::path::Path) -> App {
    let bgl = std::fs::read_to_string(common::repo("assets/datasets/loghub-2k/BGL/BGL_2k.log"))
        .expect("BGL sample");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let head: Vec<&str> = bgl.lines().take(60).collect();
    std::fs::write(logs.join("bgl.log"), head.join("\n") + "\n").expect("write");
    let config = common::config_with(dir, &logs, &common::repo("flowcharts"));
    crate::label_screen::seed(&config.db.value);
    let mut app = common::app_with(config);
    app.wait_for_jobs();
    app
}

macro_rules! snapshot {
    ($name:expr, $text:expr) => {{
        insta::with_settings!({ filters => vec![
            (r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]"),
            (r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?", "[TIME]"),
            (r"#\d+", "#[ID]"),
        ] }, {
            insta::assert_snapshot!($name, $text);
        });
    }};
}

#[test]
fn every_screen_at_80x24_and_140x42() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = app(dir.path());
    let names = [
        "logs",
        "diagnose",
        "flowcharts",
        "thoughts",
        "solutions",
        "label",
        "train",
        "eval",
    ];
    for (n, name) in names.iter().enumerate() {
        app.handle_key(press(KeyCode::F(n as u8 + 1)));
        app.wait_for_jobs();
        for (w, h) in [(80, 24), (140, 42)] {
            let screen = common::draw_app(&mut app, w, h);
            // The tab bar names every screen at either size.
            let tabs = screen.lines().next().unwrap_or_default();
            assert!(tabs.contains("8 Eval"), "{name} {w}x{h}: {tabs}");
            snapshot!(format!("{name}_{w}x{h}"), screen);
        }
    }
}
