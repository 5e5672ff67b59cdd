//! Retrieval: which charts apply to a window of lines, ranked by symptom matches and system.

use super::model::Flowchart;
use super::pattern::compiled;
use super::walk::Window;

/// A chart that applies to the window, with how well it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The chart's id.
    pub chart: String,
    /// Ranking score: 10 per symptom matched, 1 per matching line (up to 10), 5 for the system.
    pub score: f64,
    /// How many of the chart's symptom patterns matched at least one line.
    pub symptoms_matched: usize,
    /// Line numbers that matched a symptom (at most 20).
    pub lines: Vec<usize>,
    /// The chart's system is the one the caller named.
    pub system_match: bool,
}

/// Charts with at least one symptom match, best first. The score counts distinct symptoms matched
/// (strongest signal), then matching lines (saturating at 10), plus a bonus when the chart's system is
/// the one the caller names. Ties keep the charts' order.
pub fn rank(charts: &[Flowchart], window: Window, system: Option<&str>) -> Vec<Match> {
    let mut out: Vec<Match> = charts
        .iter()
        .filter_map(|chart| {
            let res: Vec<_> = chart
                .symptoms
                .iter()
                .filter_map(|s| compiled(s).ok())
                .collect();
            let mut matched = vec![false; res.len()];
            let mut lines = Vec::new();
            for (i, line) in window.lines.iter().enumerate() {
                let mut hit = false;
                for (j, re) in res.iter().enumerate() {
                    if re.is_match(line) {
                        matched[j] = true;
                        hit = true;
                    }
                }
                if hit {
                    lines.push(window.first_line + i);
                }
            }
            let symptoms_matched = matched.iter().filter(|m| **m).count();
            if symptoms_matched == 0 {
                return None;
            }
            let system_match = system.is_some_and(|s| s.eq_ignore_ascii_case(&chart.system));
            let score = 10.0 * symptoms_matched as f64
                + (lines.len().min(10) as f64)
                + if system_match { 5.0 } else { 0.0 };
            lines.truncate(20);
            Some(Match {
                chart: chart.id.clone(),
                score,
                symptoms_matched,
                lines,
                system_match,
            })
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}
