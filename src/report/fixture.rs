//! Real receipts, fixed once (tests/fixtures/receipts/PROVENANCE.md), for the snapshot
//! tests of every format.

use super::Receipt;

pub fn receipt() -> Receipt {
    let summary = crate::receipt::read::parse(include_bytes!(
        "../../tests/fixtures/receipts/report/perf.json"
    ))
    .expect("the fixture loads");
    let run = crate::receipt::read::parse(include_bytes!(
        "../../tests/fixtures/receipts/report/run_1.json"
    ))
    .expect("the fixture's run loads");
    Receipt {
        source: "bench-out/perf.json".into(),
        summary,
        runs: vec![run],
    }
}

/// A receipt with load scenarios: `create-runs` (closed loop, phases `schedule`,
/// `dispatch` and `complete`, a failed operation per run) and `poll` (open loop, over
/// capacity: a backlog and start lag).
pub fn load_receipt() -> Receipt {
    let summary = crate::receipt::read::parse(include_bytes!(
        "../../tests/fixtures/receipts/report-load/perf.json"
    ))
    .expect("the load fixture loads");
    let run = crate::receipt::read::parse(include_bytes!(
        "../../tests/fixtures/receipts/report-load/run_1.json"
    ))
    .expect("the load fixture's run loads");
    Receipt {
        source: "bench-out/perf.json".into(),
        summary,
        runs: vec![run],
    }
}
