//! Finding the tools a task needs, and running them with a deadline.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// The first executable called `name` on PATH.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Like [`find`], but a missing tool is an error that says how to get it.
pub fn require(name: &str, how_to_get_it: &str) -> Result<PathBuf> {
    match find(name) {
        Some(path) => Ok(path),
        None => bail!("`{name}` is not on PATH: {how_to_get_it}"),
    }
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Run `cmd` with its stdout captured; `None` when it cannot start, fails, or is still
/// running after `limit` (it is then killed). A daemon that does not answer must not hang
/// a task.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let text = reader.join().ok()?;
    status.success().then_some(text)
}

/// The version of the Docker daemon that answers, if one does within a few seconds.
pub fn docker_server_version() -> Option<String> {
    find("docker")?;
    let out = output_within(
        Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]),
        Duration::from_secs(10),
    )?;
    let version = out.trim();
    (!version.is_empty()).then(|| version.to_owned())
}

/// The first line a tool prints for `args` (e.g. `--version`), for provenance notes.
pub fn version_line(tool: &str, args: &[&str]) -> Result<String> {
    match output_within(Command::new(tool).args(args), Duration::from_secs(30)) {
        Some(out) => Ok(out.lines().next().unwrap_or_default().trim().to_owned()),
        None => bail!("`{tool} {}` failed", args.join(" ")),
    }
}

/// The running user is root (starting dockerd and installing packages need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_tool_that_is_there_and_not_one_that_is_not() {
        assert!(find("sh").is_some());
        assert!(find("no-such-tool-for-xtask").is_none());
        let err = require("no-such-tool-for-xtask", "install it with apt-get").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`no-such-tool-for-xtask` is not on PATH: install it with apt-get"
        );
    }

    #[test]
    fn a_command_past_its_deadline_is_killed() {
        let start = Instant::now();
        let out = output_within(
            Command::new("sh").args(["-c", "sleep 30"]),
            Duration::from_millis(200),
        );
        assert!(out.is_none());
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_of_a_quick_command_is_returned() {
        let out = output_within(
            Command::new("sh").args(["-c", "echo hello"]),
            Duration::from_secs(10),
        );
        assert_eq!(out.as_deref(), Some("hello\n"));
        let failed = output_within(
            Command::new("sh").args(["-c", "exit 3"]),
            Duration::from_secs(10),
        );
        assert!(failed.is_none());
    }
}
