//! One read pass through memkeep-proxy repairs a server that restarted empty
//! completely: after it, the server holds every key read, whether the read found
//! it up (the misses are written back) or still down to the proxy, which
//! reconnects after a backoff (the hits are queued for it and replayed). Magent mode and a TOML route with a
//! `read_repair` route, 10,000 keys, five restarts each.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use harness::{exchange, proxy_stat, values, wait_connected, Node, NodeKind, Proxy};
use support::{read_until, wait_for};

const KEYS: usize = 10_000;

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("rr:{i}")).collect()
}

/// Sets every key to `v-KEY`, 100 pipelined requests at a time.
fn set_all(conn: &mut TcpStream, keys: &[String]) {
    for chunk in keys.chunks(100) {
        let burst: String = chunk
            .iter()
            .map(|k| format!("set {k} 0 0 {}\r\nv-{k}\r\n", k.len() + 2))
            .collect();
        let want = "STORED\r\n".repeat(chunk.len());
        let reply = exchange(conn, burst.as_bytes(), want.as_bytes());
        assert_eq!(String::from_utf8(reply).unwrap(), want);
    }
}

/// One `get` per key, all pipelined at once (written by another thread while the
/// replies are read); how many hit with their value.
fn read_pass(conn: &mut TcpStream, keys: &[String]) -> usize {
    let requests: String = keys.iter().map(|k| format!("get {k}\r\n")).collect();
    let mut sender = conn.try_clone().unwrap();
    let sending = std::thread::spawn(move || sender.write_all(requests.as_bytes()).unwrap());
    // Replies counted as they come: the buffer is scanned once.
    let (mut ends, mut scanned) = (0, 0);
    let (reply, _) = read_until(conn, Duration::from_secs(30), |got| {
        let from = scanned.max(4) - 4;
        ends += got[from..].windows(5).filter(|w| w == b"END\r\n").count();
        scanned = got.len();
        ends == keys.len()
    });
    sending.join().unwrap();
    assert_eq!(ends, keys.len(), "every get answered");
    let reply = String::from_utf8(reply).unwrap();
    let mut lines = reply.split("\r\n");
    let mut hits = 0;
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("VALUE ") {
            let key = rest.split(' ').next().unwrap();
            hits += usize::from(lines.next() == Some(format!("v-{key}").as_str()));
        }
    }
    hits
}

/// How many of `keys` `node` holds with their value.
fn held(node: &Node, keys: &[String]) -> usize {
    values(&mut node.connect(), keys)
        .iter()
        .filter(|(k, v)| v.as_deref() == Some(format!("v-{k}").as_str()))
        .count()
}

/// Sets the keys through `proxy`, then five times: restart one server empty, read
/// every key once through the proxy at once, and check that server holds them all.
fn restarts_are_repaired_by_one_pass(proxy: &Proxy, nodes: &mut [Node; 2], pools: [&str; 2]) {
    let keys = keys();
    let mut conn = proxy.connect();
    set_all(&mut conn, &keys);
    for node in nodes.iter() {
        assert!(wait_for(Duration::from_secs(10), || held(node, &keys) == KEYS));
    }
    for round in 0..5 {
        let victim = round % 2;
        nodes[victim].restart();
        // Odd rounds read once the proxy is connected to the server again (the
        // misses are written back at once); even ones at once, while the proxy may
        // still find it down (the hits are queued for it and replayed).
        if round % 2 == 1 {
            assert!(wait_connected(proxy, pools[victim], &nodes[victim].addr()));
        }
        assert_eq!(
            read_pass(&mut conn, &keys),
            KEYS,
            "round {round}: every read hits"
        );
        let mut holds = 0;
        let repaired = wait_for(Duration::from_secs(20), || {
            holds = held(&nodes[victim], &keys);
            holds == KEYS
        });
        let dropped = format!(
            "server:{}:{}:missed_writes_dropped",
            pools[victim],
            nodes[victim].addr()
        );
        assert_eq!(proxy_stat(&mut conn, &dropped), Some(0));
        assert!(
            repaired,
            "round {round}: the restarted server holds {holds} of {KEYS} keys"
        );
    }
}

#[test]
fn magent_mode_repairs_a_restarted_server_in_one_read_pass() {
    let mut nodes = [
        Node::start(NodeKind::Memcached),
        Node::start(NodeKind::Memkeepd),
    ];
    let proxy = Proxy::magent(&["-s", &nodes[0].addr(), "-b", &nodes[1].addr()]);
    restarts_are_repaired_by_one_pass(&proxy, &mut nodes, ["main", "backup"]);
}

#[test]
fn a_read_repair_route_repairs_a_restarted_server_in_one_read_pass() {
    let mut nodes = [
        Node::start(NodeKind::Memkeepd),
        Node::start(NodeKind::Memcached),
    ];
    let (a, b) = (nodes[0].addr(), nodes[1].addr());
    let proxy = Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            r#"
[pools.a]
servers = ["{a}"]

[pools.b]
servers = ["{b}"]

[routes.reads]
kind = "read_repair"
to = ["a", "b"]

[routes.writes]
kind = "replicate"
to = ["a", "b"]
policy = "first_success"

[routes.both]
kind = "operation"
reads = "reads"
writes = "writes"

[[listeners]]
listen = "127.0.0.1:{port}"
route = "both"
"#
        )
    });
    restarts_are_repaired_by_one_pass(&proxy, &mut nodes, ["a", "b"]);
}
