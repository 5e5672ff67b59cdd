//! Benchmarks behind `logreasoner bench …`: accuracy and speed of template mining against the
//! Loghub-2k data and Drain3, and the big-file figures of the log engine. They print tables; none is
//! a timed test.

pub mod bigfile;
pub mod label;
pub mod llm;
pub mod parse;
pub mod train;
