use super::*;
use crate::time::now_millis;
use std::collections::BTreeMap;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("db")).expect("open");
    (dir, store)
}

fn instance() -> TaskInstance {
    TaskInstance {
        id: 0,
        task: Task::FailurePrediction,
        system: "BGL".into(),
        instruction: "Will an abnormal event follow?".into(),
        input: vec!["line one".into(), "line \u{fffd} two".into()],
        gold: "yes".into(),
        source: "BGL_2k.log:1-20".into(),
        content_hash: "abc".into(),
        params: BTreeMap::from([
            ("window".into(), "20".into()),
            ("horizon".into(), "5".into()),
        ]),
        created_at: now_millis(),
    }
}

fn thought() -> Thought {
    Thought {
        id: 0,
        chart_id: Some("hdfs-replication".into()),
        chart_hash: Some("h".into()),
        instance_id: None,
        version: 1,
        overview: "Blocks are under-replicated.".into(),
        challenges: vec!["Heartbeats are sparse".into()],
        steps: vec!["Check heartbeats".into(), "Check disks".into()],
        origin: ThoughtOrigin::Chart,
        status: ReviewStatus::Pending,
        created_at: now_millis(),
    }
}

fn solution(instance_id: Id) -> Solution {
    Solution {
        id: 0,
        instance_id,
        thought_id: Some(3),
        text: "1. Check ... line 4 shows ...\nAnswer: yes".into(),
        answer: Some("yes".into()),
        score: Some(1.0),
        correct: Some(true),
        model: "SmolLM2".into(),
        status: ReviewStatus::Pending,
        diagnosis: None,
        created_at: now_millis(),
    }
}

fn label(annotator: &str) -> PreferenceLabel {
    PreferenceLabel {
        id: 0,
        instance_id: 1,
        chosen: 2,
        rejected: 3,
        preference: Preference::Chosen,
        source: LabelSource::Human,
        annotator: annotator.into(),
        shown_left: Some(3),
        flagged: false,
        created_at: now_millis(),
    }
}

fn diagnosis() -> Diagnosis {
    Diagnosis {
        id: 0,
        source: "assets/samples/hdfs.log".into(),
        first_line: 10,
        last_line: 40,
        chart_id: Some("hdfs-replication".into()),
        model: "SmolLM2".into(),
        adapter: None,
        anomalous: true,
        cause: Some("node_failure".into()),
        confidence: Some(0.8),
        evidence: vec![12, 17],
        next_steps: vec!["Restart the node".into()],
        reasoning: "1. ...".into(),
        first_token_ms: Some(120),
        total_ms: 900,
        status: ReviewStatus::Pending,
        created_at: now_millis(),
        chart_path: vec!["replication-scheduled".into(), "node-lost".into()],
        cause_is_category: true,
        question: None,
        system: "HDFS".into(),
        shown: vec![(12, "lost heartbeat".into())],
    }
}

fn round_trip<R: Record + PartialEq + std::fmt::Debug + Clone>(store: &Store, mut record: R) {
    let id = store.insert(&mut record).expect("insert");
    assert_eq!(record.id(), id);
    assert_eq!(store.load::<R>(id).expect("load"), record);
    assert!(store.all::<R>().expect("all").contains(&record));
}

#[test]
fn every_entity_round_trips() {
    let (_dir, store) = temp_store();
    round_trip(&store, instance());
    round_trip(&store, thought());
    round_trip(&store, solution(1));
    round_trip(&store, label("ana"));
    round_trip(
        &store,
        ReviewDecision {
            id: 0,
            target: ReviewTarget::Solution(9),
            decision: ReviewStatus::Rejected,
            edit: Some(Edit {
                before: "a".into(),
                after: "b".into(),
            }),
            annotator: "ana".into(),
            created_at: now_millis(),
        },
    );
    round_trip(&store, diagnosis());
    round_trip(
        &store,
        EvalRun {
            id: 0,
            task: Task::AnomalyDetection,
            data: "dev.jsonl".into(),
            items: 30,
            max_tokens: 128,
            results: vec![EvalResult {
                variant: "base".into(),
                model: Some("SmolLM2".into()),
                adapter: None,
                metrics: [("f1".to_string(), 0.5)].into_iter().collect(),
                items: 30,
                unparsed: 3,
                mean_latency_ms: 812.5,
                disagreements: None,
            }],
            note: "F1 of abnormal".into(),
            created_at: now_millis(),
        },
    );
    round_trip(
        &store,
        TrainingRun {
            id: 0,
            stage: "dpo".into(),
            run_dir: "/runs/1".into(),
            base_model: "SmolLM2".into(),
            state: RunState::Succeeded,
            started_at: 1,
            finished_at: Some(2),
            final_metrics: BTreeMap::from([("loss".into(), 0.25)]),
        },
    );
    let session = SessionState {
        annotator: "ana".into(),
        screen: "label".into(),
        cursor: Some(7),
        extra: BTreeMap::from([("filter".into(), "pending".into())]),
        updated_at: now_millis(),
    };
    store.save_session(&session).expect("save session");
    assert_eq!(
        store.session("ana", "label").expect("session"),
        Some(session)
    );
    assert_eq!(store.session("bob", "label").expect("session"), None);
}

