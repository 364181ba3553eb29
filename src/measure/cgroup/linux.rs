//! Linux per-step cgroups: probe the hierarchies once per process, then hand out one
//! cgroup per step (reused from a small pool when the last step left it empty), join it
//! from the child between clone and exec, read, kill, and give it back.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::parse;
use super::pool::{Discard, Pool};
use super::slot::{Counters, Slot};
use crate::measure::CgroupUsage;

/// Environment variable that picks the back end: `off`, `auto` (default), `v1` or `v2`.
pub(crate) const ENV: &str = "BENCHMARK_CGROUP";

/// v1 controllers worth a hierarchy of their own, best first.
const V1_CONTROLLERS: [&str; 5] = ["memory", "cpuacct", "blkio", "freezer", "pids"];
/// v2 controllers to enable for the per-step children.
const V2_CONTROLLERS: [&str; 4] = ["cpu", "memory", "io", "pids"];
/// blkio byte counters, best first (the throttle layer sees I/O whatever the scheduler).
const BLKIO_FILES: [&str; 4] = [
    "blkio.throttle.io_service_bytes_recursive",
    "blkio.throttle.io_service_bytes",
    "blkio.io_service_bytes_recursive",
    "blkio.io_service_bytes",
];

/// Per-process sequence for unique cgroup names.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// The process-wide probe (see [`probe`]).
static PROBE: OnceLock<Probe> = OnceLock::new();

/// Which hierarchies the user allows (`BENCHMARK_CGROUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Off,
    Auto,
    V1,
    V2,
}

impl Mode {
    /// Reads a `BENCHMARK_CGROUP` value; an unknown value means `auto`, with a note.
    pub(crate) fn parse(value: Option<&str>) -> (Mode, Option<String>) {
        let value = value.map(|v| v.trim().to_ascii_lowercase());
        match value.as_deref() {
            None | Some("" | "auto") => (Mode::Auto, None),
            Some("off" | "none" | "0" | "false" | "no") => (Mode::Off, None),
            Some("v1") => (Mode::V1, None),
            Some("v2") => (Mode::V2, None),
            Some(other) => (
                Mode::Auto,
                Some(format!(
                    "{ENV}={other:?} is not one of off, auto, v1, v2; using auto"
                )),
            ),
        }
    }
}

/// Which combination of hierarchies a layout uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    V2,
    V1,
    Hybrid,
}

impl Kind {
    fn method(self) -> &'static str {
        match self {
            Kind::V2 => "wait4+cgroup-v2",
            Kind::V1 => "wait4+cgroup-v1",
            Kind::Hybrid => "wait4+cgroup-hybrid",
        }
    }
}

/// How CPU time is read from a v1 cpuacct cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CpuFile {
    /// `cpuacct.usage_user` / `cpuacct.usage_sys`, nanoseconds.
    Split,
    /// `cpuacct.stat`, USER_HZ ticks.
    Stat,
}

/// What one hierarchy is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The v2 hierarchy (pure v2, or the unified one of a hybrid host): tracks the tree,
    /// kills it (`cgroup.kill`) and reads `cpu.stat`; memory and io when delegated.
    Unified { kill: bool, memory: bool, io: bool },
    V1 {
        memory: bool,
        cpu: Option<CpuFile>,
        blkio: Option<&'static str>,
        freezer: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    /// Our own cgroup in this hierarchy: step cgroups are created below it.
    pub(super) parent: PathBuf,
    pub(super) role: Role,
}

/// The chosen hierarchies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) kind: Kind,
    pub(super) parts: Vec<Part>,
    /// Index of the part whose `cgroup.procs` lists the tree.
    pub(super) tracker: usize,
    /// Whether a step cgroup may serve several steps: false when a v2 memory peak cannot
    /// be reset (Linux < 6.12), since every step needs a peak of its own.
    reuse: bool,
}

