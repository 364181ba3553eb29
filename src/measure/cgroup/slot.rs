//! One step cgroup: a directory per hierarchy whose files stay open, so that a cgroup
//! taken again from the pool costs no mkdir, rmdir or open — a peak reset and a few
//! `pread`s. Its counters are cumulative, so a step's usage is a difference of readings.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::linux::{CpuFile, Layout, Role};
use super::{parse, settle};
use crate::measure::CgroupUsage;

/// How long to wait for killed processes to leave a cgroup and for it to be removable.
const SETTLE: Duration = Duration::from_secs(5);

/// A cgroup still holding more memory than this after its step (page cache the step
/// wrote, mostly) is not reused: the next step's peak would stand on it.
pub(super) const REUSE_MEMORY_LIMIT: u64 = 1 << 20;

/// A text file larger than this is not one we understand.
const MAX_READ: usize = 1 << 20;

/// Cumulative counters of a cgroup at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    pub(super) cpu_user: Option<Duration>,
    pub(super) cpu_sys: Option<Duration>,
    pub(super) io_read: Option<u64>,
    pub(super) io_write: Option<u64>,
    /// Memory charged right now (`memory.current`, `memory.usage_in_bytes`).
    pub(super) memory: Option<u64>,
    /// Memory high-water mark since creation or the last reset.
    pub(super) memory_peak: Option<u64>,
}

impl Counters {
    /// What a step used between `base` (taken when its cgroup was handed out, right after
    /// the peak reset) and `self` (taken after it ended). The peak counts from what the
    /// cgroup held at `base`: at most [`REUSE_MEMORY_LIMIT`] left by earlier steps.
    pub(super) fn since(&self, base: &Counters) -> CgroupUsage {
        let dur = |now: Option<Duration>, then: Option<Duration>| Some(now?.saturating_sub(then?));
        let num = |now: Option<u64>, then: Option<u64>| Some(now?.saturating_sub(then?));
        CgroupUsage {
            cpu_user: dur(self.cpu_user, base.cpu_user),
            cpu_sys: dur(self.cpu_sys, base.cpu_sys),
            memory_peak_bytes: num(self.memory_peak, base.memory),
            io_read_bytes: num(self.io_read, base.io_read),
            io_write_bytes: num(self.io_write, base.io_write),
        }
    }
}

/// Whether a released cgroup may serve another step. Pure.
///
/// `live`: processes still inside (any hierarchy), `None` when that could not be read;
/// `memory`: what it still holds, `None` when that could not be read, `Some(None)`
/// without a memory controller; `peak_resettable`: whether its memory peak can be reset
/// for the next step.
pub(super) fn reusable(
    live: Option<usize>,
    memory: Option<Option<u64>>,
    peak_resettable: bool,
) -> bool {
    live == Some(0)
        && peak_resettable
        && memory.is_some_and(|m| m.is_none_or(|bytes| bytes <= REUSE_MEMORY_LIMIT))
}

/// The CPU file(s) of one hierarchy.
#[derive(Debug)]
enum Cpu {
    /// v2 `cpu.stat`, microseconds.
    V2(File),
    /// v1 `cpuacct.usage_user` and `cpuacct.usage_sys`, nanoseconds.
    Split { user: File, sys: File },
    /// v1 `cpuacct.stat`, USER_HZ ticks.
    Ticks(File),
}

/// The memory files of one hierarchy.
#[derive(Debug)]
struct Memory {
    /// `memory.peak` (v2) or `memory.max_usage_in_bytes` (v1), open for reading and
    /// writing: a write resets it. A v2 reset holds only for reads through the same open
    /// file (Linux ≥ 6.12), so this one descriptor is used for every reset and read.
    peak: File,
    /// `memory.current` (v2) or `memory.usage_in_bytes` (v1).
    current: File,
    v2: bool,
}

#[derive(Debug)]
enum Io {
    V2(File),
    Blkio(File),
}

/// One hierarchy's directory of a step cgroup, with its files.
#[derive(Debug)]
struct SlotPart {
    dir: PathBuf,
    role: Role,
    /// `cgroup.procs` for the child to write "0" to.
    join: File,
    /// The directory itself, for `clone3` into it (the v2 hierarchy only).
    dir_fd: Option<File>,
    /// `cgroup.procs` to list who is inside.
    procs: File,
    /// The directory, flocked: tells a later harness that its owner is alive.
    _lock: Option<File>,
    cpu: Option<Cpu>,
    memory: Option<Memory>,
    io: Option<Io>,
}

