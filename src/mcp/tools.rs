//! The MCP server's tools: what each takes (a JSON Schema the agent reads) and what it answers.
//! Every answer that shows log lines gives each its 1-based number in its source.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde_json::{json, Value};

use crate::diagnose_cmd::DEFAULT_TAIL;
use logreasoner_core::config::Config;
use logreasoner_core::diagnose::{self, Input};
use logreasoner_core::flowchart::{self, retrieve, thought, walk, Flowchart};
use logreasoner_core::llm::backend::{Backend, BackendSpec};
use logreasoner_core::logs::file::{lines, window_bounds, LineRange};
use logreasoner_core::logs::index::LogFile;

/// Most lines one `read_lines` answer holds.
const MAX_LINES: usize = 500;
/// Most hits or templates one answer holds.
const MAX_ITEMS: usize = 500;

/// The server's state: the configuration and, once a diagnosis asked for it, the loaded model.
pub struct Server {
    config: Config,
    model: Option<Backend>,
}

/// The tools, as `tools/list` gives them.
pub fn list() -> Vec<Value> {
    let source = json!({
        "type": "string",
        "description": "A log source: its name or path as list_sources gives it"
    });
    let window = |extra: Value| {
        let mut props = json!({
            "source": source,
            "first": { "type": "integer", "minimum": 1, "description": "First line, 1-based" },
            "last": { "type": "integer", "minimum": 1, "description": "Last line, inclusive (default: the end)" },
            "tail": { "type": "integer", "minimum": 1, "description": "Without first/last: the last N lines (default 200)" }
        });
        if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        json!({ "type": "object", "properties": props, "required": ["source"] })
    };
    vec![
        tool(
            "list_sources",
            "List the log files this server reads, with their line counts and detected formats.",
            json!({ "type": "object", "properties": {} }),
        ),
        tool(
            "read_lines",
            "Read numbered lines of a log source (at most 500 per call).",
            json!({
                "type": "object",
                "properties": {
                    "source": source,
                    "first": { "type": "integer", "minimum": 1, "description": "First line, 1-based (default 1)" },
                    "last": { "type": "integer", "minimum": 1, "description": "Last line, inclusive (default first + 99)" }
                },
                "required": ["source"]
            }),
        ),
        tool(
            "search",
            "Find the lines of a log source matching a regular expression, with their numbers.",
            json!({
                "type": "object",
                "properties": {
                    "source": source,
                    "pattern": { "type": "string", "description": "A regular expression (Rust regex syntax)" },
                    "ignore_case": { "type": "boolean", "description": "Match regardless of case (default false)" },
                    "limit": { "type": "integer", "minimum": 1, "description": "Most hits to return (default 50, at most 500)" }
                },
                "required": ["source", "pattern"]
            }),
        ),
        tool(
            "templates",
            "The message templates of a log source (variables shown as <*>), most frequent first, with counts and first and last line.",
            json!({
                "type": "object",
                "properties": {
                    "source": source,
                    "limit": { "type": "integer", "minimum": 1, "description": "Most templates to return (default 50, at most 500)" }
                },
                "required": ["source"]
            }),
        ),
        tool(
            "list_charts",
            "List the expert troubleshooting flowcharts: id, title, system.",
            json!({ "type": "object", "properties": {} }),
        ),
        tool(
            "read_chart",
            "Read a flowchart's YAML and the high-level thought derived from it.",
            json!({
                "type": "object",
                "properties": { "chart": { "type": "string", "description": "The chart's id" } },
                "required": ["chart"]
            }),
        ),
        tool(
            "match_charts",
            "Rank the flowcharts whose symptoms appear in a line range, with the matching line numbers.",
            window(json!({})),
        ),
        tool(
            "walk",
            "Walk a flowchart over a line range: each node visited, what its check found and on which lines, and where the walk ended (a cause and remedy, an escalation, or undecided).",
            window(json!({
                "chart": { "type": "string", "description": "A chart id (default: the best-matching chart)" }
            })),
        ),
        tool(
            "diagnose",
            "Diagnose a line range: anomalous or not, the cause, the evidence lines and the chart path. Walk only by default; with use_model the local model reasons too (slower).",
            window(json!({
                "use_model": { "type": "boolean", "description": "Let the configured model reason as well (default false)" }
            })),
        ),
    ]
}

