//! The terminal UI: a thin layer over the core. The event loop polls keys, drains the app's event
//! queue (jobs, the model, the log follower, screens' shared changes) and redraws; it never waits on slow work. The terminal is restored on every way out: normal quit,
//! an error, a panic (panic hook), and SIGTERM/SIGINT/SIGHUP (a flag the loop checks, with a
//! watchdog for when the loop cannot: see `spawn_exit_watchdog`).

#![forbid(unsafe_code)]

pub mod app;
pub mod ctx;
pub mod events;
pub mod input;
pub mod jobs;
pub mod keys;
pub mod pane;
pub mod screens;
pub mod textarea;

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;

pub use app::App;

/// How the TUI should run; `panic_after_first_frame` exists to test the panic path end to end.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunOptions {
    pub panic_after_first_frame: bool,
}

/// Puts the terminal back: cooked mode, main screen, visible cursor. Safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

/// Owns the terminal while the TUI runs; dropping it restores the terminal.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, cursor::Hide) {
            restore_terminal();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Restores the terminal before the default hook prints the panic, so the message is readable.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            tracing::error!(panic = %info, "panic");
            previous(info);
        }));
    });
}

/// Runs the TUI until the user quits or a termination signal arrives.
pub fn run(mut app: App, options: RunOptions) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        // A second signal, arriving while the first is still being handled, ends the process at
        // once: a stuck loop must never make the program unkillable without SIGKILL.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    install_panic_hook();
    let finished = Arc::new(AtomicBool::new(false));
    spawn_exit_watchdog(Arc::clone(&stop), Arc::clone(&finished))?;
    let mut guard = TerminalGuard::enter()?;
    app.start();
    let result = event_loop(&mut guard.terminal, &mut app, &stop, options);
    finished.store(true, Ordering::Relaxed);
    drop(guard);
    if stop.load(Ordering::Relaxed) {
        tracing::info!("stopped by a signal; terminal restored");
    }
    result
}

/// How long the event loop has to wind down after a termination signal.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Ends the process when a termination signal was not followed by the loop's own exit within
/// `EXIT_GRACE`. crossterm's `poll` never returns once its terminal is gone (a hung-up tty reads
/// as end-of-file and it retries at once), so after `tmux kill-session` the loop could not see the
/// flag and spun at full CPU, holding the database lock. Everything the UI saved is already
/// durable (labels and edits are flushed when made), so exiting loses nothing.
fn spawn_exit_watchdog(stop: Arc<AtomicBool>, finished: Arc<AtomicBool>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("exit watchdog".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if finished.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let deadline = Instant::now() + EXIT_GRACE;
            while Instant::now() < deadline {
                if finished.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            tracing::warn!("the event loop did not stop after a termination signal; exiting");
            // Only the terminal mode: the screen may be gone, and writing to it could block.
            let _ = disable_raw_mode();
            std::process::exit(1);
        })?;
    Ok(())
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    stop: &AtomicBool,
    options: RunOptions,
) -> io::Result<()> {
    // Redraw on input, on job news, and at least this often so running jobs show progress.
    const TICK: Duration = Duration::from_millis(250);
    let mut dirty = true;
    let mut last_draw = Instant::now();
    let mut first_frame = true;
    while !app.should_quit() && !stop.load(Ordering::Relaxed) {
        if dirty || last_draw.elapsed() >= TICK {
            terminal.draw(|f| app.render(f))?;
            last_draw = Instant::now();
            dirty = false;
            if first_frame && options.panic_after_first_frame {
                panic!("panic requested with --debug-panic-after-first-frame");
            }
            first_frame = false;
        }
        if event::poll(Duration::from_millis(50))? {
            match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    app.handle_key(key);
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        dirty |= app.pump_events();
    }
    Ok(())
}
