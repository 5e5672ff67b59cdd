//! The labeler's loop: time from a key press on the Label screen to the next pair drawn, including
//! the durable write (a sled transaction and flush) and a full render.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use logreasoner_core::store::{ReviewStatus, Solution, StoreError, Task, TaskInstance};
use logreasoner_tui::keys::press_char;
use logreasoner_tui::screens::label::LabelScreen;
use logreasoner_tui::screens::{Ctx, Screen};

/// Per-label latencies, sorted.
pub struct LabelReport {
    pub pairs: usize,
    pub latencies: Vec<Duration>,
}

impl LabelReport {
    pub fn quantile(&self, q: f64) -> Duration {
        let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }
}

/// Seeds `pairs` instances with two solutions each into `ctx.store`, then labels them all.
pub fn measure(ctx: &mut Ctx, pairs: usize) -> Result<LabelReport, String> {
    seed(ctx, pairs).map_err(|e| e.to_string())?;
    label_all(ctx, pairs)
}

fn seed(ctx: &mut Ctx, pairs: usize) -> Result<(), StoreError> {
    for n in 0..pairs {
        let input: Vec<String> = (0..8)
            .map(|k| format!("2005-06-03-15.42.{k:02} R02-M1-N{n}-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected"))
            .collect();
        let mut i = TaskInstance {
            id: 0,
            task: Task::AnomalyDetection,
            system: "BGL".into(),
            instruction: "Is the window abnormal?".into(),
            content_hash: TaskInstance::hash(Task::AnomalyDetection, &n.to_string(), &input),
            input,
            gold: "normal".into(),
            source: "bench".into(),
            params: BTreeMap::new(),
            created_at: 0,
        };
        ctx.store.insert_instance(&mut i)?;
        for answer in ["normal", "abnormal"] {
            let mut s = Solution {
                id: 0,
                instance_id: i.id,
                thought_id: None,
                text: format!("1. Lines 1-8 are corrected parity errors, routine on BG/L.\n2. No FATAL line.\nAnswer: {answer}"),
                answer: Some(answer.into()),
                score: None,
                correct: None,
                model: "bench".into(),
                status: ReviewStatus::Pending,
                diagnosis: None,
                created_at: 0,
            };
            ctx.store.insert(&mut s)?;
        }
    }
    Ok(())
}

fn label_all(ctx: &mut Ctx, pairs: usize) -> Result<LabelReport, String> {
    let mut screen = LabelScreen::default();
    screen.start(ctx);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).map_err(|e| e.to_string())?;
    let mut latencies = Vec::with_capacity(pairs);
    for n in 0..pairs {
        let key = if n % 2 == 0 { '1' } else { '2' };
        let start = Instant::now();
        let ev = press_char(key);
        if let Some(cmd) = logreasoner_tui::keys::lookup(screen.bindings(), &ev) {
            screen.run(cmd, ev, ctx);
        }
        let _ = terminal.draw(|f| screen.render(f, f.area(), ctx));
        latencies.push(start.elapsed());
    }
    latencies.sort();
    Ok(LabelReport { pairs, latencies })
}
