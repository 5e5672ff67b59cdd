use super::walk::{walk, CheckOutcome, End, Window};
use super::*;
use std::path::Path;

const GOOD: &str = "\
id: disk-full
title: Service fails because the disk is full
system: Linux
symptoms:
  - 'No space left on device'
start: space-errors
nodes:
  space-errors:
    kind: decision
    text: Do writes fail with ENOSPC?
    check: { any: 'No space left on device' }
    branches: { yes: log-growth, no: escalate }
  log-growth:
    kind: decision
    text: Did log rotation fail before the errors?
    check: { count: 'logrotate.*error', at_least: 2 }
    branches: { yes: rotation-broken, no: data-growth }
  rotation-broken:
    kind: conclusion
    text: Logs were not rotated and filled the disk.
    cause: configuration_error
    remedy: Fix logrotate and compress old logs.
  data-growth:
    kind: conclusion
    text: Data grew past capacity.
    cause: capacity
    remedy: Add space or move data.
  escalate:
    kind: escalate
    text: The log does not show the full disk; ask the storage team.
";

fn file() -> &'static Path {
    Path::new("flowcharts/disk-full.yaml")
}

/// Parses `text` and returns the single expected error rendered as `file:line:col: message`.
fn errors(text: &str) -> Vec<String> {
    match parse(text, file()) {
        Ok(_) => Vec::new(),
        Err(list) => list
            .iter()
            .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
            .collect(),
    }
}

fn assert_error(text: &str, expected: &str) {
    let errs = errors(text);
    assert!(
        errs.iter().any(|e| e.starts_with(expected)),
        "wanted `{expected}`, got {errs:#?}"
    );
}

#[test]
fn the_good_chart_parses_and_validates() {
    let chart = parse(GOOD, file()).expect("valid");
    assert_eq!(chart.nodes.len(), 5);
    assert_eq!(
        chart.nodes.keys().next().map(String::as_str),
        Some("space-errors")
    );
}

#[test]
fn an_unknown_field_names_line_and_column() {
    let bad = GOOD.replace(
        "    cause: capacity",
        "    cause: capacity\n    severity: high",
    );
    assert_error(&bad, "27:5: nodes.data-growth: unknown field `severity`");
}

#[test]
fn yaml_syntax_errors_carry_a_position_and_hint() {
    let bad = GOOD.replace(
        "  - 'No space left on device'",
        "  - 'No space left on device",
    );
    let list = parse(&bad, file()).expect_err("broken quote");
    assert_eq!(list.len(), 1);
    assert!(list[0].line >= 5, "{:?}", list[0]);
    assert!(
        list[0]
            .to_string()
            .starts_with("flowcharts/disk-full.yaml:"),
        "{}",
        list[0]
    );
    assert!(list[0].hint.contains("quoting"), "{}", list[0].hint);
}

#[test]
fn a_missing_start_node_is_reported_at_start() {
    let bad = GOOD.replace("start: space-errors", "start: nowhere");
    assert_error(&bad, "6:1: start node `nowhere` does not exist");
}

#[test]
fn an_unreachable_node_is_reported_at_the_node() {
    let bad = format!("{GOOD}  orphan:\n    kind: escalate\n    text: Nobody links here.\n");
    assert_error(
        &bad,
        "31:3: node `orphan` cannot be reached from `space-errors`",
    );
}

#[test]
fn a_decision_needs_two_branches() {
    let bad = GOOD.replace(
        "    branches: { yes: rotation-broken, no: data-growth }",
        "    branches: { yes: rotation-broken }",
    );
    let errs = errors(&bad);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("13:3: decision `log-growth` has 1 branch(es)")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("23:3: node `data-growth` cannot be reached")),
        "{errs:#?}"
    );
}

#[test]
fn a_checked_decision_branches_yes_and_no() {
    let bad = GOOD.replace(
        "branches: { yes: log-growth, no: escalate }",
        "branches: { full: log-growth, fine: escalate }",
    );
    assert_error(
        &bad,
        "12:5: decision `space-errors` has a check, so its branches must be exactly `yes` and `no`",
    );
}

