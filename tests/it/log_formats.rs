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
