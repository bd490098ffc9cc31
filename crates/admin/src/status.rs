//! What a binary reports: the [`Report`] trait the listener calls, the [`Status`]
//! behind `/status`, `/healthz` and the page, and [`Recent`], which turns counters
//! into "lately" figures (ops/s, p50, p99 over the last interval).

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use crate::histogram::Snapshot;
use crate::prometheus::Encoder;

/// What a binary shows on its admin listener. Calls come from the listener's tasks:
/// keep them quick (read counters; no network round trips).
pub trait Report: Send + Sync + 'static {
    /// Writes every metric family of a scrape.
    fn metrics(&self, out: &mut Encoder);
    /// The status now.
    fn status(&self) -> Status;
}

/// `/status`: the process and the nodes it watches.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    /// `memkeepd` or `memkeep-proxy`.
    pub server: String,
    /// The version string.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Whether `/healthz` answers 200: serving, and not still copying from a peer.
    pub healthy: bool,
    /// Why, in a few words (`serving`, `warming: waiting for a full copy`).
    pub health: String,
    /// One row per node: the server itself and its replication peer (memkeepd), or
    /// every backend of every pool (memkeep-proxy).
    pub nodes: Vec<NodeStatus>,
}

/// One node of the status table. Figures a node cannot give are `None` (`null` in
/// JSON, `-` on the page).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct NodeStatus {
    /// The group it belongs to: the pool's name, or `self` / `peer`.
    pub group: String,
    /// Its name (the server name in the pool, or the address).
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// `up`, `down` or `ejected`; for memkeepd itself `up` or `warming`.
    pub state: String,
    /// Hits / (hits + misses) since the node started.
    pub hit_rate: Option<f64>,
    /// Bytes used by items.
    pub memory_used_bytes: Option<u64>,
    /// The memory limit.
    pub memory_limit_bytes: Option<u64>,
    /// Median request latency over the last interval, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile request latency over the last interval, in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// Requests per second over the last interval.
    pub ops_per_second: Option<f64>,
    /// Replication role and state (`pair synced, lag 0 items`), when it replicates.
    pub replication: Option<String>,
}

impl Status {
    /// The HTTP status of `/healthz`.
    pub fn health_code(&self) -> u16 {
        if self.healthy {
            200
        } else {
            503
        }
    }
}

/// Figures over the last interval from ever-growing counters: the first call
/// covers the time since creation; later ones the time between the two latest
/// samples at least `interval` apart, so several readers (a scraper, the page) do
/// not shrink each other's window to nothing.
#[derive(Debug)]
pub struct Recent {
    interval: Duration,
    state: Mutex<RecentState>,
}

#[derive(Debug)]
struct RecentState {
    taken: Instant,
    total: u64,
    latency: Snapshot,
    last: Option<Lately>,
}

/// What happened over the last interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lately {
    /// Requests per second.
    pub ops_per_second: f64,
    /// The latency histogram of the interval.
    pub latency: Snapshot,
}

impl Lately {
    /// The `q` quantile of the interval's latency in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.latency.quantile(q).map(|s| s * 1000.0)
    }
}

impl Recent {
    /// Windows of at least `interval`.
    pub fn new(interval: Duration) -> Self {
        Recent {
            interval,
            state: Mutex::new(RecentState {
                taken: Instant::now(),
                total: 0,
                latency: Snapshot::default(),
                last: None,
            }),
        }
    }

    /// Feeds the counters now (`total` requests, their latency) and returns the
    /// figures of the latest complete window (before the first one completes: of
    /// the time since creation).
    pub fn update(&self, total: u64, latency: Snapshot) -> Lately {
        let mut s = self.state.lock();
        let elapsed = s.taken.elapsed();
        if elapsed < self.interval {
            if let Some(last) = s.last {
                return last;
            }
        }
        let lately = Lately {
            ops_per_second: total.saturating_sub(s.total) as f64 / elapsed.as_secs_f64().max(1e-3),
            latency: latency.since(&s.latency),
        };
        if elapsed >= self.interval {
            *s = RecentState {
                taken: Instant::now(),
                total,
                latency,
                last: Some(lately),
            };
        }
        lately
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::Histogram;

    #[test]
    fn recent_reports_the_last_complete_window() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(1));
        let every_call = Recent::new(Duration::ZERO);
        assert_eq!(every_call.update(1, h.snapshot()).latency.count(), 1);
        let next = every_call.update(5, h.snapshot());
        assert_eq!(next.latency.count(), 0, "nothing observed since");
        assert!(next.ops_per_second > 0.0);

        let long = Recent::new(Duration::from_secs(3600));
        assert_eq!(long.update(1, h.snapshot()).latency.count(), 1);
        h.observe(Duration::from_millis(1));
        let still_first = long.update(2, h.snapshot());
        assert_eq!(
            still_first.latency.count(),
            2,
            "since creation until a window completes"
        );
    }

    #[test]
    fn health_code_follows_healthy() {
        let mut s = Status {
            server: "memkeepd".into(),
            version: "1".into(),
            uptime_seconds: 1,
            healthy: true,
            health: "serving".into(),
            nodes: vec![],
        };
        assert_eq!(s.health_code(), 200);
        s.healthy = false;
        assert_eq!(s.health_code(), 503);
    }
}
