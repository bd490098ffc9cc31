//! memkeep-proxy end to end: real processes (the proxy, stock memcached backends,
//! twemproxy for comparison) on loopback ports picked at run time.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use harness::{exchange, get, memcached_on, nutcracker_yml, set, Load, Proxy};
use support::Server;

fn backends(n: usize) -> Vec<Server> {
    (0..n).map(|_| Server::memcached(&[])).collect()
}

fn addrs(servers: &[Server]) -> Vec<String> {
    servers.iter().map(Server::addr).collect()
}

/// Which backends hold `key`, asked directly.
fn holders(servers: &[Server], key: &str) -> Vec<usize> {
    servers
        .iter()
        .enumerate()
        .filter(|(_, s)| get(&mut s.connect(), key).unwrap().is_some())
        .map(|(i, _)| i)
        .collect()
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user:{i}:profile")).collect()
}

#[test]
fn many_keys_spread_over_the_backends_and_read_back() {
    let servers = backends(3);
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs(&servers), "")
    });
    let mut conn = proxy.connect();
    let keys = keys(300);
    for key in &keys {
        assert_eq!(set(&mut conn, key, &format!("v-{key}")), "STORED\r\n");
    }
    let mut per_server = [0; 3];
    for key in &keys {
        assert_eq!(get(&mut conn, key).unwrap(), Some(format!("v-{key}")));
        let held = holders(&servers, key);
        assert_eq!(held.len(), 1, "{key} on {held:?}");
        per_server[held[0]] += 1;
    }
    assert!(per_server.iter().all(|&n| n > 30), "{per_server:?}");

    // A multi-get across the servers comes back merged in key order, misses out.
    let asked: Vec<String> = keys
        .iter()
        .take(60)
        .enumerate()
        .map(|(i, k)| {
            if i % 7 == 3 {
                format!("absent:{i}")
            } else {
                k.clone()
            }
        })
        .collect();
    let reply = exchange(
        &mut conn,
        format!("get {}\r\n", asked.join(" ")).as_bytes(),
        b"END\r\n",
    );
    let want: String = asked
        .iter()
        .filter(|k| !k.starts_with("absent"))
        .map(|k| format!("VALUE {k} 0 {}\r\nv-{k}\r\n", k.len() + 2))
        .chain(["END\r\n".to_owned()])
        .collect();
    assert_eq!(String::from_utf8(reply).unwrap(), want);

    // Pipelined requests from one client come back in order.
    let mut burst = Vec::new();
    for key in keys.iter().take(100) {
        burst.extend_from_slice(format!("get {key}\r\n").as_bytes());
    }
    let reply = exchange(
        &mut conn,
        &burst,
        format!("v-{}\r\nEND\r\n", keys[99]).as_bytes(),
    );
    let want: String = keys
        .iter()
        .take(100)
        .map(|k| format!("VALUE {k} 0 {}\r\nv-{k}\r\nEND\r\n", k.len() + 2))
        .collect();
    assert_eq!(String::from_utf8(reply).unwrap(), want);

    // Key-less commands: flush_all reaches every server, version is the proxy's.
    assert_eq!(exchange(&mut conn, b"flush_all\r\n", b"\r\n"), b"OK\r\n");
    assert!(keys
        .iter()
        .take(20)
        .all(|k| holders(&servers, k).is_empty()));
    let version = exchange(&mut conn, b"version\r\n", b"\r\n");
    assert!(version.starts_with(b"VERSION 1.6"), "{version:?}");
    let stats = exchange(&mut conn, b"stats\r\n", b"END\r\n");
    assert!(stats.starts_with(b"STAT pid "));
    assert_eq!(proxy.terminate().code(), Some(0));
}

/// For each key, the backends holding it, by multi-gets of 100 keys straight to each.
fn placement(servers: &[Server], keys: &[String]) -> Vec<Vec<usize>> {
    let mut placed = vec![Vec::new(); keys.len()];
    for (i, server) in servers.iter().enumerate() {
        let mut conn = server.connect();
        for (chunk_index, chunk) in keys.chunks(100).enumerate() {
            let reply = exchange(
                &mut conn,
                format!("get {}\r\n", chunk.join(" ")).as_bytes(),
                b"END\r\n",
            );
            let reply = String::from_utf8(reply).unwrap();
            let held: std::collections::HashSet<&str> = reply
                .lines()
                .filter_map(|l| l.strip_prefix("VALUE "))
                .filter_map(|l| l.split(' ').next())
                .collect();
            for (j, key) in chunk.iter().enumerate() {
                if held.contains(key.as_str()) {
                    placed[chunk_index * 100 + j].push(i);
                }
            }
        }
    }
    placed
}

