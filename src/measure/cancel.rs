//! Cancellation by token: SIGINT/SIGTERM/SIGHUP set a flag and wake a self-pipe that the
//! executor polls, so a running step is killed at once and the run can stop cleanly.
//!
//! The pipe is written once and never read, so a cancelled token stays readable
//! (level-triggered) for every later poll. A second signal after cancellation triggers
//! the token's *hard* stage ([`Cancel::hard`]): the grace period of a tree being killed
//! ends at once and the teardown is skipped, but every process is still killed and every
//! cgroup and temporary file removed. Only a third signal exits the process at once
//! (status 130), leaving whatever is running.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Exit status of the process on a third interrupt (shell convention for SIGINT).
const THIRD_SIGNAL_EXIT: i32 = 130;

/// The signals that cancel a run: Ctrl-C, `kill`, and a terminal (SSH session) that went away.
pub const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// A cancellation token shared by the runner and the executor. Clones share the state.
#[derive(Debug, Clone)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cancelled: AtomicBool,
    /// The first signal that cancelled, 0 for none.
    signal: AtomicI32,
    read: OwnedFd,
    write: OwnedFd,
    /// The hard stage, triggered by a signal that arrives once this token is cancelled.
    hard: Option<Cancel>,
}

impl Inner {
    /// Async-signal-safe: atomics and one non-blocking write(2).
    fn trigger(&self, signal: i32) {
        if signal != 0 {
            let _ = self
                .signal
                .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        }
        if !self.cancelled.swap(true, Ordering::SeqCst) {
            // SAFETY: writes one byte from a static buffer to a descriptor we own.
            unsafe { libc::write(self.write.as_raw_fd(), b"!".as_ptr().cast(), 1) };
        }
    }

    /// Async-signal-safe: the first signal cancels, the second triggers the hard stage,
    /// the third exits.
    fn on_signal(&self, signal: i32) {
        match &self.hard {
            Some(hard) if self.cancelled.load(Ordering::SeqCst) => {
                if hard.inner.cancelled.load(Ordering::SeqCst) {
                    // SAFETY: _exit(2) is async-signal-safe.
                    unsafe { libc::_exit(THIRD_SIGNAL_EXIT) };
                }
                hard.inner.trigger(signal);
            }
            _ => self.trigger(signal),
        }
    }
}

impl Cancel {
    /// A token that only `cancel()` triggers (tests, library use).
    ///
    /// # Panics
    /// When the process is out of file descriptors (two are needed for the self-pipe).
    pub fn new() -> Self {
        Self::with_hard(None)
    }

    fn with_hard(hard: Option<Cancel>) -> Self {
        let (read, write) = self_pipe().expect("cannot create the cancellation pipe");
        Self {
            inner: Arc::new(Inner {
                cancelled: AtomicBool::new(false),
                signal: AtomicI32::new(0),
                read,
                write,
                hard,
            }),
        }
    }

    /// A token triggered by SIGINT, SIGTERM and SIGHUP (remembering which). While it is
    /// cancelled, another of them triggers [`Cancel::hard`]; a third exits the process at
    /// once with status 130.
    pub fn install_signal_handlers() -> io::Result<Self> {
        let token = Self::with_hard(Some(Self::new()));
        for sig in SIGNALS {
            let inner = Arc::clone(&token.inner);
            // SAFETY: the action only touches atomics and calls write(2) or _exit(2), all
            // async-signal-safe; it never allocates or locks.
            unsafe { signal_hook::low_level::register(sig, move || inner.on_signal(sig)) }?;
        }
        Ok(token)
    }

    /// The hard stage of this token: cancelled by a second signal (or [`Cancel::escalate`]).
    /// What must not be skipped lightly (the teardown) runs under it; a tree being killed
    /// under this token loses its grace period when it triggers. A token without a hard
    /// stage gets a fresh one that only `cancel()` triggers.
    pub fn hard(&self) -> Cancel {
        self.inner.hard.clone().unwrap_or_default()
    }

    /// Cancel, then trigger the hard stage, as two signals do.
    pub fn escalate(&self) {
        self.cancel();
        if let Some(hard) = &self.inner.hard {
            hard.cancel();
        }
    }

    /// Readable once the hard stage is triggered, when there is one.
    pub(crate) fn hard_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.hard.as_ref().map(Cancel::fd)
    }

    /// Cancel: every running and later `execute` with this token stops its step.
    pub fn cancel(&self) {
        self.inner.trigger(0);
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// The signal that cancelled, if a signal did.
    pub fn signal(&self) -> Option<i32> {
        match self.inner.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Readable once the token is cancelled, and from then on (for poll).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.inner.read.as_fd()
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new()
    }
}

/// A close-on-exec pipe with both ends non-blocking, for waking poll() from a signal
/// handler or another thread.
pub(crate) fn self_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        use nix::fcntl::OFlag;
        Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        let (read, write) = nix::unistd::pipe()?;
        for fd in [&read, &write] {
            set_flags(fd.as_raw_fd())?;
        }
        Ok((read, write))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn set_flags(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd_flags = libc::fcntl(fd, libc::F_GETFD);
        if fd_flags < 0 || libc::fcntl(fd, libc::F_SETFD, fd_flags | libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(c: &Cancel) -> bool {
        let mut pfd = libc::pollfd {
            fd: c.fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    #[test]
    fn cancel_sets_flag_and_stays_readable() {
        let c = Cancel::new();
        let clone = c.clone();
        assert!(!c.is_cancelled());
        assert!(!readable(&c));
        clone.cancel();
        clone.cancel();
        assert!(c.is_cancelled());
        assert_eq!(c.signal(), None);
        assert!(readable(&c));
        // Level-triggered: still readable on the next look.
        assert!(readable(&c));
    }

    #[test]
    fn tokens_are_independent() {
        let a = Cancel::new();
        let b = Cancel::default();
        a.cancel();
        assert!(!b.is_cancelled());
        assert!(!readable(&b));
    }

    /// Runs itself as a child process: signals must not hit the shared test process,
    /// and the third signal ends the process.
    #[test]
    fn signals_cancel_then_harden_then_a_third_one_exits_130() {
        const CHILD: &str = "BENCHMARK_TEST_CANCEL_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let c = Cancel::install_signal_handlers().unwrap();
            let hard = c.hard();
            assert!(!c.is_cancelled());
            signal_hook::low_level::raise(libc::SIGHUP).unwrap();
            assert!(c.is_cancelled());
            assert!(readable(&c));
            assert!(!hard.is_cancelled());
            println!("cancelled by signal {:?}", c.signal());
            signal_hook::low_level::raise(libc::SIGINT).unwrap();
            assert!(hard.is_cancelled());
            assert!(readable(&hard));
            println!("hard stage after the second signal");
            signal_hook::low_level::raise(libc::SIGTERM).unwrap();
            println!("still alive after the third signal");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "measure::cancel::tests::signals_cancel_then_harden_then_a_third_one_exits_130",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("cancelled by signal Some({})", libc::SIGHUP)),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("hard stage"), "{stdout}");
        assert!(!stdout.contains("still alive"), "{stdout}");
        assert_eq!(out.status.code(), Some(130));
    }
}
