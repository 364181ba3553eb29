//! The control FIFO (`$BENCHMARK_CONTROL`): made once per invocation, read by each step in
//! turn while it runs, removed when dropped.
//!
//! One FIFO serves every step, so a step pays no mkfifo, opens or unlink (on ext4 with
//! `discard` an unlink alone cost more than the rest of the per-step work). What is
//! written between two steps — by processes an earlier step left running — is discarded
//! before the next step starts; what such processes write while a later step runs counts
//! for that step, as their output would on a shared terminal.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use nix::sys::stat::Mode;

use super::ExecError;

/// A control FIFO and our ends of it. We hold a write end of our own, so that writers
/// closing theirs never make the read end report end-of-file.
#[derive(Debug)]
pub struct ControlFifo {
    path: PathBuf,
    open: Mutex<Open>,
}

#[derive(Debug)]
struct Open {
    reader: OwnedFd,
    _writer: File,
    /// Device and inode of the FIFO we made: a step may remove or replace the path.
    id: (u64, u64),
}

impl ControlFifo {
    /// Make the FIFO at `path` (taking over a stale FIFO left there by a crash).
    pub fn create(path: &Path) -> Result<Self, ExecError> {
        Ok(Self {
            path: path.to_path_buf(),
            open: Mutex::new(make(path)?),
        })
    }

    /// Where steps write: the value of `$BENCHMARK_CONTROL`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ready for the next step: the FIFO made again if a step removed or replaced it,
    /// whatever was written since the last step discarded, and a read end of its own
    /// (non-blocking) for the step's pumps.
    pub(super) fn for_step(&self) -> Result<OwnedFd, ExecError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let ours = fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_fifo() && (m.dev(), m.ino()) == open.id);
        if !ours {
            // It lives in the harness's private directory: whatever a step left in its
            // place (a regular file from `>> $BENCHMARK_CONTROL`) goes.
            match fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err(&self.path, "cannot replace", e));
                }
                _ => {}
            }
            *open = make(&self.path)?;
        }
        let mut buf = [0u8; 4096];
        while matches!(nix::unistd::read(&open.reader, &mut buf), Ok(n) if n > 0) {}
        open.reader
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| io_err(&self.path, "cannot open", e))
    }
}

impl Drop for ControlFifo {
    fn drop(&mut self) {
        let open = self.open.get_mut().unwrap_or_else(PoisonError::into_inner);
        if fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == open.id) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn io_err(path: &Path, what: &str, source: io::Error) -> ExecError {
    ExecError::Io {
        what: format!("{what} control FIFO {}", path.display()),
        source,
    }
}

/// mkfifo, then a non-blocking read end and our write end.
fn make(path: &Path) -> Result<Open, ExecError> {
    let mode = Mode::S_IRUSR | Mode::S_IWUSR;
    match nix::unistd::mkfifo(path, mode) {
        Ok(()) => {}
        Err(nix::errno::Errno::EEXIST)
            if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo()) =>
        {
            // A FIFO left by a run that crashed, or one a step replaced: take it over.
            fs::remove_file(path).map_err(|e| io_err(path, "cannot replace stale", e))?;
            nix::unistd::mkfifo(path, mode).map_err(|e| io_err(path, "cannot create", e.into()))?;
        }
        Err(e) => return Err(io_err(path, "cannot create", e.into())),
    }
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|reader| {
            // Does not block: a reader exists.
            let writer = OpenOptions::new().write(true).open(path)?;
            let meta = reader.metadata()?;
            Ok((reader, writer, (meta.dev(), meta.ino())))
        });
    match opened {
        Ok((reader, writer, id)) => Ok(Open {
            reader: reader.into(),
            _writer: writer,
            id,
        }),
        Err(e) => {
            let _ = fs::remove_file(path);
            Err(io_err(path, "cannot open", e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = nix::unistd::read(fd, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn one_fifo_serves_each_step_and_drops_what_came_between() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control");
        let fifo = ControlFifo::create(&path).unwrap();
        let first = fifo.for_step().unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"step 1\n")
            .unwrap();
        assert_eq!(read_all(&first), b"step 1\n");
        drop(first);
        // Written after step 1 ended, before step 2 starts: nobody's.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"late\n")
            .unwrap();
        let second = fifo.for_step().unwrap();
        assert!(read_all(&second).is_empty(), "the late line is discarded");
        drop(fifo);
        assert!(!path.exists(), "removed on drop");
    }

    #[test]
    fn a_removed_fifo_is_made_again_and_a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control");
        let fifo = ControlFifo::create(&path).unwrap();
        fs::remove_file(&path).unwrap();
        fs::write(&path, "a regular file a step left").unwrap();
        let reader = fifo.for_step().unwrap();
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_fifo());
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"x\n")
            .unwrap();
        assert_eq!(read_all(&reader), b"x\n");
        drop(reader);
        fs::remove_file(&path).unwrap();
        fs::remove_dir(dir.path()).unwrap();
        let err = fifo.for_step().unwrap_err().to_string();
        assert!(err.contains("cannot create control FIFO"), "{err}");
    }
}
