//! memcached's `watch`: connections that send `watch [kinds]` stop taking commands and
//! receive one log line per event of the kinds they asked for, in memcached's format
//! (`ts=<secs>.<usecs> gid=<n> type=... \n`).
//!
//! [`Watchers`] is the hub. The store, the cache and the connection driver log to it
//! (a relaxed atomic load when nobody watches); each watching connection drains its
//! own bounded buffer. As in memcached, a watcher that reads too slowly loses lines
//! rather than slowing the server: lines that do not fit are counted and a
//! `skipped=<n>` line takes their place once there is room again.
//!
//! What is streamed (see [`lines`] for the formats): `fetchers` (`item_get`, one per
//! key lookup a command makes, as memcached logs them), `mutations` (`item_store`,
//! one per store), `evictions` (`eviction`, one per item evicted to make room) and
//! `connevents` (`conn_new`, `conn_close`). `rawcmds`, `sysevents` and memcached's
//! proxy kinds are accepted and stream nothing: memkeepd has no background LRU
//! maintainer or slab mover, and no built-in proxy, whose events they report.

pub mod lines;

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use memkeep_protocol::WatchEvents;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// At most this many connections watch at once, as in memcached.
pub const MAX_WATCHERS: usize = 20;

/// Bytes of log lines a watcher may have waiting (memcached's `watcher_logbuf_size`).
pub const WATCHER_BUFFER: usize = 256 * 1024;

tokio::task_local! {
    /// The file descriptor of the client connection whose task is running: log lines
    /// about a client's commands name it (`cfd=`).
    static CLIENT_FD: u64;
}

/// Runs `future` as the task of the client connection on `fd`. Not an `async fn`:
/// that would hold `future` twice in the connection's task, once as its argument and
/// once inside the scope.
pub fn with_client_fd<F: std::future::Future>(
    fd: u64,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    CLIENT_FD.scope(fd, future)
}

/// The client connection being served by the running task, 0 outside one.
pub fn client_fd() -> u64 {
    CLIENT_FD.try_with(|fd| *fd).unwrap_or(0)
}

/// The log hub. One per server; share it with an `Arc`.
#[derive(Debug, Default)]
pub struct Watchers {
    /// The kinds some watcher wants, for a cheap check before building a line.
    wanted: AtomicU16,
    watchers: Mutex<Vec<Arc<Watcher>>>,
    /// memcached's global log id: every line gets the next one.
    gid: AtomicU64,
    stats: WatcherStats,
}

/// The counters `stats` reports as `log_*`.
#[derive(Debug, Default)]
struct WatcherStats {
    /// Lines logged (memcached's `log_worker_written`).
    written: AtomicU64,
    /// Line copies handed to watchers (`log_watcher_sent`).
    sent: AtomicU64,
    /// Line copies a full watcher missed (`log_watcher_skipped`).
    skipped: AtomicU64,
}

/// The `log_*` figures of `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatcherReport {
    /// `log_worker_written`: lines logged.
    pub written: u64,
    /// `log_watcher_sent`: line copies handed to watchers.
    pub sent: u64,
    /// `log_watcher_skipped`: line copies watchers missed for want of room.
    pub skipped: u64,
    /// `log_watchers`: connections watching now.
    pub watchers: u64,
}

/// One watching connection's side of the hub.
#[derive(Debug)]
struct Watcher {
    kinds: WatchEvents,
    pending: Mutex<Pending>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Lines missed since the last one delivered.
    skipped: u64,
}

/// `watch` refused: memcached's `WATCHER_TOO_MANY log watcher limit reached`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyWatchers;

impl Watchers {
    /// Whether any watcher wants lines of `kind`.
    #[inline]
    pub fn wants(&self, kind: WatchEvents) -> bool {
        WatchEvents::from_bits(self.wanted.load(Ordering::Relaxed)).intersects(kind)
    }

