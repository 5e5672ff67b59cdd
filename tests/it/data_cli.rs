//! The data commands through the binary: imports with bad lines, exports (TRL, LLaMA-Factory, dev
//! split, redaction), label agreement, and labels merged into another database.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use logreasoner_core::store::{
    LabelSource, Preference, PreferenceLabel, ReviewStatus, Solution, Store, Task, TaskInstance,
};

fn run(home: &Path, args: &[&str]) -> Output {
    common::command(home).args(args).output().expect("run")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn db(home: &Path) -> std::path::PathBuf {
    home.join(".local/share/logreasoner/db")
}

/// Three instances with two solutions each, labelled by ana and bob (who disagree once), one
/// solution quoting a password.
fn seed(home: &Path) {
    let store = Store::open(db(home)).expect("store");
    let mut pairs = Vec::new();
    for n in 0..3 {
        let input = vec![format!(
            "sshd[{n}]: Failed password for root from 10.0.0.{n}"
        )];
        let mut i = TaskInstance {
            id: 0,
            task: Task::AnomalyDetection,
            system: "OpenSSH".into(),
            instruction: "Normal or abnormal?".into(),
            content_hash: TaskInstance::hash(Task::AnomalyDetection, "Normal or abnormal?", &input),
            input,
            gold: "abnormal".into(),
            source: "test".into(),
            params: BTreeMap::new(),
            created_at: 0,
        };
        store.insert_instance(&mut i).expect("instance");
        let mut ids = Vec::new();
        for text in [
            format!("1. Line 1: a failed root login (password=hunter{n}).\nAnswer: abnormal"),
            "1. Logins happen.\nAnswer: normal".to_string(),
        ] {
            let mut s = Solution {
                id: 0,
                instance_id: i.id,
                thought_id: None,
                text,
                answer: None,
                score: None,
                correct: None,
                model: "test".into(),
                status: ReviewStatus::Pending,
                diagnosis: None,
                created_at: 0,
            };
            ids.push(store.insert(&mut s).expect("solution"));
        }
        pairs.push((i.id, ids[0], ids[1]));
    }
    for (annotator, flip_last) in [("ana", false), ("bob", true)] {
        for (k, (instance, good, bad)) in pairs.iter().enumerate() {
            let (chosen, rejected) = if flip_last && k == 2 {
                (*bad, *good)
            } else {
                (*good, *bad)
            };
            let mut l = PreferenceLabel {
                id: 0,
                instance_id: *instance,
                chosen,
                rejected,
                preference: Preference::Chosen,
                source: LabelSource::Human,
                annotator: annotator.into(),
                shown_left: Some(chosen),
                flagged: false,
                created_at: 0,
            };
            store.record_label(&mut l, None).expect("label");
        }
    }
}

#[test]
fn a_malformed_line_is_reported_and_the_rest_imported() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join("rows.jsonl");
    std::fs::write(
        &file,
        "{\"task\": \"anomaly_detection\", \"instruction\": \"x\", \"input\": \"a\", \"output\": \"normal\"}\n{broken\n{\"task\": \"log_parsing\", \"input\": \"b 1\", \"gold\": \"b <*>\"}\n",
    )
    .expect("write");
    let out = run(
        home.path(),
        &["import", "jsonl", file.to_str().expect("path")],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("rows.jsonl:2: skipped"), "{stderr}");
    assert!(stdout.contains("imported 2 new instance(s)"), "{stdout}");
    // Importing again merges duplicates.
    let (stdout, _) = text(&run(
        home.path(),
        &["import", "jsonl", file.to_str().expect("path")],
    ));
    assert!(
        stdout.contains("imported 0 new instance(s), 2 duplicate(s) merged"),
        "{stdout}"
    );
    // An unknown task is an error.
    let out = run(
        home.path(),
        &["generate", "solutions", "--task", "astrology"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn exports_scrub_secrets_split_and_describe_themselves() {
    let home = tempfile::tempdir().expect("tempdir");
    seed(home.path());
    let out_dir = home.path().join("out");
    let out = out_dir.to_str().expect("path");
    let o = run(home.path(), &["export", "dpo", "--out", out]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    // Both annotators labelled the same three pairs: the two they agree on are one record each, and
    // the one they disagree on is left out (training data must not contradict itself).
    assert!(
        stdout.contains("scrubbed: 2 password"),
        "each of the two records' chosen text: {stdout}"
    );
    let dpo = std::fs::read_to_string(out_dir.join("dpo.jsonl")).expect("dpo");
    assert_eq!(dpo.lines().count(), 2);
    assert!(!dpo.contains("hunter"), "{dpo}");
    assert!(dpo.contains("password=[PASSWORD]"));
    // The scale-out kit comes with a TRL export: a script Python accepts, and its config.
    assert!(stdout.contains("TRL + accelerate"), "{stdout}");
    let script = out_dir.join("trl/train_stage.py");
    assert!(out_dir.join("trl/accelerate.yaml").exists());
    let compiled = std::process::Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&script)
        .status()
        .expect("python3");
    assert!(compiled.success(), "{} compiles", script.display());

    let o = run(
        home.path(),
        &[
            "export",
            "sft",
            "--stage",
            "stepwise",
            "--format",
            "llamafactory",
            "--dev-fraction",
            "0.5",
            "--out",
            out,
        ],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("dataset_info.json")).expect("info"),
    )
    .expect("json");
    assert_eq!(info["sft_stepwise"]["file_name"], "sft_stepwise.jsonl");
    assert_eq!(info["sft_stepwise"]["columns"]["response"], "output");
    let train = std::fs::read_to_string(out_dir.join("sft_stepwise.jsonl")).expect("train");
    let dev = std::fs::read_to_string(out_dir.join("sft_stepwise_dev.jsonl")).expect("dev");
    assert_eq!(
        train.lines().count() + dev.lines().count(),
        2,
        "the chosen solutions of the two pairs both annotators agree on"
    );
    for line in train.lines().chain(dev.lines()) {
        let row: serde_json::Value = serde_json::from_str(line).expect("row");
        assert!(row["instruction"]
            .as_str()
            .is_some_and(|s| s.contains("Log lines")));
        assert!(row["output"]
            .as_str()
            .is_some_and(|s| s.contains("Answer:")));
    }
    // The same export twice is byte for byte the same.
    let again = run(
        home.path(),
        &[
            "export",
            "sft",
            "--stage",
            "stepwise",
            "--format",
            "llamafactory",
            "--dev-fraction",
            "0.5",
            "--out",
            out,
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(out_dir.join("sft_stepwise.jsonl")).expect("train"),
        train
    );

    let o = run(home.path(), &["export", "dpo", "--no-redact", "--out", out]);
    assert!(text(&o).0.contains("not scrubbed"));
    assert!(std::fs::read_to_string(out_dir.join("dpo.jsonl"))
        .expect("dpo")
        .contains("hunter"));
}

#[test]
fn agreement_and_labels_merged_into_another_database() {
    let home = tempfile::tempdir().expect("tempdir");
    seed(home.path());
    let (stdout, stderr) = text(&run(home.path(), &["labels", "stats"]));
    assert!(
        stdout.contains("ana              3 label(s)"),
        "{stdout}{stderr}"
    );
    // ana and bob agree on 2 of 3 (po 2/3), but ana always picks the first solution, so chance
    // agreement is as high (pe = 1·2/3): kappa 0.
    assert!(
        stdout.contains("ana vs bob: 3 pair(s) in common, Cohen's kappa 0.000, 1 disagreement(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ana says first, bob says second"),
        "{stdout}"
    );

    let file = home.path().join("bob.jsonl");
    let o = run(
        home.path(),
        &[
            "export",
            "labels",
            "--of",
            "bob",
            "--out",
            file.to_str().expect("path"),
        ],
    );
    assert!(text(&o).0.contains("(3 label(s))"));
    let other = tempfile::tempdir().expect("tempdir");
    let (stdout, stderr) = text(&run(
        other.path(),
        &["import", "labels", file.to_str().expect("path")],
    ));
    assert!(
        stdout
            .contains("merged 3 label(s) (0 already here); added 3 instance(s) and 6 solution(s)"),
        "{stdout}{stderr}"
    );
    let (stdout, _) = text(&run(
        other.path(),
        &["import", "labels", file.to_str().expect("path")],
    ));
    assert!(
        stdout.contains("merged 0 label(s) (3 already here)"),
        "{stdout}"
    );
    // A label whose two sides are the same text is refused with a message; nothing is added.
    let first = std::fs::read_to_string(&file)
        .expect("labels")
        .lines()
        .next()
        .expect("a row")
        .to_string();
    let mut row: serde_json::Value = serde_json::from_str(&first).expect("row");
    row["rejected"] = row["chosen"].clone();
    row["instance"]["instruction"] = "Another question?".into();
    let same = home.path().join("same.jsonl");
    std::fs::write(&same, format!("{row}\n")).expect("write");
    let (stdout, stderr) = text(&run(
        other.path(),
        &["import", "labels", same.to_str().expect("path")],
    ));
    assert!(
        stderr.contains("same.jsonl:1: skipped: chosen and rejected are the same text"),
        "{stderr}"
    );
    assert!(
        stdout.contains("merged 0 label(s) (0 already here); added 0 instance(s)"),
        "{stdout}"
    );
}

/// An import in which every line was skipped imported nothing: that is a failure (exit 2), not a
/// success a script would carry on from.
#[test]
fn an_import_that_skips_every_line_fails() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join("broken.jsonl");
    std::fs::write(&file, "{broken\nnot json either\n").expect("write");
    for kind in ["jsonl", "labels"] {
        let out = run(home.path(), &["import", kind, file.to_str().expect("path")]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{kind}: {stderr}");
        assert!(stderr.contains("every line of"), "{kind}: {stderr}");
    }
}

/// Secrets in a labelled instance and its solutions leave in no export: not in `export labels`
/// (it scrubbed nothing), not in `export dpo` in either format (`aws_secret_access_key=`, `pass=`
/// and `secret=` survived while the `AKIA…` key id beside them was scrubbed).
#[test]
fn no_export_carries_the_secrets_of_a_labelled_instance() {
    let home = tempfile::tempdir().expect("tempdir");
    let secrets = [
        "wJalrXUtnFEMIK7MDENG",
        "AKIAABCDEFGHIJKLMNOP",
        "s3cr3tpw",
        "hushhush",
    ];
    let row = serde_json::json!({
        "annotator": "ana",
        "preference": "chosen",
        "flagged": false,
        "chosen_was_left": true,
        "created_at": 1,
        "instance": {
            "task": "anomaly_detection",
            "system": "Linux",
            "instruction": "Is this line abnormal?",
            "input": ["deploy aws_access_key_id=AKIAABCDEFGHIJKLMNOP aws_secret_access_key=wJalrXUtnFEMIK7MDENG"],
            "gold": "abnormal",
            "source": "audit"
        },
        "chosen": { "text": "1. The line leaks pass=s3cr3tpw.\nAnswer: abnormal", "model": "m" },
        "rejected": { "text": "1. secret=hushhush looks routine.\nAnswer: normal", "model": "m" }
    });
    let file = home.path().join("in.jsonl");
    std::fs::write(&file, format!("{row}\n")).expect("write");
    let o = run(
        home.path(),
        &["import", "labels", file.to_str().expect("path")],
    );
    assert!(o.status.success(), "{:?}", text(&o));

    let labels = home.path().join("labels.jsonl");
    let o = run(
        home.path(),
        &["export", "labels", "--out", labels.to_str().expect("path")],
    );
    assert!(text(&o).0.contains("scrubbed:"), "{:?}", text(&o));
    let mut written = vec![std::fs::read_to_string(&labels).expect("labels")];
    for format in ["trl", "llamafactory"] {
        let out = home.path().join(format);
        let o = run(
            home.path(),
            &[
                "export",
                "dpo",
                "--format",
                format,
                "--out",
                out.to_str().expect("path"),
            ],
        );
        assert!(o.status.success(), "{:?}", text(&o));
        let mut folders = vec![out];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("export folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    written.push(std::fs::read_to_string(&path).expect("export file"));
                }
            }
        }
    }
    assert!(
        written.len() >= 3,
        "labels and both DPO exports were written"
    );
    for text in &written {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    // Asked for, the labels keep their text (for merging into a database with the same data).
    let raw = home.path().join("raw.jsonl");
    let o = run(
        home.path(),
        &[
            "export",
            "labels",
            "--no-redact",
            "--out",
            raw.to_str().expect("path"),
        ],
    );
    assert!(o.status.success());
    assert!(std::fs::read_to_string(&raw)
        .expect("raw")
        .contains("hushhush"));
}
