//! `logreasoner mcp`: a Model Context Protocol server over stdio, so coding and operations agents
//! can read logs, walk charts and diagnose windows with line numbers they can cite.
//!
//! The transport is MCP's stdio one: one JSON-RPC 2.0 message per line on standard input and
//! output; nothing else is ever written to standard output (logs go to the log file). The server
//! needs no database: every tool reads the configured logs and flowcharts, so it runs beside a
//! TUI that holds the database.

mod tools;

use std::io::{BufRead, Write};

use serde_json::{json, Value};

use logreasoner_core::config::Config;

/// Protocol revisions this server speaks, newest first; a client asking for one of them gets it.
const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// Serves requests from standard input until it closes.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let mut server = tools::Server::new(config.clone());
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(reply) = handle_line(&mut server, &line) {
            writeln!(stdout, "{reply}")?;
            stdout.flush()?;
        }
    }
    tracing::info!("mcp: standard input closed; stopping");
    Ok(())
}

/// The reply to one line of input, or `None` for a notification (or a batch of them).
fn handle_line(server: &mut tools::Server, line: &str) -> Option<Value> {
    let message: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Some(error(Value::Null, PARSE_ERROR, &format!("not JSON: {e}"))),
    };
    match message {
        // A batch (protocol 2025-03-26 allowed them): each request answered, in order.
        Value::Array(batch) => {
            let replies: Vec<Value> = batch
                .into_iter()
                .filter_map(|m| handle(server, m))
                .collect();
            (!replies.is_empty()).then_some(Value::Array(replies))
        }
        message => handle(server, message),
    }
}

fn handle(server: &mut tools::Server, message: Value) -> Option<Value> {
    let id = message.get("id").cloned();
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        // A response to a request we never send, or garbage: answer only what has an id.
        return id.map(|id| error(id, INVALID_REQUEST, "a request needs a `method`"));
    };
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let Some(id) = id else {
        // Notifications (`notifications/initialized`, `notifications/cancelled`) need no answer.
        tracing::debug!(method, "mcp notification");
        return None;
    };
    tracing::debug!(method, "mcp request");
    let result = match method {
        "initialize" => Ok(initialize(&params)),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({ "tools": tools::list() })),
        "tools/call" => call(server, &params),
        other => Err((METHOD_NOT_FOUND, format!("no method `{other}`"))),
    };
    Some(match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err((code, message)) => error(id, code, &message),
    })
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|v| PROTOCOL_VERSIONS.contains(v))
        .unwrap_or(PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": {
            "name": "logreasoner",
            "title": "LogReasoner",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "Read log sources (list_sources, read_lines, search, templates), find and \
            walk the expert troubleshooting flowcharts over a line range (match_charts, walk, \
            read_chart) and diagnose a range (diagnose). Every line carries its 1-based number in \
            its source; cite those numbers.",
    })
}

/// `tools/call`: a tool's failure (a missing source, a bad regex) is a result with `isError`, so
/// the agent sees the message; only an unknown tool or malformed parameters are protocol errors.
fn call(server: &mut tools::Server, params: &Value) -> Result<Value, (i64, String)> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or((INVALID_PARAMS, "tools/call needs a tool `name`".to_string()))?;
    let args = params
        .get("arguments")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !args.is_object() {
        return Err((INVALID_PARAMS, "`arguments` must be an object".into()));
    }
    let outcome = server
        .call(name, &args)
        .ok_or_else(|| (INVALID_PARAMS, format!("no tool `{name}`")))?;
    Ok(match outcome {
        Ok(value) => json!({
            "content": [{ "type": "text", "text": value.to_string() }],
            "structuredContent": value,
            "isError": false,
        }),
        Err(message) => json!({
            "content": [{ "type": "text", "text": message }],
            "isError": true,
        }),
    })
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> tools::Server {
        tools::test_server()
    }

    #[test]
    fn the_protocol_version_is_the_clients_when_known_and_ours_otherwise() {
        let v = |asked: &str| {
            initialize(&json!({ "protocolVersion": asked }))["protocolVersion"].clone()
        };
        assert_eq!(v("2025-06-18"), "2025-06-18");
        assert_eq!(v("1999-01-01"), PROTOCOL_VERSIONS[0]);
    }

    #[test]
    fn notifications_get_no_reply_and_mistakes_get_json_rpc_errors() {
        let mut s = server();
        assert_eq!(
            handle_line(
                &mut s,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
            ),
            None
        );
        let reply = handle_line(&mut s, "{not json").expect("reply");
        assert_eq!(reply["error"]["code"], PARSE_ERROR);
        let reply =
            handle_line(&mut s, r#"{"jsonrpc":"2.0","id":7,"method":"nope"}"#).expect("reply");
        assert_eq!(
            (reply["id"].clone(), reply["error"]["code"].clone()),
            (json!(7), json!(METHOD_NOT_FOUND))
        );
        let reply = handle_line(
            &mut s,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#,
        )
        .expect("reply");
        assert_eq!(reply["error"]["code"], INVALID_PARAMS);
    }

    #[test]
    fn a_tool_failure_is_a_result_the_agent_can_read() {
        let mut s = server();
        let reply = handle_line(
            &mut s,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_lines","arguments":{"source":"no-such.log"}}}"#,
        )
        .expect("reply");
        assert_eq!(reply["result"]["isError"], true, "{reply}");
        let text = reply["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text.contains("no-such.log") && text.contains("list_sources"),
            "{text}"
        );
    }
}
