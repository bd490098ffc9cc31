//! What memkeep-proxy shows on its admin listener: per listener, the requests its
//! clients sent (measured at the listener's front) and its connection counters; per
//! backend, its state (up / down / ejected, from the backend's connections and the
//! eject layer), the requests the proxy sent it (a `Measure` layer over the
//! backend's stack), and its own `stats`, polled in the background every few
//! seconds for hit rate, memory and replication state. Everything is read from the
//! running configuration's snapshot, so a reload shows at once.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memkeep_admin::{Encoder, NodeStatus, Recent, Report, RequestMetrics, Status as Status_};
use memkeep_protocol::{Command, Form, Request, Response, TextForm, TextVerb};
use memkeep_proxy::build::ServerState;
use memkeep_server::stats::ConnectionStats;
use parking_lot::Mutex;
use tower::ServiceExt;

use super::stats::Status;

use crate::admin::{hit_rate, stat, stat_text};

mod metrics;

/// How often each backend's `stats` is read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long one poll may take before the backend counts as not answering.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

/// One backend as the admin listener sees it: the server's running state, its
/// last polled `stats` and its recent rate and latency.
pub struct BackendWatch {
    /// The pool it belongs to.
    pub pool: String,
    /// The server's name in the pool (or its address).
    pub name: String,
    server: ServerState,
    recent: Recent,
    polled: Mutex<Option<Polled>>,
}

struct Polled {
    at: Instant,
    stats: Result<Vec<(String, String)>, String>,
}

impl BackendWatch {
    fn new(pool: &str, server: ServerState) -> Self {
        BackendWatch {
            pool: pool.to_owned(),
            name: server
                .spec
                .name
                .clone()
                .unwrap_or_else(|| server.spec.addr()),
            server,
            recent: Recent::new(Duration::from_secs(1)),
            polled: Mutex::new(None),
        }
    }

    /// The server's address.
    pub fn address(&self) -> &str {
        self.server.backend.addr()
    }

    /// Requests the proxy sent it.
    pub fn requests(&self) -> &RequestMetrics {
        &self.server.metrics
    }

    /// Its queue: requests pending, bytes buffered, requests refused since start.
    fn queue(&self) -> (usize, usize, u64) {
        let backend = &self.server.backend;
        (
            backend.pending_requests(),
            backend.buffered_bytes(),
            backend.rejected_requests(),
        )
    }

    /// Its queue of missed writes, when it keeps one: keys owed now, writes
    /// replayed and dropped since start.
    fn missed_writes(&self) -> Option<(usize, u64, u64)> {
        let handoff = self.server.handoff.as_ref()?;
        Some((handoff.pending(), handoff.replayed(), handoff.dropped()))
    }

    fn ejections(&self) -> u64 {
        self.server.eject.as_ref().map_or(0, |e| e.ejections())
    }