#[test]
fn a_path_must_end_in_a_conclusion_or_escalate() {
    let bad = GOOD.replace(
        "  escalate:\n    kind: escalate\n    text: The log does not show the full disk; ask the storage team.\n",
        "  escalate:\n    kind: action\n    text: Ask the storage team.\n",
    );
    assert_error(
        &bad,
        "28:3: action `escalate` has no `next`, so its path ends without a conclusion",
    );
}

#[test]
fn a_conclusion_does_not_lead_on() {
    let bad = GOOD.replace(
        "    remedy: Add space or move data.",
        "    remedy: Add space or move data.\n    next: escalate",
    );
    assert_error(&bad, "28:5: conclusion `data-growth` leads on");
}

#[test]
fn a_loop_is_refused_unless_it_is_a_bounded_retry() {
    let bad = GOOD.replace(
        "branches: { yes: rotation-broken, no: data-growth }",
        "branches: { yes: rotation-broken, no: space-errors }",
    );
    let errs = errors(&bad);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("13:3: loop space-errors → log-growth → space-errors")),
        "{errs:#?}"
    );
}

#[test]
fn a_bounded_retry_is_allowed_and_an_unbounded_one_is_not() {
    let with_retry = GOOD.replace(
        "    branches: { yes: log-growth, no: escalate }",
        "    branches: { yes: clean-up, no: escalate }",
    ) + "  clean-up:\n    kind: action\n    text: Delete rotated logs and retry the write.\n    next: log-growth\n    retry: { to: space-errors, limit: 3 }\n";
    assert!(errors(&with_retry).is_empty(), "{:#?}", errors(&with_retry));
    let unbounded = with_retry.replace("limit: 3", "limit: 0");
    assert_error(
        &unbounded,
        "35:5: retry limit 0 of `clean-up` is outside 1..=10",
    );
    let forward = with_retry.replace("retry: { to: space-errors", "retry: { to: data-growth");
    assert_error(
        &forward,
        "35:5: retry of `clean-up` goes to `data-growth`, which does not lead back",
    );
}

#[test]
fn duplicate_node_ids_are_refused() {
    let bad = GOOD.replace("  data-growth:\n", "  rotation-broken:\n");
    let errs = errors(&bad);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("duplicate") && errs[0].contains("rotation-broken"),
        "{errs:#?}"
    );
    assert!(
        errs[0].starts_with("23:3: nodes: duplicate entry with key \"rotation-broken\""),
        "{errs:#?}"
    );
}

#[test]
fn causes_must_be_declared() {
    let bad = GOOD.replace("cause: capacity", "cause: gremlins");
    assert_error(
        &bad,
        "26:5: cause `gremlins` of `data-growth` is not declared",
    );
    let declared = GOOD
        .replace("cause: capacity", "cause: gremlins")
        .replace("symptoms:", "causes: [gremlins]\nsymptoms:");
    assert!(errors(&declared).is_empty(), "{:#?}", errors(&declared));
}

#[test]
fn the_id_must_equal_the_file_stem() {
    let bad = GOOD.replace("id: disk-full", "id: full-disk");
    assert_error(
        &bad,
        "1:1: id `full-disk` differs from the file name `disk-full`",
    );
}

#[test]
fn regexes_must_compile() {
    let bad = GOOD.replace("  - 'No space left on device'", "  - 'No space (left'");
    assert_error(&bad, "5:3: symptom 1 is not a valid regex");
    let bad = GOOD.replace(
        "check: { any: 'No space left on device' }",
        "check: { any: 'x(?=y)' }",
    );
    assert_error(&bad, "11:14: the `any` regex of `space-errors` is invalid");
}

#[test]
fn a_check_has_exactly_one_form_and_a_count_needs_a_threshold() {
    let bad = GOOD.replace(
        "check: { any: 'No space left on device' }",
        "check: { any: 'a', absent: 'b' }",
    );
    assert_error(&bad, "11:5: the check of `space-errors` has 2 forms");
    let bad = GOOD.replace(", at_least: 2 }", " }");
    assert_error(
        &bad,
        "16:5: the count check of `log-growth` needs `at_least: N`",
    );
    let bad = GOOD.replace(
        "check: { any: 'No space left on device' }",
        "check: { any: 'x', within: soon }",
    );
    assert_error(
        &bad,
        "11:24: `within: soon` of `space-errors` is not a span",
    );
}

