//! The `memkeep` operator commands against real servers: `stats` over several
//! servers (one down) with its units, `check` as a monitoring plugin (exit codes and
//! perfdata), and `route` checked against where twemproxy itself puts keys, before
//! and after it ejects a server, and against where memkeep-proxy puts the replicas
//! of a key, before and after it ejects one.

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
    // Figures with their units: both run with -m 64, nothing stored, just started.
    for server in [&ours, &theirs] {
        let line = line(&server.addr());
        assert!(line.contains(" 0 B / 64.0 MiB "), "{out}");
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[3], "ms", "latency in milliseconds: {out}");
        let uptime = fields[4];
        assert!(
            uptime.ends_with('s') && uptime[..uptime.len() - 1].parse::<u64>().is_ok(),
            "uptime in seconds at first: {out}"
        );
    }
    let (code, _) = memkeep(&["stats", &dead]);
    assert_ne!(code, 0, "no server answered");
}

#[test]
fn check_is_a_monitoring_plugin() {
    // -m 1 needs an item limit of at most half of it, as in memcached.
    let server = Server::memkeepd(&["-m", "1", "-I", "512k"]);
    let (code, out) = memkeep(&["check", &server.addr()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("MEMKEEP OK - ") && out.contains(" | latency="),
        "{out}"
    );
    assert!(out.contains("(0 B of 1.0 MiB)"), "{out}");
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
        .map(|l| address_in(l).to_owned())
        .collect()
}

/// The first `host:port` word of a line of `memkeep route` (a server with a name
/// shows it before its address).
fn address_in(line: &str) -> &str {
    line.split_whitespace()
        .find(|w| {
            w.rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        })
        .unwrap_or_else(|| panic!("no address in {line:?}"))
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
    assert!(
        tagged.contains("no failover: while its server is ejected the key's requests fail fast (rebuild_ring = false)"),
        "{tagged}"
    );
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

/// What `memkeep route --config` says of a key in a replicated pool: the servers
/// holding it (addresses, replica 1 first) and its failover order (each step's
/// address, and the holders of the rebuilt ring from the second step on).
struct Replicated {
    held_by: Vec<String>,
    order: Vec<(String, Vec<String>)>,
}

fn route_replicated(config: &std::path::Path, key: &str) -> Replicated {
    let (code, out) = memkeep(&["route", "--config", config.to_str().unwrap(), key]);
    assert_eq!(code, 0, "{out}");
    let held = out
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("held by "))
        .unwrap_or_else(|| panic!("no holders: {out}"));
    let held_by = held
        .split(", ")
        .map(|h| h.split_whitespace().next().unwrap().to_owned())
        .collect();
    let order = out
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| {
            let addr = address_in(l).to_owned();
            let rebuilt = l
                .split_once("holds the key on ")
                .map(|(_, rest)| {
                    rest.trim_end_matches(')')
                        .split(", ")
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            (addr, rebuilt)
        })
        .collect();
    Replicated { held_by, order }
}

/// The servers among `servers` whose copy of `key` is `value`.
fn holding(servers: &[&Server], key: &str, value: &str) -> Vec<String> {
    let want = format!(" {}\r\n{value}\r\nEND\r\n", value.len());
    servers
        .iter()
        .filter(|s| {
            let mut c = s.connect();
            c.write_all(format!("get {key}\r\n").as_bytes()).unwrap();
            let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
            String::from_utf8_lossy(&got).ends_with(&want)
        })
        .map(|s| s.addr())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn route_names_every_replica_and_the_failover_of_memkeep_proxy() {
    let servers: Vec<Server> = (0..4).map(|_| Server::memkeepd(&[])).collect();
    let refs: Vec<&Server> = servers.iter().collect();
    let list: Vec<String> = servers
        .iter()
        .map(|s| format!("\"{}:1\"", s.addr()))
        .collect();
    let proxy = harness::Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            "[pools.cache]\nservers = [{}]\nreplicas = 2\nhash = \"md5\"\ntimeout_ms = 1000\n\
             [pools.cache.eject]\nfailure_limit = 1\nretry_timeout_ms = 600000\nrebuild_ring = true\n\
             [routes.writes]\nkind = \"replicate\"\nto = [\"cache\"]\npolicy = \"all\"\n\
             [routes.reads]\nkind = \"failover\"\nto = [\"cache\"]\n\
             [routes.main]\nkind = \"operation\"\nreads = \"reads\"\nwrites = \"writes\"\n\
             [[listeners]]\nlisten = \"127.0.0.1:{port}\"\nroute = \"main\"\n",
            list.join(", ")
        )
    });
    let config = proxy.dir.0.join("route.toml");
    let (_, out) = memkeep(&["route", "--config", config.to_str().unwrap(), "k"]);
    assert!(
        out.contains("route reads (failover): requests to ")
            && out.contains("route writes (replicate, policy all): mutations to "),
        "the routes over the pool, in the proxy's words: {out}"
    );
    assert!(
        !out.contains("auto_eject_hosts"),
        "not twemproxy's words: {out}"
    );

    // Every key is on the two servers route names, and nowhere else.
    let keys: Vec<String> = (0..40).map(|i| format!("replica:{i}")).collect();
    let mut conn = proxy.connect();
    let mut routes = Vec::new();
    for key in &keys {
        assert_eq!(harness::set(&mut conn, key, "v1"), "STORED\r\n");
        let route = route_replicated(&config, key);
        assert_eq!(route.held_by.len(), 2, "{key}");
        assert_eq!(
            route.order[0].0, route.held_by[0],
            "replica 1 answers first"
        );
        assert_eq!(
            sorted(holding(&refs, key, "v1")),
            sorted(route.held_by.clone()),
            "{key}"
        );
        routes.push(route);
    }

    // Stop replica 1 of the first key: the proxy ejects it at its first failure and
    // rebuilds the ring; each key it held first is written where route's second
    // step says the rebuilt ring keeps it, and is read back through the proxy.
    let victim = routes[0].order[0].0.clone();
    let victim_server = servers.iter().find(|s| s.addr() == victim).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim_server.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let alive: Vec<&Server> = servers.iter().filter(|s| s.addr() != victim).collect();
    let moved: Vec<(&String, &Replicated)> = keys
        .iter()
        .zip(&routes)
        .filter(|(_, r)| r.order[0].0 == victim)
        .collect();
    assert!(!moved.is_empty());
    let mut conn = proxy.connect();
    let ejected = support::wait_for(Duration::from_secs(10), || {
        harness::set(&mut conn, moved[0].0, "v2") == "STORED\r\n"
    });
    assert!(ejected, "memkeep-proxy never ejected the stopped server");
    for (key, route) in moved {
        let (second, rebuilt) = &route.order[1];
        assert_eq!(rebuilt.len(), 2, "{key}: {rebuilt:?}");
        assert_eq!(&rebuilt[0], second, "{key}: the second step answers");
        assert!(!rebuilt.contains(&victim), "{key}");
        assert_eq!(harness::set(&mut conn, key, "v2"), "STORED\r\n");
        assert_eq!(
            sorted(holding(&alive, key, "v2")),
            sorted(rebuilt.clone()),
            "{key}"
        );
        assert_eq!(
            harness::get(&mut conn, key),
            Ok(Some("v2".to_owned())),
            "{key}"
        );
    }
}
