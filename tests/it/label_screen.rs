//! The Label screen: pairs labelled through key events, undo, resume without repeats, a snapshot,
//! and a labeler's process killed mid-session losing no label.

use crate::common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::KeyCode;

use logreasoner_core::store::{
    LabelSource, Preference, PreferenceLabel, ReviewStatus, SessionState, Solution, Store, Task,
    TaskInstance,
};
use logreasoner_tui::keys::{press, press_char};
use logreasoner_tui::screens::ScreenId;
use logreasoner_tui::App;

/// Six anomaly instances with two solutions each: one that reads the evidence, one that does not.
pub(crate) fn seed(db: &Path) {
    let store = Store::open(db).expect("store");
    for n in 0..6u64 {
        let input = vec![format!(
            "2005-06-03-15.42.{n:02} R02-M1-N0-C:J12-U11 KERNEL FATAL data TLB error interrupt"
        )];
        let mut i = TaskInstance {
            id: 0,
            task: Task::AnomalyDetection,
            system: "BGL".into(),
            instruction: "Is the last line abnormal?".into(),
            content_hash: TaskInstance::hash(Task::AnomalyDetection, "", &input),
            input,
            gold: "abnormal".into(),
            source: format!("test:{n}"),
            params: BTreeMap::new(),
            created_at: 0,
        };
        store.insert_instance(&mut i).expect("instance");
        for (text, correct) in [
            (
                "1. Line 1 is a FATAL kernel interrupt: a data TLB error.\nAnswer: abnormal",
                true,
            ),
            ("1. The node is busy.\nAnswer: normal", false),
        ] {
            let mut s = Solution {
                id: 0,
                instance_id: i.id,
                thought_id: None,
                text: text.into(),
                answer: Some(if correct { "abnormal" } else { "normal" }.into()),
                score: Some(if correct { 1.0 } else { 0.0 }),
                correct: Some(correct),
                model: "test".into(),
                status: ReviewStatus::Pending,
                diagnosis: None,
                created_at: 0,
            };
            store.insert(&mut s).expect("solution");
        }
    }
}

fn label_app(dir: &Path, annotator: &str) -> App {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("a.log"), "hello\n").expect("write");
    let mut config = common::config(dir, &logs);
    config.annotator.value = annotator.into();
    let mut app = common::app_with(config);
    app.handle_key(press(KeyCode::F(6)));
    assert_eq!(app.active_screen(), ScreenId::Label);
    app
}

fn draw(app: &mut App) -> String {
    common::draw_app(app, 110, 30)
}

fn human_labels(store: &Store, annotator: &str) -> Vec<PreferenceLabel> {
    store
        .all::<PreferenceLabel>()
        .expect("labels")
        .into_iter()
        .filter(|l| l.source == LabelSource::Human && l.annotator == annotator)
        .collect()
}

#[test]
fn five_pairs_labelled_by_key_undo_and_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join(".local/share/logreasoner/db");
    seed(&db);
    let mut app = label_app(dir.path(), "ana");
    insta::with_settings!({ filters => vec![(r"(/[\w.-]+)*/\.tmp[A-Za-z0-9]*", "[TMP]")] }, {
        insta::assert_snapshot!("label_first_pair", draw(&mut app));
    });
    for key in ['1', '2', 't', 's'] {
        app.handle_key(press_char(key));
    }
    // The fifth pair is flagged for a second look before its label.
    app.handle_key(press_char('f'));
    app.handle_key(press(KeyCode::Right));
    let labels = human_labels(&app.ctx.store, "ana");
    assert_eq!(
        labels.iter().map(|l| l.flagged).collect::<Vec<_>>(),
        [false, false, false, false, true]
    );
    assert_eq!(labels.len(), 5, "each key press is a durable label");
    assert_eq!(
        labels.iter().map(|l| l.preference).collect::<Vec<_>>(),
        [
            Preference::Chosen,
            Preference::Chosen,
            Preference::Tie,
            Preference::Skip,
            Preference::Chosen
        ]
    );
    // `1` chose the left solution, `2` the right one: the recorded side says which that was.
    assert_eq!(labels[0].shown_left, Some(labels[0].chosen));
    assert_eq!(labels[1].shown_left, Some(labels[1].rejected));
    let session = app
        .ctx
        .store
        .session("ana", "label")
        .expect("session")
        .expect("saved with the label");
    assert_eq!(session.cursor, Some(labels[4].instance_id));

    // Undo removes the last label and shows its pair again, flag and all.
    app.handle_key(press_char('u'));
    assert_eq!(human_labels(&app.ctx.store, "ana").len(), 4);
    let screen = draw(&mut app);
    assert!(screen.contains("this session 4"), "{screen}");
    assert!(
        screen.contains("⚑ flagged"),
        "the flag survives the undo: {screen}"
    );

    // The guidelines overlay opens on `h` and closes on Esc.
    app.handle_key(press_char('h'));
    assert!(draw(&mut app).contains("guidelines (h or Esc closes)"));
    app.handle_key(press(KeyCode::Esc));
    assert!(!draw(&mut app).contains("guidelines (h or Esc closes)"));
    drop(app);

    // A restart resumes: ana sees only the two pairs she has not labelled; bob sees all six.
    let dir_path = dir.path().to_path_buf();
    let mut again = label_app(&dir_path, "ana");
    assert!(draw(&mut again).contains("2 to go"), "{}", draw(&mut again));
    let seen: Vec<u64> = human_labels(&again.ctx.store, "ana")
        .iter()
        .map(|l| l.instance_id)
        .collect();
    again.handle_key(press_char('1'));
    let newest = human_labels(&again.ctx.store, "ana");
    assert!(
        !seen.contains(&newest.last().expect("label").instance_id),
        "never the same pair twice"
    );
    drop(again);
    let mut bob = label_app(&dir_path, "bob");
    assert!(draw(&mut bob).contains("6 to go"));
}

