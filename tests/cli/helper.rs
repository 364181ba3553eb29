//! A small fluent helper: a temporary directory with a suite, the binary run in it, and
//! assertions on exit code, output and receipts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::process::{Child, ExitStatus};
use std::process::{Command, Output, Stdio};
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

use benchmark::receipt::{RunReceipt, SchemaKind, Summary, schema};

pub const BIN: &str = env!("CARGO_BIN_EXE_benchmark");

pub struct Bench {
    pub dir: tempfile::TempDir,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

pub fn bench() -> Bench {
    Bench {
        dir: tempfile::tempdir().expect("tempdir"),
        args: Vec::new(),
        env: Vec::new(),
    }
}

impl Bench {
    /// Write `benchmark.toml` in the directory.
    pub fn suite(self, toml: &str) -> Self {
        self.file("benchmark.toml", toml)
    }

    pub fn file(self, name: &str, text: &str) -> Self {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<OsString>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path())
            .env_remove("BENCHMARK_RUN_DIR")
            .env_remove("BENCHMARK_STEP")
            .env_remove("BENCHMARK_OUTPUT")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// `benchmark run` with the arguments given.
    pub fn run(&self) -> Done<'_> {
        let output = self
            .command()
            .arg("run")
            .args(&self.args)
            .output()
            .expect("spawn benchmark");
        Done {
            bench: self,
            output,
        }
    }
}

pub struct Done<'a> {
    pub bench: &'a Bench,
    pub output: Output,
}

impl Done<'_> {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.output.status.code(),
            Some(expected),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Self {
        let e = self.stderr();
        assert!(e.contains(text), "stderr lacks {text:?}:\n{e}");
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Self {
        let o = self.stdout();
        assert!(o.contains(text), "stdout lacks {text:?}:\n{o}");
        self
    }

    /// `OUT/perf.json`, checked against the schema and deserialized strictly.
    pub fn summary(&self) -> Summary {
        summary_in(&self.bench.path("bench-out"))
    }

    /// `OUT/run_N.json`, checked against the schema and deserialized strictly.
    pub fn run_receipt(&self, n: u32) -> RunReceipt {
        run_receipt_in(&self.bench.path("bench-out"), n)
    }
}

pub fn summary_in(out: &Path) -> Summary {
    strict(&out.join("perf.json"), SchemaKind::Summary)
}

pub fn run_receipt_in(out: &Path, n: u32) -> RunReceipt {
    strict(&out.join(format!("run_{n}.json")), SchemaKind::Run)
}

/// Validate a receipt against the published schema (which denies unknown fields: the
/// receipt types read tolerantly, the schema pins what is written), then deserialize it,
/// so schema drift fails here.
fn strict<T: serde::de::DeserializeOwned>(path: &Path, kind: SchemaKind) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text).expect("receipt is JSON");
    let schema = schema(kind);
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{} violates the schema: {errors:#?}",
        path.display()
    );
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Is a process with this pid still running (a zombie counts as gone)?
#[cfg(target_os = "linux")]
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

// ---- A harness in the background, for signals (the tests that send them are Linux's) --

#[cfg(target_os = "linux")]
/// Wait until `path` exists.
pub fn wait_for(path: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear in {within:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
/// Wait for the harness to exit; kill it and fail past `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the harness did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
/// Send `sig` to the harness.
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

#[cfg(target_os = "linux")]
/// `benchmark run` in the background, its TMPDIR inside the test's directory, its
/// stdout and stderr closed at once (a terminal that went away).
pub fn start(b: &Bench) -> Child {
    let tmp = b.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = b
        .command()
        .arg("run")
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The terminal goes away: every later write to stdout or stderr fails.
    drop(child.stdout.take());
    drop(child.stderr.take());
    child
}
