//! Run one command and measure it the way the kernel accounts it.
//!
//! [`execute`] spawns a spec in its own process group (and its own cgroup when
//! `spec.isolate` and the host allows), streams stdout/stderr/control-FIFO chunks to the
//! sink with their arrival instants, waits with `wait4`, enforces the timeout and
//! cancellation by killing the whole tree, and returns the outcome. One thread and one
//! `poll()` loop over the pipes, the FIFO, the exit notification (a pidfd on Linux, a
//! SIGCHLD self-pipe elsewhere) and the cancel fd: no helper threads, and no polling
//! interval while a step runs normally.
//!
//! A child bound for a cgroup joins it between clone and exec, without fork(2) (see
//! `clone`); others are started by std (posix_spawn).
//!
//! Without a cgroup the child also gets `BENCHMARK_TREE=<unique id>` in its environment:
//! on Linux the tree is its process group plus every process carrying that variable, so
//! descendants that escaped with `setsid` are still found and killed.

#[cfg(target_os = "linux")]
mod clone;
mod fifo;
#[cfg(target_os = "linux")]
mod linux;
mod tree;
mod wait;

use std::cell::Cell;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
#[cfg(not(target_os = "linux"))]
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
#[cfg(not(target_os = "linux"))]
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::cancel::Cancel;
use super::cgroup::{self, Probe, StepCgroup};
use super::{CgroupUsage, Rusage, Termination};
pub use fifo::ControlFifo;
use tree::{COOKIE_VAR, Tree};
use wait::{Exit, ExitWatch};

/// Default time between SIGTERM and SIGKILL when a tree is killed.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// Size of the buffer output is read into: a whole pipe's worth in one read.
const READ_BUF: usize = 1 << 20;
/// Pipe capacity asked for (Linux; the default 64 KiB makes a chatty step wait for the
/// harness every 64 KiB). Unprivileged users may get less, which is fine.
#[cfg(target_os = "linux")]
const PIPE_SIZE: libc::c_int = 1 << 20;

/// Test-only knobs, not for users: delays injected into the harness's own work around a
/// step (joining the cgroup, setting up the output pumps), which must stay out of the
/// step's wall time whatever they cost. Read from the environment once per process, so
/// a step pays no environment lookup.
#[cfg(target_os = "linux")]
pub(crate) static TEST_DELAY_JOIN: TestDelay =
    TestDelay::new("BENCHMARK_TEST_DELAY_CGROUP_JOIN_MS");
pub(crate) static TEST_DELAY_PUMPS: TestDelay =
    TestDelay::new("BENCHMARK_TEST_DELAY_PUMP_SETUP_MS");

/// One test knob: milliseconds in an environment variable, zero when unset.
pub(crate) struct TestDelay {
    var: &'static str,
    value: std::sync::OnceLock<Duration>,
}

impl TestDelay {
    const fn new(var: &'static str) -> Self {
        Self {
            var,
            value: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn get(&self) -> Duration {
        *self.value.get_or_init(|| {
            std::env::var(self.var)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::ZERO, Duration::from_millis)
        })
    }
}

/// Per-process sequence for unique cookies.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Which output channel a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    /// The `$BENCHMARK_CONTROL` FIFO.
    Control,
}

/// Receives output as it arrives. `at` is when the harness read it.
pub trait OutputSink {
    fn chunk(&mut self, stream: Stream, data: &[u8], at: Instant);
}

/// A sink that drops everything.
#[derive(Debug, Default)]
pub struct Discard;

