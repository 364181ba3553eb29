//! Linux: start a step inside its cgroup without fork(2).
//!
//! Joining a cgroup needs code between process creation and exec, which std's `Command`
//! only offers through `pre_exec`, and that makes it fork — copying the harness's page
//! tables, a sixth of a short step's cost. This does what glibc's `posix_spawn` does
//! instead: `clone(CLONE_VM | CLONE_VFORK)` onto a stack of its own, a child that only
//! makes system calls on data prepared beforehand, then `execve`.
//!
//! The child shares our memory until it execs, so it must not allocate, lock, panic or
//! run a signal handler: every signal is blocked around the clone, and the child resets
//! each handled signal to its default before unblocking them.
//!
//! The child also reads the monotonic clock right before `execve`, into that shared
//! memory: a step's wall time starts there, once the child is in its cgroup with its
//! pipes in place, so joining the cgroup (which can take milliseconds after an idle gap,
//! waiting for the kernel's cgroup lock) never counts as the step's time.

use std::ffi::{CString, OsString, c_int, c_void};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use super::{ExecSpec, Started};
use crate::measure::cgroup;

/// The child's stack: it runs a few system calls, with room to spare for debug builds.
const STACK: usize = 256 * 1024;
/// What execvp searches when PATH is unset (glibc's `_CS_PATH`).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";
/// Linux's highest signal number.
const MAX_SIGNAL: c_int = 64;

/// Where the child failed, reported through shared memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Setup = 1,
    Join = 2,
    Exec = 3,
}

/// Everything the child needs, prepared by the parent. Raw pointers into vectors the
/// parent keeps alive (and does not touch) until the child has exec'd or exited.
struct ChildArgs {
    /// Program paths to try in turn (the PATH search), null-terminated.
    candidates: *const *const libc::c_char,
    /// Whether `candidates` come from a PATH search (then "not here" means try the next).
    searched: bool,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    /// Null for none.
    cwd: *const libc::c_char,
    /// Descriptors for stdin, stdout, stderr; -1 to inherit.
    stdio: [RawFd; 3],
    join: *const RawFd,
    join_len: usize,
    /// Slept before joining (a test-only knob: the join must stay out of the wall time).
    join_delay: libc::timespec,
    /// Where the child reports: the page above its stack.
    report: *const Report,
}

/// What the child tells the parent, in the page above its stack (zero is a valid value
/// of every field, as the fresh mapping holds).
#[derive(Debug, Default)]
struct Report {
    /// Stage and errno of a failure; zero while none.
    stage: AtomicI32,
    errno: AtomicI32,
    /// CLOCK_MONOTONIC (ns) when the child started joining its cgroups, and right before
    /// its (last) execve.
    join_ns: AtomicI64,
    exec_ns: AtomicI64,
}

impl Report {
    fn reset(&self) {
        self.stage.store(0, Ordering::SeqCst);
        self.errno.store(0, Ordering::SeqCst);
        self.join_ns.store(0, Ordering::SeqCst);
        self.exec_ns.store(0, Ordering::SeqCst);
    }
}

/// `clone3`'s argument (linux/sched.h, `CLONE_ARGS_SIZE_VER2`).
#[cfg(target_arch = "x86_64")]
#[repr(C)]
#[derive(Debug, Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

#[cfg(target_arch = "x86_64")]
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Cleared once the kernel has refused `clone3` into a cgroup (older than 5.7, or a
/// seccomp filter): every later spawn joins by writing `cgroup.procs` instead.
static CLONE3_WORKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// How a child gets into its cgroups.
#[derive(Debug, Clone, Copy)]
pub(super) struct Join<'a> {
    /// A directory descriptor of its cgroup v2 cgroup, to be created in directly
    /// (`clone3` with `CLONE_INTO_CGROUP`: no migration, no cgroup lock taken for writing).
    pub into: Option<RawFd>,
    /// `cgroup.procs` descriptors to write to between clone and exec when `into` is used
    /// (the v1 hierarchies of a hybrid host).
    pub rest: &'a [RawFd],
    /// All of them as `cgroup.procs` descriptors, for when `clone3` cannot be used.
    pub all: &'a [RawFd],
}

