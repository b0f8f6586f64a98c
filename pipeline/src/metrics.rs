//! Histograms the pipeline keeps for the server's `/metrics` (pure: atomics
//! only, cheap enough to record every frame).

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (milliseconds) of the latency buckets: from a fast model on
/// a big machine to a stalled one.
pub const LATENCY_BUCKETS_MS: [f64; 11] =
    [5.0, 10.0, 20.0, 35.0, 50.0, 75.0, 100.0, 150.0, 250.0, 500.0, 1000.0];

/// Counts of observations per bucket (the last one above every bound), and
/// their sum.
#[derive(Debug)]
pub struct Histogram {
    counts: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    /// Sum of the observations, in microseconds.
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: std::array::from_fn(|_| AtomicU64::new(0)), sum_us: AtomicU64::new(0) }
    }
}

/// A histogram as read: per-bucket counts (not cumulative) with their upper
/// bound (`f64::INFINITY` for the last), the count and the sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_ms: f64,
}

impl Histogram {
    pub fn observe(&self, ms: f64) {
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        let i =
            LATENCY_BUCKETS_MS.iter().position(|b| ms <= *b).unwrap_or(LATENCY_BUCKETS_MS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add((ms * 1000.0) as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let bounds = LATENCY_BUCKETS_MS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> =
            bounds.zip(&self.counts).map(|(b, c)| (b, c.load(Ordering::Relaxed))).collect();
        let count = buckets.iter().map(|(_, c)| c).sum();
        Snapshot { buckets, count, sum_ms: self.sum_us.load(Ordering::Relaxed) as f64 / 1000.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        for ms in [0.0, 5.0, 5.1, 99.0, 2000.0, f64::NAN, -3.0] {
            h.observe(ms);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 7);
        let at = |bound: f64| s.buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(at(5.0), 4, "0, 5, and NaN and -3 as 0");
        assert_eq!(at(10.0), 1);
        assert_eq!(at(100.0), 1);
        assert_eq!(at(f64::INFINITY), 1);
        assert!((s.sum_ms - 2109.1).abs() < 0.01, "{}", s.sum_ms);
    }
}
