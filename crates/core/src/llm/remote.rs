//! The same generation over any OpenAI-compatible chat-completions server (vLLM, llama.cpp's
//! server): the request streams (`stream: true`), each server-sent `data:` chunk's delta is handed
//! on as it arrives, and cancellation drops the connection before the next chunk. The API key is
//! held as a [`Secret`], which never prints.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::chat::Message;
use super::model::{Generation, GenerationParams, LlmError, StopReason};
use crate::config::RemoteSettings;

/// A credential that never appears in logs, errors or records.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Reads the API key as configured: an environment variable, or a file only its owner can read.
pub fn api_key(
    settings: &RemoteSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, LlmError> {
    let fail = |message: String| LlmError::Remote {
        url: settings.url.clone(),
        message,
    };
    if let Some(var) = &settings.api_key_env {
        return match env(var).filter(|v| !v.trim().is_empty()) {
            Some(v) => Ok(Some(Secret(v.trim().to_string()))),
            None => Err(fail(format!(
                "the API key should come from the environment variable {var}, which is not set"
            ))),
        };
    }
    let Some(path) = &settings.api_key_file else {
        return Ok(None);
    };
    check_owner_only(path).map_err(fail)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(format!(
            "cannot read the API key file {}: {e}",
            path.display()
        ))
    })?;
    Ok(Some(Secret(text.trim().to_string())))
}

#[cfg(unix)]
fn check_owner_only(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the API key file {}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "the API key file {} can be read by others (mode {:o}); run `chmod 600` on it",
            path.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// A model behind an OpenAI-compatible chat-completions server.
pub struct Remote {
    /// Base URL up to and including `/v1`, without a trailing slash.
    pub url: String,
    /// The model name the server knows.
    pub model: String,
    key: Option<Secret>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish()
    }
}

impl Remote {
    /// A client for the configured server; `key`, when given, is sent as a bearer token.
    pub fn new(settings: &RemoteSettings, key: Option<Secret>) -> Remote {
        Remote {
            url: settings.url.trim_end_matches('/').to_string(),
            model: settings.model.clone(),
            key,
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(10))
                .timeout_read(Duration::from_secs(300))
                .build(),
        }
    }

    fn error(&self, message: impl Into<String>) -> LlmError {
        let mut message = message.into();
        if let Some(k) = &self.key {
            // A server that echoes the request must not leak the key through us.
            message = message.replace(k.expose(), "[redacted]");
        }
        LlmError::Remote {
            url: self.url.clone(),
            message,
        }
    }

    /// Streams a chat completion; the same contract as the local model's generation.
    pub fn chat(
        &self,
        messages: &[Message],
        params: &GenerationParams,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, LlmError> {
        let start = Instant::now();
        let mut body = json!({
            "model": self.model,
            "messages": messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
            "stream": true,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "stream_options": {"include_usage": true},
        });
        if !params.stop.is_empty() {
            body["stop"] = json!(params.stop);
        }
        let mut req = self
            .agent
            .post(&format!("{}/chat/completions", self.url))
            .set("Content-Type", "application/json")
            .set("Accept", "text/event-stream");
        if let Some(k) = &self.key {
            req = req.set("Authorization", &format!("Bearer {}", k.expose()));
        }
        let resp = match req.send_string(&body.to_string()) {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let text: String = r
                    .into_string()
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                let hint = if code == 401 || code == 403 {
                    " (check the API key setting)"
                } else {
                    ""
                };
                return Err(self.error(format!("the server answered {code}{hint}: {text}")));
            }
            Err(e) => return Err(self.error(format!("cannot reach the server: {e}"))),
        };
        let mut text = String::new();
        let mut stop = StopReason::MaxTokens;
        let mut first_token = None;
        let mut chunks = 0usize;
        let mut usage: Option<(usize, usize)> = None;
        for line in BufReader::new(resp.into_reader()).lines() {
            if cancel.load(Ordering::Relaxed) {
                stop = StopReason::Cancelled;
                break;
            }
            let line = line.map_err(|e| self.error(format!("the stream broke: {e}")))?;
            let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(data)
                .map_err(|e| self.error(format!("a streamed chunk is not JSON ({e})")))?;
            if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
                let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
                usage = Some((n("prompt_tokens"), n("completion_tokens")));
            }
            let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
                continue;
            };
            if let Some(piece) = choice
                .get("delta")
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
            {
                first_token.get_or_insert_with(|| start.elapsed());
                chunks += 1;
                text.push_str(piece);
                on_text(piece);
            }
            match choice.get("finish_reason").and_then(Value::as_str) {
                Some("stop") => stop = StopReason::EndToken,
                Some("length") => stop = StopReason::MaxTokens,
                _ => {}
            }
        }
        let total = start.elapsed();
        let first = first_token.unwrap_or(total);
        let (prompt_tokens, generated_tokens) = usage.unwrap_or((0, chunks));
        Ok(Generation {
            text,
            prompt_tokens,
            cached_tokens: 0,
            generated_tokens,
            stop,
            prefill_secs: first.as_secs_f64(),
            decode_secs: (total - first).as_secs_f64(),
            first_token_secs: first_token.map(|d| d.as_secs_f64()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RemoteSettings {
        RemoteSettings {
            url: "http://127.0.0.1:9/v1/".into(),
            model: "m".into(),
            api_key_env: None,
            api_key_file: None,
        }
    }

    #[test]
    fn the_key_never_prints() {
        let s = Secret("sk-very-secret".into());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        let remote = Remote::new(&settings(), Some(s));
        assert!(!format!("{remote:?}").contains("sk-very"));
        let err = remote.error("echo: Bearer sk-very-secret");
        assert!(!err.to_string().contains("sk-very"), "{err}");
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-abc\n").expect("write");
        let mut s = settings();
        s.api_key_file = Some(path.clone());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let err = api_key(&s, &|_| None).expect_err("refused");
            assert!(err.to_string().contains("chmod 600"), "{err}");
            assert!(!err.to_string().contains("sk-abc"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let key = api_key(&s, &|_| None).expect("read").expect("key");
        assert_eq!(key.expose(), "sk-abc");
        s.api_key_file = None;
        s.api_key_env = Some("MY_KEY".into());
        assert!(
            api_key(&s, &|_| None).is_err(),
            "a named variable that is unset is an error"
        );
        assert_eq!(
            api_key(&s, &|_| Some("k2".into()))
                .expect("env")
                .expect("key")
                .expose(),
            "k2"
        );
    }

    #[test]
    fn an_unreachable_server_is_a_clear_error() {
        let remote = Remote::new(&settings(), None);
        let cancel = AtomicBool::new(false);
        let err = remote
            .chat(
                &[Message::user("hi")],
                &GenerationParams::default(),
                &cancel,
                &mut |_| {},
            )
            .expect_err("nothing listens on port 9");
        let text = err.to_string();
        assert!(
            text.starts_with("remote backend http://127.0.0.1:9/v1: cannot reach the server"),
            "{text}"
        );
    }
}