impl Join<'_> {
    pub const NONE: Join<'static> = Join {
        into: None,
        rest: &[],
        all: &[],
    };
}

/// Start `spec` in its own process group, in the cgroups of `join` before it execs, with
/// `stdio` (-1: inherit) as its standard streams and `extra_env` added to its
/// environment.
pub(super) fn spawn_joined(
    spec: &ExecSpec,
    join: Join<'_>,
    stdio: [RawFd; 3],
    extra_env: Option<(&str, &str)>,
) -> io::Result<Started> {
    let mut env = child_env(spec);
    if let Some((k, v)) = extra_env {
        env.push((k.into(), v.into()));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_bytes());
    let candidates = candidates(spec.program.as_bytes(), path)?;
    let searched = !spec.program.as_bytes().contains(&b'/');
    let argv: Vec<CString> = std::iter::once(spec.program.as_os_str())
        .chain(spec.args.iter().map(OsString::as_os_str))
        .map(|a| cstring(a.as_bytes().to_vec()))
        .collect::<io::Result<_>>()?;
    let envp: Vec<CString> = env
        .into_iter()
        .map(|(k, v)| {
            let mut entry = k.into_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            cstring(entry)
        })
        .collect::<io::Result<_>>()?;
    let cwd = spec
        .cwd
        .as_ref()
        .map(|c| cstring(c.as_os_str().as_bytes().to_vec()))
        .transpose()?;

    let delay = super::TEST_DELAY_JOIN.get();
    let candidate_ptrs = null_terminated(&candidates);
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);
    let mut args = ChildArgs {
        candidates: candidate_ptrs.as_ptr(),
        searched,
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
        stdio,
        join: ptr::null(),
        join_len: 0,
        join_delay: libc::timespec {
            tv_sec: libc::time_t::try_from(delay.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: delay.subsec_nanos().into(),
        },
        report: ptr::null(),
    };
    let stack = Stack::take()?;
    let report = stack.report();
    args.report = report;
    let mut into = false;
    let mut result = Err(io::Error::from(io::ErrorKind::Unsupported));
    if let Some(fd) = join.into
        && CLONE3_WORKS.load(Ordering::Relaxed)
    {
        report.reset();
        (args.join, args.join_len) = (join.rest.as_ptr(), join.rest.len());
        result = clone3_into(fd, &stack, &args);
        match &result {
            // Not this kernel (or not allowed here): join by cgroup.procs from now on.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(
                        libc::ENOSYS | libc::EINVAL | libc::E2BIG | libc::EPERM | libc::EOPNOTSUPP
                    )
                ) =>
            {
                CLONE3_WORKS.store(false, Ordering::Relaxed)
            }
            // Anything else (this cgroup refused it): cgroup.procs this time.
            Err(_) => {}
            Ok(_) => into = true,
        }
    }
    if !into {
        report.reset();
        (args.join, args.join_len) = (join.all.as_ptr(), join.all.len());
        result = clone_vfork(&stack, &args);
    }
    let stage = report.stage.load(Ordering::SeqCst);
    let errno = report.errno.load(Ordering::SeqCst);
    let exec_ns = report.exec_ns.load(Ordering::SeqCst);
    let join_ns = report.join_ns.load(Ordering::SeqCst);
    stack.give_back();
    let pid = result?;
    if stage != 0 {
        // The child exited before exec: reap it, report why.
        let mut status = 0;
        // SAFETY: waits for our own child, with a valid status pointer.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
        let errno = io::Error::from_raw_os_error(errno);
        return Err(match stage {
            s if s == Stage::Join as i32 => {
                io::Error::new(errno.kind(), format!("cannot join the cgroup: {errno}"))
            }
            s if s == Stage::Setup as i32 => io::Error::new(
                errno.kind(),
                format!("cannot set up the child process: {errno}"),
            ),
            _ => errno,
        });
    }
    let exec_at = instant_at(exec_ns);
    let joined = (args.join_len > 0 && join_ns > 0)
        .then(|| Duration::from_nanos(u64::try_from(exec_ns - join_ns).unwrap_or(0)));
    let join = match (into, joined) {
        (true, None) => Some(Duration::ZERO),
        (_, joined) => joined,
    };
    Ok(Started {
        pid,
        exec_at,
        join,
        into_cgroup: into,
    })
}

