//! The system's history as a teacher: how the training windows that showed the same messages were
//! labelled. A severity reading calls every FATAL line a failure, yet BGL labels many FATAL job
//! messages routine; an expert knows which messages are routine on their system, and this reading
//! says so from the labelled windows, never from the item's own label (each window leaves itself,
//! and its copies, out).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::eval::data::Item;
use crate::logs::format;
use crate::store::Task;

/// Fewest other windows a message must have appeared in before its record counts.
pub const MIN_WINDOWS: u32 = 3;

/// How many distinct training windows showed a message, by label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    normal: u32,
    abnormal: u32,
}

impl Tally {
    fn total(self) -> u32 {
        self.normal + self.abnormal
    }

    fn abnormal_share(self) -> f64 {
        f64::from(self.abnormal) / f64::from(self.total().max(1))
    }

    fn without(self, abnormal: bool) -> Tally {
        Tally {
            normal: self.normal - u32::from(!abnormal),
            abnormal: self.abnormal - u32::from(abnormal),
        }
    }
}

/// The labelled anomaly-detection windows of a training split, by message.
#[derive(Debug, Clone, Default)]
pub struct Precedents {
    seen: HashMap<String, Tally>,
    /// Each distinct window counted (by its lines) with its label, so it can leave itself out.
    windows: HashMap<u64, bool>,
}

/// What the history says about a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Whether a message of the window came mostly in alert windows (more than half).
    pub abnormal: bool,
    /// The 1-based line the judgement rests on: the message most often seen in alerts.
    pub line: usize,
}

impl Precedents {
    /// Counts the distinct anomaly-detection windows among `items` (a window repeated to balance
    /// the labels counts once) under each message they show.
    pub fn from_items(items: &[Item]) -> Precedents {
        let mut p = Precedents::default();
        for item in items.iter().filter(|i| i.task == Task::AnomalyDetection) {
            let Some(abnormal) = crate::answer::gold_binary(item.task, &item.gold) else {
                continue;
            };
            // A copy counts once, under the label it was first counted with (leaving it out
            // subtracts that same label).
            match p.windows.entry(window_hash(item)) {
                std::collections::hash_map::Entry::Occupied(_) => continue,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(abnormal);
                }
            }
            for key in message_keys(item, format::detect(&item.input)).into_keys() {
                let t = p.seen.entry(key).or_default();
                t.abnormal += u32::from(abnormal);
                t.normal += u32::from(!abnormal);
            }
        }
        p
    }

    /// The history's reading of an anomaly-detection window, leaving the window itself out (a
    /// message counts once seen in [`MIN_WINDOWS`] other windows): abnormal where one of its
    /// messages came mostly (more than half) in alert windows (the most alert-prone one is cited); normal where none did
    /// and the message of line `anchor` (1-based: the line a reader would worry about, its most
    /// severe) is known, citing it; `None` where the history does not know enough.
    pub fn judge(&self, item: &Item, anchor: usize) -> Option<Judgement> {
        if item.task != Task::AnomalyDetection {
            return None;
        }
        let own = self.windows.get(&window_hash(item)).copied();
        let fmt = format::detect(&item.input);
        let anchor_key = anchor
            .checked_sub(1)
            .and_then(|i| item.input.get(i))
            .map(|l| message_key(format::parse_line(fmt, l).content));
        let mut anchor_known = false;
        let mut worst: Option<(f64, usize)> = None;
        let mut keys: Vec<(String, usize)> = message_keys(item, fmt).into_iter().collect();
        keys.sort_by_key(|(_, line)| *line);
        for (key, line) in keys {
            let tally = self.seen.get(&key).copied().unwrap_or_default();
            let tally = match own {
                Some(abnormal) => tally.without(abnormal),
                None => tally,
            };
            if tally.total() < MIN_WINDOWS {
                continue;
            }
            anchor_known |= anchor_key.as_ref() == Some(&key);
            let share = tally.abnormal_share();
            if worst.is_none_or(|(w, _)| share > w) {
                worst = Some((share, line));
            }
        }
        match worst? {
            (share, line) if share > 0.5 => Some(Judgement {
                abnormal: true,
                line,
            }),
            _ => anchor_known.then_some(Judgement {
                abnormal: false,
                line: anchor,
            }),
        }
    }
}

