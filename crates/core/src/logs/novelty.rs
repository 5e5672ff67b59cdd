//! Messages the window shows differently from the rest of its file: templates never seen before
//! it (the charts' `novel_templates` check), and templates whose rate jumps (a surge). Both are
//! evidence of their own in a long-running log, and the diagnosis prompt states them.

use std::collections::HashMap;

use super::errors::{FILE_LINES, MIN_BASELINE};
use super::format::{self, Format};
use super::source::LogSource;
use crate::template::miner::Miner;

/// The first line (1-based number, from `first_line`) of each message template of the window that
/// is new to the file, so their count is the number of new templates: the `before` lines (the file up to the window; the last [`FILE_LINES`] of them count) are mined
/// first. `None` when fewer than [`MIN_BASELINE`] lines come before: then everything is new.
pub fn novel_lines<S: AsRef<str>>(
    before: &[S],
    window: &[String],
    first_line: usize,
    format: Option<&Format>,
) -> Option<Vec<usize>> {
    if before.len() < MIN_BASELINE {
        return None;
    }
    let mut miner = Miner::for_system(format.map(|f| f.name));
    for line in &before[before.len().saturating_sub(FILE_LINES)..] {
        miner.add(format::parse_line(format, line.as_ref()).content);
    }
    let known = miner.len() as u32;
    let mut new_ones = std::collections::HashSet::new();
    Some(
        window
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                let id = miner.add(format::parse_line(format, l).content);
                id >= known && new_ones.insert(id)
            })
            .map(|(i, _)| first_line + i)
            .collect(),
    )
}

/// Fewest lines of one template in a window that make a surge.
pub const SURGE_MIN_LINES: usize = 5;
/// How many times its share of the lines before the window a template's share in it must be.
pub const SURGE_RATIO: f64 = 10.0;

/// A template whose share of the window's lines is far above its share of the lines before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Surge {
    /// The template, variables as `<*>`.
    pub template: String,
    /// Its lines in the window.
    pub count: usize,
    /// Its share of the window's lines.
    pub window_share: f64,
    /// Its share of the lines before the window.
    pub file_share: f64,
    /// Its first line in the window (1-based).
    pub first: usize,
}

/// The templates that surge in the window (at least [`SURGE_MIN_LINES`] lines at [`SURGE_RATIO`]
/// times their share before it; templates new to the file are [`novel_lines`]' business), most
/// lines first. Empty when fewer than [`MIN_BASELINE`] lines come before.
pub fn surges<S: AsRef<str>>(
    before: &[S],
    window: &[String],
    first_line: usize,
    format: Option<&Format>,
) -> Vec<Surge> {
    if before.len() < MIN_BASELINE || window.is_empty() {
        return Vec::new();
    }
    let before = &before[before.len().saturating_sub(FILE_LINES)..];
    let mut miner = Miner::for_system(format.map(|f| f.name));
    let mut earlier: HashMap<u32, usize> = HashMap::new();
    for line in before {
        *earlier
            .entry(miner.add(format::parse_line(format, line.as_ref()).content))
            .or_default() += 1;
    }
    let mut here: HashMap<u32, (usize, usize)> = HashMap::new();
    for (i, line) in window.iter().enumerate() {
        let id = miner.add(format::parse_line(format, line).content);
        here.entry(id).or_insert((0, first_line + i)).0 += 1;
    }
    let sizes = (before.len(), window.len());
    surging(&earlier, here, sizes, |id| miner.template(id))
}

