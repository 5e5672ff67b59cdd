//! Training data from JSONL, as `logreasoner export` writes it or a user writes by hand. SFT rows are
//! TRL's conversational `{"messages": [...]}` (the last message is the assistant's answer) or
//! LLaMA-Factory's `{"instruction", "input", "output", "system"}`; DPO rows are TRL's
//! `{"prompt": [...], "chosen": [...], "rejected": [...]}` (messages or plain strings) or
//! LLaMA-Factory's `{"instruction", "input", "chosen", "rejected", "system"}`.

use std::path::Path;

use serde_json::Value;

use super::TrainError;
use crate::llm::chat::Message;

/// A prompt (system and user turns) with the assistant's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SftRow {
    /// The system and user turns before the answer.
    pub prompt: Vec<Message>,
    /// The assistant's answer: the tokens that are learned.
    pub answer: String,
}

/// A prompt with a preferred and a dispreferred answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DpoRow {
    /// The turns before the answer, shared by both sides.
    pub prompt: Vec<Message>,
    /// The preferred answer.
    pub chosen: String,
    /// The dispreferred answer.
    pub rejected: String,
}

fn rows(path: &Path) -> Result<Vec<(usize, Value)>, TrainError> {
    let text = std::fs::read(path).map_err(|e| TrainError::Data {
        path: path.to_path_buf(),
        line: 0,
        reason: format!("cannot read it: {e}"),
    })?;
    let text = String::from_utf8_lossy(&text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| TrainError::Data {
            path: path.to_path_buf(),
            line: i + 1,
            reason: format!("not JSON: {e}"),
        })?;
        out.push((i + 1, v));
    }
    if out.is_empty() {
        return Err(TrainError::Data {
            path: path.to_path_buf(),
            line: 0,
            reason: "the file holds no examples".into(),
        });
    }
    Ok(out)
}

fn messages(v: &Value) -> Option<Vec<Message>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|m| {
                Some(Message {
                    role: m.get("role")?.as_str()?.to_string(),
                    content: m.get("content")?.as_str()?.to_string(),
                })
            })
            .collect(),
        Value::String(s) => Some(vec![Message::user(s.clone())]),
        _ => None,
    }
}

/// An answer given as a string or as a list whose last message is the assistant's.
fn answer(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(_) => messages(v)?
            .pop()
            .filter(|m| m.role == "assistant")
            .map(|m| m.content),
        _ => None,
    }
}

/// LLaMA-Factory's alpaca columns as a prompt.
fn alpaca_prompt(v: &Value) -> Option<Vec<Message>> {
    let instruction = v.get("instruction")?.as_str()?;
    let input = v.get("input").and_then(Value::as_str).unwrap_or("");
    let user = if input.is_empty() {
        instruction.to_string()
    } else {
        format!("{instruction}\n{input}")
    };
    let mut out = Vec::new();
    if let Some(system) = v.get("system").and_then(Value::as_str) {
        if !system.is_empty() {
            out.push(Message::system(system));
        }
    }
    out.push(Message::user(user));
    Some(out)
}

fn sft_row(v: &Value) -> Option<SftRow> {
    if let Some(list) = v.get("messages") {
        let mut msgs = messages(list)?;
        let last = msgs.pop().filter(|m| m.role == "assistant")?;
        return Some(SftRow {
            prompt: msgs,
            answer: last.content,
        });
    }
    Some(SftRow {
        prompt: alpaca_prompt(v)?,
        answer: v.get("output")?.as_str()?.to_string(),
    })
}

fn dpo_row(v: &Value) -> Option<DpoRow> {
    let prompt = match v.get("prompt") {
        Some(p) => messages(p)?,
        None => alpaca_prompt(v)?,
    };
    Some(DpoRow {
        prompt,
        chosen: answer(v.get("chosen")?)?,
        rejected: answer(v.get("rejected")?)?,
    })
}

/// Reads SFT rows from a JSONL file; a row of neither layout is an error naming its line.
pub fn read_sft(path: &Path) -> Result<Vec<SftRow>, TrainError> {
    rows(path)?
        .into_iter()
        .map(|(line, v)| {
            sft_row(&v).ok_or_else(|| TrainError::Data {
                path: path.to_path_buf(),
                line,
                reason: "expected {\"messages\": [..., {\"role\": \"assistant\", ...}]} or {\"instruction\", \"output\"}".into(),
            })
        })
        .collect()
}

/// Reads DPO rows from a JSONL file; a row of neither layout is an error naming its line.
pub fn read_dpo(path: &Path) -> Result<Vec<DpoRow>, TrainError> {
    rows(path)?
        .into_iter()
        .map(|(line, v)| {
            dpo_row(&v).ok_or_else(|| TrainError::Data {
                path: path.to_path_buf(),
                line,
                reason: "expected {\"prompt\", \"chosen\", \"rejected\"} (TRL) or {\"instruction\", \"chosen\", \"rejected\"}".into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_read_and_bad_lines_are_numbered() {
        let dir = tempfile::tempdir().expect("dir");
        let sft = dir.path().join("sft.jsonl");
        std::fs::write(
            &sft,
            concat!(
                r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}"#,
                "\n\n",
                r#"{"instruction":"i","input":"x","output":"o","system":""}"#,
                "\n"
            ),
        )
        .expect("write");
        let rows = read_sft(&sft).expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].prompt.len(), 2);
        assert_eq!(rows[0].answer, "a");
        assert_eq!(rows[1].prompt, vec![Message::user("i\nx")]);

        let dpo = dir.path().join("dpo.jsonl");
        std::fs::write(
            &dpo,
            concat!(
                r#"{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}"#,
                "\n",
                r#"{"prompt":"q2","chosen":"c","rejected":"r"}"#,
                "\n",
                r#"{"prompt":"q3","chosen":"c"}"#,
                "\n"
            ),
        )
        .expect("write");
        let err = read_dpo(&dpo).expect_err("third row lacks rejected");
        assert!(err.to_string().contains("dpo.jsonl:3"), "{err}");
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, "{not json\n").expect("write");
        let err = read_sft(&bad).expect_err("not json");
        assert!(err.to_string().contains("bad.jsonl:1"), "{err}");
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, "\n").expect("write");
        assert!(read_sft(&empty).is_err());
    }
}
