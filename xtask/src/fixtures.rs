//! `cargo xtask fixtures`: the importer fixtures under tests/fixtures/import, made by
//! running the real tools (hyperfine, `go test -bench`, libtest's `cargo bench`,
//! criterion) on the small projects in xtask/fixtures/, with a PROVENANCE.md next to
//! each set naming the commands and the versions that wrote it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

use crate::tools;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which fixtures to regenerate (default: all).
    #[arg(value_enum)]
    kinds: Vec<Kind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `hyperfine --export-json`.
    Hyperfine,
    /// `go test -bench` text output.
    GoBench,
    /// libtest's `cargo bench` output, as text and as nightly JSON lines.
    Libtest,
    /// A `target/criterion` tree (`$CRITERION_HOME`), from two runs so changes exist.
    Criterion,
}

const ALL: [Kind; 4] = [
    Kind::Hyperfine,
    Kind::GoBench,
    Kind::Libtest,
    Kind::Criterion,
];

impl Kind {
    fn dir_name(self) -> &'static str {
        match self {
            Kind::Hyperfine => "hyperfine",
            Kind::GoBench => "go-bench",
            Kind::Libtest => "libtest",
            Kind::Criterion => "criterion",
        }
    }
}

/// What a generator records for PROVENANCE.md.
struct Provenance {
    tool: String,
    commands: Vec<String>,
    files: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let kinds = if args.kinds.is_empty() {
        ALL.to_vec()
    } else {
        args.kinds
    };
    // Check every tool first: a missing one should not cost the others' run time.
    for kind in &kinds {
        match kind {
            Kind::Hyperfine => {
                tools::require(
                    "hyperfine",
                    "install it (Debian: `apt-get install hyperfine`)",
                )?;
            }
            Kind::GoBench => {
                tools::require("go", "install Go (Debian: `apt-get install golang-go`)")?;
            }
            Kind::Libtest | Kind::Criterion => {}
        }
    }
    let sh = crate::shell()?;
    let root = crate::project_root();
    for kind in kinds {
        let out = root.join("tests/fixtures/import").join(kind.dir_name());
        let work = root.join("target/xtask-fixtures").join(kind.dir_name());
        if out.exists() {
            std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
        }
        std::fs::create_dir_all(&out)?;
        std::fs::create_dir_all(&work)?;
        println!("fixtures: {}", kind.dir_name());
        let provenance = match kind {
            Kind::Hyperfine => hyperfine(&sh, &out)?,
            Kind::GoBench => go_bench(&sh, &root, &out, &work)?,
            Kind::Libtest => libtest(&sh, &root, &out, &work)?,
            Kind::Criterion => criterion(&sh, &root, &out, &work)?,
        };
        let host = cmd!(sh, "uname -srm").quiet().read().unwrap_or_default();
        std::fs::write(
            out.join("PROVENANCE.md"),
            provenance_text(kind, &host, &provenance),
        )?;
        println!("fixtures: wrote {}", out.display());
    }
    Ok(())
}

fn provenance_text(kind: Kind, host: &str, p: &Provenance) -> String {
    let mut text = format!(
        "# {} import fixtures\n\n\
         Written by `cargo xtask fixtures {}` (xtask/src/fixtures.rs); regenerate them the \
         same way, never by hand.\n\n- tool: {}\n- host: {}\n\n## Commands\n\n```sh\n",
        kind.dir_name(),
        kind.dir_name(),
        p.tool,
        host.trim()
    );
    for command in &p.commands {
        let _ = writeln!(text, "{command}");
    }
    text.push_str("```\n\n## Files\n\n");
    for file in &p.files {
        let _ = writeln!(text, "- {file}");
    }
    text
}

