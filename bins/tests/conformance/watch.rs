//! `watch`: a connection that sends it gets `OK` and then a log line per event of the
//! kinds it asked for. The same commands are run against memcached and memkeepd and
//! the lines compared once what differs by nature is masked: the time and log id
//! (`ts=`, `gid=`), client file descriptors and ports, and the class memcached 1.6.18
//! prints for a refused too-large store (its client's descriptor, a memcached bug).

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{read_until, wait_for, Server};

/// A connection watching `kinds`, past its `OK`.
pub fn watcher(server: &Server, kinds: &str) -> TcpStream {
    watching(server, server.connect(), kinds)
}

/// `conn` made a watcher of `kinds`, past its `OK`.
fn watching(server: &Server, mut conn: TcpStream, kinds: &str) -> TcpStream {
    conn.write_all(format!("watch {kinds}\r\n").as_bytes())
        .unwrap();
    let (ok, _) = read_until(&mut conn, Duration::from_secs(5), |g| g.len() >= 4);
    assert_eq!(ok, b"OK\r\n", "{}: watch", server.name);
    conn
}

/// The lines a watcher receives until one contains `last`.
pub fn lines_until(conn: &mut TcpStream, last: &str, who: &str) -> Vec<String> {
    let needle = last.as_bytes();
    let (got, _) = read_until(conn, Duration::from_secs(10), |g| {
        g.windows(needle.len()).any(|w| w == needle) && g.ends_with(b"\n")
    });
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.contains(last), "{who}: no {last:?} in {text:?}");
    text.lines().map(normalize).collect()
}

/// A line with what differs by nature masked.
fn normalize(line: &str) -> String {
    let too_large = line.contains("status=too_large");
    line.split(' ')
        .filter(|f| !f.starts_with("ts=") && !f.starts_with("gid="))
        .map(|field| match field.split_once('=') {
            Some(("cfd" | "rport", _)) => format!("{}=?", &field[..field.find('=').unwrap()]),
            Some(("clsid", _)) if too_large => "clsid=?".to_owned(),
            _ => field.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the commands on a fresh connection, reading their replies up to `MN`.
pub fn run(server: &Server, commands: &[u8]) {
    let mut conn = server.connect();
    conn.write_all(commands).unwrap();
    conn.write_all(b"mn\r\n").unwrap();
    let (got, _) = read_until(&mut conn, Duration::from_secs(10), |g| {
        g.ends_with(b"MN\r\n")
    });
    assert!(
        got.ends_with(b"MN\r\n"),
        "{}: commands not answered",
        server.name
    );
}

/// The commands whose fetches and stores are compared: every lookup a command makes
/// is a fetch, every store (refused ones too) a mutation.
pub fn commands() -> Vec<u8> {
    let mut c = b"set foo 5 0 3\r\nbar\r\nadd foo 0 0 1\r\nx\r\nappend foo 0 0 1\r\nx\r\n\
cas foo 0 0 1 1\r\nx\r\nget foo nope\r\ngets foo\r\nmg foo v\r\ntouch foo 100\r\n\
gat 100 foo\r\nincr foo 1\r\nincr nope 1\r\nset n 0 0 1\r\n5\r\ndecr n 1\r\nma n\r\n\
delete foo\r\nmd n\r\nms k 2 T50 MS\r\nhi\r\nms k 1 MA\r\n!\r\nreplace nope 0 0 1\r\nx\r\n\
prepend nope 0 0 1\r\nx\r\nset a\x01b 0 0 1\r\nx\r\n"
        .to_vec();
    let big = 1024 * 1024 + 1;
    c.extend_from_slice(format!("set k 0 0 {big}\r\n").as_bytes());
    c.resize(c.len() + big, b'z');
    c.extend_from_slice(b"\r\nget last\r\nset last 0 0 1\r\nx\r\n");
    c
}

/// The lines of one watch of fetches and stores over [`commands`].
pub fn fetches_and_stores(server: &Server) -> Vec<String> {
    let mut watch = watcher(server, "fetchers mutations");
    run(server, &commands());
    lines_until(&mut watch, "key=last status=stored", server.name)
}

/// The lines of one watch of connection events: a client that connects and quits.
pub fn connection_events(server: &Server) -> Vec<String> {
    // The earlier steps' connections may still be closing, and their conn_close would
    // reach the watch: it starts once its connection is the server's only client.
    let mut conn = server.connect();
    let mut conns = String::new();
    let alone = wait_for(Duration::from_secs(10), || {
        conn.write_all(b"stats conns\r\n").unwrap();
        let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| {
            g.ends_with(b"END\r\n")
        });
        conns = String::from_utf8_lossy(&got).into_owned();
        conns.matches(":listen_addr ").count() == 1
    });
    assert!(
        alone,
        "{}: other clients stay connected: {conns}",
        server.name
    );
    let mut watch = watching(server, conn, "connevents");
    let mut conn = server.connect();
    conn.write_all(b"quit\r\n").unwrap();
    let (_, closed) = read_until(&mut conn, Duration::from_secs(5), |_| false);
    assert!(closed, "{}: quit did not close", server.name);
    lines_until(&mut watch, "type=conn_close", server.name)
}

/// A watch of evictions on a small evicting server filled with 100 KB values: the
/// first eviction line's fields, the key, TTL, idle time and class masked (which item
/// goes first is each cache's own policy).
pub fn first_eviction(server: &Server) -> String {
    let mut watch = watcher(server, "evictions");
    let mut conn = server.connect();
    let big = "v".repeat(100_000);
    for i in 0..200 {
        conn.write_all(format!("set fill{i} 0 0 100000\r\n{big}\r\n").as_bytes())
            .unwrap();
        let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| g.ends_with(b"\r\n"));
        assert_eq!(got, b"STORED\r\n", "{}", server.name);
    }
    let line = lines_until(&mut watch, "type=eviction", server.name)
        .into_iter()
        .find(|l| l.contains("type=eviction"))
        .unwrap();
    line.split(' ')
        .map(|field| match field.split_once('=') {
            Some((name @ ("key" | "la" | "clsid"), _)) => format!("{name}=?"),
            _ => field.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
