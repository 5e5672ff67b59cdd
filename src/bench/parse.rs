//! Template-mining accuracy on Loghub-2k and speed against Drain3.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use logreasoner_core::template::loghub::{self, SYSTEMS};
use logreasoner_core::template::metrics::{self, Accuracy};
use logreasoner_core::template::miner::{Miner, MinerConfig};

/// Accuracy of one system.
#[derive(Debug, Clone)]
pub struct SystemAccuracy {
    pub system: &'static str,
    pub accuracy: Accuracy,
    pub generic: Accuracy,
}

/// Mines every system's messages with its own settings and with the generic ones.
pub fn accuracy(root: &Path) -> Result<Vec<SystemAccuracy>, String> {
    SYSTEMS
        .iter()
        .map(|&system| {
            let rows = loghub::read_structured(root, system)?;
            let contents: Vec<&str> = rows.iter().map(|r| r.content.as_str()).collect();
            let truth: Vec<&str> = rows.iter().map(|r| r.template.as_str()).collect();
            let tuned = Miner::mine(MinerConfig::for_system(Some(system)), &contents);
            let generic = Miner::mine(MinerConfig::generic(), &contents);
            Ok(SystemAccuracy {
                system,
                accuracy: metrics::evaluate(&truth, &tuned),
                generic: metrics::evaluate(&truth, &generic),
            })
        })
        .collect()
}

/// The mean of each metric over the 14 Loghub-2.0 systems.
pub fn average(rows: &[SystemAccuracy], pick: impl Fn(&SystemAccuracy) -> Accuracy) -> Accuracy {
    let chosen: Vec<Accuracy> = rows
        .iter()
        .filter(|r| loghub::in_loghub2(r.system))
        .map(pick)
        .collect();
    let n = chosen.len().max(1) as f64;
    Accuracy {
        ga: chosen.iter().map(|a| a.ga).sum::<f64>() / n,
        fga: chosen.iter().map(|a| a.fga).sum::<f64>() / n,
        pa: chosen.iter().map(|a| a.pa).sum::<f64>() / n,
        fta: chosen.iter().map(|a| a.fta).sum::<f64>() / n,
        predicted_templates: chosen.iter().map(|a| a.predicted_templates).sum(),
        truth_templates: chosen.iter().map(|a| a.truth_templates).sum(),
    }
}

pub fn print_accuracy(rows: &[SystemAccuracy], out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<12} {:>6} {:>6} {:>6} {:>6} {:>6}/{:<5} | generic settings: {:>6} {:>6}",
        "system", "GA", "FGA", "PA", "FTA", "#tpl", "truth", "GA", "PA"
    )?;
    let line = |out: &mut dyn Write, name: &str, a: &Accuracy, g: &Accuracy| {
        writeln!(
            out,
            "{name:<12} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6}/{:<5} | {:>24.3} {:>6.3}",
            a.ga, a.fga, a.pa, a.fta, a.predicted_templates, a.truth_templates, g.ga, g.pa
        )
    };
    for r in rows.iter().filter(|r| loghub::in_loghub2(r.system)) {
        line(out, r.system, &r.accuracy, &r.generic)?;
    }
    line(
        out,
        "AVERAGE(14)",
        &average(rows, |r| r.accuracy),
        &average(rows, |r| r.generic),
    )?;
    writeln!(
        out,
        "-- not in the Loghub-2.0 average (Android and Windows use the generic settings):"
    )?;
    for r in rows.iter().filter(|r| !loghub::in_loghub2(r.system)) {
        line(out, r.system, &r.accuracy, &r.generic)?;
    }
    writeln!(out, "Drain's published averages on the same corrected data: GA 0.85, FGA 0.74, PA 0.32, FTA 0.28.")
}

/// A small deterministic generator (xorshift64*), so inputs are the same on every run.
pub struct Digits(u64);

impl Digits {
    pub fn new(seed: u64) -> Self {
        Digits(seed.max(1))
    }

    pub fn draw(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `text` with every digit replaced by a random digit.
    pub fn scramble(&mut self, text: &str) -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    char::from(b'0' + (self.draw() % 10) as u8)
                } else {
                    c
                }
            })
            .collect()
    }
}

/// The speed input: the messages of all 16 systems, repeated to at least `lines` lines with every
/// digit re-drawn, so no line repeats and no exact-line cache can help.
pub fn speed_input(root: &Path, lines: usize) -> Result<Vec<String>, String> {
    let mut base = Vec::new();
    for system in SYSTEMS {
        base.extend(
            loghub::read_structured(root, system)?
                .into_iter()
                .map(|r| r.content.replace(['\n', '\r'], " ")),
        );
    }
    let mut rng = Digits::new(0x5EED);
    let mut out = Vec::with_capacity(lines);
    while out.len() < lines {
        out.extend(base.iter().map(|l| rng.scramble(l)));
    }
    Ok(out)
}

/// Lines per second of our miner over `input` with `threads` threads (1 = the plain online miner).
pub fn our_speed(input: &[String], threads: usize) -> (f64, usize) {
    let start = Instant::now();
    // Like Drain3's, the result is each line's cluster, not a copy of its template per line.
    let mined =
        logreasoner_core::template::parallel::mine_ids(MinerConfig::generic(), input, threads);
    let secs = start.elapsed().as_secs_f64();
    let distinct = {
        let mut t: Vec<&String> = mined.templates.iter().collect();
        t.sort();
        t.dedup();
        t.len()
    };
    (input.len() as f64 / secs, distinct)
}

/// Runs Drain3 (pip package `drain3`) over the same input with the same masks.
pub fn drain3_speed(input_file: &Path, script: &Path) -> Result<(f64, usize), String> {
    let masks = serde_json::to_string(&MinerConfig::generic().mask_patterns())
        .map_err(|e| e.to_string())?;
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(input_file)
        .arg(masks)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "Drain3 failed ({}); install it with `pip install drain3`:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected Drain3 output: {e}"))?;
    let lines = v["lines"].as_f64().unwrap_or(0.0);
    let secs = v["seconds"].as_f64().unwrap_or(f64::INFINITY);
    Ok((lines / secs, v["clusters"].as_u64().unwrap_or(0) as usize))
}

/// Where the Drain3 script lives.
pub fn drain3_script() -> PathBuf {
    logreasoner_core::config::bundled("benches/drain3_speed.py")
}
