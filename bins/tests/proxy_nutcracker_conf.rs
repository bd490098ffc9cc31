//! memkeep-proxy reads `nutcracker.yml` as twemproxy does: a table of files run
//! through both `nutcracker -t` and `memkeep-proxy -t` (they must agree, but for the
//! few things twemproxy serves and memkeep-proxy cannot: redis pools and Unix
//! sockets), and twemproxy's own test configuration, `client_connections: 0`
//! included, serving clients through both proxies.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use harness::{exchange, Proxy, TempDir};
use support::Server;

const POOL: &str = "p:\n  listen: 127.0.0.1:22121\n";
const SERVERS: &str = "  servers:\n    - 127.0.0.1:11211:1\n";

/// A pool with one more directive line.
fn with(line: &str) -> String {
    format!("{POOL}  {line}\n{SERVERS}")
}

/// A pool with these server entries.
fn servers(entries: &[&str]) -> String {
    let mut yml = format!("{POOL}  servers:\n");
    for entry in entries {
        yml.push_str(&format!("    - {entry}\n"));
    }
    yml
}

/// Whether `program -t -c FILE` accepts the file, and what it printed.
fn test_conf(program: &str, dir: &TempDir, label: &str, yml: &str) -> (bool, String) {
    let path = dir.0.join(format!("{label}.yml"));
    std::fs::write(&path, yml).unwrap();
    let out = Command::new(program)
        .arg("-t")
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), said)
}

