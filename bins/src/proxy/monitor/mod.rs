//! What memkeep-proxy shows on its admin listener: per pool, the requests its
//! clients sent (the `Measure` layer over the pool) and its listener's connection
//! counters; per backend, its state (up / down / ejected, from the backend's
//! connections and the eject layer), the requests the proxy sent it (a `Measure`
//! layer over the backend's stack), and its own `stats`, polled in the background
//! every few seconds for hit rate, memory and replication state.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memkeep_admin::{Encoder, Measure, NodeStatus, Recent, Report, RequestMetrics, Status};
use memkeep_protocol::{Command, Form, Request, Response, TextForm, TextVerb};
use memkeep_proxy::backend::{Backend, BackendError, ErrorKind};
use memkeep_proxy::config::ServerSpec;
use memkeep_proxy::layer::eject::{Eject, Ejected};
use memkeep_proxy::layer::timeout::Elapsed;
use memkeep_server::stats::ConnectionStats;
use parking_lot::Mutex;
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

use super::stack::ServerService;

use crate::admin::{hit_rate, stat, stat_text};

mod metrics;

/// How often each backend's `stats` is read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long one poll may take before the backend counts as not answering.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the eject layer has the server out, and how many times it did.
pub type EjectProbe = Box<dyn Fn() -> (bool, u64) + Send + Sync>;

/// One backend as the admin listener sees it.
pub struct BackendWatch {
    /// The server's name in the pool (or its address).
    pub name: String,
    backend: Backend,
    eject: Option<EjectProbe>,
    /// Requests the proxy sent it.
    pub requests: Arc<RequestMetrics>,
    recent: Recent,
    polled: Mutex<Option<Polled>>,
}

struct Polled {
    at: Instant,
    stats: Result<Vec<(String, String)>, String>,
}

/// Names the failures a backend's stack returns: timeouts (the timeout layer's or
/// the backend's own), ejections (refused at the gate), or other.
fn classify(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<&'static str> {
    if error.is::<Elapsed>() {
        return Some("timeout");
    }
    if error.is::<Ejected>() {
        return Some("ejected");
    }
    match error.downcast_ref::<BackendError>().map(BackendError::kind) {
        Some(ErrorKind::Timeout) => Some("timeout"),
        Some(ErrorKind::Down) => Some("down"),
        _ => None,
    }
}

impl BackendWatch {
    /// Watches `backend`, named `name`; `eject` reads its eject layer, if any.
    pub fn new(name: String, backend: Backend, eject: Option<EjectProbe>) -> Self {
        BackendWatch {
            name,
            backend,
            eject,
            requests: Arc::new(RequestMetrics::new(
                &["timeout", "ejected", "down"],
                Some(classify),
            )),
            recent: Recent::new(Duration::from_secs(1)),
            polled: Mutex::new(None),
        }
    }

    fn ejected(&self) -> (bool, u64) {
        self.eject.as_ref().map_or((false, 0), |f| f())
    }

