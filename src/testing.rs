//! What the unit tests share: the budget every property test runs with.

use proptest::test_runner::Config as ProptestConfig;

/// A property test's budget: `cases` generated inputs (or `PROPTEST_CASES`, for a longer run
/// by hand), and no failure files written into the source tree. A failing input that a run
/// finds is kept as a named regression test instead.
pub fn budget(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
