//! Log lines: headers (timestamps) and the facts about a window of lines that the rest of the core needs.

pub mod file;
pub mod timestamp;