/// Each message of the window (a line's text after its header, numbers masked) with the first
/// line that shows it.
fn message_keys(item: &Item, fmt: Option<&format::Format>) -> HashMap<String, usize> {
    let mut keys = HashMap::new();
    for (i, line) in item.input.iter().enumerate() {
        keys.entry(message_key(format::parse_line(fmt, line).content))
            .or_insert(i + 1);
    }
    keys
}

/// A message with its variable parts masked: any word holding a digit becomes `<*>` (ids, counts,
/// addresses, times), and the first twelve words say which message it is.
pub fn message_key(content: &str) -> String {
    let mut words: Vec<&str> = Vec::new();
    for word in content.split_whitespace() {
        let masked = if word.bytes().any(|b| b.is_ascii_digit()) {
            "<*>"
        } else {
            word
        };
        if !(masked == "<*>" && words.last() == Some(&"<*>")) {
            words.push(masked);
        }
        if words.len() == 12 {
            break;
        }
    }
    words.join(" ")
}

/// The system's history line by line: how often the training lines showing each message were
/// alerts. Loghub labels BGL line by line, and a window is abnormal when any line is an alert; a
/// window's label cannot say which of its lines was the alert, so [`Precedents`] blames every
/// message of an abnormal window alike (BGL's routine `ciod: Error loading` FATAL lines came in
/// 8 alert windows of 18). The line labels say it exactly: those lines were never alerts.
#[derive(Debug, Clone, Default)]
pub struct LineHistory {
    seen: HashMap<String, Tally>,
    /// Each training line's label and the message it was counted under, by its whole text, so
    /// a window leaves all its own lines out.
    own: HashMap<String, (bool, String)>,
}

impl LineHistory {
    /// Counts `lines` (each with whether it was an alert, and its text without the label) under
    /// their messages.
    pub fn from_lines(lines: &[(bool, String)]) -> LineHistory {
        let mut h = LineHistory::default();
        let sample: Vec<&str> = lines.iter().take(64).map(|(_, l)| l.as_str()).collect();
        let fmt = format::detect(&sample);
        for (alert, line) in lines {
            let key = message_key(format::parse_line(fmt, line).content);
            let t = h.seen.entry(key.clone()).or_default();
            t.abnormal += u32::from(*alert);
            t.normal += u32::from(!*alert);
            h.own.insert(line.clone(), (*alert, key));
        }
        h
    }

