//! Command-line entry: parse arguments, dispatch, map errors to exit codes.

use std::process::ExitCode;

pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
