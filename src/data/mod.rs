//! The reasoning data: importing task instances, exporting SFT and DPO datasets, secret redaction,
//! and annotator agreement.

pub mod import;
