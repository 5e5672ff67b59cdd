//! Messages never seen before: the lines of a window whose template does not occur earlier in
//! their file. A new kind of message in a long-running log is evidence of its own (the charts'
//! `novel_templates` check, the diagnosis prompt's statistics).

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
}
