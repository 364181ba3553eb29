//! The control FIFO (`$BENCHMARK_CONTROL`): created before the step starts, read without
//! blocking while it runs, removed afterwards.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;

use super::ExecError;

/// Owns the FIFO's path and a write end of our own, so that writers closing it never
/// make the read end report end-of-file. Dropping it closes that end and unlinks the path.
#[derive(Debug)]
pub(super) struct ControlFifo {
    path: PathBuf,
    _writer: File,
}

impl ControlFifo {
    /// Create the FIFO; returns it and its non-blocking read end.
    pub(super) fn create(path: &Path) -> Result<(Self, OwnedFd), ExecError> {
        let io_err = |what: &str, source: io::Error| ExecError::Io {
            what: format!("{what} control FIFO {}", path.display()),
            source,
        };
        match nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR) {
            Ok(()) => {}
            Err(nix::errno::Errno::EEXIST)
                if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo()) =>
            {
                // A FIFO left by a run that crashed: take it over.
                fs::remove_file(path).map_err(|e| io_err("cannot replace stale", e))?;
                nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)
                    .map_err(|e| io_err("cannot create", e.into()))?;
            }
            Err(e) => return Err(io_err("cannot create", e.into())),
        }
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .and_then(|reader| {
                // Does not block: a reader exists.
                let writer = OpenOptions::new().write(true).open(path)?;
                Ok((reader, writer))
            });
        match opened {
            Ok((reader, writer)) => Ok((
                Self {
                    path: path.to_path_buf(),
                    _writer: writer,
                },
                reader.into(),
            )),
            Err(e) => {
                let _ = fs::remove_file(path);
                Err(io_err("cannot open", e))
            }
        }
    }
}

impl Drop for ControlFifo {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
