//! Resolved configuration. Precedence: command-line flags > `LOGREASONER_*` environment variables >
//! the YAML config file in the XDG config folder > built-in defaults (XDG data folder, bundled assets).
//! Every value remembers where it came from, so `logreasoner config` can say so.

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why the configuration could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read or is not valid config YAML.
    #[error("{path}: {message}")]
    File {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with line and column when known.
        message: String,
    },
    /// A value has the wrong form or is out of range.
    #[error("{origin}: {message}")]
    Value {
        /// Where the value came from, as [`Origin`] shows it.
        origin: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// No default folder can be found: HOME is unset and so is the XDG variable asked for.
    #[error("cannot find a home folder: set HOME or XDG_DATA_HOME and XDG_CONFIG_HOME")]
    NoHome,
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built in; the text says which default (e.g. `XDG data folder`).
    Default(&'static str),
    /// Given by the config file at this path.
    File(PathBuf),
    /// Given by this `LOGREASONER_*` environment variable.
    Env(&'static str),
    /// Given by this command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default(why) => write!(f, "default ({why})"),
            Origin::File(p) => write!(f, "config file {}", p.display()),
            Origin::Env(var) => write!(f, "environment {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A value and its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    /// The resolved value.
    pub value: T,
    /// Where the value came from.
    pub origin: Origin,
}

/// Compute device for the model runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The CPU (`cpu`, the default).
    Cpu,
    /// The CUDA GPU with this index (`cuda:N`; plain `cuda` means 0).
    Cuda(usize),
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| format!("unknown device `{s}`; use `cpu` or `cuda:N`")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Sampling defaults for generation; commands may override them per call.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerationDefaults {
    /// Sampling temperature, 0 (greedy) to 5.
    pub temperature: f32,
    /// Sample only among this many likeliest tokens; at least 1.
    pub top_k: usize,
    /// Nucleus sampling: keep the likeliest tokens up to this total probability, 0 to 1.
    pub top_p: f32,
    /// Penalty on recently seen tokens, 0.5 to 5; 1 means none.
    pub repeat_penalty: f32,
    /// Most tokens one generation may write; at least 1.
    pub max_tokens: usize,
    /// Seed of the sampler, so the same prompt and settings write the same text.
    pub seed: u64,
}

impl Default for GenerationDefaults {
    fn default() -> Self {
        GenerationDefaults {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            repeat_penalty: 1.1,
            max_tokens: 512,
            seed: 42,
        }
    }
}

/// Diagnosis settings (config file section `diagnosis:`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnosisSettings {
    /// At most this many lines of a window go into the prompt.
    pub max_lines: usize,
    /// Longer lines are cut in the prompt.
    pub max_line_chars: usize,
    /// Lines that repeat a shown line's message (other values) are listed by number, not
    /// written out again.
    pub collapse_repeats: bool,
    /// Tokens the model may write per diagnosis.
    pub max_tokens: usize,
    /// In follow mode, diagnose by itself when an error burst appears.
    pub watch: bool,
    /// A burst: this many error lines…
    pub burst_errors: usize,
    /// …among this many most recent lines…
    pub burst_lines: usize,
    /// …and no sooner than this many seconds after the previous automatic diagnosis.
    pub min_interval_secs: u64,
}

impl Default for DiagnosisSettings {
    fn default() -> Self {
        DiagnosisSettings {
            max_lines: 30,
            max_line_chars: 240,
            collapse_repeats: true,
            max_tokens: 256,
            watch: false,
            burst_errors: 5,
            burst_lines: 50,
            min_interval_secs: 60,
        }
    }
}

/// An OpenAI-compatible chat-completions server (vLLM, llama.cpp's server) used instead of the local
/// model (config file section `remote:`). Logs leave the machine only when this is set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSettings {
    /// Base URL, up to and including `/v1` (e.g. `http://127.0.0.1:8000/v1`).
    pub url: String,
    /// The model name the server knows.
    pub model: String,
    /// The API key is read from this environment variable…
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// …or from this file, which must be readable by its owner alone (mode 600).
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
}

/// The config file's shape. Unknown keys are an error, so a typo is never silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    db: Option<PathBuf>,
    flowcharts: Option<PathBuf>,
    logs: Option<PathBuf>,
    model: Option<PathBuf>,
    adapter: Option<PathBuf>,
    device: Option<String>,
    annotator: Option<String>,
    format: Option<String>,
    generation: Option<GenerationDefaults>,
    diagnosis: Option<DiagnosisSettings>,
    remote: Option<RemoteSettings>,
    #[serde(default)]
    formats: Vec<UserFormat>,
    #[serde(default)]
    fields: StructuredFields,
}

