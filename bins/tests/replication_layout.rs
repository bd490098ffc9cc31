//! The layout people build from repcached and magent, end to end: three replicated
//! memkeepd pairs, a magent-mode memkeep-proxy in front of each pair (`-s` its first
//! node, `-b` its second), and a second proxy tier sharding over those three. Every
//! process sits behind a relay so it can be killed and restarted on a new port.
//! Under read and write load, one process at a time is killed with SIGKILL and
//! restarted: reads keep succeeding (a node's keys are served by its pair mate; a
//! dead first-tier proxy is ejected by the second tier), and a restarted node
//! catches up (it holds every key its mate holds once it reports synced).

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::{exchange, Proxy};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::relay::Relay;
use support::{free_port, wait_for, Server};

/// Keys written before the faults, spread over the three pairs by the top tier.
const KEYS: usize = 3_000;

struct Node {
    server: Server,
    repl_port: u16,
    relay: Relay,
}

struct Pair {
    nodes: [Node; 2],
}

fn memkeepd(repl_port: u16, peer: Option<u16>) -> Server {
    let own = repl_port.to_string();
    match peer {
        None => Server::memkeepd(&["-t", "1", "-X", &own]),
        Some(p) => Server::memkeepd(&["-t", "1", "-X", &own, "-x", &format!("127.0.0.1:{p}")]),
    }
}

fn stats(server: &Server) -> String {
    String::from_utf8_lossy(&exchange(&mut server.connect(), b"stats\r\n", b"END\r\n")).into_owned()
}

fn wait_synced(server: &Server) {
    let ok = wait_for(Duration::from_secs(30), || {
        let s = stats(server);
        s.contains("STAT repl_state synced\r\n") && !s.contains("STAT repl_links 0\r\n")
    });
    assert!(ok, "{} never synced: {}", server.port, stats(server));
}

impl Pair {
    fn start() -> Pair {
        let (ra, rb) = (free_port(), free_port());
        let a = memkeepd(ra, None);
        let b = memkeepd(rb, Some(ra));
        wait_synced(&b);
        wait_synced(&a);
        let node = |server: Server, repl_port: u16| Node {
            relay: Relay::start(server.port),
            server,
            repl_port,
        };
        Pair {
            nodes: [node(a, ra), node(b, rb)],
        }
    }

    /// SIGKILL node `i`, then start it empty, pointed at its mate to copy from.
    fn kill_and_restart(&mut self, i: usize) {
        let node = &self.nodes[i];
        kill(Pid::from_raw(node.server.pid() as i32), Signal::SIGKILL).unwrap();
        let mate = self.nodes[1 - i].repl_port;
        let server = memkeepd(node.repl_port, Some(mate));
        self.nodes[i].relay.retarget(server.port);
        self.nodes[i].server = server;
        wait_synced(&self.nodes[i].server);
    }
}

/// A magent-mode proxy over a pair, behind a relay.
struct Front {
    proxy: Proxy,
    relay: Relay,
    args: Vec<String>,
}

impl Front {
    fn start(pair: &Pair) -> Front {
        let args = vec![
            "-s".to_owned(),
            pair.nodes[0].relay.addr(),
            "-b".to_owned(),
            pair.nodes[1].relay.addr(),
            "--timeout".to_owned(),
            "500".to_owned(),
        ];
        let proxy = Proxy::magent(&args.iter().map(String::as_str).collect::<Vec<_>>());
        Front {
            relay: Relay::start(proxy.port),
            proxy,
            args,
        }
    }

    fn kill_and_restart(&mut self) {
        self.proxy.signal(Signal::SIGKILL);
        self.proxy = Proxy::magent(&self.args.iter().map(String::as_str).collect::<Vec<_>>());
        self.relay.retarget(self.proxy.port);
    }
}

fn top_tier(fronts: &[Front]) -> Proxy {
    let servers: Vec<String> = fronts
        .iter()
        .map(|f| format!("\"{}\"", f.relay.addr()))
        .collect();
    let servers = servers.join(", ");
    Proxy::memkeep("--config", "top.toml", |port| {
        format!(
            r#"
[pools.pairs]
servers = [{servers}]
hash = "md5"
timeout_ms = 1000
eject = {{ failure_limit = 2, retry_timeout_ms = 300, rebuild_ring = true }}

[[listeners]]
listen = "127.0.0.1:{port}"
route = "pairs"
"#
        )
    })
}

fn value_of(key: usize) -> String {
    format!("value-of-{key}")
}

