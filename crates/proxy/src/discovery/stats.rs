//! What discovery counts per pool, for `stats` and the Prometheus scrape: lookups
//! that failed, answers that changed the pool, and when it last resolved.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// One pool's discovery figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolFigures {
    /// Lookups that failed (no answer, an error, or an answer naming no server);
    /// each kept the last good servers.
    pub failures: u64,
    /// Answers that changed the pool's servers (each rebuilt the pool).
    pub changes: u64,
    /// Unix time of the last successful lookup (0: none yet).
    pub last_success: u64,
    /// Servers the pool has from DNS now.
    pub servers: usize,
}

/// Figures by pool name, shared by the discovery loop and whoever reports them;
/// clones share them.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryStats {
    pools: Arc<Mutex<BTreeMap<String, PoolFigures>>>,
}

impl DiscoveryStats {
    /// Every pool's figures, by name (pools without DNS entries are absent).
    pub fn pools(&self) -> BTreeMap<String, PoolFigures> {
        self.pools.lock().clone()
    }

    pub(super) fn update(&self, pool: &str, change: impl FnOnce(&mut PoolFigures)) {
        change(self.pools.lock().entry(pool.to_owned()).or_default());
    }

    pub(super) fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.pools.lock().retain(|name, _| keep(name));
    }
}

/// Now, in Unix seconds.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
