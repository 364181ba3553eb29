//! The `benchmark` binary: a thin shell around [`benchmark::app::main`].

use std::process::ExitCode;

fn main() -> ExitCode {
    benchmark::app::main()
}
