//! `cargo xtask docker-up`: a Docker daemon for the tests marked "needs a Docker daemon"
//! and for the offline image.
//!
//! The daemon is started for a sandbox without networking privileges: vfs storage (no
//! overlayfs needed), no iptables, no default bridge; containers use `--network none`.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use xshell::cmd;

use crate::tools;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where dockerd writes its log.
    #[arg(long, default_value = "/tmp/dockerd.log")]
    log: PathBuf,
    /// How long to wait for the daemon to answer, in seconds.
    #[arg(long, default_value_t = 60)]
    wait: u64,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(version) = tools::docker_server_version() {
        println!("docker-up: a daemon already answers (Docker {version})");
        return Ok(());
    }
    if !tools::is_root() {
        bail!(
            "no Docker daemon answers, and starting one needs root: run `cargo xtask docker-up` \
             as root, or start dockerd yourself"
        );
    }
    let missing = missing_packages();
    if !missing.is_empty() {
        install_packages(&missing)?;
    }
    start_dockerd(&args.log, Duration::from_secs(args.wait))
}

/// Debian packages the Docker tests need and this machine lacks.
fn missing_packages() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if tools::find("dockerd").is_none() || tools::find("docker").is_none() {
        missing.push("docker.io");
    }
    // A static busybox builds the test image on FROM scratch (the dynamic one cannot).
    if crate::image::static_busybox().is_none() {
        missing.push("busybox-static");
    }
    missing
}

/// `apt-get update` and install, quietly; an error says which packages.
fn install_packages(packages: &[&str]) -> Result<()> {
    tools::require(
        "apt-get",
        "this task installs Debian packages; install them yourself on other systems",
    )?;
    println!("docker-up: installing {}", packages.join(" "));
    let sh = crate::shell()?;
    let _frontend = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    cmd!(sh, "apt-get update -qq").quiet().run()?;
    cmd!(
        sh,
        "apt-get install -y -qq --no-install-recommends {packages...}"
    )
    .quiet()
    .ignore_stdout()
    .run()
    .with_context(|| format!("installing {}", packages.join(" ")))?;
    Ok(())
}

fn start_dockerd(log: &Path, wait: Duration) -> Result<()> {
    println!("docker-up: starting dockerd (log: {})", log.display());
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = Command::new("dockerd")
        .args([
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
        ])
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        // Its own process group: a Ctrl-C meant for this task does not stop the daemon.
        .process_group(0)
        .spawn()
        .context("starting dockerd")?;
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Some(version) = tools::docker_server_version() {
            println!("docker-up: dockerd {version} is up (pid {})", child.id());
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "dockerd exited ({status}); the end of its log:\n{}",
                tail(log, 30)
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    bail!(
        "dockerd did not answer within {}s; the end of its log:\n{}",
        wait.as_secs(),
        tail(log, 30)
    )
}

/// The last `n` lines of a file, for error messages.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&log, 2), "c\nd");
        assert_eq!(tail(&log, 10), "a\nb\nc\nd");
        assert_eq!(tail(&dir.path().join("missing"), 3), "");
    }
}
