//! Messages the window shows differently from the rest of its file: templates never seen before
//! it (the charts' `novel_templates` check), and templates whose rate jumps (a surge). Both are
//! evidence of their own in a long-running log, and the diagnosis prompt states them.

use std::collections::HashMap;

use super::errors::{outside, FILE_LINES, MIN_BASELINE};
use super::format::{self, Format};
use super::source::LogSource;
use crate::template::miner::Miner;

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

/// What sets a window apart from the lines before it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Novelty {
    /// The first line (1-based) of each template the lines before the window never showed, so
    /// their count is the number of new templates.
    pub novel: Vec<usize>,
    /// Templates far more frequent in the window than before it ([`SURGE_MIN_LINES`] lines at
    /// [`SURGE_RATIO`] times their earlier share), most lines first; new templates are not here.
    pub surges: Vec<Surge>,
}

/// The window's novelty against the `before` lines (the file up to the window; the last
/// [`FILE_LINES`] of them count), both mined in one pass. `None` when fewer than
/// [`MIN_BASELINE`] lines come before: then everything is new.
pub fn in_text<S: AsRef<str>>(
    before: &[S],
    window: &[String],
    first_line: usize,
    format: Option<&Format>,
) -> Option<Novelty> {
    if before.len() < MIN_BASELINE {
        return None;
    }
    let before = &before[before.len().saturating_sub(FILE_LINES)..];
    let mut miner = Miner::for_system(format.map(|f| f.name));
    let mut earlier: HashMap<u32, usize> = HashMap::new();
    for line in before {
        *earlier
            .entry(miner.add(format::parse_line(format, line.as_ref()).content))
            .or_default() += 1;
    }
    let here: Vec<(usize, u32)> = window
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                first_line + i,
                miner.add(format::parse_line(format, l).content),
            )
        })
        .collect();
    Some(tally(&earlier, before.len(), &here, |id| {
        miner.template(id)
    }))
}

/// The same for a window `first..=last` (1-based) of an analysed source, from its templates.
pub fn in_source(source: &LogSource, first: usize, last: usize) -> Option<Novelty> {
    let templates = &source.facts.template;
    let (before, _) = outside(first, last, templates.len());
    if before.end < MIN_BASELINE || last > templates.len() {
        return None;
    }
    let mut earlier: HashMap<u32, usize> = HashMap::new();
    for &t in &templates[before.clone()] {
        *earlier.entry(t).or_default() += 1;
    }
    let here: Vec<(usize, u32)> = (before.end..last.max(before.end))
        .map(|i| (i + 1, templates[i]))
        .collect();
    Some(tally(&earlier, before.len(), &here, |id| {
        source.template_text(id)
    }))
}

/// The window's templates (`here`: line, id) against their counts before it (`earlier`, from
/// `n_before` lines).
fn tally(
    earlier: &HashMap<u32, usize>,
    n_before: usize,
    here: &[(usize, u32)],
    text: impl Fn(u32) -> String,
) -> Novelty {
    let mut first_and_count: HashMap<u32, (usize, usize)> = HashMap::new();
    let mut novel = Vec::new();
    for &(line, id) in here {
        let entry = first_and_count.entry(id).or_insert((line, 0));
        entry.1 += 1;
        if entry.1 == 1 && !earlier.contains_key(&id) {
            novel.push(line);
        }
    }
    let mut surges: Vec<Surge> = first_and_count
        .into_iter()
        .filter_map(|(id, (first, count))| {
            let seen = *earlier.get(&id)?;
            let window_share = count as f64 / here.len() as f64;
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
    surges.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
    Novelty { novel, surges }
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
        let novel = in_text(&before, &window, 61, None)
            .expect("enough before")
            .novel;
        // The first occurrence of the new message is the novel line; its repeat is not.
        assert_eq!(novel, vec![62]);
        assert_eq!(in_text(&before[..10], &window, 11, None), None);
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
        let s = in_text(&before, &window, 301, None)
            .expect("enough before")
            .surges;
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!((s[0].count, s[0].first), (9, 301));
        assert!(s[0].template.contains("retrying call"), "{}", s[0].template);
        // The usual requests are no surge, and nor is anything with too little before.
        assert!(in_text(&before[..20], &window, 21, None).is_none_or(|n| n.surges.is_empty()));
        // An analysed source tells the same from its templates.
        let mut source = LogSource::empty("app.log", std::path::Path::new("app.log"), None);
        source.append(before.iter().chain(&window).cloned().collect());
        let s = in_source(&source, 301, 320).expect("enough before").surges;
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!((s[0].count, s[0].first), (9, 301));
        assert_eq!(
            in_source(&source, 301, 320).map(|n| n.novel),
            Some(Vec::new())
        );
    }
}
