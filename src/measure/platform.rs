//! Platform detection (`benchmark info`): OS, arch, Nix system, WSL, Docker platform,
//! CPU model, cores, memory, kernel, virtualization and container detection.

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

/// Detect the platform. Never fails: unknown facts are `None`.
pub fn detect() -> Platform {
    unimplemented!()
}

impl Platform {
    /// `PLATFORM_OS=linux` lines for `eval` (values shell-quoted).
    pub fn shell_lines(&self) -> String {
        unimplemented!()
    }
}
