//! macOS platform facts from `sysctlbyname`: CPU brand, cores, memory, and whether this
//! process runs in a virtual machine or under Rosetta translation.

use std::ffi::CStr;

use super::OsFacts;

pub(super) fn facts() -> OsFacts {
    let mut virt = Vec::new();
    if sysctl_u64(c"kern.hv_vmm_present") == Some(1) {
        // On Apple Silicon every guest runs on Apple's Hypervisor.framework.
        virt.push(if cfg!(target_arch = "aarch64") {
            "apple"
        } else {
            "unknown"
        });
    }
    if sysctl_u64(c"sysctl.proc_translated") == Some(1) {
        virt.push("rosetta");
    }
    OsFacts {
        is_wsl: false,
        cpu_model: sysctl_string(c"machdep.cpu.brand_string"),
        physical_cores: sysctl_u64(c"hw.physicalcpu").and_then(|n| usize::try_from(n).ok()),
        memory_bytes: sysctl_u64(c"hw.memsize"),
        virtualization: (!virt.is_empty()).then(|| virt.join("+")),
        container: None,
    }
}

/// Read a sysctl into `buf`; the number of bytes the kernel wrote.
pub(crate) fn sysctl_raw(name: &CStr, buf: &mut [u8]) -> Option<usize> {
    let mut len: libc::size_t = buf.len();
    // SAFETY: `name` is NUL-terminated; `buf` is valid for `len` bytes and the kernel writes
    // at most `len` bytes, storing the count back in `len`; no new value is set.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0).then_some(len.min(buf.len()))
}

/// An integer sysctl, whether the kernel stores it in 4 or 8 bytes.
pub(crate) fn sysctl_u64(name: &CStr) -> Option<u64> {
    let mut buf = [0u8; 8];
    match sysctl_raw(name, &mut buf)? {
        4 => Some(u64::from(u32::from_ne_bytes([
            buf[0], buf[1], buf[2], buf[3],
        ]))),
        8 => Some(u64::from_ne_bytes(buf)),
        _ => None,
    }
}

/// A string sysctl, trimmed; `None` when missing or empty.
pub(crate) fn sysctl_string(name: &CStr) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = sysctl_raw(name, &mut buf)?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!text.is_empty()).then(|| text.to_owned())
}
