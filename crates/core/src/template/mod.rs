//! Template mining: turning raw log messages into templates with `<*>` for variables, and measuring
//! how well that matches a ground truth.

pub mod loghub;
pub mod metrics;
pub mod miner;
pub mod parallel;
