//! `cargo xtask bench`: the harness's own benchmarks (benches/overhead.rs), side by side
//! with hyperfine and BenchExec's runexec in one run.

use anyhow::Result;
use xshell::cmd;

use crate::tools;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Passed to the benchmark binary (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    // Without them there is nothing to compare with: fail before a long build.
    tools::require(
        "hyperfine",
        "install it (Debian: `apt-get install hyperfine`)",
    )?;
    tools::require(
        "runexec",
        "install BenchExec (`pip install benchexec`; `runexec --no-container` runs as root)",
    )?;
    let sh = crate::shell()?;
    let cargo = crate::cargo();
    let rest = &args.rest;
    cmd!(
        sh,
        "{cargo} bench --locked --package benchmark --bench overhead -- {rest...}"
    )
    .run()?;
    Ok(())
}
