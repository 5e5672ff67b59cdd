//! LogReasoner: expert troubleshooting flowcharts turned into a local model that reasons about logs.
//!
//! The core modules work without a terminal; [`tui`] is a thin layer over them. See ARCHITECTURE.md.

pub mod answer;
pub mod bench;
pub mod config;
pub mod data;
pub mod diagnose;
pub mod eval;
pub mod experiment;
pub mod flowchart;
pub mod fsutil;
pub mod llm;
pub mod logs;
pub mod reasoning;
pub mod safe_text;
pub mod store;
pub mod telemetry;
pub mod template;
pub mod time;
pub mod train;
pub mod tui;

#[cfg(test)]
mod architecture;
