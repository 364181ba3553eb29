//! `benchmark step NAME -- CMD…`: time one command from inside a script. Inside a run
//! (`BENCHMARK_RUN_DIR` set) the measurement is appended to the run's sub-step file and
//! becomes a step of the receipt, with the enclosing step as its parent; outside a run it
//! is printed. The command's exit code is passed through either way.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::SUBSTEPS_FILE;
use super::record::{self, StepSink};
use crate::error::Error;
use crate::format::{bytes, ms};
use crate::measure::cancel::Cancel;
use crate::measure::exec::{self, ExecError, ExecSpec};

/// Run the command; return the exit code to pass through.
pub fn run(name: &str, command: &[OsString], timeout: Option<Duration>) -> Result<i32, Error> {
    let cancel = Cancel::install_signal_handlers().context("installing signal handlers")?;
    let spec = ExecSpec {
        program: command[0].clone(),
        args: command[1..].to_vec(),
        env: vec![],
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
    let id = to_id(name);
    let parent = std::env::var("BENCHMARK_STEP")
        .ok()
        .filter(|s| !s.is_empty());
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
    match std::env::var_os("BENCHMARK_RUN_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            rec.log = None;
            let path = PathBuf::from(dir).join(SUBSTEPS_FILE);
            let mut line = serde_json::to_vec(&rec).context("serializing the step record")?;
            line.push(b'\n');
            // One write on an O_APPEND file: records of concurrent steps never interleave.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(&line))
                .with_context(|| format!("recording step `{name}` into {}", path.display()))?;
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
    Ok(outcome.termination.code())
}

/// A name as a step id: characters selectors cannot carry become `-`.
fn to_id(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() { "step".to_owned() } else { id }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_become_ids() {
        assert_eq!(super::to_id("kind create"), "kind-create");
        assert_eq!(super::to_id("a/b.c_d"), "a-b.c_d");
        assert_eq!(super::to_id(""), "step");
    }
}
