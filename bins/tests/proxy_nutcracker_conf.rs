//! memkeep-proxy reads `nutcracker.yml` as twemproxy does: a table of files run
//! through both `nutcracker -t` and `memkeep-proxy -t` (they must agree, but for
//! redis pools, which memkeep-proxy cannot serve), twemproxy's own test
//! configuration, `client_connections: 0` included, and a pool listening on a Unix
//! socket over servers on Unix sockets, serving clients through both proxies.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::os::unix::net::UnixStream;
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
/// says why: only redis pools.
fn memkeep_cannot(yml: &str) -> Option<&'static str> {
    yml.contains("redis: true").then_some("redis")
}

#[test]
fn test_conf_accepts_and_refuses_what_nutcracker_does() {
    let dir = TempDir::new();
    let mut table = table();
    // Served by twemproxy, refused by memkeep-proxy with a reason.
    table.push(("redis true", with("redis: true")));
    let sock = dir.0.join("sock");
    let sock = sock.display();
    for (label, mode) in [
        ("listen unix", ""),
        ("listen unix mode", " 0666"),
        ("listen unix mode 0", " 0"),
        ("listen unix mode not octal", " 999"),
        ("listen unix mode and more", " 0755x"),
        ("listen unix mode too big", " 1777"),
        ("listen unix mode negative", " -1"),
    ] {
        table.push((label, format!("p:\n  listen: {sock}{mode}\n{SERVERS}")));
    }
    for (label, entries) in [
        ("server unix", &["/tmp/memcached.sock:1"][..]),
        ("server unix named", &["/tmp/memcached.sock:1 a"]),
        ("server unix with a port", &["/tmp/memcached.sock:11211:1"]),
        ("server unix weight 0", &["/tmp/memcached.sock:0"]),
        ("servers unix twice", &["/tmp/a.sock:1", "/tmp/a.sock:2"]),
        (
            "servers unix and tcp",
            &["/tmp/a.sock:1", "127.0.0.1:11211:1"],
        ),
    ] {
        table.push((label, servers(entries)));
    }
    let mut disagreements = Vec::new();
    for (label, yml) in &table {
        let (twemproxy, _) = test_conf("nutcracker", &dir, "nutcracker", yml);
        let (ours, said) = test_conf(env!("CARGO_BIN_EXE_memkeep-proxy"), &dir, "ours", yml);
        match memkeep_cannot(yml) {
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

/// A process serving on a Unix socket, killed on drop.
struct OnSocket(std::process::Child);

impl OnSocket {
    /// Starts `program args` and waits until `path` accepts connections.
    fn start(program: &str, args: &[&str], path: &std::path::Path) -> OnSocket {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let started = OnSocket(child);
        assert!(
            support::wait_for(std::time::Duration::from_secs(10), || {
                UnixStream::connect(path).is_ok()
            }),
            "{program} does not accept on {}",
            path.display()
        );
        started
    }
}

impl Drop for OnSocket {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `request` on a Unix socket connection, read until the reply ends with `end`.
fn ask(conn: &mut UnixStream, request: &[u8], end: &[u8]) -> String {
    use std::io::Read;
    conn.write_all(request).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn a_pool_on_unix_sockets_serves_as_nutcracker_serves_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let path = |name: &str| dir.0.join(name);
    let memcached_sock = path("memcached.sock");
    let memkeepd_sock = path("memkeepd.sock");
    let mut memcached_args = vec!["-U", "0", "-s", memcached_sock.to_str().unwrap()];
    if nix::unistd::Uid::effective().is_root() {
        memcached_args.extend(["-u", "root"]);
    }
    let _memcached = OnSocket::start("memcached", &memcached_args, &memcached_sock);
    let _memkeepd = OnSocket::start(
        env!("CARGO_BIN_EXE_memkeepd"),
        &["-s", memkeepd_sock.to_str().unwrap()],
        &memkeepd_sock,
    );
    let servers = [&memcached_sock, &memkeepd_sock];
    // Ketama over an unnamed socket (known to the ring by its path and a colon) and
    // a named one; enough keys that both get some.
    // (Varied keys: twemproxy's fnv1a_64 puts a run like k0..k39 on one server.)
    let key = |i: u32| format!("k{}x{i}", i * 7919);
    let keys = (0..40).map(|i| format!(" {}", key(i))).collect::<String>();
    let mut replies = Vec::new();
    let mut placements = Vec::new();
    for (program, name) in [
        ("nutcracker", "nutcracker"),
        (env!("CARGO_BIN_EXE_memkeep-proxy"), "memkeep-proxy"),
    ] {
        for sock in servers {
            let mut direct = UnixStream::connect(sock).unwrap();
            assert_eq!(ask(&mut direct, b"flush_all\r\n", b"\r\n"), "OK\r\n");
        }
        let listen = path(&format!("{name}.sock"));
        let yml = format!(
            "local:\n  listen: {} 0660\n  servers:\n    - {}:1\n    - {}:1 b\n",
            listen.display(),
            memcached_sock.display(),
            memkeepd_sock.display()
        );
        let conf = path(&format!("{name}.yml"));
        std::fs::write(&conf, yml).unwrap();
        let stats_port = support::free_port().to_string();
        let _proxy = OnSocket::start(
            program,
            &["-c", conf.to_str().unwrap(), "-s", &stats_port],
            &listen,
        );
        let mode = std::fs::metadata(&listen).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660, "{name}");
        let mut conn = UnixStream::connect(&listen).unwrap();
        let mut seen = String::new();
        for i in 0..40 {
            let set = format!("set {} 0 0 1\r\n{}\r\n", key(i), i % 10);
            seen += &ask(&mut conn, set.as_bytes(), b"\r\n");
            seen += &ask(
                &mut conn,
                format!("get {}\r\n", key(i)).as_bytes(),
                b"END\r\n",
            );
        }
        replies.push(seen);
        // Where each key went: asked of each server directly.
        let placed: Vec<String> = servers
            .iter()
            .map(|sock| {
                let mut direct = UnixStream::connect(sock).unwrap();
                ask(&mut direct, format!("get{keys}\r\n").as_bytes(), b"END\r\n")
            })
            .collect();
        placements.push(placed);
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[1].matches("STORED").count(), 40, "{}", replies[1]);
    assert_eq!(placements[0], placements[1]);
    for placed in &placements[1] {
        let held = placed.matches("VALUE ").count();
        assert!(held > 0 && held < 40, "{placed}");
    }
}
