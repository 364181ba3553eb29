//! The background system sampler: a thread reading /proc (Linux) or sysinfo (elsewhere)
//! at a fixed interval, summarised per window (a step), with its own cost measured.

use std::time::Duration;

use super::{ResourceSummary, SamplerCost};

/// A running sampler.
#[derive(Debug)]
pub struct Sampler {}

/// An open window (one step); closed by [`Sampler::end`].
#[derive(Debug)]
pub struct Window {}

impl Sampler {
    pub fn start(_interval: Duration) -> Self {
        unimplemented!()
    }
    /// Open a window: takes an immediate sample (start values) and resets the peaks.
    pub fn begin(&self) -> Window {
        unimplemented!()
    }
    /// Close a window: takes an immediate sample (end values) and summarises.
    pub fn end(&self, _w: Window) -> ResourceSummary {
        unimplemented!()
    }
    /// Stop the thread and report what it cost.
    pub fn stop(self) -> SamplerCost {
        unimplemented!()
    }
    /// Name of the back end in use ("procfs", "sysinfo").
    pub fn backend(&self) -> &'static str {
        unimplemented!()
    }
}
