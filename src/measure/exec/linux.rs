//! Linux specifics of the executor: pidfd exit notification, and finding a step's
//! processes without a cgroup — its process group plus every process whose environment
//! carries the step's cookie (as Jenkins' ProcessTreeKiller does), so daemons that
//! escaped with `setsid` are found too.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;
use std::time::Duration;

use crate::measure::cgroup::settle;

/// Up to this many PIDs handed out since the step started are probed one by one;
/// beyond, /proc is listed.
const DIRECT_PROBE_LIMIT: i32 = 32;
/// `PF_KTHREAD` in the flags of /proc/PID/stat.
const PF_KTHREAD: u64 = 0x0020_0000;
/// How long an empty environment (a process inside execve) is looked at again; a
/// process started with a truly empty one (`env -i`) costs this once per scan.
const EXEC_WINDOW: Duration = Duration::from_millis(20);

/// This process's peak resident set (`VmHWM` of /proc/self/status), bytes. The file is
/// opened once and re-read with `pread`, which makes procfs generate it afresh.
pub(super) fn own_rss_high_water() -> Option<u64> {
    static STATUS: OnceLock<Option<File>> = OnceLock::new();
    let file = STATUS
        .get_or_init(|| File::open("/proc/self/status").ok())
        .as_ref()?;
    let mut buf = Vec::new();
    crate::measure::procfs::read_text(file, &mut buf, 1 << 16)
        .and_then(crate::measure::procfs::parse_status_hwm)
}

/// A pollable descriptor that becomes readable when `pid` exits (Linux ≥ 5.3).
pub(super) fn pidfd(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes integers; the pid is our unreaped child, so it cannot
    // have been reused.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: a fresh descriptor (close-on-exec by default) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Live (non-zombie) processes of the tree: members of process group `pgid`, and
/// processes whose environment holds `cookie` (`NAME=VALUE`).
///
/// With `since = Some(pid of the main child)` only processes created after it are looked
/// at (PIDs are handed out cyclically: anything the step started got a higher PID than
/// the step, unless the counter wrapped, which `ns_last_pid` tells). That keeps the check
/// after a normal exit cheap; kills use the full scan.
pub(super) fn members(pgid: i32, cookie: &[u8], since: Option<i32>) -> Vec<i32> {
    let range = since.and_then(|first| {
        let last = last_pid()?;
        (last >= first).then_some((first, last))
    });
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(4096);
    let mut consider = |pid: i32| {
        if pid != me && is_member(pid, pgid, cookie, &mut buf) {
            out.push(pid);
        }
    };
    match range {
        // Few PIDs handed out since the step started (the usual case): look at each
        // directly, cheaper than listing /proc. A thread id may match too (its process
        // is then a member as well), which is fine for telling "anything left?".
        Some((first, last)) if last - first <= DIRECT_PROBE_LIMIT => {
            (first + 1..=last).for_each(&mut consider);
        }
        _ => {
            let Ok(dir) = fs::read_dir("/proc") else {
                return out;
            };
            for entry in dir.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<i32>().ok())
                else {
                    continue;
                };
                if !range.is_some_and(|(first, last)| pid <= first || pid > last) {
                    consider(pid);
                }
            }
        }
    }
    out
}

/// Whether `pid` is alive (not a zombie) and in group `pgid` or carrying `cookie`.
fn is_member(pid: i32, pgid: i32, cookie: &[u8], buf: &mut Vec<u8>) -> bool {
    if !read_into(&format!("/proc/{pid}/stat"), buf) {
        return false;
    }
    match parse_stat(buf) {
        None => false,
        Some(stat) if matches!(stat.state, b'Z' | b'X' | b'x') => false,
        Some(stat) if stat.pgrp == pgid => true,
        // Kernel threads have no environment at all.
        Some(stat) if stat.flags & PF_KTHREAD != 0 => false,
        Some(_) => {
            // A process in the middle of execve shows an empty environment for a moment
            // (the new image's is not set up yet): look again before deciding.
            let path = format!("/proc/{pid}/environ");
            let mut seen = false;
            settle(EXEC_WINDOW, || {
                seen = read_into(&path, buf);
                !(seen && buf.is_empty())
            });
            seen && environ_has(buf, cookie)
        }
    }
}