/// Every key at 0, at its edges and missing; number, boolean, address and server
/// syntax; the YAML twemproxy turns away.
fn table() -> Vec<(&'static str, String)> {
    let mut t: Vec<(&'static str, String)> = vec![
        ("minimal", format!("{POOL}{SERVERS}")),
        ("client_connections 0", with("client_connections: 0")),
        ("client_connections 5", with("client_connections: 5")),
        ("client_connections quoted", with("client_connections: '5'")),
        ("client_connections empty", with("client_connections:")),
        ("client_connections null", with("client_connections: ~")),
        (
            "client_connections negative",
            with("client_connections: -1"),
        ),
        ("client_connections plus", with("client_connections: +5")),
        ("client_connections hex", with("client_connections: 0x10")),
        ("client_connections float", with("client_connections: 1.5")),
        ("number wraps to 0", with("client_connections: 4294967296")),
        (
            "number wraps negative",
            with("client_connections: 2147483648"),
        ),
        ("number wraps positive", with("timeout: 5000000000")),
        ("leading zeros", with("timeout: 007")),
        ("timeout 0", with("timeout: 0")),
        ("backlog 0", with("backlog: 0")),
        ("server_connections 0", with("server_connections: 0")),
        ("server_connections 2", with("server_connections: 2")),
        ("server_retry_timeout 0", with("server_retry_timeout: 0")),
        ("server_failure_limit 0", with("server_failure_limit: 0")),
        ("redis_db 0", with("redis_db: 0")),
        ("redis_db 3", with("redis_db: 3")),
        ("redis false", with("redis: false")),
        ("redis_auth without redis", with("redis_auth: secret")),
        ("tcpkeepalive", with("tcpkeepalive: true")),
        ("preconnect", with("preconnect: true")),
        ("auto_eject_hosts", with("auto_eject_hosts: true")),
        ("boolean True", with("preconnect: True")),
        ("boolean yes", with("preconnect: yes")),
        ("boolean quoted", with("preconnect: 'false'")),
        ("unknown key", with("foo: 1")),
        ("duplicate key", with("timeout: 1\n  timeout: 2")),
        ("hash_tag two", with("hash_tag: \"{}\"")),
        ("hash_tag one", with("hash_tag: a")),
        ("hash_tag three", with("hash_tag: abc")),
        ("hash_tag empty", with("hash_tag: ''")),
        ("hash_tag two bytes", with("hash_tag: 'é'")),
        ("hash unknown", with("hash: foo")),
        ("distribution random", with("distribution: random")),
        ("distribution modula", with("distribution: modula")),
        ("distribution case", with("distribution: Ketama")),
        (
            "comments and quotes",
            format!("# pools\n{POOL}  timeout: \"5\" # ms\n{SERVERS}"),
        ),
        ("document start", format!("---\n{POOL}{SERVERS}")),
        ("document end", format!("{POOL}{SERVERS}...\n")),
        (
            "flow sequence",
            format!("{POOL}  servers: [127.0.0.1:11211:1]\n"),
        ),
        (
            "flow mapping",
            "p: {listen: 127.0.0.1:22121, servers: [127.0.0.1:11211:1]}\n".into(),
        ),
        ("anchor and alias", with("timeout: &t 5\n  backlog: *t")),
        ("tag", with("timeout: !!int 5")),
        ("nested mapping", with("x:\n    y: 1")),
        (
            "scalar servers",
            format!("{POOL}  servers: 127.0.0.1:11211:1\n"),
        ),
        ("no servers", POOL.into()),
        ("empty servers", format!("{POOL}  servers:\n")),
        (
            "listen as a sequence",
            format!("p:\n  listen:\n    - 127.0.0.1:22121\n{SERVERS}"),
        ),
        (
            "a number as a sequence",
            format!("{POOL}  timeout:\n    - 5\n  servers: 127.0.0.1:11211:1\n"),
        ),
        ("no listen", format!("p:\n{SERVERS}")),
        ("empty file", String::new()),
        ("top-level sequence", "- a\n".into()),
        ("pool without mapping", "p: x\n".into()),
        ("tab indentation", "p:\n\tlisten: 127.0.0.1:22121\n".into()),
        ("crlf", format!("{POOL}{SERVERS}").replace('\n', "\r\n")),
        (
            "listen port 0",
            format!("p:\n  listen: 127.0.0.1:0\n{SERVERS}"),
        ),
        (
            "listen port too big",
            format!("p:\n  listen: 127.0.0.1:70000\n{SERVERS}"),
        ),
        (
            "listen no port",
            format!("p:\n  listen: 127.0.0.1\n{SERVERS}"),
        ),
        ("listen no host", format!("p:\n  listen: :22121\n{SERVERS}")),
        (
            "listen host name",
            format!("p:\n  listen: localhost:22121\n{SERVERS}"),
        ),
        (
            "listen unresolvable",
            format!("p:\n  listen: nosuchhost.invalid:22121\n{SERVERS}"),
        ),
        ("listen ipv6", format!("p:\n  listen: ::1:22121\n{SERVERS}")),
        (
            "listen ipv6 brackets",
            format!("p:\n  listen: '[::1]:22121'\n{SERVERS}"),
        ),
        (
            "two pools",
            format!("{POOL}{SERVERS}q:\n  listen: 127.0.0.1:22122\n{SERVERS}"),
        ),
        (
            "same listen",
            format!("{POOL}{SERVERS}q:\n  listen: 127.0.0.1:22121\n{SERVERS}"),
        ),
        (
            "same pool name",
            format!("{POOL}{SERVERS}p:\n  listen: 127.0.0.1:22122\n{SERVERS}"),
        ),
    ];
    for (label, entries) in [
        ("server weight 0", &["127.0.0.1:11211:0"][..]),
        ("server weight negative", &["127.0.0.1:11211:-1"]),
        ("server weight missing", &["127.0.0.1:11211"]),
        ("server weight wraps", &["127.0.0.1:11211:4294967297"]),
        ("server name", &["127.0.0.1:11211:1 cache-a"]),
        ("server two names", &["127.0.0.1:11211:1 a b"]),
        ("server port 0", &["127.0.0.1:0:1"]),
        ("server port too big", &["127.0.0.1:65536:1"]),
        ("server unresolvable", &["nosuchhost.invalid:11211:1"]),
        ("server ipv6", &["::1:11211:1"]),
        ("server empty", &["''"]),
        ("server leading space", &["' 127.0.0.1:11211:1'"]),
        (
            "servers same address",
            &["127.0.0.1:11211:1", "127.0.0.1:11211:2"],
        ),
        (
            "servers same name",
            &["127.0.0.1:11211:1 a", "127.0.0.1:11212:1 a"],
        ),
        (
            "servers same address, names differ",
            &["127.0.0.1:11211:1 a", "127.0.0.1:11211:1 b"],
        ),
        (
            "server named like an unnamed one",
            &["127.0.0.1:11211:1", "127.0.0.1:11212:1 127.0.0.1"],
        ),
        (
            "servers ports differ",
            &["127.0.0.1:11211:1", "127.0.0.1:11212:1"],
        ),
    ] {
        t.push((label, servers(entries)));
    }
    t
}

/// What twemproxy accepts and memkeep-proxy refuses on purpose, and the word that
/// says why.
fn memkeep_cannot(label: &str, yml: &str) -> Option<&'static str> {
    if label.starts_with("redis ") && yml.contains("redis: true") {
        return Some("redis");
    }
    let unix = yml
        .lines()
        .any(|l| l.trim_start().starts_with("listen: /") || l.trim_start().starts_with("- /"));
    unix.then_some("Unix socket")
}

