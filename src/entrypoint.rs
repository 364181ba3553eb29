//! Container mode (`benchmark entrypoint`): the banner, where receipts go, and the hints a
//! container user needs. The run itself is the ordinary runner.

use std::path::Path;

use crate::format::bytes;
use crate::measure::platform::Platform;

/// The image's baked-in suite (`cargo xtask image --suite` puts it here).
pub const DEFAULT_SUITE: &str = "/workspace/benchmark.toml";

/// Where the image expects its output volume.
pub const OUTPUT_DIR: &str = "/workspace/output";

/// The commit this binary was built from, when the build said (`BENCHMARK_COMMIT`).
pub const COMMIT: Option<&str> = option_env!("BENCHMARK_COMMIT");

/// The banner printed before the run: what runs, on what, from which build.
pub fn banner(p: &Platform, suite: &str, output: &str, image: Option<&str>) -> String {
    let mut out = format!(
        "benchmark {}{} — container appliance\n",
        env!("CARGO_PKG_VERSION"),
        COMMIT.map(|c| format!(" (commit {c})")).unwrap_or_default()
    );
    out.push_str(&format!(
        "  machine: {} · {} core(s) · {} · kernel {} · {}\n",
        p.cpu_model.as_deref().unwrap_or("unknown CPU"),
        p.cores,
        p.memory_bytes
            .map_or_else(|| "unknown memory".to_owned(), bytes),
        p.kernel.as_deref().unwrap_or("unknown"),
        p.nix_system,
    ));
    let mut provenance = Vec::new();
    if let Some(image) = image {
        provenance.push(format!("image {image}"));
    }
    if let Some(c) = &p.container {
        provenance.push(format!("in a {c} container"));
    }
    if let Some(v) = &p.virtualization {
        provenance.push(format!("virtualization {v}"));
    }
    if !provenance.is_empty() {
        out.push_str(&format!("  provenance: {}\n", provenance.join(" · ")));
    }
    out.push_str(&format!("  suite: {suite}\n  output: {output}\n"));
    out
}

/// Is `path` a mount point, according to /proc/self/mountinfo's text? Pure.
pub fn is_mount_point(mountinfo: &str, path: &Path) -> bool {
    let want = path.to_string_lossy();
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|mp| unescape_mountinfo(mp) == want)
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape_mountinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v as char);
            i += 4;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The hint for an output directory this process cannot write to.
pub fn unwritable_hint(dir: &Path, err: &std::io::Error) -> String {
    #[cfg(unix)]
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir)
            .map(|m| {
                format!(
                    " (owned by uid {}, this process runs as uid {})",
                    m.uid(),
                    // SAFETY: geteuid has no preconditions.
                    unsafe { libc::geteuid() }
                )
            })
            .unwrap_or_default()
    };
    #[cfg(not(unix))]
    let owner = String::new();
    format!(
        "cannot write the receipts to {}{owner}: {err}. Run the container as the owner of the \
         host directory: docker run --user \"$(id -u):$(id -g)\" -v \"$PWD/out:{OUTPUT_DIR}\" IMAGE",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 0:21 / / rw,relatime - overlay overlay rw
30 22 8:1 /home/u/out /workspace/output rw,relatime - ext4 /dev/sda1 rw
31 22 8:1 /x /with\\040space rw - ext4 /dev/sda1 rw
";

    #[test]
    fn finds_mount_points() {
        assert!(is_mount_point(MOUNTINFO, Path::new("/workspace/output")));
        assert!(is_mount_point(MOUNTINFO, Path::new("/with space")));
        assert!(!is_mount_point(MOUNTINFO, Path::new("/workspace")));
    }

    #[test]
    fn banner_names_the_machine_suite_and_output() {
        let p = Platform {
            os: "linux".into(),
            arch: "x86_64".into(),
            nix_system: "x86_64-linux".into(),
            linux_system: "x86_64-linux".into(),
            is_wsl: false,
            docker_arch: "linux/amd64".into(),
            cpu_model: Some("AMD EPYC".into()),
            cores: 2,
            physical_cores: None,
            memory_bytes: Some(8 << 30),
            kernel: Some("6.1".into()),
            virtualization: None,
            container: Some("docker".into()),
            hostname: None,
        };
        let b = banner(
            &p,
            "<built-in system-baseline>",
            "/workspace/output (mounted)",
            Some("nix"),
        );
        assert!(
            b.contains("machine: AMD EPYC · 2 core(s) · 8.0 GiB · kernel 6.1 · x86_64-linux"),
            "{b}"
        );
        assert!(
            b.contains("provenance: image nix · in a docker container"),
            "{b}"
        );
        assert!(
            b.contains("suite: <built-in system-baseline>\n  output: /workspace/output (mounted)"),
            "{b}"
        );
    }
}
