//! The binary as a script would use it: configuration report, database errors, completions, help.

use crate::common;

use logreasoner_core::store::Store;

#[test]
fn config_reports_each_value_and_its_origin() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = common::command(home.path())
        .args(["config", "--db", "/srv/lr/db"])
        .env("LOGREASONER_ANNOTATOR", "zed")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no `{name}` in\n{text}"))
            .to_string()
    };
    assert!(line("db").contains("/srv/lr/db") && line("db").ends_with("flag --db"));
    assert!(
        line("annotator").contains("zed")
            && line("annotator").ends_with("environment LOGREASONER_ANNOTATOR")
    );
    let data = home.path().join(".local/share/logreasoner");
    assert!(line("data_dir").contains(&data.display().to_string()));
    assert!(line("data_dir").ends_with("default (XDG data folder)"));
    assert!(line("generation.temperature").contains("0.7"));
}

/// A database another process has open is used through that process: `db info` answers as its
/// client. Where the owner does not serve it (its socket gone), the holder is named, exit 2.
#[test]
fn a_held_database_is_served_by_its_owner_or_names_the_holder() {
    let home = tempfile::tempdir().expect("tempdir");
    let db = home.path().join("db");
    let held = Store::open(&db).expect("hold");
    let info = || {
        common::command(home.path())
            .args(["db", "info", "--db"])
            .arg(&db)
            .output()
            .expect("run")
    };
    let out = info();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("owner           another logreasoner process"),
        "{stdout}"
    );
    assert!(held.is_owner());

    std::fs::remove_file(db.join("owner.sock")).expect("socket");
    let out = info();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("held by another logreasoner process"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A CLI import runs while a TUI has the database open, and the TUI's screens see what it wrote.
#[test]
fn an_import_runs_while_a_tui_is_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, "2024-01-01 00:00:00 INFO started\n").expect("log");
    let config = common::config_with(dir.path(), &log, &common::repo("flowcharts"));
    let db = config.db.value.clone();
    let app = common::app_with(config);
    assert!(app.ctx.store.is_owner());
    let out = common::command(dir.path())
        .args(["import", "loglm"])
        .arg(common::repo("assets/datasets/loglm/dev.jsonl"))
        .arg("--db")
        .arg(&db)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let instances = app
        .ctx
        .store
        .count::<logreasoner_core::store::TaskInstance>()
        .expect("count");
    assert!(instances >= 100, "{instances} instances seen by the TUI");
}

#[test]
fn a_newer_database_is_refused_with_a_clear_message() {
    let home = tempfile::tempdir().expect("tempdir");
    let db = home.path().join("db");
    {
        let raw = sled::open(&db).expect("sled");
        raw.open_tree("meta")
            .expect("meta")
            .insert("schema_version", &7u32.to_be_bytes())
            .expect("insert");
        raw.flush().expect("flush");
    }
    let out = common::command(home.path())
        .args(["db", "info", "--db"])
        .arg(&db)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema version 7"), "{err}");
    assert!(err.contains("upgrade logreasoner"), "{err}");
}

#[test]
fn db_info_counts_records() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = common::command(home.path())
        .args(["db", "info"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("schema_version  1"), "{text}");
    assert!(text.contains("labels          0"), "{text}");
}

#[test]
fn completions_and_help_are_complete() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = common::command(home.path())
        .args(["completions", "bash"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("_logreasoner") && script.contains("completions"),
        "{script}"
    );

    let out = common::command(home.path())
        .arg("--help")
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "config",
        "db",
        "completions",
        "--db",
        "--annotator",
        "--device",
        "--verbose",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    assert!(!help.contains("debug-panic"), "test hooks stay hidden");
}

#[test]
fn a_malformed_config_file_is_reported_with_line_and_column() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join(".config/logreasoner");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("config.yaml"), "annotator: ana\ndevcie: cpu\n").expect("write");
    let out = common::command(home.path())
        .arg("config")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.yaml: 2:1"), "{err}");
    assert!(err.contains("devcie"), "{err}");
}

/// A data folder that is a file is named as the problem (it was reported as "File exists" while
/// opening the log file inside it).
#[test]
fn a_data_folder_that_is_a_file_is_named_as_the_problem() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join("not-a-folder");
    std::fs::write(&file, "x").expect("write");
    let out = common::command(home.path())
        .arg("--data-dir")
        .arg(&file)
        .args(["db", "info"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("is a file, not a folder") && stderr.contains("flag --data-dir"),
        "{stderr}"
    );
    // An error says the operating system's reason once (it was repeated by the error chain).
    for args in [
        &["diagnose", "/nonexistent/app.log"][..],
        &["parse", "/nonexistent/app.log"],
    ] {
        let out = common::command(home.path())
            .args(args)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.matches("No such file or directory").count(),
            1,
            "{stderr}"
        );
    }
}

/// Control bytes in a log reach no terminal through `parse` (`ESC c` in a line once cleared the
/// user's screen), nor through an error message that quotes a file.
#[test]
fn parse_prints_no_control_bytes_from_the_log() {
    let home = tempfile::tempdir().expect("tempdir");
    let log = home.path().join("evil.log");
    let mut text = Vec::new();
    for i in 0..20 {
        text.extend_from_slice(
            format!("session {i} opened \x1bc\x1b]0;owned\x07 by root\n").as_bytes(),
        );
    }
    std::fs::write(&log, &text).expect("write");
    let out = common::command(home.path())
        .args(["parse", log.to_str().expect("path")])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
    for bytes in [&out.stdout, &out.stderr] {
        assert!(
            !bytes.iter().any(|&b| b == 0x1b || b == 0x07),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains('\u{241b}'));
    // A megabyte-long line's template is shown cut, with its length.
    std::fs::write(&log, format!("short line\n{}\n", "y".repeat(1 << 20))).expect("write");
    let out = common::command(home.path())
        .args(["parse", log.to_str().expect("path")])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.len() < 4096, "{} bytes printed", stdout.len());
    assert!(stdout.contains("(1048576 bytes)"), "{stdout}");
}

/// `--tail 0` asked for no lines and diagnosed one; `parse` on a folder without logs printed
/// nothing and exited 0. Both are refused with the reason.
#[test]
fn requests_for_nothing_are_refused_not_answered() {
    let home = tempfile::tempdir().expect("tempdir");
    let log = home.path().join("app.log");
    std::fs::write(&log, "one\ntwo\n").expect("write");
    let empty = home.path().join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    for (args, wanted) in [
        (
            vec!["diagnose", log.to_str().expect("path"), "--tail", "0"],
            "--tail 0 asks for no lines",
        ),
        (
            vec!["parse", empty.to_str().expect("path")],
            "holds no log files",
        ),
    ] {
        let out = common::command(home.path())
            .args(&args)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    }
}
