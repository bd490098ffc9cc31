//! Two proxy tiers: an upper memkeep-proxy whose backends are two lower
//! memkeep-proxies in front of the same memcached servers. Killing one lower proxy
//! under load costs no client error beyond the requests in flight on it.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use harness::{get, nutcracker_yml, set, Load, Proxy};
use support::Server;

#[test]
fn killing_a_lower_proxy_under_load_costs_only_requests_in_flight() {
    let servers = [
        Server::memcached(&[]),
        Server::memkeepd(&[]),
        Server::memcached(&[]),
    ];
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let lower = |_: ()| {
        Proxy::memkeep("-c", "nutcracker.yml", |port| {
            nutcracker_yml(port, &addrs, "timeout: 2000")
        })
    };
    let (first, second) = (lower(()), lower(()));
    let upper = Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            r#"
[pools.first]
servers = ["127.0.0.1:{first}"]
timeout_ms = 2000

[pools.second]
servers = ["127.0.0.1:{second}"]
timeout_ms = 2000

[routes.lower]
kind = "failover"
to = ["first", "second"]

[[listeners]]
listen = "127.0.0.1:{port}"
route = "lower"
"#,
            first = first.port,
            second = second.port,
        )
    });
    // Both tiers work: a key set through the upper tier is readable through either
    // lower proxy and on exactly one server.
    let mut conn = upper.connect();
    assert_eq!(set(&mut conn, "tiered", "yes"), "STORED\r\n");
    for proxy in [&first, &second] {
        assert_eq!(
            get(&mut proxy.connect(), "tiered").unwrap().as_deref(),
            Some("yes")
        );
    }
    let holders = servers
        .iter()
        .filter(|s| get(&mut s.connect(), "tiered").unwrap().is_some())
        .count();
    assert_eq!(holders, 1);

    let clients = 4;
    let load = Load::start(upper.port, clients, 200);
    assert!(load.wait_ops(2_000), "no progress before the kill");
    drop(first); // SIGKILL
    assert!(load.wait_ops(4_000), "no progress after the kill");
    let tallies = load.finish();
    eprintln!("{tallies:?}");
    for tally in &tallies {
        // One request in flight per client: at most one can be lost with the proxy.
        assert!(tally.errors <= 1, "{tallies:?}");
        assert_eq!(tally.misses, 0, "{tallies:?}");
    }
}

#[test]
fn over_twemproxy_the_upper_tier_finds_it_speaks_text() {
    let server = Server::memcached(&[]);
    let addrs = vec![server.addr()];
    let twemproxy = Proxy::nutcracker(|port| nutcracker_yml(port, &addrs, ""));
    // twemproxy closes a connection on meta's `mn`: the upper tier speaks text to it.
    let upper = Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            "[pools.lower]\nservers = [\"127.0.0.1:{}\"]\n\n\
             [[listeners]]\nlisten = \"127.0.0.1:{port}\"\nroute = \"lower\"\n",
            twemproxy.port
        )
    });
    let mut conn = upper.connect();
    assert_eq!(set(&mut conn, "via", "nutcracker"), "STORED\r\n");
    assert_eq!(
        get(&mut server.connect(), "via").unwrap().as_deref(),
        Some("nutcracker")
    );
    // A meta client of the upper tier is answered, in meta.
    assert_eq!(
        harness::exchange(&mut conn, b"mg via v f\r\n", b"nutcracker\r\n"),
        b"VA 10 f0\r\nnutcracker\r\n"
    );
}
