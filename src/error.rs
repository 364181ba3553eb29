//! Published exit codes and the errors that map to them, in one place.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit codes of every command (a public contract; see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitKind {
    Ok,
    /// A gate failed (SLO or regression).
    GateFailed,
    /// Invalid invocation or suite file.
    Invalid,
    /// A step failed or timed out.
    StepFailed,
    /// A pre-flight check failed.
    Preflight,
    /// Interrupted by SIGINT, SIGTERM or SIGHUP.
    Interrupted,
}

impl ExitKind {
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Ok => 0,
            ExitKind::GateFailed => 1,
            ExitKind::Invalid => 2,
            ExitKind::StepFailed => 3,
            ExitKind::Preflight => 4,
            ExitKind::Interrupted => 130,
        }
    }
}

impl From<ExitKind> for ExitCode {
    fn from(k: ExitKind) -> Self {
        ExitCode::from(k.code())
    }
}

/// A position in a file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// An error in a suite file: where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteError {
    pub location: Option<Location>,
    pub file: PathBuf,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message)?,
            None => write!(f, "{}: {}", self.file.display(), self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SuiteError {}

/// An error and all its causes on one line, `outer: cause: root cause`. A cause whose
/// text its parent already shows (`cannot start `sh`: {source}`) is not repeated.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// Errors that end a command, each with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Suite(#[from] SuiteError),
    #[error("{0}")]
    Usage(String),
    #[error("pre-flight failed:\n{}", .0.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Preflight(Vec<String>),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            Error::Suite(_) | Error::Usage(_) | Error::Other(_) => ExitKind::Invalid,
            Error::Preflight(_) => ExitKind::Preflight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_chain_is_shown_once() {
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let root = io.to_string();
        let e = anyhow::Error::new(io)
            .context("writing out/run_3.json")
            .context("saving the receipts");
        let e: Error = e.into();
        assert_eq!(
            chain(&e),
            format!("saving the receipts: writing out/run_3.json: {root}")
        );
        // A message that already includes its source does not repeat it.
        let inner = std::io::Error::other("no such file");
        let outer = anyhow::Error::new(inner).context("cannot start `sh`: no such file");
        assert_eq!(chain(outer.as_ref()), "cannot start `sh`: no such file");
    }
}