    /// `ejected` while the eject layer has it out; `down` when no connection is up
    /// or its last `stats` poll failed; else `up`.
    fn state(&self) -> &'static str {
        if self.ejected().0 {
            return "ejected";
        }
        let poll_failed = self
            .polled
            .lock()
            .as_ref()
            .is_some_and(|p| p.stats.is_err());
        if !self.backend.is_up() || poll_failed {
            "down"
        } else {
            "up"
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
        let reply = tokio::time::timeout(POLL_TIMEOUT, self.backend.clone().oneshot(request)).await;
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

/// One pool: its listener's counters, its clients' requests, its backends.
pub struct PoolWatch {
    /// The pool's name.
    pub name: String,
    /// Requests its clients sent.
    pub requests: Arc<RequestMetrics>,
    /// Its listener's connection counters.
    pub connections: Arc<ConnectionStats>,
    /// Its backends, in configuration order.
    pub backends: Vec<Arc<BackendWatch>>,
    /// The read-repair layers' write-back counters, when its route repairs reads.
    read_repairs: Vec<Arc<AtomicU64>>,
}

impl PoolWatch {
    /// An empty watch for pool `name`, counting into `connections`.
    pub fn new(name: &str, connections: Arc<ConnectionStats>) -> Self {
        PoolWatch {
            name: name.to_owned(),
            requests: Arc::new(RequestMetrics::default()),
            connections,
            backends: Vec::new(),
            read_repairs: Vec::new(),
        }
    }
}

impl PoolWatch {
    /// Counts a read-repair layer's write-backs (`ReadRepairLayer::repairs`) in the
    /// pool's `memkeep_proxy_read_repairs_total`; call it for each one the pool's
    /// route builds.
    pub fn count_read_repairs(&mut self, repairs: Arc<AtomicU64>) {
        self.read_repairs.push(repairs);
    }

    /// Items the pool's read-repair layers wrote back; `None` when it has none.
    fn read_repairs(&self) -> Option<u64> {
        (!self.read_repairs.is_empty()).then(|| {
            self.read_repairs
                .iter()
                .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
                .sum()
        })
    }

    /// Watches one backend (`service` is its whole stack: eject, timeout, backend)
    /// and returns the stack measured.
    pub fn watch(
        &mut self,
        spec: &ServerSpec,
        backend: Backend,
        eject: Option<EjectProbe>,
        service: ServerService,
    ) -> ServerService {
        let name = spec.name.clone().unwrap_or_else(|| spec.addr());
        let watch = Arc::new(BackendWatch::new(name, backend, eject));
        self.backends.push(watch.clone());
        BoxCloneSyncService::new(Measure::new(service, watch.requests.clone()))
    }
}

/// Reads an eject layer's gate and count for the admin listener.
pub fn eject_probe<S>(eject: &Eject<S>) -> EjectProbe
where
    Eject<S>: Clone + Send + Sync + 'static,
{
    let eject = eject.clone();
    Box::new(move || (eject.is_ejected(), eject.ejections()))
}

/// memkeep-proxy's report over all of its pools.
pub struct ProxyReport {
    pools: Vec<PoolWatch>,
    started: Instant,
}

impl ProxyReport {
    /// Reports on `pools`.
    pub fn new(pools: Vec<PoolWatch>) -> Arc<Self> {
        Arc::new(ProxyReport {
            pools,
            started: Instant::now(),
        })
    }

    /// Polls every backend's `stats` every [`POLL_INTERVAL`], forever: spawn it.
    pub async fn poll_backends(self: Arc<Self>) {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let polls = self
                .pools
                .iter()
                .flat_map(|p| p.backends.iter())
                .map(|b| b.poll());
            futures_util::future::join_all(polls).await;
        }
    }

    fn backends(&self) -> impl Iterator<Item = (&PoolWatch, &BackendWatch)> {
        self.pools
            .iter()
            .flat_map(|p| p.backends.iter().map(move |b| (p, &**b)))
    }
}

impl Report for ProxyReport {
    fn metrics(&self, out: &mut Encoder) {
        metrics::write(self, out);
    }

    fn status(&self) -> Status {
        let mut nodes = Vec::new();
        let (mut up, mut total) = (0, 0);
        for (pool, backend) in self.backends() {
            let stats = backend.stats();
            let counted = backend.requests.snapshot();
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
                group: pool.name.clone(),
                name: backend.name.clone(),
                address: backend.backend.addr().to_owned(),
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
        Status {
            server: "memkeep-proxy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_seconds: self.started.elapsed().as_secs(),
            healthy: true,
            health: format!("serving ({up} of {total} backends up)"),
            nodes,
        }
    }
}

/// The pool's service measured (the pool as a whole and each backend), its watch
/// added to `watches`.
pub fn watched_pool(
    site: &super::Site,
    config: &memkeep_server::ServeConfig,
    watches: &mut Vec<PoolWatch>,
) -> Result<super::PoolService, String> {
    let mut watch = PoolWatch::new(&site.name, config.stats.clone());
    let service = super::stack::watched_pool_service(&site.name, &site.pool, Some(&mut watch))?;
    let measured = Measure::new(service, watch.requests.clone());
    watches.push(watch);
    Ok(tower::util::BoxCloneService::new(measured))
}

/// Starts the backend poller (a task that ends when `stop` turns true) and the
/// admin listener's thread.
pub fn start(
    listener: std::net::TcpListener,
    watches: Vec<PoolWatch>,
    tasks: &mut tokio::task::JoinSet<()>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let report = ProxyReport::new(watches);
    let mut poll_stop = stop.clone();
    let poller = report.clone();
    tasks.spawn(async move {
        tokio::select! {
            () = poller.poll_backends() => {}
            _ = poll_stop.wait_for(|s| *s) => {}
        }
    });
    crate::admin::spawn(listener, report, stop)
}
