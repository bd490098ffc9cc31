//! memkeepd's admin listener with real processes: /metrics moves with traffic,
//! /status and the page show the server, /healthz is 503 while a replica is still
//! waiting for its full copy and 200 once it has it.

mod admin;
mod support;

use std::io::Write;
use std::time::Duration;

use admin::http::{get, memkeepd_with_admin, scrape, value};
use support::{free_port, read_until, wait_for, Server};

fn exchange(server: &Server, request: &[u8], end: &[u8]) -> Vec<u8> {
    let mut c = server.connect();
    c.write_all(request).unwrap();
    read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(end)).0
}

#[test]
fn metrics_count_requests_hits_bytes_and_latency() {
    let (server, admin) = memkeepd_with_admin(&[]);
    let before = scrape(admin);
    assert_eq!(value(&before, "memkeep_up"), 1.0);
    assert_eq!(
        value(&before, "memkeep_memory_limit_bytes"),
        64.0 * 1024.0 * 1024.0
    );
    assert_eq!(
        value(
            &before,
            "memkeep_requests_total{command=\"set\",result=\"stored\"}"
        ),
        0.0
    );

    let mut request = Vec::new();
    for i in 0..10 {
        request.extend(format!("set k{i} 0 0 5\r\nhello\r\n").as_bytes());
    }
    request.extend(b"get k1 k2 nope\r\nget nope\r\ndelete k3\r\nincr k4 1\r\nmg k5 v\r\n");
    let reply = exchange(&server, &request, b"VA 5\r\nhello\r\n");
    assert!(
        reply.starts_with(b"STORED\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );

    let after = scrape(admin);
    let requests = |c: &str, r: &str| {
        value(
            &after,
            &format!("memkeep_requests_total{{command=\"{c}\",result=\"{r}\"}}"),
        )
    };
    assert_eq!(requests("set", "stored"), 10.0);
    assert_eq!(requests("get", "hit"), 2.0, "the multi-get and mg");
    assert_eq!(requests("get", "miss"), 1.0);
    assert_eq!(requests("delete", "deleted"), 1.0);
    assert_eq!(requests("incr", "error"), 1.0, "not a number");
    assert_eq!(value(&after, "memkeep_get_hits_total"), 3.0);
    assert_eq!(value(&after, "memkeep_get_misses_total"), 2.0);
    assert_eq!(value(&after, "memkeep_items"), 9.0);
    assert!(value(&after, "memkeep_memory_used_bytes") > 0.0);
    assert!(value(&after, "memkeep_bytes_read_total") >= request.len() as f64);
    // Counted once the write returns, which may be just after the client read it.
    assert!(wait_for(Duration::from_secs(5), || {
        value(&scrape(admin), "memkeep_bytes_written_total") >= reply.len() as f64
    }));
    assert!(value(&after, "memkeep_connections_total") >= 1.0);
    let count = "memkeep_request_duration_seconds_count{command=\"set\"}";
    assert_eq!(value(&after, count), 10.0);
    assert_eq!(
        value(
            &after,
            "memkeep_request_duration_seconds_bucket{command=\"set\",le=\"+Inf\"}"
        ),
        10.0
    );
    assert!(!after.keys().any(|k| k.starts_with("memkeep_replication")));
}

#[test]
fn status_and_page_show_the_server() {
    let (server, admin) = memkeepd_with_admin(&["-m", "8"]);
    exchange(
        &server,
        b"set a 0 0 1\r\nx\r\nget a\r\nget b\r\n",
        b"END\r\nEND\r\n",
    );
    let status = get(admin, "/status");
    assert_eq!(status.code, 200);
    assert!(status.head.contains("Content-Type: application/json"));
    let json: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    assert_eq!(json["server"], "memkeepd");
    assert_eq!(json["healthy"], true);
    let me = &json["nodes"][0];
    assert_eq!(me["state"], "up");
    assert_eq!(me["address"], server.addr());
    assert_eq!(me["hit_rate"], 0.5);
    assert_eq!(me["memory_limit_bytes"], 8 * 1024 * 1024);
    assert!(me["latency_p99_ms"].as_f64().unwrap() > 0.0);
    assert!(me["ops_per_second"].as_f64().unwrap() > 0.0);

    let page = get(admin, "/");
    assert_eq!(page.code, 200);
    assert!(page.head.contains("text/html"));
    assert!(page.body.contains("<meta http-equiv=\"refresh\""));
    assert!(page.body.contains(&server.addr()) && page.body.contains("50.0%"));
    assert!(!page.body.contains("<script"));
    assert_eq!(get(admin, "/healthz").code, 200);
    assert_eq!(get(admin, "/nothing").code, 404);
}

#[test]
fn healthz_is_503_while_a_replica_waits_for_its_copy() {
    // The primary's replication port, with nobody on it yet: the replica keeps
    // warming until the primary appears.
    let repl = free_port();
    let primary_addr = format!("127.0.0.1:{repl}");
    let (replica, admin) = memkeepd_with_admin(&["--replica-of", &primary_addr]);
    let health = get(admin, "/healthz");
    assert_eq!(health.code, 503, "{}", health.body);
    assert!(health.body.starts_with("warming"), "{}", health.body);
    let metrics = scrape(admin);
    assert_eq!(value(&metrics, "memkeep_replication_warming"), 1.0);
    assert_eq!(
        value(
            &metrics,
            &format!("memkeep_replication_info{{role=\"replica\",peer=\"{primary_addr}\",replicas=\"none\"}}")
        ),
        1.0
    );
    let status: serde_json::Value = serde_json::from_str(&get(admin, "/status").body).unwrap();
    assert_eq!(status["healthy"], false);
    assert_eq!(status["nodes"][0]["state"], "warming");
    assert_eq!(status["nodes"][1]["state"], "down");
    assert!(exchange(&replica, b"get a\r\n", b"\r\n").starts_with(b"SERVER_ERROR warming"));

    let primary = Server::memkeepd(&["-X", &repl.to_string()]);
    exchange(&primary, b"set a 0 0 1\r\nx\r\n", b"STORED\r\n");
    assert!(
        wait_for(Duration::from_secs(15), || get(admin, "/healthz").code
            == 200),
        "the replica never synced"
    );
    let metrics = scrape(admin);
    assert_eq!(value(&metrics, "memkeep_replication_warming"), 0.0);
    assert_eq!(
        value(&metrics, "memkeep_replication_full_copies_received_total"),
        1.0
    );
    assert_eq!(value(&metrics, "memkeep_replication_links"), 1.0);
    let status: serde_json::Value = serde_json::from_str(&get(admin, "/status").body).unwrap();
    assert_eq!(status["nodes"][1]["state"], "up");
    assert!(status["nodes"][0]["replication"]
        .as_str()
        .unwrap()
        .starts_with("replica synced"));
}
