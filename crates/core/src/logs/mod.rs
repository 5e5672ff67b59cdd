//! Log lines: indexed files, following, headers (timestamp, level, component) and timestamps.

pub mod errors;
pub mod file;
pub mod follow;
pub mod format;
pub mod header;
pub mod highlight;
pub mod index;
pub mod novelty;
pub mod source;
pub mod structured;
pub mod timestamp;