#[test]
fn ten_thousand_keys_land_where_nutcracker_puts_them() {
    let servers = backends(3);
    let config = |port| nutcracker_yml(port, &addrs(&servers), "hash_tag: \"{}\"");
    let keys: Vec<String> = (0..10_000)
        .map(|i| match i % 3 {
            0 => format!("key{i}"),
            1 => format!("session:{{{}}}:{i}", i % 17),
            _ => format!("x{}", i * 7919),
        })
        .collect();
    let place = |proxy: &Proxy| {
        let mut conn = proxy.connect();
        for chunk in keys.chunks(500) {
            let burst: String = chunk
                .iter()
                .map(|k| format!("set {k} 0 0 1 noreply\r\nv\r\n"))
                .collect();
            conn.write_all(burst.as_bytes()).unwrap();
        }
        // A final acknowledged request: everything before it has been handled.
        assert_eq!(set(&mut conn, "last", "v"), "STORED\r\n");
        let placed = placement(&servers, &keys);
        for s in &servers {
            s.flush_all();
        }
        placed
    };
    let twemproxy = place(&Proxy::nutcracker(config));
    let ours = place(&Proxy::memkeep("-c", "nutcracker.yml", config));
    assert!(
        twemproxy.iter().all(|h| h.len() == 1),
        "nutcracker placed every key"
    );
    let differ: Vec<&String> = keys
        .iter()
        .zip(twemproxy.iter().zip(&ours))
        .filter(|(_, (a, b))| a != b)
        .map(|(k, _)| k)
        .collect();
    assert!(
        differ.is_empty(),
        "{} keys placed differently: {:?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );
}

#[test]
fn killing_a_backend_under_load_ejects_it_then_it_comes_back() {
    let mut servers = backends(3);
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(
            port,
            &addrs(&servers),
            "auto_eject_hosts: true\nserver_failure_limit: 2\nserver_retry_timeout: 300\ntimeout: 1000",
        )
    });
    let clients = 4;
    let load = Load::start(proxy.port, clients, 300);
    assert!(load.wait_ops(2_000));
    let port = servers[1].port;
    drop(servers.remove(1)); // SIGKILL
    assert!(load.wait_ops(4_000), "no progress after the kill");
    // Its keys are served by the others now; it comes back (empty) on its port and,
    // after the retry time and a probe, is given its keys again.
    let mut restarted = memcached_on(port);
    let mut direct = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let readmitted = support::wait_for(Duration::from_secs(10), || {
        let stats = exchange(&mut direct, b"stats\r\n", b"END\r\n");
        String::from_utf8_lossy(&stats).contains("STAT cmd_set ")
            && !String::from_utf8_lossy(&stats).contains("STAT cmd_set 0\r\n")
    });
    assert!(load.wait_ops(2_000));
    let tallies = load.finish();
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    assert!(readmitted, "never re-admitted: {tallies:?}");
    // Each client saw at most server_failure_limit errors; together at least the
    // failures that ejected the server.
    assert!(tallies.iter().all(|t| t.errors <= 2), "{tallies:?}");
    assert!(errors >= 1, "{tallies:?}");
    let _ = restarted.kill();
    let _ = restarted.wait();
}

/// The keys of a JSON document, nested ones as `outer.inner`, with the names of
/// pools and servers replaced by `POOL` and `SERVER`.
fn shape(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (key, inner) in map {
            let name = match (path, inner.is_object()) {
                ("", true) => "POOL",
                (_, true) => "SERVER",
                _ => key.as_str(),
            };
            let full = if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            out.push(full.clone());
            shape(inner, &full, out);
        }
    }
    out.sort();
    out.dedup();
}

