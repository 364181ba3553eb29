//! The built-in workloads of the system-baseline suite, run as `benchmark workload NAME`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    Noop,
    Spawn,
    Cpu,
    Memory,
    Write,
    Read,
}

pub fn run(_w: Workload, _out: &mut dyn std::io::Write) -> std::io::Result<()> {
    unimplemented!()
}
