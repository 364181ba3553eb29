//! A step's process tree, found through its cgroup or, without one, through its process
//! group (plus, on Linux, an environment cookie); signalled and killed as a whole.

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
    },
}

impl Tree {
    pub(super) fn signal(&self, sig: libc::c_int) {
        match self {
            Tree::Cgroup(cg) => cg.signal(sig),
            Tree::Plain {
                pgid,
                #[cfg(target_os = "linux")]
                cookie,
            } => {
                // SAFETY: killpg/kill have no memory-safety preconditions.
                unsafe { libc::killpg(*pgid, sig) };
                #[cfg(target_os = "linux")]
                for pid in super::linux::members(*pgid, cookie.as_bytes(), None) {
                    // SAFETY: as above.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
    }

    /// Live processes (zombies excluded), when that can be told.
    pub(super) fn live(&self) -> Option<usize> {
        match self {
            Tree::Cgroup(cg) => Some(cg.pids().len()),
            #[cfg(target_os = "linux")]
            Tree::Plain { pgid, cookie } => {
                Some(super::linux::members(*pgid, cookie.as_bytes(), None).len())
            }
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
            Tree::Plain { pgid, cookie } => {
                if group_exists(*pgid) {
                    // The group may hold only zombies: count properly.
                    self.live() != Some(0)
                } else {
                    !super::linux::members(*pgid, cookie.as_bytes(), Some(first)).is_empty()
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
