//! What memkeepd shows on its admin listener: its own `stats` (the same figures a
//! `stats` command returns, read in-process), the requests counted by the
//! `Measure` layer, and replication's role, state and lag.

use std::sync::Arc;
use std::time::Duration;

use memkeep_admin::{
    Encoder, Kind, Measure, NodeStatus, Recent, Report, RequestMetrics, RequestSnapshot, Status,
};
use memkeep_protocol::{Command, Form, Request, TextForm, TextVerb};
use memkeep_replication::{Replication, Role};
use memkeep_server::cache::{Cache, VERSION};

use crate::admin::{hit_rate, stat, stat_text, write_requests, write_stats};

/// memkeepd's report.
pub struct MemkeepdReport {
    cache: Cache,
    replication: Option<Replication>,
    /// One set of counters per worker thread, so workers never write the same
    /// cache line; summed when read.
    requests: Vec<Arc<RequestMetrics>>,
    recent: Recent,
    /// Where clients reach this server, for the status table.
    address: String,
}

impl MemkeepdReport {
    /// Reports on `cache`, whose requests the workers count in `requests`.
    pub fn new(
        cache: Cache,
        replication: Option<Replication>,
        requests: Vec<Arc<RequestMetrics>>,
        address: String,
    ) -> Self {
        MemkeepdReport {
            cache,
            replication,
            requests,
            recent: Recent::new(Duration::from_secs(1)),
            address,
        }
    }

    fn requests(&self) -> RequestSnapshot {
        let mut sum = RequestSnapshot::default();
        for worker in &self.requests {
            sum.add(&worker.snapshot());
        }
        sum
    }

    fn stats(&self) -> Vec<(String, String)> {
        let request = Request {
            command: Command::Stats(None),
            form: Form::Text(TextForm {
                verb: TextVerb::Stats,
                noreply: false,
            }),
        };
        let mut lines = match self.cache.execute(request) {
            memkeep_protocol::Response::Stats(lines) => lines,
            _ => Vec::new(),
        };
        if let Some(r) = &self.replication {
            lines.extend(r.stats());
        }
        lines
    }
}

/// Cache figures from `stats`: (metric, kind, help, stats field).
const CACHE_METRICS: &[(&str, Kind, &str, &str)] = &[
    (
        "memkeep_uptime_seconds",
        Kind::Gauge,
        "Seconds since the server started.",
        "uptime",
    ),
    (
        "memkeep_connections",
        Kind::Gauge,
        "Open client connections.",
        "curr_connections",
    ),
    (
        "memkeep_connections_total",
        Kind::Counter,
        "Client connections accepted.",
        "total_connections",
    ),
    (
        "memkeep_connections_rejected_total",
        Kind::Counter,
        "Connections refused at the connection limit.",
        "rejected_connections",
    ),
    (
        "memkeep_bytes_read_total",
        Kind::Counter,
        "Bytes read from clients.",
        "bytes_read",
    ),
    (
        "memkeep_bytes_written_total",
        Kind::Counter,
        "Bytes written to clients.",
        "bytes_written",
    ),
    (
        "memkeep_get_hits_total",
        Kind::Counter,
        "Keys found by gets.",
        "get_hits",
    ),
    (
        "memkeep_get_misses_total",
        Kind::Counter,
        "Keys not found by gets.",
        "get_misses",
    ),
    (
        "memkeep_get_expired_total",
        Kind::Counter,
        "Gets that found an expired item.",
        "get_expired",
    ),
    ("memkeep_items", Kind::Gauge, "Items stored.", "curr_items"),
    (
        "memkeep_items_total",
        Kind::Counter,
        "Items ever stored.",
        "total_items",
    ),
    (
        "memkeep_memory_used_bytes",
        Kind::Gauge,
        "Bytes used by items.",
        "bytes",
    ),
    (
        "memkeep_memory_limit_bytes",
        Kind::Gauge,
        "The memory limit (-m).",
        "limit_maxbytes",
    ),
    (
        "memkeep_evictions_total",
        Kind::Counter,
        "Items evicted to make room.",
        "evictions",
    ),
    (
        "memkeep_reclaimed_total",
        Kind::Counter,
        "Expired items whose memory was reused.",
        "reclaimed",
    ),
];

/// Replication figures from `stats`.
const REPLICATION_METRICS: &[(&str, Kind, &str, &str)] = &[
    (
        "memkeep_replication_links",
        Kind::Gauge,
        "Connected replication links.",
        "repl_links",
    ),
    (
        "memkeep_replication_lag_items",
        Kind::Gauge,
        "Records the slowest link has yet to send.",
        "repl_lag_items",
    ),
    (
        "memkeep_replication_lag_seconds",
        Kind::Gauge,
        "Age of the oldest record the slowest link has yet to send.",
        "repl_lag_seconds",
    ),
    (
        "memkeep_replication_full_copies_sent_total",
        Kind::Counter,
        "Full copies sent to peers.",
        "repl_full_copies_sent",
    ),
    (
        "memkeep_replication_full_copies_received_total",
        Kind::Counter,
        "Full copies received from a peer.",
        "repl_full_copies_received",
    ),
    (
        "memkeep_replication_resumes_total",
        Kind::Counter,
        "Links resumed from the backlog without a full copy.",
        "repl_resumes",
    ),
    (
        "memkeep_replication_bytes_sent_total",
        Kind::Counter,
        "Bytes sent on replication links.",
        "repl_bytes_sent",
    ),
    (
        "memkeep_replication_bytes_received_total",
        Kind::Counter,
        "Bytes received on replication links.",
        "repl_bytes_received",
    ),
    (
        "memkeep_replication_records_applied_total",
        Kind::Counter,
        "Records received and applied.",
        "repl_records_applied",
    ),
    (
        "memkeep_replication_records_forwarded_total",
        Kind::Counter,
        "Records received from a link and passed on to the node's other links.",
        "repl_records_forwarded",
    ),
];