impl OutputSink for Discard {
    fn chunk(&mut self, _: Stream, _: &[u8], _: Instant) {}
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Added to (or overriding) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Removed from the inherited environment.
    pub env_remove: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    pub timeout: Option<Duration>,
    /// Put the process in its own cgroup when the host allows it.
    pub isolate: bool,
    /// Stream what is written to this FIFO while the step runs as [`Stream::Control`].
    /// Made once by the caller and shared by every step (see [`ControlFifo`]).
    pub control: Option<Arc<ControlFifo>>,
    /// Stdout/stderr are captured and streamed to the sink (true) or inherited (false).
    pub capture: bool,
    /// How long a tree being killed (timeout, cancellation, leftovers) gets between
    /// SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

impl Default for ExecSpec {
    /// No program yet; isolated, captured, no timeout, [`DEFAULT_KILL_GRACE`].
    fn default() -> Self {
        Self {
            program: OsString::new(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: None,
            timeout: None,
            isolate: true,
            control: None,
            capture: true,
            kill_grace: DEFAULT_KILL_GRACE,
        }
    }
}

impl ExecSpec {
    /// `program args…` with the defaults of [`ExecSpec::default`].
    pub fn new<I, S>(program: impl Into<OsString>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

/// Which accounting the measurement used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// "wait4", "wait4+cgroup-v2", "wait4+cgroup-v1" or "wait4+cgroup-hybrid" (v1
    /// controllers for memory and I/O, the v2 hierarchy for tracking, killing and CPU).
    pub name: String,
    /// Why a stronger method was not used, when it was not.
    pub note: Option<String>,
}

/// The measured result of one execution.
#[derive(Debug)]
pub struct ExecOutcome {
    pub started_at: SystemTime,
    /// `started_at + wall`, so that the two agree with the monotonic measurement.
    pub finished_at: SystemTime,
    /// The monotonic instant the step's clock started (for phase offsets).
    pub started: Instant,
    /// From the child's `execve` — once it is in its cgroup with its pipes in place — to
    /// the kernel's exit notification for the main process. (Off Linux, from just before
    /// spawning.)
    pub wall: Duration,
    pub termination: Termination,
    pub timed_out: bool,
    pub interrupted: bool,
    pub rusage: Rusage,
    pub cgroup: Option<CgroupUsage>,
    pub method: Method,
    /// Processes of the tree still alive after the main process exited normally.
    pub leftovers: Option<Leftovers>,
    /// What the harness itself spent around the step, outside `wall`.
    pub harness: HarnessCost,
}

/// The harness's own cost around one execution; none of it is part of the step's wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HarnessCost {
    /// From `execute` being called to the step's clock starting: cgroup, control FIFO,
    /// pipes, spawning, joining the cgroup.
    pub spawn: Duration,
    /// The part of `spawn` the child spent joining its cgroup(s), when it joined any
    /// (zero when it was born in its only one).
    pub cgroup_join: Option<Duration>,
    /// The child was born in its cgroup v2 cgroup (`clone3` with `CLONE_INTO_CGROUP`): no
    /// migration there; v1 hierarchies of a hybrid host are still joined.
    pub clone_into_cgroup: bool,
    /// From the exit notification to `execute` returning: reaping, the last reads, the
    /// cgroup's counters, the check for leftover processes.
    pub finish: Duration,
    /// CPU time of the harness thread over the whole execution, output handling included.
    pub cpu: Option<Duration>,
    /// The harness's own peak resident set when the step ended, bytes: the floor under
    /// the step's `ru_maxrss` (see [`Rusage::own_max_rss`]). `None` where spawning folds
    /// nothing of ours into it (off Linux: posix_spawn makes a fresh task).
    pub rss_floor: Option<u64>,
}

/// Processes a step left running. Killed (whole tree: SIGTERM, the spec's `kill_grace`,
/// SIGKILL) by `kill` or on drop, which also releases the step's cgroup.
#[derive(Debug)]
pub struct Leftovers {
    tree: Option<Tree>,
    grace: Duration,
}

impl Leftovers {
    /// How many processes are still alive, when it can be told (always on Linux; off
    /// Linux only "none" can be told).
    pub fn count(&self) -> Option<usize> {
        self.tree.as_ref().and_then(Tree::live)
    }

