//! Log headers: the timestamp, level and component in front of a message, for the 16 Loghub formats,
//! klog, RFC 5424 and 3164 syslog, nginx/Apache access and error logs, ISO-8601-stamped application
//! logs, and structured lines (JSON, logfmt:
//! `logs::structured`). A header format is written as a template (`<Date> <Time> <Level>
//! <Component>: <Content>`), where `<Name>` is a field and the rest is regex syntax with a space
//! meaning "some whitespace". Detection picks the format that parses most of the first lines; an
//! unknown format leaves the whole line as the content.

use std::sync::OnceLock;

use regex::Regex;

use super::header::floor_char_boundary;
pub use super::header::{Header, Level, HEADER_WINDOW};

/// A log header format: its name, its template and the parser built from it.
pub struct Format {
    /// The format's name, as `--format` takes it (e.g. `HDFS`, `klog`, `syslog`).
    pub name: &'static str,
    /// The header template, or what a structured format reads.
    pub template: &'static str,
    parser: Parser,
}

enum Parser {
    Header {
        re: Regex,
        time_groups: Vec<usize>,
        level_group: Option<usize>,
        component_group: Option<usize>,
        content_group: usize,
    },
    Structured(super::structured::Syntax),
}

/// Structured formats: a line is one JSON object, or logfmt pairs.
const STRUCTURED: &[(&str, &str, super::structured::Syntax)] = &[
    (
        "JSON",
        "one JSON object per line (level, time, logger, msg/message/log)",
        super::structured::Syntax::Json,
    ),
    (
        "logfmt",
        "key=value pairs (level, time, component, msg)",
        super::structured::Syntax::Logfmt,
    ),
];

