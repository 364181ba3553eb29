//! Host-noise checks before and after a run: load, swap, CPU frequency scaling, etc.

/// A reading of the host's noise signs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostState {}

/// Read the host's current state (best effort; unknown facts are `None`).
pub fn read() -> HostState {
    unimplemented!()
}

/// Warnings, in plain words, about noise signs seen before and after a run. Pure.
pub fn warnings(_before: &HostState, _after: Option<&HostState>, _cores: usize) -> Vec<String> {
    unimplemented!()
}
