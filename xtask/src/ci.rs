//! `cargo xtask ci`: what CI checks, in order, one line per stage with its time.
//!
//! `.ci/run` installs the system packages and starts the Docker daemon, then calls this.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

use crate::tools;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fail when no Docker daemon answers instead of skipping the Docker tests (CI sets it).
    #[arg(long)]
    require_docker: bool,
    /// Fail when Nix is missing instead of skipping the Nix checks (CI sets it).
    #[arg(long)]
    require_nix: bool,
    /// Leave out a stage (repeatable).
    #[arg(long, value_enum)]
    skip: Vec<Stage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    /// Every .nix file parses, the lock matches, the workflows lint (`.ci/nix-check`);
    /// every output evaluates against the stand-in nixpkgs where its inputs are here
    /// (`.ci/nix-eval-all`).
    Nix,
    /// `cargo fmt --check` over the workspace.
    Fmt,
    /// `cargo clippy -D warnings` over the workspace, every target.
    Clippy,
    /// The README's test command (`cargo test`), then the xtask's own tests.
    Tests,
    /// The tests marked "needs a Docker daemon".
    Docker,
}

const STAGES: [Stage; 5] = [
    Stage::Nix,
    Stage::Fmt,
    Stage::Clippy,
    Stage::Tests,
    Stage::Docker,
];

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Nix => "nix",
            Stage::Fmt => "fmt",
            Stage::Clippy => "clippy",
            Stage::Tests => "tests",
            Stage::Docker => "docker",
        })
    }
}

/// How a stage ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    Passed(Duration),
    Failed(Duration, String),
    Skipped(String),
    NotRun,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Passed(t) => write!(f, "ok       {:>7.1}s", t.as_secs_f64()),
            Outcome::Failed(t, why) => write!(f, "FAILED   {:>7.1}s  {why}", t.as_secs_f64()),
            Outcome::Skipped(why) => write!(f, "skipped            {why}"),
            Outcome::NotRun => write!(f, "not run            (an earlier stage failed)"),
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let sh = crate::shell()?;
    let mut outcomes: Vec<(Stage, Outcome)> = Vec::new();
    let mut failed = false;
    for stage in STAGES {
        let outcome = if failed {
            Outcome::NotRun
        } else if args.skip.contains(&stage) {
            Outcome::Skipped("(--skip)".to_owned())
        } else {
            match precondition(stage, &args, available) {
                Err(missing) => Outcome::Failed(Duration::ZERO, missing),
                Ok(Some(why)) => Outcome::Skipped(why),
                Ok(None) => {
                    println!("\n=== ci: {stage}");
                    let start = Instant::now();
                    match run_stage(&sh, stage) {
                        Ok(()) => Outcome::Passed(start.elapsed()),
                        Err(err) => Outcome::Failed(start.elapsed(), format!("{err:#}")),
                    }
                }
            }
        };
        failed |= matches!(outcome, Outcome::Failed(..));
        outcomes.push((stage, outcome));
    }
    println!("\n=== ci: summary");
    for (stage, outcome) in &outcomes {
        println!("{}", summary_line(*stage, outcome));
    }
    if failed {
        bail!("ci failed");
    }
    Ok(())
}

fn summary_line(stage: Stage, outcome: &Outcome) -> String {
    format!("  {:<8} {outcome}", stage.to_string())
}

/// Whether what a stage needs is here: `nix` for the Nix checks, an answering daemon for
/// the Docker tests.
fn available(stage: Stage) -> bool {
    match stage {
        Stage::Nix => tools::find("nix-instantiate").is_some(),
        Stage::Docker => tools::docker_server_version().is_some(),
        Stage::Fmt | Stage::Clippy | Stage::Tests => true,
    }
}

/// `Ok(None)`: the stage can run; `Ok(Some(why))`: it is skipped, and why; `Err`: it is
/// required and cannot run.
fn precondition(
    stage: Stage,
    args: &Args,
    available: impl Fn(Stage) -> bool,
) -> Result<Option<String>, String> {
    let (why, required) = match stage {
        Stage::Nix => (
            "nix is not on PATH (Debian: `apt-get install nix-bin`)",
            args.require_nix,
        ),
        Stage::Docker => (
            "no Docker daemon answers (`cargo xtask docker-up` starts one)",
            args.require_docker,
        ),
        Stage::Fmt | Stage::Clippy | Stage::Tests => return Ok(None),
    };
    match (available(stage), required) {
        (true, _) => Ok(None),
        (false, true) => Err(why.to_owned()),
        (false, false) => Ok(Some(format!("({why})"))),
    }
}

fn run_stage(sh: &Shell, stage: Stage) -> Result<()> {
    let cargo = crate::cargo();
    match stage {
        Stage::Nix => {
            cmd!(sh, ".ci/nix-check").run()?;
            // Skips itself, saying why, where the fetched snapshots it needs are absent.
            cmd!(sh, ".ci/nix-eval-all").run()?;
        }
        Stage::Fmt => cmd!(sh, "{cargo} fmt --all -- --check").run()?,
        Stage::Clippy => cmd!(
            sh,
            "{cargo} clippy --locked --workspace --all-targets -- -D warnings"
        )
        .run()?,
        Stage::Tests => {
            cmd!(sh, "{cargo} test --locked").run()?;
            // The reports checked by their real consumers (promtool, an OpenMetrics
            // parser, xmllint, Chromium), which `.ci/run` installs: ignored by a plain
            // `cargo test` and by the Nix build's sandbox, which has none of them.
            cmd!(sh, "{cargo} test --locked --test cli -- --ignored report::").run()?;
            cmd!(sh, "{cargo} test --locked --package xtask").run()?;
        }
        Stage::Docker => {
            cmd!(sh, "{cargo} test --locked --test cli -- --ignored docker::").run()?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines_name_the_stage_its_outcome_and_its_time() {
        let line = summary_line(
            Stage::Clippy,
            &Outcome::Passed(Duration::from_millis(12_340)),
        );
        assert_eq!(line, "  clippy   ok          12.3s");
        let line = summary_line(
            Stage::Docker,
            &Outcome::Skipped("(no Docker daemon answers)".to_owned()),
        );
        assert_eq!(
            line,
            "  docker   skipped            (no Docker daemon answers)"
        );
        let line = summary_line(
            Stage::Tests,
            &Outcome::Failed(Duration::from_secs(3), "exit status 101".to_owned()),
        );
        assert!(
            line.starts_with("  tests    FAILED       3.0s  exit status 101"),
            "{line}"
        );
    }

    #[test]
    fn a_missing_requirement_skips_its_stage_or_fails_it_when_required() {
        let mut args = Args {
            require_docker: false,
            require_nix: false,
            skip: vec![],
        };
        let nothing = |_: Stage| false;
        let skipped = precondition(Stage::Nix, &args, nothing).unwrap().unwrap();
        assert!(skipped.contains("apt-get install nix-bin"), "{skipped}");
        let skipped = precondition(Stage::Docker, &args, nothing)
            .unwrap()
            .unwrap();
        assert!(skipped.contains("cargo xtask docker-up"), "{skipped}");
        assert_eq!(precondition(Stage::Fmt, &args, nothing), Ok(None));

        args.require_docker = true;
        let failed = precondition(Stage::Docker, &args, nothing).unwrap_err();
        assert!(failed.starts_with("no Docker daemon answers"), "{failed}");
        assert_eq!(precondition(Stage::Docker, &args, |_| true), Ok(None));
        assert!(precondition(Stage::Nix, &args, nothing).unwrap().is_some());
    }
}