fn hyperfine(sh: &Shell, out: &Path) -> Result<Provenance> {
    let basic = out.join("basic.json");
    let params = out.join("parameters.json");
    let failing = out.join("failing.json");
    let commands = [
        "hyperfine -N --warmup 1 --runs 10 --export-json basic.json 'sleep 0.01' 'sleep 0.02'"
            .to_owned(),
        "hyperfine -N --runs 5 --parameter-scan ms 1 3 --export-json parameters.json 'sleep 0.00{ms}'".to_owned(),
        "hyperfine --runs 5 --ignore-failure --export-json failing.json 'exit 3'".to_owned(),
    ];
    cmd!(
        sh,
        "hyperfine -N --warmup 1 --runs 10 --export-json {basic} 'sleep 0.01' 'sleep 0.02'"
    )
    .run()?;
    cmd!(
        sh,
        "hyperfine -N --runs 5 --parameter-scan ms 1 3 --export-json {params} 'sleep 0.00{ms}'"
    )
    .run()?;
    cmd!(
        sh,
        "hyperfine --runs 5 --ignore-failure --export-json {failing} 'exit 3'"
    )
    .run()?;
    Ok(Provenance {
        tool: tools::version_line("hyperfine", &["--version"])?,
        commands: commands.to_vec(),
        files: vec![
            "basic.json: two commands, warmup, 10 runs each".into(),
            "parameters.json: a `--parameter-scan` (the `parameters` object)".into(),
            "failing.json: a command that exits 3 (`exit_codes`)".into(),
        ],
    })
}

fn go_bench(sh: &Shell, root: &Path, out: &Path, work: &Path) -> Result<Provenance> {
    let project = root.join("xtask/fixtures/go-bench");
    let _dir = sh.push_dir(&project);
    // Offline and hermetic: the caches live under target/, no module download.
    let _cache = sh.push_env("GOCACHE", work.join("cache"));
    let _path = sh.push_env("GOPATH", work.join("gopath"));
    let _proxy = sh.push_env("GOPROXY", "off");
    let _toolchain = sh.push_env("GOTOOLCHAIN", "local");
    let _flags = sh.push_env("GOFLAGS", "-mod=mod");
    let command = "go test -run '^$' -bench . -benchmem -benchtime 20000x -count 3 -cpu 1,2";
    let text = cmd!(
        sh,
        "go test -run ^$ -bench . -benchmem -benchtime 20000x -count 3 -cpu 1,2"
    )
    .read()?;
    std::fs::write(out.join("bench.txt"), text + "\n")?;
    Ok(Provenance {
        tool: tools::version_line("go", &["version"])?,
        commands: vec![format!(
            "cd xtask/fixtures/go-bench && {command} > bench.txt"
        )],
        files: vec![
            "bench.txt: configuration lines (goos, goarch, pkg, cpu), a `Unit … better=` \
             line, `/key=value` sub-benchmarks, the `-N` GOMAXPROCS suffix, B/op, allocs/op, \
             MB/s and a custom unit, three results per name (`-count 3`)"
                .into(),
        ],
    })
}

fn libtest(sh: &Shell, root: &Path, out: &Path, work: &Path) -> Result<Provenance> {
    let manifest = root.join("xtask/fixtures/libtest/Cargo.toml");
    let cargo = crate::cargo();
    // `#[bench]` and `--format json` are unstable; RUSTC_BOOTSTRAP lets stable run them.
    let _bootstrap = sh.push_env("RUSTC_BOOTSTRAP", "1");
    let text = cmd!(
        sh,
        "{cargo} bench --quiet --locked --manifest-path {manifest} --target-dir {work}"
    )
    .read()?;
    std::fs::write(out.join("bench.txt"), text + "\n")?;
    let json = cmd!(
        sh,
        "{cargo} bench --quiet --locked --manifest-path {manifest} --target-dir {work} -- -Z unstable-options --format json"
    )
    .read()?;
    std::fs::write(out.join("bench.json"), json + "\n")?;
    Ok(Provenance {
        tool: tools::version_line("rustc", &["--version"])?,
        commands: vec![
            "RUSTC_BOOTSTRAP=1 cargo bench --quiet --locked --manifest-path xtask/fixtures/libtest/Cargo.toml > bench.txt".into(),
            "RUSTC_BOOTSTRAP=1 cargo bench --quiet --locked --manifest-path xtask/fixtures/libtest/Cargo.toml -- -Z unstable-options --format json > bench.json".into(),
        ],
        files: vec![
            "bench.txt: `test NAME ... bench: N ns/iter (+/- D)` lines, with `,` separators \
             and MB/s where the bench sets `bytes`; the `+/-` is max − min, not a deviation"
                .into(),
            "bench.json: the same benches as JSON lines (`\"type\": \"bench\"`)".into(),
        ],
    })
}

