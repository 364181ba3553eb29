//! The built-in workloads of the system-baseline suite, run as `benchmark workload NAME`.