impl Report for MemkeepdReport {
    fn metrics(&self, out: &mut Encoder) {
        let stats = self.stats();
        out.family("memkeep_up", Kind::Gauge, "1 while the server is serving.")
            .sample("memkeep_up", &[], 1.0);
        write_requests(out, "memkeep", &[(Vec::new(), self.requests())]);
        write_stats(out, &stats, CACHE_METRICS);
        if self.replication.is_some() {
            let role = stat_text(&stats, "repl_role").unwrap_or("none");
            let peer = stat_text(&stats, "repl_peer").unwrap_or("none");
            let replicas = stat_text(&stats, "repl_replicas").unwrap_or("none");
            out.family(
                "memkeep_replication_info",
                Kind::Gauge,
                "Replication role, writable peers (or a replica's primary) and replicas (always 1).",
            )
            .sample(
                "memkeep_replication_info",
                &[("role", role), ("peer", peer), ("replicas", replicas)],
                1.0,
            );
            let warming = stat_text(&stats, "repl_state") == Some("warming");
            out.family(
                "memkeep_replication_warming",
                Kind::Gauge,
                "1 while the node waits for its first full copy (gets answer SERVER_ERROR warming).",
            )
            .sample("memkeep_replication_warming", &[], f64::from(u8::from(warming)));
            write_stats(out, &stats, REPLICATION_METRICS);
        }
    }

    fn status(&self) -> Status {
        let stats = self.stats();
        let counted = self.requests();
        let lately = self.recent.update(counted.total(), counted.latency_all());
        let warming = self
            .replication
            .as_ref()
            .is_some_and(Replication::is_warming);
        let replication = self
            .replication
            .as_ref()
            .map(|_| replication_summary(&stats));
        let mut nodes = vec![NodeStatus {
            group: "self".into(),
            name: "memkeepd".into(),
            address: self.address.clone(),
            state: if warming { "warming" } else { "up" }.into(),
            hit_rate: hit_rate(&stats),
            memory_used_bytes: stat(&stats, "bytes").map(|b| b as u64),
            memory_limit_bytes: stat(&stats, "limit_maxbytes").map(|b| b as u64),
            latency_p50_ms: lately.quantile_ms(0.5),
            latency_p99_ms: lately.quantile_ms(0.99),
            ops_per_second: Some(lately.ops_per_second),
            replication,
        }];
        if let Some(replication) = &self.replication {
            // One line per peer (pair or group members, or a replica's primary) and
            // per replica following this node, up while a link to it is.
            let links = replication.links();
            let peer_name = match replication.role() {
                Role::Replica => "primary",
                _ => "pair",
            };
            let peers = replication.peers().into_iter().map(|a| (peer_name, a));
            let replicas = replication.replicas().into_iter().map(|a| ("replica", a));
            for (name, address) in peers.chain(replicas) {
                let linked = links.iter().any(|l| l.addr == address);
                nodes.push(NodeStatus {
                    group: if name == "replica" { "replica" } else { "peer" }.into(),
                    name: name.into(),
                    address,
                    state: if linked { "up" } else { "down" }.into(),
                    replication: Some(if linked { "linked" } else { "not linked" }.into()),
                    ..NodeStatus::default()
                });
            }
        }
        let peer = stat_text(&stats, "repl_peer").unwrap_or("its peer");
        Status {
            server: "memkeepd".into(),
            version: VERSION.into(),
            uptime_seconds: stat(&stats, "uptime").unwrap_or(0.0) as u64,
            healthy: !warming,
            health: if warming {
                format!("warming: waiting for a full copy from {peer}")
            } else {
                "serving".into()
            },
            nodes,
        }
    }
}

fn replication_summary(stats: &[(String, String)]) -> String {
    format!(
        "{} {}, {} link(s), lag {} items / {} s, {} full copies in",
        stat_text(stats, "repl_role").unwrap_or("?"),
        stat_text(stats, "repl_state").unwrap_or("?"),
        stat_text(stats, "repl_links").unwrap_or("0"),
        stat_text(stats, "repl_lag_items").unwrap_or("0"),
        stat_text(stats, "repl_lag_seconds").unwrap_or("0"),
        stat_text(stats, "repl_full_copies_received").unwrap_or("0"),
    )
}

/// Starts the admin listener and returns one service per worker thread: `service`
/// in a `Measure` layer with that worker's own counters.
pub(super) fn start(
    args: &super::Args,
    listener: std::net::TcpListener,
    cache: Cache,
    replication: &Option<(Replication, std::thread::JoinHandle<()>)>,
    service: super::Replicated,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<(Vec<Measure<super::Replicated>>, std::thread::JoinHandle<()>), String> {
    let requests: Vec<Arc<RequestMetrics>> = (0..args.threads)
        .map(|_| Arc::new(RequestMetrics::default()))
        .collect();
    let address = match &args.unix_socket {
        Some(path) => path.display().to_string(),
        None => format!(
            "{}:{}",
            args.listen()
                .split(',')
                .next()
                .unwrap_or("127.0.0.1")
                .trim(),
            args.port
        ),
    };
    let services = requests
        .iter()
        .map(|r| Measure::new(service.clone(), r.clone()))
        .collect();
    let report = MemkeepdReport::new(
        cache,
        replication.as_ref().map(|(r, _)| r.clone()),
        requests,
        address,
    );
    let thread = crate::admin::spawn(listener, Arc::new(report), stop.clone())?;
    Ok((services, thread))
}
