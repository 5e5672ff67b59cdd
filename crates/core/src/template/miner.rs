//! An online, Drain-family template miner. Per message, in one pass:
//!
//! 1. **line masks**: the system's masks, then the common ones; a match (or only its first group, when
//!    the pattern has one) becomes `<*>`;
//! 2. **token masks** (optional): whitespace tokens whose core (outer brackets and punctuation
//!    stripped) fully matches a pattern become `<*>`;
//! 3. **canonical form**: whitespace collapsed; path-like pieces, all-digit pieces and digit-led pieces
//!    become `<*>`; runs like `<*><*>` and `<*>.<*>` collapse (the benchmark's template normal form);
//! 4. **bucket** by token count and leading token (a leading token with a digit or `<*>` counts as
//!    variable);
//! 5. **match** the most similar cluster of the bucket (share of equal positions, a template token
//!    with `<*>` matching as a glob), skipping clusters where merging would turn a constant word into a
//!    variable (the word guard); join it at similarity ≥ 0.5, else start a new cluster;
//! 6. **merge** token by token: differing tokens keep their common prefix and suffix up to a
//!    delimiter around a `<*>` (`[Thunderbird_A8]` + `[Thunderbird_B8]` → `[<*>]`).
//!
//! A message's template is its cluster's final template in canonical form, where the words
//! true/false/null/root/admin also become `<*>` (as in the benchmark); clusters whose templates are
//! equal are one template. The algorithm and the per-system settings were designed on the Loghub-2k
//! data; [`MinerConfig::generic`] is one setting for everything else, and it was checked on systems not
//! used while tuning (Android, Windows).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;

/// What a variable part of a template is written as.
pub const WILDCARD: &str = "<*>";
const SIMILARITY: f64 = 0.5;

const AFFIX_DELIMS: &[char] = &[
    ',', ';', ':', '=', '|', '"', '\'', '[', ']', '(', ')', '{', '}', '.', '-', '+', '@', '#', '$',
    '%', '&', '/',
];
const TOKEN_LEAD: &[char] = &['(', '[', '{', '<', '"', '\''];
const TOKEN_TRAIL: &[char] = &[')', ']', '}', '>', '"', '\'', ',', ';', ':', '.'];
const SPECIAL_WORDS: &[&str] = &["true", "false", "null", "root", "admin"];

/// A line mask: the whole match, or only group 1 when the pattern has a group, becomes `replacement`.
struct Mask {
    /// The pattern as written (Python-compatible, for peers such as Drain3).
    pattern: String,
    re: Regex,
    replacement: &'static str,
    grouped: bool,
}

