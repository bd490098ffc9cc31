//! memkeep-proxy as a drop-in twemproxy: the same key placement as a running
//! nutcracker for 10,000 keys, a backend killed under load ejected and re-admitted,
//! the stats port's JSON next to nutcracker's, the pid and log files.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use harness::{exchange, memcached_on, nutcracker_yml, set, Load, Proxy};
use support::Server;

fn backends(n: usize) -> Vec<Server> {
    (0..n).map(|_| Server::memcached(&[])).collect()
}

fn addrs(servers: &[Server]) -> Vec<String> {
    servers.iter().map(Server::addr).collect()
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
    // Written after the listeners are bound, so maybe just after they accept.
    let mut written = String::new();
    assert!(support::wait_for(Duration::from_secs(10), || {
        written = std::fs::read_to_string(&pid).unwrap_or_default();
        written.ends_with('\n')
    }));
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
