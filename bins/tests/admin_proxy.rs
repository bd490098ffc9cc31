//! memkeep-proxy's admin listener with real processes: client and per-backend
//! metrics move with traffic, backend stats are polled for the status table, a
//! killed backend shows as ejected, a silent one counts timeouts.

mod admin;
mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use admin::http::{get, scrape, value};
use admin::proxy::AdminProxy;
use support::{read_until, wait_for, Server};

fn exchange(conn: &mut std::net::TcpStream, request: &[u8], end: &[u8]) -> Vec<u8> {
    conn.write_all(request).unwrap();
    read_until(conn, Duration::from_secs(5), |g| g.ends_with(end)).0
}

fn status(admin: u16) -> serde_json::Value {
    let reply = get(admin, "/status");
    assert_eq!(reply.code, 200);
    serde_json::from_str(&reply.body).unwrap()
}

#[test]
fn metrics_and_status_follow_traffic_per_pool_and_backend() {
    let (a, b) = (
        Server::memcached(&["-m", "16"]),
        Server::memkeepd(&["-m", "32"]),
    );
    let servers = [
        format!("{} cache-a", a.addr()),
        format!("{} cache-b", b.addr()),
    ];
    let proxy = AdminProxy::start(&servers, "timeout: 2000");
    let mut conn = proxy.connect();
    let n = 50;
    let mut request = Vec::new();
    for i in 0..n {
        request.extend(format!("set key{i} 0 0 3\r\nabc\r\n").as_bytes());
    }
    let reply = exchange(&mut conn, &request, &b"STORED\r\n".repeat(n));
    assert_eq!(reply, b"STORED\r\n".repeat(n));
    for i in 0..n {
        exchange(
            &mut conn,
            format!("get key{i} miss{i}\r\n").as_bytes(),
            b"END\r\n",
        );
    }

    let m = scrape(proxy.admin);
    assert_eq!(value(&m, "memkeep_proxy_up"), 1.0);
    let pool = |c: &str, r: &str| {
        value(
            &m,
            &format!(
                "memkeep_proxy_requests_total{{pool=\"alpha\",command=\"{c}\",result=\"{r}\"}}"
            ),
        )
    };
    assert_eq!(pool("set", "stored"), n as f64);
    assert_eq!(pool("get", "hit"), n as f64);
    assert_eq!(
        value(
            &m,
            "memkeep_proxy_get_keys_total{pool=\"alpha\",result=\"hit\"}"
        ),
        n as f64
    );
    assert_eq!(
        value(
            &m,
            "memkeep_proxy_get_keys_total{pool=\"alpha\",result=\"miss\"}"
        ),
        n as f64
    );
    assert_eq!(value(&m, "memkeep_proxy_connections{pool=\"alpha\"}"), 1.0);
    assert!(value(&m, "memkeep_proxy_bytes_read_total{pool=\"alpha\"}") >= request.len() as f64);
    assert_eq!(
        value(
            &m,
            "memkeep_proxy_request_duration_seconds_count{pool=\"alpha\",command=\"set\"}"
        ),
        n as f64
    );
    // Every set went to exactly one backend; both got some.
    let backend = |name: &str, addr: &str, rest: &str| {
        format!("{{pool=\"alpha\",backend=\"{name}\",address=\"{addr}\"{rest}}}")
    };
    let sets: Vec<f64> = [("cache-a", a.addr()), ("cache-b", b.addr())]
        .iter()
        .map(|(name, addr)| {
            let labels = backend(name, addr, ",command=\"set\",result=\"stored\"");
            value(&m, &format!("memkeep_backend_requests_total{labels}"))
        })
        .collect();
    assert_eq!(sets.iter().sum::<f64>(), n as f64, "{sets:?}");
    assert!(sets.iter().all(|s| *s > 0.0), "{sets:?}");
    let labels = backend("cache-a", &a.addr(), ",command=\"set\"");
    assert_eq!(
        value(
            &m,
            &format!("memkeep_backend_request_duration_seconds_count{labels}")
        ),
        sets[0]
    );
    let a_labels = backend("cache-a", &a.addr(), "");
    assert_eq!(
        value(&m, &format!("memkeep_backend_timeouts_total{a_labels}")),
        0.0
    );
    assert_eq!(
        value(&m, &format!("memkeep_backend_ejections_total{a_labels}")),
        0.0
    );
    let up = backend("cache-a", &a.addr(), ",state=\"up\"");
    assert_eq!(value(&m, &format!("memkeep_backend_state{up}")), 1.0);

    // The poller reads each backend's stats: memory limits and hit rates appear, on
    // both backends, from a poll made after the gets (each is polled on its own).
    let b_labels = backend("cache-b", &b.addr(), "");
    assert!(
        wait_for(Duration::from_secs(10), || {
            let m = scrape(proxy.admin);
            value(&m, &format!("memkeep_backend_memory_limit_bytes{a_labels}")) == 16.0 * 1048576.0
                && value(&m, &format!("memkeep_backend_get_hits_total{a_labels}")) == sets[0]
                && value(&m, &format!("memkeep_backend_memory_limit_bytes{b_labels}"))
                    == 32.0 * 1048576.0
                && value(&m, &format!("memkeep_backend_get_hits_total{b_labels}")) == sets[1]
        }),
        "backend stats never polled"
    );
    let s = status(proxy.admin);
    assert_eq!(s["server"], "memkeep-proxy");
    assert_eq!(s["healthy"], true);
    let nodes = s["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["name"], "cache-a");
    assert_eq!(nodes[0]["group"], "alpha");
    assert_eq!(nodes[0]["state"], "up");
    assert_eq!(nodes[0]["memory_limit_bytes"], 16 * 1048576);
    assert_eq!(nodes[1]["memory_limit_bytes"], 32 * 1048576);
    // The hit rate shown is the backend's own, as its stats give it.
    for (node, server) in nodes.iter().zip([&a, &b]) {
        let mut c = server.connect();
        let stats = String::from_utf8(exchange(&mut c, b"stats\r\n", b"END\r\n")).unwrap();
        let stat = |name: &str| -> f64 {
            let prefix = format!("STAT {name} ");
            stats
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap()
                .parse()
                .unwrap()
        };
        let expected = stat("get_hits") / (stat("get_hits") + stat("get_misses"));
        assert_eq!(node["hit_rate"].as_f64().unwrap(), expected, "{node}");
    }
    assert!(
        nodes[1]["replication"].is_null(),
        "memkeepd without replication"
    );
    assert!(nodes[0]["latency_p99_ms"].as_f64().unwrap() > 0.0);
    let page = get(proxy.admin, "/");
    assert!(page.body.contains("cache-a") && page.body.contains("cache-b"));
    assert!(page.body.contains("16.0 MiB"));
}

#[test]
fn a_killed_backend_shows_ejected_and_a_silent_one_times_out() {
    let a = Server::memcached(&[]);
    let mut b = Server::memcached(&[]);
    // Answers the protocol probe on each connection, then never again: requests
    // time out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut conn in silent.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                let mut probed = false;
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {
                    if !std::mem::replace(&mut probed, true) {
                        let _ = conn.write_all(b"MN\r\n");
                    }
                }
            });
        }
    });
    let servers = [
        format!("{} cache-a", a.addr()),
        format!("{} cache-b", b.addr()),
        format!("{silent_addr} silent"),
    ];
    let proxy = AdminProxy::start(
        &servers,
        // The silent server fails by this timeout; the live ones must never reach it,
        // even on a loaded machine (one failure ejects).
        "timeout: 2000\nauto_eject_hosts: true\nserver_failure_limit: 1\nserver_retry_timeout: 600000",
    );
    let b_labels = format!(
        "{{pool=\"alpha\",backend=\"cache-b\",address=\"{}\"",
        b.addr()
    );
    let silent_labels = format!("{{pool=\"alpha\",backend=\"silent\",address=\"{silent_addr}\"");
    drop(std::mem::replace(&mut b, Server::memcached(&[]))); // kill cache-b
    let mut conn = proxy.connect();
    // Keys spread over all three: some fail on cache-b, some time out on silent;
    // each failure ejects its server (limit 1), then the ring skips it.
    for i in 0..60 {
        exchange(&mut conn, format!("get key{i}\r\n").as_bytes(), b"\r\n");
    }
    let m = scrape(proxy.admin);
    let ejected = |labels: &str| {
        value(
            &m,
            &format!("memkeep_backend_state{labels},state=\"ejected\"}}"),
        ) == 1.0
            && value(&m, &format!("memkeep_backend_ejections_total{labels}}}")) == 1.0
    };
    assert!(ejected(&b_labels), "cache-b not ejected");
    assert!(ejected(&silent_labels), "silent not ejected");
    assert!(
        value(
            &m,
            &format!("memkeep_backend_timeouts_total{silent_labels}}}")
        ) >= 1.0
    );
    assert!(
        value(
            &m,
            &format!("memkeep_backend_errors_total{silent_labels},cause=\"timeout\"}}")
        ) >= 1.0
    );
    assert!(
        value(
            &m,
            &format!(
                "memkeep_backend_requests_total{b_labels},command=\"get\",result=\"failed\"}}"
            )
        ) >= 1.0
    );
    let a_up = format!(
        "memkeep_backend_state{{pool=\"alpha\",backend=\"cache-a\",address=\"{}\",state=\"up\"}}",
        a.addr()
    );
    assert_eq!(value(&m, &a_up), 1.0);
    let s = status(proxy.admin);
    let states: Vec<&str> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["up", "ejected", "ejected"]);
    assert_eq!(s["health"], "serving (1 of 3 backends up)");
    assert_eq!(
        get(proxy.admin, "/healthz").code,
        200,
        "the proxy still serves"
    );
}
