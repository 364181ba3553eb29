//! Tests of the executor with real processes.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::RwLockReadGuard;
use std::thread;

use super::*;
#[cfg(target_os = "linux")]
use crate::measure::CgroupUsage;
use crate::measure::cgroup::TEST_LOCK;

fn shared() -> RwLockReadGuard<'static, ()> {
    TEST_LOCK.read().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Collect {
    out: Vec<u8>,
    err: Vec<u8>,
    control: Vec<u8>,
    chunks: usize,
}

impl OutputSink for Collect {
    fn chunk(&mut self, stream: Stream, data: &[u8], _at: Instant) {
        self.chunks += 1;
        match stream {
            Stream::Stdout => self.out.extend_from_slice(data),
            Stream::Stderr => self.err.extend_from_slice(data),
            Stream::Control => self.control.extend_from_slice(data),
        }
    }
}

fn sh(cmd: &str) -> ExecSpec {
    ExecSpec::new("/bin/sh", ["-c", cmd])
}

fn run(spec: &ExecSpec) -> (ExecOutcome, Collect) {
    let mut sink = Collect::default();
    let outcome = execute(spec, &mut sink, &Cancel::new()).expect("execute");
    (outcome, sink)
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// Dead, or a zombie nobody reaped yet.
fn gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    zombie(pid)
}

#[cfg(target_os = "linux")]
fn zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// macOS has no /proc: the process's BSD info, which the kernel also gives for zombies.
/// Anything it cannot tell counts as alive, so that no check passes by not looking.
#[cfg(target_os = "macos")]
fn zombie(pid: i32) -> bool {
    // SAFETY: plain old data, filled in by the kernel.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    // SAFETY: the buffer is `size` bytes long.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            std::ptr::addr_of_mut!(info).cast(),
            size,
        )
    };
    if n == size {
        info.pbi_status == libc::SZOMB
    } else {
        io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
}

/// Gone (see [`gone`]) within a few seconds: a killed process takes a moment to exit.
fn gone_soon(pid: i32) -> bool {
    cgroup::settle(Duration::from_secs(10), || gone(pid))
}

/// The pid a process wrote to `path` (waits for it to appear).
fn pid_in(path: &Path) -> i32 {
    let mut last = String::new();
    cgroup::settle(Duration::from_secs(10), || {
        last = fs::read_to_string(path).unwrap_or_default();
        last.ends_with('\n')
    });
    last.trim()
        .parse()
        .unwrap_or_else(|_| panic!("no pid in {}: {last:?}", path.display()))
}

/// Child mode of this test binary: `setsid(1)`, which macOS lacks. In a new session it
/// runs `sh -c "$BENCHMARK_TEST_SETSID"` in its own place (same pid), with the step's
/// stdout and stderr back from fds 3 and 4, so that libtest's lines stay out of them.
const SETSID_CHILD: &str = "BENCHMARK_TEST_SETSID";

#[test]
fn setsid_child() {
    let Some(script) = std::env::var_os(SETSID_CHILD) else {
        return;
    };
    // SAFETY: plain fd and session calls; nothing else in this process uses fds 1-4 now.
    unsafe {
        libc::dup2(3, 1);
        libc::dup2(4, 2);
        libc::close(3);
        libc::close(4);
        assert_ne!(libc::setsid(), -1, "setsid: {}", io::Error::last_os_error());
    }
    let err = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env_remove(SETSID_CHILD)
        .exec();
    panic!("exec /bin/sh: {err}");
}

/// A shell command that runs `script` (no single quotes) in a new session, like
/// `setsid sh -c 'script'`, through [`setsid_child`].
fn setsid(script: &str) -> String {
    assert!(!script.contains('\''), "{script}");
    let exe = std::env::current_exe().unwrap();
    format!(
        "{SETSID_CHILD}='{script}' '{}' --exact measure::exec::tests::setsid_child --test-threads=1 3>&1 4>&2 >/dev/null 2>&1",
        exe.display()
    )
}

/// A shell command that runs `script` (no single quotes) as the daemon of a step's tree,
/// one the harness must find and kill. On Linux it escapes to a session of its own
/// ([`setsid`]): the cgroup or the environment cookie still finds it. Elsewhere the tree is
/// the step's process group and nothing more (no /proc to look for the cookie in), so
/// there the daemon stays in the group; an escaped one is not found (see
/// `the_setsid_helper_escapes_to_a_session_of_its_own_and_keeps_the_pipes`).
fn daemon(script: &str) -> String {
    if cfg!(target_os = "linux") {
        setsid(script)
    } else {
        assert!(!script.contains('\''), "{script}");
        format!("/bin/sh -c '{script}'")
    }
}

