//! Per-step cgroups: v2 (delegated subtree), v1 (memory/cpuacct/blkio/freezer/pids),
//! hybrid hosts, or none — chosen once per process by probing, with the reason recorded.
//!
//! `BENCHMARK_CGROUP=off|auto|v1|v2` restricts the choice (`auto` by default). Any cgroup
//! failure degrades the step to plain `wait4` accounting; it never fails the step.
//!
//! A step's cgroup is reused by later steps when it ends empty (see `pool`), its
//! counters read as differences; [`cleanup`] removes the idle ones.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(target_os = "linux")]
mod parse;
#[cfg(target_os = "linux")]
mod pool;
#[cfg(target_os = "linux")]
mod slot;

use std::time::{Duration, Instant};

#[cfg(all(target_os = "linux", test))]
pub(crate) use linux::Mode;
#[cfg(target_os = "linux")]
pub(crate) use linux::{Probe, StepCgroup, join, probe};
#[cfg(not(target_os = "linux"))]
pub(crate) use other::{Probe, StepCgroup, probe};

/// Remove the step cgroups kept for reuse. The runner calls this when a run is over; it
/// also happens when the process exits normally. Later steps simply create new ones.
pub fn cleanup() {
    #[cfg(target_os = "linux")]
    linux::cleanup();
}

/// Tests that create cgroups read-lock this; the check that no step cgroup is left
/// behind write-locks it, so that it sees no other test's step in flight.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Retry `done` with a short, growing back-off until it returns true or `limit` passes.
/// Only for teardown (the kernel finishing a kill or a cgroup becoming removable), never
/// on the path of a step that ends normally. Returns whether `done` succeeded.
pub(crate) fn settle(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    let mut pause = Duration::from_micros(50);
    loop {
        if done() {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep(pause.min(end - now));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