#[test]
fn records_survive_reopen_and_ids_keep_increasing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let first = {
        let store = Store::open(&path).expect("open");
        let id = store.insert(&mut instance()).expect("insert");
        store.flush().expect("flush");
        id
    };
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.load::<TaskInstance>(first).expect("load").gold, "yes");
    let second = store.insert(&mut instance()).expect("insert");
    assert!(second > first, "{second} should follow {first}");
    let ids: Vec<_> = store
        .all::<TaskInstance>()
        .expect("all")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![first, second]);
}

/// Ids count up by one across reopens (sled's own generator leapt a million at each), and a
/// database whose ids came from that generator goes on above them.
#[test]
fn ids_count_up_by_one_across_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let store = Store::open(&path).expect("open");
        ids.push(store.insert(&mut instance()).expect("insert"));
        store.flush().expect("flush");
    }
    assert_eq!(ids, vec![1, 2, 3]);

    let old = dir.path().join("old");
    let handed_out = {
        let db = sled::open(&old).expect("sled");
        let id = db.generate_id().expect("id") + 1;
        db.flush().expect("flush");
        id
    };
    let store = Store::open(&old).expect("open");
    let next = store.next_id().expect("id");
    assert!(next > handed_out, "{next} after {handed_out}");
    assert_eq!(store.next_id().expect("id"), next + 1);
}

#[test]
fn a_review_sets_the_target_status_and_text_atomically() {
    let (_dir, store) = temp_store();
    let sol = store.insert(&mut solution(1)).expect("insert");
    let mut decision = ReviewDecision {
        id: 0,
        target: ReviewTarget::Solution(sol),
        decision: ReviewStatus::Accepted,
        edit: Some(Edit {
            before: "old".into(),
            after: "1. fixed\nAnswer: no".into(),
        }),
        annotator: "ana".into(),
        created_at: now_millis(),
    };
    store.record_review(&mut decision).expect("review");
    let saved = store.load::<Solution>(sol).expect("load");
    assert_eq!(saved.status, ReviewStatus::Accepted);
    assert_eq!(saved.text, "1. fixed\nAnswer: no");
    assert_eq!(store.count::<ReviewDecision>().expect("count"), 1);
}

#[test]
fn a_review_of_a_missing_target_writes_nothing() {
    let (_dir, store) = temp_store();
    let mut decision = ReviewDecision {
        id: 0,
        target: ReviewTarget::Thought(4242),
        decision: ReviewStatus::Accepted,
        edit: None,
        annotator: "ana".into(),
        created_at: now_millis(),
    };
    let err = store
        .record_review(&mut decision)
        .expect_err("missing target");
    assert!(
        matches!(err, StoreError::NotFound { id: 4242, .. }),
        "{err}"
    );
    assert_eq!(store.count::<ReviewDecision>().expect("count"), 0);
}

/// A preference between two solutions that say the same thing is refused with a message that
/// says what to do instead; a tie between them is fine.
#[test]
fn a_label_whose_sides_are_the_same_text_is_refused() {
    let (_dir, store) = temp_store();
    let a = store.insert(&mut solution(1)).expect("a");
    let mut copy = solution(1);
    copy.text.push('\n');
    let b = store.insert(&mut copy).expect("b");
    let mut l = label("ana");
    (l.chosen, l.rejected) = (a, b);
    let err = store.record_label(&mut l, None).expect_err("refused");
    assert!(matches!(err, StoreError::SameSides { .. }), "{err}");
    assert!(err.to_string().contains("tie"), "{err}");
    assert_eq!(store.count::<PreferenceLabel>().expect("count"), 0);
    l.preference = Preference::Tie;
    store.record_label(&mut l, None).expect("a tie is fine");
    let mut self_pair = label("ana");
    (self_pair.chosen, self_pair.rejected) = (a, a);
    assert!(store.record_label(&mut self_pair, None).is_err());
}

#[test]
fn a_label_and_its_session_state_are_written_together() {
    let (_dir, store) = temp_store();
    let session = SessionState {
        annotator: "ana".into(),
        screen: "label".into(),
        cursor: Some(5),
        ..Default::default()
    };
    let id = store
        .record_label(&mut label("ana"), Some(&session))
        .expect("label");
    assert_eq!(
        store.load::<PreferenceLabel>(id).expect("load").annotator,
        "ana"
    );
    assert_eq!(
        store
            .session("ana", "label")
            .expect("s")
            .and_then(|s| s.cursor),
        Some(5)
    );
    assert!(store.undo_label(id).expect("undo"));
    assert_eq!(store.get::<PreferenceLabel>(id).expect("get"), None);
}

