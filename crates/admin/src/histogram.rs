//! A latency histogram with fixed Prometheus-style buckets: lock-free to record
//! (one relaxed add per bucket hit), cheap to snapshot, and good enough to estimate
//! p50 / p99 for the status page.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (the last, +Inf, is implicit): from 50 µs,
/// a loopback cache hit, to 2.5 s, far past any sane request timeout.
pub const BUCKETS: [f64; 15] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// Request latencies, counted per bucket.
#[derive(Debug, Default)]
pub struct Histogram {
    /// One count per bucket of [`BUCKETS`], plus +Inf at the end (not cumulative).
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A histogram's counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Per-bucket counts (not cumulative), +Inf last.
    pub counts: [u64; BUCKETS.len() + 1],
    /// Sum of the observed latencies, in nanoseconds.
    pub sum_nanos: u64,
}

impl Histogram {
    /// Records one latency.
    pub fn observe(&self, latency: Duration) {
        let seconds = latency.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Snapshot {
        let mut counts = [0; BUCKETS.len() + 1];
        for (out, count) in counts.iter_mut().zip(&self.counts) {
            *out = count.load(Ordering::Relaxed);
        }
        Snapshot {
            counts,
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
        }
    }
}

impl Snapshot {
    /// Observations in all buckets.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the observations in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_nanos as f64 / 1e9
    }

    /// What was observed since `earlier` (a snapshot of the same histogram).
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let mut counts = [0; BUCKETS.len() + 1];
        for (i, out) in counts.iter_mut().enumerate() {
            *out = self.counts[i].saturating_sub(earlier.counts[i]);
        }
        Snapshot {
            counts,
            sum_nanos: self.sum_nanos.saturating_sub(earlier.sum_nanos),
        }
    }

    /// Adds another histogram's counts (to sum per-command histograms).
    pub fn add(&mut self, other: &Snapshot) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.sum_nanos += other.sum_nanos;
    }

    /// The `q` quantile (0..=1) in seconds, interpolated linearly inside its bucket
    /// as Prometheus' `histogram_quantile` does; `None` without observations. A
    /// quantile in the +Inf bucket reads as the largest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        for (i, &count) in self.counts.iter().enumerate() {
            if count > 0 && (below + count) as f64 >= rank {
                let Some(&upper) = BUCKETS.get(i) else {
                    return Some(BUCKETS[BUCKETS.len() - 1]);
                };
                let lower = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
                let within = (rank - below as f64) / count as f64;
                return Some(lower + (upper - lower) * within.clamp(0.0, 1.0));
            }
            below += count;
        }
        Some(BUCKETS[BUCKETS.len() - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_quantiles_interpolate() {
        let h = Histogram::default();
        assert_eq!(h.snapshot().quantile(0.5), None);
        for _ in 0..99 {
            h.observe(Duration::from_micros(80)); // (50 µs, 100 µs]
        }
        h.observe(Duration::from_millis(3)); // (2.5 ms, 5 ms]
        let s = h.snapshot();
        assert_eq!(s.count(), 100);
        assert_eq!(s.counts[1], 99);
        assert_eq!(s.counts[6], 1);
        let p50 = s.quantile(0.5).unwrap();
        assert!(p50 > 0.000_05 && p50 <= 0.000_1, "{p50}");
        let p100 = s.quantile(1.0).unwrap();
        assert!(p100 > 0.002_5 && p100 <= 0.005, "{p100}");
        assert!((s.sum_seconds() - (99.0 * 0.000_08 + 0.003)).abs() < 1e-9);
    }

    #[test]
    fn slow_requests_count_in_the_infinite_bucket() {
        let h = Histogram::default();
        h.observe(Duration::from_secs(10));
        let s = h.snapshot();
        assert_eq!(s.counts[BUCKETS.len()], 1);
        assert_eq!(s.quantile(0.99), Some(2.5));
    }

    #[test]
    fn since_subtracts_an_earlier_snapshot() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(10));
        let before = h.snapshot();
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_millis(20));
        let delta = h.snapshot().since(&before);
        assert_eq!(delta.count(), 2);
        assert_eq!(delta.counts[0], 1);
        let mut sum = before;
        sum.add(&delta);
        assert_eq!(sum, h.snapshot());
    }
}
