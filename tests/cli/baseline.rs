//! The built-in system-baseline suite: `benchmark run` with no suite file.

use crate::helper::bench;

#[test]
fn with_no_suite_file_the_system_baseline_runs() {
    let b = bench();
    let started = std::time::Instant::now();
    let done = b.run().code(0);
    eprintln!("system baseline took {:?}", started.elapsed());
    let s = done.summary();
    assert_eq!(s.suite.name, "system-baseline");
    assert!(s.suite.file.is_none());
    assert_eq!(s.runs, 5);
    let ids: Vec<_> = s.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["spawn", "cpu", "memory", "write", "read"]);
    let metric = |step: usize, name: &str| s.steps[step].metrics[name].stats.mean;
    assert!(metric(0, "spawn_median_us") > 0.0);
    assert!(metric(1, "cpu_mops") > 0.0);
    assert!(metric(2, "memory_copy_mibps") > 0.0);
    assert!(metric(3, "disk_write_mibps") > 0.0);
    assert!(metric(4, "disk_read_mibps") > 0.0);
    assert_eq!(s.reproduce, "benchmark run --runs 5 --warmup 1");
    done.stderr_has("suite `system-baseline` (<built-in system-baseline>)");
}
