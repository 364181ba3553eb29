//! `benchmark`, the reproducible benchmark appliance.
//!
//! The pipeline: suite file → validated plan ([`suite`]) → [`runner`] (which drives
//! [`measure`]) → receipts ([`receipt`]) → reporters ([`report`]) → verdict ([`error::ExitKind`]).
//! [`measure`] stands apart: it never imports the runner or the reporters.

pub mod app;
pub mod control;
pub mod docker;
pub mod entrypoint;
pub mod error;
pub mod format;
pub mod measure;
pub mod receipt;
pub mod report;
pub mod runner;
pub mod stats;
pub mod suite;
pub mod verdict;
pub mod workload;