    /// Logs one event of `kind`: `body` is the line after memcached's `ts=` and `gid=`
    /// fields, without the line end. Call only after [`Self::wants`] said yes, to
    /// build the body only when someone reads it.
    pub fn log(&self, kind: WatchEvents, body: &str) {
        let gid = self.gid.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.written.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // memcached prints the microseconds without zero padding.
        let line = format!(
            "ts={}.{} gid={} {}\n",
            now.as_secs(),
            now.subsec_micros(),
            gid,
            body
        );
        for watcher in self.watchers.lock().iter() {
            if watcher.kinds.intersects(kind) {
                let sent = watcher.offer(line.as_bytes());
                let counter = if sent {
                    &self.stats.sent
                } else {
                    &self.stats.skipped
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Registers a watcher for `kinds`; its lines come from the returned stream until
    /// it is dropped.
    pub fn watch(self: &Arc<Self>, kinds: WatchEvents) -> Result<WatchStream, TooManyWatchers> {
        let mut watchers = self.watchers.lock();
        if watchers.len() >= MAX_WATCHERS {
            return Err(TooManyWatchers);
        }
        let watcher = Arc::new(Watcher {
            kinds,
            pending: Mutex::default(),
            ready: Notify::new(),
        });
        watchers.push(watcher.clone());
        self.update_wanted(&watchers);
        Ok(WatchStream {
            hub: self.clone(),
            watcher,
        })
    }

    fn update_wanted(&self, watchers: &[Arc<Watcher>]) {
        let wanted = watchers
            .iter()
            .fold(WatchEvents::none(), |all, w| all.with(w.kinds));
        self.wanted.store(wanted.bits(), Ordering::Relaxed);
    }

    /// The `log_*` figures for `stats`.
    pub fn report(&self) -> WatcherReport {
        WatcherReport {
            written: self.stats.written.load(Ordering::Relaxed),
            sent: self.stats.sent.load(Ordering::Relaxed),
            skipped: self.stats.skipped.load(Ordering::Relaxed),
            watchers: self.watchers.lock().len() as u64,
        }
    }

    /// Zeroes the cumulative counters (`stats reset`).
    pub fn reset(&self) {
        for c in [&self.stats.written, &self.stats.sent, &self.stats.skipped] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

impl Watcher {
    /// Queues a line; `false` if it did not fit (and was counted as skipped).
    fn offer(&self, line: &[u8]) -> bool {
        let mut pending = self.pending.lock();
        let note = (pending.skipped > 0).then(|| format!("skipped={}\n", pending.skipped));
        let needed = line.len() + note.as_ref().map_or(0, String::len);
        if pending.bytes.len() + needed > WATCHER_BUFFER {
            pending.skipped += 1;
            return false;
        }
        if let Some(note) = note {
            pending.bytes.extend_from_slice(note.as_bytes());
            pending.skipped = 0;
        }
        pending.bytes.extend_from_slice(line);
        drop(pending);
        self.ready.notify_one();
        true
    }
}

/// A watching connection's lines. Dropping it stops the watch.
#[derive(Debug)]
pub struct WatchStream {
    hub: Arc<Watchers>,
    watcher: Arc<Watcher>,
}

impl WatchStream {
    /// The lines logged since the last call, waiting for at least one.
    pub async fn next(&self) -> Vec<u8> {
        loop {
            let notified = self.watcher.ready.notified();
            let bytes = std::mem::take(&mut self.watcher.pending.lock().bytes);
            if !bytes.is_empty() {
                return bytes;
            }
            notified.await;
        }
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        let mut watchers = self.hub.watchers.lock();
        watchers.retain(|w| !Arc::ptr_eq(w, &self.watcher));
        self.hub.update_wanted(&watchers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_reach_the_watchers_that_asked_for_them() {
        let hub = Arc::new(Watchers::default());
        assert!(!hub.wants(WatchEvents::FETCHERS));
        let fetchers = hub.watch(WatchEvents::FETCHERS).unwrap();
        let mutations = hub.watch(WatchEvents::MUTATIONS).unwrap();
        assert!(hub.wants(WatchEvents::FETCHERS));
        hub.log(WatchEvents::FETCHERS, "type=item_get key=a");
        let got = String::from_utf8(fetchers.next().await).unwrap();
        assert!(got.starts_with("ts="), "{got}");
        assert!(got.ends_with(" gid=1 type=item_get key=a\n"), "{got}");
        assert!(mutations.watcher.pending.lock().bytes.is_empty());
        drop(fetchers);
        assert!(!hub.wants(WatchEvents::FETCHERS));
        let report = hub.report();
        assert_eq!((report.written, report.sent, report.watchers), (1, 1, 1));
    }

    #[tokio::test]
    async fn a_full_watcher_skips_lines_and_says_how_many() {
        let hub = Arc::new(Watchers::default());
        let stream = hub.watch(WatchEvents::FETCHERS).unwrap();
        let body = "x".repeat(1000);
        while stream.watcher.pending.lock().skipped == 0 {
            hub.log(WatchEvents::FETCHERS, &body);
        }
        hub.log(WatchEvents::FETCHERS, &body);
        let first = stream.next().await;
        assert!(first.len() <= WATCHER_BUFFER);
        hub.log(WatchEvents::FETCHERS, "type=after");
        let next = String::from_utf8(stream.next().await).unwrap();
        assert!(next.starts_with("skipped=2\nts="), "{next}");
        assert_eq!(hub.report().skipped, 2);
    }

    #[test]
    fn at_most_twenty_watchers() {
        let hub = Arc::new(Watchers::default());
        let streams: Vec<_> = (0..MAX_WATCHERS)
            .map(|_| hub.watch(WatchEvents::FETCHERS).unwrap())
            .collect();
        assert_eq!(
            hub.watch(WatchEvents::FETCHERS).unwrap_err(),
            TooManyWatchers
        );
        drop(streams);
        assert!(hub.watch(WatchEvents::FETCHERS).is_ok());
    }
}
