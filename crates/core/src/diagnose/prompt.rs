//! What the model sees: the chart's thought, the walk's automatic checks, a bounded selection of the
//! window's lines with their numbers, and the answer format the verdict parser reads.

use crate::flowchart::thought;
use crate::flowchart::walk::Walk;
use crate::flowchart::Flowchart;
use crate::llm::chat::Message;
use crate::logs::format::{self, Format, Level};

/// How much of a window goes into the prompt. A window can hold thousands of lines; the model's
/// context (and prefill time) cannot, so lines are chosen by what they say (see [`select_lines`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PromptLimits {
    /// At most this many lines of the window go into the prompt.
    pub max_lines: usize,
    /// Longer lines are cut for the prompt (they stay whole in the window and for the walk).
    pub max_line_chars: usize,
    /// Lines that repeat an earlier shown line's message are listed by number instead of
    /// written out (see [`collapsed`]).
    pub collapse_repeats: bool,
}

impl Default for PromptLimits {
    fn default() -> Self {
        PromptLimits {
            max_lines: 30,
            max_line_chars: 240,
            collapse_repeats: true,
        }
    }
}

impl From<&crate::config::DiagnosisSettings> for PromptLimits {
    fn from(d: &crate::config::DiagnosisSettings) -> Self {
        PromptLimits {
            max_lines: d.max_lines.max(1),
            max_line_chars: d.max_line_chars.max(20),
            collapse_repeats: d.collapse_repeats,
        }
    }
}

/// The system message of every diagnosis chat.
pub const SYSTEM: &str = "You are an expert site reliability engineer. You diagnose logs by following \
an expert troubleshooting flowchart, and you only cite line numbers that appear in the log lines given.";

/// The question asked when the engineer asks none.
pub const DEFAULT_QUESTION: &str =
    "Is something wrong in these log lines, and if so, what is the root cause?";

/// Line numbers (within the window) of lines whose level is an error or worse, then warnings.
pub fn severe_lines(
    lines: &[String],
    first_line: usize,
    fmt: Option<&Format>,
) -> Vec<(usize, Level)> {
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let level = format::parse_line(fmt, l).level?;
            (level >= Level::Warn).then_some((first_line + i, level))
        })
        .collect()
}

/// The line numbers shown to the model, ascending. When the window is too big, lines are taken in
/// this order until `max_lines`: the walk's evidence, lines that matched a chart symptom, errors,
/// warnings, and then the most recent lines (an incident is usually at the end of a window).
pub fn select_lines(
    lines: &[String],
    first_line: usize,
    walk_evidence: &[usize],
    symptom_lines: &[usize],
    fmt: Option<&Format>,
    max_lines: usize,
) -> Vec<usize> {
    let last_line = first_line + lines.len();
    if lines.len() <= max_lines {
        return (first_line..last_line).collect();
    }
    let severe = severe_lines(lines, first_line, fmt);
    let errors = severe
        .iter()
        .filter(|(_, l)| *l >= Level::Error)
        .map(|(n, _)| *n);
    let warnings = severe
        .iter()
        .filter(|(_, l)| *l < Level::Error)
        .map(|(n, _)| *n);
    let recent = (first_line..last_line).rev();
    let mut chosen: Vec<usize> = Vec::with_capacity(max_lines);
    let candidates = walk_evidence
        .iter()
        .chain(symptom_lines)
        .copied()
        .chain(errors)
        .chain(warnings)
        .chain(recent);
    for n in candidates {
        if chosen.len() == max_lines {
            break;
        }
        if (first_line..last_line).contains(&n) && !chosen.contains(&n) {
            chosen.push(n);
        }
    }
    chosen.sort_unstable();
    chosen
}

/// At most this many lines of one message are written out; the first, then cited ones.
const WHOLE_PER_MESSAGE: usize = 2;

/// One entry of the prompt's line list.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A line written out: its number.
    Whole(usize),
    /// Lines that say the same message as line `like` with other values, listed by number.
    Repeats {
        /// The written-out line whose message they repeat.
        like: usize,
        /// Their numbers, ascending.
        lines: Vec<usize>,
    },
}

