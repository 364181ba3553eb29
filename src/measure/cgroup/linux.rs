//! Linux per-step cgroups: probe the hierarchies once per process, then create, join (from
//! the child, between fork and exec), read, kill and remove one cgroup per step.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::parse;
use super::settle;
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
/// How long to wait for killed processes to leave a cgroup and for it to be removable.
const SETTLE: Duration = Duration::from_secs(5);

/// Per-process sequence for unique cgroup names.
static SEQ: AtomicU64 = AtomicU64::new(0);

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
enum CpuFile {
    /// `cpuacct.usage_user` / `cpuacct.usage_sys`, nanoseconds.
    Split,
    /// `cpuacct.stat`, USER_HZ ticks.
    Stat,
}

/// What one hierarchy is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
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
struct Part {
    /// Our own cgroup in this hierarchy: step cgroups are created below it.
    parent: PathBuf,
    role: Role,
}

/// The chosen hierarchies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) kind: Kind,
    parts: Vec<Part>,
    /// Index of the part whose `cgroup.procs` lists the tree.
    tracker: usize,
}

/// What the probe found, and why anything stronger was not used.
#[derive(Debug)]
pub(crate) struct Probe {
    pub(crate) layout: Option<Layout>,
    note: Option<String>,
}

/// The process-wide probe, run once (honours `BENCHMARK_CGROUP`).
pub(crate) fn probe() -> &'static Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
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
        probe
    })
}

