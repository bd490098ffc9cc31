//! Writes through memkeep-proxy in magent mode while one of the two servers is out
//! for 2 s (kill -9 and a restart empty on the same port, or SIGSTOP then SIGCONT),
//! with stock memcached and with memkeepd behind it: no write fails, the server that
//! was out is handed the writes it missed when it is back (deletes included, so no
//! deleted key comes back), and afterwards both servers hold every acknowledged
//! write, compared on each server directly.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use harness::{exchange, proxy_stat, values, Node, NodeKind, Proxy};
use support::wait_for;

/// Keys the writer cycles over.
const KEYS: usize = 300;
/// How long the server is out.
const OUTAGE: Duration = Duration::from_secs(2);

fn key(i: usize) -> String {
    format!("w:{i}")
}

/// What the writer was told, per key: the last acknowledged write (`None`: a
/// delete) and when it was made (its op number).
type Acked = HashMap<String, (Option<String>, u64)>;

/// One client writing through the proxy, one request at a time: sets, and every
/// fourth op a delete. Counts errors (any other reply) with their text.
struct Writer {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    thread: JoinHandle<(Acked, Vec<String>)>,
}

impl Writer {
    fn start(mut conn: TcpStream) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let (stop_flag, count) = (stop.clone(), ops.clone());
        let thread = std::thread::spawn(move || {
            let mut acked = Acked::new();
            let mut errors = Vec::new();
            // Bounded in time whatever happens to the test.
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut n: u64 = 0;
            while !stop_flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let k = key(n as usize * 7 % KEYS);
                let (request, value) = if n % 4 == 3 {
                    (format!("delete {k}\r\n"), None)
                } else {
                    let value = format!("v{n}");
                    let request = format!("set {k} 0 0 {}\r\n{value}\r\n", value.len());
                    (request, Some(value))
                };
                let reply =
                    String::from_utf8(exchange(&mut conn, request.as_bytes(), b"\r\n")).unwrap();
                match (reply.as_str(), &value) {
                    ("STORED\r\n", Some(_)) | ("DELETED\r\n" | "NOT_FOUND\r\n", None) => {
                        acked.insert(k, (value, n));
                    }
                    _ => errors.push(format!("{}: {reply:?}", request.trim_end())),
                }
                n += 1;
                count.store(n, Ordering::Relaxed);
            }
            (acked, errors)
        });
        Writer { stop, ops, thread }
    }

    fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Waits until it made `more` ops past `since`.
    fn wait_ops(&self, since: u64, more: u64) {
        assert!(
            wait_for(Duration::from_secs(20), || self.ops() >= since + more),
            "the writer is stuck at {} ops",
            self.ops()
        );
    }

    fn finish(self) -> (Acked, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// kill -9, then a restart empty on the same port.
    Restart,
    /// SIGSTOP, then SIGCONT.
    Stop,
}

/// Waits until the proxy owes neither server a write and has none in flight to
/// them: the replay (if any) is over and both servers answered everything.
fn wait_settled(proxy: &Proxy, servers: &[(&str, String)]) {
    let mut conn = proxy.connect();
    let mut left = Vec::new();
    let settled = wait_for(Duration::from_secs(20), || {
        left.clear();
        for (pool, addr) in servers {
            for field in ["missed_writes_pending", "pending_requests"] {
                let name = format!("server:{pool}:{addr}:{field}");
                let value = proxy_stat(&mut conn, &name);
                if value != Some(0) {
                    left.push(format!("{name} = {value:?}"));
                }
            }
        }
        left.is_empty()
    });
    assert!(settled, "not settled: {left:?}");
}

/// The keys whose value on `node` is not the acknowledged one.
fn wrong_on(node: &Node, want: &Acked, keys: &[String]) -> Vec<String> {
    let have = values(&mut node.connect(), keys);
    keys.iter()
        .filter(|k| have[*k] != want.get(*k).and_then(|(v, _)| v.clone()))
        .map(|k| format!("{k}: has {:?}, acknowledged {:?}", have[k], want.get(k)))
        .collect()
}

