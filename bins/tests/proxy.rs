//! memkeep-proxy end to end: real processes (the proxy, stock memcached backends,
//! twemproxy for comparison) on loopback ports picked at run time.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::net::TcpStream;
use std::time::Duration;

use harness::{exchange, get, memcached_on, nutcracker_yml, set, Proxy};
use support::{wait_for, Server};

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
        nutcracker_yml(port, &addrs(&servers), "timeout: 5000")
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
            "auto_eject_hosts: true\nserver_failure_limit: 2\nserver_retry_timeout: 500\ntimeout: 5000",
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
    let key = &by[1][by[1].len() - 1];
    let readmitted = wait_for(Duration::from_secs(10), || {
        assert_eq!(set(&mut conn, key, "home"), "STORED\r\n");
        let mut direct = TcpStream::connect(("127.0.0.1", port)).unwrap();
        get(&mut direct, key).unwrap().as_deref() == Some("home")
    });
    assert!(readmitted, "never re-admitted");
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

    // The examples of the proxy's reference pages and contrib's are complete, valid
    // configurations.
    let mut checked = 0;
    for page in ["proxy.md", "nutcracker.md", "route-tree.md"] {
        let path = format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        for (fence, flag, ext) in [
            ("```yaml\n", "-c", "yml"),
            ("```toml\n", "--config", "toml"),
        ] {
            for (i, block) in text.split(fence).skip(1).enumerate() {
                let body = &block[..block.find("```").unwrap()];
                let path = dir.0.join(format!("{page}-{i}.{ext}"));
                std::fs::write(&path, body).unwrap();
                let out = run(&["-t", flag, path.to_str().unwrap()]);
                assert!(
                    out.status.success(),
                    "docs/{page} {ext} example {i}: {}\n{body}",
                    String::from_utf8_lossy(&out.stderr)
                );
                checked += 1;
            }
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
