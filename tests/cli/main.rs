//! Integration tests: the real `benchmark` binary on real suites, real processes, real
//! files. One binary; `helper` holds the small fluent API.

mod helper;

mod adhoc;
mod baseline;
mod compare;
mod docker;
mod entrypoint;
mod errors;
mod fake_docker;
mod gates;
mod import;
mod info;
mod invalid;
// Reads /proc and cgroup mounts: Linux only.
#[cfg(target_os = "linux")]
mod leftovers;
mod load;
// These read /proc and use setsid(1): Linux only.
#[cfg(target_os = "linux")]
mod measure;
mod not_started;
mod output;
mod receipts;
mod report;
mod run;
#[cfg(target_os = "linux")]
mod signals;
mod stdout;
mod step;
