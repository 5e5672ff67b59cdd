//! A label is durable when the write call returns: a child process writes labels and is killed with
//! SIGKILL right after a write returns; reopened, every label it reported is there.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use logreasoner_core::store::{LabelSource, Preference, PreferenceLabel, SessionState, Store};

const CHILD_ENV: &str = "LOGREASONER_CRASH_CHILD_DB";

/// In the child role (env set): write labels forever, printing each id once its write returned.
/// In a normal test run this test does nothing.
#[test]
fn child_writes_labels_until_killed() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(path).expect("child opens the store");
    for i in 0u64.. {
        let mut label = PreferenceLabel {
            id: 0,
            instance_id: i,
            chosen: 2 * i,
            rejected: 2 * i + 1,
            preference: Preference::Chosen,
            source: LabelSource::Human,
            annotator: "crash".into(),
            shown_left: Some(2 * i),
            flagged: false,
            created_at: i,
        };
        let session = SessionState {
            annotator: "crash".into(),
            screen: "label".into(),
            cursor: Some(i),
            ..Default::default()
        };
        let id = store
            .record_label(&mut label, Some(&session))
            .expect("label");
        println!("LABEL {id} {i}");
    }
}

#[test]
fn labels_survive_sigkill_right_after_the_write_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let mut child = Command::new(std::env::current_exe().expect("test exe"))
        .args([
            "--exact",
            "store_crash::child_writes_labels_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut reported = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    while reported.len() < 40 {
        let line = lines.next().expect("child ended early").expect("read");
        if let Some(rest) = line.strip_prefix("LABEL ") {
            reported.push(rest.to_string());
        }
    }
    child.kill().expect("SIGKILL");
    // Lines already in the pipe were also reported after their write returned.
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("LABEL ") {
            reported.push(rest.to_string());
        }
    }
    child.wait().expect("reap");

    let store = Store::open(&db).expect("reopen after SIGKILL");
    let mut last_cursor = 0;
    for entry in &reported {
        let mut parts = entry.split(' ');
        let id: u64 = parts.next().and_then(|s| s.parse().ok()).expect("id");
        let i: u64 = parts.next().and_then(|s| s.parse().ok()).expect("i");
        let label = store
            .get::<PreferenceLabel>(id)
            .expect("read")
            .unwrap_or_else(|| panic!("label {id} was reported written but is gone"));
        assert_eq!(label.instance_id, i);
        last_cursor = i;
    }
    let session = store
        .session("crash", "label")
        .expect("session")
        .expect("saved");
    assert!(
        session.cursor >= Some(last_cursor),
        "session went back: {session:?}"
    );
}
