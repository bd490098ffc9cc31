//! memkeep-proxy's TOML route tree end to end: replicated pools with read-repair,
//! prefix routes, warm-up, shadow, a text-protocol pool; SIGHUP reloads.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::net::TcpStream;
use std::time::Duration;

use harness::{exchange, get, set, Proxy};
use support::{wait_for, Server};

fn list(servers: &[&Server]) -> String {
    let quoted: Vec<String> = servers
        .iter()
        .map(|s| format!("\"{}\"", s.addr()))
        .collect();
    quoted.join(", ")
}

fn holders(servers: &[&Server], key: &str) -> Vec<usize> {
    (0..servers.len())
        .filter(|&i| get(&mut servers[i].connect(), key).unwrap().is_some())
        .collect()
}

fn stat(conn: &mut TcpStream, name: &str) -> Option<String> {
    let stats = String::from_utf8(exchange(conn, b"stats\r\n", b"END\r\n")).unwrap();
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("STAT {name} ")).map(str::to_owned))
}

#[test]
fn a_route_tree_of_every_layer() {
    let rep = [
        Server::memcached(&[]),
        Server::memkeepd(&[]),
        Server::memcached(&[]),
    ];
    let rep: Vec<&Server> = rep.iter().collect();
    let east = Server::memcached(&[]);
    let west = Server::memkeepd(&[]);
    let old = Server::memcached(&[]);
    let proxy = Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            r#"
[pools.rep]
servers = [{rep}]
replicas = 2
timeout_ms = 5000
hash = "md5"   # fnv1a_64 spreads short keys like these unevenly

[pools.east]
servers = ["{east}"]

[pools.west]
servers = ["{west}"]

[pools.old]
servers = ["{old}"]
protocol = "text"

[routes.rr]
kind = "read_repair"
to = ["rep"]

[routes.w]
kind = "replicate"
to = ["rep"]
policy = "all"

[routes.replicated]
kind = "operation"
reads = "rr"
writes = "w"

[routes.warm]
kind = "warm_up"
cold = "west"
warm = "east"

[routes.shadowed]
kind = "shadow"
to = "east"
shadow = "west"
fraction = 1.0

[routes.main]
kind = "prefix"
default = "east"
prefixes = {{ "r:" = "replicated", "old:" = "old", "w:" = "warm", "s:" = "shadowed" }}

[[listeners]]
listen = "127.0.0.1:{port}"
route = "main"
"#,
            rep = list(&rep),
            east = east.addr(),
            west = west.addr(),
            old = old.addr(),
        )
    });
    let mut conn = proxy.connect();

    // Replicated pool: every key on exactly two of the three servers.
    let keys: Vec<String> = (0..60).map(|i| format!("r:{i}")).collect();
    let mut on = [0; 3];
    for key in &keys {
        assert_eq!(set(&mut conn, key, "rv"), "STORED\r\n");
        let held = holders(&rep, key);
        assert_eq!(held.len(), 2, "{key} on {held:?}");
        held.iter().for_each(|&i| on[i] += 1);
    }
    assert!(on.iter().all(|&n| n > 0), "{on:?}");
    // One server loses everything: reads still hit, and repair it.
    rep[1].flush_all();
    for key in &keys {
        assert_eq!(get(&mut conn, key).unwrap().as_deref(), Some("rv"));
    }
    assert!(wait_for(Duration::from_secs(5), || keys
        .iter()
        .all(|k| holders(&rep, k).len() == 2)));
    // A repair is counted when the server's reply to it reaches the proxy, which
    // may be after the server already shows the item.
    let repairs = on[1].to_string();
    assert!(wait_for(Duration::from_secs(5), || {
        stat(&mut conn, "route_rr_repairs").as_deref() == Some(&repairs)
    }));

    // Other prefixes, other routes.
    assert_eq!(set(&mut conn, "plain", "e"), "STORED\r\n");
    assert_eq!(
        get(&mut east.connect(), "plain").unwrap().as_deref(),
        Some("e")
    );
    assert_eq!(set(&mut conn, "old:1", "o"), "STORED\r\n");
    assert_eq!(
        get(&mut old.connect(), "old:1").unwrap().as_deref(),
        Some("o")
    );
    // A meta client through a text-protocol pool.
    assert_eq!(
        exchange(&mut conn, b"mg old:1 v\r\n", b"\r\no\r\n"),
        b"VA 1\r\no\r\n"
    );
    assert_eq!(
        exchange(&mut conn, b"mg old:1 v N30\r\n", b"\r\n"),
        b"ERROR\r\n"
    );

    // Warm-up: a key only the warm pool has is answered and copied to the cold one.
    assert_eq!(set(&mut east.connect(), "w:1", "warm"), "STORED\r\n");
    assert_eq!(get(&mut conn, "w:1").unwrap().as_deref(), Some("warm"));
    assert!(wait_for(Duration::from_secs(5), || get(
        &mut west.connect(),
        "w:1"
    )
    .unwrap()
    .is_some()));
    // Counted when the proxy reads the cold pool's STORED, just after the copy shows.
    assert!(wait_for(Duration::from_secs(5), || stat(
        &mut conn,
        "route_warm_fills"
    )
    .as_deref()
        == Some("1")));

    // Shadow: the client is answered by east; west gets a copy.
    assert_eq!(set(&mut conn, "s:1", "sh"), "STORED\r\n");
    assert_eq!(
        get(&mut east.connect(), "s:1").unwrap().as_deref(),
        Some("sh")
    );
    assert!(wait_for(Duration::from_secs(5), || get(
        &mut west.connect(),
        "s:1"
    )
    .unwrap()
    .is_some()));

    // Per-server figures in `stats`.
    let addr = east.addr();
    let requests: u64 = stat(&mut conn, &format!("server:east:{addr}:requests"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(requests >= 3, "{requests}");
    assert_eq!(
        stat(&mut conn, &format!("server:east:{addr}:state")).as_deref(),
        Some("up")
    );

    // What goes to every server reaches every pool of the tree, not only the
    // default route's: a stats group lists all six servers, flush_all empties them.
    let items = exchange(&mut conn, b"stats items\r\n", b"END\r\n");
    let items = String::from_utf8(items).unwrap();
    let servers_with_items = items.matches("STAT items:1:number ").count();
    assert_eq!(servers_with_items, 6, "{items}");
    assert_eq!(exchange(&mut conn, b"flush_all\r\n", b"\r\n"), b"OK\r\n");
    let every_key: String = keys
        .iter()
        .map(String::as_str)
        .chain(["plain", "old:1", "w:1", "s:1"])
        .map(|k| format!(" {k}"))
        .collect();
    for server in rep.iter().copied().chain([&east, &west, &old]) {
        let mut direct = server.connect();
        let ask = format!("get{every_key}\r\n");
        let left = exchange(&mut direct, ask.as_bytes(), b"END\r\n");
        assert_eq!(left, b"END\r\n", "{}", server.addr());
    }
    // Not resurrected by read-repair from a replica that kept it.
    assert_eq!(get(&mut conn, "r:0").unwrap(), None);
}

fn one_pool(port: u16, pool: &str, servers: &[&Server]) -> String {
    format!(
        "[pools.{pool}]\nservers = [{}]\n\n[[listeners]]\nlisten = \"127.0.0.1:{port}\"\nroute = \"{pool}\"\n",
        list(servers)
    )
}

#[test]
fn sighup_reloads_without_dropping_connections() {
    use nix::sys::signal::Signal;
    let first = Server::memcached(&[]);
    let second = Server::memcached(&[]);
    let mut proxy = Proxy::memkeep("--config", "route.toml", |port| {
        one_pool(port, "a", &[&first])
    });
    let path = proxy.dir.0.join("route.toml");
    let mut conn = proxy.connect();
    assert_eq!(set(&mut conn, "k", "1"), "STORED\r\n");
    assert_eq!(
        get(&mut first.connect(), "k").unwrap().as_deref(),
        Some("1")
    );

    // A new pool behind the same listener, and a second listener.
    let extra = support::free_port();
    let config = format!(
        "{}\n[[listeners]]\nlisten = \"127.0.0.1:{extra}\"\nroute = \"b\"\n",
        one_pool(proxy.port, "b", &[&second])
    );
    std::fs::write(&path, config).unwrap();
    proxy.signal(Signal::SIGHUP);
    // The open connection goes on, now to the new pool.
    let new_pool = format!("server:b:{}:state", second.addr());
    assert!(wait_for(Duration::from_secs(5), || stat(
        &mut conn, &new_pool
    )
    .is_some()));
    assert_eq!(set(&mut conn, "k", "2"), "STORED\r\n");
    assert_eq!(
        get(&mut second.connect(), "k").unwrap().as_deref(),
        Some("2")
    );
    assert_eq!(
        get(&mut first.connect(), "k").unwrap().as_deref(),
        Some("1")
    );
    assert!(wait_for(Duration::from_secs(5), || TcpStream::connect((
        "127.0.0.1",
        extra
    ))
    .is_ok()));
    let mut other = TcpStream::connect(("127.0.0.1", extra)).unwrap();
    assert_eq!(get(&mut other, "k").unwrap().as_deref(), Some("2"));

    // A bad configuration is refused: the running one stays.
    std::fs::write(&path, "[pools.b]\nservers = []\n").unwrap();
    proxy.signal(Signal::SIGHUP);
    assert_eq!(set(&mut conn, "k", "3"), "STORED\r\n");
    assert_eq!(
        get(&mut second.connect(), "k").unwrap().as_deref(),
        Some("3")
    );
    assert!(proxy.is_running());
    assert_eq!(get(&mut other, "k").unwrap().as_deref(), Some("3"));
    assert_eq!(proxy.terminate().code(), Some(0));
}

#[test]
fn an_ejected_server_keys_are_read_from_their_other_replica() {
    let mut servers = vec![
        Server::memcached(&[]),
        Server::memcached(&[]),
        Server::memkeepd(&[]),
    ];
    let refs: Vec<&Server> = servers.iter().collect();
    let proxy = Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            r#"
[pools.cache]
servers = [{}]
hash = "md5"
replicas = 2
timeout_ms = 5000

[pools.cache.eject]
failure_limit = 1
retry_timeout_ms = 60000
rebuild_ring = false

[routes.writes]
kind = "replicate"
to = ["cache"]

[routes.reads]
kind = "failover"
to = ["cache"]

[routes.main]
kind = "operation"
reads = "reads"
writes = "writes"

[[listeners]]
listen = "127.0.0.1:{port}"
route = "main"
"#,
            list(&refs)
        )
    });
    let mut conn = proxy.connect();
    let keys: Vec<String> = (0..100).map(|i| format!("e:{i}")).collect();
    for key in &keys {
        assert_eq!(set(&mut conn, key, "v"), "STORED\r\n");
    }
    let dead = servers[0].addr();
    drop(servers.remove(0)); // SIGKILL
                             // Every read hits: a key whose first replica is dead (then ejected) is read from
                             // its second, without an error to the client.
    for _ in 0..2 {
        for key in &keys {
            assert_eq!(get(&mut conn, key).unwrap().as_deref(), Some("v"), "{key}");
        }
    }
    let state = format!("server:cache:{dead}:state");
    assert_eq!(stat(&mut conn, &state).as_deref(), Some("ejected"));
    // Unknown commands are answered, the connection stays.
    assert_eq!(
        exchange(&mut conn, b"bogus command\r\n", b"\r\n"),
        b"ERROR\r\n"
    );
    assert_eq!(get(&mut conn, &keys[0]).unwrap().as_deref(), Some("v"));
}
