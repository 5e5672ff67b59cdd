//! README's example commands on a copy of the repository's data with no folder beside it: every
//! path they name is inside the repository, and the ones that need no model run from the copy.

use crate::common;

use std::path::Path;

/// Every `cargo run --release -- …` line of README's code blocks, as the arguments after `--`.
fn readme_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(common::repo("README.md")).expect("README");
    readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("cargo run --release -- "))
        .map(str::to_string)
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn readme_examples_need_nothing_beside_the_repository() {
    let examples = readme_examples();
    assert!(examples.len() >= 15, "{examples:?}");
    for example in &examples {
        assert!(
            !example.contains("../"),
            "reads beside the clone: {example}"
        );
        for word in example.split_whitespace() {
            if word.starts_with("assets/") || word.starts_with("flowcharts/") {
                assert!(
                    common::repo(word).exists(),
                    "{word} (in `{example}`) is not in the repository"
                );
            }
        }
    }
    // The examples that need no model, run in a folder holding only the repository's assets
    // and charts, whose parent holds no `shared/` either.
    let clone = tempfile::tempdir().expect("tempdir");
    assert!(!clone
        .path()
        .parent()
        .expect("parent")
        .join("shared")
        .exists());
    copy_dir(&common::repo("assets"), &clone.path().join("assets"));
    copy_dir(
        &common::repo("flowcharts"),
        &clone.path().join("flowcharts"),
    );
    let home = clone.path().join("home");
    // The model's examples run without it (`--no-model`): the paths they read are found.
    // `diagnose` exits 1 for an anomaly.
    for (example, extra) in [
        ("parse assets/samples/hdfs-datanode-loss.log --top 10", ""),
        (
            "flowchart walk hdfs-replication assets/samples/hdfs-datanode-loss.log",
            "",
        ),
        (
            "flowchart match assets/samples/openssh-brute-force.log --lines 111..310",
            "",
        ),
        ("import loghub assets/datasets/loghub-2k", ""),
        ("import loglm assets/datasets/loglm/train.jsonl", ""),
        (
            "diagnose assets/samples/hdfs-datanode-loss.log --lines 150..200",
            "--no-model",
        ),
        (
            "eval --task anomaly_detection --data assets/datasets/loglm/dev.jsonl",
            "--no-model",
        ),
    ] {
        assert!(
            examples.iter().any(|e| e == example),
            "README no longer has `{example}`"
        );
        let out = common::command(&home)
            .current_dir(clone.path())
            .args(example.split_whitespace().chain(extra.split_whitespace()))
            .output()
            .expect("run");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "`{example} {extra}`: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
