//! Linux platform facts: /proc/cpuinfo, /proc/meminfo, DMI, device tree, clocksource and
//! container hints. The parsing and naming are pure functions over text.

use std::path::Path;

use super::OsFacts;
use crate::measure::procfs;

pub(super) fn facts() -> OsFacts {
    let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
    let info = parse_cpuinfo(&cpuinfo);
    let devicetree_model = read("/sys/firmware/devicetree/base/model");
    let osrelease = read("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = read("/proc/version").unwrap_or_default();
    let is_wsl = is_wsl(&osrelease, &version);

    let dmi = ["sys_vendor", "product_name", "board_vendor", "bios_vendor"]
        .map(|f| read(&format!("/sys/class/dmi/id/{f}")).unwrap_or_default());
    let virtualization = virtualization(&VirtFacts {
        dmi: &dmi,
        hypervisor_flag: info.hypervisor_flag,
        clocksources: &read("/sys/devices/system/clocksource/clocksource0/available_clocksource")
            .unwrap_or_default(),
        xen: Path::new("/proc/xen").exists()
            || read("/sys/hypervisor/type").is_some_and(|t| t == "xen"),
        devicetree_compatible: &read("/sys/firmware/devicetree/base/compatible")
            .unwrap_or_default(),
        devicetree_hypervisor: &read("/sys/firmware/devicetree/base/hypervisor/compatible")
            .unwrap_or_default(),
        wsl: is_wsl,
    });

    let env_container = std::env::var("container")
        .ok()
        .or_else(|| read("/run/systemd/container"));
    let container = container(&ContainerFacts {
        declared: env_container.as_deref(),
        kubernetes: std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
        containerenv: Path::new("/run/.containerenv").exists(),
        dockerenv: Path::new("/.dockerenv").exists(),
        cgroup: &read("/proc/1/cgroup")
            .or_else(|| read("/proc/self/cgroup"))
            .unwrap_or_default(),
    });

    OsFacts {
        is_wsl,
        cpu_model: cpu_model(&info, devicetree_model.as_deref()),
        physical_cores: info.physical_cores.or_else(sysfs_physical_cores),
        memory_bytes: read("/proc/meminfo")
            .and_then(|m| procfs::parse_meminfo(&m))
            .map(|m| m.total),
        virtualization: virtualization.map(str::to_owned),
        container,
    }
}

/// A small text file, trimmed of whitespace and the NULs device-tree strings end with;
/// `None` when unreadable or empty.
fn read(path: &str) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!text.is_empty()).then(|| text.replace('\0', ", "))
}

/// What /proc/cpuinfo tells about the CPU.
#[derive(Debug, Default, PartialEq)]
struct CpuInfo {
    /// `model name` (x86, 32-bit ARM).
    model_name: Option<String>,
    /// `Hardware` (some ARM boards: the SoC).
    hardware: Option<String>,
    /// Distinct (`CPU implementer`, `CPU part`) pairs, in order of appearance (ARM).
    arm_cores: Vec<(u32, u32)>,
    /// Distinct (`physical id`, `core id`) pairs (x86).
    physical_cores: Option<usize>,
    /// The `hypervisor` CPU flag; `None` when there is no `flags` line (non-x86).
    hypervisor_flag: Option<bool>,
}

fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let (mut physical_id, mut core_id, mut implementer) = (None, None, None);
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            // End of one processor's block.
            if let (Some(p), Some(c)) = (physical_id.take(), core_id.take())
                && !pairs.contains(&(p, c))
            {
                pairs.push((p, c));
            }
            implementer = None;
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "model name" if info.model_name.is_none() && !value.is_empty() => {
                info.model_name = Some(value.to_owned());
            }
            "Hardware" if info.hardware.is_none() && !value.is_empty() => {
                info.hardware = Some(value.to_owned());
            }
            "physical id" => physical_id = Some(value),
            "core id" => core_id = Some(value),
            "CPU implementer" => implementer = parse_hex(value),
            "CPU part" => {
                if let (Some(i), Some(p)) = (implementer, parse_hex(value))
                    && !info.arm_cores.contains(&(i, p))
                {
                    info.arm_cores.push((i, p));
                }
            }
            "flags" => {
                let has = value.split_ascii_whitespace().any(|f| f == "hypervisor");
                info.hypervisor_flag = Some(info.hypervisor_flag.unwrap_or(false) || has);
            }
            _ => {}
        }
    }
    info.physical_cores = (!pairs.is_empty()).then_some(pairs.len());
    info
}

