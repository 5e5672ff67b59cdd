//! Scrubbing secrets from text before it leaves the machine in a dataset: passwords, tokens, API
//! keys, private keys and e-mail addresses, plus any patterns the user adds. Each kind is counted.

use std::collections::BTreeMap;

use regex::Regex;

/// A named pattern and what replaces its secret part.
struct Rule {
    kind: String,
    re: Regex,
    /// Keep capture group 1 (the `password=` part) and replace the rest.
    keep_prefix: bool,
}

/// Replaces secrets in text with `[KIND]` tags, using the built-in rules plus the user's own.
pub struct Redactor {
    rules: Vec<Rule>,
    /// Replacements made so far, by kind (`password`, `email`, a user pattern's name, ...).
    pub counts: BTreeMap<String, usize>,
}

const BUILT_IN: &[(&str, &str, bool)] = &[
    (
        "private_key",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        false,
    ),
    // A key is one or more words joined by `_`, `.` or `-` (`db_pass`, `aws_secret_access_key`);
    // one of its words names the secret, so `bypass=` or `passage:` are left alone. The value may
    // be quoted, as in JSON or YAML.
    (
        "password",
        r#"(?i)(\b(?:[a-z0-9]+[_.-])*(?:password|passwd|pwd|passphrase|pass)(?:[_.-][a-z0-9]+)*["']?\s*[=:]\s*["']?)[^\s,;&"']+"#,
        true,
    ),
    (
        "api_key",
        r#"(?i)(\b(?:[a-z0-9]+[_.-])*(?:api[_-]?key|apikey|secret|private[_-]?key|access[_-]?key)(?:[_.-][a-z0-9]+)*["']?\s*[=:]\s*["']?)[^\s,;&"']+"#,
        true,
    ),
    (
        "api_key",
        r"\b(?:AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[baprs]-[A-Za-z0-9-]{10,})\b",
        false,
    ),
    ("token", r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}", true),
    (
        "token",
        r"(?i)(\b(?:access_token|auth_token|refresh_token|token|session_id|sessionid)\s*[=:]\s*)[^\s,;&]{8,}",
        true,
    ),
    (
        "email",
        r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
        false,
    ),
];

impl Redactor {
    /// The built-in rules plus `extra` (`(kind, regex)`; a bad regex is an error naming it).
    pub fn new(extra: &[(String, String)]) -> Result<Redactor, String> {
        let mut rules = Vec::new();
        for (kind, pattern, keep_prefix) in BUILT_IN {
            rules.push(Rule {
                kind: kind.to_string(),
                re: Regex::new(pattern).map_err(|e| format!("built-in pattern {kind}: {e}"))?,
                keep_prefix: *keep_prefix,
            });
        }
        for (kind, pattern) in extra {
            rules.push(Rule {
                kind: kind.clone(),
                re: Regex::new(pattern)
                    .map_err(|e| format!("redaction pattern `{kind}` does not compile: {e}"))?,
                keep_prefix: false,
            });
        }
        Ok(Redactor {
            rules,
            counts: BTreeMap::new(),
        })
    }

    /// `text` with every secret replaced by `[KIND]`, counting replacements.
    pub fn scrub(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for rule in &self.rules {
            let mut n = 0;
            let tag = format!("[{}]", rule.kind.to_uppercase());
            out = rule
                .re
                .replace_all(&out, |c: &regex::Captures| {
                    n += 1;
                    match (rule.keep_prefix, c.get(1)) {
                        (true, Some(prefix)) => format!("{}{tag}", prefix.as_str()),
                        _ => tag.clone(),
                    }
                })
                .into_owned();
            if n > 0 {
                *self.counts.entry(rule.kind.clone()).or_default() += n;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_and_counted() {
        let mut r =
            Redactor::new(&[("hostname".into(), r"\bdb-prod-\d+\b".into())]).expect("rules");
        let text = "login failed for bob@example.com password=hunter2 on db-prod-7; \
                    Authorization: Bearer abcdef123456789; api_key: AKIAABCDEFGHIJKLMNOP \
                    -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----";
        let out = r.scrub(text);
        assert!(
            !out.contains("hunter2") && !out.contains("bob@example.com"),
            "{out}"
        );
        assert!(out.contains("password=[PASSWORD]"), "{out}");
        assert!(out.contains("Bearer [TOKEN]"), "{out}");
        assert!(
            out.contains("[PRIVATE_KEY]") && !out.contains("MIIE"),
            "{out}"
        );
        assert!(out.contains("[HOSTNAME]"), "{out}");
        assert_eq!(r.counts["email"], 1);
        assert_eq!(r.counts["password"], 1);
        assert_eq!(r.counts["api_key"], 1);
        // Log lines without secrets pass unchanged.
        assert_eq!(
            r.scrub("block blk_123 of size 67108864"),
            "block blk_123 of size 67108864"
        );
        assert!(Redactor::new(&[("bad".into(), "(".into())]).is_err());
    }

    /// The audit's cases: AWS's secret beside its scrubbed key id, short `pass=` and `secret=`,
    /// quoted JSON values; words that merely contain "pass" stay.
    #[test]
    fn keys_that_name_a_secret_among_their_words_are_scrubbed() {
        let mut r = Redactor::new(&[]).expect("rules");
        for (text, secret) in [
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG",
                "wJalrXUtnFEMI",
            ),
            (
                "AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG",
                "wJalrXUtnFEMI",
            ),
            ("login pass=s3cr3t ok", "s3cr3t"),
            ("secret=hush", "hush"),
            ("db_pass=hunter2;", "hunter2"),
            (r#"{"password": "hunter2"}"#, "hunter2"),
            ("client-secret: abc123", "abc123"),
        ] {
            let out = r.scrub(text);
            assert!(!out.contains(secret), "{text} -> {out}");
        }
        for clean in ["bypass=1 for cache", "passage: north", "compass=12"] {
            assert_eq!(r.scrub(clean), clean);
        }
    }
}