/// Named masks. Each is Rust `regex` syntax (no look-around).
fn mask_table() -> &'static HashMap<&'static str, Mask> {
    static TABLE: OnceLock<HashMap<&'static str, Mask>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let wday = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
        let mon = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
        let specs: Vec<(&'static str, String, &'static str)> = vec![
            ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b".into(), WILDCARD),
            ("longid", r"\b[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*_[0-9]{6,}(?:_[A-Za-z0-9]+)*".into(), WILDCARD),
            ("mac", r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5,}\b".into(), WILDCARD),
            ("pci", r"\b[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F]\b".into(), WILDCARD),
            ("ipv6", r"\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){5,7}\b".into(), WILDCARD),
            ("ipv4", r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b".into(), WILDCARD),
            ("negnum", r"(?:^|[\s:=(\[,])(-[0-9]+(?:\.[0-9]+)?)\b".into(), WILDCARD),
            ("blk", r"\bblk_-?[0-9]+(?:\s+blk_-?[0-9]+)*".into(), WILDCARD),
            ("wdate_tz", format!(r"\b{wday} {mon} +[0-9]{{1,2}} [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?: [A-Z]{{3,4}})?(?: [0-9]{{4}})?"), WILDCARD),
            ("wdate3", format!(r"\b{wday} {mon} +[0-9]{{1,2}} [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?: [0-9]{{4}})?"), "<*>:<*>:<*>"),
            ("bgl_loc", r"\bR[0-9]{2}-M[0-9]-[A-Z][0-9A-Za-z](?:-[A-Z]:J[0-9]{2}-U[0-9]{2}|-[A-Z])?\b".into(), WILDCARD),
            ("wordnum_list", r"\b[A-Za-z]+[0-9]+(?: [A-Za-z]+[0-9]+)+\b".into(), WILDCARD),
            ("numlist", r"\b[0-9]+(?: [0-9]+){3,}\b".into(), WILDCARD),
            ("user_for", r"\bfor user ([^\s]+)".into(), WILDCARD),
            ("user_invalid", r"\b[Ii]nvalid user ([^\s]+)".into(), WILDCARD),
            ("for_from", r"\bfor ([^\s]+) from ".into(), WILDCARD),
            ("user_eq", r"\buser=([^\s]+)".into(), WILDCARD),
            ("host_port", r"\b([A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+):[0-9]+\b".into(), WILDCARD),
            (
                "hostname",
                r"\b([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|net|org|edu|gov|hk|cn|us|de|uk|jp|kr|ru|br|info|io|local))(?:[^A-Za-z0-9.-]|\.\s|\.$|$)".into(),
                WILDCARD,
            ),
            ("host_dashnum", r"\b[A-Za-z]+(?:-[A-Za-z]+)*-[0-9]+\b".into(), WILDCARD),
            ("http_req", r#"\b(?:GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS) (/[^\s"]* HTTP/[0-9.]+)"#.into(), WILDCARD),
            ("url", r#"\b[a-zA-Z][a-zA-Z0-9+.-]*://([^\s\]\)"']+)"#.into(), WILDCARD),
            ("size_sp", r"\b[0-9]+(?:\.[0-9]+)? (?:B|KB|MB|GB|TB)\b".into(), WILDCARD),
            ("hashlist", r"=([0-9]+(?:##[0-9]+)+)\b".into(), WILDCARD),
            ("bytes", r"\b[0-9]+ bytes(?: \([0-9.]+ [KMGT]B\))?".into(), WILDCARD),
            ("lt_sec", r"<[0-9]+ sec\b".into(), WILDCARD),
        ];
        specs
            .into_iter()
            // The patterns are literals of this file; a test compiles every one. Word boundaries are
            // ASCII ones, which keeps every mask on the fast DFA engines.
            .filter_map(|(name, pattern, replacement)| {
                let re = Regex::new(&ascii_boundaries(&pattern)).ok()?;
                let grouped = re.captures_len() > 1;
                Some((name, Mask { pattern, re, replacement, grouped }))
            })
            .collect()
    })
}

/// One compiled set per list of masks, shared by every miner with that list (a clone shares the
/// program): a miner is made for each diagnosis prompt, and compiling the set was most of its cost.
fn mask_set(masks: &[&'static Mask]) -> regex::RegexSet {
    static SETS: OnceLock<Mutex<HashMap<Vec<&'static str>, regex::RegexSet>>> = OnceLock::new();
    let key: Vec<&'static str> = masks.iter().map(|m| m.re.as_str()).collect();
    let mut sets = SETS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    sets.entry(key)
        .or_insert_with_key(|patterns| {
            // Built from patterns that compiled one by one, so the set compiles too.
            regex::RegexSet::new(patterns).unwrap_or_else(|_| regex::RegexSet::empty())
        })
        .clone()
}

/// `\b` → `(?-u:\b)`.
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

const COMMON_MASKS: &[&str] = &["uuid", "longid", "mac", "pci", "ipv6", "ipv4", "negnum"];

fn token_mask_table() -> &'static HashMap<&'static str, Regex> {
    static TABLE: OnceLock<HashMap<&'static str, Regex>> = OnceLock::new();
    TABLE.get_or_init(|| {
        [
            ("num", r"[-+]?[0-9]+(?:\.[0-9]+)?"),
            (
                "size",
                r"[0-9]+(?:\.[0-9]+)?[kKmMgGtT][bB]?(?:/[0-9]+(?:\.[0-9]+)?[kKmMgGtT][bB]?)?",
            ),
            (
                "version",
                r"(?:v|[A-Za-z]+_)?[0-9]+(?:\.[0-9]+)+(?:-[0-9.]+)?[a-z]*",
            ),
            ("hex0x", r"0[xX][0-9a-fA-F]+"),
            ("dims", r"[0-9]+x[0-9]+"),
            ("path", r"/[^\s]+"),
        ]
        .into_iter()
        .filter_map(|(name, p)| Regex::new(&format!("^(?:{p})$")).ok().map(|re| (name, re)))
        .collect()
    })
}

/// A small multiplicative hash (FNV-1a) for bucket keys: short strings, no adversary, hashed per line.
#[derive(Clone, Copy, Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastHash = std::hash::BuildHasherDefault<Fnv>;

/// How the bucket key treats the leading token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// The leading token, unless it holds a digit or `<*>`.
    Drain,
    /// The leading token only when it is a plain word (`[A-Za-z_]+[:,]?`).
    Word,
}

/// Settings of the miner.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Names of the system's line masks, applied before the common ones.
    pub masks: Vec<&'static str>,
    /// Names of the token masks; empty turns step 2 off.
    pub token_masks: Vec<&'static str>,
    /// How the bucket key treats the leading token.
    pub key: KeyMode,
    /// 2: digit-led pieces become `<*>`, and each `/` part of one; 1: only pieces without `/`.
    pub num_prefix: u8,
    /// Constant words may contain `_` (`TIME_TICK`).
    pub word_underscore: bool,
    /// Two letters and one digit make a constant word too (`ee0`, `alt0`).
    pub word_digit: bool,
    /// Punctuation-only parts are constants (`****`).
    pub punct_const: bool,
    /// Constants may not be absorbed by, or generalised into, `<*>`.
    pub strict: bool,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            masks: Vec::new(),
            token_masks: Vec::new(),
            key: KeyMode::Drain,
            num_prefix: 2,
            word_underscore: false,
            word_digit: false,
            punct_const: false,
            strict: false,
        }
    }
}

