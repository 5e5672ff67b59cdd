//! Structured log lines: JSON objects (structured loggers, Docker's json-file, journald's JSON
//! export) and logfmt (`time=… level=error msg="…"`). A line's top-level fields are read as slices
//! of the line itself (no allocation, string values without their quotes, escapes kept), and the
//! usual field names give the header: level, time, component and message.

use super::header::{Header, Level};

/// Which structured syntax a format reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// One JSON object per line.
    Json,
    /// logfmt: `key=value` pairs separated by spaces.
    Logfmt,
}

/// Field names, most common first; matched without regard to case.
const MESSAGE_KEYS: &[&str] = &["msg", "message", "log", "text", "event", "error"];
const LEVEL_KEYS: &[&str] = &[
    "level",
    "lvl",
    "severity",
    "levelname",
    "log.level",
    "loglevel",
    "priority",
];
const TIME_KEYS: &[&str] = &[
    "time",
    "ts",
    "timestamp",
    "@timestamp",
    "t",
    "datetime",
    "__realtime_timestamp",
];
const COMPONENT_KEYS: &[&str] = &[
    "logger",
    "component",
    "module",
    "caller",
    "source",
    "syslog_identifier",
    "_systemd_unit",
    "container_name",
    "name",
];

/// Field names a user's config adds for each header part, tried before the usual ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldNames {
    /// Keys holding the message.
    pub message: Vec<String>,
    /// Keys holding the level.
    pub level: Vec<String>,
    /// Keys holding the time.
    pub time: Vec<String>,
    /// Keys naming the component or program.
    pub component: Vec<String>,
}

static USER_FIELDS: std::sync::OnceLock<FieldNames> = std::sync::OnceLock::new();

/// Adds the config file's field names. Called once at start-up, before any log is read; a second
/// call changes nothing and says so.
pub fn configure(names: FieldNames) -> Result<(), String> {
    USER_FIELDS
        .set(names)
        .map_err(|_| "the structured field names were configured already".to_string())
}

/// The header of a structured line, or `None` when the line is not in `syntax`.
pub fn parse(syntax: Syntax, line: &str) -> Option<Header<'_>> {
    let fields = fields(syntax, line)?;
    let user = USER_FIELDS.get();
    let get = |own: Option<&Vec<String>>, keys: &[&str]| {
        own.into_iter()
            .flatten()
            .map(String::as_str)
            .chain(keys.iter().copied())
            .find_map(|k| {
                fields
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .map(|(_, v)| *v)
            })
    };
    let content = get(user.map(|u| &u.message), MESSAGE_KEYS).unwrap_or(line);
    let header_level = get(user.map(|u| &u.level), LEVEL_KEYS).and_then(level_of);
    let (level, level_from_header) = match header_level {
        Some(l) => (Some(l), true),
        None => (Level::infer(content), false),
    };
    Some(Header {
        timestamp: get(user.map(|u| &u.time), TIME_KEYS),
        level,
        level_from_header,
        component: get(user.map(|u| &u.component), COMPONENT_KEYS),
        content,
    })
}

/// A level written as a word, a pino/bunyan number (10 trace … 60 fatal) or a syslog priority
/// (0 emergency … 7 debug, as journald writes it).
fn level_of(text: &str) -> Option<Level> {
    if let Ok(n) = text.trim().parse::<u32>() {
        return Some(match n {
            0..=7 => Level::from_syslog_severity(n),
            8..=19 => Level::Trace,
            20..=29 => Level::Debug,
            30..=39 => Level::Info,
            40..=49 => Level::Warn,
            50..=59 => Level::Error,
            _ => Level::Fatal,
        });
    }
    Level::parse(text)
}

/// The line's top-level `(key, value)` pairs; `None` when it is not in `syntax`.
pub fn fields(syntax: Syntax, line: &str) -> Option<Vec<(&str, &str)>> {
    match syntax {
        Syntax::Json => json_fields(line),
        Syntax::Logfmt => logfmt_fields(line),
    }
}

/// A JSON object's top-level members. Strings are returned without their quotes (escapes kept);
/// nested objects and arrays whole. Anything that is not one object is `None`.
fn json_fields(line: &str) -> Option<Vec<(&str, &str)>> {
    let text = line.trim();
    let b = text.as_bytes();
    if b.first() != Some(&b'{') || b.last() != Some(&b'}') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = skip_space(b, 1);
    if b.get(i) == Some(&b'}') {
        return (i == b.len() - 1).then_some(out);
    }
    loop {
        let (key, after) = json_string(text, i)?;
        i = skip_space(b, after);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_space(b, i + 1);
        let (value, after) = json_value(text, i)?;
        out.push((key, value));
        i = skip_space(b, after);
        match b.get(i) {
            Some(b',') => i = skip_space(b, i + 1),
            Some(b'}') if i == b.len() - 1 => return Some(out),
            _ => return None,
        }
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The string starting at `text[at]` (a quote): its inside and the index after its closing quote.
fn json_string(text: &str, at: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((&text[at + 1..i], i + 1)),
            _ => i += 1,
        }
    }
    None
}