/// One request, one reply: None when the reply did not come (an error for the load).
fn call(conn: &mut TcpStream, request: &[u8], end: &[u8]) -> Option<Vec<u8>> {
    conn.write_all(request).ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !(got.ends_with(end) || got.starts_with(b"SERVER_ERROR") && got.ends_with(b"\r\n")) {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(got)
}

/// What the readers saw.
#[derive(Default)]
struct Seen {
    reads: AtomicU64,
    errors: AtomicU64,
    misses: AtomicU64,
    wrong: AtomicU64,
}

/// Readers of the preloaded keys through `port`, until `stop`.
fn readers(
    port: u16,
    seen: &Arc<Seen>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..3)
        .map(|t| {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn: Option<TcpStream> = None;
                let mut k = t * 977;
                while !stop.load(Ordering::Relaxed) {
                    k = (k + 7919) % KEYS;
                    if conn.is_none() {
                        conn = TcpStream::connect(("127.0.0.1", port)).ok();
                        if let Some(c) = &conn {
                            c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                        }
                    }
                    let Some(c) = conn.as_mut() else {
                        seen.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    seen.reads.fetch_add(1, Ordering::Relaxed);
                    let request = format!("get key{k}\r\n");
                    match call(c, request.as_bytes(), b"END\r\n") {
                        None => {
                            seen.errors.fetch_add(1, Ordering::Relaxed);
                            conn = None;
                        }
                        Some(r) if r == b"END\r\n" => {
                            seen.misses.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(r) if r.starts_with(b"VALUE ") => {
                            let want = value_of(k);
                            if !String::from_utf8_lossy(&r).contains(&format!("\r\n{want}\r\n")) {
                                seen.wrong.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(_) => {
                            seen.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect()
}

/// Every preloaded key read through `top` has its value (multi-gets of 100 keys).
fn all_readable(top: &Proxy) -> bool {
    let mut c = top.connect();
    (0..KEYS).step_by(100).all(|first| {
        let keys: Vec<String> = (first..first + 100).map(|k| format!("key{k}")).collect();
        let r = exchange(
            &mut c,
            format!("get {}\r\n", keys.join(" ")).as_bytes(),
            b"END\r\n",
        );
        let text = String::from_utf8_lossy(&r);
        (first..first + 100).all(|k| text.contains(&format!("\r\n{}\r\n", value_of(k))))
    })
}

/// Both nodes of `pair` hold the same value for every key either holds.
fn pair_agrees(pair: &Pair) {
    let read = |server: &Server, k: usize| {
        exchange(
            &mut server.connect(),
            format!("get key{k}\r\n").as_bytes(),
            b"END\r\n",
        )
    };
    for k in 0..KEYS {
        let (a, b) = (
            read(&pair.nodes[0].server, k),
            read(&pair.nodes[1].server, k),
        );
        assert_eq!(a, b, "key{k} differs between the nodes of a pair");
    }
}

#[test]
fn three_pairs_behind_magent_proxies_behind_a_second_tier_survive_any_one_kill() {
    let mut pairs = [Pair::start(), Pair::start(), Pair::start()];
    let mut fronts: Vec<Front> = pairs.iter().map(Front::start).collect();
    let top = top_tier(&fronts);
    let mut c = top.connect();
    let preload: Vec<u8> = (0..KEYS)
        .flat_map(|k| {
            let v = value_of(k);
            format!("set key{k} 0 0 {}\r\n{v}\r\n", v.len()).into_bytes()
        })
        .collect();
    c.write_all(&preload).unwrap();
    let (got, _) = support::read_until(&mut c, Duration::from_secs(30), |g| {
        g.windows(8).filter(|w| w == b"STORED\r\n").count() == KEYS
    });
    assert_eq!(got.windows(8).filter(|w| w == b"STORED\r\n").count(), KEYS);
    // Every pair holds its share on both nodes (magent writes to main and backup).
    assert!(wait_for(Duration::from_secs(10), || {
        pairs.iter().all(|p| {
            let items = |s: &Server| {
                stats(s)
                    .lines()
                    .find_map(|l| l.strip_prefix("STAT curr_items "))
                    .map(|n| n.trim().parse::<u64>().unwrap())
            };
            let (a, b) = (items(&p.nodes[0].server), items(&p.nodes[1].server));
            a == b && a.unwrap_or(0) > 0
        })
    }));

    let faults: [(&str, usize); 3] = [
        ("first node of pair 0", 0),
        ("proxy of pair 1", 1),
        ("second node of pair 2", 2),
    ];
    for (what, i) in faults {
        let (seen, stop) = (Arc::new(Seen::default()), Arc::new(AtomicBool::new(false)));
        let threads = readers(top.port, &seen, &stop);
        assert!(wait_for(Duration::from_secs(10), || seen
            .reads
            .load(Ordering::Relaxed)
            > 300));
        match i {
            0 => pairs[0].kill_and_restart(0),
            1 => fronts[1].kill_and_restart(),
            _ => pairs[2].kill_and_restart(1),
        }
        let after = seen.reads.load(Ordering::Relaxed);
        assert!(wait_for(Duration::from_secs(20), || {
            seen.reads.load(Ordering::Relaxed) > after + 300
        }));
        stop.store(true, Ordering::Relaxed);
        threads.into_iter().for_each(|t| t.join().unwrap());
        let (errors, misses, wrong) = (
            seen.errors.load(Ordering::Relaxed),
            seen.misses.load(Ordering::Relaxed),
            seen.wrong.load(Ordering::Relaxed),
        );
        eprintln!(
            "{what}: {} reads, {errors} errors, {misses} misses, {wrong} wrong",
            seen.reads.load(Ordering::Relaxed)
        );
        assert_eq!(wrong, 0, "{what}: wrong values");
        if i == 1 {
            // The second tier ejects the dead proxy after its failure limit; its keys
            // then go to the other proxies, where they miss until it is back.
            assert!(errors <= 3 * 3, "{what}: {errors} read errors");
        } else {
            // A node's mate serves its keys: nothing fails but requests in flight.
            assert!(errors <= 3, "{what}: {errors} read errors");
            assert_eq!(misses, 0, "{what}: reads missed");
        }
        assert!(
            wait_for(Duration::from_secs(30), || all_readable(&top)),
            "{what}: not every key readable after the restart"
        );
    }
    // The restarted nodes caught up: each pair's nodes hold the same items.
    for pair in &pairs {
        pair_agrees(pair);
    }
}