/// Loghub's 16 formats. Field names follow the benchmark's; `Level` where it is a host (Linux) is
/// named `Host` here so it is not read as a severity. `<Name:RE>` constrains a field, which keeps the
/// generic formats (BGL, HPC) from claiming other systems' lines.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "HDFS",
        r"<Date:\d{6}> <Time:\d{6}> <Pid:\d+> <Level:\w+> <Component>: <Content>",
    ),
    (
        "Hadoop",
        r"<Date:\d{4}-\d\d-\d\d> <Time:[\d:,]+> <Level:\w+> \[<Process>\] <Component>: <Content>",
    ),
    (
        "Spark",
        r"<Date:\d\d/\d\d/\d\d> <Time:[\d:]+> <Level:\w+> <Component>: <Content>",
    ),
    (
        "Zookeeper",
        r"<Date:\d{4}-\d\d-\d\d> <Time:[\d:,]+> - <Level:\w+>  \[<Node>:<Component>@<Id>\] - <Content>",
    ),
    (
        "BGL",
        r"(<Label:\S+> )?<Timestamp:\d+> <Date:\d{4}\.\d\d\.\d\d> <Node> <Time:\d{4}-\d\d-\d\d-[\d.]+> <NodeRepeat> <Type> <Component> <Level> <Content>",
    ),
    (
        "HPC",
        r"<LogId:\d+> <Node> <Component> <State> <Time:\d+> <Flag:-?\d+> <Content>",
    ),
    (
        "Thunderbird",
        r"(<Label:\S+> )?<Timestamp:\d+> <Date:\d{4}\.\d\d\.\d\d> <User> <Month:\w{3}> <Day:\d+> <Time:[\d:]+> <Location> <Component>(\[<PID>\])?: <Content>",
    ),
    (
        "Windows",
        r"<Date:\d{4}-\d\d-\d\d> <Time:[\d:]+>, <Level:\w+>                  <Component>    <Content>",
    ),
    (
        "Linux",
        r"<Month:\w{3}> <Date:\d+> <Time:[\d:]+> <Host> <Component>(\[<PID>\])?: <Content>",
    ),
    (
        "Android",
        r"<Date:\d\d-\d\d> <Time:[\d:.]+>  <Pid:\d+>  <Tid:\d+> <Level:\w> <Component>: <Content>",
    ),
    (
        "HealthApp",
        r"<Time:\d{8}-[\d:]+>\|<Component>\|<Pid>\|<Content>",
    ),
    // Apache 2.2's error log (Loghub's): `[Sun Dec 04 04:47:44 2005] [notice] …`. The time is
    // spelled out so a bracketed ISO time with a level (`[2012-08-08 19:13:02] [info]`, Tomcat's
    // procrun and many application logs) is read as the ISO-8601 format, not as Apache's.
    (
        "Apache",
        r"\[<Time:\w{3} \w{3} \d{1,2} [\d:.]+ \d{4}>\] \[<Level:\w+>\] <Content>",
    ),
    ("Proxifier", r"\[<Time:[\d. :]+>\] <Program> - <Content>"),
    (
        "OpenSSH",
        r"<Date:\w{3}> <Day:\d+> <Time:[\d:]+> <Component> sshd\[<Pid:\d+>\]: <Content>",
    ),
    (
        "OpenStack",
        r"<Logrecord> <Date:\d{4}-\d\d-\d\d> <Time:[\d:.]+> <Pid:\d+> <Level:\w+> <Component> \[<ADDR>\] <Content>",
    ),
    (
        "Mac",
        r"<Month:\w{3}>  <Date:\d+> <Time:[\d:]+> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
    ),
    // Kubernetes components (klog): `E1203 10:15:30.123456   12345 file.go:123] message`.
    (
        "klog",
        r"<Level:[IWEF]><Date:\d{4}> <Time:\d\d:\d\d:\d\d(\.\d+)?> <Pid:\d+> <Component:[^\]\s]+>\] <Content>",
    ),
    // RFC 5424 syslog: `<34>1 2026-12-03T10:15:30.003Z host app 123 ID47 - message`.
    (
        "syslog",
        r"<Pri:<\d{1,3}>>1 <Time:\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?> <Host:\S+> <Component:\S+> <Pid:\S+> <Msgid:\S+> <Data:(-|\[.*?\])> ?<Content>",
    ),
    // RFC 3164 (BSD) syslog with its priority: `<34>Dec  3 10:15:30 host app[123]: message`; the
    // priority's low three bits are the severity.
    (
        "syslog-3164",
        r"<Level:<\d{1,3}>><Month:\w{3}> <Date:\d+> <Time:[\d:]+> <Host:\S+> <Component:[^\s\[:]+>(\[<PID:\d+>\])?: <Content>",
    ),
    // nginx and Apache access logs (common and combined): the message is the request and what
    // follows it; the status gives the level (5xx error, 4xx warning).
    (
        "access-log",
        r#"<Client:\S+> <Ident:\S+> <User:\S+> \[<Time:\d\d/\w{3}/\d{4}:[\d:]+ [+-]\d{4}>\] <Content:"[^"]*"> <Level:\d{3}> <Size:(\d+|-)><Rest:( .*)?>"#,
    ),
    // nginx's error log: `2026/12/03 10:15:30 [error] 1234#1234: *5 connect() failed …`.
    (
        "nginx-error",
        r"<Date:\d{4}/\d\d/\d\d> <Time:\d\d:\d\d:\d\d> \[<Level:\w+>\] <Pid:\d+>#<Tid:\d+>: <Content>",
    ),
    // Apache 2.4's error log: `[Wed Dec 03 10:15:30.123456 2026] [proxy:error] [pid 12] …`.
    (
        "Apache-2.4",
        r"\[<Time:\w{3} \w{3} \d\d [\d:.]+ \d{4}>\] \[<Module:\w+>:<Level:\w+>\] <Content>",
    ),
    // Application logs that start with an ISO 8601 / RFC 3339 time and a level word.
    (
        "ISO-8601",
        r"\[?<Time:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d([.,]\d+)?(Z|[+-]\d\d:?\d\d)?>\]? \[?<Level:(?i:trace|debug|info|notice|warn|warning|error|err|fatal|critical|crit|severe)>\]? <Content>",
    ),
];

