//! Container CPU % and memory from one-shot stats readings (pure).
//!
//! A one-shot reading (`stream=false, one-shot=true`) carries no `precpu_stats`, so CPU % is
//! the delta between a container's two successive readings, computed here:
//! `Δ cpu_usage.total_usage / Δ system_cpu_usage × online_cpus × 100` as `docker stats`
//! does (100% = one core busy), or `Δ total_usage / Δ wall time × 100` when the daemon gives
//! no system counter. Memory is `usage` less the inactive page cache, as `docker stats` shows.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerMemoryStats, ContainerStatsResponse};

/// One container's CPU counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CpuReading {
    /// `cpu_stats.cpu_usage.total_usage`, ns of CPU time the container used.
    pub total_ns: u64,
    /// `cpu_stats.system_cpu_usage`, ns of CPU time the host used (all CPUs).
    pub system_ns: Option<u64>,
    pub online_cpus: Option<u32>,
    /// When the reading arrived (since the monitor started).
    pub at: Duration,
}

impl CpuReading {
    pub fn from_stats(s: &ContainerStatsResponse, at: Duration) -> Option<CpuReading> {
        let cpu = s.cpu_stats.as_ref()?;
        Some(CpuReading {
            total_ns: cpu.cpu_usage.as_ref()?.total_usage?,
            system_ns: cpu.system_cpu_usage.filter(|&v| v > 0),
            online_cpus: cpu.online_cpus.filter(|&n| n > 0),
            at,
        })
    }
}

/// CPU % (of one core) between two readings of the same container; `None` when the
/// counters went backwards (a restart) or no time passed.
pub(crate) fn cpu_pct(prev: &CpuReading, cur: &CpuReading) -> Option<f64> {
    let used = cur.total_ns.checked_sub(prev.total_ns)? as f64;
    if let (Some(s0), Some(s1), Some(cpus)) = (prev.system_ns, cur.system_ns, cur.online_cpus)
        && s1 > s0
    {
        return Some(used / (s1 - s0) as f64 * f64::from(cpus) * 100.0);
    }
    let wall = cur.at.checked_sub(prev.at)?.as_nanos() as f64;
    (wall > 0.0).then(|| used / wall * 100.0)
}

/// Memory in use as `docker stats` shows it: `usage` less inactive file pages
/// (`inactive_file` on cgroup v2, `total_inactive_file` on v1).
pub(crate) fn mem_used(m: &ContainerMemoryStats) -> Option<u64> {
    let usage = m.usage?;
    let inactive = m.stats.as_ref().and_then(|s| {
        s.get("inactive_file")
            .or_else(|| s.get("total_inactive_file"))
            .copied()
    });
    Some(match inactive {
        Some(i) if i < usage => usage - i,
        _ => usage,
    })
}

/// The aggregate over all running containers at one stats round.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Aggregate {
    /// Sum of the containers' CPU % (100 = one core).
    pub cpu_pct: Option<f64>,
    /// Sum of the containers' memory in use.
    pub mem_bytes: Option<u64>,
}

/// One container's reading from a stats round.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Reading {
    pub cpu: Option<CpuReading>,
    pub mem_bytes: Option<u64>,
}

impl Reading {
    pub fn from_stats(s: &ContainerStatsResponse, at: Duration) -> Reading {
        Reading {
            cpu: CpuReading::from_stats(s, at),
            mem_bytes: s.memory_stats.as_ref().and_then(mem_used),
        }
    }
}

/// What is known per container across stats rounds. A round may read only some of the
/// running containers (at most N per round); the others keep their last values.
#[derive(Debug, Default)]
pub(crate) struct StatsBook {
    prev: HashMap<String, CpuReading>,
    cpu: HashMap<String, f64>,
    mem: HashMap<String, u64>,
    cursor: usize,
}

impl StatsBook {
    /// Which of `running` (sorted) to read this round: at most `max`, round-robin, so
    /// every container is read within ⌈n/max⌉ rounds.
    pub fn pick(&mut self, running: &[String], max: usize) -> Vec<String> {
        if running.len() <= max {
            return running.to_vec();
        }
        let start = self.cursor % running.len();
        self.cursor = (start + max) % running.len();
        running
            .iter()
            .cycle()
            .skip(start)
            .take(max)
            .cloned()
            .collect()
    }

    /// Record this round's readings, forget containers that no longer run, and return the
    /// aggregate over `running`. Containers without a value yet (a first CPU reading has no
    /// delta) are left out; with none known at all the value is `None`.
    pub fn update(&mut self, running: &[String], readings: Vec<(String, Reading)>) -> Aggregate {
        for (id, r) in readings {
            if let Some(cur) = r.cpu {
                match self.prev.get(&id).and_then(|p| cpu_pct(p, &cur)) {
                    Some(pct) => {
                        self.cpu.insert(id.clone(), pct);
                    }
                    None => {
                        self.cpu.remove(&id);
                    }
                }
                self.prev.insert(id.clone(), cur);
            }
            if let Some(m) = r.mem_bytes {
                self.mem.insert(id, m);
            }
        }
        self.prev.retain(|id, _| running.contains(id));
        self.cpu.retain(|id, _| running.contains(id));
        self.mem.retain(|id, _| running.contains(id));
        if running.is_empty() {
            return Aggregate {
                cpu_pct: Some(0.0),
                mem_bytes: Some(0),
            };
        }
        Aggregate {
            cpu_pct: (!self.cpu.is_empty()).then(|| self.cpu.values().sum()),
            mem_bytes: (!self.mem.is_empty()).then(|| self.mem.values().sum()),
        }
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage};

