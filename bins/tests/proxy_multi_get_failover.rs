//! Multi-key gets through `failover` and `read_repair` routes over a pool with
//! `replicas = 2` while servers are down: each key is read from whichever of its
//! replicas is alive, so one dead server costs no key, whether it is a key's first
//! replica or its second. Read-repair still repairs key by key meanwhile.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::net::TcpStream;
use std::time::Duration;

use harness::{exchange, get, set, Proxy};
use memkeep_ring::{Distribution, Hash, Ring};
use support::{read_until, wait_for, Server};

/// A pool of three memkeepd, every key on two of them; writes go to both; one
/// listener reads through `failover`, the other through `read_repair`.
struct Setup {
    servers: Vec<Option<Server>>,
    proxy: Proxy,
    repair_port: u16,
}

impl Setup {
    fn start() -> Setup {
        let servers: Vec<Server> = (0..3).map(|_| Server::memkeepd(&[])).collect();
        let list: Vec<String> = servers
            .iter()
            .map(|s| format!("\"{}\"", s.addr()))
            .collect();
        let repair_port = support::free_port();
        let proxy = Proxy::memkeep("--config", "route.toml", |port| {
            format!(
                r#"
[pools.cache]
servers = [{list}]
replicas = 2
hash = "md5"
timeout_ms = 1000

[routes.writes]
kind = "replicate"
to = ["cache"]

[routes.failover_reads]
kind = "failover"
to = ["cache"]

[routes.repair_reads]
kind = "read_repair"
to = ["cache"]

[routes.failover]
kind = "operation"
reads = "failover_reads"
writes = "writes"

[routes.repair]
kind = "operation"
reads = "repair_reads"
writes = "writes"

[[listeners]]
listen = "127.0.0.1:{port}"
route = "failover"

[[listeners]]
listen = "127.0.0.1:{repair_port}"
route = "repair"
"#,
                list = list.join(", "),
            )
        });
        let setup = Setup {
            servers: servers.into_iter().map(Some).collect(),
            proxy,
            repair_port,
        };
        assert!(wait_for(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            repair_port
        ))
        .is_ok()));
        setup
    }

    fn failover(&self) -> TcpStream {
        self.proxy.connect()
    }

    fn repair(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.repair_port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    fn server(&self, i: usize) -> &Server {
        self.servers[i].as_ref().expect("alive")
    }

    /// Kills server `i` (SIGKILL).
    fn kill(&mut self, i: usize) {
        drop(self.servers[i].take());
    }

    /// The ring the proxy builds over the pool (while every server is alive).
    fn ring(&self) -> Ring {
        let servers: Vec<memkeep_ring::Server> = self
            .servers
            .iter()
            .map(|s| {
                let port = s.as_ref().expect("alive").port;
                memkeep_ring::Server::twemproxy("127.0.0.1", port, 1, None)
            })
            .collect();
        Ring::builder(servers)
            .hash(Hash::Md5)
            .distribution(Distribution::Ketama)
            .build()
            .unwrap()
    }
}

/// The servers (by index) holding a key, first replica first.
fn replicas_of(ring: &Ring, key: &str) -> Vec<usize> {
    ring.replicas_for(key.as_bytes(), 2).collect()
}

/// `get k1 k2 ...` and its whole reply.
fn multi_get(conn: &mut TcpStream, keys: &[&str]) -> String {
    use std::io::Write;
    conn.write_all(format!("get {}\r\n", keys.join(" ")).as_bytes())
        .unwrap();
    let (reply, _) = read_until(conn, Duration::from_secs(10), |got| {
        got.ends_with(b"END\r\n") || (got.starts_with(b"SERVER_ERROR") && got.ends_with(b"\r\n"))
    });
    String::from_utf8(reply).unwrap()
}

/// What memcached answers to a get of `keys` when `value_of` gives each hit.
fn expected(keys: &[&str], value_of: impl Fn(&str) -> Option<String>) -> String {
    let mut reply = String::new();
    for key in keys {
        if let Some(value) = value_of(key) {
            reply += &format!("VALUE {key} 0 {}\r\n{value}\r\n", value.len());
        }
    }
    reply + "END\r\n"
}

fn value_of(key: &str) -> Option<String> {
    key.strip_prefix("k:").map(|n| format!("value-{n}"))
}