#[test]
fn a_conclusion_needs_cause_and_remedy() {
    let bad = GOOD.replace("    remedy: Add space or move data.\n", "");
    assert_error(&bad, "23:3: conclusion `data-growth` has no remedy");
    let bad = GOOD.replace("    cause: capacity\n", "");
    assert_error(&bad, "23:3: conclusion `data-growth` has no cause");
}

#[test]
fn a_branch_to_a_missing_node_names_it() {
    let bad = GOOD.replace("no: escalate }", "no: escalation }");
    assert_error(
        &bad,
        "12:5: `space-errors` no → `escalation`, which is not a node",
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let bad = GOOD
        .replace("start: space-errors", "start: nowhere")
        .replace("cause: capacity", "cause: gremlins");
    assert!(errors(&bad).len() >= 2, "{:#?}", errors(&bad));
}

fn lines(text: &[&str]) -> Vec<String> {
    text.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_walk_follows_checks_and_records_evidence() {
    let chart = parse(GOOD, file()).expect("valid");
    let window = lines(&[
        "Jun 14 15:16:01 host logrotate: error: stat of /var/log/app failed",
        "Jun 14 15:16:02 host app[1]: ok",
        "Jun 14 15:16:03 host logrotate: error: compress failed",
        "Jun 14 15:16:04 host app[1]: write /data/x: No space left on device",
    ]);
    let w = walk(&chart, Window::new(&window, 100));
    assert_eq!(
        w.path(),
        vec!["space-errors", "log-growth", "rotation-broken"]
    );
    assert_eq!(
        w.steps[0].outcome,
        Some(CheckOutcome::Decided {
            holds: true,
            evidence: vec![103]
        })
    );
    assert_eq!(
        w.steps[1].outcome,
        Some(CheckOutcome::Decided {
            holds: true,
            evidence: vec![100, 102]
        })
    );
    assert_eq!(w.evidence(), vec![100, 102, 103]);
    assert!(matches!(&w.end, End::Conclusion { cause, .. } if cause == "configuration_error"));
}

#[test]
fn a_time_span_over_lines_without_timestamps_stops_the_walk() {
    let chart = parse(
        &GOOD.replace("at_least: 2 }", "at_least: 2, within: 10m }"),
        file(),
    )
    .expect("valid");
    let window = lines(&[
        "No space left on device",
        "logrotate error",
        "logrotate error",
    ]);
    let w = walk(&chart, Window::new(&window, 1));
    assert_eq!(w.path(), vec!["space-errors", "log-growth"]);
    match &w.end {
        End::Undecided { node, reason } => {
            assert_eq!(node, "log-growth");
            assert!(
                reason.contains("no line of the window has a timestamp"),
                "{reason}"
            );
            assert!(
                reason.contains("a person or the model must decide"),
                "{reason}"
            );
        }
        other => panic!("expected undecided, got {other:?}"),
    }
}

#[test]
fn within_counts_only_lines_near_the_symptom() {
    let chart = parse(
        &GOOD.replace("at_least: 2 }", "at_least: 2, within: 10m }"),
        file(),
    )
    .expect("valid");
    let window = lines(&[
        "Jun 14 13:00:00 host logrotate: error: one",
        "Jun 14 15:10:00 host logrotate: error: two",
        "Jun 14 15:16:04 host app[1]: No space left on device",
    ]);
    let w = walk(&chart, Window::new(&window, 1));
    assert_eq!(w.path(), vec!["space-errors", "log-growth", "data-growth"]);
    assert_eq!(
        w.steps[1].outcome,
        Some(CheckOutcome::Decided {
            holds: false,
            evidence: vec![2]
        })
    );
}

#[test]
fn a_decision_without_a_check_asks_a_person() {
    let chart = parse(
        &GOOD.replace("    check: { any: 'No space left on device' }\n", ""),
        file(),
    )
    .expect("valid");
    let w = walk(&chart, Window::new(&[], 1));
    assert!(
        matches!(&w.end, End::Undecided { reason, .. } if reason.contains("choose yes / no")),
        "{:?}",
        w.end
    );
}

#[test]
fn the_derived_thought_is_abstract_and_in_spec_format() {
    let chart = parse(GOOD, file()).expect("valid");
    let t = thought::derive(&chart);
    let text = t.render();
    assert!(
        text.starts_with("Problem overview: Service fails because the disk is full in Linux logs."),
        "{text}"
    );
    assert!(text.contains("Key challenges:\n- \"Did log rotation fail before the errors\" depends on a threshold (2 lines)"), "{text}");
    assert!(text.contains("Reasoning steps:\n1. Do writes fail with ENOSPC? Check the lines for this (yes: go to step 2; no: escalate)."), "{text}");
    assert!(text.contains("2. Did log rotation fail before the errors? Check the lines for this (yes: conclude configuration error; no: conclude capacity)."), "{text}");
    assert_eq!(t.steps.len(), 3);
}

#[test]
fn thoughts_are_stored_once_and_go_stale_when_the_chart_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::store::Store::open(dir.path().join("db")).expect("store");
    let chart = parse(GOOD, file()).expect("valid");
    let first = thought::sync(&store, std::slice::from_ref(&chart)).expect("sync");
    assert_eq!(first.created, vec!["disk-full"]);
    let again = thought::sync(&store, std::slice::from_ref(&chart)).expect("sync");
    assert_eq!(again.unchanged, vec!["disk-full"]);

    let mut edited = chart.clone();
    edited.nodes["data-growth"].remedy = Some("Buy disks.".into());
    let report = thought::sync(&store, &[edited.clone()]).expect("sync");
    assert_eq!(report.staled, vec!["disk-full"]);
    let thoughts = store.all::<crate::store::Thought>().expect("all");
    assert_eq!(thoughts.len(), 2);
    assert_eq!(thoughts[0].status, crate::store::ReviewStatus::Stale);
    assert_eq!(thoughts[1].version, 2);
    assert_eq!(
        thoughts[1].chart_hash.as_deref(),
        Some(edited.content_hash().as_str())
    );
}

#[test]
fn save_is_atomic_and_round_trips_in_canonical_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("disk-full.yaml");
    let chart = parse(GOOD, file()).expect("valid");
    save(&chart, &path).expect("save");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.starts_with("id: disk-full\ntitle: "), "{text}");
    assert_eq!(load_file(&path).expect("reload"), chart);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    // Saving again writes the same bytes: the order is stable.
    save(&chart, &path).expect("save");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