    use super::*;

    fn r(total_ns: u64, system_ns: Option<u64>, cpus: Option<u32>, at_ms: u64) -> CpuReading {
        CpuReading {
            total_ns,
            system_ns,
            online_cpus: cpus,
            at: Duration::from_millis(at_ms),
        }
    }

    #[test]
    fn cpu_pct_from_system_counter() {
        // 0.5 s of container CPU while the 2-CPU host accounted 2 s: one core half busy.
        let p = cpu_pct(
            &r(1_000_000_000, Some(10_000_000_000), Some(2), 0),
            &r(1_500_000_000, Some(12_000_000_000), Some(2), 1000),
        );
        assert_eq!(p, Some(50.0));
    }

    #[test]
    fn cpu_pct_falls_back_to_wall_time() {
        let p = cpu_pct(&r(0, None, None, 0), &r(2_000_000_000, None, None, 1000));
        assert_eq!(p, Some(200.0));
    }

    #[test]
    fn cpu_pct_is_none_on_restart_or_no_time() {
        assert_eq!(cpu_pct(&r(5, None, None, 0), &r(4, None, None, 10)), None);
        assert_eq!(cpu_pct(&r(5, None, None, 10), &r(9, None, None, 10)), None);
    }

    #[test]
    fn memory_less_inactive_cache() {
        let mut m = ContainerMemoryStats {
            usage: Some(1000),
            stats: Some(HashMap::from([("inactive_file".to_string(), 300)])),
            ..Default::default()
        };
        assert_eq!(mem_used(&m), Some(700));
        m.stats = Some(HashMap::from([("total_inactive_file".to_string(), 100)]));
        assert_eq!(mem_used(&m), Some(900));
        m.stats = Some(HashMap::from([("inactive_file".to_string(), 5000)]));
        assert_eq!(mem_used(&m), Some(1000));
        m.usage = None;
        assert_eq!(mem_used(&m), None);
    }

    #[test]
    fn reading_from_a_one_shot_response() {
        let s = ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(42),
                    ..Default::default()
                }),
                system_cpu_usage: Some(0),
                online_cpus: Some(4),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(4096),
                ..Default::default()
            }),
            ..Default::default()
        };
        let got = Reading::from_stats(&s, Duration::from_secs(1));
        // A zero system counter is "not given" (not a base to divide by).
        assert_eq!(got.cpu, Some(r(42, None, Some(4), 1000)));
        assert_eq!(got.mem_bytes, Some(4096));
        assert_eq!(
            Reading::from_stats(&Default::default(), Duration::ZERO),
            Reading::default()
        );
    }

    fn reading(total_ns: u64, at_ms: u64, mem: u64) -> Reading {
        Reading {
            cpu: Some(r(total_ns, None, None, at_ms)),
            mem_bytes: Some(mem),
        }
    }

    #[test]
    fn book_needs_two_readings_for_cpu_and_sums_containers() {
        let mut b = StatsBook::default();
        let running = vec!["a".to_string(), "b".to_string()];
        let agg = b.update(
            &running,
            vec![
                ("a".into(), reading(0, 0, 100)),
                ("b".into(), reading(0, 0, 50)),
            ],
        );
        assert_eq!(agg.cpu_pct, None);
        assert_eq!(agg.mem_bytes, Some(150));
        let agg = b.update(
            &running,
            vec![
                ("a".into(), reading(500_000_000, 1000, 200)),
                ("b".into(), reading(250_000_000, 1000, 50)),
            ],
        );
        assert_eq!(agg.cpu_pct, Some(75.0));
        assert_eq!(agg.mem_bytes, Some(250));
        // `b` stopped: it drops out of the aggregate and the book.
        let agg = b.update(&running[..1], vec![]);
        assert_eq!(agg.cpu_pct, Some(50.0));
        assert_eq!(agg.mem_bytes, Some(200));
        assert_eq!(b.prev.len(), 1);
        // Nothing running: a real zero, not "unknown".
        let agg = b.update(&[], vec![]);
        assert_eq!(agg.cpu_pct, Some(0.0));
        assert_eq!(agg.mem_bytes, Some(0));
    }

    #[test]
    fn pick_is_round_robin_beyond_the_cap() {
        let mut b = StatsBook::default();
        let ids: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
        assert_eq!(b.pick(&ids[..2], 3), vec!["a", "b"]);
        assert_eq!(b.pick(&ids, 2), vec!["a", "b"]);
        assert_eq!(b.pick(&ids, 2), vec!["c", "d"]);
        assert_eq!(b.pick(&ids, 2), vec!["e", "a"]);
        assert_eq!(b.pick(&ids, 2), vec!["b", "c"]);
    }
}