    /// Kill them all and release the cgroup.
    pub fn kill(mut self) {
        self.finish();
    }

    /// Kill them all with SIGKILL, without a grace period (a second Ctrl-C).
    pub fn kill_now(mut self) {
        self.grace = Duration::ZERO;
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(tree) = self.tree.take() {
            tree::terminate(tree, self.grace);
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Errors setting up a run (the command itself failing is not an error: see `termination`).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The token was already cancelled: nothing was started.
    #[error("not starting `{program}`: the run was cancelled")]
    Cancelled { program: String },
}

/// Run `spec` to completion (or timeout / cancellation), measuring it.
///
/// With an already cancelled token nothing is spawned: [`ExecError::Cancelled`].
pub fn execute(
    spec: &ExecSpec,
    sink: &mut dyn OutputSink,
    cancel: &Cancel,
) -> Result<ExecOutcome, ExecError> {
    execute_with(spec, sink, cancel, cgroup::probe())
}

/// [`execute`] with a given cgroup probe (tests choose back ends with it).
pub(crate) fn execute_with(
    spec: &ExecSpec,
    sink: &mut dyn OutputSink,
    cancel: &Cancel,
    probe: &Probe,
) -> Result<ExecOutcome, ExecError> {
    let entered = Instant::now();
    let cpu_before = thread_cpu();
    if cancel.is_cancelled() {
        return Err(ExecError::Cancelled {
            program: spec.program_name(),
        });
    }
    if let Some(cwd) = &spec.cwd
        && !cwd.is_dir()
    {
        return Err(ExecError::Io {
            what: format!(
                "cannot start `{}` in {}: no such directory; check the working directory",
                spec.program_name(),
                cwd.display()
            ),
            source: io::Error::from(io::ErrorKind::NotFound),
        });
    }
    let fifo_reader = spec
        .control
        .as_deref()
        .map(ControlFifo::for_step)
        .transpose()?;
    // Everything the step's output needs is in place before the child starts.
    let mut io = ChildIo::new(spec.capture)
        .map_err(|e| io_error(spec, "cannot create the output pipes of", e))?;
    let mut pumps = Pumps::new(io.stdout.take(), io.stderr.take(), fifo_reader)
        .map_err(|e| io_error(spec, "cannot read the output of", e))?;
    let (child, tree, method) = spawn_tracked(spec, probe, &mut io)?;
    // Our copies of the child's ends: the pipes report end-of-file once the tree closes them.
    drop(io);
    let pid = child.pid;
    let started = child.exec_at;
    let started_at = SystemTime::now()
        .checked_sub(started.elapsed())
        .unwrap_or_else(SystemTime::now);
    let mut run = Running {
        pid,
        tree: Some(tree),
        reaped: false,
    };
    let watch = ExitWatch::new(pid).map_err(|e| io_error(spec, "cannot watch", e))?;
    let deadline = spec.timeout.and_then(|t| started.checked_add(t));

    let mut exit = if watch.may_have_missed_exit() {
        wait::wait4(pid, false).map_err(|e| io_error(spec, "cannot wait for", e))?
    } else {
        None
    };
    let mut timed_out = false;
    let mut interrupted = false;
    while exit.is_none() {
        let timeout = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    timed_out = true;
                    break;
                }
                ms_ceil(d - now)
            }
            None => -1,
        };
        let mut set = PollSet::default();
        let w = set.add(watch.fd());
        let c = set.add(cancel.fd());
        pumps.register(&mut set);
        if !set
            .poll(timeout)
            .map_err(|e| io_error(spec, "cannot poll", e))?
        {
            continue;
        }
        // The clock stops at the notification, before any output is handled.
        let woke = Instant::now();
        if set.ready(w) {
            watch.clear();
            exit = wait::wait4(pid, false)
                .map_err(|e| io_error(spec, "cannot wait for", e))?
                .map(|e| Exit { at: woke, ..e });
        }
        pumps.service(&set, sink);
        if exit.is_none() && set.ready(c) {
            interrupted = true;
            break;
        }
    }
    let exit = match exit {
        Some(exit) => exit,
        None => run
            .stop(spec.kill_grace, cancel.hard_fd(), &watch, &mut pumps, sink)
            .map_err(|e| io_error(spec, "cannot stop", e))?,
    };
    run.reaped = true;
    pumps.drain(sink);
    drop(pumps);

