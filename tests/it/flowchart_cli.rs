//! `logreasoner flowchart …` as a script would use it.

use crate::common;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = common::command(home)
        .current_dir(repo())
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_lists_every_error_with_position_and_exits_1() {
    let home = tempfile::tempdir().expect("tempdir");
    let bad = home.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "id: bad\ntitle: t\nsystem: s\nsymptoms: ['(']\nstart: a\nnodes:\n  a:\n    kind: decision\n    text: q\n    branches: { yes: b }\n  b:\n    kind: conclusion\n    text: c\n    cause: gremlins\n    remedy: r\n",
    )
    .expect("write");
    let (code, out, _) = run(
        home.path(),
        &["flowchart", "validate", bad.to_str().expect("utf8")],
    );
    assert_eq!(code, 1, "{out}");
    let file = bad.display().to_string();
    assert!(
        out.contains(&format!("{file}:4:1: symptom 1 is not a valid regex")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{file}:7:3: decision `a` has 1 branch(es)")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{file}:14:5: cause `gremlins` of `b` is not declared"
        )),
        "{out}"
    );
    assert!(out.contains("hint: "), "{out}");
    assert!(out.contains("1 chart(s), 0 valid, 1 invalid"), "{out}");
}

#[test]
fn the_shipped_library_validates_from_the_cli() {
    let home = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(home.path(), &["flowchart", "validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" 0 invalid"), "{out}");
}

#[test]
fn export_walk_match_thought_and_tree() {
    let home = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(
        home.path(),
        &["flowchart", "export", "--format", "dot", "hdfs-replication"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("digraph \"hdfs-replication\" {"), "{out}");

    let (code, out, _) = run(home.path(), &["flowchart", "export", "hdfs-replication"]);
    assert_eq!(code, 0);
    assert!(out.contains("flowchart TD"), "{out}");

    let sample = "assets/samples/hdfs-datanode-loss.log";
    let (code, out, err) = run(
        home.path(),
        &["flowchart", "walk", "hdfs-replication", sample, "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let walk: serde_json::Value = serde_json::from_str(&out).expect("walk JSON");
    assert_eq!(walk["chart"], "hdfs-replication");
    assert!(
        walk["steps"].as_array().is_some_and(|s| !s.is_empty()),
        "{out}"
    );

    let (code, out, _) = run(
        home.path(),
        &["flowchart", "match", sample, "--system", "HDFS"],
    );
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.contains("hdfs-replication") && l.contains("(system)")),
        "{out}"
    );

    let (code, out, _) = run(home.path(), &["flowchart", "thought", "hdfs-replication"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Problem overview: "), "{out}");
    assert!(
        out.contains("\nKey challenges:\n- ") && out.contains("\nReasoning steps:\n1. "),
        "{out}"
    );

    let (code, out, _) = run(home.path(), &["flowchart", "tree", "hdfs-replication"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("◆ "), "{out}");

    let (code, _, err) = run(home.path(), &["flowchart", "tree", "no-such-chart"]);
    assert_eq!(code, 2);
    assert!(err.contains("no flowchart `no-such-chart`"), "{err}");

    let (code, _, err) = run(
        home.path(),
        &[
            "flowchart",
            "walk",
            "hdfs-replication",
            sample,
            "--lines",
            "9000..",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("has 370 lines"), "{err}");
}
