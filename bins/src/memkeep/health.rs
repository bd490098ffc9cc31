//! What an operator wants to know about one server, read from its `stats`: shared by
//! `memkeep stats` (a table) and `memkeep check` (a monitoring plugin).

use std::time::{Duration, Instant};

use super::client::{number, stat, Client};
use super::connect::Security;

/// One server's health, or why it could not be read.
#[derive(Debug, Clone)]
pub struct Health {
    /// `host:port` as given.
    pub server: String,
    /// The reading, or the error that prevented it.
    pub reading: Result<Reading, String>,
}

/// The figures read from a live server.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Round trip of a `version` request.
    pub latency: Duration,
    /// The version string.
    pub version: String,
    /// Seconds since the server started.
    pub uptime: u64,
    /// Open connections.
    pub connections: u64,
    /// Items stored.
    pub items: u64,
    /// Bytes used by items.
    pub bytes: u64,
    /// The memory limit.
    pub limit: u64,
    /// Hits / (hits + misses) since start or the last `stats reset`; `None` before any get.
    pub hit_rate: Option<f64>,
    /// Items evicted to make room.
    pub evictions: u64,
    /// Gets and sets served.
    pub gets: u64,
    /// Sets served.
    pub sets: u64,
}

impl Reading {
    /// Memory used as a percentage of the limit.
    pub fn memory_percent(&self) -> f64 {
        if self.limit == 0 {
            0.0
        } else {
            self.bytes as f64 * 100.0 / self.limit as f64
        }
    }
}

/// Reads one server's health within `timeout`.
pub fn read(server: &str, timeout: Duration, security: &Security) -> Health {
    let prefix = format!("{server}: ");
    Health {
        server: server.to_owned(),
        // The row names the server already.
        reading: read_inner(server, timeout, security)
            .map_err(|e| e.strip_prefix(&prefix).map_or(e.clone(), str::to_owned)),
    }
}

fn read_inner(server: &str, timeout: Duration, security: &Security) -> Result<Reading, String> {
    let mut client = Client::connect(server, timeout, security)?;
    // Timed after the handshake and login: the round trip of one request.
    let started = Instant::now();
    let version = client.version()?;
    let latency = started.elapsed();
    let stats = client.stats(None)?;
    let hits = number(&stats, "get_hits");
    let misses = number(&stats, "get_misses");
    Ok(Reading {
        latency,
        version: stat(&stats, "version").map_or(version, str::to_owned),
        uptime: number(&stats, "uptime") as u64,
        connections: number(&stats, "curr_connections") as u64,
        items: number(&stats, "curr_items") as u64,
        bytes: number(&stats, "bytes") as u64,
        limit: number(&stats, "limit_maxbytes") as u64,
        hit_rate: (hits + misses > 0.0).then(|| hits / (hits + misses)),
        evictions: number(&stats, "evictions") as u64,
        gets: number(&stats, "cmd_get") as u64,
        sets: number(&stats, "cmd_set") as u64,
    })
}
