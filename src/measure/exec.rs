//! Run one command and measure it the way the kernel accounts it.
//!
//! INTERFACE (filled in by the measurement work): `execute` spawns `spec` in its own
//! process group (and its own cgroup when `spec.isolate` and the host allows), streams
//! stdout/stderr/control-FIFO chunks to the sink with their arrival instants, waits with
//! `wait4`, enforces the timeout and cancellation by killing the whole tree, and returns
//! the outcome. Single-threaded event loop: poll() over the pipes, the FIFO, a SIGCHLD
//! self-pipe and the cancel fd.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::cancel::Cancel;
use super::{CgroupUsage, Rusage, Termination};

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
    /// After SIGTERM to the tree, how long to wait before SIGKILL.
    pub kill_grace: Duration,
}

/// Which accounting the measurement used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// e.g. "wait4", "wait4+cgroup-v2", "wait4+cgroup-v1".
    pub name: String,
    /// Why a stronger method was not used, when it was not.
    pub note: Option<String>,
}

/// The measured result of one execution.
#[derive(Debug)]
pub struct ExecOutcome {
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    /// The monotonic instant the process was spawned (for phase offsets).
    pub started: Instant,
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

/// Processes a step left running. Killed (whole tree) by `kill` or on drop.
#[derive(Debug)]
pub struct Leftovers {
    // filled in by the implementation
}

impl Leftovers {
    /// How many processes are still alive, when it can be told.
    pub fn count(&self) -> Option<usize> {
        unimplemented!()
    }
    /// Kill them all and release the cgroup.
    pub fn kill(self) {}
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
}

/// Run `spec` to completion (or timeout / cancellation), measuring it.
pub fn execute(
    _spec: &ExecSpec,
    _sink: &mut dyn OutputSink,
    _cancel: &Cancel,
) -> Result<ExecOutcome, ExecError> {
    unimplemented!()
}