impl Probe {
    /// Probe the hierarchies this process may use (creates and removes a test cgroup in
    /// each; on a pure v2 host it may move this process into a leaf, see `enable_v2`).
    pub(crate) fn run(mode: Mode) -> Probe {
        if mode == Mode::Off {
            return Probe {
                layout: None,
                note: Some(format!("cgroups turned off ({ENV}=off)")),
            };
        }
        let texts = fs::read_to_string("/proc/self/cgroup")
            .and_then(|c| Ok((c, fs::read_to_string("/proc/self/mountinfo")?)));
        let (cgroups, mountinfo) = match texts {
            Ok(t) => t,
            Err(e) => {
                return Probe {
                    layout: None,
                    note: Some(format!("cannot read /proc/self/cgroup or mountinfo: {e}")),
                };
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
        decide(unified, v1, reasons)
    }

    /// The method name measurements made with this probe's cgroups carry.
    pub(crate) fn method_name(&self) -> &'static str {
        self.layout.as_ref().map_or("wait4", |l| l.kind.method())
    }

    /// Why something weaker than full cgroup accounting is used, if it is.
    pub(crate) fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// Create a fresh, empty cgroup for one step. Err: why not (the step then runs without).
    pub(crate) fn create_step(&self) -> Result<StepCgroup, String> {
        let Some(layout) = &self.layout else {
            return Err(self
                .note
                .clone()
                .unwrap_or_else(|| "no usable cgroup".to_owned()));
        };
        let name = format!(
            "benchmark-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut step = StepCgroup {
            dirs: Vec::with_capacity(layout.parts.len()),
            join: Vec::with_capacity(layout.parts.len()),
            tracker: layout.tracker,
            removed: false,
        };
        for part in &layout.parts {
            let dir = part.parent.join(&name);
            fs::create_dir(&dir)
                .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
            let procs = OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .map_err(|e| format!("cannot open {}/cgroup.procs: {e}", dir.display()));
            // Pushed before the error check so that Drop removes the directory.
            step.dirs.push((dir, part.role));
            step.join.push(procs?.into());
        }
        Ok(step)
    }

    /// `benchmark-<our pid>-*` directories left under our cgroups (tests).
    #[cfg(test)]
    pub(crate) fn stale_dirs(&self) -> Vec<PathBuf> {
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
/// Runs in the child between fork and exec: async-signal-safe (write(2) only, no
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

/// One step's cgroup (a directory per hierarchy). Dropping it kills what is left inside
/// and removes it.
#[derive(Debug)]
pub(crate) struct StepCgroup {
    dirs: Vec<(PathBuf, Role)>,
    /// Open `cgroup.procs` files for the child to write "0" to; closed once spawned.
    join: Vec<OwnedFd>,
    tracker: usize,
    removed: bool,
}

impl StepCgroup {
    /// Descriptors for [`join`], valid until [`StepCgroup::joined`].
    pub(crate) fn join_fds(&self) -> Vec<RawFd> {
        self.join.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// The child has been spawned: the join descriptors are no longer needed.
    pub(crate) fn joined(&mut self) {
        self.join.clear();
    }

    /// Live processes in the cgroup (the kernel does not list zombies).
    pub(crate) fn pids(&self) -> Vec<i32> {
        self.dirs
            .get(self.tracker)
            .and_then(|(dir, _)| fs::read_to_string(dir.join("cgroup.procs")).ok())
            .map(|t| {
                t.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Send `sig` to every process in the cgroup.
    pub(crate) fn signal(&self, sig: libc::c_int) {
        for pid in self.pids() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// SIGKILL everything in the cgroup and wait (bounded) until it is empty:
    /// `cgroup.kill` where present, else freeze → kill → thaw, then a kill loop.
    pub(crate) fn kill_all(&self) {
        let unified_kill = self
            .dirs
            .iter()
            .find(|(_, role)| matches!(role, Role::Unified { kill: true, .. }));
        let freezer = self
            .dirs
            .iter()
            .find(|(_, role)| matches!(role, Role::V1 { freezer: true, .. }));
        if let Some((dir, _)) = unified_kill {
            let _ = fs::write(dir.join("cgroup.kill"), "1");
        } else if let Some((dir, _)) = freezer {
            freeze_and_kill(dir);
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

    /// What the cgroup accounted so far.
    pub(crate) fn usage(&self) -> CgroupUsage {
        let mut u = CgroupUsage::default();
        let read = |dir: &Path, file: &str| fs::read_to_string(dir.join(file)).ok();
        for (dir, role) in &self.dirs {
            match *role {
                Role::Unified { memory, io, .. } => {
                    if let Some(t) = read(dir, "cpu.stat") {
                        u.cpu_user = parse::keyed(&t, "user_usec").map(Duration::from_micros);
                        u.cpu_sys = parse::keyed(&t, "system_usec").map(Duration::from_micros);
                    }
                    if memory {
                        u.memory_peak_bytes =
                            read(dir, "memory.peak").and_then(|t| parse::single(&t));
                    }
                    if io && let Some(t) = read(dir, "io.stat") {
                        let (r, w) = parse::io_stat(&t);
                        (u.io_read_bytes, u.io_write_bytes) = (Some(r), Some(w));
                    }
                }
                Role::V1 {
                    memory, cpu, blkio, ..
                } => {
                    if memory && u.memory_peak_bytes.is_none() {
                        u.memory_peak_bytes =
                            read(dir, "memory.max_usage_in_bytes").and_then(|t| parse::single(&t));
                    }
                    if u.cpu_user.is_none() {
                        match cpu {
                            Some(CpuFile::Split) => {
                                let ns = |f| read(dir, f).and_then(|t| parse::single(&t));
                                u.cpu_user = ns("cpuacct.usage_user").map(Duration::from_nanos);
                                u.cpu_sys = ns("cpuacct.usage_sys").map(Duration::from_nanos);
                            }
                            Some(CpuFile::Stat) => {
                                if let Some(t) = read(dir, "cpuacct.stat") {
                                    let ticks = |k| parse::keyed(&t, k).map(ticks_to_duration);
                                    (u.cpu_user, u.cpu_sys) = (ticks("user"), ticks("system"));
                                }
                            }
                            None => {}
                        }
                    }
                    if let Some(file) = blkio
                        && u.io_read_bytes.is_none()
                        && let Some(t) = read(dir, file)
                    {
                        let (r, w) = parse::blkio(&t);
                        (u.io_read_bytes, u.io_write_bytes) = (Some(r), Some(w));
                    }
                }
            }
        }
        u
    }

    /// Remove the (empty) cgroup: waits, bounded, for exiting processes to leave first.
    pub(crate) fn remove(mut self) {
        self.remove_dirs();
    }

    fn remove_dirs(&mut self) {
        self.removed = true;
        self.join.clear();
        if !self.pids().is_empty() {
            self.kill_all();
        }
        for (dir, _) in self.dirs.drain(..).rev() {
            settle(SETTLE, || match fs::remove_dir(&dir) {
                Ok(()) => true,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            });
        }
    }
}

impl Drop for StepCgroup {
    fn drop(&mut self) {
        if !self.removed {
            self.remove_dirs();
        }
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
    let (kind, parts) = match unified {
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
            (Kind::V2, vec![unified_part(&u)])
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
            (Kind::Hybrid, parts)
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
            (Kind::V1, parts)
        }
        None => {
            let note = if reasons.is_empty() {
                "no usable cgroup hierarchy".to_owned()
            } else {
                reasons.join("; ")
            };
            return Probe {
                layout: None,
                note: Some(note),
            };
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
        }),
        note,
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
            step.remove();
        }
    }
}
