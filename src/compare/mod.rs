//! Comparing two summaries (`benchmark compare`, `run --baseline`): what differs between
//! their environments, and per step and measure whether the change is real. Pure.

pub mod env;
