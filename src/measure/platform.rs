//! Platform detection (`benchmark info`): OS, arch, Nix system, WSL, Docker platform,
//! CPU model, cores, memory, kernel, virtualization and container detection.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
pub(super) mod macos;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// What this machine is. Field names are part of the receipt contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// `linux` or `darwin` (PLATFORM_OS).
    pub os: String,
    /// `x86_64` or `aarch64` (PLATFORM_ARCH).
    pub arch: String,
    /// Nix system double, e.g. `x86_64-linux` (PLATFORM_NIX_SYSTEM).
    pub nix_system: String,
    /// The Linux system that builds images for this machine, e.g. `aarch64-linux` on an
    /// Apple Silicon Mac (PLATFORM_LINUX_SYSTEM).
    pub linux_system: String,
    /// Running under Windows Subsystem for Linux (PLATFORM_IS_WSL).
    pub is_wsl: bool,
    /// Docker platform string, e.g. `linux/amd64` (PLATFORM_DOCKER_ARCH).
    pub docker_arch: String,
    pub cpu_model: Option<String>,
    /// Logical CPUs available to this process.
    pub cores: usize,
    pub physical_cores: Option<usize>,
    pub memory_bytes: Option<u64>,
    pub kernel: Option<String>,
    /// Hypervisor, when one is detected (e.g. `kvm`, `xen`, `vmware`, `hyperv`, `apple`).
    pub virtualization: Option<String>,
    /// Container runtime, when this process runs in one (e.g. `docker`, `podman`, `lxc`).
    pub container: Option<String>,
    pub hostname: Option<String>,
}

/// What only OS-specific code can find out.
#[derive(Debug, Default)]
struct OsFacts {
    is_wsl: bool,
    cpu_model: Option<String>,
    physical_cores: Option<usize>,
    memory_bytes: Option<u64>,
    virtualization: Option<String>,
    container: Option<String>,
}

#[cfg(target_os = "linux")]
fn os_facts() -> OsFacts {
    linux::facts()
}

#[cfg(target_os = "macos")]
fn os_facts() -> OsFacts {
    macos::facts()
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn os_facts() -> OsFacts {
    OsFacts::default()
}

/// Detect the platform. Never fails: unknown facts are `None`.
pub fn detect() -> Platform {
    let os = normalize_os(std::env::consts::OS).to_owned();
    let arch = normalize_arch(std::env::consts::ARCH).to_owned();
    let facts = os_facts();
    let kernel = nix::sys::utsname::uname()
        .ok()
        .map(|u| u.release().to_string_lossy().trim().to_owned())
        .filter(|k| !k.is_empty());
    let hostname = nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().trim().to_owned())
        .filter(|h| !h.is_empty());
    Platform {
        nix_system: format!("{arch}-{os}"),
        linux_system: format!("{arch}-linux"),
        docker_arch: docker_arch(&arch),
        is_wsl: facts.is_wsl,
        cpu_model: facts.cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        physical_cores: facts.physical_cores,
        memory_bytes: facts.memory_bytes,
        kernel,
        virtualization: facts.virtualization,
        container: facts.container,
        hostname,
        os,
        arch,
    }
}

impl Platform {
    /// `PLATFORM_OS=linux` lines for `eval` (values shell-quoted). Unknown values are
    /// empty strings.
    pub fn shell_lines(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        let lines = [
            ("PLATFORM_OS", self.os.clone()),
            ("PLATFORM_ARCH", self.arch.clone()),
            ("PLATFORM_NIX_SYSTEM", self.nix_system.clone()),
            ("PLATFORM_LINUX_SYSTEM", self.linux_system.clone()),
            ("PLATFORM_IS_WSL", self.is_wsl.to_string()),
            ("PLATFORM_DOCKER_ARCH", self.docker_arch.clone()),
            ("PLATFORM_CPU_MODEL", opt(&self.cpu_model)),
            ("PLATFORM_CORES", self.cores.to_string()),
            ("PLATFORM_MEMORY_BYTES", num(self.memory_bytes)),
            ("PLATFORM_KERNEL", opt(&self.kernel)),
            ("PLATFORM_VIRTUALIZATION", opt(&self.virtualization)),
            ("PLATFORM_CONTAINER", opt(&self.container)),
            (
                "PLATFORM_PHYSICAL_CORES",
                num(self.physical_cores.map(|n| n as u64)),
            ),
            ("PLATFORM_HOSTNAME", opt(&self.hostname)),
        ];
        let mut out = String::new();
        for (name, value) in lines {
            let _ = writeln!(out, "{name}={}", shell_quote(&value));
        }
        out
    }
}

/// Rust's OS name → the Nix/uname spelling (`macos` → `darwin`).
fn normalize_os(os: &str) -> &str {
    match os {
        "macos" => "darwin",
        other => other,
    }
}

