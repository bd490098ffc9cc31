//! What the proxy reports about itself: `stats` in memcached's format (its own
//! figures, then one group of lines per server), and twemproxy's JSON on the stats
//! port.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use memkeep_admin::RequestMetrics;
use memkeep_protocol::{Command, Response};
use memkeep_server::stats::ConnectionStats;
use parking_lot::RwLock;
use serde_json::{json, Map, Value};

use memkeep_proxy::build::{Counter, ServerState};
use memkeep_proxy::discovery::DiscoveryStats;

/// The running configuration's parts that `stats` reads; replaced on reload.
pub struct Snapshot {
    /// Each pool's servers.
    pub pools: BTreeMap<String, Vec<ServerState>>,
    /// The layers' counters.
    pub counters: Vec<Counter>,
    /// Each listener: its address, the route it serves, its connection counters
    /// and its clients' requests.
    pub listeners: Vec<(String, String, Arc<ConnectionStats>, Arc<RequestMetrics>)>,
}

/// memcached's command counters, counted by the proxy over every listener.
#[derive(Default)]
pub struct Commands {
    cmd_get: AtomicU64,
    get_hits: AtomicU64,
    cmd_set: AtomicU64,
    cmd_touch: AtomicU64,
    cmd_flush: AtomicU64,
}

/// What a reply is counted as.
#[derive(Clone, Copy)]
pub enum Counted {
    /// A retrieval: the reply's values are its hits.
    Get,
    /// Nothing more than the request itself.
    Other,
}

impl Commands {
    /// Counts a request; what to count its reply as, if anything.
    pub fn before(&self, command: &Command) -> Option<Counted> {
        let add = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        match command {
            Command::Get(get) => {
                let keys = get.keys.len() as u64;
                self.cmd_get.fetch_add(keys, Ordering::Relaxed);
                if get.touch.is_some() {
                    self.cmd_touch.fetch_add(keys, Ordering::Relaxed);
                }
                return Some(Counted::Get);
            }
            Command::Store(_) => add(&self.cmd_set),
            Command::Touch(_) => add(&self.cmd_touch),
            Command::FlushAll(_) => add(&self.cmd_flush),
            _ => return None,
        };
        Some(Counted::Other)
    }

    /// Counts a reply.
    pub fn after(&self, counted: Counted, reply: &Response) {
        if let (Counted::Get, Response::Values(values)) = (counted, reply) {
            self.get_hits
                .fetch_add(values.len() as u64, Ordering::Relaxed);
        }
    }

