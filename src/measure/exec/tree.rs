//! A step's process tree, found through its cgroup or, without one, through its process
//! group (plus, on Linux, an environment cookie); signalled and killed as a whole.

#[cfg(target_os = "linux")]
use std::sync::Mutex;
use std::time::Duration;

use crate::measure::CgroupUsage;
use crate::measure::cgroup::{StepCgroup, settle};

/// Name of the environment variable that marks a step's processes when no cgroup does.
pub(super) const COOKIE_VAR: &str = "BENCHMARK_TREE";

/// How long a SIGKILLed tree may take to disappear before we stop waiting.
const SETTLE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) enum Tree {
    Cgroup(StepCgroup),
    Plain {
        pgid: i32,
        /// `BENCHMARK_TREE=<value>`, as it appears in /proc/PID/environ.
        #[cfg(target_os = "linux")]
        cookie: String,
        /// Every pid a scan found. A signalled process stops showing its environment
        /// (its memory is torn down) while it still runs its exit, so a later scan
        /// misses it though it is not gone: it counts as live until it has exited.
        #[cfg(target_os = "linux")]
        /// Each with its start time, so that a reused pid is not waited for.
        seen: Mutex<Vec<(i32, Option<u64>)>>,
    },
}

impl Tree {
    pub(super) fn signal(&self, sig: libc::c_int) {
        match self {
            Tree::Cgroup(cg) => cg.signal(sig),
            #[cfg(target_os = "linux")]
            Tree::Plain { pgid, .. } => {
                // SAFETY: killpg/kill have no memory-safety preconditions.
                unsafe { libc::killpg(*pgid, sig) };
                // Only what the scan finds now: a pid seen earlier may have been reused.
                for pid in self.scan(None).0 {
                    // SAFETY: as above.
                    unsafe { libc::kill(pid, sig) };
                }
            }
            #[cfg(not(target_os = "linux"))]
            Tree::Plain { pgid } => {
                // SAFETY: killpg has no memory-safety preconditions.
                unsafe { libc::killpg(*pgid, sig) };
            }
        }
    }

    /// Live processes (zombies excluded), when that can be told.
    pub(super) fn live(&self) -> Option<usize> {
        match self {
            Tree::Cgroup(cg) => Some(cg.pids().len()),
            #[cfg(target_os = "linux")]
            Tree::Plain { .. } => Some(self.scan(None).1),
            #[cfg(not(target_os = "linux"))]
            Tree::Plain { pgid } => (!group_exists(*pgid)).then_some(0),
        }
    }

    /// Right after the main child `first` was reaped: does anything of the tree still run?
    /// Cheap when nothing does (one read, or a kill(2) and a filtered /proc scan).
    pub(super) fn outlived(&self, first: i32) -> bool {
        match self {
            Tree::Cgroup(cg) => !cg.pids().is_empty(),
            #[cfg(target_os = "linux")]
            Tree::Plain { pgid, .. } => {
                if group_exists(*pgid) {
                    // The group may hold only zombies: count properly.
                    self.live() != Some(0)
                } else {
                    !self.scan(Some(first)).0.is_empty()
                }
            }
            #[cfg(not(target_os = "linux"))]
            Tree::Plain { pgid } => {
                let _ = first;
                group_exists(*pgid)
            }
        }
    }

    /// SIGKILL the whole tree and wait (bounded) until it is gone.
    pub(super) fn kill_hard(&self) {
        match self {
            Tree::Cgroup(cg) => cg.kill_all(),
            Tree::Plain { .. } => {
                settle(SETTLE, || {
                    self.signal(libc::SIGKILL);
                    self.live() == Some(0)
                });
            }
        }
    }

    /// The live members found now, and how many processes are not gone yet: those, and
    /// every one seen before that has not finished exiting (see `seen`). `since`: as
    /// for [`super::linux::members`].
    #[cfg(target_os = "linux")]
    fn scan(&self, since: Option<i32>) -> (Vec<i32>, usize) {
        let Tree::Plain { pgid, cookie, seen } = self else {
            return (Vec::new(), 0);
        };
        let found = super::linux::members(*pgid, cookie.as_bytes(), since);
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        for &pid in &found {
            if !seen.iter().any(|&(p, _)| p == pid) {
                seen.push((pid, super::linux::start_ticks(pid)));
            }
        }
        seen.retain(|&(pid, start)| !super::linux::exited(pid, start));
        let pending = seen.len();
        (found, pending)
    }

    pub(super) fn cgroup_usage(&self) -> Option<CgroupUsage> {
        match self {
            Tree::Cgroup(cg) => Some(cg.usage()),
            Tree::Plain { .. } => None,
        }
    }

    /// Give back what the tree holds (the cgroup). The tree must be dead or abandoned.
    pub(super) fn release(self) {
        if let Tree::Cgroup(cg) = self {
            cg.release();
        }
    }
}

/// Whether any process (zombies included) is in the group.
fn group_exists(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::killpg(pgid, 0) == 0 }
}

/// SIGTERM the tree, give it up to `grace` to exit, SIGKILL what is left, release it.
/// For trees whose main child has already been reaped (leftovers).
pub(super) fn terminate(tree: Tree, grace: Duration) {
    tree.signal(libc::SIGTERM);
    settle(grace, || tree.live() == Some(0));
    tree.kill_hard();
    tree.release();
}
