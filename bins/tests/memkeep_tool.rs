//! The `memkeep` operator commands against real servers: `stats` over several
//! servers (one down), `check` as a monitoring plugin (exit codes and perfdata),
//! and `route` checked against where twemproxy itself puts keys, before and after
//! it ejects a server.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use support::{read_until, Server};

fn memkeep(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn dead_address() -> String {
    format!("127.0.0.1:{}", support::free_port())
}

#[test]
fn stats_shows_every_server_and_which_are_down() {
    let (ours, theirs) = (Server::memkeepd(&[]), Server::memcached(&[]));
    let dead = dead_address();
    let (code, out) = memkeep(&["stats", &ours.addr(), &theirs.addr(), &dead]);
    assert_eq!(code, 0, "{out}");
    let line = |addr: &str| {
        out.lines()
            .find(|l| l.starts_with(addr))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line(&ours.addr()).contains(" up ") && line(&ours.addr()).contains("memkeep"),
        "{out}"
    );
    assert!(
        line(&theirs.addr()).contains(" up ") && line(&theirs.addr()).contains("1.6"),
        "{out}"
    );
    assert!(line(&dead).contains(" down "), "{out}");
    let (code, _) = memkeep(&["stats", &dead]);
    assert_ne!(code, 0, "no server answered");
}

#[test]
fn check_is_a_monitoring_plugin() {
    let server = Server::memkeepd(&["-m", "1"]);
    let (code, out) = memkeep(&["check", &server.addr()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("MEMKEEP OK - ") && out.contains(" | latency="),
        "{out}"
    );
    assert!(out.contains("hit_rate=U"), "no gets yet: {out}");

    // Fill some memory and miss once: thresholds turn the verdict. The values are
    // small enough that no shard of the 1 MB store evicts one (which shard a key
    // lands in changes from run to run).
    let mut c = server.connect();
    let value = vec![b'v'; 20_000];
    for i in 0..4 {
        c.write_all(format!("set k{i} 0 0 {}\r\n", value.len()).as_bytes())
            .unwrap();
        c.write_all(&value).unwrap();
        c.write_all(b"\r\n").unwrap();
    }
    c.write_all(b"get k0 nothere\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
    assert!(got.starts_with(b"STORED\r\n"));
    let (code, out) = memkeep(&["check", &server.addr(), "--warn-memory-pct", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("MEMKEEP WARNING - ") && out.contains("memory warning"),
        "{out}"
    );
    let (code, out) = memkeep(&["check", &server.addr(), "--crit-hit-rate-pct", "90"]);
    assert_eq!(code, 2, "hit rate 50%: {out}");
    assert!(out.contains("hit_rate=50.0%"), "{out}");

    let (code, out) = memkeep(&["check", &dead_address()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("MEMKEEP CRITICAL - ") && out.contains("down"),
        "{out}"
    );
}

/// The servers `memkeep route` lists for `key`, in order (their addresses).
fn route(config: &std::path::Path, key: &str) -> Vec<String> {
    let (code, out) = memkeep(&["route", "-c", config.to_str().unwrap(), key]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("{key}: pool alpha (ketama, fnv1a_64)\n")),
        "{out}"
    );
    out.lines()
        .skip(1)
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().nth(2).unwrap().to_owned())
        .collect()
}

/// Which of `servers` holds `key`.
fn holder(servers: &[&Server], key: &str) -> Vec<String> {
    servers
        .iter()
        .filter(|s| {
            let mut c = s.connect();
            c.write_all(format!("get {key}\r\n").as_bytes()).unwrap();
            let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
            got.starts_with(b"VALUE")
        })
        .map(|s| s.addr())
        .collect()
}

#[test]
fn route_agrees_with_twemproxy_including_failover() {
    let servers = [
        Server::memcached(&[]),
        Server::memcached(&[]),
        Server::memcached(&[]),
    ];
    let refs: Vec<&Server> = servers.iter().collect();
    let names: Vec<String> = servers.iter().map(Server::addr).collect();
    let extra = "auto_eject_hosts: true\nserver_failure_limit: 1\nserver_retry_timeout: 600000\ntimeout: 1000";
    let dir = harness::TempDir::new();
    let config = dir.0.join("nutcracker.yml");
    let twemproxy = harness::Proxy::nutcracker(|port| {
        let yml = harness::nutcracker_yml(port, &names, extra);
        std::fs::write(&config, &yml).unwrap();
        yml
    });
    let keys: Vec<String> = (0..30).map(|i| format!("route:{i}")).collect();
    let mut conn = twemproxy.connect();
    for key in &keys {
        assert_eq!(harness::set(&mut conn, key, "v"), "STORED\r\n");
        let order = route(&config, key);
        assert_eq!(order.len(), 3, "{order:?}");
        assert_eq!(holder(&refs, key), vec![order[0].clone()], "{key}");
    }

    // Stop the server holding route:0; twemproxy ejects it on the first failure
    // and rebuilds its ring: each of its keys lands where route's second line says.
    let victim = route(&config, &keys[0])[0].clone();
    let alive: Vec<&Server> = servers.iter().filter(|s| s.addr() != victim).collect();
    let victim_server = servers.iter().find(|s| s.addr() == victim).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim_server.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let moved: Vec<&String> = keys
        .iter()
        .filter(|k| route(&config, k)[0] == victim)
        .collect();
    assert!(!moved.is_empty());
    let mut conn = twemproxy.connect();
    let stored = support::wait_for(Duration::from_secs(10), || {
        harness::set(&mut conn, moved[0], "again") == "STORED\r\n"
    });
    assert!(stored, "twemproxy never ejected the stopped server");
    for key in moved {
        assert_eq!(harness::set(&mut conn, key, "again"), "STORED\r\n");
        assert_eq!(
            holder(&alive, key),
            vec![route(&config, key)[1].clone()],
            "{key}"
        );
    }
}

#[test]
fn route_reads_the_toml_route_tree_and_says_when_there_is_no_failover() {
    let dir = harness::TempDir::new();
    let path = dir.0.join("route.toml");
    std::fs::write(
        &path,
        "[pools.alpha]\n\
         servers = [\"127.0.0.1:11211:1 a\", \"127.0.0.1:11212:1 b\"]\n\
         hash = \"fnv1a_64\"\ndistribution = \"ketama\"\nhash_tag = \"{}\"\n\
         [pools.alpha.eject]\nfailure_limit = 2\nretry_timeout_ms = 1000\nrebuild_ring = false\n\
         [[listeners]]\nlisten = \"127.0.0.1:22121\"\npool = \"alpha\"\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let (code, tagged) = memkeep(&["route", "--config", path, "user:{42}:name"]);
    assert_eq!(code, 0, "{tagged}");
    assert!(tagged.contains("hash_tag {}"), "{tagged}");
    assert!(tagged.contains("(rebuild_ring = false)"), "{tagged}");
    assert_eq!(tagged.lines().filter(|l| l.contains("primary")).count(), 1);
    // Only the tag is hashed: another key with the same tag goes to the same server.
    let (_, same) = memkeep(&["route", "--config", path, "{42}"]);
    let server = |out: &str| {
        out.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_eq!(server(&tagged), server(&same));
    let (code, _) = memkeep(&["route", "--config", path, "--pool", "beta", "k"]);
    assert_ne!(code, 0, "no such pool");
}