    /// The line labels' reading of an anomaly-detection window, all of its own lines left out
    /// (a message counts once [`MIN_WINDOWS`] lines of other windows showed it): abnormal where a line's
    /// message was mostly an alert (the most alert-prone line is cited); normal where none was
    /// and every line at error level or worse shows a known message (the first such line, else
    /// `anchor`, is cited); `None` where a severe line's message is unknown or nothing is known.
    pub fn judge(&self, item: &Item, anchor: usize) -> Option<Judgement> {
        if item.task != Task::AnomalyDetection || self.seen.is_empty() {
            return None;
        }
        let fmt = format::detect(&item.input);
        // A training window's lines, each under the message it was counted as: a burst of one
        // alert message inside the window must not vouch for itself.
        let mut mine: HashMap<&str, Tally> = HashMap::new();
        for (alert, key) in item.input.iter().filter_map(|l| self.own.get(l.as_str())) {
            let t = mine.entry(key.as_str()).or_default();
            t.abnormal += u32::from(*alert);
            t.normal += u32::from(!*alert);
        }
        let mut worst: Option<(f64, usize)> = None;
        let mut severe_unknown = false;
        let mut first_severe = None;
        let mut any_known = false;
        for (i, line) in item.input.iter().enumerate() {
            let parsed = format::parse_line(fmt, line);
            let severe = parsed.level.is_some_and(|l| l >= format::Level::Error);
            let key = match self.own.get(line.as_str()) {
                Some((_, counted)) => counted.clone(),
                None => message_key(parsed.content),
            };
            let seen = self.seen.get(&key).copied().unwrap_or_default();
            let own = mine.get(key.as_str()).copied().unwrap_or_default();
            let tally = Tally {
                normal: seen.normal.saturating_sub(own.normal),
                abnormal: seen.abnormal.saturating_sub(own.abnormal),
            };
            if tally.total() < MIN_WINDOWS {
                severe_unknown |= severe;
                continue;
            }
            any_known = true;
            if severe && first_severe.is_none() {
                first_severe = Some(i + 1);
            }
            let share = tally.abnormal_share();
            if worst.is_none_or(|(w, _)| share > w) {
                worst = Some((share, i + 1));
            }
        }
        match worst {
            Some((share, line)) if share > 0.5 => Some(Judgement {
                abnormal: true,
                line,
            }),
            _ if severe_unknown || !any_known => None,
            _ => Some(Judgement {
                abnormal: false,
                line: first_severe.unwrap_or(anchor),
            }),
        }
    }
}