/// The shown lines with repeats collapsed: a line is written out when it is the first of its
/// message (its template, mined over the shown lines) or is cited (`cited`), up to
/// [`WHOLE_PER_MESSAGE`] per message; each run of further lines of one message becomes one
/// [`Shown::Repeats`] entry where the run starts. Most of a window's tokens are repeats of a
/// few messages with other ids and addresses (a 30-line HDFS window: 2,830 tokens of lines).
pub fn collapsed(
    lines: &[String],
    first_line: usize,
    shown: &[usize],
    cited: &[usize],
    fmt: Option<&Format>,
) -> Vec<Shown> {
    let mut miner = crate::template::miner::Miner::for_system(fmt.map(|f| f.name));
    let mut whole_of: std::collections::HashMap<u32, (usize, usize)> = Default::default();
    let mut out: Vec<Shown> = Vec::with_capacity(shown.len());
    for &n in shown {
        let Some(line) = n.checked_sub(first_line).and_then(|i| lines.get(i)) else {
            continue;
        };
        let id = miner.add(format::parse_line(fmt, line).content);
        let entry = whole_of.entry(id).or_insert((n, 0));
        let first = entry.1 == 0;
        if first || (cited.contains(&n) && entry.1 < WHOLE_PER_MESSAGE) {
            entry.1 += 1;
            out.push(Shown::Whole(n));
            continue;
        }
        // A run lasts while nothing but its own repeats was written since: it is the last entry
        // (`like`, the message's first line, names the message).
        let like = entry.0;
        match out.last_mut() {
            Some(Shown::Repeats { like: l, lines }) if *l == like => lines.push(n),
            _ => out.push(Shown::Repeats {
                like,
                lines: vec![n],
            }),
        }
    }
    out
}