/// What the probe found, and why anything stronger was not used.
#[derive(Debug)]
pub(crate) struct Probe {
    pub(crate) layout: Option<Layout>,
    note: Option<String>,
    /// Idle step cgroups; shared with the steps that hold one, which give it back. The
    /// last owner's drop removes what is idle.
    pool: Arc<Pool<Slot>>,
}

/// The process-wide probe, run once (honours `BENCHMARK_CGROUP`). Its idle cgroups are
/// removed by [`cleanup`], and at the latest when the process exits normally.
pub(crate) fn probe() -> &'static Probe {
    PROBE.get_or_init(|| {
        let value = std::env::var(ENV).ok();
        let (mode, warning) = Mode::parse(value.as_deref());
        let mut probe = Probe::run(mode);
        if let Some(w) = warning {
            probe.note = Some(match probe.note.take() {
                Some(n) => format!("{w}; {n}"),
                None => w,
            });
        }
        if probe.layout.is_some() {
            // SAFETY: registers a function that only touches our own statics; failure
            // (the table is full) merely leaves idle cgroups for `cleanup` alone.
            unsafe { libc::atexit(cleanup_at_exit) };
        }
        probe
    })
}

/// Remove the idle step cgroups of the process-wide probe. Steps still running keep
/// theirs; later steps create new ones. Call when a run is over.
pub(crate) fn cleanup() {
    if let Some(probe) = PROBE.get() {
        probe.pool.clear();
    }
}

extern "C" fn cleanup_at_exit() {
    if let Some(probe) = PROBE.get() {
        probe.pool.try_clear();
    }
}

impl Discard for Slot {
    fn discard(self) {
        self.remove();
    }
}

impl Probe {
    fn without(note: String) -> Probe {
        Probe {
            layout: None,
            note: Some(note),
            pool: Arc::default(),
        }
    }

    /// Probe the hierarchies this process may use (creates and removes a test cgroup in
    /// each; on a pure v2 host it may move this process into a leaf, see `enable_v2`).
    pub(crate) fn run(mode: Mode) -> Probe {
        if mode == Mode::Off {
            return Probe::without(format!("cgroups turned off ({ENV}=off)"));
        }
        let texts = fs::read_to_string("/proc/self/cgroup")
            .and_then(|c| Ok((c, fs::read_to_string("/proc/self/mountinfo")?)));
        let (cgroups, mountinfo) = match texts {
            Ok(t) => t,
            Err(e) => {
                return Probe::without(format!("cannot read /proc/self/cgroup or mountinfo: {e}"));
            }
        };
        let members = parse::proc_cgroup(&cgroups);
        let mounts = parse::mountinfo(&mountinfo);
        let mut reasons = Vec::new();
        let unified = if mode == Mode::V1 {
            None
        } else {
            match unified_dir(&members, &mounts) {
                Some(dir) => probe_unified(&dir).map_err(|e| reasons.push(e)).ok(),
                None => {
                    reasons.push("no cgroup2 hierarchy shows our cgroup".to_owned());
                    None
                }
            }
        };
        let v1 = if mode == Mode::V2 {
            Vec::new()
        } else {
            probe_v1(&members, &mounts, &mut reasons)
        };
        let probe = decide(unified, v1, reasons);
        for part in probe.layout.iter().flat_map(|l| &l.parts) {
            sweep(&part.parent);
        }
        probe
    }