#[test]
fn test_conf_accepts_and_refuses_what_nutcracker_does() {
    let dir = TempDir::new();
    let mut table = table();
    // Served by twemproxy, refused by memkeep-proxy with a reason.
    table.push(("redis true", with("redis: true")));
    table.push((
        "listen unix",
        format!("p:\n  listen: {}/sock 0666\n{SERVERS}", dir.0.display()),
    ));
    table.push(("server unix", servers(&["/tmp/memcached.sock:1 a"])));
    let mut disagreements = Vec::new();
    for (label, yml) in &table {
        let (twemproxy, _) = test_conf("nutcracker", &dir, "nutcracker", yml);
        let (ours, said) = test_conf(env!("CARGO_BIN_EXE_memkeep-proxy"), &dir, "ours", yml);
        match memkeep_cannot(label, yml) {
            Some(reason) => {
                assert!(twemproxy, "{label}: nutcracker refuses it");
                assert!(!ours && said.contains(reason), "{label}: {said}");
            }
            None if twemproxy != ours => disagreements.push(format!(
                "{label}: nutcracker {}, memkeep-proxy {} ({})",
                if twemproxy { "accepts" } else { "refuses" },
                if ours { "accepts" } else { "refuses" },
                said.trim()
            )),
            None => {}
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // The table is not one-sided.
    let accepted = table
        .iter()
        .filter(|(label, yml)| test_conf("nutcracker", &dir, label, yml).0)
        .count();
    assert!(accepted > 20 && accepted < table.len() - 20, "{accepted}");
}

/// twemproxy's own test suite's pool (tests/lib/server_modules.py), as it writes it
/// for memcached: `client_connections: 0`, `redis_db`, `preconnect`, modula.
fn twemproxy_test_pool(port: u16, servers: &[Server]) -> String {
    let mut yml = format!(
        "mc:\n  listen: 127.0.0.1:{port}\n  redis_db: 0\n  hash: fnv1a_64\n  \
         distribution: modula\n  preconnect: true\n  auto_eject_hosts: false\n  \
         redis: false\n  backlog: 512\n  timeout: 400\n  client_connections: 0\n  \
         server_connections: 1\n  server_retry_timeout: 2000\n  server_failure_limit: 2\n  \
         servers:\n"
    );
    for (i, server) in servers.iter().enumerate() {
        yml.push_str(&format!("    - {}:1 mc{i}\n", server.addr()));
    }
    yml
}

/// Every number that may be 0 at 0 (`timeout: 0` waits forever in twemproxy), but
/// `backlog` (0 is passed to `listen(2)` by both, and 20 clients connecting at once
/// would wait on SYN retries).
fn zeros_pool(port: u16, servers: &[Server]) -> String {
    let mut yml = format!(
        "zeros:\n  listen: 127.0.0.1:{port}\n  timeout: 0\n  \
         client_connections: 0\n  redis_db: 0\n  tcpkeepalive: true\n  \
         auto_eject_hosts: true\n  server_retry_timeout: 0\n  server_failure_limit: 0\n  \
         servers:\n"
    );
    for server in servers {
        yml.push_str(&format!("    - {}:1\n", server.addr()));
    }
    yml
}

#[test]
fn client_connections_zero_serves_every_client_as_nutcracker_does() {
    let servers = [Server::memcached(&[]), Server::memcached(&[])];
    let pools: [fn(u16, &[Server]) -> String; 2] = [twemproxy_test_pool, zeros_pool];
    let proxies = pools.into_iter().flat_map(|pool| {
        let servers = &servers;
        [
            Proxy::nutcracker(move |port| pool(port, servers)),
            Proxy::memkeep("-c", "nutcracker.yml", move |port| pool(port, servers)),
        ]
    });
    for proxy in proxies {
        // Many clients at once, each with its own keys.
        let mut clients: Vec<_> = (0..20).map(|_| proxy.connect()).collect();
        for (i, conn) in clients.iter_mut().enumerate() {
            conn.write_all(format!("set k{i} 0 0 2\r\nv{}\r\n", i % 10).as_bytes())
                .unwrap();
        }
        for (i, conn) in clients.iter_mut().enumerate() {
            let stored = exchange(conn, b"", b"\r\n");
            assert_eq!(stored, b"STORED\r\n", "client {i}");
            let reply = exchange(conn, format!("get k{i}\r\n").as_bytes(), b"END\r\n");
            assert_eq!(
                String::from_utf8(reply).unwrap(),
                format!("VALUE k{i} 0 2\r\nv{}\r\nEND\r\n", i % 10)
            );
        }
    }
}
