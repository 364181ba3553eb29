//! Measurement: clocks, process execution with kernel accounting (wait4 rusage, per-step
//! cgroups), whole-tree kill, the background system sampler, and platform/host facts.
//!
//! Nothing here knows about suites, runners or reporters. Every collector degrades to a
//! weaker back end when a capability is missing and says which one it used.

pub mod cancel;
pub mod cgroup;
pub mod exec;
pub mod host;
pub mod platform;
#[cfg(target_os = "linux")]
pub mod procfs;
pub mod sampler;
pub(crate) mod stale;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// CPU time (user, system) the kernel accounted: to this process, all its threads
/// (`children == false`), or to its waited-for descendants (`children == true`).
pub fn cpu_times(children: bool) -> Option<(Duration, Duration)> {
    let who = if children {
        libc::RUSAGE_CHILDREN
    } else {
        libc::RUSAGE_SELF
    };
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a valid pointer.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return None;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Some((tv(ru.ru_utime), tv(ru.ru_stime)))
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// Normal exit with this code.
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
}

impl Termination {
    /// Shell-style exit code: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            Termination::Exited(c) => c,
            Termination::Signaled(s) => 128 + s,
        }
    }
}

/// Resource usage the kernel accounted for a waited-for process and its waited-for
/// descendants (`wait4`'s rusage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rusage {
    pub user: Duration,
    pub sys: Duration,
    /// Largest resident set of any single process in the tree (ru_maxrss, in bytes).
    pub max_rss_bytes: u64,
}

impl Rusage {
    /// The largest resident set of the step's own processes, when it can be told apart
    /// from the spawner's. A child made by a vfork-style clone shares the harness's
    /// address space until `execve`, and the kernel folds that space's peak into the
    /// child's `ru_maxrss` as the child execs (fork(2) would fold a copy of it), so the
    /// raw value is never below `floor`, the spawner's own peak resident set. Above it, the
    /// value is the step's; at or below it, the step's true peak is unknown (smaller) and
    /// this is `None`. Without a floor (no such fold) the raw value stands.
    pub fn own_max_rss(&self, floor: Option<u64>) -> Option<u64> {
        match floor {
            Some(floor) if self.max_rss_bytes <= floor => None,
            _ => Some(self.max_rss_bytes),
        }
    }
}

/// Usage accounted by a per-step cgroup: covers every process that ever ran in it, also
/// ones that escaped the process group or were never waited for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupUsage {
    pub cpu_user: Option<Duration>,
    pub cpu_sys: Option<Duration>,
    /// Peak memory charged to the cgroup (includes page cache), bytes.
    pub memory_peak_bytes: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
}

/// System-wide resources seen by the sampler over one window (a step); also the
/// `resources` object of the run receipt. `None` where the back end cannot tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceSummary {
    /// System-wide CPU busy, percent of all cores (100 = every core busy).
    pub cpu_avg_pct: Option<f64>,
    pub cpu_peak_pct: Option<f64>,
    pub mem_start_bytes: Option<u64>,
    pub mem_end_bytes: Option<u64>,
    pub mem_peak_bytes: Option<u64>,
    pub disk_read_bytes: Option<u64>,
    pub disk_write_bytes: Option<u64>,
    /// Samples that fell inside the window (the window's two edges included).
    pub samples: u64,
}

/// What the sampler cost over its lifetime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerCost {
    pub interval: Duration,
    pub ticks: u64,
    /// CPU time (user + sys) of the sampler thread.
    pub cpu: Duration,
    /// Wall time the sampler ran.
    pub wall: Duration,
}

impl SamplerCost {
    /// CPU used as a percentage of one core.
    pub fn pct_of_core(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peak_at_or_below_the_spawners_own_is_not_the_steps() {
        let ru = |kib: u64| Rusage {
            max_rss_bytes: kib * 1024,
            ..Rusage::default()
        };
        let floor = Some(16 * 1024 * 1024);
        assert_eq!(ru(200 * 1024).own_max_rss(floor), Some(200 * 1024 * 1024));
        assert_eq!(ru(16 * 1024).own_max_rss(floor), None, "exactly the fold");
        assert_eq!(ru(1024).own_max_rss(floor), None);
        assert_eq!(ru(1024).own_max_rss(None), Some(1024 * 1024));
    }
}
