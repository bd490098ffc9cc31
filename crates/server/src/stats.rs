//! Counters shared by the connection driver and the cache service, read by `stats`.
//! Relaxed atomics: each counter is independent and only read for reporting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Connection-level counters, kept by [`crate::serve`].
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub curr_connections: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Connections refused because the connection limit was reached.
    pub rejected_connections: AtomicU64,
    /// The most connections open at once (memcached's `connection_structures`: the
    /// per-connection state it has had to allocate).
    pub peak_connections: AtomicU64,
    /// Bytes read from clients.
    pub bytes_read: AtomicU64,
    /// Bytes written to clients.
    pub bytes_written: AtomicU64,
    /// Connections closed for being idle too long.
    pub idle_kicks: AtomicU64,
    /// Connections closed because a request stayed incomplete too long.
    pub slow_request_kicks: AtomicU64,
    /// Times a connection stopped reading because its replies were not being read.
    pub conn_yields: AtomicU64,
    /// Login attempts (ASCII auth and SASL).
    pub auth_cmds: AtomicU64,
    /// Login attempts refused.
    pub auth_errors: AtomicU64,
    /// TLS handshakes that failed (or timed out).
    pub ssl_handshake_errors: AtomicU64,
    /// The open connections.
    pub registry: Arc<ConnectionRegistry>,
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
            &self.slow_request_kicks,
            &self.conn_yields,
            &self.auth_cmds,
            &self.auth_errors,
            &self.ssl_handshake_errors,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// The open connections and listening sockets, for `stats conns`: who is connected
/// where, and how long since each last sent a command.
#[derive(Debug, Default)]
pub struct ConnectionRegistry {
    open: parking_lot::Mutex<std::collections::BTreeMap<u64, Arc<ConnectionInfo>>>,
    /// Listening sockets by file descriptor: their address and when they opened.
    listening: parking_lot::Mutex<std::collections::BTreeMap<u64, (String, u64)>>,
}

/// Removes a listening socket from the registry when dropped.
#[derive(Debug)]
pub struct Listening {
    registry: Arc<ConnectionRegistry>,
    fd: u64,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.registry.listening.lock().remove(&self.fd);
    }
}

/// One open connection as `stats conns` shows it.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The socket's file descriptor: memcached keys `stats conns` lines by it.
    pub fd: u64,
    /// The peer, e.g. `tcp:127.0.0.1:5555` or `unix:/path`.
    pub addr: String,
    /// The listener it came in on.
    pub listen_addr: String,
    /// Unix seconds of the last command read.
    pub last_command: AtomicU64,
}

impl ConnectionInfo {
    /// Records that a command arrived now.
    pub fn touch(&self) {
        self.last_command.store(unix_now(), Ordering::Relaxed);
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Removes a connection from the registry when dropped.
#[derive(Debug)]
pub struct Registered {
    registry: Arc<ConnectionRegistry>,
    info: Arc<ConnectionInfo>,
}

impl Registered {
    /// The registered connection.
    pub fn info(&self) -> &Arc<ConnectionInfo> {
        &self.info
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        // The socket closes before this guard drops, so its descriptor may already
        // belong to a newer connection registered under the same number: remove
        // the entry only if it is still this connection's.
        let mut open = self.registry.open.lock();
        if open
            .get(&self.info.fd)
            .is_some_and(|info| Arc::ptr_eq(info, &self.info))
        {
            open.remove(&self.info.fd);
        }
    }
}

impl ConnectionRegistry {
    /// Adds a connection; it is removed when the returned guard drops.
    pub fn register(self: &Arc<Self>, fd: u64, addr: String, listen_addr: String) -> Registered {
        let info = Arc::new(ConnectionInfo {
            fd,
            addr,
            listen_addr,
            last_command: AtomicU64::new(unix_now()),
        });
        self.open.lock().insert(fd, info.clone());
        Registered {
            registry: self.clone(),
            info,
        }
    }

    /// Adds a listening socket (`addr` as `stats conns` shows it, e.g.
    /// `tcp:127.0.0.1:11211`); it is removed when the returned guard drops.
    pub fn listen(self: &Arc<Self>, fd: u64, addr: String) -> Listening {
        self.listening.lock().insert(fd, (addr, unix_now()));
        Listening {
            registry: self.clone(),
            fd,
        }
    }

    /// `stats conns` lines, in file descriptor order: listening sockets as memcached
    /// shows them (`conn_listening`, seconds since they opened), then connections.
    pub fn report(&self) -> Vec<(String, String)> {
        let now = unix_now();
        let mut lines: std::collections::BTreeMap<u64, Vec<(String, String)>> =
            std::collections::BTreeMap::new();
        for (fd, (addr, since)) in self.listening.lock().iter() {
            lines.insert(
                *fd,
                vec![
                    (format!("{fd}:addr"), addr.clone()),
                    (format!("{fd}:state"), "conn_listening".to_owned()),
                    (
                        format!("{fd}:secs_since_last_cmd"),
                        now.saturating_sub(*since).to_string(),
                    ),
                ],
            );
        }
        for info in self.open.lock().values() {
            let idle = now.saturating_sub(info.last_command.load(Ordering::Relaxed));
            lines.insert(
                info.fd,
                vec![
                    (format!("{}:addr", info.fd), info.addr.clone()),
                    (format!("{}:listen_addr", info.fd), info.listen_addr.clone()),
                    (format!("{}:state", info.fd), "conn_parse_cmd".to_owned()),
                    (format!("{}:secs_since_last_cmd", info.fd), idle.to_string()),
                ],
            );
        }
        lines.into_values().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_connection_leaves_the_newer_one_on_its_descriptor_listed() {
        let registry = Arc::new(ConnectionRegistry::default());
        let old = registry.register(30, "tcp:127.0.0.1:1".into(), "tcp:127.0.0.1:9".into());
        // The old socket closed; the kernel gave its descriptor to a new connection
        // before the old connection's guard dropped.
        let new = registry.register(30, "tcp:127.0.0.1:2".into(), "tcp:127.0.0.1:9".into());
        drop(old);
        let listed = registry.report();
        assert!(
            listed.contains(&("30:addr".to_owned(), "tcp:127.0.0.1:2".to_owned())),
            "{listed:?}"
        );
        drop(new);
        assert!(registry.report().is_empty());
    }
}