fn parse_hex(s: &str) -> Option<u32> {
    u32::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok()
}

/// The best CPU name available: `model name`, then the ARM `Hardware` line, then the core
/// names decoded from implementer/part, then the board's device-tree model.
fn cpu_model(info: &CpuInfo, devicetree_model: Option<&str>) -> Option<String> {
    if let Some(m) = info.model_name.as_ref().or(info.hardware.as_ref()) {
        return Some(m.clone());
    }
    if !info.arm_cores.is_empty() {
        let names: Vec<String> = info
            .arm_cores
            .iter()
            .map(|&(i, p)| match arm_core_name(i, p) {
                Some(name) => name.to_owned(),
                None => format!("implementer 0x{i:02x} part 0x{p:03x}"),
            })
            .collect();
        return Some(names.join(" + "));
    }
    devicetree_model.map(str::to_owned)
}

/// Names of common ARM cores from the MIDR implementer and part numbers (as the kernel's
/// `arch/arm64/include/asm/cputype.h` lists them).
fn arm_core_name(implementer: u32, part: u32) -> Option<&'static str> {
    Some(match (implementer, part) {
        (0x41, 0xd03) => "ARM Cortex-A53",
        (0x41, 0xd04) => "ARM Cortex-A35",
        (0x41, 0xd05) => "ARM Cortex-A55",
        (0x41, 0xd07) => "ARM Cortex-A57",
        (0x41, 0xd08) => "ARM Cortex-A72",
        (0x41, 0xd09) => "ARM Cortex-A73",
        (0x41, 0xd0a) => "ARM Cortex-A75",
        (0x41, 0xd0b) => "ARM Cortex-A76",
        (0x41, 0xd0c) => "ARM Neoverse-N1",
        (0x41, 0xd0d) => "ARM Cortex-A77",
        (0x41, 0xd40) => "ARM Neoverse-V1",
        (0x41, 0xd41) => "ARM Cortex-A78",
        (0x41, 0xd44) => "ARM Cortex-X1",
        (0x41, 0xd46) => "ARM Cortex-A510",
        (0x41, 0xd47) => "ARM Cortex-A710",
        (0x41, 0xd48) => "ARM Cortex-X2",
        (0x41, 0xd49) => "ARM Neoverse-N2",
        (0x41, 0xd4a) => "ARM Neoverse-E1",
        (0x41, 0xd4d) => "ARM Cortex-A715",
        (0x41, 0xd4e) => "ARM Cortex-X3",
        (0x41, 0xd4f) => "ARM Neoverse-V2",
        (0x41, 0xd80) => "ARM Cortex-A520",
        (0x41, 0xd81) => "ARM Cortex-A720",
        (0x41, 0xd82) => "ARM Cortex-X4",
        (0x41, 0xd84) => "ARM Neoverse-V3",
        (0x41, 0xd8e) => "ARM Neoverse-N3",
        (0x42, 0x516) => "Broadcom Vulcan",
        (0x43, 0x0af) => "Cavium ThunderX2",
        (0x46, 0x001) => "Fujitsu A64FX",
        (0x48, 0xd01) => "HiSilicon Kunpeng-920",
        (0x4e, 0x004) => "NVIDIA Carmel",
        (0x51, 0x800..=0x805) => "Qualcomm Kryo",
        (0x51, 0xc00) => "Qualcomm Falkor",
        (0x51, 0x001) => "Qualcomm Oryon",
        (0x61, 0x022 | 0x024 | 0x028) => "Apple M1 Icestorm",
        (0x61, 0x023 | 0x025 | 0x029) => "Apple M1 Firestorm",
        (0x61, 0x032 | 0x034 | 0x038) => "Apple M2 Blizzard",
        (0x61, 0x033 | 0x035 | 0x039) => "Apple M2 Avalanche",
        (0xc0, 0xac3) => "Ampere-1",
        (0xc0, 0xac4) => "Ampere-1a",
        _ => return None,
    })
}

/// WSL kernels say so in their release and version strings.
fn is_wsl(osrelease: &str, version: &str) -> bool {
    [osrelease, version].iter().any(|s| {
        let s = s.to_ascii_lowercase();
        s.contains("microsoft") || s.contains("wsl")
    })
}