/// Saving over an expert's file rewrites what changed and keeps its comments and styles.
#[test]
fn saving_an_edit_keeps_the_experts_comments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("disk-full.yaml");
    let text = format!("# Owned by the storage team; ask before changing.\n{GOOD}");
    std::fs::write(&path, &text).expect("write");
    let mut chart = load_file(&path).expect("load");
    let first = chart.start.clone();
    chart.nodes[&first].text = "Do writes fail with ENOSPC or EDQUOT?".into();
    save(&chart, &path).expect("save");
    let saved = std::fs::read_to_string(&path).expect("read");
    assert!(saved.starts_with("# Owned by the storage team"), "{saved}");
    let changed = text
        .lines()
        .zip(saved.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(changed, 1, "{saved}");
    assert_eq!(load_file(&path).expect("reload"), chart);
}

#[test]
fn exports_name_every_node_and_edge() {
    let chart = parse(GOOD, file()).expect("valid");
    let m = export::mermaid(&chart);
    assert!(m.contains("flowchart TD"), "{m}");
    assert!(m.contains("n0{\"Do writes fail with ENOSPC?\"}"), "{m}");
    assert!(m.contains("n0 -->|yes| n1"), "{m}");
    assert!(
        m.contains("n2([\"Logs were not rotated and filled the disk. [configuration_error]\"])"),
        "{m}"
    );
    let d = export::dot(&chart);
    assert!(
        d.contains("\"space-errors\" -> \"log-growth\" [label=\"yes\"];"),
        "{d}"
    );
    assert!(d.contains("shape=diamond"), "{d}");
    let tree: Vec<String> = export::tree(&chart).into_iter().map(|r| r.text).collect();
    assert_eq!(
        tree,
        vec![
            "◆ space-errors: Do writes fail with ENOSPC?",
            "├─ yes → ◆ log-growth: Did log rotation fail before the errors?",
            "│  ├─ yes → ● rotation-broken: Logs were not rotated and filled the disk. [configuration_error]",
            "│  └─ no → ● data-growth: Data grew past capacity. [capacity]",
            "└─ no → ▲ escalate: The log does not show the full disk; ask the storage team.",
        ]
    );
}

