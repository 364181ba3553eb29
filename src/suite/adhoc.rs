//! Ad-hoc suites from the command line (`benchmark run -c CMD -c CMD`), hyperfine-style:
//! one step per command, ids derived from the commands or given with `--name`.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Source, Suite, hex, parse};
use crate::error::Error;
use sha2::{Digest, Sha256};

/// How an ad-hoc suite appears in receipts and messages.
pub const AD_HOC_NAME: &str = "<command line>";

/// Measured runs of an ad-hoc suite unless `--runs` says otherwise: enough for the
/// comparison's interval to mean something.
pub const AD_HOC_RUNS: u32 = 10;

/// The suite of `commands`, each step named by `names[i]` when given.
pub fn suite(commands: &[String], names: &[String]) -> Result<Suite, Error> {
    if names.len() > commands.len() {
        return Err(Error::Usage(format!(
            "{} --name for {} command(s): give at most one --name per -c",
            names.len(),
            commands.len()
        )));
    }
    let mut taken = BTreeSet::new();
    let mut text = format!("[suite]\nname = \"ad-hoc\"\nruns = {AD_HOC_RUNS}\nwarmup = 1\n");
    for (i, cmd) in commands.iter().enumerate() {
        if cmd.trim().is_empty() {
            return Err(Error::Usage(format!(
                "command {} is empty: give -c a shell command, e.g. -c 'sleep 0.1'",
                i + 1
            )));
        }
        let id = match names.get(i) {
            Some(n) => {
                if !super::valid_id(n) {
                    return Err(Error::Usage(format!(
                        "--name `{n}`: a step name is letters, digits, `_` and `-`; try `{}`",
                        derive_id(n, i)
                    )));
                }
                if !taken.insert(n.to_ascii_lowercase()) {
                    return Err(Error::Usage(format!(
                        "--name `{n}` is given twice (names are compared ignoring case)"
                    )));
                }
                n.clone()
            }
            None => unique(derive_id(cmd, i), &mut taken),
        };
        text.push_str(&format!(
            "[[step]]\nid = {}\nrun = {}\n",
            toml_string(&id),
            toml_string(cmd)
        ));
    }
    let mut suite = parse(&text, None, Path::new("."))
        .map_err(|e| Error::Usage(format!("the commands do not make a suite: {e}")))?;
    suite.name = "ad-hoc".into();
    suite.source = Source {
        path: None,
        sha256: hex(&Sha256::digest(text.as_bytes())),
        label: AD_HOC_NAME,
    };
    Ok(suite)
}

/// `cargo build --release` → `cargo-build`; `./target/bin/x -v` → `x--v`… reduced to
/// letters, digits, `_` and `-`, at most 32 characters; `cmd-N` when nothing is left.
fn derive_id(cmd: &str, index: usize) -> String {
    let words: Vec<&str> = cmd.split_whitespace().take(2).collect();
    let first = words
        .first()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .unwrap_or("");
    let mut raw = first.to_owned();
    if let Some(second) = words.get(1).filter(|w| !w.starts_with('-')) {
        raw.push('-');
        raw.push_str(second);
    }
    let mut id = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && id.ends_with('-')) {
            id.push(c);
        }
    }
    let id: String = id.trim_matches('-').chars().take(32).collect();
    let id = id.trim_end_matches('-').to_owned();
    if id.is_empty() {
        format!("cmd-{}", index + 1)
    } else {
        id
    }
}

fn unique(id: String, taken: &mut BTreeSet<String>) -> String {
    let id = super::unique_id(&id, |c| taken.contains(&c.to_ascii_lowercase()));
    taken.insert(id.to_ascii_lowercase());
    id
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(commands: &[&str]) -> Vec<String> {
        let cmds: Vec<String> = commands.iter().map(|s| (*s).to_owned()).collect();
        suite(&cmds, &[])
            .unwrap()
            .steps
            .into_iter()
            .map(|s| s.id)
            .collect()
    }

    #[test]
    fn ids_come_from_the_commands() {
        assert_eq!(
            ids(&[
                "sleep 0.1",
                "./target/release/app --fast",
                "cargo build",
                "Sleep 1"
            ]),
            ["sleep-0-1", "app", "cargo-build", "Sleep-1"]
        );
        assert_eq!(ids(&["true", "true", "TRUE"]), ["true", "true-2", "TRUE-3"]);
        assert_eq!(ids(&["'é' | wc"]), ["cmd-1"]);
    }

    #[test]
    fn commands_keep_every_character() {
        let cmds = vec!["printf '%s\\n' \"a\"\"b\" \\\n 'c'".to_owned()];
        let s = suite(&cmds, &["q".to_owned()]).unwrap();
        assert_eq!(
            s.steps[0].kind,
            crate::suite::StepKind::Shell {
                run: cmds[0].clone()
            }
        );
        assert_eq!(s.source.display(), AD_HOC_NAME);
        assert_eq!(s.runs, AD_HOC_RUNS);
    }

    #[test]
    fn bad_names_and_empty_commands_are_usage_errors() {
        let cmds = vec!["true".to_owned(), "false".to_owned()];
        let msg = |r: Result<Suite, Error>| r.unwrap_err().to_string();
        assert!(msg(suite(&cmds, &["a b".into()])).contains("try `a-b`"));
        assert!(msg(suite(&cmds, &["a".into(), "A".into()])).contains("given twice"));
        assert!(msg(suite(&cmds, &["a".into(), "b".into(), "c".into()])).contains("at most one"));
        assert!(msg(suite(&[" ".into()], &[])).contains("is empty"));
    }
}
