//! `benchmark`, the reproducible benchmark appliance.
//!
//! The pipeline ([`pipeline`]), one way: suite file → validated plan ([`suite`]) →
//! [`runner`] (which drives [`measure`] and emits [`event`]s to reporters) → summary
//! ([`summary`], pure) → receipts ([`receipt`]) → reporters ([`report`], pure) → exit code
//! ([`error::ExitKind`]). [`measure`] stands apart: it never imports the runner or the
//! reporters; the runner and the reporters do not import each other.

pub mod app;
pub mod compare;
pub mod control;
pub mod docker;
pub mod entrypoint;
pub mod error;
pub mod event;
pub mod format;
pub mod import;
pub mod load;
pub mod measure;
pub mod pipeline;
#[cfg(test)]
mod proptest_config;
pub mod receipt;
pub mod report;
pub mod runner;
pub mod stats;
pub mod suite;
pub mod summary;
pub mod verdict;
pub mod workload;