    let tree = run.tree.take().expect("the tree is taken once");
    let cgroup = tree.cgroup_usage();
    let leftovers = if !(timed_out || interrupted) && tree.outlived(pid) {
        Some(Leftovers {
            tree: Some(tree),
            grace: spec.kill_grace,
        })
    } else {
        tree.release();
        None
    };
    let wall = exit.at.saturating_duration_since(started);
    let harness = HarnessCost {
        spawn: started.saturating_duration_since(entered),
        cgroup_join: child.join,
        clone_into_cgroup: child.into_cgroup,
        finish: exit.at.elapsed(),
        cpu: thread_cpu()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before)),
        rss_floor: rss_floor(),
    };
    Ok(ExecOutcome {
        started_at,
        finished_at: started_at + wall,
        started,
        wall,
        termination: exit.termination,
        timed_out,
        interrupted,
        rusage: exit.rusage,
        cgroup,
        method,
        leftovers,
        harness,
    })
}

/// The harness's own peak resident set; it only grows, so read after the step it is at
/// least what the child inherited at its `execve`.
#[cfg(target_os = "linux")]
fn rss_floor() -> Option<u64> {
    linux::own_rss_high_water()
}

#[cfg(not(target_os = "linux"))]
fn rss_floor() -> Option<u64> {
    None
}

/// CPU time of the calling thread.
fn thread_cpu() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

/// The child's standard streams, made before it starts: /dev/null for stdin and a pipe
/// each for stdout and stderr, whose read ends are ours.
struct ChildIo {
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// /dev/null and the write ends, numbered 3 or more (see [`above_stdio`]).
    child: Option<[OwnedFd; 3]>,
}

impl ChildIo {
    fn new(capture: bool) -> io::Result<Self> {
        if !capture {
            return Ok(Self {
                stdout: None,
                stderr: None,
                child: None,
            });
        }
        let null = dev_null()?;
        let (out_r, out_w) = std::io::pipe()?;
        let (err_r, err_w) = std::io::pipe()?;
        #[cfg(target_os = "linux")]
        for fd in [out_r.as_raw_fd(), err_r.as_raw_fd()] {
            // SAFETY: fcntl on a pipe we own; failure leaves the default size.
            unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE) };
        }
        Ok(Self {
            stdout: Some(out_r.into()),
            stderr: Some(err_r.into()),
            child: Some([null, above_stdio(out_w.into())?, above_stdio(err_w.into())?]),
        })
    }

    /// The descriptors the child gets as 0, 1 and 2 (-1: inherit ours).
    #[cfg(target_os = "linux")]
    fn raw(&self) -> [RawFd; 3] {
        self.child
            .as_ref()
            .map_or([-1; 3], |c| [0, 1, 2].map(|i| c[i].as_raw_fd()))
    }
}

/// A descriptor numbered 3 or more, so that the child's dup2 onto 0–2 never meets one of
/// its own sources (our standard streams may have been closed).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    dup_above_stdio(fd.as_fd())
}

/// A close-on-exec copy of `fd` numbered 3 or more.
fn dup_above_stdio(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: duplicates a descriptor that stays open for the call; the copy is
    // close-on-exec.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(dup) })
}

/// A copy of /dev/null, which is opened once per process: every step's stdin.
fn dev_null() -> io::Result<OwnedFd> {
    static NULL: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();
    let null = match NULL.get() {
        Some(fd) => fd,
        None => {
            let fd = above_stdio(std::fs::File::open("/dev/null")?.into())?;
            NULL.get_or_init(|| fd)
        }
    };
    dup_above_stdio(null.as_fd())
}