    /// The method name measurements made with this probe's cgroups carry.
    pub(crate) fn method_name(&self) -> &'static str {
        self.layout.as_ref().map_or("wait4", |l| l.kind.method())
    }

    /// Why something weaker than full cgroup accounting is used, if it is.
    pub(crate) fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// An empty cgroup for one step: an idle one from the pool (its memory peak reset),
    /// else a new one. Err: why not (the step then runs without).
    pub(crate) fn create_step(&self) -> Result<StepCgroup, String> {
        let Some(layout) = &self.layout else {
            return Err(self
                .note
                .clone()
                .unwrap_or_else(|| "no usable cgroup".to_owned()));
        };
        let reused = self.pool.take().and_then(|slot| match slot.reset_peak() {
            Ok(()) => Some(slot),
            Err(_) => {
                slot.remove();
                None
            }
        });
        let slot = match reused {
            Some(slot) => slot,
            None => {
                let name = format!(
                    "benchmark-{}-{}",
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed)
                );
                Slot::create(layout, &name)?
            }
        };
        Ok(StepCgroup {
            base: slot.counters(),
            slot: Some(slot),
            pool: Arc::clone(&self.pool),
            reuse: layout.reuse,
        })
    }

    /// Do not reuse step cgroups (tests compare with and without).
    #[cfg(test)]
    pub(crate) fn without_reuse(mut self) -> Probe {
        if let Some(layout) = &mut self.layout {
            layout.reuse = false;
        }
        self
    }

    /// Whether step cgroups are killed with `cgroup.kill` (then not reused) (tests).
    #[cfg(test)]
    pub(crate) fn kills_with_cgroup_kill(&self) -> bool {
        self.layout.as_ref().is_some_and(|l| {
            l.parts
                .iter()
                .any(|p| matches!(p.role, Role::Unified { kill: true, .. }))
        })
    }

    /// How many idle step cgroups the pool holds (tests).
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.pool.with_idle(<[Slot]>::len)
    }

    /// The directories of the idle step cgroups (tests).
    #[cfg(test)]
    pub(crate) fn idle_dirs(&self) -> Vec<PathBuf> {
        self.pool.with_idle(|idle| {
            idle.iter()
                .flat_map(Slot::dirs)
                .map(Path::to_path_buf)
                .collect()
        })
    }

    /// Remove this probe's idle step cgroups (tests; [`cleanup`] for the global probe).
    #[cfg(test)]
    pub(crate) fn clear_pool(&self) {
        self.pool.clear();
    }

    /// `benchmark-<our pid>-*` directories under our cgroups (tests).
    #[cfg(test)]
    pub(crate) fn our_dirs(&self) -> Vec<PathBuf> {
        let prefix = format!("benchmark-{}-", std::process::id());
        let mut out = Vec::new();
        for part in self.layout.iter().flat_map(|l| &l.parts) {
            for entry in fs::read_dir(&part.parent).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    out.push(entry.path());
                }
            }
        }
        out
    }
}