/// The surges among the window's templates (`here`: id → lines, first line) against their counts
/// before it (`earlier`), given how many lines each side has; most lines first.
fn surging(
    earlier: &HashMap<u32, usize>,
    here: HashMap<u32, (usize, usize)>,
    (n_before, n_window): (usize, usize),
    text: impl Fn(u32) -> String,
) -> Vec<Surge> {
    let mut out: Vec<Surge> = here
        .into_iter()
        .filter_map(|(id, (count, first))| {
            let seen = *earlier.get(&id)?;
            let window_share = count as f64 / n_window as f64;
            let file_share = seen as f64 / n_before as f64;
            (count >= SURGE_MIN_LINES && window_share >= SURGE_RATIO * file_share).then(|| Surge {
                template: text(id),
                count,
                window_share,
                file_share,
                first,
            })
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
    out
}

/// The same for a window `first..=last` (1-based) of an analysed source: a line counts when it
/// is its template's first occurrence (among the [`FILE_LINES`] lines before the window and the
/// window) lies inside the window.
pub fn novel_in_source(source: &LogSource, first: usize, last: usize) -> Option<Vec<usize>> {
    let templates = &source.facts.template;
    let start = first.checked_sub(1)?;
    if start < MIN_BASELINE || last > templates.len() {
        return None;
    }
    let from = start.saturating_sub(FILE_LINES);
    let mut seen = std::collections::HashSet::new();
    for &t in &templates[from..start] {
        seen.insert(t);
    }
    Some(
        (start..last)
            .filter(|&i| seen.insert(templates[i]))
            .map(|i| i + 1)
            .collect(),
    )
}

/// [`surges`] for a window `first..=last` (1-based) of an analysed source, from its templates.
pub fn surges_in_source(source: &LogSource, first: usize, last: usize) -> Vec<Surge> {
    let templates = &source.facts.template;
    let Some(start) = first.checked_sub(1) else {
        return Vec::new();
    };
    if start < MIN_BASELINE || last > templates.len() || last <= start {
        return Vec::new();
    }
    let from = start.saturating_sub(FILE_LINES);
    let mut earlier: HashMap<u32, usize> = HashMap::new();
    for &t in &templates[from..start] {
        *earlier.entry(t).or_default() += 1;
    }
    let mut here: HashMap<u32, (usize, usize)> = HashMap::new();
    for (i, &t) in templates[start..last].iter().enumerate() {
        here.entry(t).or_insert((0, first + i)).0 += 1;
    }
    surging(&earlier, here, (start - from, last - start), |id| {
        source.template_text(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_new_to_the_file_is_novel_and_a_repeat_is_not() {
        let before: Vec<String> = (0..60)
            .map(|i| format!("INFO request {i} served in {}ms", i % 7))
            .collect();
        let window: Vec<String> = vec![
            "INFO request 61 served in 3ms".into(),
            "ERROR ledger checksum mismatch in block 88".into(),
            "ERROR ledger checksum mismatch in block 91".into(),
        ];
        let novel = novel_lines(&before, &window, 61, None).expect("enough before");
        // The first occurrence of the new message is the novel line; its repeat is not.
        assert_eq!(novel, vec![62]);
        assert_eq!(novel_lines(&before[..10], &window, 11, None), None);
    }

    #[test]
    fn a_message_ten_times_as_frequent_as_before_surges() {
        // One retry warning per 100 lines before; nine in a window of 20.
        let before: Vec<String> = (0..300)
            .map(|i| {
                if i % 100 == 0 {
                    format!("WARN retrying call {i} to billing")
                } else {
                    format!("INFO request {i} served")
                }
            })
            .collect();
        let window: Vec<String> = (0..20)
            .map(|i| {
                if i % 2 == 0 && i < 18 {
                    format!("WARN retrying call {} to billing", 400 + i)
                } else {
                    format!("INFO request {} served", 400 + i)
                }
            })
            .collect();
        let s = surges(&before, &window, 301, None);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!((s[0].count, s[0].first), (9, 301));
        assert!(s[0].template.contains("retrying call"), "{}", s[0].template);
        // The usual requests are no surge, and nor is anything with too little before.
        assert!(surges(&before[..20], &window, 21, None).is_empty());
        // An analysed source tells the same from its templates.
        let mut source = LogSource::empty("app.log", std::path::Path::new("app.log"), None);
        source.append(before.iter().chain(&window).cloned().collect());
        let s = surges_in_source(&source, 301, 320);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!((s[0].count, s[0].first), (9, 301));
        assert_eq!(novel_in_source(&source, 301, 320), Some(Vec::new()));
    }
}