#[test]
fn retrieval_ranks_by_symptoms_then_system() {
    let a = parse(GOOD, file()).expect("valid");
    let mut b = a.clone();
    b.id = "other".into();
    b.system = "HDFS".into();
    b.symptoms = vec!["nothing matches this".into()];
    let window = lines(&["x", "No space left on device", "No space left on device"]);
    let ranked = retrieve::rank(&[b, a], Window::new(&window, 10), Some("linux"));
    assert_eq!(ranked.len(), 1);
    assert_eq!(ranked[0].chart, "disk-full");
    assert_eq!(ranked[0].lines, vec![11, 12]);
    assert!(ranked[0].system_match);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn arbitrary_text_never_panics_the_loader(text in "\\PC{0,400}") {
            let _ = parse(&text, file());
        }

        #[test]
        fn mutated_charts_never_panic_the_loader(cut in 0usize..900, insert in "[ :{}\\[\\]'\\-a-z\\n]{0,12}") {
            let mut text = GOOD.to_string();
            let at = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            text.insert_str(at, &insert);
            if let Ok(chart) = parse(&text, file()) {
                let _ = walk(&chart, Window::new(&[], 1));
                let _ = thought::derive(&chart);
                let _ = export::tree(&chart);
            }
        }
    }
}

/// A chain of `n` nodes of `kind`, each leading to the next, ending at a conclusion.
fn chain(n: usize, kind: &str) -> String {
    let mut text = String::from(
        "id: disk-full\ntitle: A long chain\nsystem: Linux\nsymptoms: ['error']\nstart: n0\nnodes:\n",
    );
    for i in 0..n {
        text.push_str(&format!("  n{i}:\n    kind: {kind}\n    text: Step {i}\n"));
        if kind == "check" {
            text.push_str("    check: { any: 'error' }\n");
        }
        text.push_str(&format!("    next: n{}\n", i + 1));
    }
    text.push_str(&format!(
        "  n{n}:\n    kind: conclusion\n    text: Done.\n    cause: timeout\n    remedy: Wait.\n"
    ));
    text
}

/// A chart deeper than any stack: validation, the tree (CLI and Flowcharts screen) and the thought
/// are iterative, and the tree's indentation is bounded (a 30,000-deep chain once aborted the
/// process with a stack overflow and would have needed gigabytes of indentation).
#[test]
fn a_thirty_thousand_node_chain_validates_prints_and_derives_a_thought() {
    let text = chain(30_000, "action");
    let chart = parse(&text, file()).expect("valid");
    let rows = export::tree(&chart);
    assert_eq!(rows.len(), 30_001);
    assert!(rows[30_000].text.contains("n30000: Done."));
    let widest = rows
        .iter()
        .map(|r| r.text.chars().count())
        .max()
        .unwrap_or(0);
    assert!(widest < 200, "indentation is bounded: {widest} characters");
    let thought = thought::derive(&chart);
    assert!(thought.steps.len() >= 30_000, "every action is a step");
}

/// Validation locates nodes through an index built once, so a 20,000-node chart validates in one
/// pass (a scan per node made 10,000 nodes take over two minutes), and its errors still point at
/// the right line.
#[test]
fn a_twenty_thousand_node_chart_validates_and_errors_point_at_their_node() {
    let text = chain(20_000, "check");
    assert!(parse(&text, file()).is_ok());
    let bad = text.replace("    text: Step 19999\n", "    text: ''\n");
    let line = bad
        .lines()
        .position(|l| l == "  n19999:")
        .expect("node line")
        + 1;
    assert_error(&bad, &format!("{}:5: node `n19999` has no text", line + 2));
}

