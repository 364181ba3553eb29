//! What differs between the environments of two receipts. A comparison across different
//! machines, kernels, measurement methods or builds may show the difference of the
//! environments, not of the code: each is listed, and the ones that can move numbers are
//! flagged (`--strict-env` refuses them). Pure.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::receipt::Summary;

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnvDifference {
    /// The receipt field, e.g. `environment.cpu_model`.
    pub field: String,
    pub base: Option<String>,
    pub new: Option<String>,
    /// It can change what is measured (CPU, cores, kernel, OS, Nix system, measurement
    /// method, the harness's build, the image); not flagged: the hostname, the memory size.
    pub flagged: bool,
}

/// Every difference between the environments (and builds) of `base` and `new`.
pub fn differences(base: &Summary, new: &Summary) -> Vec<EnvDifference> {
    let fields = |s: &Summary| -> Vec<(&'static str, Option<String>, bool)> {
        let e = &s.environment;
        vec![
            ("environment.os", Some(e.os.clone()), true),
            ("environment.arch", Some(e.arch.clone()), true),
            ("environment.nix_system", Some(e.nix_system.clone()), true),
            ("environment.cpu_model", e.cpu_model.clone(), true),
            ("environment.cores", Some(e.cores.to_string()), true),
            (
                "environment.physical_cores",
                e.physical_cores.map(|n| n.to_string()),
                true,
            ),
            ("environment.kernel", e.kernel.clone(), true),
            ("environment.virtualization", e.virtualization.clone(), true),
            ("environment.container", e.container.clone(), true),
            (
                "environment.measurement.method",
                Some(e.measurement.method.clone()),
                true,
            ),
            ("environment.image", e.image.clone(), true),
            ("tool.version", Some(s.tool.version.clone()), true),
            ("tool.revision", s.tool.revision.clone(), true),
            (
                "environment.memory_bytes",
                e.memory_bytes.map(|n| n.to_string()),
                false,
            ),
            ("environment.hostname", e.hostname.clone(), false),
        ]
    };
    fields(base)
        .into_iter()
        .zip(fields(new))
        .filter(|((_, a, _), (_, b, _))| a != b)
        .map(|((field, base, flagged), (_, new, _))| EnvDifference {
            field: field.to_owned(),
            base,
            new,
            flagged,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        crate::receipt::read::parse(include_bytes!(
            "../../tests/fixtures/receipts/summary-v1.json"
        ))
        .unwrap()
    }

    #[test]
    fn the_same_environment_has_no_difference() {
        assert_eq!(differences(&summary(), &summary()), []);
    }

    #[test]
    fn each_difference_is_listed_and_the_ones_that_move_numbers_flagged() {
        let base = summary();
        let mut new = summary();
        new.environment.cpu_model = Some("Other CPU".into());
        new.environment.kernel = None;
        new.environment.hostname = Some("elsewhere".into());
        new.tool.revision = Some("abc123".into());
        let d = differences(&base, &new);
        let got: Vec<(&str, bool)> = d.iter().map(|d| (d.field.as_str(), d.flagged)).collect();
        assert_eq!(
            got,
            [
                ("environment.cpu_model", true),
                ("environment.kernel", true),
                ("tool.revision", true),
                ("environment.hostname", false),
            ]
        );
        assert_eq!(d[0].new.as_deref(), Some("Other CPU"));
        assert_eq!(d[1].new, None);
        assert_eq!(d[2].base, None);
    }
}
