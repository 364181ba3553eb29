//! `benchmark info` in its three forms.

use crate::helper::bench;

/// The `os` that `benchmark info` reports here: the tests also run on macOS.
fn this_os() -> &'static str {
    if cfg!(target_os = "linux") {
        "linux"
    } else {
        "darwin"
    }
}

#[test]
fn info_json_describes_this_machine() {
    let b = bench();
    let done = b.run_args(&["info", "--json"]).code(0);
    let v: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let os = this_os();
    assert_eq!(v["os"], os);
    assert_eq!(v["arch"], std::env::consts::ARCH);
    assert_eq!(v["nix_system"], format!("{}-{os}", std::env::consts::ARCH));
    assert!(v["cores"].as_u64().unwrap() >= 1);
    assert!(v["memory_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn info_shell_lines_evaluate_in_sh() {
    let b = bench();
    let lines = b.run_args(&["info", "--shell"]).code(0).stdout();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{lines}\nprintf '%s %s %s %s' \"$PLATFORM_OS\" \"$PLATFORM_ARCH\" \"$PLATFORM_NIX_SYSTEM\" \"$PLATFORM_IS_WSL\""))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let (os, arch) = (this_os(), std::env::consts::ARCH);
    assert!(
        printed.starts_with(&format!("{os} {arch} {arch}-{os} ")),
        "{printed}"
    );
    assert!(
        printed.ends_with("true") || printed.ends_with("false"),
        "{printed}"
    );
    for key in [
        "PLATFORM_LINUX_SYSTEM=",
        "PLATFORM_DOCKER_ARCH=",
        "PLATFORM_CPU_MODEL=",
    ] {
        assert!(lines.contains(key), "{key} missing:\n{lines}");
    }
}

#[test]
fn info_plain_is_readable() {
    bench()
        .run_args(&["info"])
        .code(0)
        .stdout_has("nix_system")
        .stdout_has("cores");
}
