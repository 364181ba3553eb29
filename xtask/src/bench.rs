//! `cargo xtask bench`: the harness's own benchmarks, side by side with independent
//! measurers in one run: benches/overhead.rs (hyperfine, BenchExec's runexec) and
//! benches/load.rs (a raw spawn loop, wrk).

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
    tools::require("wrk", "install it (Debian: `apt-get install wrk`)")?;
    let sh = crate::shell()?;
    let cargo = crate::cargo();
    let rest = &args.rest;
    for bench in ["overhead", "load"] {
        cmd!(
            sh,
            "{cargo} bench --locked --package benchmark --bench {bench} -- {rest...}"
        )
        .run()?;
    }
    Ok(())
}
