//! The log engine on a big file: time to the first screen, time to scroll a page, index memory.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::Terminal;

use super::parse::Digits;
use logreasoner_core::logs::index::LogFile;
use logreasoner_core::logs::source::LogSource;
use logreasoner_tui::keys::press;
use logreasoner_tui::screens::logs::LogsScreen;
use logreasoner_tui::screens::Screen;

#[derive(Debug, Clone)]
pub struct BigFileReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub lines: usize,
    pub index_one_thread: Duration,
    pub index_all_threads: Duration,
    pub threads: usize,
    pub first_screen: Duration,
    pub page_scroll_median: Duration,
    pub page_scroll_worst: Duration,
    pub index_bytes: usize,
}

/// Writes a log of at least `bytes` bytes: the bundled samples' lines over and over, digits re-drawn.
pub fn generate(path: &Path, bytes: u64, samples: &Path) -> std::io::Result<()> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(samples)? {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "log") {
            lines.extend(
                String::from_utf8_lossy(&std::fs::read(&p)?)
                    .lines()
                    .map(str::to_string),
            );
        }
    }
    if lines.is_empty() {
        return Err(std::io::Error::other(format!(
            "no sample logs in {}",
            samples.display()
        )));
    }
    lines.sort();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut rng = Digits::new(7);
    let mut written = 0u64;
    while written < bytes {
        for l in &lines {
            let l = rng.scramble(l);
            out.write_all(l.as_bytes())?;
            out.write_all(b"\n")?;
            written += l.len() as u64 + 1;
        }
    }
    out.flush()
}

fn render(
    screen: &mut LogsScreen,
    terminal: &mut Terminal<TestBackend>,
    ctx: &logreasoner_tui::screens::Ctx,
) {
    // Drawing to the test backend cannot fail.
    let Ok(_) = terminal.draw(|f| {
        let area = f.area();
        screen.render(f, area, ctx);
    });
}

/// Measures on `path`: index build with one thread and with all, the first screen (open, index,
/// detect the format, draw a 200×50 page with highlighting), and paging down 100 times.
pub fn measure(
    path: &Path,
    ctx: &mut logreasoner_tui::screens::Ctx,
) -> std::io::Result<BigFileReport> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = Instant::now();
    let one = LogFile::open(path, 1).map_err(std::io::Error::other)?;
    let index_one_thread = t.elapsed();
    drop(one);
    let t = Instant::now();
    let all = LogFile::open(path, threads).map_err(std::io::Error::other)?;
    let index_all_threads = t.elapsed();
    let (lines, index_bytes) = (all.len(), all.index_bytes());
    drop(all);

    let Ok(mut terminal) = Terminal::new(TestBackend::new(200, 50));
    let t = Instant::now();
    let mut source = LogSource::open(path, None).map_err(std::io::Error::other)?;
    source.analyse_step(100);
    let mut screen = LogsScreen::with_sources(vec![source]);
    render(&mut screen, &mut terminal, ctx);
    let first_screen = t.elapsed();

    let mut pages = Vec::with_capacity(100);
    for _ in 0..100 {
        let t = Instant::now();
        logreasoner_tui::screens::Component::handle_key(&mut screen, press(KeyCode::PageDown), ctx);
        render(&mut screen, &mut terminal, ctx);
        pages.push(t.elapsed());
    }
    pages.sort();
    Ok(BigFileReport {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path)?.len(),
        lines,
        index_one_thread,
        index_all_threads,
        threads,
        first_screen,
        page_scroll_median: pages[pages.len() / 2],
        page_scroll_worst: pages[pages.len() - 1],
        index_bytes,
    })
}

pub fn print(r: &BigFileReport, out: &mut impl Write) -> std::io::Result<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    writeln!(
        out,
        "file              {} ({:.2} GB, {} lines)",
        r.path.display(),
        r.bytes as f64 / 1e9,
        r.lines
    )?;
    writeln!(out, "index, 1 thread   {:>9.1} ms", ms(r.index_one_thread))?;
    writeln!(
        out,
        "index, {} threads  {:>9.1} ms",
        r.threads,
        ms(r.index_all_threads)
    )?;
    writeln!(
        out,
        "first screen      {:>9.1} ms   (target ≤ 300 ms)",
        ms(r.first_screen)
    )?;
    writeln!(
        out,
        "scroll a page     {:>9.2} ms median, {:.2} ms worst of 100   (target ≤ 16 ms)",
        ms(r.page_scroll_median),
        ms(r.page_scroll_worst)
    )?;
    writeln!(
        out,
        "index memory      {:>9.1} MB = {:.1}% of the file   (target ≤ 10%)",
        r.index_bytes as f64 / 1e6,
        100.0 * r.index_bytes as f64 / r.bytes.max(1) as f64
    )
}
