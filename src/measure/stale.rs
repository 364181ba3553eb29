//! Leftovers of a harness that was killed (`kill -9`) before it could clean up: step
//! cgroups and control-FIFO directories named after their owner's pid. A later harness
//! removes the ones whose owner is gone; it never kills anything.
//!
//! An owner counts as gone when no process has its pid, or when the process that has it
//! started after the directory was made (the pid was reused). A live harness also holds
//! an exclusive `flock` on each directory it owns, which covers owners in another pid
//! namespace whose pids mean nothing here: a locked directory is never removed.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How much later than a directory its pid's process must have started to count as
/// another process (clock granularity: boot time and start ticks are coarse).
const REUSE_SLACK: Duration = Duration::from_secs(2);

/// The owner pid a leftover name carries: `benchmark-<pid>-<anything>` (step and probe
/// cgroups, FIFO directories) or `benchmark-harness-<pid>` (the harness's own v2 leaf).
/// Pure.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("benchmark-")?;
    let digits = match rest.strip_prefix("harness-") {
        Some(pid) => pid,
        None => {
            let (pid, tail) = rest.split_once('-')?;
            if tail.is_empty() {
                return None;
            }
            pid
        }
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&pid| pid > 0)
}

/// Whether the owner of something made at `created` is gone, given when the process now
/// holding its pid started (`None`: no such process). Pure.
pub(crate) fn owner_gone(created: SystemTime, holder_started: Option<SystemTime>) -> bool {
    match holder_started {
        None => true,
        Some(started) => started > created + REUSE_SLACK,
    }
}

/// Whether `name` (an entry of `dir`) is a leftover of a harness that is gone, other
/// than this process: no live process owns it and nobody holds its lock.
pub(crate) fn abandoned(dir: &Path, name: &str, created: SystemTime) -> bool {
    let Some(pid) = owner_pid(name) else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    owner_gone(created, started_at(pid)) && !locked(&dir.join(name))
}