fn criterion(sh: &Shell, root: &Path, out: &Path, work: &Path) -> Result<Provenance> {
    let manifest = root.join("xtask/fixtures/criterion/Cargo.toml");
    let home = work.join("criterion-home");
    if home.exists() {
        std::fs::remove_dir_all(&home)?;
    }
    let cargo = crate::cargo();
    let _home = sh.push_env("CRITERION_HOME", &home);
    let quick = [
        "--warm-up-time",
        "0.2",
        "--measurement-time",
        "0.5",
        "--noplot",
    ];
    // Twice: the second run writes the change estimates against the first.
    for _ in 0..2 {
        cmd!(
            sh,
            "{cargo} bench --quiet --locked --manifest-path {manifest} --target-dir {work} --bench fixture -- {quick...}"
        )
        .run()?;
    }
    let tree = out.join("criterion");
    copy_tree(&home, &tree)?;
    let lock = std::fs::read_to_string(root.join("xtask/fixtures/criterion/Cargo.lock"))?;
    let version = locked_version(&lock, "criterion").unwrap_or_else(|| "unknown".into());
    let rustc = tools::version_line("rustc", &["--version"])?;
    let mut files: Vec<String> = list_files(&tree)?
        .into_iter()
        .map(|p| format!("criterion/{}", p.display()))
        .collect();
    files.sort();
    Ok(Provenance {
        tool: format!("criterion {version} ({rustc})"),
        commands: vec![format!(
            "CRITERION_HOME=$SCRATCH cargo bench --locked --manifest-path xtask/fixtures/criterion/Cargo.toml --bench fixture -- {}   # twice\ncp -r $SCRATCH criterion   # without report/",
            quick.join(" ")
        )],
        files,
    })
}

/// The version Cargo.lock records for `name`.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_owned());
        }
    }
    None
}

/// Copy a directory tree of plain files (criterion's JSON), leaving out HTML reports.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "report" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            for inner in list_files(&entry.path())? {
                files.push(PathBuf::from(entry.file_name()).join(inner));
            }
        } else {
            files.push(PathBuf::from(entry.file_name()));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locked_version_is_read_from_cargo_lock() {
        let lock = "[[package]]\nname = \"cast\"\nversion = \"0.3.0\"\n\n[[package]]\nname = \"criterion\"\nversion = \"0.5.1\"\n";
        assert_eq!(locked_version(lock, "criterion").as_deref(), Some("0.5.1"));
        assert_eq!(locked_version(lock, "serde"), None);
    }

    #[test]
    fn provenance_names_the_tool_the_commands_and_the_files() {
        let p = Provenance {
            tool: "hyperfine 1.15.0".into(),
            commands: vec!["hyperfine -N true".into()],
            files: vec!["basic.json: one command".into()],
        };
        let text = provenance_text(Kind::Hyperfine, "Linux 6.1 x86_64\n", &p);
        assert!(text.starts_with("# hyperfine import fixtures\n"), "{text}");
        assert!(text.contains("`cargo xtask fixtures hyperfine`"), "{text}");
        assert!(
            text.contains("- tool: hyperfine 1.15.0\n- host: Linux 6.1 x86_64\n"),
            "{text}"
        );
        assert!(text.contains("```sh\nhyperfine -N true\n```"), "{text}");
        assert!(text.contains("- basic.json: one command\n"), "{text}");
    }

    #[test]
    fn copying_a_tree_leaves_out_reports() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(from.join("group/new")).unwrap();
        std::fs::create_dir_all(from.join("report")).unwrap();
        std::fs::write(from.join("group/new/estimates.json"), "{}").unwrap();
        std::fs::write(from.join("report/index.html"), "<html>").unwrap();
        let to = dir.path().join("to");
        copy_tree(&from, &to).unwrap();
        let files = list_files(&to).unwrap();
        assert_eq!(files, vec![PathBuf::from("group/new/estimates.json")]);
    }
}
