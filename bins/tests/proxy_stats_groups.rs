//! Every `stats` group and administrative command through memkeep-proxy: in front of
//! one server it answers as the server does when asked directly (stock memcached and
//! memkeepd), in front of several it sends them to every server and joins their
//! listings under one `END`, and no reply costs a client or the shared backend
//! connection anything. `watch` is the proxy's own log stream.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;

use harness::{exchange, nutcracker_yml, Proxy};
use support::Server;

/// Groups whose replies are the same on two fresh servers given the same requests
/// (`STAT` values masked).
const GROUPS: &[&str] = &[
    "stats cachedump 1 0",
    "stats cachedump 1 1",
    "stats cachedump 2 0",
    "stats cachedump",
    "stats cachedump x y",
    "stats cachedump 99 1",
    "stats detail on",
    "stats detail off",
    "stats detail",
    "stats detail foo",
    "stats sizes",
    "stats sizes_enable",
    "stats sizes",
    "stats sizes_disable",
    "stats foo",
    "stats items",
    "stats slabs",
    "stats settings",
    "stats extstore",
    "stats reset",
];

/// Administrative commands: each server's answer passes through (`noreply`
/// honoured as memcached honours it).
const ADMIN: &[&str] = &[
    "cache_memlimit 100",
    "cache_memlimit 0",
    "cache_memlimit x",
    "cache_memlimit 100 noreply",
    "slabs automove 1",
    "slabs automove 9",
    "slabs automove ratio 0.5",
    "slabs reassign 1 2",
    "slabs reassign 1",
    "slabs foo",
    "lru_crawler sleep 10",
    "lru_crawler tocrawl 5",
    // One crawl only: a second may find the first still running (BUSY) or not.
    "lru_crawler crawl all",
    "lru_crawler foo",
    "lru_crawler disable",
    "misbehave",
    "debugtime 10",
    "verbosity 1",
    "verbosity",
];

/// What follows each group: its reply ends the exchange, so a group's reply that
/// ran on (or stopped short) would show.
const SENTINEL: &[u8] = b"get a\r\n";
const SENTINEL_REPLY: &[u8] = b"VALUE a 1 1\r\nb\r\nEND\r\n";

/// `STAT name value` lines as `STAT name`: values (pids, times, sizes) differ
/// between two servers.
fn masked(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply)
        .split_inclusive("\r\n")
        .map(|line| match line.strip_prefix("STAT ") {
            Some(stat) => format!("STAT {}\r\n", stat.split(' ').next().unwrap_or_default()),
            None => line.to_owned(),
        })
        .collect()
}

/// Each group's reply, asked on one connection after storing two items.
fn replies(conn: std::net::TcpStream) -> Vec<String> {
    replies_to(conn, GROUPS)
}

/// Each command's reply, asked on one connection after storing two items.
fn replies_to(mut conn: std::net::TcpStream, commands: &[&str]) -> Vec<String> {
    for (key, value) in [("a", "b"), ("k:x", "long value for class 2 ....................................................................................")] {
        let set = format!("set {key} 1 0 {}\r\n{value}\r\n", value.len());
        assert_eq!(exchange(&mut conn, set.as_bytes(), b"\r\n"), b"STORED\r\n");
    }
    commands
        .iter()
        .map(|group| {
            let mut ask = format!("{group}\r\n").into_bytes();
            ask.extend_from_slice(SENTINEL);
            let reply = exchange(&mut conn, &ask, SENTINEL_REPLY);
            assert!(reply.ends_with(SENTINEL_REPLY), "{group}: {reply:?}");
            masked(&reply[..reply.len() - SENTINEL_REPLY.len()])
        })
        .collect()
}

/// Starts a fresh server of one kind.
type Start = fn() -> Server;

#[test]
fn every_stats_group_passes_through_as_the_server_answers_it() {
    // memcached dumps items with cachedump only without the segmented LRU.
    let servers: [(&str, Start); 2] = [
        ("memcached", || Server::memcached(&["-o", "no_modern"])),
        ("memkeepd", || Server::memkeepd(&[])),
    ];
    for (name, start) in servers {
        let direct = start();
        let behind = start();
        let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
            nutcracker_yml(port, &[behind.addr()], "")
        });
        let expected = replies(direct.connect());
        let got = replies(proxy.connect());
        for ((group, want), got) in GROUPS.iter().zip(&expected).zip(&got) {
            assert_eq!(got, want, "{name}: {group}");
        }
        if name == "memcached" {
            assert!(
                expected[0].starts_with("ITEM a [1 b; 0 s]\r\n"),
                "{expected:?}"
            );
            assert_eq!(expected[11], "STAT sizes_status\r\n");
        }
    }
}

