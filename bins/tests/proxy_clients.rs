//! Real clients through memkeep-proxy (in front of stock memcached and memkeepd):
//! pymemcache's every method, and libmemcached's load generator `memcslap` in the
//! text and binary protocols.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::process::Command;

use harness::{exchange, nutcracker_yml, Proxy};
use support::Server;

fn proxy_over(servers: &[Server]) -> Proxy {
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs, "timeout: 2000")
    })
}

fn backends() -> Vec<Server> {
    vec![
        Server::memcached(&[]),
        Server::memkeepd(&[]),
        Server::memcached(&[]),
    ]
}

#[test]
fn pymemcache_through_the_proxy() {
    let servers = backends();
    let proxy = proxy_over(&servers);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pymemcache_client.py");
    let out = Command::new("/usr/bin/python3")
        .args([script, "--proxy", "127.0.0.1", &proxy.port.to_string()])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pymemcache failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
}

/// Runs memcslap and returns its output; panics unless it exits 0.
fn memcslap(proxy: &Proxy, args: &[&str]) -> String {
    let out = Command::new("memcslap")
        .arg(format!("--servers=127.0.0.1:{}", proxy.port))
        .args(args)
        .output()
        .expect("memcslap (Debian libmemcached-tools) must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "memcslap {args:?}:\n{text}");
    text
}

#[test]
fn memcslap_through_the_proxy() {
    let servers = backends();
    let proxy = proxy_over(&servers);
    for protocol in [&[][..], &["--binary"][..]] {
        for test in ["set", "get", "mget"] {
            let mut args = vec!["--concurrency=4", "--execute-number=500", "--flush"];
            args.push(match test {
                "set" => "--test=set",
                "get" => "--test=get",
                _ => "--test=mget",
            });
            args.extend_from_slice(protocol);
            let output = memcslap(&proxy, &args);
            assert!(!output.to_lowercase().contains("error"), "{output}");
            let done = format!("Time to {test} ");
            assert!(output.lines().any(|l| l.starts_with(&done)), "{output}");
            if test != "set" {
                // The keys memcslap loads before reading were all stored.
                let loaded = output
                    .lines()
                    .find(|l| l.starts_with("Time to set "))
                    .unwrap();
                assert!(loaded.contains(" 500 keys"), "{output}");
            }
        }
    }
    // The proxy counted the load, and every server took part.
    let stats = exchange(&mut proxy.connect(), b"stats\r\n", b"END\r\n");
    let stats = String::from_utf8(stats).unwrap();
    let cmd_set: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("STAT cmd_set "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(cmd_set >= 2 * 4 * 500, "{stats}");
    for server in &servers {
        let line = format!("STAT server:alpha:{}:responses ", server.addr());
        let responses: u64 = stats
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap()
            .parse()
            .unwrap();
        assert!(responses > 100, "{}: {responses}", server.addr());
    }
}
