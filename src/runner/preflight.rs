//! Pre-flight: the suite's requirements checked before anything runs (exit 4 on failure).

use crate::format::bytes;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::docker::{self, DaemonInfo, Monitor};
use crate::measure::Termination;
use crate::measure::cancel::Cancel;
use crate::measure::exec::{self, Discard, ExecSpec};
use crate::suite::{Check, DockerMode, Suite};

/// What the pre-flight found.
#[derive(Debug, Default)]
pub struct Report {
    /// One sentence per failure: what failed and what to do.
    pub failures: Vec<String>,
    /// The Docker daemon, when a `docker_daemon` check reached it.
    pub docker: Option<DaemonInfo>,
    /// The container monitor `[monitor] docker = "on"` requires, started (so listing
    /// containers works, not only `/_ping`); `run` keeps it, `check` stops it.
    pub monitor: Option<Monitor>,
}

/// Run every check, and the ones the suite's settings imply (`[monitor] docker = "on"`
/// needs a daemon the monitor can follow). `benchmark run` and `benchmark check` both run
/// exactly this. Every wait on the daemon is bounded and gives up once `cancel` holds.
pub fn run(suite: &Suite, cancel: &Cancel) -> Report {
    let mut report = Report::default();
    let mut daemon_failed = false;
    for p in &suite.preflight {
        for check in &p.checks {
            if let Err(e) = check_one(check, suite, cancel, &mut report) {
                daemon_failed |= matches!(check, Check::DockerDaemon);
                report.failures.push(match &p.name {
                    Some(n) => format!("{n}: {e}"),
                    None => e,
                });
            }
        }
    }
    // A failed `docker_daemon` check already said why; do not wait on the daemon twice.
    if suite.monitor.docker == DockerMode::On && !daemon_failed && !cancel.is_cancelled() {
        let started =
            Monitor::start_until(&docker::default_host(), suite.monitor.interval, &|| {
                cancel.is_cancelled()
            });
        match started {
            Ok(m) => report.monitor = Some(m),
            Err(_) if cancel.is_cancelled() => {}
            Err(e) => report
                .failures
                .push(format!("[monitor] docker = \"on\": {e}")),
        }
    }
    report
}

/// Ping the daemon, giving up when the run is cancelled.
fn ping(cancel: &Cancel) -> Result<DaemonInfo, docker::DockerError> {
    docker::ping_until(&docker::default_host(), &|| cancel.is_cancelled())
}

fn check_one(
    check: &Check,
    suite: &Suite,
    cancel: &Cancel,
    report: &mut Report,
) -> Result<(), String> {
    match check {
        Check::Command(c) => find_on_path(c).map(drop).ok_or_else(|| {
            format!("`{c}` is not on PATH: install it or add its directory to PATH")
        }),
        Check::FreeDisk { path, min_bytes } => {
            let free = free_disk(path)
                .map_err(|e| format!("cannot tell free disk space at {}: {e}", path.display()))?;
            if free < *min_bytes {
                return Err(format!(
                    "{} free at {}, {} required: free some space or point `path` elsewhere",
                    bytes(free),
                    path.display(),
                    bytes(*min_bytes)
                ));
            }
            Ok(())
        }
        Check::FreeMemory { min_bytes } => match available_memory() {
            Some(free) if free < *min_bytes => Err(format!(
                "{} of memory available, {} required: stop other programs or lower `min_free_memory`",
                bytes(free),
                bytes(*min_bytes)
            )),
            Some(_) => Ok(()),
            None => Err("cannot tell available memory on this system".to_owned()),
        },
        Check::Run(cmd) => {
            let mut args: Vec<_> = suite.shell[1..].iter().map(Into::into).collect();
            args.push(cmd.into());
            let spec = ExecSpec {
                program: suite.shell[0].clone().into(),
                args,
                env: suite
                    .env
                    .iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
                env_remove: vec![],
                cwd: Some(suite.working_dir.clone()),
                timeout: Some(Duration::from_secs(60)),
                isolate: false,
                control: None,
                capture: true,
                kill_grace: suite.kill_grace,
            };
            let out = exec::execute(&spec, &mut Discard, cancel).map_err(|e| e.to_string())?;
            match out.termination {
                Termination::Exited(0) => Ok(()),
                _ if out.timed_out => Err(format!("`{cmd}` did not finish within 60s")),
                t => Err(format!(
                    "`{cmd}` exited with {}: the environment is not ready for this suite",
                    t.code()
                )),
            }
        }
        Check::DockerDaemon => {
            report.docker = Some(ping(cancel).map_err(|e| e.to_string())?);
            Ok(())
        }
    }
}

/// The first executable `name` on PATH (or `name` itself when it has a slash).
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| is_exec(p))
}

fn free_disk(path: &Path) -> nix::Result<u64> {
    let s = nix::sys::statvfs::statvfs(path)?;
    #[expect(
        clippy::useless_conversion,
        reason = "the field types differ across platforms"
    )]
    Ok(u64::from(s.blocks_available()) * u64::from(s.fragment_size()))
}

#[cfg(target_os = "linux")]
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(not(target_os = "linux"))]
fn available_memory() -> Option<u64> {
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    Some(sys.available_memory())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("definitely-not-a-command-xyz").is_none());
    }
}