/// Line numbers written compactly: runs of consecutive numbers as `a-b`.
fn number_list(lines: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j + 1 < lines.len() && lines[j + 1] == lines[j] + 1 {
            j += 1;
        }
        parts.push(if j > i + 1 {
            format!("{}-{}", lines[i], lines[j])
        } else if j == i + 1 {
            format!("{}, {}", lines[i], lines[j])
        } else {
            lines[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

fn cut(line: &str, max_chars: usize) -> String {
    match line.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// The chat for one diagnosis.
pub struct PromptParts<'a> {
    /// The flowchart retrieval chose; without one the built-in causes are offered.
    pub chart: Option<&'a Flowchart>,
    /// The walk of that chart over the window, whose automatic checks are quoted.
    pub walk: Option<&'a Walk>,
    /// The window's error burst against the rest of its file, stated as a statistic.
    pub burst: Option<&'a super::burst::Burst>,
    /// The first line of each message new to the file, stated too.
    pub novel: &'a [usize],
    /// Templates far more frequent here than before the window, stated too.
    pub surges: &'a [crate::logs::novelty::Surge],
    /// The whole window, `lines[0]` being line `first_line`.
    pub lines: &'a [String],
    /// 1-based number of the window's first line.
    pub first_line: usize,
    /// Line numbers to show, ascending (from [`select_lines`]).
    pub shown: &'a [usize],
    /// Lines the checks and statistics cite, written out even when they repeat a message.
    pub cited: &'a [usize],
    /// The engineer's question, or [`DEFAULT_QUESTION`].
    pub question: &'a str,
    /// How long shown lines may be.
    pub limits: PromptLimits,
    /// The log's detected format, used to compact line headers; `None` leaves lines as they are.
    pub format: Option<&'a Format>,
}

/// The system and user messages for one diagnosis, ending in the answer format to follow.
pub fn messages(p: &PromptParts) -> Vec<Message> {
    let mut user = String::new();
    let categories = match p.chart {
        Some(chart) => {
            user.push_str(&format!(
                "Expert thought for this kind of problem (flowchart \"{}\", {}):\n{}\n",
                chart.title,
                chart.system,
                thought::derive(chart).render()
            ));
            chart.used_causes().join(", ")
        }
        None => crate::flowchart::BUILTIN_CAUSES.join(", "),
    };
    if let Some(walk) = p.walk {
        user.push_str("Automatic checks of the flowchart on these lines:\n");
        // The thought above already asks each check's question.
        user.push_str(&walk.describe_with(p.chart.is_none()));
        user.push('\n');
    }
    if let Some(b) = p.burst {
        let cited: Vec<String> = b.lines.iter().map(usize::to_string).collect();
        user.push_str(&format!(
            "Statistics: {} error lines in this window ({:.0}% of its lines) against {:.1}% in the \
             rest of the file; error lines {}.\n",
            b.errors,
            b.window_rate * 100.0,
            b.file_rate * 100.0,
            cited.join(", ")
        ));
    }
    if !p.novel.is_empty() {
        let cited: Vec<String> = p.novel.iter().take(20).map(usize::to_string).collect();
        user.push_str(&format!(
            "Messages never seen earlier in this file: {} kind(s), first at lines {}.\n",
            p.novel.len(),
            cited.join(", ")
        ));
    }
    for s in p.surges.iter().take(5) {
        user.push_str(&format!(
            "Surging message: \"{}\" on {} lines ({:.0}% of the window against {:.1}% before it), first at line {}.\n",
            cut(&s.template, p.limits.max_line_chars),
            s.count,
            s.window_share * 100.0,
            s.file_share * 100.0,
            s.first
        ));
    }
    let entries = if p.limits.collapse_repeats {
        collapsed(p.lines, p.first_line, p.shown, p.cited, p.format)
    } else {
        p.shown.iter().map(|&n| Shown::Whole(n)).collect()
    };
    let repeats: usize = entries
        .iter()
        .map(|e| match e {
            Shown::Repeats { lines, .. } => lines.len(),
            Shown::Whole(_) => 0,
        })
        .sum();
    user.push_str(&format!(
        "Log lines (line number first; {} of {} lines shown",
        p.shown.len(),
        p.lines.len()
    ));
    if repeats > 0 {
        user.push_str(&format!(
            ", {repeats} of them listed by number where they repeat a written line's message \
             with other values"
        ));
    }
    user.push_str("):\n");
    for entry in &entries {
        match entry {
            Shown::Whole(n) => {
                if let Some(line) = n.checked_sub(p.first_line).and_then(|i| p.lines.get(i)) {
                    let line = format::compact(line, p.format);
                    user.push_str(&format!("{n} {}\n", cut(&line, p.limits.max_line_chars)));
                }
            }
            Shown::Repeats { like, lines } => {
                user.push_str(&format!(
                    "{}: same message as line {like}\n",
                    number_list(lines)
                ));
            }
        }
    }
    user.push_str(&format!(
        "\nQuestion: {}\nReason step by step. Number each step; in each, say what you check and \
         quote the line numbers that show it. Then end with exactly these lines:\n\
         Anomalous: yes or no\n\
         Cause: one of {categories}, or a short phrase\n\
         Confidence: a number from 0 to 1\n\
         Evidence: the line numbers that show it\n\
         Answer: abnormal or normal\n",
        p.question
    ));
    vec![Message::system(SYSTEM), Message::user(user)]
}

/// The chat [`messages`] writes cut into its parts by their headings, named, for measuring
/// what each costs (`bench diagnose`). The headings are the ones written above.
pub fn parts(messages: &[Message]) -> Vec<(&'static str, String)> {
    const HEADINGS: [(&str, &str); 7] = [
        ("Expert thought for", "the chart's thought"),
        ("Automatic checks of the flowchart", "the walk's checks"),
        ("Statistics:", "statistics"),
        ("Messages never seen earlier", "new messages"),
        ("Surging message:", "surging messages"),
        ("Log lines (line number first", "the log lines"),
        ("\nQuestion:", "the question and answer format"),
    ];
    let mut parts = Vec::new();
    if let Some(system) = messages.first() {
        parts.push(("system message", system.content.clone()));
    }
    let Some(user) = messages.get(1).map(|m| m.content.as_str()) else {
        return parts;
    };
    let mut cuts: Vec<(usize, &'static str)> = HEADINGS
        .iter()
        .filter_map(|(h, name)| user.find(h).map(|at| (at, *name)))
        .collect();
    cuts.sort();
    for (i, (at, name)) in cuts.iter().enumerate() {
        let end = cuts.get(i + 1).map_or(user.len(), |c| c.0);
        parts.push((name, user[*at..end].to_string()));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chat for `shown` lines with no chart, walk or statistics.
    fn plain_chat(
        lines: &[String],
        first_line: usize,
        shown: &[usize],
        limits: PromptLimits,
    ) -> Vec<Message> {
        messages(&PromptParts {
            chart: None,
            walk: None,
            burst: None,
            novel: &[],
            surges: &[],
            lines,
            first_line,
            shown,
            cited: &[],
            question: DEFAULT_QUESTION,
            limits,
            format: None,
        })
    }

    fn lines(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("info line {i}")).collect()
    }

    #[test]
    fn a_small_window_is_shown_whole() {
        assert_eq!(
            select_lines(&lines(5), 10, &[], &[], None, 30),
            vec![10, 11, 12, 13, 14]
        );
    }

    #[test]
    fn a_big_window_keeps_evidence_then_errors_then_the_end() {
        let mut l = lines(100);
        l[3] = "ERROR disk failed".into();
        l[50] = "WARN slow".into();
        let shown = select_lines(&l, 1, &[20], &[30, 20], None, 5);
        // evidence 20, symptom 30, error at line 4, warning at line 51, then the last line (100).
        assert_eq!(shown, vec![4, 20, 30, 51, 100]);
        // Out-of-window numbers are ignored.
        let shown = select_lines(&l, 1, &[500], &[], None, 3);
        assert_eq!(shown, vec![4, 51, 100]);
    }

    #[test]
    fn headers_are_compacted_and_labels_dropped() {
        let bgl = format::by_name("BGL");
        let line = "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt";
        let c = format::compact(line, bgl);
        assert!(!c.contains("KERNDTLB"), "{c}");
        assert!(c.ends_with("FATAL KERNEL: data TLB error interrupt"), "{c}");
        assert_eq!(format::compact("free text", None), "free text");
    }

    #[test]
    fn repeats_of_a_message_are_listed_by_number_under_its_first_line() {
        let lines: Vec<String> = [
            "lost heartbeat from 10.251.71.193:50010",
            "blockMap updated: 10.251.71.193:50010 is removed from blk_1599185764692200731 size 18160089",
            "blockMap updated: 10.251.71.193:50010 is removed from blk_6714789836046985074 size 67108864",
            "blockMap updated: 10.251.71.193:50010 is removed from blk_-3892939858112044922 size 67108864",
            "blockMap updated: 10.251.71.193:50010 is removed from blk_-3546916091382386715 size 67108864",
            "ask 10.250.83.153:50010 to replicate blk_1599185764692200731 to datanode(s) 10.250.196.215:50010",
            "blockMap updated: 10.251.71.193:50010 is removed from blk_986674621288109970 size 67108864",
            "blockMap updated: 10.251.71.193:50010 is removed from blk_-4184996341622903007 size 67108864",
        ]
        .map(String::from)
        .to_vec();
        let shown: Vec<usize> = (10..18).collect();
        let r = |like, lines: &[usize]| Shown::Repeats {
            like,
            lines: lines.to_vec(),
        };
        let w = Shown::Whole;
        assert_eq!(
            collapsed(&lines, 10, &shown, &[], None),
            [w(10), w(11), r(11, &[12, 13, 14]), w(15), r(11, &[16, 17])]
        );
        // A cited repeat is written out (up to two lines per message), and ends the run.
        assert_eq!(
            collapsed(&lines, 10, &shown, &[13, 14, 16], None),
            [
                w(10),
                w(11),
                r(11, &[12]),
                w(13),
                r(11, &[14]),
                w(15),
                r(11, &[16, 17])
            ]
        );
        let chat = plain_chat(&lines, 10, &shown, PromptLimits::default());
        let user = &chat[1].content;
        assert!(
            user.contains("8 of 8 lines shown, 5 of them listed by number"),
            "{user}"
        );
        assert!(
            user.contains("\n12-14: same message as line 11\n"),
            "{user}"
        );
        assert!(
            user.contains("\n16, 17: same message as line 11\n"),
            "{user}"
        );
        assert!(!user.contains("blk_-3892939858112044922"), "{user}");
        // Collapsing can be turned off.
        let limits = PromptLimits {
            collapse_repeats: false,
            ..PromptLimits::default()
        };
        let whole = plain_chat(&lines, 10, &shown, limits);
        assert!(whole[1].content.contains("blk_-3892939858112044922"));
        assert!(!whole[1].content.contains("same message"));
    }

    #[test]
    fn line_numbers_are_listed_as_runs() {
        assert_eq!(number_list(&[1, 2, 3, 5, 7, 8, 10]), "1-3, 5, 7, 8, 10");
        assert_eq!(number_list(&[]), "");
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        assert_eq!(cut("ééééé", 3), "ééé…");
        assert_eq!(cut("abc", 3), "abc");
    }

    #[test]
    fn a_prompt_is_cut_into_its_parts_by_their_headings() {
        let lines = lines(3);
        let shown = [1, 2, 3];
        let chat = messages(&PromptParts {
            chart: None,
            walk: None,
            burst: None,
            novel: &[2],
            surges: &[],
            lines: &lines,
            first_line: 1,
            shown: &shown,
            cited: &[],
            question: DEFAULT_QUESTION,
            limits: PromptLimits::default(),
            format: None,
        });
        let parts = parts(&chat);
        let names: Vec<&str> = parts.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "system message",
                "new messages",
                "the log lines",
                "the question and answer format"
            ]
        );
        // The parts are the whole chat, nothing lost or counted twice.
        let joined: String = parts[1..].iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(joined, chat[1].content);
    }
}