    /// `stats reset`: the counters start again from 0, as memcached's do.
    pub fn reset(&self) {
        for counter in [
            &self.cmd_get,
            &self.get_hits,
            &self.cmd_set,
            &self.cmd_touch,
            &self.cmd_flush,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    fn lines(&self) -> Vec<(String, String)> {
        let gets = read(&self.cmd_get);
        let hits = read(&self.get_hits);
        [
            ("cmd_get", gets),
            ("cmd_set", read(&self.cmd_set)),
            ("cmd_flush", read(&self.cmd_flush)),
            ("cmd_touch", read(&self.cmd_touch)),
            ("get_hits", hits),
            // A get that failed is neither: it counts as a miss, as the client saw none.
            ("get_misses", gets.saturating_sub(hits)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_string()))
        .collect()
    }
}

/// Shared by every listener and the stats port.
pub struct Status {
    /// Command counters over every listener.
    pub commands: Commands,
    /// When the proxy started.
    pub started: Instant,
    /// Connections accepted by listeners that were since removed by a reload.
    retired_connections: AtomicU64,
    current: RwLock<Arc<Snapshot>>,
    /// Figures of the pools found by DNS; they outlive reloads.
    discovery: RwLock<DiscoveryStats>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Status {
    /// Status over a first snapshot.
    pub fn new(snapshot: Snapshot) -> Self {
        Status {
            commands: Commands::default(),
            started: Instant::now(),
            retired_connections: Default::default(),
            current: RwLock::new(Arc::new(snapshot)),
            discovery: RwLock::default(),
        }
    }

    /// Reports the figures of the discovery that runs.
    pub fn set_discovery(&self, stats: DiscoveryStats) {
        *self.discovery.write() = stats;
    }

    /// The figures of the pools found by DNS.
    pub fn discovery(&self) -> DiscoveryStats {
        self.discovery.read().clone()
    }

    /// Switches to a reloaded configuration's parts.
    pub fn replace(&self, snapshot: Snapshot) {
        let mut current = self.current.write();
        let kept: Vec<&String> = snapshot.listeners.iter().map(|(l, ..)| l).collect();
        for (listen, _, stats, _) in &current.listeners {
            if !kept.contains(&listen) {
                let total = read(&stats.total_connections);
                self.retired_connections.fetch_add(total, Ordering::Relaxed);
            }
        }
        *current = Arc::new(snapshot);
    }

    /// The running configuration's parts.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().clone()
    }

    fn connections(snapshot: &Snapshot) -> (u64, u64) {
        snapshot
            .listeners
            .iter()
            .fold((0, 0), |(curr, total), (_, _, s, _)| {
                (
                    curr + read(&s.curr_connections),
                    total + read(&s.total_connections),
                )
            })
    }

    /// `stats` as memcached words it: the proxy's own figures, the layers'
    /// counters, then per server `server:POOL:ADDR:FIELD`.
    pub fn memcached_stats(&self) -> Vec<(String, String)> {
        let snapshot = self.snapshot();
        let (curr, total) = Self::connections(&snapshot);
        let total = total + read(&self.retired_connections);
        let mut lines = vec![
            ("pid".to_owned(), std::process::id().to_string()),
            (
                "uptime".to_owned(),
                self.started.elapsed().as_secs().to_string(),
            ),
            ("time".to_owned(), unix_now().to_string()),
            (
                "version".to_owned(),
                concat!("memkeep-proxy-", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
            ("curr_connections".to_owned(), curr.to_string()),
            ("total_connections".to_owned(), total.to_string()),
            ("pools".to_owned(), snapshot.pools.len().to_string()),
            (
                // Times a client reached its listener's max_outstanding and was not
                // read from until its replies went out (memcached's name).
                "conn_yields".to_owned(),
                snapshot
                    .listeners
                    .iter()
                    .map(|(_, _, s, _)| read(&s.conn_yields))
                    .sum::<u64>()
                    .to_string(),
            ),
        ];
        lines.extend(self.commands.lines());
        for counter in &snapshot.counters {
            lines.push((counter.name.clone(), read(&counter.value).to_string()));
        }
        for (pool, figures) in self.discovery().pools() {
            let fields = [
                ("servers", figures.servers as u64),
                ("failures", figures.failures),
                ("changes", figures.changes),
                ("last_success", figures.last_success),
            ];
            for (field, value) in fields {
                lines.push((format!("discovery:{pool}:{field}"), value.to_string()));
            }
        }
        for (pool, servers) in &snapshot.pools {
            for server in servers {
                let prefix = format!("server:{pool}:{}", server.spec.addr());
                let c = server.metrics.snapshot();
                let fields = [
                    ("state", server.state().to_owned()),
                    ("connections", server.backend.connections_up().to_string()),
                    ("requests", c.sent().to_string()),
                    ("responses", (c.total() - c.failed()).to_string()),
                    ("errors", c.failed().to_string()),
                    ("timeouts", c.failures_of("timeout").to_string()),
                    ("ejected_requests", c.failures_of("ejected").to_string()),
                    (
                        "pending_requests",
                        server.backend.pending_requests().to_string(),
                    ),
                    (
                        "buffered_bytes",
                        server.backend.buffered_bytes().to_string(),
                    ),
                    (
                        "rejected_requests",
                        server.backend.rejected_requests().to_string(),
                    ),
                ];
                for (field, value) in fields {
                    lines.push((format!("{prefix}:{field}"), value));
                }
                if let Some(handoff) = &server.handoff {
                    let owed = [
                        ("missed_writes_pending", handoff.pending() as u64),
                        ("missed_writes_replayed", handoff.replayed()),
                        ("missed_writes_dropped", handoff.dropped()),
                    ];
                    for (field, value) in owed {
                        lines.push((format!("{prefix}:{field}"), value.to_string()));
                    }
                }
            }
        }
        lines
    }

    /// twemproxy's stats port document: the same top-level and per-pool and
    /// per-server field names as nutcracker 0.5.0. Byte counts and queue lengths,
    /// which memkeep-proxy does not keep per server, are 0.
    pub fn twemproxy_json(&self) -> String {
        let snapshot = self.snapshot();
        let (curr, total) = Self::connections(&snapshot);
        let mut doc = Map::new();
        doc.insert("service".into(), json!("nutcracker"));
        doc.insert("source".into(), json!(hostname()));
        doc.insert("version".into(), json!("0.5.0"));
        doc.insert("uptime".into(), json!(self.started.elapsed().as_secs()));
        doc.insert("timestamp".into(), json!(unix_now()));
        doc.insert(
            "total_connections".into(),
            json!(total + read(&self.retired_connections)),
        );
        doc.insert("curr_connections".into(), json!(curr));
        for (_, route, stats, _) in &snapshot.listeners {
            let mut pool = Map::new();
            pool.insert("client_eof".into(), json!(0));
            pool.insert("client_err".into(), json!(0));
            pool.insert(
                "client_connections".into(),
                json!(read(&stats.curr_connections)),
            );
            let servers = snapshot.pools.get(route).map(Vec::as_slice).unwrap_or(&[]);
            let ejects: u64 = servers.iter().filter(|s| s.state() == "ejected").count() as u64;
            let counted: Vec<_> = servers.iter().map(|s| s.metrics.snapshot()).collect();
            let errors: u64 = counted.iter().map(|c| c.failed()).sum();
            pool.insert("server_ejects".into(), json!(ejects));
            pool.insert("forward_error".into(), json!(errors));
            pool.insert("fragments".into(), json!(0));
            for (server, c) in servers.iter().zip(&counted) {
                let (errors, timeouts) = (c.failed(), c.failures_of("timeout"));
                let entry = json!({
                    "server_eof": 0,
                    "server_err": errors - timeouts,
                    "server_timedout": timeouts,
                    "server_connections": server.backend.connections_up(),
                    "server_ejected_at": 0,
                    "requests": c.sent(),
                    "request_bytes": 0,
                    "responses": c.total() - errors,
                    "response_bytes": 0,
                    "in_queue": 0,
                    "in_queue_bytes": 0,
                    "out_queue": c.in_flight(),
                    "out_queue_bytes": 0,
                });
                pool.insert(twemproxy_server_name(server), entry);
            }
            doc.insert(route.clone(), Value::Object(pool));
        }
        Value::Object(doc).to_string()
    }
}

/// twemproxy names a server by its name if it has one, else `host:port`.
fn twemproxy_server_name(server: &ServerState) -> String {
    match &server.spec.name {
        Some(name) => name.clone(),
        None => server.spec.addr(),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}
