//! cgroups exist only on Linux: elsewhere the probe reports none and a step's tree is
//! tracked by its process group.

use crate::measure::CgroupUsage;

const NOTE: &str = "cgroups are Linux-only: the tree is tracked by its process group";

/// The (empty) probe result.
#[derive(Debug)]
pub(crate) struct Probe;

pub(crate) fn probe() -> &'static Probe {
    &Probe
}

impl Probe {
    pub(crate) fn method_name(&self) -> &'static str {
        "wait4"
    }
    pub(crate) fn note(&self) -> Option<&str> {
        Some(NOTE)
    }
    pub(crate) fn create_step(&self) -> Result<StepCgroup, String> {
        Err(NOTE.to_owned())
    }
}

/// Never constructed off Linux.
#[derive(Debug)]
pub(crate) enum StepCgroup {}

impl StepCgroup {
    pub(crate) fn pids(&self) -> Vec<i32> {
        match *self {}
    }
    pub(crate) fn signal(&self, _sig: libc::c_int) {
        match *self {}
    }
    pub(crate) fn kill_all(&self) {
        match *self {}
    }
    pub(crate) fn usage(&self) -> CgroupUsage {
        match *self {}
    }
    pub(crate) fn release(self) {
        match self {}
    }
}