/// Remove the control-FIFO directories (`benchmark-<pid>-<nanos>`, ours by uid, holding
/// nothing but FIFOs) that gone harnesses left in `tmp`. Returns how many were removed.
#[cfg(unix)]
pub(crate) fn sweep_fifo_dirs(tmp: &Path) -> usize {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // symlink_metadata: never follow a link planted in a shared /tmp.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let nanos = name.rsplit('-').next().unwrap_or("");
        if !meta.is_dir()
            || meta.uid() != uid
            || nanos.is_empty()
            || !nanos.bytes().all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(created) = meta.modified() else {
            continue;
        };
        if !abandoned(tmp, name, created) {
            continue;
        }
        let dir = entry.path();
        let Ok(inside) = std::fs::read_dir(&dir) else {
            continue;
        };
        let inside: Vec<_> = inside.flatten().collect();
        let only_fifos = inside
            .iter()
            .all(|e| e.file_type().is_ok_and(|t| t.is_fifo()));
        if !only_fifos {
            continue;
        }
        for fifo in &inside {
            let _ = std::fs::remove_file(fifo.path());
        }
        if std::fs::remove_dir(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Take an exclusive lock on `path` (a directory) for as long as the returned file is
/// open, telling other harnesses that its owner is alive. `None` if it cannot be taken.
pub(crate) fn lock(path: &Path) -> Option<File> {
    let file = File::open(path).ok()?;
    try_lock(&file).then_some(file)
}

fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock(2) on a descriptor we own; no memory is passed.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Whether someone holds the lock of `path`. A path that cannot be opened counts as
/// locked (leave it alone).
fn locked(path: &Path) -> bool {
    match File::open(path) {
        Ok(file) => !try_lock(&file),
        Err(_) => true,
    }
}

/// When process `pid` started (wall clock), `None` when there is no such process.
#[cfg(target_os = "linux")]
fn started_at(pid: u32) -> Option<SystemTime> {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        // Exists but unreadable: assume a live process that started long ago.
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Some(SystemTime::UNIX_EPOCH),
        Err(_) => return None,
    };
    let Some(ticks) = start_ticks(&stat) else {
        return Some(SystemTime::UNIX_EPOCH);
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100);
    let since_boot = Duration::from_secs(ticks / hz) + Duration::from_secs(ticks % hz) / hz as u32;
    Some(boot_time()? + since_boot)
}

#[cfg(not(target_os = "linux"))]
fn started_at(pid: u32) -> Option<SystemTime> {
    // Without procfs: alive if it can be signalled, start time unknown (never "reused").
    // SAFETY: kill(2) with signal 0 only checks for the process; no memory is passed.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(SystemTime::UNIX_EPOCH)
}

/// Field 22 of `/proc/PID/stat` (start time in clock ticks after boot). Pure.
#[cfg(any(target_os = "linux", test))]
fn start_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The wall-clock time of boot, as the kernel's start times count from it.
#[cfg(target_os = "linux")]
fn boot_time() -> Option<SystemTime> {
    use nix::time::{ClockId, clock_gettime};
    let now = SystemTime::now();
    let up = clock_gettime(ClockId::CLOCK_BOOTTIME).ok()?;
    let up = Duration::new(
        u64::try_from(up.tv_sec()).ok()?,
        u32::try_from(up.tv_nsec()).ok()?,
    );
    now.checked_sub(up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        assert_eq!(owner_pid("benchmark-123-4"), Some(123));
        assert_eq!(owner_pid("benchmark-123-probe7"), Some(123));
        assert_eq!(owner_pid("benchmark-99-1796301952907264926"), Some(99));
        assert_eq!(owner_pid("benchmark-harness-42"), Some(42));
        for other in [
            "benchmark-123",
            "benchmark-123-",
            "benchmark--4",
            "benchmark-0-4",
            "benchmark-12a-4",
            "benchmark-harness-",
            "benchmark-harness-4x",
            "benchmark_l8qczhf0",
            "benchmark-probe-1-2-ff",
            "benchmark-99999999999999999999-1",
            "other-123-4",
            "",
        ] {
            assert_eq!(owner_pid(other), None, "{other}");
        }
    }

    #[test]
    fn an_owner_is_gone_when_its_pid_is_free_or_reused() {
        let made = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(owner_gone(made, None));
        // Started before the directory: that is the owner, alive.
        assert!(!owner_gone(made, Some(made - Duration::from_secs(60))));
        // Within the clock slack: cannot tell, so alive.
        assert!(!owner_gone(made, Some(made + Duration::from_secs(1))));
        // Started well after: the pid was reused.
        assert!(owner_gone(made, Some(made + Duration::from_secs(60))));
    }

    #[test]
    fn start_ticks_skip_odd_command_names() {
        let stat = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(start_ticks(stat), Some(987_654));
        assert_eq!(start_ticks("42 (x) S 1"), None);
        assert_eq!(start_ticks("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_started_before_now_and_is_not_gone() {
        let me = started_at(std::process::id()).expect("our own start time");
        assert!(me <= SystemTime::now() + REUSE_SLACK);
        assert!(!owner_gone(SystemTime::now(), Some(me)));
    }

    #[test]
    fn a_locked_directory_is_not_abandoned() {
        let dir = std::env::temp_dir().join(format!("stale-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        // A pid that surely is not running (beyond pid_max).
        let name = "benchmark-2147483646-1";
        std::fs::create_dir(dir.join(name)).unwrap();
        let long_ago = SystemTime::UNIX_EPOCH;
        let held = lock(&dir.join(name)).expect("lock");
        assert!(!abandoned(&dir, name, long_ago));
        drop(held);
        assert!(abandoned(&dir, name, long_ago));
        // Our own names are never abandoned.
        let mine = format!("benchmark-{}-1", std::process::id());
        std::fs::create_dir(dir.join(&mine)).unwrap();
        assert!(!abandoned(&dir, &mine, long_ago));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