impl MinerConfig {
    /// One setting for systems without their own: the general-purpose masks.
    pub fn generic() -> Self {
        MinerConfig {
            masks: vec![
                "blk",
                "wdate_tz",
                "url",
                "http_req",
                "user_for",
                "user_invalid",
                "for_from",
                "host_port",
                "hostname",
                "host_dashnum",
                "size_sp",
            ],
            word_underscore: true,
            ..Default::default()
        }
    }

    /// The settings for a Loghub system name; [`MinerConfig::generic`] for any other.
    pub fn for_system(system: Option<&str>) -> Self {
        let d = MinerConfig::default();
        match system.unwrap_or_default() {
            "Apache" => MinerConfig {
                token_masks: vec!["path"],
                ..d
            },
            "BGL" => MinerConfig {
                masks: vec!["wdate_tz", "bgl_loc"],
                ..d
            },
            "Hadoop" => MinerConfig {
                masks: vec!["hostname", "host_dashnum"],
                word_underscore: true,
                ..d
            },
            "HDFS" => MinerConfig {
                masks: vec!["blk"],
                ..d
            },
            "HealthApp" => MinerConfig {
                masks: vec!["hashlist"],
                word_underscore: true,
                ..d
            },
            "HPC" => MinerConfig {
                word_digit: true,
                strict: true,
                punct_const: true,
                ..d
            },
            "Linux" => MinerConfig {
                masks: vec!["wdate3", "user_for"],
                token_masks: vec!["num", "size", "version", "hex0x", "dims"],
                ..d
            },
            "Mac" => MinerConfig {
                masks: vec!["numlist"],
                key: KeyMode::Word,
                word_digit: true,
                ..d
            },
            "OpenSSH" => MinerConfig {
                masks: vec!["user_for", "user_invalid", "for_from", "user_eq"],
                ..d
            },
            "OpenStack" => MinerConfig {
                masks: vec!["http_req", "hostname"],
                ..d
            },
            "Proxifier" => MinerConfig {
                masks: vec!["host_port", "hostname", "bytes", "lt_sec"],
                ..d
            },
            "Spark" => MinerConfig {
                masks: vec!["url", "size_sp", "host_dashnum"],
                ..d
            },
            "Thunderbird" => MinerConfig {
                masks: vec!["wordnum_list", "wdate_tz"],
                token_masks: vec!["version"],
                num_prefix: 1,
                ..d
            },
            "Zookeeper" => d,
            _ => MinerConfig::generic(),
        }
    }

    /// The regexes of the line masks this configuration applies, in order (for peers such as Drain3).
    pub fn mask_patterns(&self) -> Vec<String> {
        let table = mask_table();
        self.masks
            .iter()
            .chain(COMMON_MASKS)
            .filter_map(|n| table.get(n))
            .map(|m| m.pattern.clone())
            .collect()
    }
}

fn is_path(p: &str) -> bool {
    // ^(/[^/]+)+$
    p.starts_with('/') && p[1..].split('/').all(|seg| !seg.is_empty()) && p.len() > 1
}

fn all_digits(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
}

fn starts_with_digit(p: &str) -> bool {
    p.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// `^[^\s/]*<\*>[^\s/]*$`
fn wildcard_word(p: &str) -> bool {
    memchr::memchr(b'<', p.as_bytes()).is_some()
        && memchr::memmem::find(p.as_bytes(), WILDCARD.as_bytes()).is_some()
        && !p.chars().any(|c| c.is_whitespace() || c == '/')
}

/// Byte classes for the ASCII delimiters: bit 0 = path delimiter, bit 1 = token delimiter.
const fn delimiter_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let path = b" ,!;:=|\"'[](){}";
    let mut i = 0;
    while i < path.len() {
        t[path[i] as usize] = 3;
        i += 1;
    }
    let extra = b".-+@#$%&";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = 2;
        i += 1;
    }
    t
}

const DELIMS: [u8; 256] = delimiter_table();

/// Calls `f` with each maximal run of non-delimiters and each single delimiter (as `&str`), where a
/// delimiter is a byte whose class has `mask`. Delimiters are ASCII, so cuts fall on char boundaries.
fn pieces<'a>(s: &'a str, mask: u8, mut f: impl FnMut(&'a str, bool)) {
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if DELIMS[c as usize] & mask != 0 {
            if i > start {
                f(&s[start..i], false);
            }
            f(&s[i..i + 1], true);
            start = i + 1;
        }
    }
    if start < b.len() {
        f(&s[start..], false);
    }
}