#[test]
fn stats_port_answers_what_nutcracker_answers() {
    let servers = backends(2);
    let config = |port| nutcracker_yml(port, &addrs(&servers), "auto_eject_hosts: true");
    let document = |proxy: &Proxy| -> serde_json::Value {
        let stats_port = proxy.stats_port.unwrap();
        let mut conn = TcpStream::connect(("127.0.0.1", stats_port)).unwrap();
        let (bytes, closed) = support::read_until(&mut conn, Duration::from_secs(5), |_| false);
        assert!(closed, "the stats port closes after the document");
        serde_json::from_slice(&bytes).unwrap()
    };
    let theirs = {
        let proxy = Proxy::nutcracker(config);
        assert_eq!(set(&mut proxy.connect(), "k", "v"), "STORED\r\n");
        document(&proxy)
    };
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", config);
    for key in ["a", "b", "c", "d"] {
        assert_eq!(set(&mut proxy.connect(), key, "v"), "STORED\r\n");
    }
    let ours = document(&proxy);
    let (mut want, mut got) = (Vec::new(), Vec::new());
    shape(&theirs, "", &mut want);
    shape(&ours, "", &mut got);
    assert_eq!(got, want);
    // The same server names, and live figures.
    let names = |doc: &serde_json::Value| {
        let mut names: Vec<String> = doc["alpha"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.is_object())
            .map(|(k, _)| k.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&ours), names(&theirs));
    let requests: u64 = names(&ours)
        .iter()
        .map(|n| ours["alpha"][n]["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 4);
    assert_eq!(ours["service"], "nutcracker");
}

/// Keys of server `i`, by asking the backends after setting through the proxy.
fn keys_by_server(conn: &mut TcpStream, servers: &[Server], n: usize) -> Vec<Vec<String>> {
    let mut by = vec![Vec::new(); servers.len()];
    for key in keys(n) {
        assert_eq!(set(conn, &key, "v"), "STORED\r\n");
        by[holders(servers, &key)[0]].push(key);
    }
    by
}

#[test]
fn a_dead_backend_fails_only_its_own_keys() {
    let mut servers = backends(3);
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs(&servers), "timeout: 500")
    });
    let mut conn = proxy.connect();
    let by = keys_by_server(&mut conn, &servers, 90);
    drop(servers.remove(1));
    for key in &by[1] {
        let err = get(&mut conn, key).unwrap_err();
        assert!(err.starts_with("SERVER_ERROR "), "{key}: {err}");
    }
    for key in by[0].iter().chain(&by[2]) {
        assert_eq!(get(&mut conn, key).unwrap().as_deref(), Some("v"));
    }
    // Twemproxy's multi-get: one failed part fails the whole reply.
    let mixed = format!("get {} {}\r\n", by[0][0], by[1][0]);
    let reply = exchange(&mut conn, mixed.as_bytes(), b"\r\n");
    assert!(reply.starts_with(b"SERVER_ERROR "), "{reply:?}");
}

#[test]
fn failed_keys_read_as_misses_when_configured() {
    let mut servers = backends(3);
    let proxy = Proxy::memkeep("--config", "route.toml", |port| {
        let list: Vec<String> = addrs(&servers)
            .iter()
            .map(|a| format!("\"{a}:1\""))
            .collect();
        format!(
            "[pools.main]\nservers = [{}]\npartial_failure = \"miss\"\n\n\
             [[listeners]]\nlisten = \"127.0.0.1:{port}\"\npool = \"main\"\n",
            list.join(", ")
        )
    });
    let mut conn = proxy.connect();
    let by = keys_by_server(&mut conn, &servers, 60);
    drop(servers.remove(2));
    let mixed = format!("get {} {} {}\r\n", by[0][0], by[2][0], by[1][0]);
    let reply = exchange(&mut conn, mixed.as_bytes(), b"END\r\n");
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        format!(
            "VALUE {a} 0 1\r\nv\r\nVALUE {b} 0 1\r\nv\r\nEND\r\n",
            a = by[0][0],
            b = by[1][0]
        )
    );
}