/// A spawned main child, whose pid is ours to reap.
#[derive(Debug, Clone, Copy)]
struct Started {
    pid: i32,
    /// When the step's clock starts: the child's execve (Linux), else just before spawning.
    exec_at: Instant,
    /// How long the child took to join its cgroup(s).
    join: Option<Duration>,
    /// Born in its cgroup (`clone3` with `CLONE_INTO_CGROUP`) rather than moved into it.
    into_cgroup: bool,
}

/// Spawn in a cgroup of its own when allowed, else (or when joining it fails) tracked by
/// process group and cookie.
fn spawn_tracked(
    spec: &ExecSpec,
    probe: &Probe,
    io: &mut ChildIo,
) -> Result<(Started, Tree, Method), ExecError> {
    let note = if !spec.isolate {
        "cgroup isolation not requested for this step".to_owned()
    } else {
        match probe.create_step() {
            Ok(cg) => match spawn_in(spec, &cg, io) {
                Ok(child) => {
                    let method = Method {
                        name: probe.method_name().to_owned(),
                        note: probe.note().map(str::to_owned),
                    };
                    return Ok((child, Tree::Cgroup(cg), method));
                }
                // Joining may be what failed: retry without the cgroup below; a
                // genuine spawn error fails again there and is reported then.
                Err(e) => {
                    cg.release();
                    format!("could not start the step in its cgroup ({e})")
                }
            },
            Err(reason) => reason,
        }
    };
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let cookie = format!("{}-{seq}-{nanos}", std::process::id());
    let child = spawn(spec, &cookie, io).map_err(|e| spawn_error(spec, e))?;
    let pgid = child.pid;
    let tree = Tree::Plain {
        pgid,
        #[cfg(target_os = "linux")]
        cookie: format!("{COOKIE_VAR}={cookie}"),
        #[cfg(target_os = "linux")]
        seen: std::sync::Mutex::default(),
    };
    let method = Method {
        name: "wait4".to_owned(),
        note: Some(note),
    };
    Ok((child, tree, method))
}

/// Spawn inside the step's cgroup: joined between clone and exec, without fork(2).
#[cfg(target_os = "linux")]
fn spawn_in(spec: &ExecSpec, cg: &StepCgroup, io: &mut ChildIo) -> io::Result<Started> {
    let (into, rest) = cg.clone_into();
    let all = cg.join_fds();
    let join = clone::Join {
        into,
        rest: &rest,
        all: &all,
    };
    clone::spawn_joined(spec, join, io.raw(), None)
}

#[cfg(not(target_os = "linux"))]
fn spawn_in(_spec: &ExecSpec, cg: &StepCgroup, _io: &mut ChildIo) -> io::Result<Started> {
    match *cg {}
}

/// Spawn without a cgroup, marked with the cookie: the same vfork-style clone on Linux
/// (so that the clock starts at execve here too).
#[cfg(target_os = "linux")]
fn spawn(spec: &ExecSpec, cookie: &str, io: &mut ChildIo) -> io::Result<Started> {
    // Marks the tree when no cgroup does (looked for in /proc).
    clone::spawn_joined(
        spec,
        clone::Join::NONE,
        io.raw(),
        Some((COOKIE_VAR, cookie)),
    )
}

/// Spawn without a cgroup: std uses posix_spawn (vfork-like) for this.
#[cfg(not(target_os = "linux"))]
fn spawn(spec: &ExecSpec, cookie: &str, io: &mut ChildIo) -> io::Result<Started> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args);
    for key in &spec.env_remove {
        cmd.env_remove(key);
    }
    for (key, value) in &spec.env {
        cmd.env(key, value);
    }
    cmd.env(COOKIE_VAR, cookie);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    cmd.process_group(0);
    if let Some([null, out, err]) = io.child.take() {
        cmd.stdin(Stdio::from(null))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
    }
    let exec_at = Instant::now();
    let child = cmd.spawn()?;
    // Dropping std's handle neither waits nor kills: the pid is ours to reap.
    Ok(Started {
        pid: i32::try_from(child.id()).expect("pids fit in i32"),
        exec_at,
        join: None,
        into_cgroup: false,
    })
}

