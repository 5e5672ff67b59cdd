//! `logreasoner mcp` driven by a real MCP client: the Python SDK (`mcp` on PyPI, which
//! scripts/test.sh installs) starts the server over stdio, initialises, lists the tools and calls
//! search, walk and diagnose on a bundled sample; every answer carries line numbers.

use std::process::Command;

use crate::common;

#[test]
fn a_python_mcp_client_searches_walks_and_diagnoses_with_line_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("python3")
        .arg(common::repo("tests/it/mcp_client.py"))
        .arg(common::bin())
        .arg(dir.path())
        .arg(common::repo("assets/samples"))
        .arg(common::repo("flowcharts"))
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the MCP session failed (scripts/test.sh installs the client: pip install mcp):\n{stderr}"
    );
    let seen: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the client prints JSON");
    assert_eq!(seen["server"], "logreasoner");
    for tool in [
        "search",
        "walk",
        "diagnose",
        "read_lines",
        "templates",
        "read_chart",
    ] {
        assert!(
            seen["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|n| n == tool)),
            "{tool} is listed: {seen}"
        );
    }
    assert!(
        seen["sources"]
            .as_array()
            .is_some_and(|s| s.iter().any(|n| n == "hdfs-datanode-loss.log")),
        "{seen}"
    );
    let hits: Vec<u64> = seen["search_lines"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default();
    let sample = std::fs::read_to_string(common::repo("assets/samples/hdfs-datanode-loss.log"))
        .expect("sample");
    let expected: Vec<u64> = sample
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("Exception") || l.contains("Timeout"))
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert_eq!(hits, expected, "search gives each hit its line number");
    assert_eq!(seen["walk_chart"], "hdfs-replication", "{seen}");
    assert!(
        seen["walk_end"].to_string().contains("node_failure"),
        "{seen}"
    );
    let evidence = seen["walk_evidence"].as_array().map_or(0, Vec::len);
    assert!(evidence > 0, "the walk cites lines: {seen}");
    let d = &seen["diagnosis"];
    assert_eq!(d["anomalous"], true, "{seen}");
    assert_eq!(d["cause"], "node_failure", "{seen}");
    assert_eq!(
        (d["first_line"].clone(), d["last_line"].clone()),
        (120.into(), 240.into())
    );
    assert!(
        d["evidence"].as_array().is_some_and(|e| !e.is_empty()
            && e.iter()
                .all(|n| n.as_u64().is_some_and(|n| (120..=240).contains(&n)))),
        "evidence lines inside the window: {seen}"
    );
    assert_eq!(seen["missing_is_error"], true);
}