/// A step cgroup: one directory per hierarchy of the layout.
#[derive(Debug)]
pub(super) struct Slot {
    parts: Vec<SlotPart>,
    tracker: usize,
    /// `cgroup.kill` was written. Such a cgroup is not reused: on Linux 6.18 (seen
    /// here) every child later created in it with `clone3(CLONE_INTO_CGROUP)` is
    /// SIGKILLed at birth, as if the kill were still going on.
    killed: std::sync::atomic::AtomicBool,
}

impl Slot {
    /// Create the directories `name` under each part of `layout` and open their files.
    pub(super) fn create(layout: &Layout, name: &str) -> Result<Slot, String> {
        let mut slot = Slot {
            parts: Vec::with_capacity(layout.parts.len()),
            tracker: layout.tracker,
            killed: std::sync::atomic::AtomicBool::new(false),
        };
        for part in &layout.parts {
            let dir = part.parent.join(name);
            if let Err(e) = fs::create_dir(&dir) {
                slot.remove();
                return Err(format!("cannot create cgroup {}: {e}", dir.display()));
            }
            match SlotPart::open(dir.clone(), part.role) {
                Ok(p) => slot.parts.push(p),
                Err(e) => {
                    let _ = fs::remove_dir(&dir);
                    slot.remove();
                    return Err(format!(
                        "cannot open the files of cgroup {}: {e}",
                        dir.display()
                    ));
                }
            }
        }
        Ok(slot)
    }

    /// Descriptors for [`super::join`], valid as long as the slot.
    pub(super) fn join_fds(&self) -> Vec<RawFd> {
        self.parts.iter().map(|p| p.join.as_raw_fd()).collect()
    }

    /// The v2 part's directory descriptor and the others' `cgroup.procs` descriptors;
    /// `None` (and every part) without a v2 part.
    pub(super) fn clone_into(&self) -> (Option<RawFd>, Vec<RawFd>) {
        let into = self.parts.iter().position(|p| p.dir_fd.is_some());
        let rest = self
            .parts
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != into)
            .map(|(_, p)| p.join.as_raw_fd())
            .collect();
        (
            into.and_then(|i| self.parts[i].dir_fd.as_ref().map(AsRawFd::as_raw_fd)),
            rest,
        )
    }

    /// Live processes in the cgroup (the kernel does not list zombies); none when the
    /// list cannot be read.
    pub(super) fn pids(&self) -> Vec<i32> {
        self.parts
            .get(self.tracker)
            .and_then(|p| pids_of(&p.procs))
            .unwrap_or_default()
    }

    /// Live processes in any of the hierarchies (a process may have moved itself out of
    /// the tracking one); `None` when a list cannot be read.
    fn live_anywhere(&self) -> Option<usize> {
        self.parts
            .iter()
            .map(|p| pids_of(&p.procs).map(|pids| pids.len()))
            .sum()
    }

    /// Reset the memory peak to what the cgroup holds now. Err: it cannot be reset.
    pub(super) fn reset_peak(&self) -> io::Result<()> {
        for memory in self.parts.iter().filter_map(|p| p.memory.as_ref()) {
            let value: &[u8] = if memory.v2 { b"reset\n" } else { b"0\n" };
            memory.peak.write_at(value, 0)?;
        }
        Ok(())
    }

    /// Read every counter; for each metric the first hierarchy that offers it wins.
    pub(super) fn counters(&self) -> Counters {
        let mut c = Counters::default();
        let mut buf = Vec::new();
        for part in &self.parts {
            if c.cpu_user.is_none()
                && let Some(cpu) = &part.cpu
            {
                (c.cpu_user, c.cpu_sys) = read_cpu(cpu, &mut buf);
            }
            if c.memory.is_none()
                && let Some(m) = &part.memory
            {
                c.memory = read_text(&m.current, &mut buf).and_then(parse::single);
                c.memory_peak = read_text(&m.peak, &mut buf).and_then(parse::single);
            }
            if c.io_read.is_none()
                && let Some(io) = &part.io
            {
                let seen = match io {
                    Io::V2(f) => read_text(f, &mut buf).map(parse::io_stat),
                    Io::Blkio(f) => read_text(f, &mut buf).map(parse::blkio),
                };
                if let Some((r, w)) = seen {
                    (c.io_read, c.io_write) = (Some(r), Some(w));
                }
            }
        }
        c
    }

    /// What the memory hierarchy still holds: `Some(None)` without one, `None` when it
    /// cannot be read.
    fn memory_held(&self) -> Option<Option<u64>> {
        let mut buf = Vec::new();
        match self.parts.iter().find_map(|p| p.memory.as_ref()) {
            None => Some(None),
            Some(m) => read_text(&m.current, &mut buf)
                .and_then(parse::single)
                .map(Some),
        }
    }

    /// Whether the slot may serve another step (see [`reusable`]).
    pub(super) fn reusable(&self, peak_resettable: bool) -> bool {
        !self.killed.load(std::sync::atomic::Ordering::Relaxed)
            && reusable(self.live_anywhere(), self.memory_held(), peak_resettable)
    }

    /// SIGKILL everything in the cgroup and wait (bounded) until it is empty:
    /// `cgroup.kill` where present, else freeze → kill → thaw, then a kill loop.
    pub(super) fn kill_all(&self) {
        let unified_kill = self
            .parts
            .iter()
            .find(|p| matches!(p.role, Role::Unified { kill: true, .. }));
        let freezer = self
            .parts
            .iter()
            .find(|p| matches!(p.role, Role::V1 { freezer: true, .. }));
        if let Some(p) = unified_kill {
            self.killed
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = fs::write(p.dir.join("cgroup.kill"), "1");
        } else if let Some(p) = freezer {
            freeze_and_kill(&p.dir);
        }
        settle(SETTLE, || {
            let pids = self.pids();
            for &pid in &pids {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            pids.is_empty()
        });
    }

    /// Kill what is left and remove the directories (waits, bounded, for exiting
    /// processes to leave first).
    pub(super) fn remove(self) {
        if !self.pids().is_empty() {
            self.kill_all();
        }
        for part in self.parts.into_iter().rev() {
            let SlotPart { dir, .. } = part;
            settle(SETTLE, || match fs::remove_dir(&dir) {
                Ok(()) => true,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            });
        }
    }
}

