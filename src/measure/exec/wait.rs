//! Waiting for the main child: a pollable exit notification (a pidfd on Linux, a SIGCHLD
//! self-pipe elsewhere) and `wait4` for its status and the kernel's rusage.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::measure::{Rusage, Termination};

/// How the main child ended, with the instant `wait4` returned.
#[derive(Debug, Clone, Copy)]
pub(super) struct Exit {
    pub(super) termination: Termination,
    pub(super) rusage: Rusage,
    pub(super) at: Instant,
}

/// Becomes readable when the child may have exited.
#[derive(Debug)]
pub(super) struct ExitWatch {
    fd: OwnedFd,
    /// The SIGCHLD registration of the fallback: one per watch, so concurrent executes
    /// each get woken (a shared pipe would let one execute swallow another's wake-up).
    sigchld: Option<signal_hook::SigId>,
}

impl ExitWatch {
    pub(super) fn new(pid: i32) -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        if let Ok(fd) = super::linux::pidfd(pid) {
            return Ok(Self { fd, sigchld: None });
        }
        let _ = pid;
        Self::sigchld()
    }

    /// The portable fallback: a SIGCHLD self-pipe of our own.
    fn sigchld() -> io::Result<Self> {
        let (read, write) = crate::measure::cancel::self_pipe()?;
        let id = signal_hook::low_level::pipe::register(libc::SIGCHLD, write)?;
        Ok(Self {
            fd: read,
            sigchld: Some(id),
        })
    }

    /// The SIGCHLD fallback cannot see an exit that happened before it was registered:
    /// the caller must try `wait4` once before the first poll.
    pub(super) fn may_have_missed_exit(&self) -> bool {
        self.sigchld.is_some()
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Consume the wake-up (a pidfd stays readable; a self-pipe must be emptied).
    pub(super) fn clear(&self) {
        if self.sigchld.is_some() {
            let mut buf = [0u8; 64];
            while matches!(nix::unistd::read(&self.fd, &mut buf), Ok(n) if n > 0) {}
        }
    }
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        if let Some(id) = self.sigchld.take() {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// `wait4` for exactly this pid (never -1: other executes may run in this process).
/// `Ok(None)` while it is still running (only when `block` is false).
pub(super) fn wait4(pid: i32, block: bool) -> io::Result<Option<Exit>> {
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain old data; zero is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to locals.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        let at = Instant::now();
        if r == pid {
            return Ok(Some(Exit {
                termination: termination(status),
                rusage: rusage(&ru),
                at,
            }));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn termination(status: libc::c_int) -> Termination {
    if libc::WIFSIGNALED(status) {
        Termination::Signaled(libc::WTERMSIG(status))
    } else {
        Termination::Exited(libc::WEXITSTATUS(status))
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

fn rusage(ru: &libc::rusage) -> Rusage {
    let maxrss = u64::try_from(ru.ru_maxrss).unwrap_or(0);
    // ru_maxrss is bytes on Apple platforms, KiB elsewhere.
    let max_rss_bytes = if cfg!(target_vendor = "apple") {
        maxrss
    } else {
        maxrss.saturating_mul(1024)
    };
    Rusage {
        user: timeval(ru.ru_utime),
        sys: timeval(ru.ru_stime),
        max_rss_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigchld_fallback_wakes_and_reaps() {
        let watch = ExitWatch::sigchld().unwrap();
        assert!(watch.may_have_missed_exit());
        #[expect(clippy::zombie_processes, reason = "reaped below with wait4")]
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 0.05; exit 7"])
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = wait4(pid, false).unwrap() {
                break exit;
            }
            assert!(Instant::now() < end, "no SIGCHLD wake-up");
            let mut pfd = libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(&watch.fd()),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, 10_000) };
            watch.clear();
        };
        assert_eq!(exit.termination, Termination::Exited(7));
    }

    #[test]
    fn decodes_wait_status() {
        // Linux/BSD encoding: exit code in bits 8..16, signal in the low 7 bits.
        assert_eq!(termination(3 << 8), Termination::Exited(3));
        assert_eq!(termination(9), Termination::Signaled(9));
    }

    #[test]
    fn converts_rusage() {
        // SAFETY: plain old data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        ru.ru_utime.tv_sec = 1;
        ru.ru_utime.tv_usec = 500_000;
        ru.ru_stime.tv_usec = 250;
        ru.ru_maxrss = 2048;
        let r = rusage(&ru);
        assert_eq!(r.user, Duration::from_millis(1500));
        assert_eq!(r.sys, Duration::from_micros(250));
        let expected = if cfg!(target_vendor = "apple") {
            2048
        } else {
            2048 * 1024
        };
        assert_eq!(r.max_rss_bytes, expected);
    }
}
