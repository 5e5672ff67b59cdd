//! Feedback on standard error for long commands, from their first second: a [`Spinner`] with
//! elapsed time for the silent stretches (loading a model, a long prompt before its first token)
//! and a [`Bar`] with elapsed time for work in counted steps (items, instances, training steps).
//! Both redraw from their own thread, so the clock runs while one step takes minutes. On a
//! terminal they draw in place; elsewhere (pipes, logs, tests) the spinner is silent and the bar
//! writes a plain line per step.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

/// A running spinner; dropping it stops it and clears its line.
pub struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    /// Shows `label` with a spinner and the seconds since now, until stopped (or nothing, when
    /// standard error is not a terminal).
    pub fn start(label: &str) -> Spinner {
        let label = label.to_string();
        let started = Instant::now();
        Spinner::drawing(std::io::stderr().is_terminal(), move |frame| {
            frame_text(&label, frame, started.elapsed())
        })
    }

    /// Redraws `line(frame)` in place every 120 ms from its own thread while running (when `draw`;
    /// otherwise nothing runs), and erases it when stopped.
    fn drawing(draw: bool, line: impl Fn(usize) -> String + Send + 'static) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        if !draw {
            return Spinner { stop, thread: None };
        }
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut frame = 0;
                let mut width = 0usize;
                while !flag.load(Ordering::Relaxed) {
                    let text = line(frame);
                    // Pad over a longer previous frame.
                    let pad = width.saturating_sub(text.chars().count());
                    width = text.chars().count();
                    let _ = write!(std::io::stderr(), "\r{text}{}", " ".repeat(pad));
                    frame += 1;
                    std::thread::sleep(Duration::from_millis(120));
                }
                // Erase what was drawn, so the output that follows starts on a clean line.
                let _ = write!(std::io::stderr(), "\r{}\r", " ".repeat(width));
            })
            .ok();
        Spinner { stop, thread }
    }

    /// Stops the spinner and clears its line.
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Opens the model `spec` names with a spinner and the elapsed seconds meanwhile (loading a
/// model takes seconds, merging an adapter longer).
pub fn open_model(
    spec: &logreasoner_core::llm::backend::BackendSpec,
    label: &str,
) -> anyhow::Result<logreasoner_core::llm::backend::Backend> {
    let spinner = Spinner::start(&format!("{label}loading the model…"));
    let model = spec.open();
    spinner.stop();
    Ok(model?)
}

/// What a [`Bar`] shows, shared with its drawing thread.
#[derive(Default)]
struct BarState {
    label: String,
    done: usize,
    total: usize,
    detail: String,
}

/// A progress bar with elapsed time; dropping it draws the last state and ends its line.
pub struct Bar {
    state: Arc<Mutex<BarState>>,
    started: Instant,
    ticker: Spinner,
    terminal: bool,
}

impl Bar {
    /// Starts a bar of `total` steps at 0, drawn at once.
    pub fn start(label: &str, total: usize) -> Bar {
        let state = Arc::new(Mutex::new(BarState {
            label: label.to_string(),
            total,
            ..BarState::default()
        }));
        let terminal = std::io::stderr().is_terminal();
        let shared = Arc::clone(&state);
        let started = Instant::now();
        let ticker = Spinner::drawing(terminal, move |frame| {
            let s = shared.lock().unwrap_or_else(|p| p.into_inner());
            bar_text(&s, Some(frame), started.elapsed())
        });
        Bar {
            state,
            started,
            ticker,
            terminal,
        }
    }

    /// Sets the steps done (and the total, which may grow as work is found).
    pub fn set(&self, done: usize, total: usize) {
        let mut s = self.lock();
        s.done = done;
        s.total = total;
        // On a terminal the drawing thread shows it; elsewhere a line per step.
        if !self.terminal {
            eprintln!("{}", bar_text(&s, None, self.started.elapsed()));
        }
    }

    /// Sets the text after the count (a speed, an estimate, the current item).
    pub fn detail(&self, text: &str) {
        self.lock().detail = text.to_string();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BarState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.ticker.finish();
        if self.terminal {
            let line = bar_text(&self.lock(), None, self.started.elapsed());
            eprintln!("{line}");
        }
    }
}

/// `label [########      ] 8/24 · 42 s · detail`, with a spinner frame while running.
fn bar_text(s: &BarState, frame: Option<usize>, elapsed: Duration) -> String {
    const WIDTH: usize = 24;
    // A total of 0 is not known yet (the work is still being found).
    let filled = (s.done * WIDTH)
        .checked_div(s.total)
        .unwrap_or(0)
        .min(WIDTH);
    let total = match s.total {
        0 => "?".to_string(),
        n => n.to_string(),
    };
    let mut line = format!(
        "{} [{}{}] {}/{total} · {} s",
        s.label,
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        s.done,
        elapsed.as_secs()
    );
    if !s.detail.is_empty() {
        line.push_str(" · ");
        line.push_str(&s.detail);
    }
    if let Some(f) = frame {
        line.push(' ');
        line.push(FRAMES[f % FRAMES.len()]);
    }
    line
}

/// One frame: `| reading the prompt… 12 s`.
fn frame_text(label: &str, frame: usize, elapsed: Duration) -> String {
    format!(
        "{} {label} {} s",
        FRAMES[frame % FRAMES.len()],
        elapsed.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_shows_the_label_and_whole_seconds() {
        assert_eq!(
            frame_text("reading the prompt…", 5, Duration::from_millis(12_700)),
            "/ reading the prompt… 12 s"
        );
    }

    #[test]
    fn a_bar_shows_the_count_the_seconds_and_the_detail() {
        let mut s = BarState {
            label: "base".into(),
            done: 6,
            total: 24,
            detail: String::new(),
        };
        assert_eq!(
            bar_text(&s, None, Duration::from_secs(42)),
            "base [######                  ] 6/24 · 42 s"
        );
        s.detail = "eta 120 s".into();
        assert_eq!(
            bar_text(&s, Some(1), Duration::from_millis(999)),
            "base [######                  ] 6/24 · 0 s · eta 120 s /"
        );
        // A total not known yet shows as `?` over an empty bar.
        s.total = 0;
        s.detail.clear();
        assert_eq!(
            bar_text(&s, None, Duration::ZERO),
            format!("base [{}] 6/? · 0 s", " ".repeat(24))
        );
    }

    #[test]
    fn off_a_terminal_it_draws_nothing_and_stops_at_once() {
        // Test output is captured, so standard error is not a terminal here.
        let s = Spinner::start("loading");
        assert_eq!(s.thread.is_some(), std::io::stderr().is_terminal());
        s.stop();
    }
}
