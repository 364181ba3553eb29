//! A shell command per operation: `sh -c RUN` with `$BENCHMARK_OP_INDEX`, in a process
//! group of its own that is killed when the operation ends (nothing it started is left
//! running) or is stopped (a timeout, an interruption). Its stdout and stderr share one
//! pipe: `::bench:: phase NAME` lines on it are stamped as they arrive; `complete` is its
//! exit. Its other output is read and dropped, except the last lines, which say why a
//! failed operation failed.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use tokio::io::AsyncReadExt;

use super::Failure;
use super::engine::{Marks, Operation};
use crate::control::{self, Control, ControlScanner};

/// Bytes of output kept for a failure's message.
const OUTPUT_TAIL: usize = 2048;

/// What each operation runs.
#[derive(Debug, Clone)]
pub struct CommandOp {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Set on top of the harness's environment.
    pub env: Vec<(OsString, OsString)>,
    pub cwd: Option<PathBuf>,
    /// Exit codes that count as success.
    pub expect_exit: Vec<i32>,
}

/// A worker's command, set up once and spawned for each operation, and its reusable
/// buffers.
#[derive(Debug)]
pub struct Buffers {
    cmd: tokio::process::Command,
    out: Vec<u8>,
    tail: Vec<u8>,
    scanner: ControlScanner,
}

/// Kills the operation's process group when the operation ends or its future is
/// dropped.
struct Group(Option<i32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: kill(2) on a process group we created; ESRCH when it is gone.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Operation for CommandOp {
    type Worker = Buffers;

    fn worker(&self) -> Buffers {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        // A `chdir` in each child only where it changes something.
        let here = std::env::current_dir().ok();
        if let Some(dir) = &self.cwd
            && std::fs::canonicalize(dir).ok() != here
        {
            cmd.current_dir(dir);
        }
        Buffers {
            cmd,
            // Small: a worker per operation in flight, and only control lines matter.
            out: vec![0; 4 * 1024],
            tail: Vec::with_capacity(OUTPUT_TAIL),
            scanner: ControlScanner::default(),
        }
    }

    async fn run(&self, b: &mut Buffers, index: u64, marks: &mut Marks) -> Result<(), Failure> {
        // One pipe for stdout and stderr: control lines are read from it, and the last
        // bytes kept say why a failed operation failed.
        let (out, write) = pipe().map_err(|e| Failure::new("spawn", format!("a pipe: {e}")))?;
        let spawned = match write.try_clone() {
            Ok(write2) => b
                .cmd
                .env("BENCHMARK_OP_INDEX", index.to_string())
                .stdout(Stdio::from(write))
                .stderr(Stdio::from(write2))
                .spawn(),
            Err(e) => Err(e),
        };
        // The parent's copies of the write end go now: the pipe ends with the command.
        b.cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = spawned.map_err(|e| {
            Failure::new(
                "spawn",
                format!("{} did not start: {e}", self.program.to_string_lossy()),
            )
        })?;
        let _group = Group(child.id().and_then(|p| i32::try_from(p).ok()));
        let mut out = Some(
            tokio::net::unix::pipe::Receiver::from_owned_fd_unchecked(out)
                .map_err(|e| Failure::new("io", format!("reading its output: {e}")))?,
        );
        b.tail.clear();
        b.scanner = ControlScanner::default();
        let mut on_line = |line: &str, at: Instant| {
            if let Some(Ok(Control::Phase { name })) = control::parse(line) {
                marks.mark(&name, at);
            }
        };
        let status = loop {
            tokio::select! {
                n = read(&mut out, &mut b.out) => match n {
                    Some(n) => {
                        b.scanner.feed(&b.out[..n], Instant::now(), &mut on_line);
                        keep_tail(&mut b.tail, &b.out[..n]);
                    }
                    None => out = None,
                },
                status = child.wait() => break status,
            }
        };
        let exited = Instant::now();
        // What the command wrote before it exited is in the pipe: read it without
        // waiting for writers it left behind (killed with its group on return).
        if let Some(out) = out.as_mut() {
            drain(out, &mut b.out, |chunk| {
                b.scanner.feed(chunk, exited, &mut on_line);
                keep_tail(&mut b.tail, chunk);
            });
        }
        b.scanner.finish(exited, &mut on_line);
        marks.end(exited);
        let status = status.map_err(|e| Failure::new("io", format!("waiting for it: {e}")))?;
        use std::os::unix::process::ExitStatusExt;
        let (cause, code) = match (status.code(), status.signal()) {
            (Some(c), _) => (format!("exit:{c}"), c),
            (None, Some(s)) => (format!("signal:{s}"), 128 + s),
            (None, None) => ("exit:unknown".to_owned(), -1),
        };
        if self.expect_exit.contains(&code) {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&b.tail);
        let said = said.trim();
        Err(Failure::new(
            cause,
            if said.is_empty() {
                format!("exited with {code}")
            } else {
                format!("exited with {code}: {}", last_lines(said, 3))
            },
        ))
    }
}

/// Read some bytes; `None` at the end of the stream (and forever after, once `pipe` is
/// `None`).
async fn read<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> Option<usize> {
    match pipe {
        Some(p) => match p.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

/// Read what is already in a pipe, without waiting for more.
fn drain<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut R,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]),
) {
    use std::task::{Context, Poll};
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    // Bounded: a writer left behind cannot keep it going.
    for _ in 0..64 {
        let mut rb = tokio::io::ReadBuf::new(buf);
        match std::pin::Pin::new(&mut *pipe).poll_read(&mut cx, &mut rb) {
            Poll::Ready(Ok(())) if !rb.filled().is_empty() => each(rb.filled()),
            _ => return,
        }
    }
}