#[test]
fn the_setsid_helper_escapes_to_a_session_of_its_own_and_keeps_the_pipes() {
    let _g = shared();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let spec = sh(&format!(
        "{} & echo $$ > {d}/main; wait",
        setsid(&format!(
            "echo $$ > {d}/daemon; echo to-stdout; echo to-stderr >&2"
        ))
    ));
    let (o, sink) = run(&spec);
    assert_eq!(o.termination, Termination::Exited(0));
    assert_eq!(text(&sink.out), "to-stdout\n");
    assert_eq!(text(&sink.err), "to-stderr\n");
    let (main, daemon) = (
        pid_in(&dir.path().join("main")),
        pid_in(&dir.path().join("daemon")),
    );
    assert_ne!(main, daemon);

    // While it runs, the daemon leads a session of its own. The step ends once it has.
    let mut spec = sh(&format!(
        "{} & while [ ! -s {d}/held ]; do sleep 0.01; done; echo started",
        setsid(&format!("echo $$ > {d}/held; exec sleep 30"))
    ));
    spec.kill_grace = Duration::from_millis(300);
    let (o, _) = run(&spec);
    let held = pid_in(&dir.path().join("held"));
    // SAFETY: getsid only reads.
    assert_eq!(unsafe { libc::getsid(held) }, held);
    assert_ne!(unsafe { libc::getsid(0) }, held);
    if cfg!(target_os = "linux") {
        o.leftovers.expect("the daemon is a leftover").kill();
        assert!(gone(held));
    } else {
        // Out of the process group, the daemon is out of the tree the harness knows.
        assert!(o.leftovers.is_none(), "found outside its process group");
        // SAFETY: kill(2) of the process this test started.
        unsafe { libc::kill(held, libc::SIGKILL) };
        assert!(gone_soon(held));
    }
}

/// A step whose shell waits long, with a daemon escaped to its own session: pids to `dir`.
fn tree_with_daemon(dir: &Path) -> String {
    format!(
        "{} & echo $$ > {d}/main; sleep 100",
        daemon(&format!(
            "echo $$ > {d}/daemon; exec sleep 300",
            d = dir.display()
        )),
        d = dir.display()
    )
}

fn uses_cgroup(outcome: &ExecOutcome) -> bool {
    outcome.method.name.starts_with("wait4+cgroup")
}

#[test]
fn exit_code_and_wall_time() {
    let _g = shared();
    let (o, _) = run(&sh("sleep 0.05; exit 3"));
    assert_eq!(o.termination, Termination::Exited(3));
    assert!(!o.timed_out && !o.interrupted);
    assert!(o.wall >= Duration::from_millis(50), "{:?}", o.wall);
    assert!(o.wall < Duration::from_secs(30), "{:?}", o.wall);
    assert_eq!(o.finished_at.duration_since(o.started_at).unwrap(), o.wall);
    assert!(o.started <= Instant::now());
    assert!(o.leftovers.is_none());
}

#[test]
fn signal_termination() {
    let _g = shared();
    let (o, _) = run(&sh("kill -9 $$"));
    assert_eq!(o.termination, Termination::Signaled(libc::SIGKILL));
    assert_eq!(o.termination.code(), 137);
}

#[test]
fn streams_stdout_stderr_and_control() {
    let _g = shared();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("control");
    let mut spec = sh(
        r#"printf 'out 1\n'; printf 'err 1\n' >&2; printf '::bench:: phase a\n' >> "$BENCHMARK_CONTROL"; printf '::bench:: metric x 1\n' >> "$BENCHMARK_CONTROL"; printf 'out 2\n'"#,
    );
    let control = std::sync::Arc::new(super::ControlFifo::create(&fifo).unwrap());
    spec.control = Some(std::sync::Arc::clone(&control));
    spec.env
        .push(("BENCHMARK_CONTROL".into(), fifo.clone().into()));
    for _ in 0..2 {
        // The same FIFO serves the next step: each hears only its own lines.
        let (o, sink) = run(&spec);
        assert_eq!(o.termination, Termination::Exited(0));
        assert_eq!(text(&sink.out), "out 1\nout 2\n");
        assert_eq!(text(&sink.err), "err 1\n");
        assert_eq!(
            text(&sink.control),
            "::bench:: phase a\n::bench:: metric x 1\n"
        );
    }
    drop(spec);
    drop(control);
    assert!(!fifo.exists(), "the FIFO is removed with the last handle");
}

#[test]
fn large_output_arrives_whole() {
    let _g = shared();
    let (o, sink) = run(&sh("head -c 3000000 /dev/zero; echo end >&2"));
    assert_eq!(o.termination, Termination::Exited(0));
    assert_eq!(sink.out.len(), 3_000_000);
    assert!(sink.chunks >= 2);
    assert_eq!(text(&sink.err), "end\n");
}