/// Field names of structured (JSON, logfmt) logs, tried before the usual ones (`msg`,
/// `message`, `level`, `time`, `logger`…): `fields: { message: [body], level: [sev] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StructuredFields {
    /// Keys holding the message.
    pub message: Vec<String>,
    /// Keys holding the level.
    pub level: Vec<String>,
    /// Keys holding the time.
    pub time: Vec<String>,
    /// Keys naming the component or program.
    pub component: Vec<String>,
}

/// A log format the user defines in the config file, in `logs::format`'s template syntax.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFormat {
    /// The name `--format` and the Logs screen show.
    pub name: String,
    /// The header template, e.g. `<Time:\d{4}-\d\d-\d\d [\d:]+> \| <Level:\w+> \| <Content>`.
    pub template: String,
}

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`: the config file to read instead of the XDG one.
    pub config_file: Option<PathBuf>,
    /// `--data-dir`: folder for the database, models and the log file.
    pub data_dir: Option<PathBuf>,
    /// `--db`: the sled database folder.
    pub db: Option<PathBuf>,
    /// `--flowcharts`: folder of flowchart YAML files.
    pub flowcharts: Option<PathBuf>,
    /// `--logs`: log file or folder the Logs screen opens.
    pub logs: Option<PathBuf>,
    /// `--model`: a GGUF file or a Hugging Face folder.
    pub model: Option<PathBuf>,
    /// `--adapter`: a PEFT LoRA folder merged into the model; `none` turns the shipped one off.
    pub adapter: Option<PathBuf>,
    /// `--device`: `cpu` or `cuda:N`, parsed when the config is resolved.
    pub device: Option<String>,
    /// `--annotator`: name recorded with labels and reviews.
    pub annotator: Option<String>,
    /// `--format`: header format of the logs (a Loghub system name).
    pub log_format: Option<String>,
}

/// The default model's file name inside `<data_dir>/models/`.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The resolved configuration: each value with where it came from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// Folder for the database, models and the log file (default: the XDG data folder).
    pub data_dir: Setting<PathBuf>,
    /// The sled database folder (default: `db` in the data folder).
    pub db: Setting<PathBuf>,
    /// Folder of flowchart YAML files (default: the bundled `flowcharts/`).
    pub flowcharts: Setting<PathBuf>,
    /// Log files (or a folder of them) the Logs screen opens on start.
    pub logs: Setting<PathBuf>,
    /// The model: a GGUF file or a Hugging Face folder (default: SmolLM2-135M in the data folder).
    pub model: Setting<PathBuf>,
    /// A PEFT LoRA adapter (a folder) merged into the local model: the shipped one when the model
    /// is the default one, none otherwise; `none` turns it off.
    pub adapter: Option<Setting<PathBuf>>,
    /// Compute device for the model runtime (default: CPU).
    pub device: Setting<Device>,
    /// Name recorded with labels and reviews (default: the login name, else `anonymous`).
    pub annotator: Setting<String>,
    /// Header format of the logs (a Loghub system name); detected per file when absent.
    pub log_format: Option<Setting<String>>,
    /// Generation defaults with the origin of the file (or built-in) values; fields overridden by
    /// the environment are in `generation_env`.
    pub generation: Setting<GenerationDefaults>,
    /// `(field, variable)` for each generation field an environment variable set.
    pub generation_env: Vec<(&'static str, &'static str)>,
    /// Diagnosis settings from the config file, or the built-in ones.
    pub diagnosis: Setting<DiagnosisSettings>,
    /// Set only by the config file: an explicit choice to send prompts (and log lines) to a server.
    pub remote: Option<RemoteSettings>,
    /// Log formats the config file defines, tried before the built-in ones.
    pub formats: Vec<UserFormat>,
    /// Field names of structured logs the config file adds.
    pub fields: StructuredFields,
}

impl Config {
    /// Resolves from flags, the process environment and the config file.
    pub fn load(flags: &Overrides) -> Result<Config, ConfigError> {
        Config::resolve(flags, &|k| {
            std::env::var_os(k).map(|v| v.to_string_lossy().into_owned())
        })
    }

    /// Resolves with an explicit environment lookup (tests pass their own).
    pub fn resolve(
        flags: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let xdg = |var: &str, fallback: &str| -> Result<PathBuf, ConfigError> {
            match env(var).filter(|v| !v.is_empty()) {
                Some(v) => Ok(PathBuf::from(v)),
                None => home
                    .as_ref()
                    .map(|h| h.join(fallback))
                    .ok_or(ConfigError::NoHome),
            }
        };

        // The config file itself: flag, then environment, then the XDG location if it exists.
        let file_path = match (&flags.config_file, env("LOGREASONER_CONFIG")) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(p)) if !p.is_empty() => Some(PathBuf::from(p)),
            _ => {
                let p = xdg("XDG_CONFIG_HOME", ".config")?.join("logreasoner/config.yaml");
                p.exists().then_some(p)
            }
        };
        let file = match &file_path {
            Some(p) => read_file_config(p)?,
            None => FileConfig::default(),
        };
        let from_file = |v| in_file(v, file_path.as_ref());

        let data_dir = pick(
            flags.data_dir.clone().map(|v| flag(v, "--data-dir")),
            env_path(env, "LOGREASONER_DATA_DIR"),
            from_file(file.data_dir),
            || {
                Ok(default(
                    xdg("XDG_DATA_HOME", ".local/share")?.join("logreasoner"),
                    "XDG data folder",
                ))
            },
        )?;
        let db = pick(
            flags.db.clone().map(|v| flag(v, "--db")),
            env_path(env, "LOGREASONER_DB"),
            from_file(file.db),
            || Ok(default(data_dir.value.join("db"), "in the data folder")),
        )?;
        let flowcharts = pick(
            flags.flowcharts.clone().map(|v| flag(v, "--flowcharts")),
            env_path(env, "LOGREASONER_FLOWCHARTS"),
            from_file(file.flowcharts),
            || Ok(default(bundled("flowcharts"), "bundled")),
        )?;
        let logs = pick(
            flags.logs.clone().map(|v| flag(v, "--logs")),
            env_path(env, "LOGREASONER_LOGS"),
            from_file(file.logs),
            || Ok(default(bundled("assets/samples"), "bundled samples")),
        )?;
        let model = pick(
            flags.model.clone().map(|v| flag(v, "--model")),
            env_path(env, "LOGREASONER_MODEL"),
            from_file(file.model),
            || {
                Ok(default(
                    data_dir.value.join("models").join(DEFAULT_MODEL_FILE),
                    "SmolLM2-135M-Instruct in the data folder",
                ))
            },
        )?;
        let chosen = flags
            .adapter
            .clone()
            .map(|v| flag(v, "--adapter"))
            .or_else(|| env_path(env, "LOGREASONER_ADAPTER"))
            .or_else(|| from_file(file.adapter));
        let adapter = match chosen {
            // `none` turns the shipped adapter off.
            Some(a) if a.value.as_os_str() == "none" => None,
            Some(a) => Some(a),
            // The shipped adapter was trained on the default model, so it goes with that model
            // only; a model named anywhere runs as it is unless an adapter is named too.
            None if matches!(model.origin, Origin::Default(_)) => shipped_adapter().map(|path| {
                default(
                    path,
                    "the shipped LogReasoner adapter for the default model",
                )
            }),
            None => None,
        };
        let device_text = pick(
            flags.device.clone().map(|v| flag(v, "--device")),
            env_text(env, "LOGREASONER_DEVICE"),
            in_file(file.device, file_path.as_ref()),
            || Ok(default("cpu".to_string(), "CPU")),
        )?;
        let device = Setting {
            value: device_text
                .value
                .parse()
                .map_err(|message| ConfigError::Value {
                    origin: device_text.origin.to_string(),
                    message,
                })?,
            origin: device_text.origin,
        };
        let annotator = pick(
            flags.annotator.clone().map(|v| flag(v, "--annotator")),
            env_text(env, "LOGREASONER_ANNOTATOR"),
            in_file(file.annotator, file_path.as_ref()),
            || {
                Ok(default(
                    env("USER")
                        .filter(|u| !u.is_empty())
                        .unwrap_or_else(|| "anonymous".into()),
                    "login name",
                ))
            },
        )?;
        let log_format = flags
            .log_format
            .clone()
            .map(|v| flag(v, "--format"))
            .or_else(|| env_text(env, "LOGREASONER_FORMAT"))
            .or_else(|| in_file(file.format.clone(), file_path.as_ref()));
        let generation = in_file(file.generation, file_path.as_ref())
            .unwrap_or_else(|| default(GenerationDefaults::default(), "built in"));
        let (generation, generation_env) = apply_generation_env(generation, env)?;
        let diagnosis = in_file(file.diagnosis, file_path.as_ref())
            .unwrap_or_else(|| default(DiagnosisSettings::default(), "built in"));

        Ok(Config {
            file: file_path,
            data_dir,
            db,
            flowcharts,
            logs,
            model,
            adapter,
            device,
            annotator,
            log_format,
            generation,
            generation_env,
            diagnosis,
            remote: file.remote,
            formats: file.formats,
            fields: file.fields,
        })
    }

    /// Where tracing writes.
    pub fn log_file(&self) -> PathBuf {
        self.data_dir.value.join("logreasoner.log")
    }

    /// Rows for `logreasoner config`: name, value, origin.
    pub fn rows(&self) -> Vec<(&'static str, String, String)> {
        let p = |s: &Setting<PathBuf>| s.value.display().to_string();
        let g = &self.generation.value;
        let mut rows = vec![
            (
                "config_file",
                self.file
                    .as_ref()
                    .map_or("(none)".into(), |f| f.display().to_string()),
                String::new(),
            ),
            (
                "data_dir",
                p(&self.data_dir),
                self.data_dir.origin.to_string(),
            ),
            ("db", p(&self.db), self.db.origin.to_string()),
            (
                "flowcharts",
                p(&self.flowcharts),
                self.flowcharts.origin.to_string(),
            ),
            ("logs", p(&self.logs), self.logs.origin.to_string()),
            ("model", p(&self.model), self.model.origin.to_string()),
            match &self.adapter {
                Some(a) => ("adapter", p(a), a.origin.to_string()),
                None => ("adapter", "(none)".into(), "default".into()),
            },
            (
                "device",
                self.device.value.to_string(),
                self.device.origin.to_string(),
            ),
            (
                "annotator",
                self.annotator.value.clone(),
                self.annotator.origin.to_string(),
            ),
            match &self.log_format {
                Some(f) => ("format", f.value.clone(), f.origin.to_string()),
                None => ("format", "(detected per file)".into(), "default".into()),
            },
        ];
        for (name, value) in [
            ("generation.temperature", g.temperature.to_string()),
            ("generation.top_k", g.top_k.to_string()),
            ("generation.top_p", g.top_p.to_string()),
            ("generation.repeat_penalty", g.repeat_penalty.to_string()),
            ("generation.max_tokens", g.max_tokens.to_string()),
            ("generation.seed", g.seed.to_string()),
        ] {
            let field = name.trim_start_matches("generation.");
            let origin = match self.generation_env.iter().find(|(f, _)| *f == field) {
                Some((_, var)) => Origin::Env(var),
                None => self.generation.origin.clone(),
            };
            rows.push((name, value, origin.to_string()));
        }
        let d = &self.diagnosis.value;
        for (name, value) in [
            ("diagnosis.max_lines", d.max_lines.to_string()),
            ("diagnosis.max_line_chars", d.max_line_chars.to_string()),
            ("diagnosis.collapse_repeats", d.collapse_repeats.to_string()),
            ("diagnosis.max_tokens", d.max_tokens.to_string()),
            ("diagnosis.watch", d.watch.to_string()),
            ("diagnosis.burst_errors", d.burst_errors.to_string()),
            ("diagnosis.burst_lines", d.burst_lines.to_string()),
            (
                "diagnosis.min_interval_secs",
                d.min_interval_secs.to_string(),
            ),
        ] {
            rows.push((name, value, self.diagnosis.origin.to_string()));
        }
        if let Some(r) = &self.remote {
            let file = self
                .file
                .as_ref()
                .map_or(String::new(), |f| f.display().to_string());
            rows.push(("remote.url", without_credentials(&r.url), file.clone()));
            rows.push(("remote.model", r.model.clone(), file.clone()));
            // Where the key comes from, never the key.
            let key = match (&r.api_key_env, &r.api_key_file) {
                (Some(var), _) => format!("from environment {var}"),
                (None, Some(f)) => format!("from file {}", f.display()),
                (None, None) => "none".to_string(),
            };
            rows.push(("remote.api_key", key, file));
        }
        rows.push((
            "log_file",
            self.log_file().display().to_string(),
            "data_dir/logreasoner.log".into(),
        ));
        rows
    }
}

fn flag<T>(value: T, name: &'static str) -> Setting<T> {
    Setting {
        value,
        origin: Origin::Flag(name),
    }
}

fn default<T>(value: T, why: &'static str) -> Setting<T> {
    Setting {
        value,
        origin: Origin::Default(why),
    }
}

/// A value the config file at `path` gave.
fn in_file<T>(value: Option<T>, path: Option<&PathBuf>) -> Option<Setting<T>> {
    value.map(|value| Setting {
        value,
        origin: Origin::File(path.cloned().unwrap_or_default()),
    })
}

fn env_text(env: &dyn Fn(&str) -> Option<String>, var: &'static str) -> Option<Setting<String>> {
    env(var).filter(|v| !v.is_empty()).map(|v| Setting {
        value: v,
        origin: Origin::Env(var),
    })
}

fn env_path(env: &dyn Fn(&str) -> Option<String>, var: &'static str) -> Option<Setting<PathBuf>> {
    env(var).filter(|v| !v.is_empty()).map(|v| Setting {
        value: PathBuf::from(v),
        origin: Origin::Env(var),
    })
}

/// The first of flag, environment, file; else the default.
fn pick<T>(
    flag: Option<Setting<T>>,
    env: Option<Setting<T>>,
    file: Option<Setting<T>>,
    default: impl FnOnce() -> Result<Setting<T>, ConfigError>,
) -> Result<Setting<T>, ConfigError> {
    match flag.or(env).or(file) {
        Some(s) => Ok(s),
        None => default(),
    }
}

/// Generation values may each be overridden by `LOGREASONER_<FIELD>`; returns the values, checked,
/// and which field each variable set. A value out of range is an error naming where it came from.
#[allow(clippy::type_complexity)]
fn apply_generation_env(
    mut setting: Setting<GenerationDefaults>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<
    (
        Setting<GenerationDefaults>,
        Vec<(&'static str, &'static str)>,
    ),
    ConfigError,
> {
    fn parse<T: std::str::FromStr>(var: &'static str, text: &str) -> Result<T, ConfigError> {
        text.trim().parse().map_err(|_| ConfigError::Value {
            origin: format!("environment {var}"),
            message: format!("`{text}` is not a valid number"),
        })
    }
    let g = &mut setting.value;
    let mut touched: Vec<(&'static str, &'static str)> = Vec::new();
    macro_rules! field {
        ($var:literal, $field:ident) => {
            if let Some(v) = env($var).filter(|v| !v.is_empty()) {
                g.$field = parse($var, &v)?;
                touched.push((stringify!($field), $var));
            }
        };
    }
    field!("LOGREASONER_TEMPERATURE", temperature);
    field!("LOGREASONER_TOP_K", top_k);
    field!("LOGREASONER_TOP_P", top_p);
    field!("LOGREASONER_REPEAT_PENALTY", repeat_penalty);
    field!("LOGREASONER_MAX_TOKENS", max_tokens);
    field!("LOGREASONER_SEED", seed);
    let g = setting.value;
    let problems = [
        (
            "temperature",
            g.temperature.is_finite() && (0.0..=5.0).contains(&g.temperature),
            "a number from 0 (greedy) to 5",
        ),
        ("top_k", g.top_k >= 1, "at least 1"),
        (
            "top_p",
            g.top_p.is_finite() && g.top_p > 0.0 && g.top_p <= 1.0,
            "a number above 0 and at most 1",
        ),
        (
            "repeat_penalty",
            g.repeat_penalty.is_finite() && (0.5..=5.0).contains(&g.repeat_penalty),
            "a number from 0.5 to 5 (1 is none)",
        ),
        ("max_tokens", g.max_tokens >= 1, "at least 1"),
    ];
    if let Some((field, _, want)) = problems.iter().find(|(_, ok, _)| !ok) {
        let origin = match touched.iter().find(|(f, _)| f == field) {
            Some((_, var)) => Origin::Env(var),
            None => setting.origin.clone(),
        };
        let value = match *field {
            "temperature" => g.temperature.to_string(),
            "top_k" => g.top_k.to_string(),
            "top_p" => g.top_p.to_string(),
            "repeat_penalty" => g.repeat_penalty.to_string(),
            _ => g.max_tokens.to_string(),
        };
        return Err(ConfigError::Value {
            origin: origin.to_string(),
            message: format!("generation.{field} is {value}; it must be {want}"),
        });
    }
    Ok((setting, touched))
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        message: format!("cannot read the config file: {e}"),
    })?;
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_yaml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        message: match e.location() {
            Some(loc) => format!("{}:{}: {e}", loc.line(), loc.column()),
            None => e.to_string(),
        },
    })
}

/// `url` with any `user:password@` in it masked, for showing.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The LogReasoner adapter shipped for the default model, inside `assets/adapters/`.
pub const SHIPPED_ADAPTER: &str = "assets/adapters/logreasoner-smollm2-135m";

/// The shipped adapter's folder, when it is there (a checkout without it runs the base model).
pub fn shipped_adapter() -> Option<PathBuf> {
    let dir = bundled(SHIPPED_ADAPTER);
    dir.join("adapter_config.json").is_file().then_some(dir)
}

/// A bundled asset: `relative` in the working folder when it is there, else in the repository
/// this build came from.
pub fn bundled(relative: &str) -> PathBuf {
    let local = PathBuf::from(relative);
    if local.exists() {
        return local;
    }
    repo_root().join(relative)
}

/// The repository this build came from (the core crate lives in `crates/core/`): where bundled
/// assets are found when the working folder is elsewhere.
pub fn repo_root() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(
            without_credentials("https://ana:s3cret@llm.example.com:8443/v1"),
            "https://***@llm.example.com:8443/v1"
        );
        assert_eq!(
            without_credentials("http://localhost:8080/v1?a=b@c"),
            "http://localhost:8080/v1?a=b@c"
        );
        assert_eq!(without_credentials("not a url"), "not a url");
    }

    #[test]
    fn the_shipped_adapter_goes_with_the_default_model_only_and_none_turns_it_off() {
        let env = env_of(&[("HOME", "/home/ana")]);
        let on_defaults = Config::resolve(&Overrides::default(), &env).expect("resolve");
        assert_eq!(on_defaults.adapter.map(|a| a.value), shipped_adapter());
        let named_model = Overrides {
            model: Some("/models/other.gguf".into()),
            ..Default::default()
        };
        let cfg = Config::resolve(&named_model, &env).expect("resolve");
        assert!(cfg.adapter.is_none(), "another model runs without it");
        let off = Overrides {
            adapter: Some("none".into()),
            ..Default::default()
        };
        assert!(Config::resolve(&off, &env)
            .expect("resolve")
            .adapter
            .is_none());
        let off_by_env = env_of(&[("HOME", "/home/ana"), ("LOGREASONER_ADAPTER", "none")]);
        let cfg = Config::resolve(&Overrides::default(), &off_by_env).expect("resolve");
        assert!(cfg.adapter.is_none());
    }

    #[test]
    fn defaults_live_in_the_xdg_data_folder() {
        let cfg = Config::resolve(
            &Overrides::default(),
            &env_of(&[("HOME", "/home/ana"), ("USER", "ana")]),
        )
        .expect("resolve");
        assert_eq!(
            cfg.data_dir.value,
            PathBuf::from("/home/ana/.local/share/logreasoner")
        );
        assert_eq!(
            cfg.db.value,
            PathBuf::from("/home/ana/.local/share/logreasoner/db")
        );
        assert_eq!(cfg.annotator.value, "ana");
        assert_eq!(cfg.device.value, Device::Cpu);
        assert!(matches!(cfg.db.origin, Origin::Default(_)));
        assert!(cfg.model.value.ends_with(DEFAULT_MODEL_FILE));
    }

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        std::fs::write(
            &file,
            "db: /file/db\nannotator: filey\ndevice: cuda:1\nlogs: /file/logs\ngeneration:\n  temperature: 0.2\n",
        )
        .expect("write");
        let env = env_of(&[
            ("HOME", "/home/ana"),
            ("LOGREASONER_CONFIG", file.to_str().expect("utf8")),
            ("LOGREASONER_DB", "/env/db"),
            ("LOGREASONER_ANNOTATOR", "envy"),
            ("LOGREASONER_SEED", "7"),
        ]);
        let flags = Overrides {
            db: Some("/flag/db".into()),
            ..Default::default()
        };
        let cfg = Config::resolve(&flags, &env).expect("resolve");
        assert_eq!(cfg.db.value, PathBuf::from("/flag/db"));
        assert_eq!(cfg.db.origin, Origin::Flag("--db"));
        assert_eq!(cfg.annotator.value, "envy");
        assert_eq!(cfg.annotator.origin, Origin::Env("LOGREASONER_ANNOTATOR"));
        assert_eq!(cfg.device.value, Device::Cuda(1));
        assert_eq!(cfg.device.origin, Origin::File(file.clone()));
        assert_eq!(cfg.logs.value, PathBuf::from("/file/logs"));
        assert_eq!(cfg.generation.value.temperature, 0.2);
        assert_eq!(cfg.generation.value.seed, 7);
        assert_eq!(cfg.generation.origin, Origin::File(file.clone()));
        assert_eq!(cfg.generation_env, [("seed", "LOGREASONER_SEED")]);
        let rows = cfg.rows();
        let origin_of = |name: &str| {
            rows.iter()
                .find(|r| r.0 == name)
                .map(|r| r.2.clone())
                .unwrap_or_default()
        };
        assert_eq!(origin_of("generation.seed"), "environment LOGREASONER_SEED");
        assert!(origin_of("generation.temperature").starts_with("config file"));
    }

    /// Out-of-range sampling values are refused where they are set, not later in the sampler.
    #[test]
    fn generation_values_out_of_range_are_refused_naming_their_origin() {
        for (var, value, wanted) in [
            ("LOGREASONER_TOP_P", "5", "generation.top_p is 5"),
            (
                "LOGREASONER_TEMPERATURE",
                "NaN",
                "generation.temperature is NaN",
            ),
            ("LOGREASONER_TOP_K", "0", "generation.top_k is 0"),
            ("LOGREASONER_MAX_TOKENS", "0", "generation.max_tokens is 0"),
            (
                "LOGREASONER_REPEAT_PENALTY",
                "-1",
                "generation.repeat_penalty is -1",
            ),
        ] {
            let env = env_of(&[("HOME", "/home/ana"), (var, value)]);
            let err = Config::resolve(&Overrides::default(), &env)
                .expect_err(var)
                .to_string();
            assert!(err.contains(wanted) && err.contains(var), "{err}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "generation:\n  top_p: 1.5\n").expect("write");
        let flags = Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        let err = Config::resolve(&flags, &env_of(&[("HOME", "/home/ana")]))
            .expect_err("top_p 1.5")
            .to_string();
        assert!(
            err.contains("config file") && err.contains("top_p is 1.5"),
            "{err}"
        );
    }

    #[test]
    fn a_typo_in_the_config_file_names_file_line_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "db: /x\nanotator: ana\n").expect("write");
        let env = env_of(&[
            ("HOME", "/h"),
            ("LOGREASONER_CONFIG", file.to_str().expect("utf8")),
        ]);
        let err = Config::resolve(&Overrides::default(), &env).expect_err("typo");
        let text = err.to_string();
        assert!(text.contains("config.yaml: 2:1"), "{text}");
        assert!(text.contains("anotator"), "{text}");
    }

    #[test]
    fn a_bad_device_or_number_is_a_clear_error() {
        let env = env_of(&[("HOME", "/h"), ("LOGREASONER_DEVICE", "tpu")]);
        let err = Config::resolve(&Overrides::default(), &env).expect_err("device");
        assert!(
            err.to_string()
                .contains("environment LOGREASONER_DEVICE: unknown device `tpu`"),
            "{err}"
        );
        let env = env_of(&[("HOME", "/h"), ("LOGREASONER_MAX_TOKENS", "lots")]);
        let err = Config::resolve(&Overrides::default(), &env).expect_err("number");
        assert!(err.to_string().contains("LOGREASONER_MAX_TOKENS"), "{err}");
    }
}
