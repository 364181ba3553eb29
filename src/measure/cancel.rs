//! Cancellation by token: SIGINT/SIGTERM set a flag and wake a self-pipe that the
//! executor polls, so a running step is killed at once and the run can stop cleanly.

/// A cancellation token shared by the runner and the executor.
#[derive(Debug, Clone)]
pub struct Cancel {
    // filled in by the implementation
}

impl Cancel {
    /// A token that only `cancel()` triggers (tests, library use).
    pub fn new() -> Self {
        unimplemented!()
    }
    /// A token also triggered by SIGINT and SIGTERM (remembering which).
    pub fn install_signal_handlers() -> std::io::Result<Self> {
        unimplemented!()
    }
    pub fn cancel(&self) {}
    pub fn is_cancelled(&self) -> bool {
        unimplemented!()
    }
    /// The signal that cancelled, if a signal did.
    pub fn signal(&self) -> Option<i32> {
        unimplemented!()
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new()
    }
}