/// A level written as a number in a header: a syslog priority `<N>` (severity `N % 8`) or an
/// HTTP status (5xx error, 4xx warning, else info).
fn numeric_level(text: &str) -> Option<Level> {
    // A template's `<Level:<\d+>>` field ends before the closing `>`.
    if let Some(pri) = text.strip_prefix('<').map(|t| t.trim_end_matches('>')) {
        return Some(Level::from_syslog_severity(pri.parse::<u32>().ok()? % 8));
    }
    match text.parse::<u32>().ok()? {
        500..=599 => Some(Level::Error),
        400..=499 => Some(Level::Warn),
        100..=399 => Some(Level::Info),
        _ => None,
    }
}

/// Turns a format template into an anchored regex: fields become named groups, lazy unless constrained.
fn compile(template: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else {
            break;
        };
        re.push_str(&literal(&rest[..open]));
        let field = &rest[open + 1..close];
        match field.split_once(':') {
            Some((name, pattern)) => re.push_str(&format!("(?P<{name}>{pattern})")),
            None => re.push_str(&format!("(?P<{field}>.*?)")),
        }
        rest = &rest[close + 1..];
    }
    re.push_str(&literal(rest));
    re.push('$');
    Regex::new(&re)
}

/// How much fixed text a template demands: literal characters outside fields (letters count more),
/// plus constrained fields.
fn specificity(template: &str) -> usize {
    let mut score = 0;
    let mut depth = 0;
    for c in template.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ':' if depth > 0 => score += 2,
            // A literal word ("sshd") says more about a format than punctuation does.
            c if depth == 0 && c.is_ascii_alphanumeric() => score += 3,
            c if depth == 0 && !c.is_whitespace() => score += 1,
            _ => {}
        }
    }
    score
}

