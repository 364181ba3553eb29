//! `cargo xtask image`: a runnable `benchmark` image built with no registry and no
//! network — a static release binary and a static busybox (the shell and coreutils that
//! steps need) on `FROM scratch` (containers/offline/Dockerfile).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use xshell::cmd;

use crate::tools;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image's tag.
    #[arg(long, default_value = "benchmark:offline")]
    tag: String,
    /// A suite file to bake in as /workspace/benchmark.toml (the entrypoint runs it).
    #[arg(long)]
    suite: Option<PathBuf>,
    /// Use this static binary instead of building one.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Use this static busybox instead of the system's.
    #[arg(long)]
    busybox: Option<PathBuf>,
    /// The Rust target triple to build for (default: the host's; must be Linux).
    #[arg(long)]
    target: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    tools::require(
        "docker",
        "install the Docker client and start a daemon (`cargo xtask docker-up` as root)",
    )?;
    if tools::docker_server_version().is_none() {
        bail!("no Docker daemon answers: start one with `cargo xtask docker-up` (as root)");
    }
    if let Some(suite) = &args.suite {
        ensure!(suite.is_file(), "no suite file at {}", suite.display());
    }
    let binary = match args.binary {
        Some(binary) => binary,
        None => build_static_binary(args.target.as_deref())?,
    };
    ensure!(
        tools::is_executable(&binary),
        "no executable at {}",
        binary.display()
    );
    ensure!(
        is_static(&binary),
        "{} is dynamically linked: build with RUSTFLAGS='-C target-feature=+crt-static' and --target",
        binary.display()
    );
    let busybox = match args.busybox {
        Some(busybox) => {
            ensure!(
                is_static(&busybox),
                "{} is dynamically linked: pass a static busybox (Debian: busybox-static)",
                busybox.display()
            );
            busybox
        }
        None => static_busybox().context(
            "no static busybox found: install one (Debian: `apt-get install busybox-static`) or pass --busybox",
        )?,
    };

    let stage = tempfile::tempdir()?;
    let applets = applets(&busybox)?;
    stage_context(
        stage.path(),
        &binary,
        &busybox,
        &applets,
        args.suite.as_deref(),
    )?;

    let sh = crate::shell()?;
    let version = cmd!(sh, "{binary} --version").read()?;
    let version = version.split_whitespace().nth(1).unwrap_or("unknown");
    let revision = cmd!(sh, "git rev-parse HEAD")
        .quiet()
        .read()
        .unwrap_or_else(|_| "unknown".into());
    let created = cmd!(sh, "date -u +%Y-%m-%dT%H:%M:%SZ").quiet().read()?;
    let tag = &args.tag;
    let dockerfile = crate::project_root().join("containers/offline/Dockerfile");
    let context = stage.path();
    eprintln!("image: docker build -t {tag}");
    cmd!(
        sh,
        "docker build -q -t {tag} -f {dockerfile} --build-arg VERSION={version} --build-arg REVISION={revision} --build-arg CREATED={created} {context}"
    )
    .quiet()
    .ignore_stdout()
    .run()?;

    let format = "{{.Size}}";
    let size: u64 = cmd!(sh, "docker image inspect -f {format} {tag}")
        .quiet()
        .read()?
        .trim()
        .parse()
        .context("reading the image's size")?;
    println!("{}", size_line(tag, size));
    cmd!(
        sh,
        "docker run --rm --network none --entrypoint /bin/benchmark {tag} --version"
    )
    .quiet()
    .ignore_stdout()
    .run()
    .context("the image was built but its binary does not run")?;
    Ok(())
}

fn size_line(tag: &str, bytes: u64) -> String {
    format!(
        "{tag}: {:.1} MiB ({bytes} bytes)",
        bytes as f64 / 1_048_576.0
    )
}

/// Build `benchmark` as a static release binary for a Linux target.
fn build_static_binary(target: Option<&str>) -> Result<PathBuf> {
    let sh = crate::shell()?;
    let target = match target {
        Some(target) => target.to_owned(),
        None => cmd!(sh, "rustc -vV")
            .quiet()
            .read()?
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .context("rustc -vV printed no host")?
            .to_owned(),
    };
    if !(target.contains("-linux-gnu") || target.contains("-linux-musl")) {
        bail!("target {target}: the image needs a Linux binary (pass --target or --binary)");
    }
    eprintln!("image: building a static release binary for {target}");
    let rustflags = format!(
        "{} -C target-feature=+crt-static",
        std::env::var("RUSTFLAGS").unwrap_or_default()
    );
    let commit = cmd!(sh, "git rev-parse --short=12 HEAD")
        .quiet()
        .read()
        .unwrap_or_else(|_| "unknown".into());
    let cargo = crate::cargo();
    // --target keeps RUSTFLAGS off build scripts and proc-macros (they stay dynamic).
    cmd!(
        sh,
        "{cargo} build --release --locked --target {target} --bin benchmark"
    )
    .env("RUSTFLAGS", rustflags.trim())
    .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
    .env("BENCHMARK_COMMIT", commit)
    .run()
    .context(
        "cargo build failed (a static glibc build needs libc6-dev; without network the \
         dependencies must already be fetched: `cargo fetch` once)",
    )?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target"));
    Ok(target_dir.join(target).join("release/benchmark"))
}

