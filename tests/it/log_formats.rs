//! Header parsing on the real Loghub-2k logs: the format is detected from the raw lines, and the
//! message content it extracts is the benchmark's `Content` column.

use std::path::PathBuf;

use logreasoner_core::logs::format::{self, parse_line};
use logreasoner_core::logs::index::LogFile;
use logreasoner_core::template::loghub::{self, SYSTEMS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/datasets/loghub-2k")
}

#[test]
fn every_loghub_format_is_detected_and_yields_the_benchmark_content() {
    let mut report = Vec::new();
    for system in SYSTEMS {
        let log = LogFile::open(&loghub::raw_log(&root(), system), 1).expect("raw log");
        let lines: Vec<String> = (0..log.len()).map(|i| log.line(i).into_owned()).collect();
        let detected = format::detect(&lines).map(|f| f.name);
        assert_eq!(detected, Some(system), "{system}");
        let truth = loghub::read_structured(&root(), system).expect("csv");
        assert_eq!(truth.len(), lines.len(), "{system}: one row per line");
        let fmt = format::by_name(system);
        let same = lines
            .iter()
            .zip(&truth)
            .filter(|(l, t)| parse_line(fmt, l).content.trim() == t.content.trim())
            .count();
        let parsed_with_time = lines
            .iter()
            .filter(|l| parse_line(fmt, l).timestamp.is_some())
            .count();
        report.push(format!(
            "{system}: content {same}/{} timestamps {parsed_with_time}",
            lines.len()
        ));
        assert_eq!(
            same,
            lines.len(),
            "{system}: contents that differ from the benchmark's"
        );
        assert_eq!(
            parsed_with_time,
            lines.len(),
            "{system}: lines without a timestamp"
        );
    }
    println!("{}", report.join("\n"));
}

/// A team's own format, defined in the config file in the template syntax, is detected before the
/// built-in ones and its message column mined; a template without a message field is refused with
/// the file and format named.
#[test]
fn a_format_from_the_config_file_is_detected_and_a_broken_one_is_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("config.yaml");
    std::fs::write(
        &config,
        "formats:\n  - name: billing-pipe\n    template: '<Time:\\d{4}-\\d\\d-\\d\\d [\\d:]+> \\| <Level:\\w+> \\| <Component:\\w+> \\| <Content>'\n",
    )
    .expect("config");
    let log = home.path().join("billing.log");
    let lines: Vec<String> = (0..30)
        .map(|i| {
            let level = if i % 10 == 3 { "ERROR" } else { "INFO" };
            format!("2026-12-03 10:15:{i:02} | {level} | billing | invoice {i} sent")
        })
        .collect();
    std::fs::write(&log, lines.join("\n") + "\n").expect("log");
    let parse = || {
        crate::common::command(home.path())
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(home.path().join("data"))
            .arg("parse")
            .arg(&log)
            .output()
            .expect("run")
    };
    let out = parse();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("format billing-pipe"), "{stdout}");
    // The message column alone is mined: one template for all thirty lines.
    assert!(stdout.contains("invoice <*> sent"), "{stdout}");

    std::fs::write(
        &config,
        "formats:\n  - name: no-message\n    template: '<Time> <Level:\\w+>'\n",
    )
    .expect("config");
    let out = parse();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("config.yaml")
            && stderr.contains("no-message")
            && stderr.contains("<Content>"),
        "{stderr}"
    );
}

/// A structured log whose message sits under a key of its own (`body`) is read by naming that key
/// in the config file: the message column, not the whole record, is mined.
#[test]
fn structured_field_names_from_the_config_file_are_read() {
    let home = tempfile::tempdir().expect("tempdir");
    let log = home.path().join("app.jsonl");
    let lines: Vec<String> = (0..30)
        .map(|i| format!(r#"{{"ts":"2026-12-03T10:15:{i:02}Z","sev":"INFO","body":"invoice {i} sent","trace":"t{i}"}}"#))
        .collect();
    std::fs::write(&log, lines.join("\n") + "\n").expect("log");
    let parse = |config: Option<&std::path::Path>| {
        let mut cmd = crate::common::command(home.path());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let out = cmd
            .arg("--data-dir")
            .arg(home.path().join("data"))
            .arg("parse")
            .arg(&log)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Without the names, `body` is not a message key the reader knows: the record is the message.
    assert!(!parse(None).contains("  invoice <*> sent"));
    let config = home.path().join("config.yaml");
    std::fs::write(&config, "fields: { message: [body], level: [sev] }\n").expect("config");
    let stdout = parse(Some(&config));
    assert!(stdout.contains("format JSON"), "{stdout}");
    assert!(stdout.contains("  invoice <*> sent"), "{stdout}");
}