/// Move the calling process into the cgroups whose `cgroup.procs` files are `fds`.
///
/// Runs in the child between clone and exec: async-signal-safe (write(2) only, no
/// allocation). Writing "0" moves the writer, in v1 and v2 alike.
pub(crate) fn join(fds: &[RawFd]) -> io::Result<()> {
    for &fd in fds {
        loop {
            // SAFETY: writes one byte from a static buffer to a descriptor we own.
            let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
            if n == 1 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// One step's cgroup. Released, it goes back to the pool when nothing is left inside
/// (else it is killed and removed); dropped without release, it is killed and removed.
#[derive(Debug)]
pub(crate) struct StepCgroup {
    /// `None` once released.
    slot: Option<Slot>,
    /// The counters when the step got the cgroup: its usage is measured from there.
    base: Counters,
    pool: Arc<Pool<Slot>>,
    reuse: bool,
}

impl StepCgroup {
    fn slot(&self) -> &Slot {
        self.slot
            .as_ref()
            .expect("a step cgroup is used until released")
    }

    /// Descriptors for [`join`], open as long as the step cgroup.
    pub(crate) fn join_fds(&self) -> Vec<RawFd> {
        self.slot().join_fds()
    }

    /// For `clone3` with `CLONE_INTO_CGROUP`: the v2 cgroup's directory descriptor, and
    /// the `cgroup.procs` descriptors of the other hierarchies, still to be joined.
    pub(crate) fn clone_into(&self) -> (Option<RawFd>, Vec<RawFd>) {
        self.slot().clone_into()
    }

    /// Live processes in the cgroup (the kernel does not list zombies).
    pub(crate) fn pids(&self) -> Vec<i32> {
        self.slot().pids()
    }

    /// Send `sig` to every process in the cgroup.
    pub(crate) fn signal(&self, sig: libc::c_int) {
        for pid in self.pids() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// SIGKILL everything in the cgroup and wait (bounded) until it is empty.
    pub(crate) fn kill_all(&self) {
        self.slot().kill_all();
    }

    /// What the step used since it got the cgroup.
    pub(crate) fn usage(&self) -> CgroupUsage {
        self.slot().counters().since(&self.base)
    }

    /// Give the cgroup back: to the pool when it is empty and reusable, else kill what is
    /// left and remove it.
    pub(crate) fn release(mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        if slot.reusable(self.reuse) {
            self.pool.put(slot);
        } else {
            slot.remove();
        }
    }
}

impl Drop for StepCgroup {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.remove();
        }
    }
}

/// Remove the empty step, probe and harness cgroups under `parent` that a harness killed
/// before it could clean up left behind (see [`crate::measure::stale`]). rmdir fails on a
/// cgroup that still holds a process or a child, so nothing running is touched. Returns
/// how many were removed.
pub(super) fn sweep(parent: &Path) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(created) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_dir())
            && crate::measure::stale::abandoned(parent, name, created)
            && fs::remove_dir(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Our cgroup in the v2 hierarchy, as a directory.
fn unified_dir(members: &[parse::Membership], mounts: &[parse::Mount]) -> Option<PathBuf> {
    let me = members
        .iter()
        .find(|m| m.id == 0 && m.controllers.is_empty())?;
    mounts
        .iter()
        .filter(|m| m.unified)
        .find_map(|m| parse::resolve(&m.point, &m.root, &me.path))
}

/// What a usable v2 cgroup offers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UnifiedFound {
    dir: PathBuf,
    kill: bool,
    memory: bool,
    /// `memory.peak` can be reset (Linux ≥ 6.12).
    peak_reset: bool,
    io: bool,
}

/// A usable v1 hierarchy (possibly several co-mounted controllers).
#[derive(Debug, Clone, PartialEq, Eq)]
struct V1Found {
    dir: PathBuf,
    memory: bool,
    cpu: Option<CpuFile>,
    blkio: Option<&'static str>,
    freezer: bool,
    pids: bool,
}

/// A unique name for a throw-away probe cgroup.
fn probe_name() -> String {
    format!(
        "benchmark-{}-probe{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Create a child of `dir`, check that we may move processes into it, look at what it
/// offers, remove it.
fn with_probe_child<T>(dir: &Path, look: impl FnOnce(&Path) -> T) -> Result<T, String> {
    let child = dir.join(probe_name());
    fs::create_dir(&child)
        .map_err(|e| format!("cannot create a cgroup under {}: {e}", dir.display()))?;
    let writable = OpenOptions::new()
        .write(true)
        .open(child.join("cgroup.procs"))
        .map_err(|e| {
            format!(
                "cannot move processes into cgroups under {}: {e}",
                dir.display()
            )
        });
    let seen = look(&child);
    let _ = fs::remove_dir(&child);
    writable.map(|_| seen)
}

fn probe_unified(dir: &Path) -> Result<UnifiedFound, String> {
    let controllers = fs::read_to_string(dir.join("cgroup.controllers"))
        .map_err(|e| format!("cannot read {}/cgroup.controllers: {e}", dir.display()))?;
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<&str> = V2_CONTROLLERS
        .into_iter()
        .filter(|c| controllers.split_whitespace().any(|x| x == *c))
        .filter(|c| !enabled.split_whitespace().any(|x| x == *c))
        .collect();
    if !missing.is_empty() {
        // Failure is recorded by what the probe child lacks (memory.peak, io.stat).
        let _ = enable_v2(dir, &missing);
    }
    with_probe_child(dir, |child| UnifiedFound {
        dir: dir.to_path_buf(),
        kill: child.join("cgroup.kill").exists(),
        memory: child.join("memory.peak").exists(),
        peak_reset: OpenOptions::new()
            .write(true)
            .open(child.join("memory.peak"))
            .and_then(|f| f.write_at(b"reset\n", 0))
            .is_ok(),
        io: child.join("io.stat").exists(),
    })
}

/// Enable controllers for our cgroup's children. v2 forbids that while our cgroup holds
/// processes ("no internal processes"), so on EBUSY move this process into a leaf
/// `benchmark-harness-<pid>` next to the future step cgroups first, as BenchExec does.
fn enable_v2(dir: &Path, controllers: &[&str]) -> io::Result<()> {
    let write_all = || {
        let mut result = Ok(());
        for c in controllers {
            if let Err(e) = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")) {
                result = Err(e);
            }
        }
        result
    };
    match write_all() {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let leaf = dir.join(format!("benchmark-harness-{}", std::process::id()));
            match fs::create_dir(&leaf) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
            fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())?;
            write_all()
        }
        other => other,
    }
}

