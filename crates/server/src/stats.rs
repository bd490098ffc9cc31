//! Counters shared by the connection driver and the cache service, read by `stats`.
//! Relaxed atomics: each counter is independent and only read for reporting.

use std::sync::atomic::{AtomicU64, Ordering};

/// Connection-level counters, kept by [`crate::serve`].
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub curr_connections: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Connections refused because the connection limit was reached.
    pub rejected_connections: AtomicU64,
    /// Bytes read from clients.
    pub bytes_read: AtomicU64,
    /// Bytes written to clients.
    pub bytes_written: AtomicU64,
    /// Connections closed for being idle too long.
    pub idle_kicks: AtomicU64,
    /// Times a connection stopped reading because its replies were not being read.
    pub conn_yields: AtomicU64,
}

impl ConnectionStats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Zeroes the counters `stats reset` resets (not the gauges).
    pub fn reset(&self) {
        for c in [
            &self.total_connections,
            &self.rejected_connections,
            &self.bytes_read,
            &self.bytes_written,
            &self.idle_kicks,
            &self.conn_yields,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}
