//! The Loghub-2k benchmark data: raw logs with their corrected structured CSVs.

use std::path::{Path, PathBuf};

/// All 16 systems, and the 14 that Loghub-2.0 averages over (all but Android and Windows).
pub const SYSTEMS: [&str; 16] = [
    "Android",
    "Apache",
    "BGL",
    "Hadoop",
    "HDFS",
    "HealthApp",
    "HPC",
    "Linux",
    "Mac",
    "OpenSSH",
    "OpenStack",
    "Proxifier",
    "Spark",
    "Thunderbird",
    "Windows",
    "Zookeeper",
];

/// Whether Loghub-2.0's averages include `system` (all but Android and Windows).
pub fn in_loghub2(system: &str) -> bool {
    system != "Android" && system != "Windows"
}

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    /// The `LineId` column: the message's line in the 2k log (1-based).
    pub line_id: usize,
    /// The message, without its header.
    pub content: String,
    /// The corrected ground-truth template, `<*>` for variable parts.
    pub template: String,
}

/// The folder holding one system's files under the Loghub-2k root.
pub fn dataset_dir(root: &Path, system: &str) -> PathBuf {
    root.join(system)
}

/// Reads `<System>_2k.log_structured_corrected.csv`: the `Content` and `EventTemplate` columns.
pub fn read_structured(root: &Path, system: &str) -> Result<Vec<Labelled>, String> {
    let path = dataset_dir(root, system).join(format!("{system}_2k.log_structured_corrected.csv"));
    let text = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let rows = parse_csv(&text);
    let header = rows
        .first()
        .ok_or_else(|| format!("{} is empty", path.display()))?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no `{name}` column", path.display()))
    };
    let (id, content, template) = (col("LineId")?, col("Content")?, col("EventTemplate")?);
    rows[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let get = |c: usize| {
                r.get(c)
                    .cloned()
                    .ok_or_else(|| format!("{}: row {} is short", path.display(), i + 2))
            };
            Ok(Labelled {
                line_id: get(id)?.parse().unwrap_or(i + 1),
                content: get(content)?,
                template: get(template)?,
            })
        })
        .collect()
}

/// The raw log `<System>_2k.log`.
pub fn raw_log(root: &Path, system: &str) -> PathBuf {
    dataset_dir(root, system).join(format!("{system}_2k.log"))
}

/// RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_commas_and_newlines() {
        let rows = parse_csv("a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"multi\nline\",\n");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b", "c"],
                vec!["1", "x, y", "say \"hi\""],
                vec!["2", "multi\nline", ""],
            ]
        );
    }
}