fn spawn_error(spec: &ExecSpec, e: io::Error) -> ExecError {
    let hint = match e.kind() {
        io::ErrorKind::NotFound => "check that it is installed and on PATH, or give its full path",
        io::ErrorKind::PermissionDenied => "check that it is an executable file (chmod +x)",
        _ => "check the command and the system's process and file limits",
    };
    ExecError::Spawn {
        program: spec.program_name(),
        source: io::Error::new(e.kind(), format!("{e}; {hint}")),
    }
}

fn io_error(spec: &ExecSpec, what: &str, source: io::Error) -> ExecError {
    ExecError::Io {
        what: format!("{what} `{}`", spec.program_name()),
        source,
    }
}

/// Milliseconds for poll(2), rounded up so that a wake-up is never early.
fn ms_ceil(d: Duration) -> i32 {
    i32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
}

/// The main child and its tree while the step runs. If the step is abandoned (an error,
/// or a panicking sink), dropping it kills the whole tree and reaps the child.
struct Running {
    pid: i32,
    tree: Option<Tree>,
    reaped: bool,
}

impl Running {
    /// Timeout or cancellation: SIGTERM the tree, keep reading output until it is gone,
    /// `grace` has passed or `hard` is readable (a second Ctrl-C), SIGKILL what is left,
    /// reap the main child.
    fn stop(
        &mut self,
        grace: Duration,
        hard: Option<BorrowedFd<'_>>,
        watch: &ExitWatch,
        pumps: &mut Pumps,
        sink: &mut dyn OutputSink,
    ) -> io::Result<Exit> {
        let tree = self.tree.as_ref().expect("stopped once");
        tree.signal(libc::SIGTERM);
        let end = Instant::now() + grace;
        let mut tick = Duration::from_millis(1);
        let mut exit = None;
        loop {
            if exit.is_some() && tree.live() == Some(0) {
                break;
            }
            let now = Instant::now();
            if now >= end {
                break;
            }
            // The rest of the tree sends no event when it exits: look again each tick.
            let mut set = PollSet::default();
            let w = exit.is_none().then(|| set.add(watch.fd()));
            let h = hard.map(|fd| set.add(fd));
            pumps.register(&mut set);
            if set.poll(ms_ceil(tick.min(end - now)))? {
                if h.is_some_and(|h| set.ready(h)) {
                    break;
                }
                pumps.service(&set, sink);
                if w.is_some_and(|w| set.ready(w)) {
                    watch.clear();
                    exit = wait::wait4(self.pid, false)?;
                    self.reaped = exit.is_some();
                }
            }
            tick = (tick * 2).min(Duration::from_millis(50));
        }
        tree.kill_hard();
        match exit {
            Some(exit) => Ok(exit),
            None => {
                // SAFETY: kill(2) on our own, unreaped child.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                let exit = wait::wait4(self.pid, true)?
                    .ok_or_else(|| io::Error::other("wait4 returned without a status"))?;
                self.reaped = true;
                Ok(exit)
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tree) = self.tree.take() {
            tree.kill_hard();
            if !self.reaped {
                // SAFETY: kill(2) on our own, unreaped child.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                let _ = wait::wait4(self.pid, true);
            }
            tree.release();
        }
    }
}

/// Up to 5 descriptors for poll(2), without allocating.
struct PollSet {
    fds: [libc::pollfd; 5],
    len: usize,
}

impl Default for PollSet {
    fn default() -> Self {
        Self {
            fds: [libc::pollfd {
                fd: -1,
                events: 0,
                revents: 0,
            }; 5],
            len: 0,
        }
    }
}

impl PollSet {
    fn add(&mut self, fd: BorrowedFd<'_>) -> usize {
        self.add_raw(fd.as_raw_fd())
    }

