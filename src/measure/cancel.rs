//! Cancellation by token: SIGINT/SIGTERM set a flag and wake a self-pipe that the
//! executor polls, so a running step is killed at once and the run can stop cleanly.
//!
//! The pipe is written once and never read, so a cancelled token stays readable
//! (level-triggered) for every later poll. A second SIGINT/SIGTERM after cancellation
//! exits the process at once with status 130.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Exit status of the process on a second interrupt (shell convention for SIGINT).
const SECOND_SIGNAL_EXIT: i32 = 130;

/// A cancellation token shared by the runner and the executor. Clones share the state.
#[derive(Debug, Clone)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// An `Arc` of its own because signal-hook's conditional shutdown wants one.
    cancelled: Arc<AtomicBool>,
    /// The first signal that cancelled, 0 for none.
    signal: AtomicI32,
    read: OwnedFd,
    write: OwnedFd,
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
}

impl Cancel {
    /// A token that only `cancel()` triggers (tests, library use).
    ///
    /// # Panics
    /// When the process is out of file descriptors (two are needed for the self-pipe).
    pub fn new() -> Self {
        let (read, write) = self_pipe().expect("cannot create the cancellation pipe");
        Self {
            inner: Arc::new(Inner {
                cancelled: Arc::new(AtomicBool::new(false)),
                signal: AtomicI32::new(0),
                read,
                write,
            }),
        }
    }

    /// A token also triggered by SIGINT and SIGTERM (remembering which). While it is
    /// cancelled, another SIGINT or SIGTERM exits the process at once with status 130.
    pub fn install_signal_handlers() -> io::Result<Self> {
        let token = Self::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // Registered first so that it sees the flag as it was before this signal.
            signal_hook::flag::register_conditional_shutdown(
                sig,
                SECOND_SIGNAL_EXIT,
                Arc::clone(&token.inner.cancelled),
            )?;
            let inner = Arc::clone(&token.inner);
            // SAFETY: the action only touches atomics and calls write(2), both
            // async-signal-safe; it never allocates or locks.
            unsafe { signal_hook::low_level::register(sig, move || inner.trigger(sig)) }?;
        }
        Ok(token)
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
    /// and the second signal ends the process.
    #[test]
    fn signals_cancel_then_a_second_one_exits_130() {
        const CHILD: &str = "BENCHMARK_TEST_CANCEL_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let c = Cancel::install_signal_handlers().unwrap();
            assert!(!c.is_cancelled());
            signal_hook::low_level::raise(libc::SIGTERM).unwrap();
            assert!(c.is_cancelled());
            assert!(readable(&c));
            println!("cancelled by signal {:?}", c.signal());
            signal_hook::low_level::raise(libc::SIGINT).unwrap();
            println!("still alive after the second signal");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "measure::cancel::tests::signals_cancel_then_a_second_one_exits_130",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("cancelled by signal Some({})", libc::SIGTERM)),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stdout.contains("still alive"), "{stdout}");
        assert_eq!(out.status.code(), Some(130));
    }
}
