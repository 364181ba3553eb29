//! Errors the CLI prints keep their whole chain of causes and say what to do.

use std::os::unix::process::CommandExt;

use crate::helper::bench;

#[test]
fn a_receipt_that_cannot_be_written_shows_the_os_error_and_what_to_do() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
[[step]]
id = "a"
run = "true"
"#,
    );
    let mut cmd = b.command();
    cmd.arg("run");
    // A file-size limit below a receipt's size makes its write fail (EFBIG) as a full
    // disk would (ENOSPC), without needing a small file system.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 1000,
                rlim_max: 1000,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    assert!(line.contains("run_1.json"), "{line}");
    assert!(
        line.contains("File too large"),
        "the cause is shown: {line}"
    );
    assert!(line.contains("--output"), "says what to do: {line}");
}
