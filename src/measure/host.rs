//! Host-noise checks before and after a run: load, swap, CPU frequency scaling, turbo,
//! thermal throttling and battery power — read where the host exposes them, turned into
//! plain-words warnings by a pure function.

#[cfg(target_os = "linux")]
mod linux;

/// A reading of the host's noise signs. Each fact is `None` where it cannot be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostState {
    /// 1-minute load average (runnable and, on Linux, uninterruptible tasks).
    pub load_avg_1m: Option<f64>,
    pub swap_total_bytes: Option<u64>,
    pub swap_used_bytes: Option<u64>,
    /// cpufreq scaling governor of each CPU that exposes one; `None` when none does (many
    /// VMs and containers).
    pub governors: Option<Vec<CpuGovernor>>,
    /// Turbo/boost state, where a control for it exists.
    pub turbo: Option<Turbo>,
    /// Thermal throttle events so far, summed over the per-CPU core and package counters
    /// (Intel `thermal_throttle`). Only its increase over a run means anything.
    pub throttle_events: Option<u64>,
    /// Running on battery rather than mains power.
    pub on_battery: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuGovernor {
    pub cpu: u32,
    pub governor: String,
}

/// Whether the CPU may clock above its base frequency, and the file that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turbo {
    pub enabled: bool,
    /// `/sys/devices/system/cpu/intel_pstate/no_turbo` or a cpufreq `boost` file.
    pub control: String,
}

impl Turbo {
    /// What to write into `control` to turn turbo off.
    fn off_value(&self) -> &'static str {
        if self.control.ends_with("no_turbo") {
            "1"
        } else {
            "0"
        }
    }
}

/// Read the host's current state (best effort; unknown facts are `None`).
pub fn read() -> HostState {
    read_os()
}

#[cfg(target_os = "linux")]
fn read_os() -> HostState {
    linux::read()
}

