//! The `--admin ADDR:PORT` flag of both servers: bind the admin listener (loopback
//! when only a port is given) and run it on a thread of its own, so a slow scrape
//! never shares a runtime with cache traffic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;

use memkeep_admin::{AdminConfig, Encoder, Kind, Report, RequestSnapshot, COMMANDS, RESULTS};
use tokio::sync::watch;
use tracing::{info, warn};

/// Binds the admin listener `spec` names: `PORT` (on 127.0.0.1), `ADDR:PORT` or
/// `[V6]:PORT`. Bound early, before privileges are dropped, like the cache ports.
pub fn bind(spec: &str) -> Result<std::net::TcpListener, String> {
    let addr: SocketAddr = match spec.parse::<u16>() {
        Ok(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        Err(_) => spec
            .to_socket_addrs()
            .map_err(|e| format!("--admin {spec}: {e} (give ADDR:PORT or PORT)"))?
            .next()
            .ok_or_else(|| format!("--admin {spec}: resolves to nothing"))?,
    };
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("--admin: cannot listen on {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("--admin: {e}"))?;
    if !addr.ip().is_loopback() {
        warn!(%addr, "admin listener beyond loopback: metrics and status are readable by anyone who can connect");
    }
    Ok(listener)
}

/// Serves `report` on `listener` in a thread of its own until `stop` turns true.
pub fn spawn(
    listener: std::net::TcpListener,
    report: Arc<dyn Report>,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return warn!(error = %e, "cannot start the admin runtime"),
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return warn!(error = %e, "cannot use the admin listener"),
                };
                if let Ok(addr) = listener.local_addr() {
                    info!(%addr, "admin listening");
                }
                memkeep_admin::serve(listener, report, AdminConfig::default(), async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await;
            });
        })
        .map_err(|e| format!("cannot start the admin thread: {e}"))
}

/// One `stats` line's value as a number (`None` when absent or not a number).
pub fn stat(lines: &[(String, String)], name: &str) -> Option<f64> {
    lines
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// One `stats` line's value as text.
pub fn stat_text<'a>(lines: &'a [(String, String)], name: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Hits / (hits + misses), `None` before any get.
pub fn hit_rate(lines: &[(String, String)]) -> Option<f64> {
    let hits = stat(lines, "get_hits")?;
    let misses = stat(lines, "get_misses")?;
    (hits + misses > 0.0).then(|| hits / (hits + misses))
}

/// Writes the figures of `table` that `stats` has.
pub fn write_stats(
    out: &mut Encoder,
    stats: &[(String, String)],
    table: &[(&str, Kind, &str, &str)],
) {
    for &(name, kind, help, field) in table {
        if let Some(value) = stat(stats, field) {
            out.family(name, kind, help).sample(name, &[], value);
        }
    }
}

/// `{prefix}_requests_total{command,result}` and
/// `{prefix}_request_duration_seconds{command}` for each set of counters, its
/// labels on every sample. Only series that counted something are written.
pub fn write_requests(
    out: &mut Encoder,
    prefix: &str,
    sources: &[(Vec<(&str, &str)>, RequestSnapshot)],
) {
    let total = format!("{prefix}_requests_total");
    let duration = format!("{prefix}_request_duration_seconds");
    out.family(
        &total,
        Kind::Counter,
        "Requests by command and result (failed: no reply, the service failed).",
    );
    for (extra, requests) in sources {
        for (c, command) in COMMANDS.iter().enumerate() {
            for (r, result) in RESULTS.iter().enumerate() {
                let n = requests.requests(c, r);
                if n > 0 {
                    let mut labels = extra.clone();
                    labels.extend([("command", *command), ("result", *result)]);
                    out.sample(&total, &labels, n as f64);
                }
            }
        }
    }
    out.family(
        &duration,
        Kind::Histogram,
        "Time from a request's decoding to its reply, by command.",
    );
    for (extra, requests) in sources {
        for (c, command) in COMMANDS.iter().enumerate() {
            let latency = requests.latency(c);
            if latency.count() > 0 {
                let mut labels = extra.clone();
                labels.push(("command", *command));
                out.histogram(&duration, &labels, &latency);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_binds_loopback() {
        let l = bind("0").unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());
        let l = bind("127.0.0.1:0").unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());
        assert!(bind("nonsense").is_err());
    }

    #[test]
    fn hit_rate_from_stats() {
        let lines = |h: &str, m: &str| {
            vec![
                ("get_hits".to_owned(), h.to_owned()),
                ("get_misses".to_owned(), m.to_owned()),
            ]
        };
        assert_eq!(hit_rate(&lines("0", "0")), None);
        assert_eq!(hit_rate(&lines("3", "1")), Some(0.75));
        assert_eq!(hit_rate(&[]), None);
    }
}
