//! `benchmark step NAME -- CMD…`: time one command from inside a script. Inside a run
//! (`BENCHMARK_RUN_DIR` set) the measurement is appended to the run's sub-step file and
//! becomes a step of the receipt, with the innermost enclosing step (`$BENCHMARK_STEP`) as
//! its parent; outside a run it is printed. Its id is the name made valid, made unique in
//! the run with a `-N` suffix; the record keeps the name as given. The command's exit code
//! is passed through either way, also when the step cannot be recorded.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::record::{self, StepSink};
use super::{IDS_FILE, SUBSTEPS_FILE};
use crate::control::suggest_name;
use crate::error::Error;
use crate::format::{bytes, ms};
use crate::measure::cancel::Cancel;
use crate::measure::exec::{self, ExecError, ExecSpec};
use crate::receipt::StepRecord;
use crate::suite::unique_id;

/// Run the command; return the exit code to pass through. Failing to record into the
/// run is a warning, never a reason to lose the command's exit code.
pub fn run(name: &str, command: &[OsString], timeout: Option<Duration>) -> Result<i32, Error> {
    let cancel = Cancel::install_signal_handlers().context("installing signal handlers")?;
    let parent = std::env::var("BENCHMARK_STEP")
        .ok()
        .filter(|s| !s.is_empty());
    let wanted = suggest_name(name);
    // The id is taken before the command starts: nested sub-steps name it as their
    // parent, and ids are handed out in the order steps start.
    let (id, run_dir) = match std::env::var_os("BENCHMARK_RUN_DIR").filter(|d| !d.is_empty()) {
        None => (wanted, None),
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let run_ids = std::env::var(RUN_IDS_VAR).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{RUN_IDS_VAR} is not set"),
                )
            });
            match run_ids.and_then(|ids| reserve(&dir, &wanted, &ids)) {
                Ok(id) => (id, Some(dir)),
                Err(e) => {
                    eprintln!(
                        "benchmark step {name}: warning: cannot record into the run: {}: {e}; \
                         the command runs unrecorded (is BENCHMARK_RUN_DIR the directory the \
                         harness set?)",
                        dir.join(IDS_FILE).display()
                    );
                    (wanted, None)
                }
            }
        }
    };
    let spec = ExecSpec {
        program: command[0].clone(),
        args: command[1..].to_vec(),
        // The innermost enclosing step is the parent of a sub-step started inside this one.
        env: vec![("BENCHMARK_STEP".into(), id.clone().into())],
        env_remove: vec![],
        cwd: None,
        timeout,
        isolate: true,
        control: None,
        capture: false,
        kill_grace: Duration::from_secs(2),
    };
    let outcome = match exec::execute(&spec, &mut exec::Discard, &cancel) {
        Ok(o) => o,
        Err(e @ ExecError::Spawn { .. }) => {
            eprintln!("benchmark step {name}: {e}");
            return Ok(127);
        }
        Err(e) => return Err(anyhow::Error::from(e).into()),
    };
    let status = record::status(&outcome, &[0]);
    let sink = StepSink::new(None);
    let mut rec = record::step_record(
        &id,
        name,
        parent.as_deref(),
        &outcome,
        status,
        &Default::default(),
        &sink,
    );
    // The whole tree is done with: nothing of a sub-step outlives it.
    if let Some(l) = outcome.leftovers {
        l.kill();
    }
    let code = outcome.termination.code();
    match run_dir {
        Some(dir) => {
            rec.log = None;
            let path = dir.join(SUBSTEPS_FILE);
            if let Err(e) = append(&path, &rec) {
                eprintln!(
                    "benchmark step {name}: warning: could not record the step into {}: {e:#}",
                    path.display()
                );
            }
        }
        None => eprintln!(
            "step {name}: {} (user {}, sys {}, peak RSS {}){}",
            ms(rec.wall_ms),
            ms(rec.cpu_user_ms.unwrap_or_default()),
            ms(rec.cpu_sys_ms.unwrap_or_default()),
            bytes(rec.peak_rss_bytes.unwrap_or_default()),
            match rec.exit_code {
                0 => String::new(),
                c => format!(", exit {c}"),
            }
        ),
    }
    Ok(code)
}

/// Append one record as one line.
fn append(path: &Path, rec: &StepRecord) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(rec).context("serializing the step record")?;
    line.push(b'\n');
    // One write on an O_APPEND file: records of concurrent steps never interleave.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(&line))?;
    Ok(())
}

/// The environment variable that tells a sub-step which run it is in and which ids the
/// run's own steps have: `TOKEN ID ID…`, the token unique to the run and the invocation.
pub const RUN_IDS_VAR: &str = "BENCHMARK_RUN_IDS";

/// The ids taken in the run whose token is `token`, in the order they were taken; none
/// when no sub-step took one (the file is made by the first sub-step of a run, so a run
/// without any writes nothing), or the file is an earlier invocation's.
pub fn read_ids(run_dir: &Path, token: &str) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join(IDS_FILE)).unwrap_or_default();
    let mut lines = text.lines();
    if lines.next() != Some(token) {
        return Vec::new();
    }
    lines.map(str::to_owned).collect()
}

/// Take a unique id close to `wanted` in the run at `run_dir`, under an exclusive lock on
/// the id file, so that concurrent sub-steps never take the same one. `run_ids` is the
/// value of [`RUN_IDS_VAR`]: the first sub-step of the run (or one that finds a file
/// from another run or invocation) starts the file with the token and the plan's ids.
fn reserve(run_dir: &Path, wanted: &str, run_ids: &str) -> std::io::Result<String> {
    let mut words = run_ids.split_ascii_whitespace();
    let token = words.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{RUN_IDS_VAR} is empty"),
        )
    })?;
    // Never makes the directory: one the harness did not make is not a run's.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(run_dir.join(IDS_FILE))?;
    f.lock()?;
    let mut taken = String::new();
    f.read_to_string(&mut taken)?;
    if taken.lines().next() != Some(token) {
        f.set_len(0)?;
        taken = std::iter::once(token)
            .chain(words)
            .map(|w| format!("{w}\n"))
            .collect();
        f.write_all(taken.as_bytes())?;
    }
    let id = unique_id(wanted, |c| {
        taken.lines().skip(1).any(|t| t.eq_ignore_ascii_case(c))
    });
    f.write_all(format!("{id}\n").as_bytes())?;
    Ok(id)
}