/// One outage of the main (`victim` 0) or the backup (1) under a writer.
fn outage(kind: NodeKind, victim: usize, fault: Fault) {
    let mut nodes = [Node::start(kind), Node::start(kind)];
    let proxy = Proxy::magent(&["-s", &nodes[0].addr(), "-b", &nodes[1].addr()]);
    let servers = [("main", nodes[0].addr()), ("backup", nodes[1].addr())];
    let writer = Writer::start(proxy.connect());
    writer.wait_ops(0, 300);

    let started = Instant::now();
    let out_from = writer.ops();
    match fault {
        Fault::Restart => nodes[victim].kill(),
        Fault::Stop => nodes[victim].pause(true),
    }
    // The fault lasts OUTAGE, and the writer goes on meanwhile.
    assert!(wait_for(OUTAGE + Duration::from_secs(20), || {
        started.elapsed() >= OUTAGE && writer.ops() >= out_from + 50
    }));
    match fault {
        Fault::Restart => nodes[victim].restart(),
        Fault::Stop => nodes[victim].pause(false),
    }
    let back_at = writer.ops();
    writer.wait_ops(back_at, 300);
    let (acked, errors) = writer.finish();
    assert_eq!(
        errors,
        Vec::<String>::new(),
        "{kind:?} {fault:?} of server {victim}"
    );
    wait_settled(&proxy, &servers);

    let keys: Vec<String> = (0..KEYS).map(key).collect();
    let mut conn = proxy.connect();
    for (pool, addr) in &servers {
        let dropped = proxy_stat(
            &mut conn,
            &format!("server:{pool}:{addr}:missed_writes_dropped"),
        );
        assert_eq!(dropped, Some(0));
    }
    // The keys last written from the outage on: on both servers, the restarted one
    // included, by replay alone (no read has been made).
    let recent: Vec<String> = keys
        .iter()
        .filter(|k| acked.get(*k).is_some_and(|(_, at)| *at >= out_from))
        .cloned()
        .collect();
    assert!(
        recent.len() > KEYS / 2,
        "{} keys written since",
        recent.len()
    );
    for node in &nodes {
        let wrong = wrong_on(node, &acked, &recent);
        assert!(
            wrong.is_empty(),
            "{kind:?} {fault:?} of server {victim}: port {}: {wrong:?}",
            node.port
        );
    }
    if let Fault::Restart = fault {
        let replayed = format!(
            "server:{}:{}:missed_writes_replayed",
            servers[victim].0, servers[victim].1
        );
        assert!(proxy_stat(&mut conn, &replayed) > Some(0));
        // What the restarted server lost with its memory comes back by read-repair:
        // one read pass through the proxy.
        values(&mut conn, &keys);
    }
    // Every key: each server holds the acknowledged value, so they agree.
    let mut wrong = Vec::new();
    let fixed = wait_for(Duration::from_secs(10), || {
        wrong = nodes
            .iter()
            .flat_map(|n| wrong_on(n, &acked, &keys))
            .collect();
        wrong.is_empty()
    });
    assert!(fixed, "{kind:?} {fault:?} of server {victim}: {wrong:?}");
    let deleted = acked.values().filter(|(v, _)| v.is_none()).count();
    assert!(deleted > 0, "the writer deleted keys");
}

#[test]
fn memcached_servers_restarted_empty_get_the_writes_they_missed() {
    outage(NodeKind::Memcached, 0, Fault::Restart);
    outage(NodeKind::Memcached, 1, Fault::Restart);
}

#[test]
fn memcached_servers_stopped_get_the_writes_they_missed() {
    outage(NodeKind::Memcached, 0, Fault::Stop);
    outage(NodeKind::Memcached, 1, Fault::Stop);
}

#[test]
fn memkeepd_servers_restarted_empty_get_the_writes_they_missed() {
    outage(NodeKind::Memkeepd, 0, Fault::Restart);
    outage(NodeKind::Memkeepd, 1, Fault::Restart);
}

#[test]
fn memkeepd_servers_stopped_get_the_writes_they_missed() {
    outage(NodeKind::Memkeepd, 0, Fault::Stop);
    outage(NodeKind::Memkeepd, 1, Fault::Stop);
}