    /// `ejected` while the eject layer has it out; `down` when no connection is up
    /// or its last `stats` poll failed; else `up`.
    fn state(&self) -> &'static str {
        let poll_failed = self
            .polled
            .lock()
            .as_ref()
            .is_some_and(|p| p.stats.is_err());
        match self.server.state() {
            "up" if poll_failed => "down",
            state => state,
        }
    }

    fn stats(&self) -> Vec<(String, String)> {
        match self.polled.lock().as_ref() {
            Some(Polled { stats: Ok(s), .. }) => s.clone(),
            _ => Vec::new(),
        }
    }

    /// Reads the backend's `stats` once.
    async fn poll(&self) {
        let request = Request {
            command: Command::Stats(None),
            form: Form::Text(TextForm {
                verb: TextVerb::Stats,
                noreply: false,
            }),
        };
        let backend = self.server.backend.clone();
        let reply = tokio::time::timeout(POLL_TIMEOUT, backend.oneshot(request)).await;
        let stats = match reply {
            Ok(Ok(Response::Stats(lines))) => Ok(lines),
            Ok(Ok(other)) => Err(format!("unexpected reply to stats: {other:?}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("stats timed out".into()),
        };
        *self.polled.lock() = Some(Polled {
            at: Instant::now(),
            stats,
        });
    }
}

/// memkeep-proxy's report over the running configuration.
pub struct ProxyReport {
    status: Arc<Status>,
    /// The backends seen so far, by pool and address: their polls and recent rates
    /// outlive a reload that keeps them.
    backends: Mutex<BTreeMap<(String, String), Arc<BackendWatch>>>,
}

impl ProxyReport {
    /// Reports on what `status` holds.
    pub fn new(status: Arc<Status>) -> Arc<Self> {
        Arc::new(ProxyReport {
            status,
            backends: Mutex::new(BTreeMap::new()),
        })
    }

    /// The backends of the running configuration, in pool and configuration order.
    fn backends(&self) -> Vec<Arc<BackendWatch>> {
        let snapshot = self.status.snapshot();
        let mut known = self.backends.lock();
        let mut current = Vec::new();
        for (pool, servers) in &snapshot.pools {
            for server in servers {
                let key = (pool.clone(), server.spec.addr());
                let watch = known
                    .entry(key)
                    .or_insert_with(|| Arc::new(BackendWatch::new(pool, server.clone())));
                current.push(watch.clone());
            }
        }
        known.retain(|_, w| current.iter().any(|c| Arc::ptr_eq(c, w)));
        current
    }

    /// The listeners: route served, connection counters, clients' requests.
    fn listeners(&self) -> Vec<(String, Arc<ConnectionStats>, Arc<RequestMetrics>)> {
        self.status
            .snapshot()
            .listeners
            .iter()
            .map(|(_, route, conns, requests)| (route.clone(), conns.clone(), requests.clone()))
            .collect()
    }

    /// The figures of the pools found by DNS, by pool.
    fn discovery(&self) -> BTreeMap<String, memkeep_proxy::discovery::PoolFigures> {
        self.status.discovery().pools()
    }

    /// Read-repair write-backs by route, from the layers' counters.
    fn read_repairs(&self) -> Vec<(String, u64)> {
        self.status
            .snapshot()
            .counters
            .iter()
            .filter_map(|c| {
                let route = c.name.strip_prefix("route_")?.strip_suffix("_repairs")?;
                Some((route.to_owned(), c.value.load(Ordering::Relaxed)))
            })
            .collect()
    }

    /// The pools' warm-up counters after a change of servers, as
    /// `(what, pool, value)` from the `pool_NAME_warm_up_WHAT` counters.
    fn warm_ups(&self) -> Vec<(&'static str, String, u64)> {
        const WHAT: [&str; 4] = ["fills", "fallbacks", "stale_deletes", "active"];
        self.status
            .snapshot()
            .counters
            .iter()
            .filter_map(|c| {
                let rest = c.name.strip_prefix("pool_")?;
                let (pool, what) = WHAT
                    .iter()
                    .find_map(|w| Some((rest.strip_suffix(&format!("_warm_up_{w}"))?, *w)))?;
                Some((what, pool.to_owned(), c.value.load(Ordering::Relaxed)))
            })
            .collect()
    }

    /// Polls every backend's `stats` every [`POLL_INTERVAL`], forever: spawn it.
    pub async fn poll_backends(self: Arc<Self>) {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let backends = self.backends();
            futures_util::future::join_all(backends.iter().map(|b| b.poll())).await;
        }
    }
}

impl Report for ProxyReport {
    fn metrics(&self, out: &mut Encoder) {
        metrics::write(self, out);
    }

    fn status(&self) -> Status_ {
        let mut nodes = Vec::new();
        let (mut up, mut total) = (0, 0);
        for backend in self.backends() {
            let stats = backend.stats();
            let counted = backend.requests().snapshot();
            let lately = backend
                .recent
                .update(counted.total(), counted.latency_all());
            let state = backend.state();
            total += 1;
            up += usize::from(state == "up");
            let replication = stat_text(&stats, "repl_role").map(|role| {
                format!(
                    "{role} {}, lag {}",
                    stat_text(&stats, "repl_state").unwrap_or("?"),
                    stat_text(&stats, "repl_lag_items").unwrap_or("0")
                )
            });
            nodes.push(NodeStatus {
                group: backend.pool.clone(),
                name: backend.name.clone(),
                address: backend.address().to_owned(),
                state: state.into(),
                hit_rate: hit_rate(&stats),
                memory_used_bytes: stat(&stats, "bytes").map(|b| b as u64),
                memory_limit_bytes: stat(&stats, "limit_maxbytes").map(|b| b as u64),
                latency_p50_ms: lately.quantile_ms(0.5),
                latency_p99_ms: lately.quantile_ms(0.99),
                ops_per_second: Some(lately.ops_per_second),
                replication,
            });
        }
        Status_ {
            server: "memkeep-proxy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_seconds: self.status.started.elapsed().as_secs(),
            healthy: true,
            health: format!("serving ({up} of {total} backends up)"),
            nodes,
        }
    }
}

/// Starts the backend poller (a task that ends when `stop` turns true) and the
/// admin listener's thread.
pub fn start(
    listener: std::net::TcpListener,
    status: Arc<Status>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let report = ProxyReport::new(status);
    let mut poll_stop = stop.clone();
    let poller = report.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = poller.poll_backends() => {}
            _ = poll_stop.wait_for(|s| *s) => {}
        }
    });
    crate::admin::spawn(listener, report, stop)
}