#[test]
fn a_multi_get_reads_each_key_from_a_live_replica() {
    let mut setup = Setup::start();
    let ring = setup.ring();
    let stored: Vec<String> = (0..120).map(|i| format!("k:{i}")).collect();
    let mut conn = setup.failover();
    for key in &stored {
        assert_eq!(set(&mut conn, key, &value_of(key).unwrap()), "STORED\r\n");
    }
    // Every key is on its two replicas.
    for key in &stored {
        for i in replicas_of(&ring, key) {
            let held = get(&mut setup.server(i).connect(), key).unwrap();
            assert_eq!(held, value_of(key), "{key} on server {i}");
        }
    }
    // Server 0 is the first replica of some keys and the second of others.
    let first = stored
        .iter()
        .filter(|k| replicas_of(&ring, k)[0] == 0)
        .count();
    let second = stored
        .iter()
        .filter(|k| replicas_of(&ring, k)[1] == 0)
        .count();
    assert!(first > 0 && second > 0, "{first} first, {second} second");

    setup.kill(0);
    // Keys never stored miss; a key asked twice is answered twice, as memcached does.
    let mut keys: Vec<&str> = stored.iter().map(String::as_str).collect();
    keys.insert(7, "absent:1");
    keys.insert(30, "k:3");
    keys.push("absent:2");
    let want = expected(&keys, value_of);
    for _ in 0..3 {
        assert_eq!(multi_get(&mut conn, &keys), want, "through failover");
        assert_eq!(
            multi_get(&mut setup.repair(), &keys),
            want,
            "through read_repair"
        );
    }
    // Single gets and `mg` agree.
    for key in &stored[..10] {
        assert_eq!(get(&mut conn, key).unwrap(), value_of(key));
        let reply = exchange(&mut conn, format!("mg {key} v\r\n").as_bytes(), b"\r\n");
        let reply = String::from_utf8(reply).unwrap();
        assert!(reply.starts_with("VA "), "{key}: {reply}");
    }
}

#[test]
fn read_repair_repairs_key_by_key_while_a_replica_is_down() {
    let mut setup = Setup::start();
    let ring = setup.ring();
    let stored: Vec<String> = (0..120).map(|i| format!("k:{i}")).collect();
    let mut conn = setup.repair();
    for key in &stored {
        assert_eq!(set(&mut conn, key, &value_of(key).unwrap()), "STORED\r\n");
    }
    let holders = |key: &str| {
        let mut held = replicas_of(&ring, key);
        held.sort();
        held
    };
    // Server 1 restarts empty (its items are flushed) and server 0 dies: keys on
    // {1, 2} are answered by 2 and repaired on 1; keys on {0, 2} are answered by 2;
    // keys on {0, 1} are lost.
    setup.server(1).flush_all();
    setup.kill(0);
    let keys: Vec<&str> = stored.iter().map(String::as_str).collect();
    let lost: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| holders(k) == [0, 1])
        .collect();
    let repaired: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| holders(k) == [1, 2])
        .collect();
    assert!(!lost.is_empty() && !repaired.is_empty());
    let want = expected(&keys, |k| value_of(k).filter(|_| !lost.contains(&k)));
    assert_eq!(multi_get(&mut conn, &keys), want);
    let mut one = setup.server(1).connect();
    assert!(wait_for(Duration::from_secs(10), || repaired
        .iter()
        .all(|k| get(&mut one, k).unwrap() == value_of(k))));
    let stats = String::from_utf8(exchange(&mut conn, b"stats\r\n", b"END\r\n")).unwrap();
    let repairs = format!("STAT route_repair_reads_repairs {}\r\n", repaired.len());
    assert!(stats.contains(&repairs), "{stats}");
    // Nothing was written to the survivor that it did not hold.
    let mut two = setup.server(2).connect();
    for key in &lost {
        assert_eq!(get(&mut two, key).unwrap(), None, "{key}");
    }
}

#[test]
fn a_key_with_no_live_replica_reads_as_a_miss_unless_no_key_could_be_read() {
    let mut setup = Setup::start();
    let ring = setup.ring();
    let stored: Vec<String> = (0..120).map(|i| format!("k:{i}")).collect();
    let mut conn = setup.failover();
    for key in &stored {
        assert_eq!(set(&mut conn, key, &value_of(key).unwrap()), "STORED\r\n");
    }
    setup.kill(0);
    setup.kill(1);
    let on_two = |k: &&str| replicas_of(&ring, k).contains(&2);
    let keys: Vec<&str> = stored.iter().map(String::as_str).collect();
    let gone: Vec<&str> = keys.iter().copied().filter(|k| !on_two(k)).collect();
    assert!(!gone.is_empty() && gone.len() < keys.len());
    let want = expected(&keys, |k| value_of(k).filter(|_| on_two(&k)));
    for port in [setup.proxy.port, setup.repair_port] {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_eq!(multi_get(&mut conn, &keys), want);
        // No key readable: the error, as for a single get.
        let reply = multi_get(&mut conn, &gone);
        assert!(
            reply.starts_with("SERVER_ERROR all replica") && reply.ends_with("\r\n"),
            "{reply}"
        );
        let single = get(&mut conn, gone[0]).unwrap_err();
        assert!(single.starts_with("SERVER_ERROR all replica"), "{single}");
    }
}