/// CLOCK_MONOTONIC in nanoseconds (what `Instant` reads on Linux).
#[allow(
    clippy::useless_conversion,
    reason = "time_t and c_long are narrower than i64 on 32-bit targets"
)]
fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    i64::from(ts.tv_sec) * 1_000_000_000 + i64::from(ts.tv_nsec)
}

/// The `Instant` of a CLOCK_MONOTONIC reading taken a moment ago (in the child).
fn instant_at(ns: i64) -> Instant {
    let now = Instant::now();
    let ago = u64::try_from(monotonic_ns() - ns).unwrap_or(0);
    now.checked_sub(Duration::from_nanos(ago)).unwrap_or(now)
}

/// The child's environment: ours, less `env_remove`, plus `env` (as `Command` does).
fn child_env(spec: &ExecSpec) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !spec.env_remove.contains(k))
        .collect();
    for (key, value) in &spec.env {
        match env.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => v.clone_from(value),
            None => env.push((key.clone(), value.clone())),
        }
    }
    env
}

/// The paths execvp would try for `program`, given the child's PATH. Pure.
fn candidates(program: &[u8], path: Option<&[u8]>) -> io::Result<Vec<CString>> {
    if program.is_empty() {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    }
    if program.contains(&b'/') {
        return Ok(vec![cstring(program.to_vec())?]);
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(|&b| b == b':')
        .map(|dir| {
            // An empty element is the current directory.
            let mut full = dir.to_vec();
            if !full.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(program);
            cstring(full)
        })
        .collect()
}

fn cstring(bytes: Vec<u8>) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a program, argument, variable or directory contains a NUL byte",
        )
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect()
}

/// An mmap'd stack with a guard page below it and the child's [`Report`] page above it.
#[derive(Debug)]
struct Stack {
    base: *mut c_void,
    len: usize,
}

// SAFETY: the mapping is owned by whoever holds the Stack; no thread-bound state.
unsafe impl Send for Stack {}

/// Stacks kept for the next spawns (mapping, faulting in and unmapping one each time
/// costs more than the child's whole setup).
static SPARE_STACKS: Mutex<Vec<Stack>> = Mutex::new(Vec::new());
/// Spare stacks kept at most (one per concurrent spawn is all that pays).
const SPARE_STACKS_MAX: usize = 2;

impl Stack {
    /// A spare stack, else a new one.
    fn take() -> io::Result<Stack> {
        let spare = SPARE_STACKS.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.map_or_else(Stack::new, Ok)
    }

    /// Keep it for the next spawn (the child no longer uses it), or unmap it.
    fn give_back(self) {
        let mut spare = SPARE_STACKS.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_STACKS_MAX {
            spare.push(self);
        }
    }

