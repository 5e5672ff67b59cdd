//! The integration tests, as one binary: each file was its own test crate, and on two cores
//! linking the whole workspace 22 times dominated an edit-test cycle. Each module is one flow or
//! screen; `common` holds their shared set-up.

mod common;

mod architecture;
mod cli;
mod data_cli;
mod diagnose;
mod diagnose_screen;
mod eval;
mod experiment;
mod flowchart_cli;
mod flowchart_editor;
mod flowchart_library;
mod fuzz;
mod generic_charts;
mod label_screen;
mod layouts;
mod llm;
mod llm_parity;
mod log_formats;
mod logs_screen;
mod mcp;
mod readme_examples;
mod reasoning_flow;
mod remote;
mod review_screens;
mod store_crash;
mod template_accuracy;
mod terminal_restore;
mod train_run;
mod train_screen;
mod tui_shell;