/// The canonical (benchmark) form of a template or a preprocessed message.
pub fn canon(t: &str, num_prefix: u8, special: bool) -> String {
    use std::borrow::Cow;
    // Whitespace runs to one space; most lines have none to collapse.
    let b = t.as_bytes();
    // ASCII whitespace as `char::is_whitespace` sees it (vertical tab included).
    let ws = |c: &u8| c.is_ascii_whitespace() || *c == 0x0B;
    let tidy = t.is_ascii()
        && !b.first().is_some_and(ws)
        && !b.last().is_some_and(ws)
        && !b.iter().any(|c| ws(c) && *c != b' ')
        && memchr::memmem::find(b, b"  ").is_none();
    let spaced: Cow<str> = if tidy {
        Cow::Borrowed(t)
    } else {
        let mut s = String::with_capacity(t.len());
        for w in t.split_whitespace() {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(w);
        }
        Cow::Owned(s)
    };
    // Path-like pieces between path delimiters become <*>; only a line with a '/' has any.
    let paths: Cow<str> = if memchr::memchr(b'/', spaced.as_bytes()).is_none() {
        spaced
    } else {
        let mut p = String::with_capacity(spaced.len());
        pieces(&spaced, 1, |piece, delim| {
            p.push_str(if !delim && is_path(piece) {
                WILDCARD
            } else {
                piece
            })
        });
        Cow::Owned(p)
    };
    let mut out = String::with_capacity(paths.len());
    pieces(&paths, 2, |p, delim| {
        if delim {
            out.push_str(p);
        } else if (special && SPECIAL_WORDS.iter().any(|w| p.eq_ignore_ascii_case(w)))
            || all_digits(p)
        {
            out.push_str(WILDCARD);
        } else if num_prefix > 0 && starts_with_digit(p) {
            if !p.contains('/') {
                out.push_str(WILDCARD);
            } else if num_prefix == 2 {
                for (k, q) in p.split('/').enumerate() {
                    if k > 0 {
                        out.push('/');
                    }
                    out.push_str(if starts_with_digit(q) { WILDCARD } else { q });
                }
            } else {
                out.push_str(p);
            }
        } else if wildcard_word(p) && p != "<*>/<*>" {
            out.push_str(WILDCARD);
        } else {
            out.push_str(p);
        }
    });
    collapse_wildcards(out)
}