impl Slot {
    /// The directories (tests).
    #[cfg(test)]
    pub(super) fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.parts.iter().map(|p| p.dir.as_path())
    }
}

impl SlotPart {
    fn open(dir: PathBuf, role: Role) -> io::Result<SlotPart> {
        let read = |file: &str| File::open(dir.join(file));
        let read_write = |file: &str| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(dir.join(file))
        };
        let join = OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))?;
        let procs = read("cgroup.procs")?;
        let dir_fd = match role {
            Role::Unified { .. } => File::open(&dir).ok(),
            Role::V1 { .. } => None,
        };
        let (cpu, memory, io) = match role {
            Role::Unified { memory, io, .. } => (
                Some(Cpu::V2(read("cpu.stat")?)),
                if memory {
                    // Read-only when the kernel cannot reset it (< 6.12): still readable.
                    let peak = read_write("memory.peak").or_else(|_| read("memory.peak"))?;
                    Some(Memory {
                        peak,
                        current: read("memory.current")?,
                        v2: true,
                    })
                } else {
                    None
                },
                if io {
                    Some(Io::V2(read("io.stat")?))
                } else {
                    None
                },
            ),
            Role::V1 {
                memory, cpu, blkio, ..
            } => (
                match cpu {
                    Some(CpuFile::Split) => Some(Cpu::Split {
                        user: read("cpuacct.usage_user")?,
                        sys: read("cpuacct.usage_sys")?,
                    }),
                    Some(CpuFile::Stat) => Some(Cpu::Ticks(read("cpuacct.stat")?)),
                    None => None,
                },
                if memory {
                    Some(Memory {
                        peak: read_write("memory.max_usage_in_bytes")?,
                        current: read("memory.usage_in_bytes")?,
                        v2: false,
                    })
                } else {
                    None
                },
                match blkio {
                    Some(file) => Some(Io::Blkio(read(file)?)),
                    None => None,
                },
            ),
        };
        Ok(SlotPart {
            _lock: crate::measure::stale::lock(&dir),
            dir,
            role,
            join,
            dir_fd,
            procs,
            cpu,
            memory,
            io,
        })
    }
}

/// Read a whole (small) kernel text file from its start into `buf`.
fn read_text<'b>(file: &File, buf: &'b mut Vec<u8>) -> Option<&'b str> {
    crate::measure::procfs::read_text(file, buf, MAX_READ)
}

fn pids_of(procs: &File) -> Option<Vec<i32>> {
    let mut buf = Vec::new();
    read_text(procs, &mut buf).map(|t| {
        t.split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    })
}