/// Two annotators' TUIs open on one database at once (the second is the first one's client):
/// each sees its own queue of all six pairs, their key presses interleave, neither gets the same
/// pair twice, and each sees the other's labels at once.
#[test]
fn two_annotators_label_one_database_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join(".local/share/logreasoner/db");
    seed(&db);
    let mut ana = label_app(dir.path(), "ana");
    let mut bob = label_app(dir.path(), "bob");
    assert!(ana.ctx.store.is_owner() && !bob.ctx.store.is_owner());
    assert!(draw(&mut ana).contains("6 to go"));
    assert!(draw(&mut bob).contains("6 to go"));
    for key in ['1', '2', 't', '1', '2'] {
        ana.handle_key(press_char(key));
        bob.handle_key(press_char(key));
    }
    for (store, who) in [(&ana.ctx.store, "ana"), (&bob.ctx.store, "bob")] {
        for annotator in ["ana", "bob"] {
            let labels = human_labels(store, annotator);
            assert_eq!(labels.len(), 5, "{who} sees {annotator}'s five labels");
            let mut pairs: Vec<u64> = labels.iter().map(|l| l.instance_id).collect();
            pairs.sort_unstable();
            pairs.dedup();
            assert_eq!(pairs.len(), 5, "{annotator} never got the same pair twice");
        }
    }
    assert!(draw(&mut ana).contains("1 to go"), "{}", draw(&mut ana));
    assert!(draw(&mut bob).contains("1 to go"), "{}", draw(&mut bob));
}

/// A long solution scrolls on the Label screen (j/k move both panes); the next pair starts at
/// the top.
#[test]
fn a_long_solution_scrolls_into_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join(".local/share/logreasoner/db");
    seed(&db);
    {
        let store = Store::open(&db).expect("store");
        let mut solutions: Vec<Solution> = store.all().expect("solutions");
        let steps: Vec<String> = (1..=40)
            .map(|n| format!("{n}. Step {n} of a long answer."))
            .collect();
        for s in solutions.iter_mut() {
            s.text = format!(
                "{}\nAnswer: {}",
                steps.join("\n"),
                s.answer.clone().unwrap_or_default()
            );
            store.put(s).expect("put");
        }
    }
    let mut app = label_app(dir.path(), "ana");
    let screen = common::draw_app(&mut app, 80, 24);
    assert!(
        screen.contains("1. Step 1 of") && !screen.contains("Step 40"),
        "{screen}"
    );
    for _ in 0..34 {
        app.handle_key(press_char('j'));
    }
    let screen = common::draw_app(&mut app, 80, 24);
    assert!(
        screen.contains("Step 40") && !screen.contains("1. Step 1 of"),
        "{screen}"
    );
    // It stops at the last line instead of scrolling into blank panes.
    for _ in 0..100 {
        app.handle_key(press_char('j'));
    }
    let screen = common::draw_app(&mut app, 80, 24);
    assert!(screen.contains("Answer: "), "{screen}");
    app.handle_key(press_char('t'));
    let screen = common::draw_app(&mut app, 80, 24);
    assert!(
        screen.contains("1. Step 1 of"),
        "the next pair starts at the top: {screen}"
    );
}

/// Labels are written through the real binary in a pseudo-terminal; the process is killed with
/// SIGKILL in the middle of the session; every label whose key was handled is in the database.
#[test]
fn killing_the_labeler_loses_no_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    let db = home.join(".local/share/logreasoner/db");
    seed(&db);
    let logs = home.join("a.log");
    std::fs::write(&logs, "hello\n").expect("write");
    let pid_file = home.join("pid");
    let shell = format!(
        "echo $$ > {}; exec {} --logs {} --annotator ana",
        pid_file.display(),
        common::bin().display(),
        logs.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .env("HOME", home)
        .env("TERM", "xterm-256color")
        .env_remove("LOGREASONER_DB")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("`script` from util-linux runs");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_millis(1500));
    // F6 opens Label; then five labels, one key at a time.
    stdin.write_all(b"\x1b[17~").expect("F6");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    for key in [b"1", b"2", b"1", b"t", b"2"] {
        stdin.write_all(key).expect("key");
        stdin.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Wait until the app has handled the keys (its holder file names it; labels land in sled).
    std::thread::sleep(Duration::from_millis(1000));
    let pid = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .to_string();
    let killed = Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "script did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(db.join("logreasoner.holder"));
    let store = Store::open(&db).expect("reopen after the kill");
    let labels = human_labels(&store, "ana");
    assert_eq!(labels.len(), 5, "every handled key press left its label");
    let session: Option<SessionState> = store.session("ana", "label").expect("session");
    assert_eq!(session.and_then(|s| s.cursor), Some(labels[4].instance_id));
}
