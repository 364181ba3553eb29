//! Linux specifics of the executor: pidfd exit notification, and finding a step's
//! processes without a cgroup — its process group plus every process whose environment
//! carries the step's cookie (as Jenkins' ProcessTreeKiller does), so daemons that
//! escaped with `setsid` are found too.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// Up to this many PIDs handed out since the step started are probed one by one;
/// beyond, /proc is listed.
const DIRECT_PROBE_LIMIT: i32 = 32;

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
    match stat_state_pgrp(buf) {
        None | Some((b'Z' | b'X' | b'x', _)) => false,
        Some((_, pgrp)) if pgrp == pgid => true,
        Some(_) => read_into(&format!("/proc/{pid}/environ"), buf) && environ_has(buf, cookie),
    }
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

/// State and process group from /proc/PID/stat (`pid (comm) S ppid pgrp ...`; the comm
/// may contain spaces and parentheses, so parse after the last `)`).
fn stat_state_pgrp(stat: &[u8]) -> Option<(u8, i32)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
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
        assert_eq!(stat_state_pgrp(stat), Some((b'S', 5678)));
        assert_eq!(stat_state_pgrp(b"99 (sh) Z 1 99 99"), Some((b'Z', 99)));
        assert_eq!(stat_state_pgrp(b"garbage"), None);
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