fn probe_v1(
    members: &[parse::Membership],
    mounts: &[parse::Mount],
    reasons: &mut Vec<String>,
) -> Vec<V1Found> {
    let mut dirs: Vec<(PathBuf, Vec<&str>)> = Vec::new();
    for controller in V1_CONTROLLERS {
        let has = |list: &[String]| list.iter().any(|c| c == controller);
        let Some(member) = members.iter().find(|m| m.id != 0 && has(&m.controllers)) else {
            continue;
        };
        let Some(mount) = mounts.iter().find(|m| !m.unified && has(&m.options)) else {
            continue;
        };
        let Some(dir) = parse::resolve(&mount.point, &mount.root, &member.path) else {
            reasons.push(format!("the {controller} mount does not show our cgroup"));
            continue;
        };
        match dirs.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, list)) => list.push(controller),
            None => dirs.push((dir, vec![controller])),
        }
    }
    let mut found = Vec::new();
    for (dir, controllers) in dirs {
        let has = |c| controllers.contains(&c);
        let seen = with_probe_child(&dir, |child| V1Found {
            dir: dir.clone(),
            memory: has("memory") && child.join("memory.max_usage_in_bytes").exists(),
            cpu: if !has("cpuacct") {
                None
            } else if child.join("cpuacct.usage_user").exists() {
                Some(CpuFile::Split)
            } else if child.join("cpuacct.stat").exists() {
                Some(CpuFile::Stat)
            } else {
                None
            },
            blkio: if has("blkio") {
                BLKIO_FILES.into_iter().find(|f| child.join(f).exists())
            } else {
                None
            },
            freezer: has("freezer") && child.join("freezer.state").exists(),
            pids: has("pids"),
        });
        match seen {
            Ok(v) => found.push(v),
            Err(e) => reasons.push(e),
        }
    }
    found
}