#[test]
fn listings_of_every_server_are_joined_and_nobody_loses_a_connection() {
    let servers = [
        Server::memcached(&["-o", "no_modern"]),
        Server::memcached(&["-o", "no_modern"]),
    ];
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs, "")
    });
    let mut conn = proxy.connect();
    let mut other = proxy.connect();
    // Varied keys: twemproxy's fnv1a_64 puts a run like key0..key19 on one server.
    let keys: Vec<String> = (0..40).map(|i| format!("k{}x{i}", i * 7919)).collect();
    for key in &keys {
        let set = format!("set {key} 0 0 1\r\nv\r\n");
        assert_eq!(exchange(&mut conn, set.as_bytes(), b"\r\n"), b"STORED\r\n");
    }
    // Both servers hold some of the keys.
    for server in &servers {
        let mut direct = server.connect();
        let dump = exchange(&mut direct, b"stats cachedump 1 0\r\n", b"END\r\n");
        let held = String::from_utf8_lossy(&dump).matches("ITEM ").count();
        assert!(held > 0 && held < keys.len(), "{held}");
    }
    let dump =
        String::from_utf8(exchange(&mut conn, b"stats cachedump 1 0\r\n", b"END\r\n")).unwrap();
    let mut dumped: Vec<&str> = dump
        .lines()
        .filter_map(|l| l.strip_prefix("ITEM "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    dumped.sort_unstable();
    let mut want: Vec<&str> = keys.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(dumped, want);
    assert_eq!(dump.matches("END\r\n").count(), 1);
    // One line from two servers that each answer one line.
    conn.write_all(b"stats sizes_enable\r\nget k0x0\r\n")
        .unwrap();
    let reply = exchange(&mut conn, b"", b"VALUE k0x0 0 1\r\nv\r\nEND\r\n");
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        "STAT sizes_status enabled\r\nVALUE k0x0 0 1\r\nv\r\nEND\r\n"
    );
    let items = String::from_utf8(exchange(&mut conn, b"stats items\r\n", b"END\r\n")).unwrap();
    assert_eq!(items.matches("STAT items:1:number ").count(), 2, "{items}");
    let stat = |conn: &mut std::net::TcpStream, name: &str| {
        let stats = String::from_utf8(exchange(conn, b"stats\r\n", b"END\r\n")).unwrap();
        let line = format!("STAT {name} ");
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&line).map(str::to_owned))
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
    };
    assert_ne!(stat(&mut conn, "get_hits"), "0");
    // The proxy's counters and every server's start again.
    assert_eq!(
        exchange(&mut conn, b"stats reset\r\n", b"\r\n"),
        b"RESET\r\n"
    );
    assert_eq!(stat(&mut conn, "get_hits"), "0");
    assert_eq!(stat(&mut conn, "cmd_get"), "0");
    for server in &servers {
        assert_eq!(stat(&mut server.connect(), "get_hits"), "0");
    }
    assert_eq!(
        exchange(&mut conn, b"stats detail on\r\n", b"\r\n"),
        b"OK\r\n"
    );
    assert_eq!(
        exchange(&mut conn, b"stats nonsense\r\n", b"\r\n"),
        b"ERROR\r\n"
    );
    // Every client goes on, on the same shared backend connections.
    for conn in [&mut conn, &mut other] {
        assert_eq!(
            exchange(conn, b"get k7919x1\r\n", b"END\r\n"),
            b"VALUE k7919x1 0 1\r\nv\r\nEND\r\n"
        );
    }
}

#[test]
fn admin_commands_pass_through_as_the_server_answers_them() {
    let servers: [(&str, Start); 2] = [
        ("memcached", || Server::memcached(&[])),
        ("memkeepd", || Server::memkeepd(&[])),
    ];
    for (name, start) in servers {
        let direct = start();
        let behind = start();
        let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
            nutcracker_yml(port, &[behind.addr()], "")
        });
        let expected = replies_to(direct.connect(), ADMIN);
        let got = replies_to(proxy.connect(), ADMIN);
        for ((command, want), got) in ADMIN.iter().zip(&expected).zip(&got) {
            assert_eq!(got, want, "{name}: {command}");
        }
        assert_eq!(expected[0], "OK\r\n", "{name}");
    }
}

#[test]
fn admin_commands_reach_every_server_and_watch_is_the_proxys() {
    let servers = [Server::memcached(&[]), Server::memcached(&[])];
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs, "")
    });
    let mut conn = proxy.connect();
    assert_eq!(
        exchange(&mut conn, b"cache_memlimit 100\r\n", b"\r\n"),
        b"OK\r\n"
    );
    for server in &servers {
        let mut direct = server.connect();
        let settings = exchange(&mut direct, b"stats\r\n", b"END\r\n");
        let settings = String::from_utf8(settings).unwrap();
        assert!(
            settings.contains("STAT limit_maxbytes 104857600\r\n"),
            "{settings}"
        );
    }
    // One server's refusal is the answer.
    assert_eq!(
        exchange(&mut conn, b"cache_memlimit 0\r\n", b"\r\n"),
        b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
    );
    // watch: OK, then the proxy's own log lines (here a client connecting), as
    // memcached streams its own; the servers' connections are untouched.
    let mut watcher = proxy.connect();
    assert_eq!(
        exchange(&mut watcher, b"watch connevents\r\n", b"\r\n"),
        b"OK\r\n"
    );
    let _another = proxy.connect();
    let line = exchange(&mut watcher, b"", b"\n");
    let line = String::from_utf8(line).unwrap();
    assert!(line.contains("type=conn_new"), "{line}");
    assert_eq!(exchange(&mut conn, b"get k\r\n", b"END\r\n"), b"END\r\n");
}
