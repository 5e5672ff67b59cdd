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

/// This test binary again, in the child role, labelling `db` and printing each label's id.
fn spawn_labeller(db: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test exe"))
        .args([
            "--exact",
            "store_crash::child_writes_labels_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child")
}

#[test]
fn labels_survive_sigkill_right_after_the_write_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let mut child = spawn_labeller(&db);
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

/// Two processes label one database at once: the child opens it first (the owner), this test
/// process joins as its client, and the owner is SIGKILLed mid-session. This process's next label
/// takes the database over; every label either process reported is there afterwards.
#[test]
fn two_processes_label_at_once_and_the_owners_death_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let mut child = spawn_labeller(&db);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The child owns the database once it has written a label (the test harness writes its
    // own lines first).
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("LABEL "))
        .expect("a first label");
    let reader = std::thread::spawn(move || {
        let mut ids: Vec<u64> = vec![];
        for line in std::iter::once(first).chain(lines.map_while(Result::ok)) {
            if let Some(id) = line
                .strip_prefix("LABEL ")
                .and_then(|r| r.split(' ').next()?.parse().ok())
            {
                ids.push(id);
            }
        }
        ids
    });
    let store = Store::open(&db).expect("join as a client");
    let owner = store.is_owner();
    assert!(!owner, "the child owns the database");
    let label = |i: u64| PreferenceLabel {
        id: 0,
        instance_id: 10_000 + i,
        chosen: 1,
        rejected: 2,
        preference: Preference::Chosen,
        source: LabelSource::Human,
        annotator: "second".into(),
        shown_left: Some(1),
        flagged: false,
        created_at: i,
    };
    let mut mine = Vec::new();
    for i in 0..15u64 {
        mine.push(store.record_label(&mut label(i), None).expect("label"));
    }
    child.kill().expect("SIGKILL the owner");
    child.wait().expect("reap");
    for i in 15..40u64 {
        mine.push(store.record_label(&mut label(i), None).expect("label"));
    }
    assert!(store.is_owner(), "this process took the database over");
    let theirs = reader.join().expect("reader");
    assert!(theirs.len() > 1, "the child labelled while this one did");
    drop(store);
    let store = Store::open(&db).expect("reopen");
    let stored: std::collections::HashSet<u64> = store
        .all::<PreferenceLabel>()
        .expect("labels")
        .iter()
        .map(|l| l.id)
        .collect();
    for id in mine.iter().chain(&theirs) {
        assert!(stored.contains(id), "label {id} was reported but is gone");
    }
    let ours = store
        .all::<PreferenceLabel>()
        .expect("labels")
        .into_iter()
        .filter(|l| l.annotator == "second")
        .count();
    assert_eq!(ours, 40);
}