/// Choose the best combination of what was found. Pure: no I/O.
fn decide(unified: Option<UnifiedFound>, v1: Vec<V1Found>, reasons: Vec<String>) -> Probe {
    let v1_memory = v1.iter().any(|h| h.memory);
    let v1_blkio = v1.iter().any(|h| h.blkio.is_some());
    let mut gaps: Vec<&str> = Vec::new();
    let (kind, parts, reuse) = match unified {
        Some(u) if u.memory || !(v1_memory || v1_blkio) => {
            if !u.memory {
                gaps.push("no memory controller delegated to our cgroup: no cgroup memory peak");
            }
            if !u.io {
                gaps.push("no io controller delegated to our cgroup: no I/O bytes");
            }
            if !u.kill {
                gaps.push("no cgroup.kill (Linux < 5.14): the tree is killed process by process");
            }
            let reuse = !u.memory || u.peak_reset;
            (Kind::V2, vec![unified_part(&u)], reuse)
        }
        Some(u) => {
            // Hybrid: the unified hierarchy tracks, kills and reads cpu.stat; v1 adds
            // memory and blkio. cpuacct, freezer and pids would be redundant joins.
            let mut parts = vec![unified_part(&u)];
            for h in v1.iter().filter(|h| h.memory || h.blkio.is_some()) {
                parts.push(Part {
                    parent: h.dir.clone(),
                    role: Role::V1 {
                        memory: h.memory,
                        cpu: None,
                        blkio: h.blkio,
                        freezer: false,
                    },
                });
            }
            if !v1_memory {
                gaps.push("no memory hierarchy: no cgroup memory peak");
            }
            if !v1_blkio {
                gaps.push("no blkio hierarchy: no I/O bytes");
            }
            if !u.kill {
                gaps.push("no cgroup.kill (Linux < 5.14): the tree is killed process by process");
            }
            (Kind::Hybrid, parts, true)
        }
        None if !v1.is_empty() => {
            let mut parts: Vec<Part> = v1
                .iter()
                .filter(|h| h.memory || h.cpu.is_some() || h.blkio.is_some() || h.freezer)
                .map(v1_part)
                .collect();
            if parts.is_empty() {
                // Only pids (or similar): still tracks and kills the tree.
                parts.push(v1_part(&v1[0]));
            }
            if !v1_memory {
                gaps.push("no memory hierarchy: no cgroup memory peak");
            }
            if !v1.iter().any(|h| h.cpu.is_some()) {
                gaps.push("no cpuacct hierarchy: no cgroup CPU time");
            }
            if !v1_blkio {
                gaps.push("no blkio hierarchy: no I/O bytes");
            }
            if !v1.iter().any(|h| h.freezer) {
                gaps.push("no freezer hierarchy: the tree is killed process by process");
            }
            (Kind::V1, parts, true)
        }
        None => {
            let note = if reasons.is_empty() {
                "no usable cgroup hierarchy".to_owned()
            } else {
                reasons.join("; ")
            };
            return Probe::without(note);
        }
    };
    let tracker = parts
        .iter()
        .position(|p| matches!(p.role, Role::Unified { .. }))
        .or_else(|| {
            parts
                .iter()
                .position(|p| matches!(p.role, Role::V1 { freezer: true, .. }))
        })
        .unwrap_or(0);
    let note = (!gaps.is_empty()).then(|| {
        let mut all: Vec<&str> = gaps;
        all.extend(reasons.iter().map(String::as_str));
        all.join("; ")
    });
    Probe {
        layout: Some(Layout {
            kind,
            parts,
            tracker,
            reuse,
        }),
        note,
        pool: Arc::default(),
    }
}

fn unified_part(u: &UnifiedFound) -> Part {
    Part {
        parent: u.dir.clone(),
        role: Role::Unified {
            kill: u.kill,
            memory: u.memory,
            io: u.io,
        },
    }
}