/// Literal parts: runs of spaces match any whitespace run.
fn literal(part: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in part.chars() {
        if c == ' ' {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

impl Format {
    fn new(name: &'static str, template: &'static str) -> Result<Format, regex::Error> {
        let re = compile(template)?;
        let group = |n: &str| re.capture_names().position(|g| g == Some(n));
        let time_groups = ["Date", "Day", "Month", "Time", "Timestamp"]
            .iter()
            .filter_map(|n| group(n))
            .collect();
        let level_group = group("Level");
        let component_group = group("Component").or_else(|| group("Program"));
        let content_group = group("Content").unwrap_or(0);
        Ok(Format {
            name,
            template,
            parser: Parser::Header {
                re,
                time_groups,
                level_group,
                component_group,
                content_group,
            },
        })
    }

    /// Whether lines of this format are structured records (JSON, logfmt) rather than text with
    /// a header: their message is one field among many.
    pub fn is_structured(&self) -> bool {
        matches!(self.parser, Parser::Structured(_))
    }

    /// How much a format's match says about a line, for detection's tie-break: structured
    /// formats only match their own syntax.
    fn specificity(&self) -> usize {
        if self.is_user() {
            // A format the user wrote for their own logs wins a tie with every built-in one.
            return usize::MAX;
        }
        match self.parser {
            // The generic timestamp-and-level format yields to any system's own format.
            Parser::Header { .. } if self.name == "ISO-8601" => 0,
            Parser::Header { .. } => specificity(self.template),
            Parser::Structured(_) => 1000,
        }
    }

    /// The header of `line`, or `None` when the line is not in this format. The header is
    /// matched within the line's first `HEADER_WINDOW` bytes and the content runs to the line's
    /// end: capturing groups over a 50 MB line took the regex engine most of a minute.
    pub fn parse<'a>(&self, line: &'a str) -> Option<Header<'a>> {
        let (re, time_groups, level_group, component_group, content_group) = match &self.parser {
            Parser::Header {
                re,
                time_groups,
                level_group,
                component_group,
                content_group,
            } => (
                re,
                time_groups,
                *level_group,
                *component_group,
                *content_group,
            ),
            Parser::Structured(syntax) => return super::structured::parse(*syntax, line),
        };
        let window = &line[..floor_char_boundary(line, HEADER_WINDOW)];
        let caps = re.captures(window)?;
        let get = |i: usize| caps.get(i).map(|m| m.as_str());
        let content = match caps.get(content_group) {
            Some(m) => &line[m.start()..],
            None => line,
        };
        // The timestamp spans from the first to the last time field.
        let spans: Vec<(usize, usize)> = time_groups
            .iter()
            .filter_map(|&i| caps.get(i))
            .map(|m| (m.start(), m.end()))
            .collect();
        let timestamp = match (
            spans.iter().map(|s| s.0).min(),
            spans.iter().map(|s| s.1).max(),
        ) {
            (Some(a), Some(b)) => Some(&line[a..b]),
            _ => None,
        };
        let header_level = level_group
            .and_then(get)
            .and_then(|t| Level::parse(t).or_else(|| numeric_level(t)));
        let (level, level_from_header) = match header_level {
            Some(l) => (Some(l), true),
            None => (Level::infer(content), false),
        };
        Some(Header {
            timestamp,
            level,
            level_from_header,
            component: component_group.and_then(get),
            content,
        })
    }
}

/// Every known format, compiled once.
pub fn formats() -> &'static [Format] {
    static FORMATS: OnceLock<Vec<Format>> = OnceLock::new();
    FORMATS.get_or_init(|| {
        let mut all: Vec<Format> = TEMPLATES
            .iter()
            // The templates are literals of this file; a test compiles each one.
            .filter_map(|(name, t)| Format::new(name, t).ok())
            .collect();
        all.extend(STRUCTURED.iter().map(|&(name, template, syntax)| Format {
            name,
            template,
            parser: Parser::Structured(syntax),
        }));
        all
    })
}

/// A format by (case-insensitive) name, for `--format`.
pub fn by_name(name: &str) -> Option<&'static Format> {
    every().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// The name of every known format: the user's (config file), then Loghub's and the rest.
pub fn names() -> Vec<&'static str> {
    every().map(|f| f.name).collect()
}

/// The formats the user's config file defines, once [`register`] ran.
static USER_FORMATS: OnceLock<Vec<Format>> = OnceLock::new();

/// The user's formats, then the built-in ones.
fn every() -> impl Iterator<Item = &'static Format> {
    USER_FORMATS.get().into_iter().flatten().chain(formats())
}

impl Format {
    fn is_user(&self) -> bool {
        USER_FORMATS
            .get()
            .is_some_and(|u| u.iter().any(|f| std::ptr::eq(f, self)))
    }
}

/// Adds formats written in the template syntax of this module (`<Time:RE> [<Level>] <Content>`;
/// fields named `Date`, `Time`, `Timestamp`, `Level`, `Component` and `Content` are read), each as
/// `(name, template)`, for detection and `--format`. Called once at start-up, before any log is
/// read; a second call changes nothing and says so. A template that does not compile is an error
/// naming it.
pub fn register(user: &[(String, String)]) -> Result<(), String> {
    let mut compiled = Vec::new();
    for (name, template) in user {
        if name.trim().is_empty() {
            return Err("a format in the config file has no name".into());
        }
        // Leaked once per process: formats live as long as the program, like the built-in ones.
        let name: &'static str = Box::leak(name.clone().into_boxed_str());
        let template: &'static str = Box::leak(template.clone().into_boxed_str());
        let f = Format::new(name, template)
            .map_err(|e| format!("format `{name}`: the template does not compile: {e}"))?;
        if !matches!(&f.parser, Parser::Header { content_group, .. } if *content_group > 0) {
            return Err(format!(
                "format `{name}`: the template has no <Content> field, so messages cannot be read"
            ));
        }
        compiled.push(f);
    }
    USER_FORMATS
        .set(compiled)
        .map_err(|_| "the user's formats were registered already".to_string())
}

