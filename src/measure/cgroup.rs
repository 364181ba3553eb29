//! Per-step cgroups: v2 (delegated subtree), v1 (memory/cpuacct/blkio/freezer/pids),
//! hybrid hosts, or none — chosen once per process by probing, with the reason recorded.