    fn add_raw(&mut self, fd: RawFd) -> usize {
        let i = self.len;
        self.fds[i] = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        self.len += 1;
        i
    }

    /// Ok(false) when interrupted by a signal.
    fn poll(&mut self, timeout_ms: i32) -> io::Result<bool> {
        let nfds = libc::nfds_t::try_from(self.len).expect("at most 5");
        // SAFETY: the first `len` entries are initialised pollfds over open descriptors.
        let n = unsafe { libc::poll(self.fds.as_mut_ptr(), nfds, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(true)
    }

    fn ready(&self, i: usize) -> bool {
        self.fds[i].revents != 0
    }
}

/// The open output channels: stdout, stderr, control FIFO.
struct Pumps {
    pipes: [Option<Pipe>; 3],
    buf: Box<[u8]>,
}

struct Pipe {
    fd: OwnedFd,
    stream: Stream,
    /// Position in the current PollSet.
    slot: Option<usize>,
}

impl Pumps {
    fn new(
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        control: Option<OwnedFd>,
    ) -> io::Result<Self> {
        let delay = TEST_DELAY_PUMPS.get();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut pipes = [None, None, None];
        for (i, (fd, stream)) in [
            (stdout, Stream::Stdout),
            (stderr, Stream::Stderr),
            (control, Stream::Control),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(fd) = fd {
                set_nonblocking(fd.as_fd())?;
                pipes[i] = Some(Pipe {
                    fd,
                    stream,
                    slot: None,
                });
            }
        }
        let buf = if pipes.iter().any(Option::is_some) {
            READ_BUFFER
                .with(Cell::take)
                .unwrap_or_else(|| vec![0; READ_BUF].into_boxed_slice())
        } else {
            Box::default()
        };
        Ok(Self { pipes, buf })
    }

    fn register(&mut self, set: &mut PollSet) {
        for pipe in self.pipes.iter_mut().flatten() {
            pipe.slot = Some(set.add_raw(pipe.fd.as_raw_fd()));
        }
    }

    fn service(&mut self, set: &PollSet, sink: &mut dyn OutputSink) {
        for i in 0..self.pipes.len() {
            let ready = self.pipes[i]
                .as_ref()
                .is_some_and(|p| p.slot.is_some_and(|s| set.ready(s)));
            if ready {
                self.read_available(i, sink);
            }
        }
    }

    /// Read what is there now, without blocking; never waits for end-of-file (escaped
    /// descendants may hold the pipes open forever).
    fn drain(&mut self, sink: &mut dyn OutputSink) {
        for i in 0..self.pipes.len() {
            self.read_available(i, sink);
        }
    }

    fn read_available(&mut self, i: usize, sink: &mut dyn OutputSink) {
        let Some(pipe) = &self.pipes[i] else {
            return;
        };
        loop {
            match nix::unistd::read(&pipe.fd, &mut self.buf) {
                Ok(0) => {
                    self.pipes[i] = None;
                    return;
                }
                Ok(n) => {
                    sink.chunk(pipe.stream, &self.buf[..n], Instant::now());
                    if n < self.buf.len() {
                        return;
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(_) => {
                    self.pipes[i] = None;
                    return;
                }
            }
        }
    }
}

impl Drop for Pumps {
    fn drop(&mut self) {
        if self.buf.len() == READ_BUF {
            READ_BUFFER.with(|b| b.set(Some(std::mem::take(&mut self.buf))));
        }
    }
}

thread_local! {
    /// The read buffer of the last step run on this thread, kept for the next one: a
    /// fresh 1 MiB buffer is a 1 MiB memset per step.
    static READ_BUFFER: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

#[cfg(test)]
mod tests;