fn tool(name: &str, description: &str, input_schema: Value) -> Value {
    json!({ "name": name, "description": description, "inputSchema": input_schema })
}

impl Server {
    pub fn new(config: Config) -> Self {
        Server {
            config,
            model: None,
        }
    }

    /// Runs tool `name`; `None` when there is no such tool.
    pub fn call(&mut self, name: &str, args: &Value) -> Option<Result<Value, String>> {
        Some(match name {
            "list_sources" => self.list_sources(),
            "read_lines" => self.read_lines(args),
            "search" => self.search(args),
            "templates" => self.templates(args),
            "list_charts" => self.list_charts(),
            "read_chart" => self.read_chart(args),
            "match_charts" => self.match_charts(args),
            "walk" => self.walk(args),
            "diagnose" => self.diagnose(args),
            _ => return None,
        })
    }

    /// The configured log path's files: the file itself, or a folder's files by name.
    fn sources(&self) -> Result<Vec<PathBuf>, String> {
        let root = &self.config.logs.value;
        if root.is_file() {
            return Ok(vec![root.clone()]);
        }
        let entries = std::fs::read_dir(root)
            .map_err(|e| format!("cannot list the logs folder {}: {e}", root.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        Ok(files)
    }

    /// A source named by file name or path; only the configured sources can be read.
    fn source(&self, args: &Value) -> Result<PathBuf, String> {
        let name = text(args, "source")?;
        let sources = self.sources()?;
        sources
            .iter()
            .find(|p| {
                p.as_os_str() == name
                    || p.file_name().is_some_and(|f| f == name)
                    || p.canonicalize().ok() == Path::new(name).canonicalize().ok()
            })
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no log source `{name}`; list_sources names the {} this server reads",
                    sources.len()
                )
            })
    }

    fn list_sources(&self) -> Result<Value, String> {
        let mut out = Vec::new();
        for path in self.sources()? {
            let log = open(&path)?;
            let sample: Vec<String> = lines(&log, 1, 200);
            let format = logreasoner_core::logs::format::detect(&sample.iter().collect::<Vec<_>>());
            out.push(json!({
                "name": path.file_name().map(|f| f.to_string_lossy().into_owned()),
                "path": path.display().to_string(),
                "lines": log.len(),
                "format": format.map(|f| f.name),
            }));
        }
        Ok(json!({ "sources": out }))
    }

    fn read_lines(&self, args: &Value) -> Result<Value, String> {
        let path = self.source(args)?;
        let log = open(&path)?;
        let first = number(args, "first")?.unwrap_or(1);
        let last = number(args, "last")?.unwrap_or(first + 99);
        if last < first {
            return Err(format!("last ({last}) is before first ({first})"));
        }
        let (first, last) = window_bounds(
            &path,
            log.len(),
            Some(LineRange {
                first,
                last: Some(last),
            }),
            0,
        )?;
        let cut = last.min(first + MAX_LINES - 1);
        Ok(json!({
            "source": path.display().to_string(),
            "total_lines": log.len(),
            "first": first,
            "last": cut,
            "more": cut < last,
            "lines": numbered(&log, first, cut),
        }))
    }

    fn search(&self, args: &Value) -> Result<Value, String> {
        let path = self.source(args)?;
        let pattern = text(args, "pattern")?;
        let re = regex::RegexBuilder::new(pattern)
            .case_insensitive(args.get("ignore_case").and_then(Value::as_bool) == Some(true))
            .build()
            .map_err(|e| format!("not a regular expression: {e}"))?;
        let limit = number(args, "limit")?.unwrap_or(50).min(MAX_ITEMS);
        let log = open(&path)?;
        let mut hits = Vec::new();
        let mut total = 0;
        for i in 0..log.len() {
            let line = log.line(i);
            if re.is_match(&line) {
                total += 1;
                if hits.len() < limit {
                    hits.push(json!({ "line": i + 1, "text": line }));
                }
            }
        }
        Ok(json!({
            "source": path.display().to_string(),
            "pattern": pattern,
            "total_matches": total,
            "matches": hits,
        }))
    }

    fn templates(&self, args: &Value) -> Result<Value, String> {
        let path = self.source(args)?;
        let limit = number(args, "limit")?.unwrap_or(50).min(MAX_ITEMS);
        let mut sources = logreasoner_core::logs::source::open_sources(&path, None)?;
        let Some(source) = sources.first_mut() else {
            return Err(format!("{} holds no log", path.display()));
        };
        source.analyse_all();
        let mut stats = source.template_stats();
        stats.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
        let total = stats.len();
        let shown: Vec<Value> = stats
            .into_iter()
            .take(limit)
            .map(|t| {
                json!({
                    "template": t.text,
                    "count": t.count,
                    "first_line": t.first,
                    "last_line": t.last,
                })
            })
            .collect();
        Ok(json!({
            "source": path.display().to_string(),
            "total_templates": total,
            "templates": shown,
        }))
    }

    fn charts(&self) -> Result<Vec<Flowchart>, String> {
        flowchart::valid_charts(&self.config.flowcharts.value).map_err(|e| e.to_string())
    }

    fn list_charts(&self) -> Result<Value, String> {
        let charts: Vec<Value> = self
            .charts()?
            .iter()
            .map(|c| json!({ "id": c.id, "title": c.title, "system": c.system }))
            .collect();
        Ok(json!({ "charts": charts }))
    }

    fn read_chart(&self, args: &Value) -> Result<Value, String> {
        let id = text(args, "chart")?;
        let dir = &self.config.flowcharts.value;
        let chart = flowchart::find(dir, id).map_err(|e| e.to_string())?;
        // A valid chart's id is its file name.
        let path = dir.join(format!("{}.yaml", chart.id));
        let yaml = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(json!({
            "id": chart.id,
            "title": chart.title,
            "system": chart.system,
            "path": path.display().to_string(),
            "yaml": yaml,
            "thought": thought::derive(&chart).render(),
        }))
    }

    /// The lines a window tool works on.
    fn window(&self, args: &Value) -> Result<Input, String> {
        let path = self.source(args)?;
        let log = open(&path)?;
        let first = number(args, "first")?;
        let last = number(args, "last")?;
        let range = match (first, last) {
            (None, None) => None,
            (first, last) => Some(LineRange {
                first: first.unwrap_or(1),
                last,
            }),
        };
        if let (Some(f), Some(l)) = (first, last) {
            if l < f {
                return Err(format!("last ({l}) is before first ({f})"));
            }
        }
        let tail = number(args, "tail")?.unwrap_or(DEFAULT_TAIL);
        let (first, last) = window_bounds(&path, log.len(), range, tail)?;
        Ok(Input {
            source: path.display().to_string(),
            first_line: first,
            lines: lines(&log, first, last),
            question: None,
        })
    }

    fn match_charts(&self, args: &Value) -> Result<Value, String> {
        let input = self.window(args)?;
        let charts = self.charts()?;
        let ranked = retrieve::rank(
            &charts,
            walk::Window::new(&input.lines, input.first_line),
            None,
        );
        Ok(json!({
            "source": input.source,
            "first": input.first_line,
            "last": input.first_line + input.lines.len().saturating_sub(1),
            "matches": ranked.iter().map(|m| json!({
                "chart": m.chart,
                "score": m.score,
                "symptoms_matched": m.symptoms_matched,
                "lines": m.lines,
            })).collect::<Vec<_>>(),
        }))
    }

    fn walk(&self, args: &Value) -> Result<Value, String> {
        let input = self.window(args)?;
        let window = walk::Window::new(&input.lines, input.first_line);
        let charts = self.charts()?;
        let chart = match args.get("chart").and_then(Value::as_str) {
            Some(id) => {
                flowchart::find(&self.config.flowcharts.value, id).map_err(|e| e.to_string())?
            }
            None => {
                let best = retrieve::rank(&charts, window, None).into_iter().next();
                let Some(best) = best else {
                    return Err(format!(
                        "no chart's symptoms match lines {}..{}; name one with `chart` (list_charts)",
                        input.first_line,
                        input.first_line + input.lines.len().saturating_sub(1)
                    ));
                };
                charts
                    .into_iter()
                    .find(|c| c.id == best.chart)
                    .ok_or_else(|| format!("chart {} vanished", best.chart))?
            }
        };
        let result = walk::walk(&chart, window);
        Ok(json!({
            "source": input.source,
            "first": input.first_line,
            "last": input.first_line + input.lines.len().saturating_sub(1),
            "chart": chart.id,
            "title": chart.title,
            "path": result.path(),
            "evidence_lines": result.evidence(),
            "walk": result,
            "summary": result.describe(),
        }))
    }

    fn diagnose(&mut self, args: &Value) -> Result<Value, String> {
        let input = self.window(args)?;
        let log = open(&self.source(args)?)?;
        let charts = self.charts()?;
        let settings = &self.config.diagnosis.value;
        let plan = diagnose::plan_from_file(&charts, input, settings.into(), &log);
        let use_model = args.get("use_model").and_then(Value::as_bool) == Some(true);
        let report = if use_model {
            if self.model.is_none() {
                let spec = BackendSpec::from_config(&self.config).map_err(|e| e.to_string())?;
                self.model = Some(spec.open().map_err(|e| e.to_string())?);
            }
            let Some(model) = self.model.as_mut() else {
                return Err("the model did not load".into());
            };
            let params =
                diagnose::generation_params(&self.config.generation.value, settings.max_tokens);
            diagnose::run_model(model, &plan, &params, &AtomicBool::new(false), &mut |_| {})
                .map_err(|e| e.to_string())?
        } else {
            diagnose::finish(&plan, None, std::time::Duration::ZERO)
        };
        serde_json::to_value(&report).map_err(|e| e.to_string())
    }
}

