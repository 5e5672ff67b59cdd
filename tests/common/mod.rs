//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use logreasoner::config::{Config, Overrides};
use logreasoner::store::Store;
use logreasoner::tui::{screens::Ctx, App};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_logreasoner"))
}

/// The binary with a private HOME, data folder and no inherited LOGREASONER_* settings.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("LOGREASONER_") || key.starts_with("XDG_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", home).env("USER", "tester");
    cmd
}

/// Configuration rooted in `dir`, independent of the process environment.
pub fn config(dir: &Path, logs: &Path) -> Config {
    let charts = dir.join("flowcharts");
    std::fs::create_dir_all(&charts).expect("flowcharts folder");
    config_with(dir, logs, &charts)
}

/// Like [`config`], with a flowcharts folder of the test's choosing.
pub fn config_with(dir: &Path, logs: &Path, flowcharts: &Path) -> Config {
    let home = dir.to_string_lossy().into_owned();
    let env = move |k: &str| match k {
        "HOME" => Some(home.clone()),
        "USER" => Some("tester".to_string()),
        _ => None,
    };
    let overrides = Overrides {
        logs: Some(logs.to_path_buf()),
        flowcharts: Some(flowcharts.to_path_buf()),
        ..Default::default()
    };
    Config::resolve(&overrides, &env).expect("config")
}

/// An app on a fresh database in `dir`, with its background loading finished.
pub fn app(dir: &Path, logs: &Path) -> App {
    app_with(config(dir, logs))
}

pub fn app_with(config: Config) -> App {
    let store = Store::open(&config.db.value).expect("store");
    let mut app = App::new(Ctx::new(config, store));
    app.start();
    app.wait_for_jobs();
    app
}

/// The default model (SmolLM2-135M-Instruct Q4_1), fetched once with pip into target/test-model, as
/// `logreasoner model fetch` does.
pub fn default_model() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-model");
        logreasoner::llm::fetch::fetch(&dir, "python3")
            .unwrap_or_else(|e| panic!("the default model is needed for these tests: {e}"))
    })
    .clone()
}

/// Validates `json` against a JSON Schema file with Python's `jsonschema` (scripts/test.sh installs
/// it), so the check is an independent implementation of the standard.
pub fn assert_valid_json(json: &str, schema: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = dir.path().join("doc.json");
    std::fs::write(&doc, json).expect("write json");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[2])))\n\
             jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])),\n\
             cls=jsonschema.Draft202012Validator)",
        ])
        .arg(&doc)
        .arg(schema)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "JSON does not validate against {}:\n{}\n{json}",
        schema.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A path inside the repository (or beside it: `../shared/data/…`).
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Re-replication after a lost DataNode whose transfers all fail: the chart must end in
/// `transfers-broken` (network_failure).
pub const HDFS_WINDOW: &[&str] = &[
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
    "081109 203620 35 INFO dfs.FSNamesystem: BLOCK* ask 10.250.14.224:50010 to replicate blk_-1608999687919862906 to datanode(s) 10.251.215.16:50010",
    "081109 203625 29 INFO dfs.FSNamesystem: BLOCK* NameSystem.heartbeatCheck: lost heartbeat from 10.251.73.220:50010",
    "081109 203700 19 WARN dfs.PendingReplicationBlocks$PendingReplicationMonitor: PendingReplicationMonitor timed out block blk_-1608999687919862906",
    "081109 203710 1920 WARN dfs.DataNode: 10.250.14.224:50010:Failed to transfer blk_-1608999687919862906 to 10.251.215.16:50010 got java.net.SocketTimeoutException: 480000 millis timeout",
];
