//! The property tests' configuration: bounded, so they run in every `cargo test`, and
//! deterministic, so CI never fails on an input it cannot show again.

use proptest::test_runner::{Config, RngSeed};

/// `cases` inputs from a fixed seed, unless `PROPTEST_CASES` / `PROPTEST_RNG_SEED` say
/// otherwise (e.g. `PROPTEST_CASES=100000 PROPTEST_RNG_SEED=7` for a longer search).
pub(crate) fn bounded(cases: u32) -> Config {
    let mut c = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(0x5EED_5EED);
    }
    c
}
