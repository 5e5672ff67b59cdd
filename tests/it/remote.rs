//! The remote backend against a real OpenAI-compatible server on loopback: llama-cpp-python's
//! server, serving the default model's GGUF. Opt-in (`cargo test --test remote -- --ignored`):
//! pip builds llama-cpp-python from source (about 20 minutes on two cores), so scripts/test.sh runs
//! this only where `llama_cpp.server` imports (`pip install 'llama-cpp-python[server]'`).

use crate::common;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use logreasoner_core::config::RemoteSettings;
use logreasoner_core::llm::backend::BackendSpec;
use logreasoner_core::llm::chat::Message;
use logreasoner_core::llm::model::{GenerationParams, StopReason};

const KEY: &str = "lr-test-key-5f1c9a";

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "llama_cpp.server",
            "--host",
            "127.0.0.1",
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
        ])
        .arg("--port")
        .arg(port.to_string())
        .arg("--model")
        .arg(common::default_model())
        .arg("--api_key")
        .arg(KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m llama_cpp.server");
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}/v1"),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ready = ureq_get(&format!("{}/models", server.url));
        if ready {
            return server;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A plain HTTP GET with the key, through a raw socket (the test needs no HTTP client of its own).
fn ureq_get(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let req =
        format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n\r\n");
    if std::io::Write::write_all(&mut s, req.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

fn settings(url: &str, env: Option<&str>) -> RemoteSettings {
    RemoteSettings {
        url: url.to_string(),
        model: "smollm2-remote".into(),
        api_key_env: env.map(str::to_string),
        api_key_file: None,
    }
}

#[test]
#[ignore = "needs llama-cpp-python[server]; scripts/test.sh runs it where that is installed"]
fn streams_cancels_and_keeps_the_key_to_itself() {
    let server = start_server();
    std::env::set_var("LR_REMOTE_TEST_KEY", KEY);
    let mut backend = BackendSpec::Remote(settings(&server.url, Some("LR_REMOTE_TEST_KEY")))
        .open()
        .expect("open");
    assert_eq!(backend.name(), "smollm2-remote");
    let messages = [
        Message::system("You are a helpful assistant."),
        Message::user("Name three colours."),
    ];
    let params = GenerationParams {
        max_tokens: 24,
        ..Default::default()
    };
    let mut pieces = Vec::new();
    let cancel = AtomicBool::new(false);
    let g = backend
        .chat(&messages, &params, &cancel, &mut |p| {
            pieces.push(p.to_string())
        })
        .expect("chat");
    assert!(
        pieces.len() > 1,
        "the answer streamed in pieces: {pieces:?}"
    );
    assert_eq!(pieces.concat(), g.text);
    assert!(!g.text.trim().is_empty());
    assert!(matches!(
        g.stop,
        StopReason::EndToken | StopReason::MaxTokens
    ));
    assert!(g.first_token_secs.is_some() && g.generated_tokens > 0);

    // Cancelled after the first piece: it stops there.
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let g = backend
        .chat(&messages, &params, &cancel, &mut |_| {
            seen += 1;
            cancel.store(true, Ordering::Relaxed);
        })
        .expect("chat");
    assert_eq!(g.stop, StopReason::Cancelled);
    assert!(seen <= 2, "stopped within a chunk: {seen}");

    // A wrong key is a clear error that does not repeat the key.
    std::env::set_var("LR_REMOTE_WRONG_KEY", "not-the-key-7d2e");
    let mut wrong = BackendSpec::Remote(settings(&server.url, Some("LR_REMOTE_WRONG_KEY")))
        .open()
        .expect("open");
    let err = wrong
        .chat(&messages, &params, &AtomicBool::new(false), &mut |_| {})
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("API key"), "{text}");
    assert!(!text.contains("not-the-key-7d2e"));

    // The CLI diagnoses through the server when the config names it; the key stays out of the
    // output, the log file and the database.
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "remote:\n  url: {}\n  model: smollm2-remote\n  api_key_env: LR_REMOTE_TEST_KEY\n",
            server.url
        ),
    )
    .expect("config");
    let bgl = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/datasets/loghub-2k/BGL/BGL_2k.log");
    let out = common::command(home.path())
        .env("LR_REMOTE_TEST_KEY", KEY)
        .args([
            "-v",
            "diagnose",
            "--json",
            "--lines",
            "99..108",
            "--max-tokens",
            "48",
            "--config",
        ])
        .arg(&config)
        .arg(&bgl)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["model"], "smollm2-remote");
    assert!(!json["reasoning"].as_str().unwrap_or("").is_empty());
    let cfg = common::command(home.path())
        .args(["config", "--config"])
        .arg(&config)
        .output()
        .expect("config");
    let cfg = String::from_utf8_lossy(&cfg.stdout);
    assert!(cfg.contains("from environment LR_REMOTE_TEST_KEY"), "{cfg}");
    let data = home.path().join(".local/share/logreasoner");
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "the key leaked into {}",
            entry.display()
        );
    }
    assert!(!stdout.contains(KEY) && !cfg.contains(KEY));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