fn window_hash(item: &Item) -> u64 {
    let mut h = DefaultHasher::new();
    item.input.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal_at(line: usize) -> Option<Judgement> {
        Some(Judgement {
            abnormal: false,
            line,
        })
    }

    fn abnormal_at(line: usize) -> Option<Judgement> {
        Some(Judgement {
            abnormal: true,
            line,
        })
    }

    fn item(lines: &[&str], gold: &str) -> Item {
        Item {
            line: 1,
            task: Task::AnomalyDetection,
            system: "BGL".into(),
            instruction: String::new(),
            input: lines.iter().map(|s| s.to_string()).collect(),
            gold: gold.into(),
            category: None,
            kind: None,
        }
    }

    #[test]
    fn numbers_are_masked_so_one_message_has_one_key() {
        assert_eq!(
            message_key("generating core.6884"),
            message_key("generating core.12")
        );
        assert_eq!(
            message_key("ciod: LOGIN chdir(/home/u12) failed: No such file or directory"),
            "ciod: LOGIN <*> failed: No such file or directory"
        );
        // The first twelve words name the message.
        assert_eq!(
            message_key(&"word ".repeat(40)),
            "word ".repeat(12).trim_end()
        );
        assert_ne!(message_key("link up"), message_key("link down"));
    }

    #[test]
    fn a_routine_fatal_message_reads_normal_and_an_alert_message_abnormal() {
        let routine = "FATAL ciod: LOGIN chdir(/home/u{}) failed";
        let alert = "FATAL machine check interrupt 0x{}";
        let mut items = Vec::new();
        for n in 0..4 {
            items.push(item(&[&routine.replace("{}", &n.to_string())], "normal"));
            items.push(item(&[&alert.replace("{}", &n.to_string())], "abnormal"));
        }
        let p = Precedents::from_items(&items);
        let seen_routine = item(&["FATAL ciod: LOGIN chdir(/home/u99) failed"], "abnormal");
        assert_eq!(p.judge(&seen_routine, 1), normal_at(1));
        let mixed = item(
            &[
                "FATAL ciod: LOGIN chdir(/home/u7) failed",
                "FATAL machine check interrupt 0x9",
            ],
            "normal",
        );
        assert_eq!(p.judge(&mixed, 1), abnormal_at(2));
        // Normal rests on the anchor's message: one the history has not seen enough leaves it
        // unproven, whatever the other lines.
        let unknown = item(
            &[
                "FATAL ciod: LOGIN chdir(/home/u7) failed",
                "FATAL never seen before",
            ],
            "normal",
        );
        assert_eq!(p.judge(&unknown, 2), None);
        assert_eq!(p.judge(&unknown, 1), normal_at(1));
    }

    /// Windows blame every message of an alert window alike; line labels blame the alert line.
    #[test]
    fn line_labels_tell_a_routine_fatal_line_beside_an_alert_from_the_alert() {
        let routine = |n: usize| format!("RAS APP FATAL ciod: Error loading /home/u{n}/a.out");
        let alert = |n: usize| format!("RAS KERNEL FATAL data TLB error interrupt 0x{n}");
        let mut lines = Vec::new();
        let mut windows = Vec::new();
        for n in 0..4 {
            // The routine line comes beside an alert in four windows, alone in two.
            lines.extend([(false, routine(n)), (true, alert(n))]);
            windows.push(item(&[&routine(n), &alert(n)], "abnormal"));
            if n < 2 {
                lines.push((false, routine(n + 10)));
                windows.push(item(&[&routine(n + 10)], "normal"));
            }
        }
        let history = LineHistory::from_lines(&lines);
        let fresh = item(&[&routine(99)], "normal");
        assert_eq!(history.judge(&fresh, 1), normal_at(1));
        // The windows' history blames it: it came in 4 alert windows of 6.
        assert_eq!(
            Precedents::from_items(&windows).judge(&fresh, 1),
            abnormal_at(1)
        );
        let mixed = item(
            &["RAS KERNEL INFO quiet", &routine(98), &alert(98)],
            "abnormal",
        );
        assert_eq!(history.judge(&mixed, 2), abnormal_at(3));
        // A severe line whose message the lines never showed leaves the reading unproven.
        let unknown = item(&[&routine(97), "RAS KERNEL FATAL never seen"], "abnormal");
        assert_eq!(history.judge(&unknown, 1), None);
        // A training line leaves itself out: the alert message seen 4 times counts 3 for one of
        // its own lines, still enough; a message seen once counts nothing for its own line.
        let own = item(&[&alert(0)], "abnormal");
        assert_eq!(history.judge(&own, 1), abnormal_at(1));
        let once = LineHistory::from_lines(&[(true, alert(0))]);
        assert_eq!(once.judge(&own, 1), None);
        // A window leaves all its lines out: a burst of three alerts of one message inside it
        // is not three other lines.
        let burst: Vec<(bool, String)> = (0..3).map(|n| (true, alert(50 + n))).collect();
        let bursty = LineHistory::from_lines(&burst);
        let window = item(&[&alert(50), &alert(51), &alert(52)], "abnormal");
        assert_eq!(bursty.judge(&window, 1), None);
        assert_eq!(
            bursty.judge(&item(&[&alert(60)], "abnormal"), 1),
            abnormal_at(1)
        );
    }

    /// A window's own label (and its copies', which balancing adds) never vouches for it.
    #[test]
    fn a_window_leaves_itself_and_its_copies_out() {
        let lonely = item(&["rare message"], "abnormal");
        let mut items = vec![lonely.clone(), lonely.clone(), lonely.clone()];
        for n in 0..3 {
            items.push(item(&[&format!("rare message {n}")], "normal"));
        }
        let p = Precedents::from_items(&items);
        // "rare message" appears in one distinct abnormal window: itself. The others are another
        // message ("rare message <*>").
        assert_eq!(p.judge(&lonely, 1), None);
        let other = item(&["rare message 5"], "abnormal");
        assert_eq!(p.judge(&other, 1), normal_at(1));
        // A copy with the other label counts under the first one, and leaving the window out
        // subtracts that same label.
        let mut relabelled = items.clone();
        relabelled.push(item(&["rare message 0"], "abnormal"));
        let p = Precedents::from_items(&relabelled);
        assert_eq!(p.judge(&item(&["rare message 0"], "normal"), 1), None);
        assert_eq!(p.judge(&other, 1), normal_at(1));
        // Out of the training split (a dev item), nothing is subtracted.
        let two = Precedents::from_items(&items[..1]);
        assert_eq!(two.judge(&item(&["rare message"], "normal"), 1), None);
    }
}
