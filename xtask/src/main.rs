//! `cargo xtask`: the project's own chores, written as Rust programs that read like shell
//! scripts (xshell), after matklad's cargo-xtask convention and rust-analyzer's `xtask/`.
//!
//! Each task checks what it needs before it starts and says what is missing (a tool, a
//! daemon, root) instead of failing with a shell error.

mod bench;
mod ci;
mod docker;
mod fixtures;
mod image;
mod probe;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The benchmark project's chores: what CI checks, the offline image, the harness's own
/// benchmarks, the importer fixtures and the kill -9 probe.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run what CI checks, in order, with one line per stage and its time: nix (when `nix`
    /// is present), fmt, clippy, tests, and the Docker tests (when a daemon answers).
    Ci(ci::Args),
    /// Start a Docker daemon for the tests marked "needs a Docker daemon" (root; installs
    /// docker.io and busybox-static when missing).
    DockerUp(docker::Args),
    /// Build the offline image: a static binary and a static busybox on `FROM scratch`, no
    /// registry needed.
    Image(image::Args),
    /// Run the harness's own benchmarks side by side with hyperfine and runexec, and print
    /// the ratio table the README shows.
    Bench(bench::Args),
    /// Regenerate the importer fixtures under tests/fixtures/import by running the real tools,
    /// with the commands and versions written next to them.
    Fixtures(fixtures::Args),
    /// SIGKILL `benchmark run` at seeded random moments and count what each kill costs:
    /// truncated receipts, panics, hangs, orphaned step processes, cgroup and FIFO
    /// directories a later run fails to sweep, secrets in the output (issue 8).
    Probe(probe::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Ci(args) => ci::run(args),
        Task::DockerUp(args) => docker::run(args),
        Task::Image(args) => image::run(args),
        Task::Bench(args) => bench::run(args),
        Task::Fixtures(args) => fixtures::run(args),
        Task::Probe(args) => probe::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The project's root: the directory that holds the workspace's Cargo.toml.
fn project_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// A shell whose working directory is the project's root.
fn shell() -> anyhow::Result<xshell::Shell> {
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

/// The cargo that runs this task (`$CARGO` under `cargo run`), or `cargo` from PATH.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(project_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("members = [\"xtask\"]"), "{manifest}");
    }
}
