//! The proxy's Prometheus scrape: per listener (labelled `pool`, the route or pool
//! it serves), its clients' requests and connection counters; read-repairs per
//! route; per backend, its state, the requests the proxy sent it, their failures by
//! cause, ejections, and figures from its polled `stats`.

use memkeep_admin::{Encoder, Kind};
use memkeep_proxy::discovery::PoolFigures;
use memkeep_server::stats::ConnectionStats;

use super::ProxyReport;
use crate::admin::{stat, stat_text, write_requests};

/// A pool listener's counter: metric, kind, help, how to read it.
type ConnectionFigure = (
    &'static str,
    Kind,
    &'static str,
    fn(&ConnectionStats) -> u64,
);

/// Backend figures from its polled `stats`.
const BACKEND_STATS: &[(&str, Kind, &str, &str)] = &[
    (
        "memkeep_backend_get_hits_total",
        Kind::Counter,
        "Keys found by gets, as the backend counts them.",
        "get_hits",
    ),
    (
        "memkeep_backend_get_misses_total",
        Kind::Counter,
        "Keys not found by gets, as the backend counts them.",
        "get_misses",
    ),
    (
        "memkeep_backend_memory_used_bytes",
        Kind::Gauge,
        "Bytes used by items on the backend.",
        "bytes",
    ),
    (
        "memkeep_backend_memory_limit_bytes",
        Kind::Gauge,
        "The backend's memory limit.",
        "limit_maxbytes",
    ),
    (
        "memkeep_backend_items",
        Kind::Gauge,
        "Items stored on the backend.",
        "curr_items",
    ),
    (
        "memkeep_backend_evictions_total",
        Kind::Counter,
        "Items the backend evicted.",
        "evictions",
    ),
    (
        "memkeep_backend_replication_lag_items",
        Kind::Gauge,
        "Replication lag the backend reports (memkeepd).",
        "repl_lag_items",
    ),
];

/// Writes the proxy's scrape.
pub(super) fn write(report: &ProxyReport, out: &mut Encoder) {
    out.family(
        "memkeep_proxy_up",
        Kind::Gauge,
        "1 while the proxy is serving.",
    )
    .sample("memkeep_proxy_up", &[], 1.0);
    let listeners = report.listeners();
    let pools: Vec<_> = listeners
        .iter()
        .map(|(route, _, requests)| (vec![("pool", route.as_str())], requests.snapshot()))
        .collect();
    write_requests(out, "memkeep_proxy", &pools);
    out.family(
        "memkeep_proxy_get_keys_total",
        Kind::Counter,
        "Keys clients asked for by pool, found (hit) or not (miss).",
    );
    for (labels, requests) in &pools {
        let (hits, misses) = requests.keys();
        for (result, n) in [("hit", hits), ("miss", misses)] {
            let mut l = labels.clone();
            l.push(("result", result));
            out.sample("memkeep_proxy_get_keys_total", &l, n as f64);
        }
    }
    let connection_figures: [ConnectionFigure; 5] = [
        (
            "memkeep_proxy_connections",
            Kind::Gauge,
            "Open client connections.",
            |c| ConnectionStats::get(&c.curr_connections),
        ),
        (
            "memkeep_proxy_connections_total",
            Kind::Counter,
            "Client connections accepted.",
            |c| ConnectionStats::get(&c.total_connections),
        ),
        (
            "memkeep_proxy_connections_rejected_total",
            Kind::Counter,
            "Client connections refused at the limit.",
            |c| ConnectionStats::get(&c.rejected_connections),
        ),
        (
            "memkeep_proxy_bytes_read_total",
            Kind::Counter,
            "Bytes read from clients.",
            |c| ConnectionStats::get(&c.bytes_read),
        ),
        (
            "memkeep_proxy_bytes_written_total",
            Kind::Counter,
            "Bytes written to clients.",
            |c| ConnectionStats::get(&c.bytes_written),
        ),
    ];
    for (name, kind, help, read) in connection_figures {
        out.family(name, kind, help);
        for (route, connections, _) in &listeners {
            out.sample(name, &[("pool", route)], read(connections) as f64);
        }
    }
    let repairing = report.read_repairs();
    if !repairing.is_empty() {
        out.family(
            "memkeep_proxy_read_repairs_total",
            Kind::Counter,
            "Items read repair wrote back to a replica that missed them, by route.",
        );
        for (route, n) in repairing {
            out.sample(
                "memkeep_proxy_read_repairs_total",
                &[("route", &route)],
                n as f64,
            );
        }
    }
    warm_up_metrics(report, out);
    discovery_metrics(report, out);
    backend_metrics(report, out);
}