/// The signs of a hypervisor, gathered from files.
#[derive(Debug, Default)]
struct VirtFacts<'a> {
    /// /sys/class/dmi/id sys_vendor, product_name, board_vendor, bios_vendor.
    dmi: &'a [String],
    hypervisor_flag: Option<bool>,
    /// /sys/devices/system/clocksource/clocksource0/available_clocksource.
    clocksources: &'a str,
    xen: bool,
    devicetree_compatible: &'a str,
    devicetree_hypervisor: &'a str,
    wsl: bool,
}

/// DMI strings of virtual machines, most specific first.
const DMI_VENDORS: &[(&str, &str)] = &[
    ("firecracker", "firecracker"),
    ("amazon ec2", "amazon"),
    ("google compute engine", "google"),
    ("apple virtualization", "apple"),
    ("hyper-v", "hyperv"),
    ("virtual machine", "hyperv"), // Microsoft's product_name for Hyper-V guests
    ("vmware", "vmware"),
    ("vmw", "vmware"),
    ("virtualbox", "virtualbox"),
    ("innotek gmbh", "virtualbox"),
    ("parallels", "parallels"),
    ("bhyve", "bhyve"),
    ("xen", "xen"),
    ("openstack", "kvm"),
    ("kubevirt", "kvm"),
    ("kvm", "kvm"),
    ("qemu", "qemu"),
    ("bochs", "bochs"),
];

/// Name the hypervisor, or `None` on bare metal (or when nothing tells).
fn virtualization(f: &VirtFacts) -> Option<&'static str> {
    if f.wsl {
        return Some("wsl");
    }
    // On x86 every mainstream hypervisor sets the CPUID hypervisor bit; without it this is
    // bare metal, even where DMI names a cloud (EC2 `.metal` instances).
    if f.hypervisor_flag == Some(false) {
        return None;
    }
    let dmi: Vec<String> = f.dmi.iter().map(|s| s.to_ascii_lowercase()).collect();
    for (needle, name) in DMI_VENDORS {
        if dmi.iter().any(|field| field.contains(needle)) {
            return Some(name);
        }
    }
    if f.xen || f.devicetree_hypervisor.contains("xen") {
        return Some("xen");
    }
    if f.devicetree_compatible.contains("linux,dummy-virt") {
        return Some("qemu");
    }
    let clocks = f.clocksources;
    if clocks.contains("kvm-clock") {
        return Some("kvm");
    }
    if clocks.contains("hyperv_clocksource") {
        return Some("hyperv");
    }
    if clocks.split_ascii_whitespace().any(|c| c == "xen") {
        return Some("xen");
    }
    (f.hypervisor_flag == Some(true)).then_some("unknown")
}

/// The signs of a container, gathered from files and the environment.
#[derive(Debug, Default)]
struct ContainerFacts<'a> {
    /// `$container` or /run/systemd/container, set by systemd-nspawn, podman, lxc, ...
    declared: Option<&'a str>,
    kubernetes: bool,
    containerenv: bool,
    dockerenv: bool,
    /// /proc/1/cgroup.
    cgroup: &'a str,
}

fn container(f: &ContainerFacts) -> Option<String> {
    if let Some(name) = f.declared.map(str::trim).filter(|n| !n.is_empty()) {
        return Some(name.to_ascii_lowercase());
    }
    if f.kubernetes {
        return Some("kubernetes".into());
    }
    if f.containerenv {
        return Some("podman".into());
    }
    if f.dockerenv {
        return Some("docker".into());
    }
    let hint = [
        ("kubepods", "kubernetes"),
        ("libpod", "podman"),
        ("docker", "docker"),
        ("lxc", "lxc"),
        ("containerd", "containerd"),
    ]
    .iter()
    .find(|(needle, _)| f.cgroup.contains(needle))?;
    Some(hint.1.into())
}

