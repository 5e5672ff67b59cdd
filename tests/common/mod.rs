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
