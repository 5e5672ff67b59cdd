//! Expert troubleshooting flowcharts: the YAML model, validation with positions, loading and atomic
//! saving, the executable walk, retrieval, thought derivation and exports.

mod diagnostic;
pub mod edit;
pub mod export;
mod model;
pub mod patch;
pub mod pattern;
pub mod retrieve;
pub mod thought;
mod validate;
pub mod walk;

pub use diagnostic::{Diagnostic, FlowchartError};
pub use model::*;
pub use validate::{validate, MAX_RETRY};

use std::path::{Path, PathBuf};

/// Parses and validates `text` as the chart in `file`. All problems are returned, not just the first.
pub fn parse(text: &str, file: &Path) -> Result<Flowchart, Vec<Diagnostic>> {
    // A generic parse first: it refuses duplicate keys, which typed maps would silently merge.
    serde_yaml::from_str::<serde_yaml::Value>(text).map_err(|e| {
        let mut d = yaml_diagnostic(&e, file);
        if let Some(pos) = second_occurrence(text, &d.message) {
            (d.line, d.column) = pos;
        }
        vec![d]
    })?;
    let chart: Flowchart =
        serde_yaml::from_str(text).map_err(|e| vec![yaml_diagnostic(&e, file)])?;
    let problems = validate(&chart, text, file);
    if problems.is_empty() {
        Ok(chart)
    } else {
        Err(problems)
    }
}

fn yaml_diagnostic(e: &serde_yaml::Error, file: &Path) -> Diagnostic {
    let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let text = e.to_string();
    // serde_yaml appends " at line L column C"; the position is already in front.
    let message = match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text.clone(),
    };
    let hint = if message.contains("unknown field") {
        "check the spelling; the allowed fields are listed above and in flowcharts/README.md"
    } else if message.contains("missing field") {
        "add the field; flowcharts/README.md shows a complete chart"
    } else if message.contains("unknown variant") {
        "use one of the listed values"
    } else if message.contains("duplicate") {
        "ids must be unique: rename one of them"
    } else {
        "check indentation and quoting; put regexes in single quotes"
    };
    Diagnostic {
        file: file.to_path_buf(),
        line,
        column,
        message,
        hint: hint.to_string(),
    }
}

/// serde_yaml places a duplicate-key error at the map; point at the repeated key instead.
fn second_occurrence(text: &str, message: &str) -> Option<(usize, usize)> {
    let key = message
        .split("duplicate entry with key \"")
        .nth(1)?
        .split('"')
        .next()?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .nth(1)
        .map(|(i, l)| (i + 1, l.len() - l.trim_start().len() + 1))
}

/// Reads and validates one chart file.
pub fn load_file(path: &Path) -> Result<Flowchart, FlowchartError> {
    let bytes = std::fs::read(path).map_err(|source| FlowchartError::Read {
        path: path.to_path_buf(),
        error: source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        FlowchartError::Invalid(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!(
                "the file is not UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            ),
            hint: "save it as UTF-8".into(),
        }])
    })?;
    parse(&text, path).map_err(FlowchartError::Invalid)
}

/// One file of a chart folder: the chart when it is valid, else its problems.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The chart file.
    pub path: PathBuf,
    /// The chart's id, or the file stem when the file does not parse.
    pub id: String,
    /// The chart, or every problem found in the file.
    pub chart: Result<Flowchart, Vec<Diagnostic>>,
}

/// The `*.yaml`/`*.yml` files of a folder, in name order, each loaded and validated.
/// A chart id used by two files is reported on the second.
pub fn load_dir(dir: &Path) -> Result<Vec<Entry>, FlowchartError> {
    let read = std::fs::read_dir(dir).map_err(|source| FlowchartError::Read {
        path: dir.to_path_buf(),
        error: source,
    })?;
    let mut paths: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut entries: Vec<Entry> = paths.into_iter().map(|p| load_entry(&p)).collect();
    for i in 0..entries.len() {
        let dup = entries[..i].iter().any(|e| e.id == entries[i].id);
        if dup {
            let entry = &mut entries[i];
            let diagnostic = Diagnostic {
                file: entry.path.clone(),
                line: 1,
                column: 1,
                message: format!("chart id `{}` is used by another file too", entry.id),
                hint: "chart ids must be unique in the folder".into(),
            };
            match &mut entry.chart {
                Ok(_) => entry.chart = Err(vec![diagnostic]),
                Err(list) => list.push(diagnostic),
            }
        }
    }
    Ok(entries)
}

/// Loads and validates one chart file; a file that cannot be read becomes a diagnostic too.
pub fn load_entry(path: &Path) -> Entry {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let chart = match load_file(path) {
        Ok(chart) => Ok(chart),
        Err(FlowchartError::Invalid(list)) => Err(list),
        Err(other) => Err(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: other.to_string(),
            hint: "check that the file exists and is readable".into(),
        }]),
    };
    let id = chart.as_ref().map(|c| c.id.clone()).unwrap_or(stem);
    Entry {
        path: path.to_path_buf(),
        id,
        chart,
    }
}

/// The valid charts of a folder; invalid files are skipped (callers that must report them use
/// [`load_dir`]).
pub fn valid_charts(dir: &Path) -> Result<Vec<Flowchart>, FlowchartError> {
    Ok(load_dir(dir)?
        .into_iter()
        .filter_map(|e| e.chart.ok())
        .collect())
}

/// Finds a chart by id in a folder, or reads it from a path.
pub fn find(dir: &Path, id_or_path: &str) -> Result<Flowchart, FlowchartError> {
    let as_path = Path::new(id_or_path);
    if as_path
        .extension()
        .is_some_and(|x| x == "yaml" || x == "yml")
        && as_path.exists()
    {
        return load_file(as_path);
    }
    for ext in ["yaml", "yml"] {
        let path = dir.join(format!("{id_or_path}.{ext}"));
        if path.exists() {
            return load_file(&path);
        }
    }
    Err(FlowchartError::Unknown(id_or_path.to_string()))
}

/// Writes the chart atomically: a temporary file in the same folder, fsync, rename, then fsync
/// of the folder. A crash leaves either the old file or the new one, never a mix. Where the file
/// exists and reads as a chart, only what changed is rewritten ([`patch::patched`]: comments,
/// quoting and styles of the rest stay byte for byte); otherwise the chart's canonical YAML.
pub fn save(chart: &Flowchart, path: &Path) -> Result<(), FlowchartError> {
    let write_err = |source| FlowchartError::Write {
        path: path.to_path_buf(),
        error: source,
    };
    let kept = std::fs::read_to_string(path).ok().and_then(|text| {
        let old: Flowchart = serde_yaml::from_str(&text).ok()?;
        patch::patched(&text, &old, chart)
    });
    let text = kept.unwrap_or_else(|| chart.to_yaml());
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(write_err)
}

#[cfg(test)]
mod tests;