/// A value starting at `text[at]`: a string's inside, or a number, literal, object or array whole.
fn json_value(text: &str, at: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    match b.get(at)? {
        b'"' => json_string(text, at),
        b'{' | b'[' => {
            // Nested: find the matching close, skipping strings.
            let mut depth = 0usize;
            let mut i = at;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = json_string(text, i)?.1;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((&text[at..=i], i + 1));
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let end = (at..b.len())
                .find(|&i| matches!(b[i], b',' | b'}' | b']') || b[i].is_ascii_whitespace())
                .unwrap_or(b.len());
            (end > at).then(|| (&text[at..end], end))
        }
    }
}

/// logfmt pairs: `key=value` or `key="quoted value"` separated by spaces. The line must start with
/// a pair and hold at least two, one of them a message or a level, so prose with an `a=b` in it is
/// not read as logfmt.
fn logfmt_fields(line: &str) -> Option<Vec<(&str, &str)>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = skip_space(b, 0);
    while i < b.len() {
        let key_start = i;
        while i < b.len()
            && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'-' | b'@'))
        {
            i += 1;
        }
        if i == key_start || b.get(i) != Some(&b'=') {
            // Not a pair: fine after the first two (a trailing free text), else not logfmt.
            break;
        }
        let key = &line[key_start..i];
        i += 1;
        let (value, after) = if b.get(i) == Some(&b'"') {
            json_string(line, i)?
        } else {
            let end = (i..b.len())
                .find(|&j| b[j].is_ascii_whitespace())
                .unwrap_or(b.len());
            (&line[i..end], end)
        };
        out.push((key, value));
        i = skip_space(b, after);
    }
    let keyed = |keys: &[&str]| {
        out.iter()
            .any(|(k, _)| keys.iter().any(|m| k.eq_ignore_ascii_case(m)))
    };
    (out.len() >= 2 && (keyed(MESSAGE_KEYS) || keyed(LEVEL_KEYS))).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_gives_its_level_time_component_and_message() {
        let line = r#"{"ts":"2026-12-03T10:15:30Z","level":"error","logger":"db.pool","msg":"connection refused to db","attempt":3,"ctx":{"host":"db-1","ports":[5432]}}"#;
        let h = parse(Syntax::Json, line).expect("json");
        assert_eq!(h.timestamp, Some("2026-12-03T10:15:30Z"));
        assert_eq!((h.level, h.level_from_header), (Some(Level::Error), true));
        assert_eq!(h.component, Some("db.pool"));
        assert_eq!(h.content, "connection refused to db");
        let f = fields(Syntax::Json, line).expect("fields");
        assert!(f.contains(&("ctx", r#"{"host":"db-1","ports":[5432]}"#)));
        assert!(f.contains(&("attempt", "3")));
    }

    #[test]
    fn numeric_levels_and_docker_and_journald_fields() {
        let pino = r#"{"level":50,"time":1701600000000,"msg":"boom"}"#;
        assert_eq!(
            parse(Syntax::Json, pino).and_then(|h| h.level),
            Some(Level::Error)
        );
        let docker =
            r#"{"log":"panic: runtime error\n","stream":"stderr","time":"2026-12-03T10:00:00.1Z"}"#;
        let h = parse(Syntax::Json, docker).expect("docker");
        assert_eq!(h.content, r"panic: runtime error\n");
        assert_eq!(h.level, Some(Level::Fatal), "inferred from the message");
        let journald = r#"{"PRIORITY":"3","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"error: kex failed","__REALTIME_TIMESTAMP":"1701600000000000"}"#;
        let h = parse(Syntax::Json, journald).expect("journald");
        assert_eq!((h.level, h.component), (Some(Level::Error), Some("sshd")));
    }

    #[test]
    fn not_json_is_none() {
        for line in [
            "",
            "{",
            "{\"a\":}",
            "{\"a\" 1}",
            "{\"a\":1} trailing",
            "[1,2]",
            "plain text",
        ] {
            assert!(json_fields(line).is_none(), "{line}");
        }
        assert_eq!(json_fields("{ }"), Some(vec![]));
    }

    #[test]
    fn logfmt_lines_and_prose_with_an_equals_sign() {
        let line = r#"time=2026-12-03T10:15:30Z level=warn component=cache msg="evicting 12 keys" size=1024"#;
        let h = parse(Syntax::Logfmt, line).expect("logfmt");
        assert_eq!((h.level, h.component), (Some(Level::Warn), Some("cache")));
        assert_eq!(h.content, "evicting 12 keys");
        assert_eq!(h.timestamp, Some("2026-12-03T10:15:30Z"));
        assert!(parse(Syntax::Logfmt, "authentication failure; logname= uid=0").is_none());
        assert!(
            parse(Syntax::Logfmt, "a=1 b=2").is_none(),
            "no message or level"
        );
        assert!(parse(Syntax::Logfmt, r#"level=info msg="unterminated"#).is_none());
    }
}
