//! Clients that misbehave at scale, against both binaries (memkeepd, and
//! memkeep-proxy in front of memkeepd) and stock memcached where the reply bytes are
//! compared: a key repeated ten thousand times in one multi-get, a 100,000-key
//! multi-get, a client that never reads its replies, ten thousand connections at
//! once, a client that trickles its request, large values pipelined among small
//! ones. Each gets memcached's reply or a closed connection, the process's memory
//! stays bounded, and the next client is served normally.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use support::open_files::allow_open_files;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use harness::Proxy;
use support::{read_until, Server};

/// What a test talks to: a server, or a proxy with its backend.
struct Target {
    name: &'static str,
    port: u16,
    pid: u32,
    _processes: (Option<Proxy>, Server),
}

impl Target {
    fn server(server: Server) -> Target {
        Target {
            name: server.name,
            port: server.port,
            pid: server.pid(),
            _processes: (None, server),
        }
    }

    fn proxy(backend_flags: &[&str]) -> Target {
        let backend = Server::memkeepd(backend_flags);
        let servers = [backend.addr()];
        let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
            harness::nutcracker_yml(port, &servers, "")
        });
        Target {
            name: "memkeep-proxy",
            port: proxy.port,
            pid: proxy.pid(),
            _processes: (Some(proxy), backend),
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }
}

fn targets() -> [Target; 3] {
    [
        Target::server(Server::memkeepd(&[])),
        Target::server(Server::memcached(&[])),
        Target::proxy(&[]),
    ]
}

fn served_normally(server: &Target) {
    let mut c = server.connect();
    c.write_all(b"set after 0 0 2\r\nok\r\nget after\r\n")
        .unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(b"END\r\n"));
    assert_eq!(
        got, b"STORED\r\nVALUE after 0 2\r\nok\r\nEND\r\n",
        "{} after the hostile client",
        server.name
    );
}

fn rss_bytes(server: &Target) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid)).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// Sends `request` and reads until `end` or the server stops sending.
fn call(server: &Target, request: &[u8], end: &[u8]) -> Vec<u8> {
    let mut c = server.connect();
    let writer = {
        let mut w = c.try_clone().unwrap();
        let request = request.to_vec();
        std::thread::spawn(move || w.write_all(&request).unwrap())
    };
    let (got, _) = read_until(&mut c, Duration::from_secs(30), |g| g.ends_with(end));
    writer.join().unwrap();
    got
}

#[test]
fn a_key_repeated_ten_thousand_times_in_one_get_is_answered_like_memcached() {
    let mut replies = Vec::new();
    for server in targets() {
        let mut request = b"set k 0 0 3\r\nabc\r\nget".to_vec();
        for _ in 0..10_000 {
            request.extend_from_slice(b" k");
        }
        request.extend_from_slice(b"\r\n");
        let got = call(&server, &request, b"END\r\n");
        replies.push((server.name, got));
        served_normally(&server);
    }
    let values = |r: &[u8]| r.windows(6).filter(|w| w == b"VALUE ").count();
    assert_eq!(values(&replies[1].1), 10_000, "memcached");
    for (name, reply) in &replies {
        assert_eq!(reply, &replies[1].1, "{name} and memcached differ");
    }
}

