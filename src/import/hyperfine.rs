//! hyperfine's `--export-json`: per command every run's wall time (seconds, here
//! milliseconds), exit code, `parameters` of a parameter scan, and from hyperfine 1.20 on
//! each run's peak memory (`memory_usage_byte`). hyperfine records only the mean of user
//! and system CPU time, which is kept as a one-sample metric (`cpu_user_mean`,
//! `cpu_sys_mean`). Pure.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Benchmark, ImportError, Imported, Kind, Measure};

const HELP: &str = "give the file hyperfine wrote with `--export-json FILE`";

#[derive(Deserialize)]
struct Export {
    results: Vec<RawResult>,
}

#[derive(Deserialize)]
struct RawResult {
    command: String,
    times: Option<Vec<f64>>,
    user: Option<f64>,
    system: Option<f64>,
    #[serde(default)]
    exit_codes: Vec<Option<i32>>,
    #[serde(default)]
    parameters: BTreeMap<String, serde_json::Value>,
    memory_usage_byte: Option<Vec<f64>>,
}

pub fn parse(text: &str, file: &str) -> Result<Imported, ImportError> {
    let export: Export =
        serde_json::from_str(text).map_err(|e| ImportError::json(file, &e, HELP))?;
    if export.results.is_empty() {
        return Err(ImportError::new(
            file,
            "`results` is empty: hyperfine measured no command",
            HELP,
        ));
    }
    let mut benchmarks = Vec::new();
    for (i, r) in export.results.into_iter().enumerate() {
        let Some(times) = r.times.filter(|t| !t.is_empty()) else {
            return Err(ImportError::new(
                file,
                format!(
                    "result {} (`{}`) has no `times`: without every run's time there is \
                     nothing to compare",
                    i + 1,
                    r.command
                ),
                "export with hyperfine 1.6 or later, which writes `times`",
            ));
        };
        let mut b = Benchmark::new(&r.command, file);
        b.wall_ms = times.iter().map(|s| s * 1e3).collect();
        b.exit_codes = r.exit_codes.iter().map(|c| c.unwrap_or(-1)).collect();
        b.config = r
            .parameters
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        b.peak_rss_bytes = r.memory_usage_byte.unwrap_or_default();
        for (name, mean) in [("cpu_user_mean", r.user), ("cpu_sys_mean", r.system)] {
            if let Some(mean) = mean {
                let mut m = Measure::new(name, Some("ms"), None);
                m.samples.push(mean * 1e3);
                m.note =
                    Some("hyperfine records the mean over its runs only: one sample".to_owned());
                b.measures.push(m);
            }
        }
        benchmarks.push(b);
    }
    Ok(Imported {
        kind: Kind::Hyperfine,
        version: None,
        benchmarks,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::tests::{close, fixture};

    fn check_against_source(rel: &str) -> Imported {
        let text = fixture(rel);
        let imp = crate::import::parse(Kind::Hyperfine, &text, rel).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let results = v["results"].as_array().unwrap();
        assert_eq!(imp.benchmarks.len(), results.len());
        for (b, r) in imp.benchmarks.iter().zip(results) {
            assert_eq!(b.name, r["command"].as_str().unwrap());
            let times: Vec<f64> = r["times"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_f64().unwrap() * 1000.0)
                .collect();
            assert_eq!(b.wall_ms, times);
            let codes: Vec<i32> = r["exit_codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_i64().unwrap() as i32)
                .collect();
            assert_eq!(b.exit_codes, codes);
            // The statistics of the samples agree with hyperfine's own.
            let s = crate::stats::summarize(&b.wall_ms).unwrap();
            close(s.mean, r["mean"].as_f64().unwrap() * 1000.0);
            close(s.min, r["min"].as_f64().unwrap() * 1000.0);
            close(s.max, r["max"].as_f64().unwrap() * 1000.0);
            close(s.median, r["median"].as_f64().unwrap() * 1000.0);
            close(s.stddev.unwrap(), r["stddev"].as_f64().unwrap() * 1000.0);
            let user = b
                .measures
                .iter()
                .find(|m| m.name == "cpu_user_mean")
                .unwrap();
            assert_eq!(user.samples, [r["user"].as_f64().unwrap() * 1000.0]);
            match r.get("parameters") {
                Some(p) => {
                    for (k, v) in p.as_object().unwrap() {
                        assert_eq!(b.config[k], v.as_str().unwrap());
                    }
                }
                None => assert!(b.config.is_empty()),
            }
        }
        imp
    }

    #[test]
    fn the_real_fixtures() {
        let basic = check_against_source("hyperfine/basic.json");
        assert_eq!(basic.benchmarks[0].id, "sleep_0_01");
        assert_eq!(basic.benchmarks[0].wall_ms.len(), 10);
        let params = check_against_source("hyperfine/parameters.json");
        assert_eq!(params.benchmarks[2].config["ms"], "3");
        let failing = check_against_source("hyperfine/failing.json");
        assert_eq!(failing.benchmarks[0].exit_codes, [3; 5]);
    }

    #[test]
    fn memory_usage_from_hyperfine_1_20() {
        let imp = parse(
            r#"{"results":[{"command":"x","times":[0.5,0.25],"exit_codes":[0,0],
               "memory_usage_byte":[1048576,2097152]}]}"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(imp.benchmarks[0].peak_rss_bytes, [1_048_576.0, 2_097_152.0]);
        assert_eq!(imp.benchmarks[0].wall_ms, [500.0, 250.0]);
    }

    #[test]
    fn invalid_input_says_where_and_what() {
        let err = |text: &str| parse(text, "h.json").unwrap_err().to_string();
        assert!(
            err("{\"results\": [\n  {\"command\": 3}]}").starts_with(
                "h.json:2:15: not valid JSON here: invalid type: integer `3`, expected a string\n"
            ),
            "{}",
            err("{\"results\": [\n  {\"command\": 3}]}")
        );
        assert!(err("{\"results\": [").starts_with("h.json:1:13: not valid JSON here"));
        assert!(err("{\"results\": []}").starts_with("h.json: `results` is empty"));
        assert!(
            err(r#"{"results": [{"command": "a"}]}"#)
                .starts_with("h.json: result 1 (`a`) has no `times`")
        );
        assert!(
            err("{}").contains("help: give the file hyperfine wrote with `--export-json FILE`")
        );
    }
}