#[test]
fn env_and_cwd_are_applied() {
    let _g = shared();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let mut spec = sh(r#"printf '%s|%s|%s' "$GREETING" "${HOME-unset}" "$(pwd -P)""#);
    spec.env.push(("GREETING".into(), "hello world".into()));
    spec.env_remove.push("HOME".into());
    spec.cwd = Some(cwd.clone());
    let (_, sink) = run(&spec);
    assert_eq!(
        text(&sink.out),
        format!("hello world|unset|{}", cwd.display())
    );
}

#[test]
fn uncaptured_output_is_inherited() {
    let _g = shared();
    let mut spec = sh("exit 4");
    spec.capture = false;
    let (o, sink) = run(&spec);
    assert_eq!(o.termination, Termination::Exited(4));
    assert_eq!(sink.chunks, 0);
}

#[test]
fn spawn_errors_say_what_to_do() {
    let _g = shared();
    let spec = ExecSpec::new(
        "/nonexistent/benchmark-no-such-program",
        Vec::<OsString>::new(),
    );
    let err = execute(&spec, &mut Discard, &Cancel::new()).unwrap_err();
    assert!(matches!(err, ExecError::Spawn { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("benchmark-no-such-program") && msg.contains("PATH"),
        "{msg}"
    );

    let mut spec = sh("true");
    spec.cwd = Some("/nonexistent/benchmark-dir".into());
    let err = execute(&spec, &mut Discard, &Cancel::new()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/benchmark-dir") && msg.contains("working directory"),
        "{msg}"
    );
}

fn assert_timeout_kills_tree(isolate: bool, probe: &Probe) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sh(&tree_with_daemon(dir.path()));
    spec.isolate = isolate;
    spec.timeout = Some(Duration::from_millis(500));
    spec.kill_grace = Duration::from_millis(300);
    let o = execute_with(&spec, &mut Discard, &Cancel::new(), probe).unwrap();
    eprintln!(
        "timeout with {:?}: {:?} after {:?}",
        o.method, o.termination, o.wall
    );
    assert!(o.timed_out);
    assert!(!o.interrupted);
    assert!(o.leftovers.is_none());
    assert!(o.wall >= Duration::from_millis(500), "{:?}", o.wall);
    assert!(o.wall < Duration::from_secs(20), "{:?}", o.wall);
    assert_eq!(o.termination, Termination::Signaled(libc::SIGTERM));
    let (main, daemon) = (
        pid_in(&dir.path().join("main")),
        pid_in(&dir.path().join("daemon")),
    );
    assert!(gone_soon(main), "main shell {main} still runs");
    assert!(gone_soon(daemon), "setsid daemon {daemon} still runs");
    if isolate && probe.method_name() != "wait4" {
        assert!(uses_cgroup(&o), "{:?}", o.method);
        assert!(o.cgroup.is_some());
    } else {
        assert_eq!(o.method.name, "wait4");
        assert!(o.cgroup.is_none());
    }
}

#[test]
fn timeout_kills_the_whole_tree_with_cgroups_auto() {
    let _g = shared();
    assert_timeout_kills_tree(true, cgroup::probe());
}

#[test]
fn timeout_kills_the_whole_tree_without_cgroups() {
    let _g = shared();
    assert_timeout_kills_tree(false, cgroup::probe());
}

#[cfg(target_os = "linux")]
#[test]
fn timeout_kills_the_whole_tree_with_cgroup_v1_only() {
    let _g = shared();
    let probe = Probe::run(cgroup::Mode::V1);
    eprintln!("v1 probe: {} {:?}", probe.method_name(), probe.note());
    assert_timeout_kills_tree(true, &probe);
}

#[cfg(target_os = "linux")]
#[test]
fn timeout_kills_the_whole_tree_with_cgroup_v2_only() {
    let _g = shared();
    let probe = Probe::run(cgroup::Mode::V2);
    eprintln!("v2 probe: {} {:?}", probe.method_name(), probe.note());
    assert_timeout_kills_tree(true, &probe);
}

#[test]
fn a_stubborn_tree_is_sigkilled_after_the_grace() {
    let _g = shared();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut spec = sh(&format!(
        "trap '' TERM; {} & echo $$ > {d}/main; while :; do sleep 1; done",
        daemon(&format!(
            "trap \"\" TERM; echo $$ > {d}/daemon; while :; do sleep 1; done"
        ))
    ));
    spec.timeout = Some(Duration::from_millis(300));
    spec.kill_grace = Duration::from_millis(200);
    for isolate in [true, false] {
        spec.isolate = isolate;
        let o = execute(&spec, &mut Discard, &Cancel::new()).unwrap();
        assert!(o.timed_out);
        assert_eq!(
            o.termination,
            Termination::Signaled(libc::SIGKILL),
            "isolate {isolate}"
        );
        let (main, daemon) = (
            pid_in(&dir.path().join("main")),
            pid_in(&dir.path().join("daemon")),
        );
        assert!(
            gone(main) && gone(daemon),
            "isolate {isolate}: {main} {daemon}"
        );
        fs::remove_file(dir.path().join("main")).unwrap();
        fs::remove_file(dir.path().join("daemon")).unwrap();
    }
}

#[test]
fn cancellation_kills_the_tree_and_later_steps_do_not_start() {
    let _g = shared();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sh(&tree_with_daemon(dir.path()));
    spec.kill_grace = Duration::from_millis(300);
    let cancel = Cancel::new();
    let canceller = {
        let cancel = cancel.clone();
        let dir = dir.path().to_path_buf();
        thread::spawn(move || {
            // Both have written their pids: the tree is complete.
            pid_in(&dir.join("daemon"));
            pid_in(&dir.join("main"));
            cancel.cancel();
        })
    };
    let o = execute(&spec, &mut Discard, &cancel).unwrap();
    canceller.join().unwrap();
    assert!(o.interrupted);
    assert!(!o.timed_out);
    assert!(o.leftovers.is_none());
    let (main, daemon) = (
        pid_in(&dir.path().join("main")),
        pid_in(&dir.path().join("daemon")),
    );
    assert!(gone_soon(main) && gone_soon(daemon), "{main} {daemon}");

    let err = execute(&sh("true"), &mut Discard, &cancel).unwrap_err();
    assert!(matches!(err, ExecError::Cancelled { .. }), "{err:?}");
}

/// Re-runs this test binary as the step: allocate and touch 200 MiB, hold it 20 ms.
#[test]
fn short_lived_200_mib_allocation_is_seen() {
    const CHILD: &str = "BENCHMARK_TEST_ALLOC_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let block = vec![1u8; 200 << 20];
        std::hint::black_box(&block);
        thread::sleep(Duration::from_millis(20));
        return;
    }
    let _g = shared();
    let mut spec = ExecSpec::new(
        std::env::current_exe().unwrap(),
        [
            "--exact",
            "measure::exec::tests::short_lived_200_mib_allocation_is_seen",
            "--test-threads=1",
        ],
    );
    spec.env.push((CHILD.into(), "1".into()));
    for isolate in [true, false] {
        spec.isolate = isolate;
        let (o, sink) = run(&spec);
        assert_eq!(o.termination, Termination::Exited(0), "{}", text(&sink.out));
        eprintln!(
            "alloc: {:?} rusage {:?} cgroup {:?}",
            o.method, o.rusage, o.cgroup
        );
        assert!(o.rusage.max_rss_bytes >= 200 << 20, "{:?}", o.rusage);
        assert!(o.rusage.max_rss_bytes < 4 << 30, "{:?}", o.rusage);
        if let Some(cg) = o.cgroup {
            if let Some(peak) = cg.memory_peak_bytes {
                assert!(peak >= 200 << 20, "{cg:?}");
            }
            assert!(cg.cpu_user.is_some() && cg.cpu_sys.is_some(), "{cg:?}");
        }
        if isolate && cgroup::probe().method_name() != "wait4" {
            let cg = o.cgroup.expect("cgroup readings");
            assert!(
                cg.memory_peak_bytes.is_some() || o.method.note.is_some(),
                "{o:?}"
            );
        }
    }
}

#[test]
fn cpu_time_is_accounted() {
    let _g = shared();
    let (o, _) = run(&sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"));
    let cpu = o.rusage.user + o.rusage.sys;
    assert!(cpu >= Duration::from_millis(20), "{:?}", o.rusage);
    assert!(
        cpu <= o.wall + Duration::from_millis(20),
        "{:?} vs {:?}",
        o.rusage,
        o.wall
    );
    if let Some(cg) = o.cgroup {
        let cg_cpu = cg.cpu_user.unwrap_or_default() + cg.cpu_sys.unwrap_or_default();
        assert!(cg_cpu >= Duration::from_millis(20), "{cg:?}");
    }
}

fn assert_leftovers_found_and_killed(isolate: bool, by_drop: bool) {
    let dir = tempfile::tempdir().unwrap();
    // The step waits for the daemon to be set up: one caught inside execve when the step
    // ends may show no environment cookie long enough to be missed (without a cgroup).
    let mut spec = sh(&format!(
        "{} & while [ ! -s {d}/daemon ]; do sleep 0.01; done; echo started",
        daemon(&format!(
            "echo $$ > {d}/daemon; exec sleep 300",
            d = dir.path().display()
        )),
        d = dir.path().display()
    ));
    spec.isolate = isolate;
    spec.kill_grace = Duration::from_millis(500);
    let (o, sink) = run(&spec);
    assert_eq!(o.termination, Termination::Exited(0));
    assert_eq!(text(&sink.out), "started\n");
    let leftovers = o.leftovers.expect("the daemon is a leftover");
    // Off Linux only "none left" can be told (`Leftovers::count`).
    assert!(
        leftovers.count().is_some_and(|n| n >= 1) || cfg!(not(target_os = "linux")),
        "{:?}",
        leftovers.count()
    );
    let daemon = pid_in(&dir.path().join("daemon"));
    assert!(!gone(daemon));
    if by_drop {
        drop(leftovers);
    } else {
        leftovers.kill();
    }
    assert!(
        gone_soon(daemon),
        "daemon {daemon} survived (isolate {isolate})"
    );
}

/// Without a cgroup, killing a tree returns only once every process it found has exited
/// (or is a zombie): a SIGKILLed process no longer shows the environment cookie while
/// it still exits, and must not be taken for gone. Looks once, on purpose.
#[test]
fn kill_hard_without_cgroups_returns_once_the_tree_has_exited() {
    let _g = shared();
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let file = dir.path().join(format!("daemon{round}"));
        // A daemon that is set up (not inside execve) when the step ends: this is about
        // the kill, not about finding it.
        let mut spec = sh(&format!(
            "{} & while [ ! -s {f} ]; do sleep 0.01; done; echo started",
            daemon(&format!("echo $$ > {f}; sleep 300", f = file.display())),
            f = file.display()
        ));
        spec.isolate = false;
        spec.kill_grace = Duration::from_millis(500);
        let (o, _) = run(&spec);
        let leftovers = o.leftovers.expect("the daemon is a leftover");
        let daemon = pid_in(&file);
        leftovers.kill();
        assert!(gone(daemon), "round {round}: daemon {daemon} still exiting");
    }
}

#[test]
fn leftovers_are_reported_and_killed_with_cgroups() {
    let _g = shared();
    assert_leftovers_found_and_killed(true, false);
    assert_leftovers_found_and_killed(true, true);
}

#[test]
fn leftovers_are_reported_and_killed_without_cgroups() {
    let _g = shared();
    assert_leftovers_found_and_killed(false, false);
    assert_leftovers_found_and_killed(false, true);
}

#[test]
fn a_descendant_holding_the_pipes_does_not_block_the_step() {
    let _g = shared();
    for isolate in [true, false] {
        let mut spec = sh("(sleep 30 &); echo done");
        spec.isolate = isolate;
        let (o, sink) = run(&spec);
        assert_eq!(text(&sink.out), "done\n");
        assert!(o.wall < Duration::from_secs(20), "{:?}", o.wall);
        let leftovers = o.leftovers.expect("sleep is left over");
        // Off Linux only "none left" can be told (`Leftovers::count`).
        let one = if cfg!(target_os = "linux") {
            Some(1)
        } else {
            None
        };
        assert_eq!(leftovers.count(), one);
        leftovers.kill();
    }
}

#[test]
fn nothing_left_means_no_leftovers() {
    let _g = shared();
    for isolate in [true, false] {
        let mut spec = sh("sleep 0.01 & wait; true");
        spec.isolate = isolate;
        let (o, _) = run(&spec);
        assert!(o.leftovers.is_none(), "isolate {isolate}");
    }
}

#[test]
fn concurrent_executes_each_see_their_own_exit() {
    let _g = shared();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                let (o, sink) = run(&sh(&format!("sleep 0.0{i}; echo {i}; exit {i}")));
                assert_eq!(o.termination, Termination::Exited(i));
                assert_eq!(text(&sink.out), format!("{i}\n"));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn no_step_cgroup_directories_remain() {
    let _g = TEST_LOCK.write().unwrap_or_else(|e| e.into_inner());
    let probe = cgroup::probe();
    for isolate in [true, false] {
        // The step waits until its daemon has surely left execve: without a cgroup a
        // process inside execve has no readable environment to be found by (a known
        // limit, see `tree`), and this test is about the cgroup directories.
        let mut spec = sh(&format!(
            "{} & sleep 0.2; echo $$",
            setsid("exec sleep 300")
        ));
        spec.isolate = isolate;
        let (o, _) = run(&spec);
        o.leftovers
            .unwrap_or_else(|| panic!("a leftover (isolate {isolate})"))
            .kill();
        let mut spec = sh("sleep 300");
        spec.timeout = Some(Duration::from_millis(50));
        let (o, _) = run(&spec);
        assert!(o.timed_out);
    }
    // Only idle cgroups kept for reuse remain, and cleanup removes them.
    let parts = probe
        .our_dirs()
        .len()
        .checked_div(probe.idle())
        .unwrap_or(0);
    assert_eq!(probe.our_dirs().len(), probe.idle() * parts);
    cgroup::cleanup();
    let mut stale = probe.our_dirs();
    for mode in [cgroup::Mode::V1, cgroup::Mode::V2] {
        let other = Probe::run(mode);
        let o = execute_with(&sh("echo hi"), &mut Discard, &Cancel::new(), &other).unwrap();
        assert!(o.leftovers.is_none());
        let kept = other.our_dirs();
        drop(other);
        // A probe of its own takes its idle cgroups with it.
        stale.extend(kept.into_iter().filter(|d| d.exists()));
    }
    assert!(stale.is_empty(), "left behind: {stale:?}");
}

/// Child mode of the reuse test: touch 200 MiB and burn about 300 ms of CPU.
const HEAVY_CHILD: &str = "BENCHMARK_TEST_HEAVY_CHILD";

#[test]
fn heavy_child() {
    if std::env::var_os(HEAVY_CHILD).is_none() {
        return;
    }
    let block = vec![1u8; 200 << 20];
    std::hint::black_box(&block);
    // 300 ms of CPU, however busy the machine (300 ms of wall time on a loaded one gave
    // less than the 150 ms a test expects), but never more than 30 s of wall time.
    let cpu = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut x = 0u64;
    while cpu() < Duration::from_millis(300) && Instant::now() < give_up {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

#[cfg(target_os = "linux")]
fn heavy_step() -> ExecSpec {
    let mut spec = ExecSpec::new(
        std::env::current_exe().unwrap(),
        [
            "--exact",
            "measure::exec::tests::heavy_child",
            "--test-threads=1",
        ],
    );
    spec.env.push((HEAVY_CHILD.into(), "1".into()));
    spec
}

#[cfg(target_os = "linux")]
fn cpu_of(cg: &CgroupUsage) -> Duration {
    cg.cpu_user.unwrap_or_default() + cg.cpu_sys.unwrap_or_default()
}

/// A cgroup that served a heavy step serves the next one, which reports only its own use.
#[cfg(target_os = "linux")]
#[test]
fn a_reused_cgroup_reports_each_step_on_its_own() {
    let _g = shared();
    let probe = Probe::run(cgroup::Mode::Auto);
    if probe.layout.is_none() {
        eprintln!("no cgroups here: {:?}", probe.note());
        return;
    }
    let go = |spec: &ExecSpec| {
        let o = execute_with(spec, &mut Discard, &Cancel::new(), &probe).unwrap();
        assert_eq!(o.termination, Termination::Exited(0));
        assert!(o.leftovers.is_none());
        o.cgroup.expect("cgroup readings")
    };
    // Brings the test binary into the page cache, charged to a cgroup of its own.
    go(&heavy_step());
    probe.clear_pool();

    // Right after the exit notification a loaded machine may still show the cgroup
    // holding something, and then it is removed rather than pooled (correct, only
    // slower): a few tries, of which one must pool it.
    let mut heavy = go(&heavy_step());
    for _ in 0..4 {
        if probe.idle() == 1 {
            break;
        }
        heavy = go(&heavy_step());
    }
    assert_eq!(probe.idle(), 1, "an empty cgroup goes back to the pool");
    let dirs = probe.idle_dirs();
    let light = go(&sh("true"));
    assert_eq!(probe.idle_dirs(), dirs, "the second step reused the cgroup");
    eprintln!("heavy {heavy:?}\nlight {light:?}");

    assert!(cpu_of(&heavy) >= Duration::from_millis(150), "{heavy:?}");
    assert!(cpu_of(&light) < Duration::from_millis(100), "{light:?}");
    if let (Some(h), Some(l)) = (heavy.memory_peak_bytes, light.memory_peak_bytes) {
        assert!(h >= 200 << 20, "{heavy:?}");
        assert!(l < 20 << 20, "{light:?}");
    }
}

/// A step that leaves page cache charged to its cgroup gets it removed, not reused; one
/// that leaves a process behind gets it back only once that process is dead.
#[cfg(target_os = "linux")]
#[test]
fn cgroups_holding_memory_or_processes_are_not_pooled() {
    let _g = shared();
    let probe = Probe::run(cgroup::Mode::Auto);
    if probe.layout.is_none() {
        eprintln!("no cgroups here: {:?}", probe.note());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sh(&format!(
        "head -c 8388608 /dev/zero > {}/cache",
        dir.path().display()
    ));
    let o = execute_with(&spec, &mut Discard, &Cancel::new(), &probe).unwrap();
    let cg = o.cgroup.expect("cgroup readings");
    if cg.memory_peak_bytes.is_some() {
        assert_eq!(probe.idle(), 0, "8 MiB of page cache stays charged: {cg:?}");
    }

    spec = sh("setsid sleep 300 & true");
    let o = execute_with(&spec, &mut Discard, &Cancel::new(), &probe).unwrap();
    let leftovers = o.leftovers.expect("sleep is left over");
    let next = execute_with(&sh("true"), &mut Discard, &Cancel::new(), &probe).unwrap();
    assert!(next.leftovers.is_none());
    assert_eq!(leftovers.count(), Some(1), "the next step did not touch it");
    let idle = probe.idle();
    leftovers.kill();
    if probe.kills_with_cgroup_kill() {
        assert_eq!(probe.idle(), idle, "killed by cgroup.kill, it is removed");
    } else {
        assert_eq!(probe.idle(), idle + 1, "emptied by the kill, it is pooled");
    }
}

/// Per-execute overhead against a plain spawn loop; prints figures, asserts only success.
/// The variants run interleaved, round after round and in a shuffled order, so that load
/// from other processes hits them alike; the harness's own CPU (RUSAGE_SELF) is less noisy
/// than wall time.
#[test]
#[ignore = "timing figures: cargo test --release --lib overhead -- --ignored --nocapture --test-threads=1"]
fn overhead_against_a_raw_spawn_loop() {
    const ROUNDS: usize = 300;
    fn self_cpu() -> Duration {
        // SAFETY: plain old data filled in by the kernel.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let tv = |t: libc::timeval| {
            Duration::from_secs(u64::try_from(t.tv_sec).unwrap())
                + Duration::from_micros(u64::try_from(t.tv_usec).unwrap())
        };
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }
    /// Runs once; returns the wall time `execute` measured, if it is an execute.
    type Variant = (&'static str, Box<dyn Fn() -> Option<Duration>>);
    let step = |isolate: bool, capture: bool, probe: Option<Probe>| -> Box<dyn Fn() -> _> {
        let mut spec = sh("true");
        spec.isolate = isolate;
        spec.capture = capture;
        let cancel = Cancel::new();
        Box::new(move || {
            let probe = probe.as_ref().unwrap_or_else(|| cgroup::probe());
            let o = execute_with(&spec, &mut Discard, &cancel, probe).unwrap();
            assert_eq!(o.termination, Termination::Exited(0));
            Some(o.wall)
        })
    };
    let variants: Vec<Variant> = vec![
        (
            "Command::status",
            Box::new(|| {
                let s = Command::new("/bin/sh")
                    .args(["-c", "true"])
                    .status()
                    .unwrap();
                assert!(s.success());
                None
            }),
        ),
        (
            // What forking instead of posix_spawn costs (a cgroup join needs a pre_exec).
            "Command::status, fork",
            Box::new(|| {
                let mut cmd = Command::new("/bin/sh");
                cmd.args(["-c", "true"]);
                // SAFETY: the hook does nothing.
                unsafe { cmd.pre_exec(|| Ok(())) };
                assert!(cmd.status().unwrap().success());
                None
            }),
        ),
        (
            "Command::output",
            Box::new(|| {
                let o = Command::new("/bin/sh")
                    .args(["-c", "true"])
                    .output()
                    .unwrap();
                assert!(o.status.success());
                None
            }),
        ),
        ("execute: cgroup (auto), capture", step(true, true, None)),
        #[cfg(target_os = "linux")]
        (
            "execute: cgroup (auto), no reuse",
            step(
                true,
                true,
                Some(Probe::run(cgroup::Mode::Auto).without_reuse()),
            ),
        ),
        ("execute: cgroup (auto), inherit", step(true, false, None)),
        #[cfg(target_os = "linux")]
        (
            "execute: cgroup (v1), capture",
            step(true, true, Some(Probe::run(cgroup::Mode::V1))),
        ),
        ("execute: no cgroup, capture", step(false, true, None)),
        ("execute: no cgroup, inherit", step(false, false, None)),
    ];
    let mut wall = vec![Vec::with_capacity(ROUNDS); variants.len()];
    let mut measured = vec![Vec::with_capacity(ROUNDS); variants.len()];
    let mut cpu = vec![Duration::ZERO; variants.len()];
    let mut order: Vec<usize> = (0..variants.len()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..ROUNDS {
        // A new order each round (Fisher-Yates on xorshift): what a variant leaves the
        // kernel to finish (RCU callbacks, freed cgroups) lands on different successors.
        for k in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(k, usize::try_from(seed % (k as u64 + 1)).unwrap());
        }
        for &i in &order {
            let run = &variants[i].1;
            let (c, t) = (self_cpu(), Instant::now());
            measured[i].extend(run());
            wall[i].push(t.elapsed());
            cpu[i] += self_cpu() - c;
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v.get(v.len() / 2).copied()
    };
    let medians: Vec<Duration> = wall.iter_mut().map(|v| median(v).unwrap()).collect();
    let probe = cgroup::probe();
    eprintln!(
        "method: {} (note: {:?}), {ROUNDS} rounds",
        probe.method_name(),
        probe.note()
    );
    for (i, (label, _)) in variants.iter().enumerate() {
        let reported = median(&mut measured[i]).map_or(String::new(), |d| {
            format!("   step wall {:>6.1} µs", d.as_secs_f64() * 1e6)
        });
        eprintln!(
            "{label:33} loop {:>7.1} µs (x{:.3})   harness CPU {:>6.1} µs{reported}",
            medians[i].as_secs_f64() * 1e6,
            medians[i].as_secs_f64() / medians[0].as_secs_f64(),
            cpu[i].as_secs_f64() * 1e6 / ROUNDS as f64,
        );
    }
}

/// Where the host has a cgroup v2 hierarchy, the step is created inside its cgroup there
/// (`clone3` with `CLONE_INTO_CGROUP`) and still joins the v1 ones of a hybrid host;
/// v1 alone joins by `cgroup.procs`.
#[cfg(target_os = "linux")]
#[test]
fn a_step_is_born_in_its_v2_cgroup() {
    let _g = shared();
    for mode in [cgroup::Mode::Auto, cgroup::Mode::V2, cgroup::Mode::V1] {
        let probe = Probe::run(mode);
        if probe.layout.is_none() {
            eprintln!(
                "NOT CHECKED ({mode:?}): no cgroups here: {:?}",
                probe.note()
            );
            continue;
        }
        let mut sink = Collect::default();
        let o = execute_with(
            &sh("cat /proc/self/cgroup"),
            &mut sink,
            &Cancel::new(),
            &probe,
        )
        .unwrap();
        assert_eq!(o.termination, Termination::Exited(0));
        let text = String::from_utf8(sink.out).unwrap();
        let unified = text.lines().find_map(|l| l.strip_prefix("0::"));
        let v1: Vec<&str> = text.lines().filter(|l| !l.starts_with("0::")).collect();
        let has_v2_part = probe.method_name() != "wait4+cgroup-v1";
        // clone3 into a cgroup is written out for x86_64 only; elsewhere the child joins.
        assert_eq!(
            o.harness.clone_into_cgroup,
            has_v2_part && cfg!(target_arch = "x86_64"),
            "{mode:?} {}: {text}",
            probe.method_name()
        );
        if has_v2_part {
            assert!(
                unified.is_some_and(|p| p.contains("/benchmark-")),
                "{mode:?}: born in its own v2 cgroup: {text}"
            );
        }
        if probe.method_name() != "wait4+cgroup-v2" {
            assert!(
                v1.iter().any(|l| l.contains("/benchmark-")),
                "{mode:?}: joined its v1 cgroups too: {text}"
            );
        }
    }
}

/// The kill-tree tests above, 20 times, each in a fresh PID, mount and network namespace
/// with /sys hidden and `BENCHMARK_CGROUP=off`, as unprivileged as `setpriv` allows —
/// like the Nix build sandbox, where killing a tree without cgroups once raced the
/// kernel's exit. Needs root and unshare(1); without them it says NOT RUN and passes.
#[cfg(target_os = "linux")]
#[test]
fn kill_tree_tests_hold_in_a_fresh_pid_namespace_without_cgroups() {
    const INNER: &str = "BENCHMARK_TEST_IN_NAMESPACE";
    const RUNS: usize = 20;
    if std::env::var_os(INNER).is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // `sh -c 'hide /sys; exec "$@"' sh [setpriv ...] EXE FILTERS...`
    let namespaced = |prefix: &[&str], args: &[&str]| {
        let mut c = Command::new("unshare");
        c.args(["-fpmn", "--mount-proc", "sh", "-c"])
            .arg("mount -t tmpfs none /sys && exec \"$@\"")
            .arg("sh")
            .args(prefix)
            .arg(&exe)
            .args(args)
            .env(INNER, "1")
            .env("BENCHMARK_CGROUP", "off")
            .stdin(std::process::Stdio::null());
        c
    };
    let works = |prefix: &[&str]| {
        namespaced(prefix, &["--list"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let nobody = [
        "setpriv",
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
    ];
    let prefix: &[&str] = if works(&nobody) {
        &nobody
    } else if works(&[]) {
        &[]
    } else {
        eprintln!(
            "NOT RUN: `unshare -fpmn --mount-proc` is refused here (needs root and unshare(1))"
        );
        return;
    };
    let filters = [
        "timeout_kills_the_whole_tree",
        "leftovers_",
        "cancellation_kills_",
        "kill_hard_",
        "--test-threads=4",
    ];
    let mut failures = Vec::new();
    for round in 1..=RUNS {
        let out = namespaced(prefix, &filters).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // A filter that matched nothing would pass vacuously.
        let ran: usize = stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("running ")?
                    .strip_suffix(" tests")?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        assert!(
            ran >= 8,
            "the kill-tree tests did not run:
{stdout}"
        );
        if !out.status.success() {
            failures.push(format!(
                "round {round}:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    eprintln!(
        "fresh PID namespace ({}): {} of {RUNS} runs passed",
        if prefix.is_empty() {
            "root"
        } else {
            "uid 65534"
        },
        RUNS - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