/// Runs like `<*><*>` and `<*>.<*>` become one `<*>` (the benchmark's normal form).
fn collapse_wildcards(t: String) -> String {
    const W: &[u8] = b"<*>";
    const DW: &[u8] = b".<*>";
    let b = t.as_bytes();
    // Nothing to collapse unless a wildcard is followed by another or by `.<*>`.
    let mut runs = memchr::memmem::find_iter(b, W).map(|k| &b[k + W.len()..]);
    if !runs.any(|rest| rest.starts_with(W) || rest.starts_with(DW)) {
        return t;
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(W) {
            out.extend_from_slice(W);
            i += W.len();
            loop {
                if b[i..].starts_with(W) {
                    i += W.len();
                } else if b[i..].starts_with(DW) {
                    i += DW.len();
                } else {
                    break;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    // Only ASCII runs were removed between whole characters, so the bytes are still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether template token `t` (each `<*>` matching any, possibly empty, text) matches token `x`.
pub fn glob_match(t: &str, x: &str) -> bool {
    t == x || glob_match_unequal(t, x)
}

/// Token equality without a library call for the short tokens that dominate.
#[inline]
fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    a == b
}

/// [`glob_match`] for tokens already known to differ.
fn glob_match_unequal(t: &str, x: &str) -> bool {
    let (tb, xb) = (t.as_bytes(), x.as_bytes());
    // Byte offsets of the wildcards; most template tokens hold none, which one byte search shows.
    let mut stars: [usize; 8] = [0; 8];
    let mut n = 0;
    let mut from = 0;
    while let Some(k) = memchr::memchr(b'<', &tb[from..]) {
        let at = from + k;
        if tb[at..].starts_with(b"<*>") {
            if n == stars.len() {
                // Tokens with this many wildcards are rare: take the general path.
                return glob_match_slow(t, x);
            }
            stars[n] = at;
            n += 1;
            from = at + 3;
        } else {
            from = at + 1;
        }
    }
    if n == 0 {
        return false;
    }
    let first = &tb[..stars[0]];
    let last = &tb[stars[n - 1] + 3..];
    if xb.len() < first.len() + last.len() || !xb.starts_with(first) || !xb.ends_with(last) {
        return false;
    }
    let (mut pos, end) = (first.len(), xb.len() - last.len());
    // The literals between wildcards, placed leftmost in order.
    for w in stars[..n].windows(2) {
        let lit = &tb[w[0] + 3..w[1]];
        match memchr::memmem::find(&xb[pos..end], lit) {
            Some(k) => pos += k + lit.len(),
            None => return false,
        }
    }
    true
}

/// The same test for tokens with many wildcards.
fn glob_match_slow(t: &str, x: &str) -> bool {
    let parts: Vec<&str> = t.split(WILDCARD).collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if x.len() < first.len() + last.len() || !x.starts_with(first) || !x.ends_with(last) {
        return false;
    }
    let (mut pos, end) = (first.len(), x.len() - last.len());
    for p in &parts[1..parts.len() - 1] {
        match x[pos..end].find(p) {
            Some(j) => pos += j + p.len(),
            None => return false,
        }
    }
    true
}

/// Common prefix and suffix lengths (bytes) of `a` and `b`, cut back so the prefix ends with a
/// delimiter (or is empty) and the suffix starts with one.
pub fn affix(a: &str, b: &str) -> (usize, usize) {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let n = ab.len().min(bb.len());
    let delim = |c: u8| c.is_ascii() && AFFIX_DELIMS.contains(&(c as char));
    let mut p = 0;
    while p < n && ab[p] == bb[p] {
        p += 1;
    }
    while p > 0 && !delim(ab[p - 1]) {
        p -= 1;
    }
    let mut s = 0;
    while s < n - p && ab[ab.len() - 1 - s] == bb[bb.len() - 1 - s] {
        s += 1;
    }
    while s > 0 && !delim(ab[ab.len() - s]) {
        s -= 1;
    }
    (p, s)
}

/// Merges template token `a` with message token `b`.
pub fn merge_token(a: &str, b: &str) -> String {
    if glob_match(a, b) {
        return a.to_string();
    }
    let (p, s) = affix(a, b);
    format!("{}{WILDCARD}{}", &a[..p], &a[a.len() - s..])
}

#[derive(Debug, Clone)]
struct Cluster {
    tokens: Vec<String>,
    /// Whether each token holds a `<*>`: most do not, and then no glob test is needed.
    starred: Vec<bool>,
    /// Whether each token is a constant ([`Miner::is_const`]), for the common mismatch of two
    /// tokens with nothing in common at either end.
    constant: Vec<bool>,
    size: u64,
}

/// The online template miner: lines go in one at a time and each gets a cluster id.
#[derive(Clone)]
pub struct Miner {
    config: MinerConfig,
    /// The line masks in order, and one set over all of them to find in one scan which may apply.
    masks: Vec<&'static Mask>,
    mask_set: regex::RegexSet,
    token_masks: Vec<&'static Regex>,
    clusters: Vec<Cluster>,
    /// Token count → leading token (or `<*>`) → clusters, in creation order.
    buckets: HashMap<usize, HashMap<String, Vec<u32>, FastHash>, FastHash>,
}

impl std::fmt::Debug for Miner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Miner")
            .field("clusters", &self.clusters.len())
            .finish()
    }
}

fn keyword(t: &str) -> bool {
    // ^[A-Za-z_]+[:,]?$
    let core = t.strip_suffix([':', ',']).unwrap_or(t);
    !core.is_empty() && core.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
}

impl Miner {
    /// An empty miner with `config`'s masks (unknown mask names are skipped).
    pub fn new(config: MinerConfig) -> Miner {
        let table = mask_table();
        let masks: Vec<&'static Mask> = config
            .masks
            .iter()
            .chain(COMMON_MASKS)
            .filter_map(|n| table.get(n))
            .collect();
        let mask_set = mask_set(&masks);
        let token_table = token_mask_table();
        let token_masks = config
            .token_masks
            .iter()
            .filter_map(|n| token_table.get(n))
            .collect();
        Miner {
            config,
            masks,
            mask_set,
            token_masks,
            clusters: Vec::new(),
            buckets: HashMap::default(),
        }
    }

    /// The settings for a known system (Loghub names), else the generic ones.
    pub fn for_system(system: Option<&str>) -> Miner {
        Miner::new(MinerConfig::for_system(system))
    }

    /// Steps 1-3: masks and canonical form.
    pub fn preprocess(&self, line: &str) -> String {
        let mut line = line.to_string();
        let mut hits = self.mask_set.matches(&line);
        for (i, mask) in self.masks.iter().enumerate() {
            if !hits.matched(i) {
                continue;
            }
            line = if mask.grouped {
                mask.re
                    .replace_all(&line, |c: &regex::Captures| {
                        let whole = c.get(0).map_or("", |m| m.as_str());
                        match (c.get(0), c.get(1)) {
                            (Some(m0), Some(m1)) => {
                                let (a, b) = (m1.start() - m0.start(), m1.end() - m0.start());
                                format!("{}{}{}", &whole[..a], mask.replacement, &whole[b..])
                            }
                            _ => whole.to_string(),
                        }
                    })
                    .into_owned()
            } else {
                mask.re.replace_all(&line, mask.replacement).into_owned()
            };
            // A replacement can create or remove matches of later masks: look again.
            hits = self.mask_set.matches(&line);
        }
        if !self.token_masks.is_empty() {
            let masks = &self.token_masks;
            let tokens: Vec<String> = line
                .split_whitespace()
                .map(|t| {
                    let core_start = t.len() - t.trim_start_matches(TOKEN_LEAD).len();
                    let rest = &t[core_start..];
                    let core = rest.trim_end_matches(TOKEN_TRAIL);
                    let core_end = core_start + core.len();
                    if core.is_empty()
                        || core == WILDCARD
                        || !masks.iter().any(|re| re.is_match(core))
                    {
                        t.to_string()
                    } else {
                        format!("{}{WILDCARD}{}", &t[..core_start], &t[core_end..])
                    }
                })
                .collect();
            line = tokens.join(" ");
        }
        canon(&line, self.config.num_prefix, false)
    }

    /// The bucket of a preprocessed message: token count and leading token (or `<*>`).
    pub fn bucket_key<'a>(&self, tokens: &[&'a str]) -> (usize, &'a str) {
        self.key(tokens)
    }

    fn key<'a>(&self, tokens: &[&'a str]) -> (usize, &'a str) {
        let lead = tokens.first().map_or("", |&t| {
            let variable = match self.config.key {
                KeyMode::Word => !keyword(t),
                KeyMode::Drain => t.contains(WILDCARD) || t.bytes().any(|b| b.is_ascii_digit()),
            };
            if variable {
                WILDCARD
            } else {
                t
            }
        });
        (tokens.len(), lead)
    }

    /// A constant word: letters (and `_` with `word_underscore`), or two-plus letters and one digit
    /// with `word_digit`.
    fn is_word(&self, x: &str) -> bool {
        let b = x.as_bytes();
        if b.is_empty() {
            return false;
        }
        let letters = |s: &[u8]| s.iter().all(u8::is_ascii_alphabetic);
        if self.config.word_digit {
            let (head, last) = b.split_at(b.len() - 1);
            if last[0].is_ascii_digit() && head.len() >= 2 && letters(head) {
                return true;
            }
            if b.len() >= 2 && letters(b) {
                return true;
            }
        }
        if self.config.word_underscore {
            b.iter().all(|c| c.is_ascii_alphabetic() || *c == b'_')
                && b.iter().any(u8::is_ascii_alphabetic)
        } else {
            letters(b)
        }
    }

    fn is_const(&self, x: &str) -> bool {
        if self.is_word(x) {
            return true;
        }
        self.config.punct_const
            && !x.is_empty()
            && !x.contains(WILDCARD)
            && !x.chars().any(|c| c.is_ascii_alphanumeric())
    }

    /// Whether merging template token `a` with message token `b` would make a constant a variable.
    pub fn conflict(&self, a: &str, b: &str) -> bool {
        a != b && self.conflict_given(a, b, glob_match(a, b))
    }

    /// [`Miner::conflict`] for `a != b`, with `glob_match(a, b)` already known.
    fn conflict_given(&self, a: &str, b: &str, globbed: bool) -> bool {
        if globbed {
            if !self.config.strict {
                return false;
            }
            let (i, j) = match (a.find(WILDCARD), a.rfind(WILDCARD)) {
                (Some(i), Some(j)) => (i, j + WILDCARD.len()),
                _ => return false,
            };
            let tail = a.len() - j;
            if i > b.len() - tail {
                return false;
            }
            let mid = &b[i..b.len() - tail];
            return !mid.is_empty() && !mid.contains(WILDCARD) && self.is_const(mid);
        }
        let (p, s) = affix(a, b);
        let am = a.get(p..a.len() - s).unwrap_or("");
        let bm = b.get(p..b.len() - s).unwrap_or("");
        if self.config.strict {
            return self.is_const(am) || self.is_const(bm);
        }
        (self.is_const(am) && bm != WILDCARD) || (self.is_const(bm) && am != WILDCARD)
    }

    /// (similarity, wildcards in the template), or `None` on a constant conflict.
    /// Also `None` as soon as the similarity can no longer reach the threshold: such a cluster is
    /// never joined, and dropping it never changes which cluster is best among those that can be.
    ///
    /// `token_const` caches [`Miner::is_const`] of the message's tokens across the clusters of a
    /// bucket (0 unknown, 1 no, 2 yes).
    fn similarity(
        &self,
        template: &Cluster,
        tokens: &[&str],
        token_const: &mut [u8],
    ) -> Option<(f64, usize)> {
        let n = template.tokens.len().max(1);
        let max_misses = n - (SIMILARITY * n as f64).ceil() as usize;
        let (mut same, mut wild, mut misses) = (0usize, 0usize, 0usize);
        for (k, (a, &b)) in template.tokens.iter().zip(tokens).enumerate() {
            let a = a.as_str();
            let starred = template.starred[k];
            let a_wild = starred && same_token(a, WILDCARD);
            if same_token(a, b) {
                same += 1;
                wild += usize::from(a_wild);
                continue;
            }
            let globbed = starred && glob_match_unequal(a, b);
            let (ab, bb) = (a.as_bytes(), b.as_bytes());
            let disjoint_ends = !globbed
                && !ab.is_empty()
                && !bb.is_empty()
                && ab[0] != bb[0]
                && ab[ab.len() - 1] != bb[bb.len() - 1];
            let conflict = if disjoint_ends {
                // No common prefix or suffix: the affix cut leaves both tokens whole.
                if token_const[k] == 0 {
                    token_const[k] = 1 + u8::from(self.is_const(b));
                }
                let (a_const, b_const) = (template.constant[k], token_const[k] == 2);
                if self.config.strict {
                    a_const || b_const
                } else {
                    (a_const && b != WILDCARD) || (b_const && !a_wild)
                }
            } else {
                self.conflict_given(a, b, globbed)
            };
            if conflict {
                return None;
            }
            if a_wild {
                wild += 1;
            }
            if globbed && !a_wild {
                same += 1;
            } else {
                misses += 1;
                if misses > max_misses {
                    return None;
                }
            }
        }
        Some((same as f64 / n as f64, wild))
    }

    /// Adds one message and returns its cluster id.
    pub fn add(&mut self, content: &str) -> u32 {
        let pre = self.preprocess(content);
        self.add_preprocessed(&pre)
    }

    /// Adds a message already passed through [`Miner::preprocess`].
    pub fn add_preprocessed(&mut self, pre: &str) -> u32 {
        let tokens: Vec<&str> = pre.split(' ').collect();
        let (len, lead) = self.key(&tokens);
        let mut best: Option<(u32, f64, usize)> = None;
        if let Some(bucket) = self.buckets.get(&len).and_then(|b| b.get(lead)) {
            let mut token_const = vec![0u8; tokens.len()];
            for &id in bucket {
                let Some((s, w)) =
                    self.similarity(&self.clusters[id as usize], &tokens, &mut token_const)
                else {
                    continue;
                };
                // Strictly better only, so the earliest cluster wins ties.
                if best.is_none_or(|(_, bs, bw)| s > bs || (s == bs && w > bw)) {
                    best = Some((id, s, w));
                }
            }
        }
        match best {
            Some((id, s, _)) if s >= SIMILARITY => {
                for (k, b) in tokens.iter().enumerate() {
                    let current = &self.clusters[id as usize].tokens[k];
                    if current != b {
                        let merged = merge_token(current, b);
                        let (starred, constant) =
                            (merged.contains(WILDCARD), self.is_const(&merged));
                        let c = &mut self.clusters[id as usize];
                        c.starred[k] = starred;
                        c.constant[k] = constant;
                        c.tokens[k] = merged;
                    }
                }
                self.clusters[id as usize].size += 1;
                id
            }
            _ => {
                let id = self.clusters.len() as u32;
                let lead = lead.to_string();
                self.clusters.push(Cluster {
                    tokens: tokens.iter().map(|t| t.to_string()).collect(),
                    starred: tokens.iter().map(|t| t.contains(WILDCARD)).collect(),
                    constant: tokens.iter().map(|t| self.is_const(t)).collect(),
                    size: 1,
                });
                self.buckets
                    .entry(len)
                    .or_default()
                    .entry(lead)
                    .or_default()
                    .push(id);
                id
            }
        }
    }

    /// The cluster's template in canonical form.
    pub fn template(&self, id: u32) -> String {
        self.clusters
            .get(id as usize)
            .map(|c| canon(&c.tokens.join(" "), self.config.num_prefix, true))
            .unwrap_or_default()
    }

    /// Lines added to cluster `id` so far; 0 for an unknown id.
    pub fn count(&self, id: u32) -> u64 {
        self.clusters.get(id as usize).map_or(0, |c| c.size)
    }

    /// Number of clusters (distinct clusters may share a template).
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether no line has been added yet.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Templates of every message of `lines`, mined in one pass.
    pub fn mine<S: AsRef<str>>(config: MinerConfig, lines: &[S]) -> Vec<String> {
        let (ids, templates) = Miner::mine_ids(config, lines);
        ids.into_iter()
            .map(|id| templates[id as usize].clone())
            .collect()
    }

    /// Every message of `lines` mined in one pass: each line's cluster id, and the templates.
    pub fn mine_ids<S: AsRef<str>>(config: MinerConfig, lines: &[S]) -> (Vec<u32>, Vec<String>) {
        let mut miner = Miner::new(config);
        let ids: Vec<u32> = lines.iter().map(|l| miner.add(l.as_ref())).collect();
        let templates = (0..miner.len() as u32)
            .map(|id| miner.template(id))
            .collect();
        (ids, templates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mask_compiles() {
        assert_eq!(mask_table().len(), 26);
        assert_eq!(token_mask_table().len(), 6);
    }

    #[test]
    fn canonical_form() {
        assert_eq!(canon("  a   b ", 2, false), "a b");
        assert_eq!(canon("took 19.05 seconds", 2, false), "took <*> seconds");
        assert_eq!(
            canon("ok /etc/httpd/conf/workers2.properties", 2, false),
            "ok <*>"
        );
        assert_eq!(canon("user root", 2, false), "user root");
        assert_eq!(canon("user root", 2, true), "user <*>");
        assert_eq!(canon("vCores:32>", 2, false), "vCores:<*>");
        assert_eq!(canon("126MB LOWMEM", 2, false), "<*> LOWMEM");
        assert_eq!(canon("ssh2 jk2_init()", 2, false), "ssh2 jk2_init()");
        assert_eq!(canon("[32776/0x7fff79824000]", 2, false), "[<*>/<*>]");
        assert_eq!(canon("(0/0)", 1, false), "(0/0)");
        assert_eq!(canon("10.251.73.220:50010", 2, false), "<*>:<*>");
        assert_eq!(canon("blk_<*>", 2, false), "<*>");
        assert_eq!(canon("part-<*>", 2, false), "part-<*>");
        assert_eq!(canon("<*><*> x", 2, false), "<*> x");
    }

    #[test]
    fn globs_affixes_and_merges() {
        assert!(glob_match("rhost=<*>", "rhost=1.2.3.4"));
        assert!(glob_match("(<*>)", "()"));
        assert!(!glob_match("(<*>)", "(x"));
        assert!(glob_match("<*>:<*>", "a:b:c"));
        assert_eq!(affix("[Thunderbird_A8]", "[Thunderbird_B8]"), (1, 1));
        assert_eq!(merge_token("[Thunderbird_A8]", "[Thunderbird_B8]"), "[<*>]");
        assert_eq!(merge_token("rhost=abc.com", "rhost=<*>"), "rhost=<*>");
        assert_eq!(merge_token("()", "(host.x)"), "(<*>)");
        assert_eq!(
            merge_token(
                "com.apple.icloud.fmfd.heartbeat:",
                "com.apple.CacheDelete.daily:"
            ),
            "com.apple.<*>:"
        );
        assert_eq!(merge_token("abc", "xyz"), WILDCARD);
    }

    #[test]
    fn the_word_guard_keeps_constants_apart() {
        let m = Miner::new(MinerConfig::default());
        assert!(m.conflict("Resumed", "Started"));
        assert!(!m.conflict("webmaster", WILDCARD));
        assert!(m.conflict("tty=NODEVssh", "tty=:<*>"));
        assert!(!m.conflict("rhost=<*>", "rhost=a.b.c"));
        assert!(!m.conflict("TIME_TICK", "SCREEN_ON"));
        assert!(Miner::new(MinerConfig {
            word_underscore: true,
            ..Default::default()
        })
        .conflict("TIME_TICK", "SCREEN_ON"));
        let digits = Miner::new(MinerConfig {
            word_digit: true,
            ..Default::default()
        });
        assert!(digits.conflict("ee0", "alt0"));
        assert!(!digits.conflict("storage1231", "storage742"));
        let strict = Miner::new(MinerConfig {
            strict: true,
            punct_const: true,
            ..Default::default()
        });
        assert!(strict.conflict("****", WILDCARD) && strict.conflict(WILDCARD, "****"));
    }

    #[test]
    fn end_to_end_clusters() {
        let lines = [
            "VM Resumed (Lifecycle Event)",
            "VM Started (Lifecycle Event)",
            "VM Resumed (Lifecycle Event)",
            "took 1 ms",
            "took 22 ms",
        ];
        let t = Miner::mine(MinerConfig::default(), &lines);
        assert_eq!(
            t,
            [
                "VM Resumed (Lifecycle Event)",
                "VM Started (Lifecycle Event)",
                "VM Resumed (Lifecycle Event)",
                "took <*> ms",
                "took <*> ms"
            ]
        );
        let hdfs = Miner::mine(
            MinerConfig::for_system(Some("HDFS")),
            &[
                "Received block blk_123 of size 67108864 from /10.251.214.112",
                "Received block blk_-99 of size 3 from /10.0.0.1",
            ],
        );
        assert_eq!(hdfs[0], "Received block <*> of size <*> from <*>");
        assert_eq!(hdfs[0], hdfs[1]);
    }
}
