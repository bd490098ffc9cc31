//! Time for the store: an injectable unix-seconds [`Clock`] and memcached's relative
//! time base, so expiry decisions are made exactly as memcached 1.6 makes them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of unix time in whole seconds (memcached's resolution).
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the unix epoch.
    fn unix_seconds(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that only moves when told to; clones share the same time. For tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `unix_seconds`.
    pub fn new(unix_seconds: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(unix_seconds)))
    }

    /// Moves the clock to `unix_seconds`.
    pub fn set(&self, unix_seconds: u64) {
        self.0.store(unix_seconds, Ordering::Relaxed);
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn unix_seconds(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The largest relative expiry (30 days); larger values are unix times.
pub(crate) const MAX_DELTA: i64 = 60 * 60 * 24 * 30;

/// memcached keeps times as seconds since "process start", which it sets 62 seconds
/// (`ITEM_UPDATE_INTERVAL + 2`) before the real start; we mirror that so every
/// boundary (absolute times in the past, flush times, `me` output) matches.
const START_SLACK: i64 = 62;

/// Converts client expiry values to memcached's relative times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timebase {
    /// Unix time of relative time 0 (memcached's `process_started`).
    started: i64,
}

impl Timebase {
    pub(crate) fn new(unix_now: u64) -> Self {
        Timebase {
            started: unix_now as i64 - START_SLACK,
        }
    }

    /// The current relative time (memcached's `current_time`).
    pub(crate) fn now(&self, clock: &dyn Clock) -> u32 {
        (clock.unix_seconds() as i64 - self.started).clamp(1, u32::MAX as i64) as u32
    }

    /// The unix time of relative time `relative` (an absolute expiry to keep across
    /// restarts, when the time base changes).
    pub(crate) fn unix_of(&self, relative: u32) -> u64 {
        (self.started + i64::from(relative)).max(0) as u64
    }

    /// memcached's `realtime(EXPTIME_TO_POSITIVE_TIME(exptime))`: 0 never expires, up to
    /// 30 days is relative, larger is a unix time (at or before the start: already
    /// expired), negative is already expired.
    pub(crate) fn expiry(&self, exptime: i64, now: u32) -> u32 {
        let exptime = if exptime < 0 { MAX_DELTA + 1 } else { exptime };
        if exptime == 0 {
            0
        } else if exptime > MAX_DELTA {
            if exptime <= self.started {
                1
            } else {
                (exptime - self.started).min(u32::MAX as i64) as u32
            }
        } else {
            now.saturating_add(exptime as u32)
        }
    }
}
