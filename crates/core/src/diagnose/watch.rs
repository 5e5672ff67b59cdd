//! The follow-mode watch: fire a diagnosis when an error burst appears in the lines arriving, at most
//! once per interval, so a noisy log cannot queue diagnosis after diagnosis.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::logs::format::{self, Format, Level};

/// When the watch fires: how dense an error burst must be, and how often it may fire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WatchSettings {
    /// A burst is at least this many error lines…
    pub burst_errors: usize,
    /// …among this many most recent lines.
    pub burst_lines: usize,
    /// And no burst fires sooner than this after the previous one.
    pub min_interval: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            burst_errors: 5,
            burst_lines: 50,
            min_interval: Duration::from_secs(60),
        }
    }
}

impl From<&crate::config::DiagnosisSettings> for WatchSettings {
    fn from(d: &crate::config::DiagnosisSettings) -> Self {
        WatchSettings {
            burst_errors: d.burst_errors,
            burst_lines: d.burst_lines,
            min_interval: Duration::from_secs(d.min_interval_secs),
        }
    }
}

/// The burst detector over the lines arriving in follow mode.
#[derive(Debug, Clone)]
pub struct Watch {
    settings: WatchSettings,
    recent: VecDeque<bool>,
    errors: usize,
    last_fired: Option<Instant>,
}

impl Watch {
    /// A watch that has seen no lines yet.
    pub fn new(settings: WatchSettings) -> Watch {
        Watch {
            settings,
            recent: VecDeque::with_capacity(settings.burst_lines + 1),
            errors: 0,
            last_fired: None,
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> WatchSettings {
        self.settings
    }

    /// Feeds one arriving line; true when it completes a burst that may fire now. Firing clears the
    /// recent lines, so one burst fires once.
    pub fn observe(&mut self, line: &str, fmt: Option<&Format>, now: Instant) -> bool {
        let is_error = format::parse_line(fmt, line)
            .level
            .is_some_and(|l| l >= Level::Error);
        self.recent.push_back(is_error);
        self.errors += usize::from(is_error);
        if self.recent.len() > self.settings.burst_lines.max(1)
            && self.recent.pop_front() == Some(true)
        {
            self.errors -= 1;
        }
        let burst = self.errors >= self.settings.burst_errors.max(1);
        let rested = self
            .last_fired
            .is_none_or(|t| now.duration_since(t) >= self.settings.min_interval);
        if burst && rested {
            self.last_fired = Some(now);
            self.recent.clear();
            self.errors = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_fires_once_and_then_rests() {
        let settings = WatchSettings {
            burst_errors: 3,
            burst_lines: 5,
            min_interval: Duration::from_secs(60),
        };
        let mut w = Watch::new(settings);
        let t0 = Instant::now();
        let feed = |w: &mut Watch, line: &str, t: Instant| w.observe(line, None, t);
        // Errors spread wider than the burst span never fire.
        for i in 0..20 {
            let line = if i % 3 == 0 { "ERROR x" } else { "all good" };
            assert!(!feed(&mut w, line, t0), "line {i}");
        }
        for _ in 0..5 {
            assert!(!feed(&mut w, "all good", t0));
        }
        // Three errors close together fire once.
        assert!(!feed(&mut w, "ERROR a", t0));
        assert!(!feed(&mut w, "ERROR b", t0));
        assert!(feed(&mut w, "ERROR c", t0));
        // Another burst within the interval is held back…
        for _ in 0..3 {
            assert!(!feed(&mut w, "ERROR d", t0 + Duration::from_secs(10)));
        }
        // …and fires once the interval has passed.
        assert!(feed(&mut w, "ERROR e", t0 + Duration::from_secs(61)));
    }
}