/// The format that parses most of `sample` (at least half of the non-empty lines), if any.
pub fn detect<S: AsRef<str>>(sample: &[S]) -> Option<&'static Format> {
    let lines: Vec<&str> = sample
        .iter()
        .map(|s| s.as_ref())
        .filter(|l| !l.trim().is_empty())
        .take(200)
        .collect();
    if lines.is_empty() {
        return None;
    }
    // Rank by lines parsed, then lines whose level field really is a level, then specificity.
    let mut best: Option<(&Format, (usize, usize, usize))> = None;
    for f in every() {
        let mut hits = 0;
        let mut levels = 0;
        for l in &lines {
            if let Some(h) = f.parse(l) {
                hits += 1;
                levels += usize::from(h.level_from_header);
            }
        }
        let key = (hits, levels, f.specificity());
        if hits * 2 >= lines.len() && hits > 0 && best.is_none_or(|(_, k)| key > k) {
            best = Some((f, key));
        }
    }
    best.map(|(f, _)| f)
}

/// A line as a model sees it: the parsed header reduced to time, level and component, then the
/// message. Headers repeat ids and digits (BGL prints the node and time twice) that cost prefill
/// tokens and say nothing; a format's label column (BGL's alert tag) must not leak into a prompt.
pub fn compact(line: &str, fmt: Option<&Format>) -> String {
    reduced(line, fmt, |t| t)
}

/// The header of `line` written as `<time> <LEVEL> <component>: <message>`, the timestamp passed
/// through `time` first; the line itself where `fmt` does not parse it.
fn reduced(line: &str, fmt: Option<&Format>, time: impl Fn(&str) -> &str) -> String {
    let Some(h) = fmt.and_then(|f| f.parse(line)) else {
        return line.to_string();
    };
    let mut out = String::new();
    if let Some(t) = h.timestamp.map(time) {
        out.push_str(t);
        out.push(' ');
    }
    if let (Some(level), true) = (h.level, h.level_from_header) {
        out.push_str(level.name());
        out.push(' ');
    }
    if let Some(c) = h.component {
        out.push_str(c);
        out.push_str(": ");
    }
    out.push_str(h.content);
    out
}

/// A line shortened for a narrow screen: the last word of its timestamp (the time of day where
/// the header also spells the date), the level, the component, then the message. Display only:
/// prompts keep [`compact`]'s whole timestamp.
pub fn short(line: &str, fmt: Option<&Format>) -> String {
    reduced(line, fmt, |t| t.split_whitespace().last().unwrap_or(t))
}

/// The value of field `name` (any case) in `line`: a structured line's own top-level field, a
/// header format's named field (`Host`, `Pid`…), and for every format the parsed header's
/// `level` (its name), `component`, `message` and `time`. `None` when the line has no such field.
pub fn field_value(format: Option<&Format>, line: &str, name: &str) -> Option<String> {
    match format.map(|f| &f.parser) {
        Some(Parser::Structured(syntax)) => {
            if let Some((_, v)) = super::structured::fields(*syntax, line)?
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
            {
                return Some(v.to_string());
            }
        }
        Some(Parser::Header { re, .. }) => {
            let window = &line[..floor_char_boundary(line, HEADER_WINDOW)];
            let group = re
                .capture_names()
                .flatten()
                .find(|g| g.eq_ignore_ascii_case(name) && !g.eq_ignore_ascii_case("Level"));
            if let (Some(g), Some(caps)) = (group, re.captures(window)) {
                if let Some(m) = caps.name(g) {
                    return Some(m.as_str().to_string());
                }
            }
        }
        None => {}
    }
    let h = parse_line(format, line);
    match name.to_ascii_lowercase().as_str() {
        "level" => h.level.map(|l| l.name().to_ascii_lowercase()),
        "component" => h.component.map(str::to_string),
        "message" | "msg" | "content" => Some(h.content.to_string()),
        "time" | "timestamp" => h.timestamp.map(str::to_string),
        _ => None,
    }
}

