//! A spinner with elapsed time on standard error, for the silent stretches of long commands (a
//! model reading a long prompt before its first token). It draws only when standard error is a
//! terminal, so pipes, logs and tests see nothing of it, and it erases itself when stopped.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
        let stop = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Spinner { stop, thread: None };
        }
        let label = label.to_string();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("spinner".into())
            .spawn(move || {
                let started = Instant::now();
                let mut frame = 0;
                while !flag.load(Ordering::Relaxed) {
                    let line = frame_text(&label, frame, started.elapsed());
                    let _ = write!(std::io::stderr(), "\r{line}");
                    frame += 1;
                    std::thread::sleep(Duration::from_millis(120));
                }
                // Erase what was drawn, so the output that follows starts on a clean line.
                let width = frame_text(&label, 0, started.elapsed()).chars().count();
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
    fn off_a_terminal_it_draws_nothing_and_stops_at_once() {
        // Test output is captured, so standard error is not a terminal here.
        let s = Spinner::start("loading");
        assert_eq!(s.thread.is_some(), std::io::stderr().is_terminal());
        s.stop();
    }
}
