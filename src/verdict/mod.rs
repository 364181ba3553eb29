//! Verdicts: SLO gate expressions over a summary's measures. Pure: no process, clock or
//! file.

pub mod quantity;
pub mod slo;