#[test]
fn a_hundred_thousand_key_get_is_answered_like_memcached() {
    let mut replies = Vec::new();
    for server in targets() {
        let mut request = Vec::new();
        for i in 0..1_000 {
            request.extend_from_slice(format!("set key{i} {i} 0 1\r\nv\r\n").as_bytes());
        }
        request.extend_from_slice(b"get");
        // Hits and misses mixed: every tenth key exists.
        for i in 0..100_000 {
            let key = if i % 10 == 0 {
                (i / 10) % 1_000
            } else {
                1_000_000 + i
            };
            request.extend_from_slice(format!(" key{key}").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        let got = call(&server, &request, b"END\r\n");
        replies.push((server.name, got));
        served_normally(&server);
    }
    let values = |r: &[u8]| r.windows(6).filter(|w| w == b"VALUE ").count();
    assert_eq!(values(&replies[1].1), 10_000, "memcached");
    for (name, reply) in &replies {
        assert_eq!(reply, &replies[1].1, "{name} and memcached differ");
    }
}

#[test]
fn a_client_that_never_reads_does_not_grow_the_server() {
    // memkeepd stops reading once 4 MiB of replies wait; the proxy once 1,024
    // requests of this client are outstanding, each holding a 100 KiB value.
    let memkeepd = Target::server(Server::memkeepd(&["-m", "64"]));
    never_reading_client(&memkeepd, 64 << 20);
    never_reading_client(&Target::proxy(&["-m", "64"]), 160 << 20);
}

fn never_reading_client(server: &Target, bound: u64) {
    let value = vec![b'x'; 100 * 1024];
    let mut c = server.connect();
    c.write_all(format!("set big 0 0 {}\r\n", value.len()).as_bytes())
        .unwrap();
    c.write_all(&value).unwrap();
    c.write_all(b"\r\n").unwrap();
    read_until(&mut c, Duration::from_secs(10), |g| {
        g.ends_with(b"STORED\r\n")
    });
    let before = rss_bytes(server);
    // Ask for 200 GB of replies and never read one: the writer blocks once the
    // process stops reading this client (and the kernel's buffers are full), which
    // is the point.
    let hostile = server.connect();
    let mut w = hostile.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    const REQUESTS: usize = 2_000_000;
    let requests = b"get big\r\n".repeat(REQUESTS);
    let written = std::thread::spawn(move || {
        let mut sent = 0;
        for chunk in requests.chunks(64 * 1024) {
            if w.write_all(chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    })
    .join()
    .unwrap();
    assert!(
        written < REQUESTS * 9,
        "{}: kept reading from a client that reads nothing",
        server.name
    );
    let grown = rss_bytes(server).saturating_sub(before);
    assert!(
        grown < bound,
        "{}: RSS grew by {grown} bytes for one client that never reads",
        server.name
    );
    served_normally(server);
    drop(hostile);
}

#[test]
fn ten_thousand_connections_at_once_are_all_served() {
    const CONNECTIONS: usize = 10_000;
    // The proxy is started by this process and inherits its open-files limit.
    allow_open_files(CONNECTIONS as u64 + 400);
    for server in [
        Target::server(Server::memkeepd(&["-c", "10100"])),
        Target::proxy(&[]),
    ] {
        ten_thousand_connections(&server, CONNECTIONS);
    }
}

fn ten_thousand_connections(server: &Target, connections: usize) {
    const CONNECTIONS: usize = 10_000;
    assert_eq!(connections, CONNECTIONS);
    let mut conns: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|i| {
            TcpStream::connect(("127.0.0.1", server.port))
                .unwrap_or_else(|e| panic!("connection {i}: {e}"))
        })
        .collect();
    for c in &mut conns {
        c.write_all(b"version\r\n").unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while !got.ends_with(b"\r\n") {
            let n = c.read(&mut buf).unwrap_or(0);
            assert!(n > 0, "connection {i} got no reply");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"VERSION "), "connection {i}: {got:?}");
    }
    let mut stats = server.connect();
    stats.write_all(b"stats\r\n").unwrap();
    let (got, _) = read_until(&mut stats, Duration::from_secs(10), |g| {
        g.ends_with(b"END\r\n")
    });
    let text = String::from_utf8(got).unwrap();
    let curr: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("STAT curr_connections "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(curr > CONNECTIONS, "curr_connections {curr}");
    drop(conns);
    served_normally(server);
}

#[test]
fn a_client_that_trickles_a_request_is_closed_after_the_request_timeout() {
    let server = Target::server(Server::memkeepd(&["-o", "request_timeout=1"]));
    let mut slow = server.connect();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // One byte every 200 ms: the request never completes within a second. Each byte
    // arriving does not restart the clock.
    let mut closed = false;
    for &b in b"get a_key_sent_one_byte_at_a_time\r\n" {
        if slow.write_all(&[b]).is_err() {
            closed = true;
            break;
        }
        // The pace of the hostile client itself, not a wait for the server.
        std::thread::sleep(Duration::from_millis(200));
    }
    if !closed {
        let mut buf = [0u8; 64];
        closed = matches!(slow.read(&mut buf), Ok(0) | Err(_));
    }
    assert!(closed, "the trickling client was not closed");
    let mut c = server.connect();
    c.write_all(b"stats\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(b"END\r\n"));
    let text = String::from_utf8(got).unwrap();
    assert!(text.contains("STAT slow_request_kicks 1\r\n"), "{text}");
    served_normally(&server);
}

#[test]
fn a_pipeline_whose_replies_outgrow_the_write_buffer_is_answered_whole() {
    // 100 gets of a 100 KiB value sent at once, then the client only reads: ten
    // times the server's write buffer. Every reply must come, on every target.
    for server in targets() {
        let value = vec![b'y'; 100 * 1024];
        let mut request = format!("set big 0 0 {}\r\n", value.len()).into_bytes();
        request.extend_from_slice(&value);
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&b"get big\r\n".repeat(100));
        let ends = |g: &[u8]| g.windows(5).filter(|w| w == b"END\r\n").count();
        let mut c = server.connect();
        c.write_all(&request).unwrap();
        // Counting only when a reply just ended keeps the check cheap on 10 MB.
        let (got, _) = read_until(&mut c, Duration::from_secs(30), |g| {
            g.ends_with(b"END\r\n") && ends(g) == 100
        });
        let ends = ends(&got);
        assert_eq!(ends, 100, "{}: {} of 100 replies", server.name, ends);
        served_normally(&server);
    }
}

#[test]
fn large_values_come_back_byte_for_byte_among_small_ones() {
    // Values of 4 KiB to 300 KiB (several reads and writes each) next to small
    // ones, pipelined, in text and meta: the bytes must be memcached's, on every
    // target.
    let pattern = |len: usize, seed: u8| -> Vec<u8> {
        (0..len)
            .map(|i| b'a' + ((i * 7 + seed as usize) % 26) as u8)
            .collect()
    };
    let items = [
        ("big", pattern(16 * 1024, 1)),
        ("small", b"s".to_vec()),
        ("edge", pattern(4096, 2)),
        ("under", pattern(4095, 3)),
        ("huge", pattern(300 * 1024, 4)),
    ];
    let mut request = Vec::new();
    for (i, (key, value)) in items.iter().enumerate() {
        request.extend_from_slice(format!("set {key} {i} 0 {}\r\n", value.len()).as_bytes());
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"get big small edge under huge missing\r\n");
    request.extend_from_slice(b"mg huge v f k\r\nmg small v\r\nmg edge v\r\n");
    request.extend_from_slice(&b"get big\r\n".repeat(20));
    request.extend_from_slice(b"mn\r\n");
    let mut expected = b"STORED\r\n".repeat(items.len());
    for (i, (key, value)) in items.iter().enumerate() {
        expected.extend_from_slice(format!("VALUE {key} {i} {}\r\n", value.len()).as_bytes());
        expected.extend_from_slice(value);
        expected.extend_from_slice(b"\r\n");
    }
    expected.extend_from_slice(b"END\r\n");
    let meta = [(&items[4], " f4 khuge"), (&items[1], ""), (&items[2], "")];
    for ((_, value), flags) in meta {
        expected.extend_from_slice(format!("VA {}{flags}\r\n", value.len()).as_bytes());
        expected.extend_from_slice(value);
        expected.extend_from_slice(b"\r\n");
    }
    for _ in 0..20 {
        expected.extend_from_slice(format!("VALUE big 0 {}\r\n", items[0].1.len()).as_bytes());
        expected.extend_from_slice(&items[0].1);
        expected.extend_from_slice(b"\r\nEND\r\n");
    }
    expected.extend_from_slice(b"MN\r\n");
    for server in targets() {
        let mut c = server.connect();
        c.write_all(&request).unwrap();
        let (got, _) = read_until(&mut c, Duration::from_secs(30), |g| g.ends_with(b"MN\r\n"));
        assert!(
            got == expected,
            "{}: {} bytes, {} expected",
            server.name,
            got.len(),
            expected.len()
        );
    }
}