fn open(path: &Path) -> Result<LogFile, String> {
    LogFile::open(path, 0).map_err(|e| e.to_string())
}

fn numbered(log: &LogFile, first: usize, last: usize) -> Vec<Value> {
    lines(log, first, last)
        .into_iter()
        .enumerate()
        .map(|(i, text)| json!({ "line": first + i, "text": text }))
        .collect()
}

fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str, String> {
    args.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{key}` is required and must be a string"))
}

fn number(args: &Value, key: &str) -> Result<Option<usize>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n as usize)),
            _ => Err(format!(
                "`{key}` must be a whole number of at least 1, not {v}"
            )),
        },
    }
}

/// A server over the bundled samples and charts, for tests.
#[cfg(test)]
pub(super) fn test_server() -> Server {
    let root = logreasoner_core::config::repo_root();
    let mut config = Config::resolve(&Default::default(), &|k| match k {
        "HOME" => Some("/tmp".into()),
        _ => None,
    })
    .expect("config");
    config.logs.value = root.join("assets/samples");
    config.flowcharts.value = root.join("flowcharts");
    Server::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        test_server()
    }

    #[test]
    fn every_listed_tool_answers_and_no_other() {
        let mut s = server();
        for t in list() {
            let name = t["name"].as_str().unwrap_or_default();
            assert!(s.call(name, &json!({})).is_some(), "{name}");
            assert_eq!(t["inputSchema"]["type"], "object", "{name}");
        }
        assert!(s.call("rm_rf", &json!({})).is_none());
    }

    #[test]
    fn lines_come_numbered_and_only_from_the_configured_sources() {
        let mut s = server();
        let out = s
            .call(
                "read_lines",
                &json!({ "source": "hdfs-datanode-loss.log", "first": 2, "last": 3 }),
            )
            .expect("tool")
            .expect("lines");
        assert_eq!(out["lines"][0]["line"], 2);
        assert_eq!(out["lines"].as_array().map(Vec::len), Some(2));
        let err = s
            .call("read_lines", &json!({ "source": "/etc/passwd" }))
            .expect("tool")
            .expect_err("outside");
        assert!(err.contains("no log source"), "{err}");
        let err = s
            .call(
                "search",
                &json!({ "source": "hdfs-datanode-loss.log", "pattern": "(" }),
            )
            .expect("tool")
            .expect_err("bad regex");
        assert!(err.contains("not a regular expression"), "{err}");
    }
}