/// Whether `pid` has finished exiting: no such process, a zombie, or another process
/// (its start time is not `start`, the one recorded when it was seen).
pub(super) fn exited(pid: i32, start: Option<u64>) -> bool {
    let mut buf = Vec::with_capacity(512);
    if !read_into(&format!("/proc/{pid}/stat"), &mut buf) {
        return true;
    }
    let Some(fields) = after_comm(&buf) else {
        return true;
    };
    let mut fields = fields.split_ascii_whitespace();
    let zombie = matches!(
        fields.next().map(str::as_bytes),
        Some([b'Z' | b'X' | b'x', ..])
    );
    // Field 22 (start time) is the 20th after the comm.
    let now: Option<u64> = fields.nth(18).and_then(|t| t.parse().ok());
    zombie || (start.is_some() && now != start)
}

/// The start time of `pid` (clock ticks after boot), telling it from a later process
/// that gets the same pid.
pub(super) fn start_ticks(pid: i32) -> Option<u64> {
    let mut buf = Vec::with_capacity(512);
    if !read_into(&format!("/proc/{pid}/stat"), &mut buf) {
        return None;
    }
    after_comm(&buf)?
        .split_ascii_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// The fields of /proc/PID/stat after the command name.
fn after_comm(stat: &[u8]) -> Option<&str> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    std::str::from_utf8(&stat[close + 1..]).ok()
}

/// The last PID handed out in our PID namespace (kept open: read once per step).
fn last_pid() -> Option<i32> {
    static FILE: OnceLock<Option<File>> = OnceLock::new();
    let file = FILE
        .get_or_init(|| File::open("/proc/sys/kernel/ns_last_pid").ok())
        .as_ref()?;
    let mut buf = [0u8; 16];
    let n = file.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

fn read_into(path: &str, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    File::open(path)
        .and_then(|mut f| f.read_to_end(buf))
        .is_ok()
}

/// What /proc/PID/stat tells about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    state: u8,
    pgrp: i32,
    flags: u64,
}

/// State, process group and flags from /proc/PID/stat (`pid (comm) S ppid pgrp session
/// tty tpgid flags ...`; the comm may contain spaces and parentheses, so parse after the
/// last `)`).
fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let flags = fields.nth(3)?.parse().ok()?;
    Some(Stat { state, pgrp, flags })
}

/// Whether a NUL-separated environment block holds exactly this `NAME=VALUE` entry.
fn environ_has(environ: &[u8], entry: &[u8]) -> bool {
    environ.split(|&b| b == 0).any(|e| e == entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let stat = b"1234 (a) b (c) S 1 5678 5678 0 -1 4194560 ...";
        let expect = Stat {
            state: b'S',
            pgrp: 5678,
            flags: 4_194_560,
        };
        assert_eq!(parse_stat(stat), Some(expect));
        let kworker = b"57 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0";
        let k = parse_stat(kworker).unwrap();
        assert_eq!((k.state, k.pgrp), (b'I', 0));
        assert_ne!(k.flags & PF_KTHREAD, 0);
        assert_eq!(expect.flags & PF_KTHREAD, 0);
        assert_eq!(parse_stat(b"99 (sh) Z 1 99 99"), None);
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn exited_means_gone_or_a_zombie() {
        let me = i32::try_from(std::process::id()).unwrap();
        let start = start_ticks(me);
        assert!(start.is_some());
        assert!(!exited(me, start));
        assert!(!exited(me, None));
        // Same pid, another start time: another process.
        assert!(exited(me, start.map(|s| s + 1)));
        assert!(exited(i32::MAX, None));
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        // Not reaped yet: a zombie once it has exited.
        assert!(settle(Duration::from_secs(10), || exited(pid, None)));
        drop(child);
    }

    #[test]
    fn matches_whole_environment_entries() {
        let env = b"PATH=/bin\0BENCHMARK_TREE=1-2-3\0HOME=/root\0";
        assert!(environ_has(env, b"BENCHMARK_TREE=1-2-3"));
        assert!(!environ_has(env, b"BENCHMARK_TREE=1-2"));
        assert!(!environ_has(env, b"TREE=1-2-3"));
        assert!(environ_has(
            b"BENCHMARK_TREE=1-2-3",
            b"BENCHMARK_TREE=1-2-3"
        ));
    }
}