/// A binary needs no loader or shared library (it can run on FROM scratch).
fn is_static(binary: &Path) -> bool {
    match tools::find("ldd") {
        Some(_) => {
            let out = Command::new("ldd").arg(binary).output();
            out.is_ok_and(|o| {
                let text = String::from_utf8_lossy(&o.stdout) + String::from_utf8_lossy(&o.stderr);
                !text.contains("=>")
            })
        }
        None => {
            eprintln!(
                "image: ldd not found; assuming {} is static",
                binary.display()
            );
            true
        }
    }
}

/// The system's busybox, if it is a static one.
pub fn static_busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .chain(tools::find("busybox"))
        .find(|p| tools::is_executable(p) && is_static(p))
}

fn applets(busybox: &Path) -> Result<Vec<String>> {
    let list = tools::output_within(Command::new(busybox).arg("--list"), Duration::from_secs(10))
        .with_context(|| format!("`{} --list` failed", busybox.display()))?;
    Ok(list.lines().map(str::to_owned).collect())
}

const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
bench:x:65532:65532:benchmark:/workspace:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
";
const GROUP: &str = "root:x:0:\nbench:x:65532:\nnogroup:x:65534:\n";

/// Lay out the build context: `rootfs/` (what the image holds) and `workspace/`.
fn stage_context(
    stage: &Path,
    binary: &Path,
    busybox: &Path,
    applets: &[String],
    suite: Option<&Path>,
) -> Result<()> {
    let rootfs = stage.join("rootfs");
    for dir in ["bin", "etc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    std::fs::create_dir_all(stage.join("workspace/output"))?;
    set_mode(&rootfs.join("tmp"), 0o1777)?;
    set_mode(&stage.join("workspace"), 0o755)?;
    set_mode(&stage.join("workspace/output"), 0o755)?;

    install(binary, &rootfs.join("bin/benchmark"), 0o755)?;
    install(busybox, &rootfs.join("bin/busybox"), 0o755)?;
    // `busybox --install` cannot run inside a FROM scratch build (there is no shell yet),
    // so the applet links are made here.
    for applet in applets {
        if applet.is_empty() || applet.contains('/') || applet == "busybox" || applet == "benchmark"
        {
            continue;
        }
        symlink("busybox", rootfs.join("bin").join(applet))?;
    }
    std::fs::write(rootfs.join("etc/passwd"), PASSWD)?;
    std::fs::write(rootfs.join("etc/group"), GROUP)?;
    std::fs::write(rootfs.join("etc/nsswitch.conf"), "hosts: files dns\n")?;
    let certs = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if certs.is_file() {
        std::fs::create_dir_all(rootfs.join("etc/ssl/certs"))?;
        install(
            certs,
            &rootfs.join("etc/ssl/certs/ca-certificates.crt"),
            0o644,
        )?;
    }
    if let Some(suite) = suite {
        install(suite, &stage.join("workspace/benchmark.toml"), 0o644)?;
    }
    Ok(())
}

fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    set_mode(to, mode)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_holds_the_binaries_the_applet_links_and_the_users() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("benchmark-bin");
        let busybox = dir.path().join("busybox-bin");
        let suite = dir.path().join("suite.toml");
        std::fs::write(&binary, "bin").unwrap();
        std::fs::write(&busybox, "bb").unwrap();
        std::fs::write(&suite, "[suite]\n").unwrap();
        let stage = dir.path().join("stage");
        let applets: Vec<String> = ["sh", "sleep", "busybox", "benchmark", ""]
            .map(String::from)
            .to_vec();
        stage_context(&stage, &binary, &busybox, &applets, Some(&suite)).unwrap();

        let rootfs = stage.join("rootfs");
        assert_eq!(
            std::fs::read_to_string(rootfs.join("bin/benchmark")).unwrap(),
            "bin"
        );
        let mode = std::fs::metadata(rootfs.join("bin/benchmark"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert_eq!(
            std::fs::read_link(rootfs.join("bin/sleep")).unwrap(),
            Path::new("busybox")
        );
        // The binary itself is not replaced by a link.
        assert!(!rootfs.join("bin/busybox").is_symlink());
        assert!(!rootfs.join("bin/benchmark").is_symlink());
        let tmp = std::fs::metadata(rootfs.join("tmp"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(tmp & 0o7777, 0o1777);
        let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
        assert!(passwd.contains(":65532:65532:"), "{passwd}");
        assert_eq!(
            std::fs::read_to_string(stage.join("workspace/benchmark.toml")).unwrap(),
            "[suite]\n"
        );
        assert!(stage.join("workspace/output").is_dir());
    }

    #[test]
    fn the_size_line_is_in_mebibytes_and_bytes() {
        assert_eq!(
            size_line("benchmark:offline", 8_598_323),
            "benchmark:offline: 8.2 MiB (8598323 bytes)"
        );
    }
}
