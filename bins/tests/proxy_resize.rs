//! Growing a ketama pool from 3 servers to 4 and back with SIGHUP, through
//! memkeep-proxy over stock memcached: with the warm-up window, every key is still
//! found (the moved ones on their previous server, then copied), and a shrink back
//! serves no value older than the last write; without it, about a quarter of the
//! keys miss after growing, and a shrink back serves stale values.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use harness::{exchange, proxy_stat, values, Proxy};
use nix::sys::signal::Signal;
use support::{read_until, wait_for, Server};

const KEYS: usize = 2000;

fn config(port: u16, servers: &[&Server], warm_up: &str) -> String {
    let list: Vec<String> = servers
        .iter()
        .map(|s| format!("\"{}\"", s.addr()))
        .collect();
    format!(
        "[pools.cache]\nservers = [{}]\nhash = \"md5\"\ndistribution = \"ketama\"\n\
         warm_up_after_change = \"{warm_up}\"\n\n\
         [[listeners]]\nlisten = \"127.0.0.1:{port}\"\nroute = \"cache\"\n",
        list.join(", ")
    )
}

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("resize:{i}")).collect()
}

/// Sets every key to `value`, pipelined, and waits for every `STORED`.
fn store_all(conn: &mut TcpStream, keys: &[String], value: &str) {
    let mut batch = Vec::new();
    for key in keys {
        write!(batch, "set {key} 0 0 {}\r\n{value}\r\n", value.len()).unwrap();
    }
    conn.write_all(&batch).unwrap();
    let want = keys.len();
    let (got, _) = read_until(conn, Duration::from_secs(30), |got| {
        got.windows(8).filter(|w| w == b"STORED\r\n").count() == want
    });
    let stored = got.windows(8).filter(|w| w == b"STORED\r\n").count();
    assert_eq!(stored, want, "every set stored");
}

/// How many keys hit, and how many of those had `value`.
fn read_all(conn: &mut TcpStream, keys: &[String], value: &str) -> (usize, usize) {
    let found: HashMap<String, Option<String>> = values(conn, keys);
    let hits = found.values().filter(|v| v.is_some()).count();
    let current = found
        .values()
        .filter(|v| v.as_deref() == Some(value))
        .count();
    (hits, current)
}

/// Rewrites the configuration, sends SIGHUP, and waits until `stats` shows the
/// pool with (or without) `server`.
fn reload(proxy: &Proxy, text: String, server: &Server, present: bool) {
    std::fs::write(proxy.dir.0.join("route.toml"), text).unwrap();
    proxy.signal(Signal::SIGHUP);
    let mut conn = proxy.connect();
    let line = format!("STAT server:cache:{}:state ", server.addr());
    assert!(
        wait_for(Duration::from_secs(20), || {
            let stats = exchange(&mut conn, b"stats\r\n", b"END\r\n");
            String::from_utf8_lossy(&stats).contains(&line) == present
        }),
        "reloaded"
    );
}

fn ratio(n: usize) -> f64 {
    n as f64 / KEYS as f64
}

#[test]
fn with_warm_up_every_key_is_found_after_growing_and_after_shrinking_back() {
    let servers: Vec<Server> = (0..4).map(|_| Server::memcached(&[])).collect();
    let three: Vec<&Server> = servers[..3].iter().collect();
    let four: Vec<&Server> = servers.iter().collect();
    let proxy = Proxy::memkeep("--config", "route.toml", |port| config(port, &three, "10m"));
    let keys = keys();
    let mut conn = proxy.connect();
    store_all(&mut conn, &keys, "one");

    reload(&proxy, config(proxy.port, &four, "10m"), &servers[3], true);
    assert_eq!(proxy_stat(&mut conn, "pool_cache_warm_up_active"), Some(1));
    let (hits, _) = read_all(&mut conn, &keys, "one");
    assert!(
        ratio(hits) >= 0.99,
        "hit ratio {} after growing",
        ratio(hits)
    );
    // The moved keys were copied to the new server.
    let fallbacks = proxy_stat(&mut conn, "pool_cache_warm_up_fallbacks").unwrap();
    assert!(
        (KEYS as u64 / 8..KEYS as u64 / 2).contains(&fallbacks),
        "{fallbacks} keys read from their previous server"
    );
    assert!(wait_for(Duration::from_secs(20), || {
        proxy_stat(&mut conn, "pool_cache_warm_up_fills") == Some(fallbacks)
    }));
    let on_new = values(&mut servers[3].connect(), &keys)
        .values()
        .filter(|v| v.is_some())
        .count();
    assert_eq!(on_new as u64, fallbacks, "the new server holds its keys");

    // Written while the pool has 4 servers: each moved key's old copy is deleted.
    store_all(&mut conn, &keys, "two");
    reload(
        &proxy,
        config(proxy.port, &three, "10m"),
        &servers[3],
        false,
    );
    let (hits, current) = read_all(&mut conn, &keys, "two");
    assert!(
        ratio(hits) >= 0.99,
        "hit ratio {} after shrinking",
        ratio(hits)
    );
    assert_eq!(current, hits, "no value older than the last write");
}

#[test]
fn without_warm_up_about_a_quarter_of_the_keys_miss_after_growing() {
    let servers: Vec<Server> = (0..4).map(|_| Server::memcached(&[])).collect();
    let three: Vec<&Server> = servers[..3].iter().collect();
    let four: Vec<&Server> = servers.iter().collect();
    let proxy = Proxy::memkeep("--config", "route.toml", |port| config(port, &three, "0"));
    let keys = keys();
    let mut conn = proxy.connect();
    store_all(&mut conn, &keys, "one");

    reload(&proxy, config(proxy.port, &four, "0"), &servers[3], true);
    assert_eq!(proxy_stat(&mut conn, "pool_cache_warm_up_active"), Some(0));
    let (hits, _) = read_all(&mut conn, &keys, "one");
    let grown = ratio(hits);
    assert!(
        (0.5..0.9).contains(&grown),
        "hit ratio {grown} after growing: about 1/4 of the keys moved"
    );

    // Shrinking back finds the old copies of the moved keys, stale ones.
    store_all(&mut conn, &keys, "two");
    reload(&proxy, config(proxy.port, &three, "0"), &servers[3], false);
    let (hits, current) = read_all(&mut conn, &keys, "two");
    assert!(
        ratio(hits) >= 0.99,
        "hit ratio {} after shrinking",
        ratio(hits)
    );
    let stale = hits - current;
    assert_eq!(
        stale,
        KEYS - (grown * KEYS as f64).round() as usize,
        "each key that missed after growing comes back with its old value"
    );
}