/// Physical cores from /sys topology, where /proc/cpuinfo does not list them (ARM).
fn sysfs_physical_cores() -> Option<usize> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir("/sys/devices/system/cpu").ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(n) = name.strip_prefix("cpu") else {
            continue;
        };
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let topo = entry.path().join("topology");
        let get = |f: &str| read(&topo.join(f).to_string_lossy());
        if let (Some(p), Some(c)) = (get("physical_package_id"), get("core_id"))
            && !pairs.contains(&(p.clone(), c.clone()))
        {
            pairs.push((p, c));
        }
    }
    (!pairs.is_empty()).then_some(pairs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: &str = "\
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13 64-Core Processor
physical id\t: 0
siblings\t: 4
core id\t\t: 0
flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm

processor\t: 1
model name\t: AMD EPYC 7B13 64-Core Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm

processor\t: 2
model name\t: AMD EPYC 7B13 64-Core Processor
physical id\t: 0
core id\t\t: 1
flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm

processor\t: 3
model name\t: AMD EPYC 7B13 64-Core Processor
physical id\t: 0
core id\t\t: 1
flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm
";

    // A big.LITTLE arm64 board (RK3588): no model name, two core types.
    const AARCH64: &str = "\
processor\t: 0
BogoMIPS\t: 48.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x2
CPU part\t: 0xd05
CPU revision\t: 0

processor\t: 1
BogoMIPS\t: 48.00
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x2
CPU part\t: 0xd05
CPU revision\t: 0

processor\t: 4
BogoMIPS\t: 48.00
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x4
CPU part\t: 0xd0b
CPU revision\t: 0
";

    const RASPBERRY_PI: &str = "\
processor\t: 0
model name\t: ARMv7 Processor rev 3 (v7l)
BogoMIPS\t: 108.00
CPU implementer\t: 0x41
CPU part\t: 0xd08

Hardware\t: BCM2835
Revision\t: c03111
Model\t\t: Raspberry Pi 4 Model B Rev 1.1
";

    #[test]
    fn x86_cpuinfo() {
        let info = parse_cpuinfo(X86);
        assert_eq!(
            info.model_name.as_deref(),
            Some("AMD EPYC 7B13 64-Core Processor")
        );
        assert_eq!(info.physical_cores, Some(2));
        assert_eq!(info.hypervisor_flag, Some(true));
        assert_eq!(
            cpu_model(&info, None).as_deref(),
            Some("AMD EPYC 7B13 64-Core Processor")
        );
    }

    #[test]
    fn aarch64_cpuinfo_names_cores() {
        let info = parse_cpuinfo(AARCH64);
        assert_eq!(info.model_name, None);
        assert_eq!(info.arm_cores, vec![(0x41, 0xd05), (0x41, 0xd0b)]);
        assert_eq!(info.physical_cores, None);
        assert_eq!(info.hypervisor_flag, None);
        assert_eq!(
            cpu_model(&info, Some("Radxa ROCK 5B")).as_deref(),
            Some("ARM Cortex-A55 + ARM Cortex-A76")
        );
    }

    #[test]
    fn aarch64_unknown_part_and_devicetree_fallback() {
        let info = parse_cpuinfo("CPU implementer\t: 0x99\nCPU part\t: 0x123\n");
        assert_eq!(
            cpu_model(&info, None).as_deref(),
            Some("implementer 0x99 part 0x123")
        );
        let bare = parse_cpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\n");
        assert_eq!(
            cpu_model(&bare, Some("QEMU virt")).as_deref(),
            Some("QEMU virt")
        );
        assert_eq!(cpu_model(&bare, None), None);
    }

    #[test]
    fn model_name_wins_over_hardware() {
        let info = parse_cpuinfo(RASPBERRY_PI);
        assert_eq!(info.hardware.as_deref(), Some("BCM2835"));
        assert_eq!(
            cpu_model(&info, None).as_deref(),
            Some("ARMv7 Processor rev 3 (v7l)")
        );
        let no_model = parse_cpuinfo(&RASPBERRY_PI.replace("model name", "other"));
        assert_eq!(cpu_model(&no_model, None).as_deref(), Some("BCM2835"));
    }

    #[test]
    fn garbage_cpuinfo() {
        let info = parse_cpuinfo("\u{0}\u{1}nonsense\n::::\nCPU part: zz\n");
        assert_eq!(info, CpuInfo::default());
    }

    #[test]
    fn wsl_detection() {
        assert!(is_wsl("5.15.153.1-microsoft-standard-WSL2", ""));
        assert!(is_wsl("", "Linux version 4.4.0-19041-Microsoft"));
        assert!(!is_wsl(
            "6.8.0-45-generic",
            "Linux version 6.8.0-45-generic"
        ));
    }

    fn dmi(vendor: &str, product: &str) -> Vec<String> {
        vec![vendor.into(), product.into(), String::new(), String::new()]
    }

    #[test]
    fn virtualization_from_dmi() {
        let cases = [
            (dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)"), "qemu"),
            (dmi("Red Hat", "KVM"), "kvm"),
            (dmi("Amazon EC2", "m5.large"), "amazon"),
            (dmi("Google", "Google Compute Engine"), "google"),
            (dmi("VMware, Inc.", "VMware Virtual Platform"), "vmware"),
            (dmi("Microsoft Corporation", "Virtual Machine"), "hyperv"),
            (dmi("Xen", "HVM domU"), "xen"),
            (dmi("innotek GmbH", "VirtualBox"), "virtualbox"),
            (dmi("OpenStack Foundation", "OpenStack Nova"), "kvm"),
        ];
        for (dmi, want) in cases {
            let f = VirtFacts {
                dmi: &dmi,
                hypervisor_flag: Some(true),
                ..VirtFacts::default()
            };
            assert_eq!(virtualization(&f), Some(want), "{dmi:?}");
        }
    }

    #[test]
    fn virtualization_other_signs() {
        let none: Vec<String> = Vec::new();
        // Firecracker on x86: no DMI, but kvm-clock.
        let f = VirtFacts {
            dmi: &none,
            hypervisor_flag: Some(true),
            clocksources: "tsc kvm-clock ",
            ..VirtFacts::default()
        };
        assert_eq!(virtualization(&f), Some("kvm"));
        // Bare metal with a cloud's DMI.
        let metal = dmi("Amazon EC2", "c5.metal");
        let f = VirtFacts {
            dmi: &metal,
            hypervisor_flag: Some(false),
            ..VirtFacts::default()
        };
        assert_eq!(virtualization(&f), None);
        let f = VirtFacts {
            dmi: &none,
            xen: true,
            ..VirtFacts::default()
        };
        assert_eq!(virtualization(&f), Some("xen"));
        let f = VirtFacts {
            dmi: &none,
            devicetree_compatible: "linux,dummy-virt",
            ..VirtFacts::default()
        };
        assert_eq!(virtualization(&f), Some("qemu"));
        let f = VirtFacts {
            dmi: &none,
            hypervisor_flag: Some(true),
            ..VirtFacts::default()
        };
        assert_eq!(virtualization(&f), Some("unknown"));
        let f = VirtFacts {
            wsl: true,
            ..VirtFacts::default()
        };
        assert_eq!(virtualization(&f), Some("wsl"));
        // arm64 bare metal: no flags line, nothing else.
        assert_eq!(virtualization(&VirtFacts::default()), None);
    }

    #[test]
    fn container_detection() {
        let c = |f: ContainerFacts| container(&f);
        assert_eq!(
            c(ContainerFacts {
                declared: Some("systemd-nspawn"),
                dockerenv: true,
                ..Default::default()
            })
            .as_deref(),
            Some("systemd-nspawn")
        );
        assert_eq!(
            c(ContainerFacts {
                kubernetes: true,
                dockerenv: true,
                ..Default::default()
            })
            .as_deref(),
            Some("kubernetes")
        );
        assert_eq!(
            c(ContainerFacts {
                containerenv: true,
                ..Default::default()
            })
            .as_deref(),
            Some("podman")
        );
        assert_eq!(
            c(ContainerFacts {
                dockerenv: true,
                ..Default::default()
            })
            .as_deref(),
            Some("docker")
        );
        assert_eq!(
            c(ContainerFacts {
                cgroup: "0::/system.slice/docker-3f2a.scope\n",
                ..Default::default()
            })
            .as_deref(),
            Some("docker")
        );
        assert_eq!(
            c(ContainerFacts {
                cgroup: "12:memory:/kubepods/burstable/pod1/abc\n",
                ..Default::default()
            })
            .as_deref(),
            Some("kubernetes")
        );
        assert_eq!(
            c(ContainerFacts {
                declared: Some("  "),
                cgroup: "0::/init.scope\n",
                ..Default::default()
            }),
            None
        );
    }

    #[test]
    fn facts_of_this_machine() {
        let f = facts();
        eprintln!("{f:?}");
        assert!(f.memory_bytes.is_some());
    }
}