/// Chart text is printed by `flowchart tree`, `export` and the TUI: a control character in it is
/// refused where it is, whether written raw or as a YAML escape.
#[test]
fn control_characters_in_chart_text_are_refused() {
    let bad = GOOD.replace(
        "text: Data grew past capacity.",
        "text: \"Data grew\\e[2J past capacity.\"",
    );
    assert_error(
        &bad,
        "25:5: the text of `data-growth` holds the control character U+001B",
    );
    let bad = GOOD.replace(
        "title: Service fails because the disk is full",
        "title: \"Disk\\u009b full\"",
    );
    assert_error(&bad, "2:1: the title holds the control character U+009B");
}

const RATE: &str = "\
id: disk-full
title: Errors surge with no known pattern
system: any
symptoms:
  - '(?i)error'
start: surge
nodes:
  surge:
    kind: decision
    text: Is the window's error share far above the rest of the file's?
    check: { error_rate: { above: 3x } }
    branches: { yes: unexplained, no: quiet }
  unexplained:
    kind: conclusion
    text: Errors surge in this window and no known pattern explains them.
    cause: unknown
    remedy: Read the first error lines.
  quiet:
    kind: escalate
    text: The errors are as common as anywhere else in the file.
";

#[test]
fn an_error_rate_check_compares_the_window_with_the_rest_of_its_file() {
    let chart = parse(RATE, file()).expect("valid");
    let mut lines: Vec<String> = (0..20).map(|i| format!("INFO step {i} done")).collect();
    for i in [3, 7, 11, 15, 19] {
        lines[i] = format!("ERROR step {i} failed");
    }
    let quiet_file = crate::logs::errors::Baseline {
        lines: 1000,
        errors: 10,
    };
    let w = walk(&chart, Window::new(&lines, 41).in_file(Some(quiet_file)));
    assert!(
        matches!(&w.end, End::Conclusion { node, .. } if node == "unexplained"),
        "{}",
        w.describe()
    );
    assert_eq!(w.evidence(), vec![44, 48, 52, 56, 60]);
    // For a prompt that holds the thought, decided steps leave out their question.
    let (full, brief) = (w.describe(), w.describe_with(false));
    let question = &w.steps[0].text;
    assert!(
        full.contains(question.as_str()) && !brief.contains(question.as_str()),
        "{brief}"
    );
    assert!(
        brief.contains("check holds: lines 44, 48, 52, 56, 60"),
        "{brief}"
    );
    // A file that errs as often (20% against the window's 25%) is no surge.
    let noisy_file = crate::logs::errors::Baseline {
        lines: 1000,
        errors: 200,
    };
    let w = walk(&chart, Window::new(&lines, 41).in_file(Some(noisy_file)));
    assert!(matches!(&w.end, End::Escalate { .. }), "{}", w.describe());
    // Lines without their file cannot answer it: the walk says so instead of guessing.
    let w = walk(&chart, Window::new(&lines, 41));
    assert!(
        matches!(w.steps[0].outcome, Some(CheckOutcome::Undecidable { .. })),
        "{}",
        w.describe()
    );
}

#[test]
fn an_error_rate_needs_a_factor() {
    assert_error(
        &RATE.replace("above: 3x", "above: lots"),
        "11:5: the error_rate check of `surge` needs `above:` a positive factor",
    );
}

#[test]
fn a_novel_templates_check_reads_the_messages_new_to_the_file() {
    let text = RATE.replace(
        "check: { error_rate: { above: 3x } }",
        "check: { novel_templates: { at_least: 1 } }",
    );
    let chart = parse(&text, file()).expect("valid");
    let lines: Vec<String> = (0..10).map(|i| format!("INFO step {i}")).collect();
    let w = walk(&chart, Window::new(&lines, 41).with_novel(Some(&[45])));
    assert!(matches!(&w.end, End::Conclusion { .. }), "{}", w.describe());
    assert_eq!(w.evidence(), vec![45]);
    let w = walk(&chart, Window::new(&lines, 41).with_novel(Some(&[])));
    assert!(matches!(&w.end, End::Escalate { .. }), "{}", w.describe());
    let w = walk(&chart, Window::new(&lines, 41));
    assert!(matches!(
        w.steps[0].outcome,
        Some(CheckOutcome::Undecidable { .. })
    ));
    assert_error(
        &text.replace("at_least: 1", "at_least: 0"),
        "11:5: the novel_templates check of `surge` needs `at_least: N` with N ≥ 1",
    );
}