    fn new() -> io::Result<Stack> {
        let page = page_size();
        let len = page + STACK + page;
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the lowest page of our own mapping becomes the guard.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The initial stack pointer (stacks grow down on every Linux target we build for):
    /// right below the report page.
    fn top(&self) -> *mut c_void {
        self.report_page()
    }

    /// The lowest usable address of the stack (above the guard page).
    #[cfg(target_arch = "x86_64")]
    fn bottom(&self) -> *mut c_void {
        // SAFETY: within our own mapping.
        unsafe { self.base.cast::<u8>().add(page_size()).cast() }
    }

    fn report_page(&self) -> *mut c_void {
        // SAFETY: the start of the last page of our own mapping (page-aligned, so
        // 16-byte aligned for a stack pointer and aligned for a Report).
        unsafe { self.base.cast::<u8>().add(self.len - page_size()).cast() }
    }

    /// The child's report, in the last page (zeroed by mmap: a valid Report).
    fn report(&self) -> &Report {
        // SAFETY: the page is ours, aligned, and all-zero bytes are a valid Report.
        unsafe { &*self.report_page().cast::<Report>() }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .ok()
        .filter(|&p| p > 0)
        .unwrap_or(4096)
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly our own mapping, which no one uses any more (the child
        // has exec'd or exited before clone_vfork returned).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// `clone3` with `CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP`: the child is born in the
/// cgroup of `cgroup_fd`, shares our memory until it execs (so its `execve` has no copied
/// address space to tear down inside the measured interval) and runs `child_main` on
/// `stack`. This thread waits until it has exec'd or exited, as with `clone_vfork`.
///
/// glibc has no clone3 wrapper that switches stacks, so the system call and the child's
/// first instructions are written out, for x86_64 only so far (the only architecture
/// this is compiled and tested on); elsewhere the caller falls back to `clone_vfork` and
/// `cgroup.procs`, with the join still outside the measured interval.
#[cfg(target_arch = "x86_64")]
fn clone3_into(cgroup_fd: RawFd, stack: &Stack, args: &ChildArgs) -> io::Result<i32> {
    let clone_args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.bottom() as u64,
        stack_size: STACK as u64,
        cgroup: u64::try_from(cgroup_fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?,
        ..CloneArgs::default()
    };
    let arg: *mut c_void = ptr::from_ref(args).cast_mut().cast();
    with_signals_blocked(|| {
        // SAFETY: a valid clone_args of the size given, whose stack is ours and unused.
        // The child starts on that stack with every register but the result and the
        // stack pointer as the parent's, calls `child_main(arg)` — which never returns:
        // it execs or calls _exit, making system calls on data prepared above only —
        // and would trap if it did. The parent falls through with the result.
        let ret = unsafe { raw_clone3(&clone_args, arg) };
        if ret < 0 {
            Err(io::Error::from_raw_os_error(
                i32::try_from(-ret).unwrap_or(libc::EINVAL),
            ))
        } else {
            i32::try_from(ret).map_err(|_| io::Error::other("clone3 returned a pid beyond i32"))
        }
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn clone3_into(_cgroup_fd: RawFd, _stack: &Stack, _args: &ChildArgs) -> io::Result<i32> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// The clone3 system call; in the child, `child_main(arg)` on the new stack.
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone3(clone_args: &CloneArgs, arg: *mut c_void) -> isize {
    let ret: isize;
    // SAFETY: see clone3_into. The kernel preserves every register except rax, rcx, r11
    // (and sets rsp in the child), so rdx still holds `arg` there.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, rdx",
            "and rsp, -16",
            "call {child}",
            "ud2",
            "2:",
            child = sym child_main,
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") ptr::from_ref(clone_args),
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("rdx") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Run `f` with every signal blocked in this thread (a child must not run our handlers
/// before it has reset them).
fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: sigset_t is plain data; sigfillset initialises it.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to local sigsets.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let out = f();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    out
}

/// clone(CLONE_VM | CLONE_VFORK) with every signal blocked: returns once the child has
/// exec'd or exited.
fn clone_vfork(stack: &Stack, args: &ChildArgs) -> io::Result<i32> {
    with_signals_blocked(|| {
        // SAFETY: the child runs `child_main` on its own stack with `args`, which
        // outlives it: CLONE_VFORK suspends this thread until the child has exec'd or
        // exited. The child only makes system calls on data prepared above (see
        // `child_main`).
        let pid = unsafe {
            libc::clone(
                child_main,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                ptr::from_ref(args).cast_mut().cast(),
            )
        };
        if pid < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(pid)
        }
    })
}

/// The child, sharing our memory until execve: system calls on prepared data only — no
/// allocation, no locks, nothing that can panic.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildArgs` that clone_vfork's caller keeps alive.
    let args = unsafe { &*arg.cast::<ChildArgs>() };
    // SAFETY: the report page outlives the child, as `args` does.
    let report = unsafe { &*args.report };
    let fail = |stage: Stage| -> c_int {
        // SAFETY: reads this thread's errno.
        let errno = unsafe { *libc::__errno_location() };
        report.errno.store(errno, Ordering::SeqCst);
        report.stage.store(stage as i32, Ordering::SeqCst);
        // SAFETY: leaves the child at once, without running anything of the parent's.
        unsafe { libc::_exit(127) }
    };
    // SAFETY (this block): system calls on valid pointers prepared by the parent.
    unsafe {
        // A handler of the parent's must not run here: back to the default for every
        // handled signal; SIGPIPE too, which Rust ignores (as Command does).
        for sig in 1..=MAX_SIGNAL {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &mut sa) != 0 {
                continue;
            }
            let handled = sa.sa_sigaction != libc::SIG_IGN && sa.sa_sigaction != libc::SIG_DFL;
            if handled || sig == libc::SIGPIPE {
                sa.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &sa, ptr::null_mut());
            }
        }
        for (target, &fd) in (0..).zip(args.stdio.iter()) {
            if fd >= 0 && libc::dup2(fd, target) < 0 {
                return fail(Stage::Setup);
            }
        }
        if !args.cwd.is_null() && libc::chdir(args.cwd) != 0 {
            return fail(Stage::Setup);
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(Stage::Setup);
        }
        let join = if args.join_len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(args.join, args.join_len)
        };
        if !join.is_empty() {
            report.join_ns.store(child_clock(), Ordering::SeqCst);
            // The test knob stands for a slow join (the kernel's cgroup lock).
            let delay = &args.join_delay;
            if delay.tv_sec != 0 || delay.tv_nsec != 0 {
                libc::nanosleep(delay, ptr::null_mut());
            }
            if cgroup::join(join).is_err() {
                return fail(Stage::Join);
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());

        // execvp's search: EACCES is remembered, "not here" tries the next directory,
        // anything else stops.
        let mut denied = false;
        let mut candidate = args.candidates;
        while !(*candidate).is_null() {
            // The step's clock starts here; the last attempt's reading is the one kept.
            report.exec_ns.store(child_clock(), Ordering::SeqCst);
            libc::execve(*candidate, args.argv, args.envp);
            let errno = *libc::__errno_location();
            match errno {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT
                    if args.searched => {}
                _ => return fail(Stage::Exec),
            }
            candidate = candidate.add(1);
        }
        if denied {
            *libc::__errno_location() = libc::EACCES;
        }
        fail(Stage::Exec)
    }
}

/// CLOCK_MONOTONIC in the child: a vDSO read, no allocation, no lock.
fn child_clock() -> i64 {
    monotonic_ns()
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    fn strs(v: &[CString]) -> Vec<&str> {
        v.iter().map(|c| c.to_str().unwrap()).collect()
    }

    #[test]
    fn a_path_with_a_slash_is_used_as_is() {
        let c = candidates(b"./run.sh", Some(b"/bin")).unwrap();
        assert_eq!(strs(&c), vec!["./run.sh"]);
        let c = candidates(b"/bin/sh", None).unwrap();
        assert_eq!(strs(&c), vec!["/bin/sh"]);
    }

    #[test]
    fn a_bare_name_is_searched_in_path_order() {
        let c = candidates(b"sh", Some(b"/usr/local/bin:/bin::/usr/bin")).unwrap();
        assert_eq!(
            strs(&c),
            vec!["/usr/local/bin/sh", "/bin/sh", "sh", "/usr/bin/sh"]
        );
        let c = candidates(b"sh", None).unwrap();
        assert_eq!(strs(&c), vec!["/bin/sh", "/usr/bin/sh"]);
    }

    #[test]
    fn empty_names_and_nul_bytes_are_errors() {
        assert_eq!(
            candidates(b"", None).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            candidates(b"a\0b", None).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    /// Runs `spec` through `spawn_joined` (joining nothing) and returns status and stdout.
    fn run(spec: &ExecSpec, join: &[RawFd]) -> io::Result<(i32, String)> {
        use std::io::Read;
        let (mut read, write) = std::io::pipe().unwrap();
        let join = Join {
            into: None,
            rest: &[],
            all: join,
        };
        let started = spawn_joined(spec, join, [-1, write.as_raw_fd(), -1], None);
        drop(write);
        let started = started?;
        let mut out = String::new();
        read.read_to_string(&mut out).unwrap();
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(
            unsafe { libc::waitpid(started.pid, &mut status, 0) },
            started.pid
        );
        Ok((status, out))
    }

    /// Children of this thread, zombies included (a failed child must have been reaped).
    fn my_children() -> String {
        std::fs::read_to_string("/proc/thread-self/children").unwrap()
    }

    #[test]
    fn runs_with_the_args_env_cwd_and_group_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        let mut spec = ExecSpec::new(
            "sh",
            [
                "-c",
                r#"printf '%s|%s|%s|%s' "$1" "$GREETING" "$(pwd -P)" "$(ps -o pgid= -p $$ | tr -d ' ')=$$""#,
                "sh",
                "one arg",
            ],
        );
        spec.env.push(("GREETING".into(), "hi there".into()));
        spec.cwd = Some(cwd.clone());
        let (status, out) = run(&spec, &[]).unwrap();
        assert_eq!(status, 0, "{out}");
        let fields: Vec<&str> = out.split('|').collect();
        assert_eq!(fields[..3], ["one arg", "hi there", cwd.to_str().unwrap()]);
        let (pgid, pid) = fields[3].split_once('=').unwrap();
        assert_eq!(pgid, pid, "the child leads a process group of its own");
    }

    /// SigBlk and SigIgn of /proc/self/status, as bit masks.
    fn signal_masks(status: &str) -> (u64, u64) {
        let mask = |key: &str| {
            let line = status.lines().find(|l| l.starts_with(key)).unwrap();
            u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
        };
        (mask("SigBlk:"), mask("SigIgn:"))
    }

    #[test]
    fn the_child_starts_with_the_signal_state_command_gives() {
        let script = "cat /proc/self/status";
        let (_, ours) = run(&ExecSpec::new("sh", ["-c", script]), &[]).unwrap();
        let std = std::process::Command::new("sh")
            .args(["-c", script])
            .output()
            .unwrap();
        let (blocked, ignored) = signal_masks(&ours);
        let (std_blocked, std_ignored) = signal_masks(&String::from_utf8(std.stdout).unwrap());
        assert_eq!(blocked, 0);
        assert_eq!(std_blocked, 0);
        // glibc's posix_spawn ignores its internal signals 32 and 33 in the child;
        // fork + exec (and this) leave them as exec does.
        let internal = 0b11 << 31;
        assert_eq!(ignored & !internal, std_ignored & !internal);
        assert_eq!(
            ignored & (1 << (libc::SIGPIPE - 1)),
            0,
            "SIGPIPE is not ignored"
        );
    }

    #[test]
    fn a_program_is_searched_in_the_childs_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("benchmark-clone-tool");
        std::fs::write(&tool, "#!/bin/sh\necho found\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut spec = ExecSpec::new("benchmark-clone-tool", Vec::<OsString>::new());
        let path = format!("/nonexistent:{}:/bin", dir.path().display());
        spec.env.push(("PATH".into(), path.into()));
        assert_eq!(run(&spec, &[]).unwrap(), (0, "found\n".to_owned()));
    }

    #[test]
    fn failures_before_exec_are_reported_and_the_child_reaped() {
        let none = Vec::<OsString>::new;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("not-executable");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        let err = run(&ExecSpec::new(&plain, none()), &[]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");

        let err = run(&ExecSpec::new("benchmark-no-such-program", none()), &[]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");

        // A descriptor that cannot be written to stands for a cgroup that cannot be joined.
        let read_only = std::fs::File::open("/dev/null").unwrap();
        let err = run(&ExecSpec::new("true", none()), &[read_only.as_raw_fd()]).unwrap_err();
        assert!(err.to_string().contains("cannot join the cgroup"), "{err}");
        assert_eq!(my_children().trim(), "", "failed children are reaped");
    }

    #[test]
    fn the_environment_is_ours_less_removals_plus_overrides() {
        let mut spec = ExecSpec::new("true", Vec::<OsString>::new());
        spec.env_remove.push("PATH".into());
        spec.env.push(("BENCHMARK_CLONE_TEST".into(), "1".into()));
        spec.env.push(("BENCHMARK_CLONE_TEST".into(), "2".into()));
        let env = child_env(&spec);
        assert!(!env.iter().any(|(k, _)| k == "PATH"));
        let ours: Vec<_> = env
            .iter()
            .filter(|(k, _)| k == "BENCHMARK_CLONE_TEST")
            .collect();
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].1, "2");
    }
}