fn v1_part(h: &V1Found) -> Part {
    Part {
        parent: h.dir.clone(),
        role: Role::V1 {
            memory: h.memory,
            cpu: h.cpu,
            blkio: h.blkio,
            freezer: h.freezer,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unified(memory: bool, io: bool) -> UnifiedFound {
        UnifiedFound {
            dir: PathBuf::from("/sys/fs/cgroup/unified"),
            kill: true,
            memory,
            peak_reset: true,
            io,
        }
    }

    fn v1(dir: &str, memory: bool, cpu: bool, blkio: bool, freezer: bool) -> V1Found {
        V1Found {
            dir: PathBuf::from(dir),
            memory,
            cpu: cpu.then_some(CpuFile::Split),
            blkio: blkio.then_some(BLKIO_FILES[0]),
            freezer,
            pids: false,
        }
    }

    fn this_hosts_v1() -> Vec<V1Found> {
        vec![
            v1("/m", true, false, false, false),
            v1("/c", false, true, false, false),
            v1("/b", false, false, true, false),
            v1("/f", false, false, false, true),
        ]
    }

    #[test]
    fn mode_values() {
        assert_eq!(Mode::parse(None), (Mode::Auto, None));
        assert_eq!(Mode::parse(Some("OFF")), (Mode::Off, None));
        assert_eq!(Mode::parse(Some(" v1 ")), (Mode::V1, None));
        let (mode, note) = Mode::parse(Some("maybe"));
        assert_eq!(mode, Mode::Auto);
        assert!(note.unwrap().contains("\"maybe\""));
    }

    #[test]
    fn delegated_v2_wins_over_v1() {
        let p = decide(Some(unified(true, true)), this_hosts_v1(), vec![]);
        let layout = p.layout.unwrap();
        assert_eq!(layout.kind, Kind::V2);
        assert_eq!(layout.parts.len(), 1);
        assert_eq!(p.note, None);
    }

    #[test]
    fn hybrid_uses_unified_for_tracking_and_v1_for_memory_and_io() {
        let p = decide(Some(unified(false, false)), this_hosts_v1(), vec![]);
        assert_eq!(p.method_name(), "wait4+cgroup-hybrid");
        let layout = p.layout.as_ref().unwrap();
        let parents: Vec<_> = layout.parts.iter().map(|p| p.parent.clone()).collect();
        assert_eq!(
            parents,
            vec![
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("/m"),
                PathBuf::from("/b")
            ]
        );
        assert_eq!(layout.tracker, 0);
        assert_eq!(p.note, None);
    }

    #[test]
    fn v1_only_tracks_with_the_freezer_and_notes_gaps() {
        let p = decide(None, this_hosts_v1(), vec!["no cgroup2".into()]);
        let layout = p.layout.as_ref().unwrap();
        assert_eq!(layout.kind, Kind::V1);
        assert_eq!(layout.parts.len(), 4);
        assert_eq!(layout.parts[layout.tracker].parent, PathBuf::from("/f"));
        assert_eq!(p.note, None);

        let p = decide(None, vec![v1("/m", true, false, false, false)], vec![]);
        let note = p.note.unwrap();
        assert!(note.contains("no cpuacct"), "{note}");
        assert!(note.contains("no freezer"), "{note}");
    }

    #[test]
    fn undelegated_v2_alone_is_weaker_and_says_so() {
        let p = decide(Some(unified(false, false)), vec![], vec![]);
        assert_eq!(p.method_name(), "wait4+cgroup-v2");
        assert!(p.note.unwrap().contains("no memory controller"));
    }

    #[test]
    fn nothing_usable_gives_the_reasons() {
        let p = decide(
            None,
            vec![],
            vec!["cannot create a cgroup under /x: EACCES".into()],
        );
        assert_eq!(p.method_name(), "wait4");
        assert!(p.layout.is_none());
        assert!(p.note.unwrap().contains("EACCES"));
    }

    #[test]
    fn off_mode_needs_no_probing() {
        let p = Probe::run(Mode::Off);
        assert_eq!(p.method_name(), "wait4");
        assert!(p.note().unwrap().contains("off"));
        assert!(p.create_step().is_err());
    }

    #[test]
    fn this_machine_probe() {
        let _g = super::super::TEST_LOCK
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let p = probe();
        eprintln!(
            "cgroup probe: {} (note: {:?}) layout: {:#?}",
            p.method_name(),
            p.note(),
            p.layout
        );
        // Whatever the host offers, a chosen layout must yield a working step cgroup.
        if p.layout.is_some() {
            let step = p.create_step().expect("step cgroup");
            assert!(step.pids().is_empty());
            step.release();
        }
    }
}