#[test]
fn a_newer_schema_is_refused_with_both_versions_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = sled::open(&path).expect("sled");
        db.open_tree(META_TREE)
            .expect("meta")
            .insert(SCHEMA_KEY, &99u32.to_be_bytes())
            .expect("insert");
        db.flush().expect("flush");
    }
    let err = Store::open(&path).expect_err("newer schema");
    let text = err.to_string();
    assert!(matches!(
        err,
        StoreError::NewerSchema {
            found: 99,
            supported: SCHEMA_VERSION,
            ..
        }
    ));
    assert!(text.contains("schema version 99"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("upgrade logreasoner"), "{text}");
}

#[test]
fn a_new_database_records_the_current_schema() {
    let (_dir, store) = temp_store();
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
}

/// A second open while the first is alive becomes the first one's client: it reads and writes
/// the same records, and a label it records is there for the owner at once.
#[test]
fn a_second_open_is_a_client_of_the_owner() {
    let (dir, owner) = temp_store();
    assert!(owner.is_owner());
    use std::os::unix::fs::PermissionsExt;
    let socket = std::fs::metadata(dir.path().join("db").join("owner.sock")).expect("socket");
    assert_eq!(
        socket.permissions().mode() & 0o777,
        0o600,
        "the owner's user only"
    );
    let mut t = thought();
    owner.insert(&mut t).expect("insert");
    let client = Store::open(dir.path().join("db")).expect("a client");
    assert!(!client.is_owner());
    assert_eq!(client.all::<Thought>().expect("all").len(), 1);
    let mut u = thought();
    u.overview = "Written by the client.".into();
    let id = client.insert(&mut u).expect("insert through the owner");
    assert_eq!(
        owner.load::<Thought>(id).expect("load").overview,
        "Written by the client."
    );
    assert_eq!(
        client.counts().expect("counts"),
        owner.counts().expect("counts")
    );
    assert!(matches!(
        client.load::<Thought>(999).expect_err("missing"),
        StoreError::NotFound {
            tree: "thoughts",
            id: 999
        }
    ));
    // The owner goes: the client's next call takes the database over.
    drop(owner);
    assert_eq!(
        client.all::<Thought>().expect("after the owner left").len(),
        2
    );
    assert!(client.is_owner());
}

/// Where the owner does not answer (its socket is gone), a second open names the holder.
#[test]
fn a_second_open_names_the_holder() {
    let (dir, _store) = temp_store();
    std::fs::remove_file(dir.path().join("db").join("owner.sock")).expect("socket");
    let err = Store::open(dir.path().join("db")).expect_err("locked");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Locked { .. }), "{text}");
    assert!(text.contains("another logreasoner"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
}

#[test]
fn a_corrupt_record_is_reported_not_skipped() {
    let (_dir, store) = temp_store();
    store
        .local_db()
        .open_tree(Thought::TREE)
        .expect("tree")
        .insert(7u64.to_be_bytes(), b"{not json".as_slice())
        .expect("insert");
    let err = store.all::<Thought>().expect_err("corrupt");
    assert!(err.to_string().contains("record 7 in `thoughts`"), "{err}");
}

/// A store dropped and opened again at once in the same process opens, keeping what was written
/// (sled's background writes can hold its file lock for a moment after the drop).
#[test]
fn a_dropped_store_reopens_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    for round in 0..100u64 {
        let store = Store::open(&path).expect("reopen right after a drop");
        let session = SessionState {
            annotator: "ana".into(),
            screen: "label".into(),
            cursor: Some(round),
            extra: BTreeMap::new(),
            updated_at: now_millis(),
        };
        let before = store.session("ana", "label").expect("read");
        assert_eq!(before.and_then(|s| s.cursor), round.checked_sub(1));
        store.save_session(&session).expect("save session");
        store.flush().expect("flush");
    }
}

/// A full disk during a snapshot leaves sled's `snap.<lsn>.generating` empty; sled then picked it
/// as the newest snapshot and every later open failed as corrupt. The open removes it and every
/// record is back.
#[test]
fn an_unfinished_snapshot_left_by_a_full_disk_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).expect("open");
        for i in 0..50 {
            let mut item = instance();
            item.content_hash = format!("hash {i}");
            store.insert(&mut item).expect("insert");
        }
        store.flush().expect("flush");
    }
    // Name it after the newest finished snapshot, as sled does, so it sorts last.
    let newest = std::fs::read_dir(&path)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snap."))
        .max()
        .unwrap_or_else(|| "snap.0000000000000000".into());
    let unfinished = path.join(format!("{newest}.generating"));
    std::fs::write(&unfinished, b"").expect("an empty snapshot");
    let bare = sled::Config::new().path(&path).open();
    assert!(
        matches!(bare, Err(sled::Error::Corruption { .. })),
        "sled alone fails on it"
    );
    let store = Store::open(&path).expect("open after the full disk");
    assert_eq!(store.count::<TaskInstance>().expect("count"), 50);
    assert!(!unfinished.exists());
}