/// Parses a line with `format`, or treats the whole line as content when there is no format or the
/// line does not fit it (a continuation line, a stack frame).
pub fn parse_line<'a>(format: Option<&Format>, line: &'a str) -> Header<'a> {
    format.and_then(|f| f.parse(line)).unwrap_or(Header {
        timestamp: None,
        level: Level::infer(line),
        level_from_header: false,
        component: None,
        content: line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_line_keeps_the_time_of_day_and_the_message() {
        let bgl = by_name("BGL");
        let line = "- 1127311507 2005.09.21 R47-M1-N2-C:J07-U11 2005-09-21-07.05.07.722326 R47-M1-N2-C:J07-U11 RAS KERNEL INFO 10731 total interrupts.";
        assert_eq!(
            short(line, bgl),
            "2005-09-21-07.05.07.722326 INFO KERNEL: 10731 total interrupts."
        );
        // The dataset's label column is optional: a raw RAS line reads the same.
        assert_eq!(short(&line[2..], bgl), short(line, bgl));
        assert_eq!(short("free text", None), "free text");
    }

    /// A 20 MB line is parsed from its first bytes; its content is the whole rest of the line.
    #[test]
    fn a_huge_line_keeps_its_whole_content_and_header() {
        let hdfs = by_name("hdfs").expect("format");
        let mut line = String::from("081109 203615 148 INFO dfs.DataNode: ");
        line.push_str(&"é".repeat(10 << 20));
        line.push_str(" error at the end");
        let h = hdfs.parse(&line).expect("parses");
        assert_eq!(h.timestamp, Some("081109 203615"));
        assert_eq!(h.level, Some(Level::Info));
        assert!(h.content.starts_with('é') && h.content.ends_with("error at the end"));
        assert_eq!(
            h.content.len(),
            line.len() - "081109 203615 148 INFO dfs.DataNode: ".len()
        );
    }

    #[test]
    fn common_application_formats_are_detected() {
        let cases: [(&str, &[&str], Option<Level>, &str); 9] = [
            (
                "syslog-3164",
                &[
                    "<30>Dec  3 10:15:30 web1 nginx[812]: reloaded configuration",
                    "<27>Dec  3 10:15:31 web1 app[4120]: payment call gave up after 3 retries",
                ],
                Some(Level::Error),
                "payment call gave up after 3 retries",
            ),
            (
                "access-log",
                &[
                    r#"10.0.0.7 - - [03/Dec/2026:10:15:30 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31""#,
                    r#"10.0.0.9 - alice [03/Dec/2026:10:15:31 +0000] "POST /orders HTTP/1.1" 502 157 "-" "curl/8.5.0""#,
                ],
                Some(Level::Error),
                r#""POST /orders HTTP/1.1" 502 157 "-" "curl/8.5.0""#,
            ),
            (
                "nginx-error",
                &[
                    "2026/12/03 10:15:30 [notice] 1#1: start worker processes",
                    "2026/12/03 10:15:31 [error] 29#29: *5 connect() failed (111: Connection refused) while connecting to upstream",
                ],
                Some(Level::Error),
                "*5 connect() failed (111: Connection refused) while connecting to upstream",
            ),
            (
                "Apache-2.4",
                &[
                    "[Thu Dec 03 10:15:30.118232 2026] [mpm_event:notice] [pid 1:tid 140] AH00489: Apache/2.4.62 configured",
                    "[Thu Dec 03 10:15:31.004112 2026] [proxy:error] [pid 9:tid 141] AH00957: HTTP: attempt to connect to 10.0.0.5:8080 failed",
                ],
                Some(Level::Error),
                "[pid 9:tid 141] AH00957: HTTP: attempt to connect to 10.0.0.5:8080 failed",
            ),
            (
                "JSON",
                &[
                    r#"{"time":"2026-12-03T10:15:30Z","level":"info","msg":"started"}"#,
                    r#"{"time":"2026-12-03T10:15:31Z","level":"error","msg":"connection refused to db"}"#,
                ],
                Some(Level::Error),
                "connection refused to db",
            ),
            (
                "logfmt",
                &[
                    "time=2026-12-03T10:15:30Z level=info msg=started",
                    r#"time=2026-12-03T10:15:31Z level=error msg="connection refused to db""#,
                ],
                Some(Level::Error),
                "connection refused to db",
            ),
            (
                "klog",
                &[
                    "I1203 10:15:30.123456       1 server.go:42] Starting kubelet",
                    "E1203 10:15:31.000001       1 pod_workers.go:190] Error syncing pod",
                ],
                Some(Level::Error),
                "Error syncing pod",
            ),
            (
                "syslog",
                &[
                    "<34>1 2026-12-03T10:15:30.003Z host su - ID47 - session opened",
                    "<34>1 2026-12-03T10:15:31.003Z host su - ID47 [origin ip=\"10.0.0.1\"] 'su root' failed",
                ],
                Some(Level::Error),
                "'su root' failed",
            ),
            (
                "ISO-8601",
                &[
                    "2026-12-03T10:15:30.123Z INFO starting worker pool",
                    "2026-12-03 10:15:31,456 [ERROR] connection refused to db",
                ],
                Some(Level::Error),
                "connection refused to db",
            ),
        ];
        // The time each format's second line carries, as written.
        let stamps = [
            ("syslog-3164", "Dec  3 10:15:31"),
            ("access-log", "03/Dec/2026:10:15:31 +0000"),
            ("nginx-error", "2026/12/03 10:15:31"),
            ("Apache-2.4", "Thu Dec 03 10:15:31.004112 2026"),
            ("JSON", "2026-12-03T10:15:31Z"),
            ("logfmt", "2026-12-03T10:15:31Z"),
            ("klog", "1203 10:15:31.000001"),
            ("syslog", "2026-12-03T10:15:31.003Z"),
            ("ISO-8601", "2026-12-03 10:15:31,456"),
        ];
        for (name, lines, level, content) in cases {
            let f = detect(lines).unwrap_or_else(|| panic!("{name}: nothing detected"));
            assert_eq!(f.name, name);
            let h = f.parse(lines[1]).expect("parses");
            assert_eq!((h.level, h.content), (level, content), "{name}");
            let stamp = stamps.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
            assert_eq!(h.timestamp, stamp, "{name}");
        }
    }

    #[test]
    fn a_bracketed_iso_time_with_a_level_is_an_application_log_not_apache() {
        let tomcat = [
            "[2012-08-08 19:13:02] [info] Running 'Tomcat7' Service...",
            "[2012-08-08 19:13:02] [error] CreateJavaVM Failed",
        ];
        let f = detect(&tomcat).map(|f| f.name);
        assert_eq!(f, Some("ISO-8601"));
        let apache = [
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        ];
        let f = detect(&apache).expect("Apache's lines are detected");
        assert_eq!(f.name, "Apache");
        let h = f.parse(apache[1]).expect("parses");
        assert_eq!(h.timestamp, Some("Sun Dec 04 04:47:44 2005"));
        assert_eq!(h.level, Some(Level::Error));
    }

    #[test]
    fn journald_and_docker_exports_are_read_as_json_records() {
        let journald = [
            r#"{"__REALTIME_TIMESTAMP":"1764756930000000","PRIORITY":"6","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Accepted publickey for deploy"}"#,
            r#"{"__REALTIME_TIMESTAMP":"1764756931000000","PRIORITY":"3","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"error: kex_exchange_identification: Connection closed"}"#,
        ];
        let docker = [
            r#"{"log":"listening on :8080\n","stream":"stdout","time":"2026-12-03T10:15:30.1Z"}"#,
            r#"{"log":"ERROR upstream timed out\n","stream":"stderr","time":"2026-12-03T10:15:31.2Z"}"#,
        ];
        let cases = [
            (
                &journald[..],
                Some(Level::Error),
                "1764756931000000",
                Some("sshd"),
                "error: kex_exchange_identification: Connection closed",
            ),
            (
                &docker[..],
                Some(Level::Error),
                "2026-12-03T10:15:31.2Z",
                None,
                r"ERROR upstream timed out\n",
            ),
        ];
        for (lines, level, time, component, content) in cases {
            let f = detect(lines).expect("detected");
            assert_eq!(f.name, "JSON");
            let h = f.parse(lines[1]).expect("parses");
            assert_eq!(
                (h.level, h.timestamp, h.component, h.content),
                (level, Some(time), component, content)
            );
        }
    }

    #[test]
    fn fields_come_from_structured_lines_header_groups_and_the_parsed_header() {
        let json =
            r#"{"time":"2026-12-03T10:00:00Z","level":"error","msg":"db down","tenant":"acme"}"#;
        let f = detect(&[json]);
        assert_eq!(field_value(f, json, "tenant").as_deref(), Some("acme"));
        assert_eq!(field_value(f, json, "Level").as_deref(), Some("error"));
        assert_eq!(field_value(f, json, "missing"), None);
        let klog = "E1203 10:15:31.000001       1 pod_workers.go:190] Error syncing pod";
        let k = detect(&[klog]);
        assert_eq!(field_value(k, klog, "pid").as_deref(), Some("1"));
        assert_eq!(field_value(k, klog, "level").as_deref(), Some("error"));
        assert_eq!(
            field_value(None, "plain text", "message").as_deref(),
            Some("plain text")
        );
    }

    #[test]
    fn every_template_compiles() {
        assert_eq!(formats().len(), TEMPLATES.len() + STRUCTURED.len());
    }

    #[test]
    fn headers_split_into_fields() {
        let hdfs = by_name("hdfs").expect("format");
        let h = hdfs.parse("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating").expect("parses");
        assert_eq!(h.timestamp, Some("081109 203615"));
        assert_eq!(h.level, Some(Level::Info));
        assert!(h.level_from_header);
        assert_eq!(h.component, Some("dfs.DataNode$PacketResponder"));
        assert_eq!(h.content, "PacketResponder 1 terminating");

        let linux = by_name("Linux").expect("format");
        let h = linux.parse("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=1.2.3.4").expect("parses");
        assert_eq!(h.timestamp, Some("Jun 14 15:16:01"));
        assert_eq!(h.component, Some("sshd(pam_unix)"));
        assert_eq!(h.level, Some(Level::Error), "inferred from `failure`");
        assert!(!h.level_from_header);
    }

    #[test]
    fn detection_picks_the_format_and_unknown_text_falls_back() {
        let lines = [
            "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
            "2015-07-29 19:04:12,394 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - Send worker leaving thread",
        ];
        assert_eq!(detect(&lines).map(|f| f.name), Some("Zookeeper"));
        let h = parse_line(detect(&lines), lines[1]);
        assert_eq!(h.level, Some(Level::Warn));
        assert_eq!(h.content, "Send worker leaving thread");
        assert!(detect(&["just some words", "more words"]).is_none());
        let h = parse_line(None, "free text with an error in it");
        assert_eq!(
            (h.content, h.level),
            ("free text with an error in it", Some(Level::Error))
        );
    }
}