/// A pipe: its read end non-blocking (for the runtime), its write end blocking (for the
/// command), both close-on-exec.
fn pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    #[cfg(not(target_os = "macos"))]
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    #[cfg(target_os = "macos")]
    let (read, write) = {
        // No pipe2 on macOS: close-on-exec set right after (the harness spawns from
        // these threads only, which are all here).
        use nix::fcntl::FdFlag;
        let (r, w) = nix::unistd::pipe()?;
        fcntl(&r, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        fcntl(&w, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        (r, w)
    };
    fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok((read, write))
}

fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    if chunk.len() >= OUTPUT_TAIL {
        tail.clear();
        tail.extend_from_slice(&chunk[chunk.len() - OUTPUT_TAIL..]);
        return;
    }
    let over = (tail.len() + chunk.len()).saturating_sub(OUTPUT_TAIL);
    tail.drain(..over);
    tail.extend_from_slice(chunk);
}

/// The last `n` lines that say something (control lines are for the harness).
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with(control::PREFIX))
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::Drive;
    use crate::load::engine::drive;

    fn sh(run: &str) -> CommandOp {
        CommandOp {
            program: "sh".into(),
            args: vec!["-c".into(), run.into()],
            env: vec![],
            cwd: None,
            expect_exit: vec![0],
        }
    }

    fn closed(c: u32, total: u64) -> Drive {
        Drive::closed(c, total, Some(Duration::from_secs(20)))
    }

    #[test]
    fn phases_from_stdout_and_exit_codes_by_cause() {
        let op = sh(
            r#"echo "::bench:: phase schedule"; sleep 0.05; echo '::bench:: phase dispatch'; \
               echo noise >&2; case $BENCHMARK_OP_INDEX in 3|7) echo "bad $BENCHMARK_OP_INDEX" >&2; exit 4;; esac"#,
        );
        let m = drive(op, &closed(2, 10), &|| false, &mut |_| {}).unwrap();
        assert_eq!((m.ops, m.succeeded), (10, 8), "{:?}", m.failure_samples);
        assert_eq!(m.failures.get("exit:4"), Some(&2));
        assert!(
            m.failure_samples
                .iter()
                .any(|s| s.contains("exited with 4: noise / bad 3")),
            "{:?}",
            m.failure_samples
        );
        let names: Vec<&str> = m.phases.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["schedule", "dispatch", "complete"]);
        let dispatch = m.phases[1].1.stats().unwrap();
        assert!(dispatch.min_ms >= 50.0, "{dispatch:?}");
    }

    #[test]
    fn a_timed_out_operation_leaves_nothing_running() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let op = sh(&format!("sleep 30 & echo $! > {}; wait", pidfile.display()));
        let m = drive(
            op,
            &Drive {
                timeout: Some(Duration::from_millis(300)),
                ..closed(1, 1)
            },
            &|| false,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(m.failures.get("timeout"), Some(&1));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SAFETY: signal 0 only asks whether the process exists.
        let deadline = Instant::now() + Duration::from_secs(10);
        while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_ne!(
            unsafe { libc::kill(pid, 0) },
            0,
            "the operation's sleep is still running"
        );
    }

    #[test]
    fn a_command_that_does_not_start_is_a_spawn_failure() {
        let op = CommandOp {
            program: "/nonexistent/benchmark-shell".into(),
            ..sh("true")
        };
        let m = drive(op, &closed(1, 2), &|| false, &mut |_| {}).unwrap();
        assert_eq!(m.failures.get("spawn"), Some(&2));
    }

    #[test]
    fn signals_and_unexpected_codes() {
        let mut op = sh("kill -9 $$");
        op.expect_exit = vec![0];
        let m = drive(op, &closed(1, 2), &|| false, &mut |_| {}).unwrap();
        assert_eq!(m.failures.get("signal:9"), Some(&2));
        let mut op = sh("exit 1");
        op.expect_exit = vec![0, 1];
        let m = drive(op, &closed(1, 2), &|| false, &mut |_| {}).unwrap();
        assert_eq!(m.succeeded, 2);
    }

    #[test]
    fn the_output_tail_keeps_the_last_bytes() {
        let mut t = Vec::new();
        keep_tail(&mut t, &[b'a'; 3000]);
        assert_eq!(t.len(), OUTPUT_TAIL);
        keep_tail(&mut t, b"xyz");
        assert_eq!(t.len(), OUTPUT_TAIL);
        assert!(t.ends_with(b"axyz"));
        assert_eq!(last_lines("a\n\nb\nc\nd\n", 2), "c / d");
    }
}
