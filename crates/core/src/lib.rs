//! LogReasoner's core: expert troubleshooting flowcharts, logs and their templates, the local model,
//! its training, diagnosis, evaluation and the sled store. Nothing here knows about a terminal or a
//! command line (the crate depends on neither); the TUI (`logreasoner-tui`) and the binary
//! (`logreasoner`) sit on top. See ARCHITECTURE.md.

// `unsafe` only where a module says why (`#![allow(unsafe_code)]` at its top).
#![deny(unsafe_code)]
// Every public item says what it is; clippy runs with `-D warnings`, so a new one must too.
#![warn(missing_docs)]

pub mod answer;
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