/// Per pool: what its warm-up window after a change of servers did (docs/resize.md).
fn warm_up_metrics(report: &ProxyReport, out: &mut Encoder) {
    let warm_ups = report.warm_ups();
    let families = [
        (
            "fills",
            "memkeep_proxy_warm_up_fills_total",
            Kind::Counter,
            "Items copied from a moved key's previous server to its new one, by pool.",
        ),
        (
            "fallbacks",
            "memkeep_proxy_warm_up_fallbacks_total",
            Kind::Counter,
            "Moved keys missed on their new server and read from their previous one, by pool.",
        ),
        (
            "stale_deletes",
            "memkeep_proxy_warm_up_stale_deletes_total",
            Kind::Counter,
            "Previous copies of moved keys deleted for writes during a warm-up, by pool.",
        ),
        (
            "active",
            "memkeep_proxy_warm_up_active",
            Kind::Gauge,
            "1 while a pool warms up after a change of servers, else 0.",
        ),
    ];
    for (what, name, kind, help) in families {
        let samples: Vec<_> = warm_ups.iter().filter(|(w, _, _)| *w == what).collect();
        if samples.is_empty() {
            continue;
        }
        out.family(name, kind, help);
        for (_, pool, value) in samples {
            out.sample(name, &[("pool", pool)], *value as f64);
        }
    }
}

/// A discovery figure: metric, kind, help, how to read it.
type DiscoveryFigure = (&'static str, Kind, &'static str, fn(&PoolFigures) -> f64);