fn read_cpu(cpu: &Cpu, buf: &mut Vec<u8>) -> (Option<Duration>, Option<Duration>) {
    match cpu {
        Cpu::V2(f) => match read_text(f, buf) {
            Some(t) => (
                parse::keyed(t, "user_usec").map(Duration::from_micros),
                parse::keyed(t, "system_usec").map(Duration::from_micros),
            ),
            None => (None, None),
        },
        Cpu::Split { user, sys } => {
            let user = read_text(user, buf)
                .and_then(parse::single)
                .map(Duration::from_nanos);
            let sys = read_text(sys, buf)
                .and_then(parse::single)
                .map(Duration::from_nanos);
            (user, sys)
        }
        Cpu::Ticks(f) => match read_text(f, buf) {
            Some(t) => (
                parse::keyed(t, "user").map(ticks_to_duration),
                parse::keyed(t, "system").map(ticks_to_duration),
            ),
            None => (None, None),
        },
    }
}

/// v1 freezer: freeze so nothing can fork, SIGKILL everything, thaw so they die.
fn freeze_and_kill(dir: &Path) {
    let state = dir.join("freezer.state");
    if fs::write(&state, "FROZEN").is_ok() {
        settle(Duration::from_secs(1), || {
            fs::read_to_string(&state).is_ok_and(|s| s.trim() == "FROZEN")
        });
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = fs::write(&state, "THAWED");
    }
}

fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100);
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000 / hz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn usage_is_the_difference_of_readings() {
        let base = Counters {
            cpu_user: ms(900),
            cpu_sys: ms(100),
            io_read: Some(4096),
            io_write: Some(0),
            memory: Some(300_000),
            memory_peak: Some(300_000),
        };
        let now = Counters {
            cpu_user: ms(950),
            cpu_sys: ms(130),
            io_read: Some(8192),
            io_write: Some(512),
            memory: Some(310_000),
            memory_peak: Some(5_300_000),
        };
        let u = now.since(&base);
        assert_eq!(u.cpu_user, ms(50));
        assert_eq!(u.cpu_sys, ms(30));
        assert_eq!(u.io_read_bytes, Some(4096));
        assert_eq!(u.io_write_bytes, Some(512));
        assert_eq!(u.memory_peak_bytes, Some(5_000_000));
    }

    #[test]
    fn a_fresh_cgroup_reports_its_readings_as_they_are() {
        let base = Counters {
            cpu_user: ms(0),
            cpu_sys: ms(0),
            memory: Some(0),
            ..Counters::default()
        };
        let now = Counters {
            cpu_user: ms(7),
            cpu_sys: ms(1),
            memory: Some(0),
            memory_peak: Some(200 << 20),
            ..Counters::default()
        };
        let u = now.since(&base);
        assert_eq!(u.memory_peak_bytes, Some(200 << 20));
        assert_eq!(u.cpu_user, ms(7));
        assert_eq!(u.io_read_bytes, None);
    }

    #[test]
    fn a_missing_reading_on_either_side_gives_none_and_nothing_goes_negative() {
        let base = Counters {
            cpu_user: None,
            cpu_sys: ms(10),
            io_read: Some(100),
            io_write: Some(100),
            memory: Some(4096),
            memory_peak: None,
        };
        let now = Counters {
            cpu_user: ms(5),
            cpu_sys: ms(5),
            io_read: Some(50),
            io_write: None,
            memory: Some(0),
            memory_peak: Some(1024),
        };
        let u = now.since(&base);
        assert_eq!(u.cpu_user, None);
        assert_eq!(u.cpu_sys, ms(0));
        assert_eq!(u.io_read_bytes, Some(0));
        assert_eq!(u.io_write_bytes, None);
        // Memory left by an earlier step was freed during this one.
        assert_eq!(u.memory_peak_bytes, Some(0));
    }

    #[test]
    fn only_empty_small_resettable_cgroups_are_reused() {
        assert!(reusable(Some(0), Some(None), true));
        assert!(reusable(Some(0), Some(Some(0)), true));
        assert!(reusable(Some(0), Some(Some(REUSE_MEMORY_LIMIT)), true));
        // A process is still inside, or who is inside cannot be told.
        assert!(!reusable(Some(1), Some(Some(0)), true));
        assert!(!reusable(None, Some(Some(0)), true));
        // It holds the page cache a step wrote.
        assert!(!reusable(Some(0), Some(Some(REUSE_MEMORY_LIMIT + 1)), true));
        // Its memory could not be read.
        assert!(!reusable(Some(0), None, true));
        // The kernel cannot reset its peak.
        assert!(!reusable(Some(0), Some(None), false));
    }
}