#[test]
fn ejected_backend_keys_remap_then_come_back() {
    let mut servers = backends(3);
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(
            port,
            &addrs(&servers),
            "auto_eject_hosts: true\nserver_failure_limit: 2\nserver_retry_timeout: 500\ntimeout: 500",
        )
    });
    let mut conn = proxy.connect();
    let by = keys_by_server(&mut conn, &servers, 90);
    let port = servers[1].port;
    drop(servers.remove(1));
    // At most server_failure_limit errors, then the keys are served by the others.
    let mut errors = 0;
    for key in &by[1] {
        match set(&mut conn, key, "moved").as_str() {
            "STORED\r\n" => {}
            other => {
                assert!(other.starts_with("SERVER_ERROR "), "{other}");
                errors += 1;
            }
        }
    }
    assert!(errors <= 2, "{errors} errors");
    let moved = by[1]
        .iter()
        .filter(|k| get(&mut conn, k).unwrap().as_deref() == Some("moved"));
    assert!(moved.count() >= by[1].len() - 2);
    // The other servers' keys never failed.
    for key in by[0].iter().chain(&by[2]) {
        assert_eq!(get(&mut conn, key).unwrap().as_deref(), Some("v"));
    }
    // The backend comes back (empty) on its port: after the retry time and a
    // probe, its keys go to it again.
    let mut restarted = memcached_on(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    let key = &by[1][by[1].len() - 1];
    loop {
        assert_eq!(set(&mut conn, key, "home"), "STORED\r\n");
        let mut direct = TcpStream::connect(("127.0.0.1", port)).unwrap();
        if get(&mut direct, key).unwrap().as_deref() == Some("home") {
            break;
        }
        assert!(Instant::now() < deadline, "never re-admitted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = restarted.kill();
    let _ = restarted.wait();
}

#[test]
fn configuration_checks() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"))
            .args(args)
            .output()
            .unwrap()
    };
    let dir = harness::TempDir::new();
    let good = dir.0.join("good.yml");
    std::fs::write(&good, nutcracker_yml(1, &["127.0.0.1:1".into()], "")).unwrap();
    let out = run(&["-t", "-c", good.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("syntax is ok"));

    let redis = dir.0.join("redis.yml");
    std::fs::write(
        &redis,
        nutcracker_yml(1, &["127.0.0.1:1".into()], "redis: true"),
    )
    .unwrap();
    let out = run(&["-t", "-c", redis.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("redis is not supported"));

    let typo = dir.0.join("typo.yml");
    std::fs::write(
        &typo,
        nutcracker_yml(1, &["127.0.0.1:1".into()], "distribuion: ketama"),
    )
    .unwrap();
    assert!(!run(&["-t", "-c", typo.to_str().unwrap()]).status.success());

    // twemproxy's flags that memkeep-proxy cannot honour are refused, not ignored.
    let out = run(&["-t", "-c", good.to_str().unwrap(), "-i", "10000"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("always current"));

    // The README's examples and contrib's are complete, valid configurations.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("## memkeep-proxy").unwrap();
    let section = &readme[start..start + readme[start..].find("\n## Replication").unwrap()];
    let mut checked = 0;
    for (fence, flag, ext) in [
        ("```yaml\n", "-c", "yml"),
        ("```toml\n", "--config", "toml"),
    ] {
        for (i, block) in section.split(fence).skip(1).enumerate() {
            let body = &block[..block.find("```").unwrap()];
            let path = dir.0.join(format!("readme-{i}.{ext}"));
            std::fs::write(&path, body).unwrap();
            let out = run(&["-t", flag, path.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "README {ext} example {i}: {}\n{body}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} examples");
    let contrib = concat!(env!("CARGO_MANIFEST_DIR"), "/../contrib/proxy/route.toml");
    let out = run(&["-t", "--config", contrib]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn twemproxy_pid_and_log_files() {
    use std::process::{Command, Stdio};
    let servers = backends(1);
    let dir = harness::TempDir::new();
    let port = support::free_port();
    let config = dir.0.join("nutcracker.yml");
    std::fs::write(&config, nutcracker_yml(port, &addrs(&servers), "")).unwrap();
    let (pid, log) = (dir.0.join("pid"), dir.0.join("log"));
    let stats_port = support::free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"))
        .args(["-c", config.to_str().unwrap(), "-s", &stats_port, "-v", "6"])
        .args(["-p", pid.to_str().unwrap(), "-o", log.to_str().unwrap()])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(support::wait_until_accepting(port, &mut child));
    let written = std::fs::read_to_string(&pid).unwrap();
    assert_eq!(written.trim(), child.id().to_string());
    assert!(support::wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening"))
    }));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(!pid.exists(), "the pid file is removed at exit");
    // Nothing went to stderr: the logs went to the file.
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("listening"), "{stderr}");
}
