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

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::cancel::Cancel;
use super::cgroup::{self, Probe, StepCgroup};
use super::{CgroupUsage, Rusage, Termination};
use tree::{COOKIE_VAR, Tree};
use wait::{Exit, ExitWatch};

/// Default time between SIGTERM and SIGKILL when a tree is killed.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// Size of the buffer output is read into.
const READ_BUF: usize = 64 * 1024;

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
    /// Create a FIFO at this path for the duration of the run and stream what is written
    /// to it as [`Stream::Control`].
    pub control_fifo: Option<PathBuf>,
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
            control_fifo: None,
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
    /// The monotonic instant the process was spawned (for phase offsets).
    pub started: Instant,
    /// From just before spawning to the moment `wait4` returned the main process's status.
    pub wall: Duration,
    pub termination: Termination,
    pub timed_out: bool,
    pub interrupted: bool,
    pub rusage: Rusage,
    pub cgroup: Option<CgroupUsage>,
    pub method: Method,
    /// Processes of the tree still alive after the main process exited normally.
    pub leftovers: Option<Leftovers>,
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
    let (fifo, fifo_reader) = match &spec.control_fifo {
        Some(path) => {
            let (fifo, reader) = fifo::ControlFifo::create(path)?;
            (Some(fifo), Some(reader))
        }
        None => (None, None),
    };
    let (child, tree, method, started, started_at) = spawn_tracked(spec, probe)?;
    let pid = child.pid;
    let mut run = Running {
        pid,
        tree: Some(tree),
        reaped: false,
    };
    let mut pumps = Pumps::new(child.stdout, child.stderr, fifo_reader)
        .map_err(|e| io_error(spec, "cannot read the output of", e))?;
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
        pumps.service(&set, sink);
        if set.ready(w) {
            watch.clear();
            exit = wait::wait4(pid, false).map_err(|e| io_error(spec, "cannot wait for", e))?;
        } else if set.ready(c) {
            interrupted = true;
            break;
        }
    }
    let exit = match exit {
        Some(exit) => exit,
        None => run
            .stop(spec.kill_grace, &watch, &mut pumps, sink)
            .map_err(|e| io_error(spec, "cannot stop", e))?,
    };
    run.reaped = true;
    pumps.drain(sink);
    drop(pumps);
    drop(fifo);

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
    })
}

/// A spawned main child, whose pid is ours to reap.
#[derive(Debug)]
struct Started {
    pid: i32,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

/// Spawn in a cgroup of its own when allowed, else (or when joining it fails) tracked by
/// process group and cookie. Returns the start instants taken right before the spawn.
fn spawn_tracked(
    spec: &ExecSpec,
    probe: &Probe,
) -> Result<(Started, Tree, Method, Instant, SystemTime), ExecError> {
    let note = if !spec.isolate {
        "cgroup isolation not requested for this step".to_owned()
    } else {
        match probe.create_step() {
            Ok(cg) => {
                let started_at = SystemTime::now();
                let started = Instant::now();
                match spawn_in(spec, &cg) {
                    Ok(child) => {
                        let method = Method {
                            name: probe.method_name().to_owned(),
                            note: probe.note().map(str::to_owned),
                        };
                        return Ok((child, Tree::Cgroup(cg), method, started, started_at));
                    }
                    // Joining may be what failed: retry without the cgroup below; a
                    // genuine spawn error fails again there and is reported then.
                    Err(e) => {
                        cg.release();
                        format!("could not start the step in its cgroup ({e})")
                    }
                }
            }
            Err(reason) => reason,
        }
    };
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let started_at = SystemTime::now();
    let nanos = started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let cookie = format!("{}-{seq}-{nanos}", std::process::id());
    let started = Instant::now();
    let child = spawn(spec, &cookie).map_err(|e| spawn_error(spec, e))?;
    let pgid = child.pid;
    #[cfg(not(target_os = "linux"))]
    let _ = cookie;
    let tree = Tree::Plain {
        pgid,
        #[cfg(target_os = "linux")]
        cookie: format!("{COOKIE_VAR}={cookie}"),
    };
    let method = Method {
        name: "wait4".to_owned(),
        note: Some(note),
    };
    Ok((child, tree, method, started, started_at))
}

/// Spawn inside the step's cgroup: joined between clone and exec, without fork(2).
#[cfg(target_os = "linux")]
fn spawn_in(spec: &ExecSpec, cg: &StepCgroup) -> io::Result<Started> {
    clone::spawn_joined(spec, &cg.join_fds())
}

#[cfg(not(target_os = "linux"))]
fn spawn_in(_spec: &ExecSpec, cg: &StepCgroup) -> io::Result<Started> {
    match *cg {}
}

/// Spawn without a cgroup: std uses posix_spawn (vfork-like) for this.
fn spawn(spec: &ExecSpec, cookie: &str) -> io::Result<Started> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args);
    for key in &spec.env_remove {
        cmd.env_remove(key);
    }
    for (key, value) in &spec.env {
        cmd.env(key, value);
    }
    // Marks the tree when no cgroup does (looked for in /proc on Linux only).
    cmd.env(COOKIE_VAR, cookie);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    cmd.process_group(0);
    if spec.capture {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    let mut child = cmd.spawn()?;
    // Dropping std's handle neither waits nor kills: the pid is ours to reap.
    Ok(Started {
        pid: i32::try_from(child.id()).expect("pids fit in i32"),
        stdout: child.stdout.take().map(OwnedFd::from),
        stderr: child.stderr.take().map(OwnedFd::from),
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
    /// Timeout or cancellation: SIGTERM the tree, keep reading output until it is gone
    /// or `grace` has passed, SIGKILL what is left, reap the main child.
    fn stop(
        &mut self,
        grace: Duration,
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
            pumps.register(&mut set);
            if set.poll(ms_ceil(tick.min(end - now)))? {
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
        let any = pipes.iter().any(Option::is_some);
        Ok(Self {
            pipes,
            buf: vec![0; if any { READ_BUF } else { 0 }].into_boxed_slice(),
        })
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

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

#[cfg(test)]
mod tests;
