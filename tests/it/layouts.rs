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

/// One BGL instance whose lines run to 500 characters, and two solutions longer than their panes.
fn seed_long(db: &std::path::Path) -> String {
    use logreasoner_core::store::{ReviewStatus, Solution, Store, Task, TaskInstance};
    let bgl = std::fs::read_to_string(common::repo("assets/datasets/loghub-2k/BGL/BGL_2k.log"))
        .expect("BGL sample");
    // Without the alert tag, as the log has them; the longest line of the sample first.
    let mut lines: Vec<&str> = bgl
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |p| p.1))
        .collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.len()));
    let input: Vec<String> = lines.iter().take(3).map(|l| l.to_string()).collect();
    let store = Store::open(db).expect("store");
    let mut i = TaskInstance {
        id: 0,
        task: Task::AnomalyDetection,
        system: "BGL".into(),
        instruction: "Is any line of this BGL window abnormal?".into(),
        content_hash: TaskInstance::hash(Task::AnomalyDetection, "", &input),
        input: input.clone(),
        gold: "normal".into(),
        source: "test:long".into(),
        params: std::collections::BTreeMap::new(),
        created_at: 0,
    };
    store.insert_instance(&mut i).expect("instance");
    for (n, answer) in ["normal", "abnormal"].into_iter().enumerate() {
        let mut text: Vec<String> = (1..=14)
            .map(|k| format!("{k}. Step {k} of solution {n}: line 1 reports integer alignment exceptions, counted and corrected by the kernel, which is informational."))
            .collect();
        text.push(format!("Answer: {answer}"));
        let mut s = Solution {
            id: 0,
            instance_id: i.id,
            thought_id: None,
            text: text.join("\n"),
            answer: Some(answer.into()),
            score: None,
            correct: None,
            model: "test".into(),
            status: ReviewStatus::Pending,
            diagnosis: None,
            created_at: 0,
        };
        store.insert(&mut s).expect("solution");
    }
    input[0].clone()
}

/// The end of a BGL line's message, far past 80 columns, is reached on the Label and Solutions
/// screens either wrapped (the default) or scrolled sideways with `z` then `>`; `j` (Label) and
/// `J` (Solutions) scroll a long solution to its answer line and no further.
#[test]
fn long_lines_wrap_or_scroll_sideways_on_the_label_and_solutions_screens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("a.log"), "hello\n").expect("write");
    let config = common::config_with(dir.path(), &logs, &common::repo("flowcharts"));
    let line = seed_long(&config.db.value);
    // A piece of the message 400 characters into the line.
    let tail: String = line.chars().skip(430).take(14).collect();
    let mut app = common::app_with(config);
    app.wait_for_jobs();
    for (screen, key, down, name) in [
        (KeyCode::F(6), 'z', 'j', "label"),
        (KeyCode::F(5), 'z', 'J', "solutions"),
    ] {
        app.handle_key(press(screen));
        app.wait_for_jobs();
        for (w, h) in [(80, 24), (140, 42)] {
            let wrapped = common::draw_app(&mut app, w, h);
            if name == "label" {
                // Five rows of instance: the wrapped line shows its start, not yet its end.
                assert!(
                    wrapped.contains("RAS KERNEL INFO"),
                    "{name} {w}x{h}:\n{wrapped}"
                );
            }
            snapshot!(format!("{name}_long_wrapped_{w}x{h}"), wrapped);
            app.handle_key(press(KeyCode::Char(key)));
            let steps = 430 / logreasoner_tui::pane::SIDE_STEP;
            for _ in 0..steps {
                app.handle_key(press(KeyCode::Char('>')));
            }
            let sideways = common::draw_app(&mut app, w, h);
            assert!(
                sideways.contains(&tail),
                "{name} {w}x{h} `{tail}`:\n{sideways}"
            );
            assert!(
                sideways.contains("from column"),
                "{name} {w}x{h}:\n{sideways}"
            );
            snapshot!(format!("{name}_long_sideways_{w}x{h}"), sideways);
            // Back to wrapped, at column 1.
            app.handle_key(press(KeyCode::Char(key)));
            for _ in 0..60 {
                app.handle_key(press(KeyCode::Char(down)));
            }
            let bottom = common::draw_app(&mut app, w, h);
            assert!(
                bottom.contains("Answer: normal"),
                "{name} {w}x{h}:\n{bottom}"
            );
            snapshot!(format!("{name}_long_bottom_{w}x{h}"), bottom);
            for _ in 0..60 {
                app.handle_key(press(KeyCode::Char(if down == 'j' { 'k' } else { 'K' })));
            }
        }
    }
}