/// Architecture names as Nix spells them: `arm64` → `aarch64`, `amd64` → `x86_64`.
fn normalize_arch(arch: &str) -> &str {
    match arch {
        "arm64" | "aarch64" => "aarch64",
        "amd64" | "x86_64" | "x64" => "x86_64",
        other => other,
    }
}

/// Docker's platform string for a (normalised) architecture.
fn docker_arch(arch: &str) -> String {
    let docker = match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" | "i386" => "386",
        "powerpc64le" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        other => other,
    };
    format!("linux/{docker}")
}

/// Quote for POSIX sh: inside single quotes nothing is special except `'` itself, which
/// closes the quote, adds an escaped `'`, and reopens. NUL cannot live in a shell string.
fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars().filter(|&c| c != '\0') {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Platform {
        Platform {
            os: "linux".into(),
            arch: "x86_64".into(),
            nix_system: "x86_64-linux".into(),
            linux_system: "x86_64-linux".into(),
            is_wsl: false,
            docker_arch: "linux/amd64".into(),
            cpu_model: Some("Intel(R) Xeon(R) CPU @ 2.20GHz".into()),
            cores: 8,
            physical_cores: Some(4),
            memory_bytes: Some(16 << 30),
            kernel: Some("6.8.0-45-generic".into()),
            virtualization: Some("kvm".into()),
            container: None,
            hostname: Some("ci-runner".into()),
        }
    }

    #[test]
    fn arch_and_os_names() {
        assert_eq!(normalize_arch("arm64"), "aarch64");
        assert_eq!(normalize_arch("aarch64"), "aarch64");
        assert_eq!(normalize_arch("amd64"), "x86_64");
        assert_eq!(normalize_arch("riscv64"), "riscv64");
        assert_eq!(normalize_os("macos"), "darwin");
        assert_eq!(normalize_os("linux"), "linux");
        assert_eq!(docker_arch("x86_64"), "linux/amd64");
        assert_eq!(docker_arch("aarch64"), "linux/arm64");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a\0b"), "'ab'");
    }

    #[test]
    fn shell_lines_layout() {
        let lines = sample().shell_lines();
        let names: Vec<&str> = lines
            .lines()
            .map(|l| l.split_once('=').unwrap().0)
            .collect();
        assert_eq!(
            names[..12],
            [
                "PLATFORM_OS",
                "PLATFORM_ARCH",
                "PLATFORM_NIX_SYSTEM",
                "PLATFORM_LINUX_SYSTEM",
                "PLATFORM_IS_WSL",
                "PLATFORM_DOCKER_ARCH",
                "PLATFORM_CPU_MODEL",
                "PLATFORM_CORES",
                "PLATFORM_MEMORY_BYTES",
                "PLATFORM_KERNEL",
                "PLATFORM_VIRTUALIZATION",
                "PLATFORM_CONTAINER",
            ]
        );
        assert!(lines.contains("PLATFORM_IS_WSL='false'\n"));
        assert!(lines.contains("PLATFORM_MEMORY_BYTES='17179869184'\n"));
        assert!(lines.contains("PLATFORM_CONTAINER=''\n"));
    }

    /// Evaluate the lines in a real shell and print one variable back.
    fn eval_in_sh(lines: &str, var: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("eval \"$LINES\"; printf %s \"${var}\""))
            .env("LINES", lines)
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn shell_lines_round_trip_through_eval() {
        let mut p = sample();
        let nasty = "Bob's \"CPU\" $(rm -rf /) `id` \\ 100% ; 'x'\nline two";
        p.cpu_model = Some(nasty.into());
        let lines = p.shell_lines();
        assert_eq!(eval_in_sh(&lines, "PLATFORM_CPU_MODEL"), nasty);
        assert_eq!(eval_in_sh(&lines, "PLATFORM_NIX_SYSTEM"), "x86_64-linux");
        assert_eq!(eval_in_sh(&lines, "PLATFORM_CONTAINER"), "");
    }

    #[test]
    fn detect_this_machine() {
        let p = detect();
        eprintln!("{p:#?}\n{}", p.shell_lines());
        assert_eq!(p.nix_system, format!("{}-{}", p.arch, p.os));
        assert_eq!(p.linux_system, format!("{}-linux", p.arch));
        assert!(p.cores >= 1);
        assert!(p.docker_arch.starts_with("linux/"));
        #[cfg(target_os = "linux")]
        {
            assert_eq!(p.os, "linux");
            assert!(p.memory_bytes.unwrap() > 0);
            assert!(p.kernel.is_some());
        }
        #[cfg(target_os = "macos")]
        assert_eq!(p.os, "darwin");
    }
}
