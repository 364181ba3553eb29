//! Where a report goes (hyperfine's `ExportManager`): stdout, or a file whose path is
//! checked before anything is read or rendered, and for Markdown also the GitHub step
//! summary. The one place reports touch files.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A destination that could not be used, named with what to do.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("--output {0}: its directory {1} does not exist; create it or give another path")]
    NoDirectory(PathBuf, PathBuf),
    #[error("--output {0} is a directory; give a file name, e.g. {0}/report.html")]
    IsDirectory(PathBuf),
    #[error("--output {0}: {1}; give a path you can write")]
    Unwritable(PathBuf, std::io::Error),
    #[error("writing the report to {0}: {1}")]
    Write(PathBuf, String),
    #[error("appending to the step summary $GITHUB_STEP_SUMMARY ({0}): {1}")]
    StepSummary(PathBuf, std::io::Error),
    #[error("writing to stdout: {0}; free space where stdout goes, or redirect it elsewhere")]
    Stdout(std::io::Error),
}

/// A checked destination.
#[derive(Debug)]
pub struct Output {
    file: Option<PathBuf>,
}

impl Output {
    /// Stdout, or `file` once it is known to be writable: its directory exists, it is
    /// not a directory, and it can be opened for writing (an existing file is left as it
    /// is until the report replaces it, whole).
    pub fn open(file: Option<&Path>) -> Result<Self, OutputError> {
        let Some(file) = file else {
            return Ok(Self { file: None });
        };
        if file.is_dir() {
            return Err(OutputError::IsDirectory(file.to_owned()));
        }
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(OutputError::NoDirectory(file.to_owned(), dir.to_owned()));
        }
        let existed = file.exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(file)
            .map_err(|e| OutputError::Unwritable(file.to_owned(), e))?;
        if !existed {
            // Only probed: the report is written whole, by rename, when it is rendered.
            let _ = std::fs::remove_file(file);
        }
        Ok(Self {
            file: Some(file.to_owned()),
        })
    }

    /// The file, when it is one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Write the report: to the file atomically (a reader never sees half of it), or to
    /// stdout, where a reader that went away (`| head`) ends the output quietly.
    pub fn write(&self, bytes: &[u8]) -> Result<(), OutputError> {
        match &self.file {
            Some(f) => crate::receipt::write::bytes_atomic(f, bytes)
                .map_err(|e| OutputError::Write(f.clone(), crate::error::chain(e.as_ref()))),
            None => {
                let mut out = std::io::stdout().lock();
                match out.write_all(bytes).and_then(|()| out.flush()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                        Err(OutputError::Stdout(e))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Append a Markdown report to the step summary file, within GitHub's 1 MiB limit
/// ([`super::markdown::fit`]); `rest_in` says where the whole report is.
pub fn append_step_summary(path: &Path, markdown: &str, rest_in: &str) -> Result<(), OutputError> {
    let err = |e| OutputError::StepSummary(path.to_owned(), e);
    let existing = std::fs::metadata(path).map_or(0, |m| m.len());
    let text = super::markdown::fit(existing, markdown, rest_in);
    if text.is_empty() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_path_fails_before_anything_is_rendered() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope/report.html");
        assert!(matches!(
            Output::open(Some(&missing)),
            Err(OutputError::NoDirectory(..))
        ));
        assert!(matches!(
            Output::open(Some(d.path())),
            Err(OutputError::IsDirectory(..))
        ));
        let ok = d.path().join("r.csv");
        let out = Output::open(Some(&ok)).unwrap();
        assert!(!ok.exists(), "only probed");
        out.write(b"a,b\n").unwrap();
        assert_eq!(std::fs::read(&ok).unwrap(), b"a,b\n");
    }

    #[test]
    fn the_step_summary_is_appended_to() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("summary.md");
        std::fs::write(&p, "earlier step\n").unwrap();
        append_step_summary(&p, "## ours\n", "x").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "earlier step\n## ours\n"
        );
    }
}
