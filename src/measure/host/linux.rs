//! Linux host state: /proc/loadavg, /proc/meminfo, cpufreq, intel_pstate, thermal
//! throttle counters and power supplies under /sys.

use std::path::Path;

use super::{CpuGovernor, HostState, Turbo};
use crate::measure::procfs;

const CPU_DIR: &str = "/sys/devices/system/cpu";

pub(super) fn read() -> HostState {
    let mem = read_text("/proc/meminfo").and_then(|t| procfs::parse_meminfo(&t));
    let cpus = cpu_numbers();
    HostState {
        load_avg_1m: read_text("/proc/loadavg")
            .and_then(|t| procfs::parse_loadavg(&t))
            .map(|l| l.one),
        swap_total_bytes: mem.and_then(|m| m.swap_total),
        swap_used_bytes: mem.and_then(|m| m.swap_used()),
        governors: governors(&cpus),
        turbo: turbo(),
        throttle_events: throttle_events(&cpus),
        on_battery: on_battery(),
    }
}

fn read_text(path: impl AsRef<Path>) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The numbers of the `cpuN` directories, sorted.
fn cpu_numbers() -> Vec<u32> {
    let mut cpus: Vec<u32> = std::fs::read_dir(CPU_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("cpu")?.parse().ok())
        .collect();
    cpus.sort_unstable();
    cpus
}

fn governors(cpus: &[u32]) -> Option<Vec<CpuGovernor>> {
    let found: Vec<CpuGovernor> = cpus
        .iter()
        .filter_map(|&cpu| {
            let governor = read_text(format!("{CPU_DIR}/cpu{cpu}/cpufreq/scaling_governor"))?;
            Some(CpuGovernor { cpu, governor })
        })
        .collect();
    (!found.is_empty()).then_some(found)
}

/// intel_pstate's `no_turbo` first (it overrides the others), then the global cpufreq
/// `boost` (acpi-cpufreq), then the first policy's `boost` (amd-pstate).
fn turbo() -> Option<Turbo> {
    let candidates = [
        (format!("{CPU_DIR}/intel_pstate/no_turbo"), "0"),
        (format!("{CPU_DIR}/cpufreq/boost"), "1"),
        (format!("{CPU_DIR}/cpufreq/policy0/boost"), "1"),
    ];
    candidates.into_iter().find_map(|(control, on)| {
        let value = read_text(&control)?;
        Some(Turbo {
            enabled: value == on,
            control,
        })
    })
}

fn throttle_events(cpus: &[u32]) -> Option<u64> {
    let mut total = None;
    for cpu in cpus {
        for counter in ["core_throttle_count", "package_throttle_count"] {
            let path = format!("{CPU_DIR}/cpu{cpu}/thermal_throttle/{counter}");
            if let Some(n) = read_text(path).and_then(|t| t.parse::<u64>().ok()) {
                total = Some(total.unwrap_or(0u64).saturating_add(n));
            }
        }
    }
    total
}

/// On battery when a mains supply exists and none is online; `None` without a mains supply
/// (desktops, servers and VMs often list none).
fn on_battery() -> Option<bool> {
    let mut mains_seen = false;
    for entry in std::fs::read_dir("/sys/class/power_supply").ok()?.flatten() {
        let dir = entry.path();
        if read_text(dir.join("type")).as_deref() != Some("Mains") {
            continue;
        }
        mains_seen = true;
        if read_text(dir.join("online")).as_deref() == Some("1") {
            return Some(false);
        }
    }
    mains_seen.then_some(true)
}
