//! The reasoning data: importing task instances, exporting SFT and DPO datasets, secret redaction,
//! and annotator agreement.

pub mod agreement;
pub mod export;
pub mod import;
pub mod labeling;
pub mod labels;
pub mod preferences;
pub mod redact;