/// Per pool found by DNS: its lookups that failed, answers that changed it, the
/// last good lookup, the servers it has.
fn discovery_metrics(report: &ProxyReport, out: &mut Encoder) {
    let pools = report.discovery();
    if pools.is_empty() {
        return;
    }
    let figures: [DiscoveryFigure; 4] = [
        (
            "memkeep_discovery_failures_total",
            Kind::Counter,
            "DNS lookups of a pool's servers that failed or named no server (the last good servers stayed).",
            |f| f.failures as f64,
        ),
        (
            "memkeep_discovery_changes_total",
            Kind::Counter,
            "DNS answers that changed a pool's servers (each reloaded the pool).",
            |f| f.changes as f64,
        ),
        (
            "memkeep_discovery_last_success_timestamp_seconds",
            Kind::Gauge,
            "Unix time of the last successful DNS lookup of a pool's servers.",
            |f| f.last_success as f64,
        ),
        (
            "memkeep_discovery_servers",
            Kind::Gauge,
            "Servers a pool has from DNS.",
            |f| f.servers as f64,
        ),
    ];
    for (name, kind, help, read) in figures {
        out.family(name, kind, help);
        for (pool, f) in &pools {
            out.sample(name, &[("pool", pool)], read(f));
        }
    }
}
fn backend_metrics(report: &ProxyReport, out: &mut Encoder) {
    let backends = report.backends();
    let labelled: Vec<_> = backends
        .iter()
        .map(|b| {
            let labels = vec![
                ("pool", b.pool.as_str()),
                ("backend", b.name.as_str()),
                ("address", b.address()),
            ];
            (labels, &**b)
        })
        .collect();
    let requests: Vec<_> = labelled
        .iter()
        .map(|(l, b)| (l.clone(), b.requests().snapshot()))
        .collect();
    write_requests(out, "memkeep_backend", &requests);
    out.family(
        "memkeep_backend_state",
        Kind::Gauge,
        "1 for the backend's state (up, down, ejected), 0 for the others.",
    );
    for (labels, b) in &labelled {
        let now = b.state();
        for state in ["up", "down", "ejected"] {
            let mut l = labels.clone();
            l.push(("state", state));
            out.sample(
                "memkeep_backend_state",
                &l,
                f64::from(u8::from(now == state)),
            );
        }
    }
    out.family(
        "memkeep_backend_errors_total",
        Kind::Counter,
        "Requests to the backend that got no reply, by cause (timeout, ejected, down, overloaded, other).",
    );
    for (labels, b) in &labelled {
        for (cause, n) in b.requests().snapshot().failures() {
            let mut l = labels.clone();
            l.push(("cause", cause));
            out.sample("memkeep_backend_errors_total", &l, n as f64);
        }
    }
    out.family(
        "memkeep_backend_timeouts_total",
        Kind::Counter,
        "Requests to the backend that timed out.",
    );
    for (labels, b) in &labelled {
        let counted = b.requests().snapshot();
        let timeouts = counted.failures().find(|(c, _)| *c == "timeout");
        let n = timeouts.map_or(0, |(_, n)| n);
        out.sample("memkeep_backend_timeouts_total", labels, n as f64);
    }
    out.family(
        "memkeep_backend_ejections_total",
        Kind::Counter,
        "Times the eject layer took the backend out.",
    );
    for (labels, b) in &labelled {
        out.sample(
            "memkeep_backend_ejections_total",
            labels,
            b.ejections() as f64,
        );
    }
    let queues: Vec<_> = labelled.iter().map(|(l, b)| (l, b.queue())).collect();
    out.family(
        "memkeep_backend_pending_requests",
        Kind::Gauge,
        "Requests accepted for the backend and not yet answered (limit: max_pending).",
    );
    for (labels, (pending, _, _)) in &queues {
        out.sample("memkeep_backend_pending_requests", labels, *pending as f64);
    }
    out.family(
        "memkeep_backend_buffered_request_bytes",
        Kind::Gauge,
        "Bytes of requests queued for the backend, not yet written (limit: max_buffered_bytes).",
    );
    for (labels, (_, bytes, _)) in &queues {
        out.sample(
            "memkeep_backend_buffered_request_bytes",
            labels,
            *bytes as f64,
        );
    }
    out.family(
        "memkeep_backend_rejected_requests_total",
        Kind::Counter,
        "Requests refused because the backend's max_pending or max_buffered_bytes was reached.",
    );
    for (labels, (_, _, rejected)) in &queues {
        out.sample(
            "memkeep_backend_rejected_requests_total",
            labels,
            *rejected as f64,
        );
    }
    let missed: Vec<_> = labelled
        .iter()
        .filter_map(|(l, b)| Some((l, b.missed_writes()?)))
        .collect();
    if !missed.is_empty() {
        let families = [
            (
                "memkeep_backend_missed_writes",
                Kind::Gauge,
                "Keys whose missed writes the backend is owed now (replayed when it is back).",
            ),
            (
                "memkeep_backend_missed_writes_replayed_total",
                Kind::Counter,
                "Missed writes replayed to the backend.",
            ),
            (
                "memkeep_backend_missed_writes_dropped_total",
                Kind::Counter,
                "Missed writes lost for the backend: its queue was full, or it refused the replay.",
            ),
        ];
        for (i, (name, kind, help)) in families.into_iter().enumerate() {
            out.family(name, kind, help);
            for (labels, (pending, replayed, dropped)) in &missed {
                let value = [*pending as f64, *replayed as f64, *dropped as f64][i];
                out.sample(name, labels, value);
            }
        }
    }
    out.family(
        "memkeep_backend_stats_age_seconds",
        Kind::Gauge,
        "Seconds since the backend's stats were last read (the figures below).",
    );
    for (labels, b) in &labelled {
        if let Some(p) = b.polled.lock().as_ref() {
            out.sample(
                "memkeep_backend_stats_age_seconds",
                labels,
                p.at.elapsed().as_secs_f64(),
            );
        }
    }
    let polled: Vec<_> = labelled.iter().map(|(l, b)| (l, b.stats())).collect();
    for &(name, kind, help, field) in BACKEND_STATS {
        let mut header = false;
        for (labels, stats) in &polled {
            if let Some(value) = stat(stats, field) {
                if !header {
                    out.family(name, kind, help);
                    header = true;
                }
                out.sample(name, labels, value);
            }
        }
    }
    let warming: Vec<_> = polled
        .iter()
        .filter_map(|(l, s)| stat_text(s, "repl_state").map(|st| (l, st == "warming")))
        .collect();
    if !warming.is_empty() {
        out.family(
            "memkeep_backend_replication_warming",
            Kind::Gauge,
            "1 while the backend (memkeepd) waits for its first full copy.",
        );
        for (labels, w) in warming {
            out.sample(
                "memkeep_backend_replication_warming",
                labels,
                f64::from(u8::from(w)),
            );
        }
    }
}