#[cfg(target_os = "macos")]
fn read_os() -> HostState {
    use super::platform::macos::sysctl_raw;
    let mut loads = [0f64; 3];
    // SAFETY: `loads` holds 3 doubles, the count passed.
    let n = unsafe { libc::getloadavg(loads.as_mut_ptr(), 3) };
    // vm.swapusage is a `struct xsw_usage`: total, available, used (u64 each), then more.
    let mut swap = [0u8; 32];
    let swap = sysctl_raw(c"vm.swapusage", &mut swap)
        .filter(|&len| len >= 24)
        .map(|_| {
            let word = |i: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&swap[i * 8..i * 8 + 8]);
                u64::from_ne_bytes(b)
            };
            (word(0), word(2))
        });
    HostState {
        load_avg_1m: (n >= 1).then_some(loads[0]),
        swap_total_bytes: swap.map(|s| s.0),
        swap_used_bytes: swap.map(|s| s.1),
        ..HostState::default()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn read_os() -> HostState {
    HostState::default()
}

/// Swap use below this is stray pages from long ago, not a sign of memory pressure.
const SWAP_NOISE_FLOOR: u64 = 1 << 20;

/// Warnings, in plain words, about noise signs seen before and after a run. Pure.
pub fn warnings(before: &HostState, after: Option<&HostState>, cores: usize) -> Vec<String> {
    let cores = cores.max(1);
    let mut out = Vec::new();

    if let Some(load) = before.load_avg_1m
        && load > 0.5 * cores as f64
    {
        out.push(format!(
            "the 1-minute load average was {load:.2} on {cores} {} before the run (above half \
             the cores): other work competes for the CPU — wait until the machine is idle or \
             stop that work, then rerun",
            plural(cores, "core", "cores")
        ));
    }

    let swap = [Some(before), after]
        .into_iter()
        .flatten()
        .filter_map(|s| s.swap_used_bytes)
        .max();
    if let Some(used) = swap.filter(|&u| u >= SWAP_NOISE_FLOOR) {
        out.push(format!(
            "{} of swap was in use: a step that touches swapped-out memory waits for the disk \
             — free memory, or empty swap with `sudo swapoff -a && sudo swapon -a`, then rerun",
            crate::format::bytes(used)
        ));
    }

    if let Some(governors) = &before.governors {
        let slow = governor_groups(governors);
        if !slow.is_empty() {
            out.push(format!(
                "the CPU frequency governor is {slow}, not `performance`: clock speed follows \
                 load and skews timings — run `sudo cpupower frequency-set -g performance`"
            ));
        }
    }

    if let Some(turbo) = before.turbo.as_ref().filter(|t| t.enabled) {
        out.push(format!(
            "turbo boost is enabled ({}): clock speed depends on temperature and on how many \
             cores are busy — disable it with `echo {} | sudo tee {}` for steadier timings",
            turbo.control,
            turbo.off_value(),
            turbo.control
        ));
    }

    if let Some(after) = after {
        if let (Some(b), Some(a)) = (before.throttle_events, after.throttle_events)
            && a > b
        {
            out.push(format!(
                "the CPU was thermally throttled during the run ({} new throttle {}): the \
                 affected steps ran slower — improve cooling or let the machine cool down, \
                 then rerun",
                a - b,
                plural((a - b) as usize, "event", "events")
            ));
        }
        if let (Some(b), Some(a)) = (before.load_avg_1m, after.load_avg_1m)
            && a - b > cores as f64
        {
            out.push(format!(
                "the 1-minute load average rose from {b:.2} to {a:.2} on {cores} {} during the \
                 run: more tasks wanted CPU than there are cores, so timings include waiting \
                 for a CPU — check with `top` what else ran (or whether the steps \
                 oversubscribe the cores) and rerun",
                plural(cores, "core", "cores")
            ));
        }
    }

    if [Some(before), after]
        .into_iter()
        .flatten()
        .any(|s| s.on_battery == Some(true))
    {
        out.push(
            "the machine ran on battery: power management may hold the CPU back — plug in \
             the charger and rerun"
                .to_owned(),
        );
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// "`powersave` on CPUs 0-3, 6 and `schedutil` on CPU 7" for the CPUs not on
/// `performance`; empty when all are.
fn governor_groups(governors: &[CpuGovernor]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for g in governors {
        if g.governor != "performance" && !names.contains(&g.governor.as_str()) {
            names.push(&g.governor);
        }
    }
    let parts: Vec<String> = names
        .iter()
        .map(|name| {
            let mut cpus: Vec<u32> = governors
                .iter()
                .filter(|g| g.governor == *name)
                .map(|g| g.cpu)
                .collect();
            cpus.sort_unstable();
            let label = plural(cpus.len(), "CPU", "CPUs");
            format!("`{name}` on {label} {}", cpu_ranges(&cpus))
        })
        .collect();
    parts.join(" and ")
}

/// `[0, 1, 2, 3, 6]` → `0-3, 6` (input sorted).
fn cpu_ranges(cpus: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> HostState {
        HostState {
            load_avg_1m: Some(0.1),
            swap_total_bytes: Some(2 << 30),
            swap_used_bytes: Some(0),
            governors: Some(
                (0..4)
                    .map(|cpu| CpuGovernor {
                        cpu,
                        governor: "performance".into(),
                    })
                    .collect(),
            ),
            turbo: Some(Turbo {
                enabled: false,
                control: "/sys/devices/system/cpu/intel_pstate/no_turbo".into(),
            }),
            throttle_events: Some(12),
            on_battery: Some(false),
        }
    }

    #[test]
    fn quiet_host_no_warnings() {
        assert_eq!(warnings(&quiet(), Some(&quiet()), 4), Vec::<String>::new());
        assert_eq!(
            warnings(&HostState::default(), None, 4),
            Vec::<String>::new(),
            "nothing readable, nothing to say"
        );
    }

    #[test]
    fn high_load_before() {
        let mut s = quiet();
        s.load_avg_1m = Some(3.25);
        let w = warnings(&s, None, 4);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("3.25 on 4 cores before the run"), "{}", w[0]);
        s.load_avg_1m = Some(2.0);
        assert!(warnings(&s, None, 4).is_empty(), "exactly half is fine");
    }

    #[test]
    fn swap_in_use() {
        let mut after = quiet();
        after.swap_used_bytes = Some(300 << 20);
        let w = warnings(&quiet(), Some(&after), 4);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("300.0 MiB of swap was in use"), "{}", w[0]);
        after.swap_used_bytes = Some(4096);
        assert!(warnings(&quiet(), Some(&after), 4).is_empty());
    }

    #[test]
    fn governors_not_performance() {
        let mut s = quiet();
        let govs = s.governors.as_mut().unwrap();
        for cpu in [0, 1, 2] {
            govs[cpu].governor = "powersave".into();
        }
        govs.push(CpuGovernor {
            cpu: 7,
            governor: "powersave".into(),
        });
        govs.push(CpuGovernor {
            cpu: 9,
            governor: "schedutil".into(),
        });
        let w = warnings(&s, None, 8);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("`powersave` on CPUs 0-2, 7 and `schedutil` on CPU 9"),
            "{}",
            w[0]
        );
        assert!(w[0].contains("cpupower frequency-set -g performance"));
    }

    #[test]
    fn turbo_enabled_names_the_control() {
        let mut s = quiet();
        s.turbo = Some(Turbo {
            enabled: true,
            control: "/sys/devices/system/cpu/intel_pstate/no_turbo".into(),
        });
        let w = warnings(&s, None, 4);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo"),
            "{}",
            w[0]
        );
        s.turbo = Some(Turbo {
            enabled: true,
            control: "/sys/devices/system/cpu/cpufreq/boost".into(),
        });
        assert!(warnings(&s, None, 4)[0].contains("echo 0 | sudo tee"));
    }

    #[test]
    fn throttling_during_run() {
        let mut after = quiet();
        after.throttle_events = Some(15);
        let w = warnings(&quiet(), Some(&after), 4);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("3 new throttle events"), "{}", w[0]);
        assert!(warnings(&quiet(), None, 4).is_empty(), "no after, no delta");
    }

    #[test]
    fn load_rose_during_run() {
        let mut after = quiet();
        after.load_avg_1m = Some(6.5);
        let w = warnings(&quiet(), Some(&after), 4);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("rose from 0.10 to 6.50 on 4 cores"),
            "{}",
            w[0]
        );
        after.load_avg_1m = Some(4.0);
        assert!(
            warnings(&quiet(), Some(&after), 4).is_empty(),
            "all cores busy is what a benchmark does"
        );
    }

    #[test]
    fn on_battery() {
        let mut s = quiet();
        s.on_battery = Some(true);
        let w = warnings(&s, None, 4);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("battery"));
    }

    #[test]
    fn zero_cores_is_one() {
        let mut s = quiet();
        s.load_avg_1m = Some(0.75);
        let w = warnings(&s, None, 0);
        assert!(w[0].contains("on 1 core before"), "{w:?}");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(cpu_ranges(&[0, 1, 2, 3, 6, 8, 9]), "0-3, 6, 8-9");
        assert_eq!(cpu_ranges(&[]), "");
    }

    #[test]
    fn read_this_machine() {
        let s = read();
        eprintln!("{s:#?}");
        eprintln!("{:?}", warnings(&s, None, 2));
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        assert!(s.load_avg_1m.is_some());
    }
}
