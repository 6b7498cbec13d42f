//! Small helpers the lab benches share: the `cargo bench` filter, round counts, percentiles.

#![allow(dead_code)] // each bench uses its own part

use std::time::Duration;

/// Whether this bench was asked for: `cargo bench` passes `--bench`, and a filter argument
/// that does not name `bench` means another bench was meant.
pub fn selected(bench: &str) -> bool {
    !std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && !bench.contains(&a))
}

/// `PODNET_BENCH_ROUNDS`, or `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("PODNET_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of `samples` in milliseconds, nearest rank.
pub fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let rank = (ms.len() as f64 * p).ceil() as usize;
    ms[rank.clamp(1, ms.len()) - 1]
}

/// The median of `values` (the lower one of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}
