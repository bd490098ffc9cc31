//! memkeep-client against real servers: each of 10,000 keys lands on the memkeepd
//! that memkeep-proxy (a real process, same configuration) puts it on, for the TOML
//! route tree, a `nutcracker.yml` and the client's own builder; and a pool keeping
//! each key on two unpaired memkeepd keeps answering reads and taking writes while
//! one of them is killed (-9) and restarted empty, which then gets back the writes
//! it missed and the items read through the client.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use harness::{nutcracker_yml, values, Node, NodeKind, Proxy};
use memkeep_client::{CasOutcome, Client, Error};
use memkeep_proxy::config::NutcrackerPool;
use support::{read_until, wait_for};
use tokio::runtime::Runtime;

const PLACED_KEYS: usize = 10_000;

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

fn nodes(n: usize) -> Vec<Node> {
    (0..n).map(|_| Node::start(NodeKind::Memkeepd)).collect()
}

/// Which node holds each key, read from every node directly; every key must be on
/// exactly one.
fn placement(nodes: &[Node], keys: &[String]) -> BTreeMap<String, usize> {
    let mut placed = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for (key, value) in values(&mut node.connect(), keys) {
            if value.is_some() {
                let before = placed.insert(key.clone(), i);
                assert_eq!(before, None, "{key} is on two servers");
            }
        }
    }
    assert_eq!(placed.len(), keys.len(), "keys missing from every server");
    placed
}

fn flush(nodes: &[Node]) {
    for node in nodes {
        let reply = harness::exchange(&mut node.connect(), b"flush_all\r\n", b"\r\n");
        assert_eq!(reply, b"OK\r\n");
    }
}

/// Sets every key through the proxy, 500 pipelined at a time.
fn write_through_proxy(proxy: &Proxy, keys: &[String]) {
    let mut conn = proxy.connect();
    for chunk in keys.chunks(500) {
        let mut batch = Vec::new();
        for key in chunk {
            batch.extend_from_slice(format!("set {key} 0 0 1\r\np\r\n").as_bytes());
        }
        conn.write_all(&batch).unwrap();
        let (reply, _) = read_until(&mut conn, Duration::from_secs(10), |got| {
            got.len() >= chunk.len() * b"STORED\r\n".len()
        });
        assert_eq!(
            reply,
            b"STORED\r\n".repeat(chunk.len()),
            "through the proxy"
        );
    }
}

/// Sets every key through the client, 100 requests in flight.
fn write_through_client(runtime: &Runtime, client: &Client, keys: &[String]) {
    runtime.block_on(async {
        let mut writers = tokio::task::JoinSet::new();
        for chunk in keys.chunks(keys.len().div_ceil(100)) {
            let (client, chunk) = (client.clone(), chunk.to_vec());
            writers.spawn(async move {
                for key in chunk {
                    client.set(&key, "c", 0, 0).await.unwrap();
                }
            });
        }
        while let Some(done) = writers.join_next().await {
            done.unwrap();
        }
    });
}

/// Where the client puts each key, then where the proxy does (the servers emptied
/// in between).
fn placements(
    runtime: &Runtime,
    client: &Client,
    proxy: &Proxy,
    nodes: &[Node],
) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let keys = keys("placed", PLACED_KEYS);
    flush(nodes);
    write_through_client(runtime, client, &keys);
    let by_client = placement(nodes, &keys);
    flush(nodes);
    write_through_proxy(proxy, &keys);
    (by_client, placement(nodes, &keys))
}

fn assert_spread(placed: &BTreeMap<String, usize>, servers: usize) {
    let mut per_server = vec![0; servers];
    for &server in placed.values() {
        per_server[server] += 1;
    }
    assert!(
        per_server.iter().all(|&n| n > PLACED_KEYS / (servers * 4)),
        "keys not spread over the servers: {per_server:?}"
    );
}

#[test]
fn keys_land_where_the_proxy_puts_them_route_tree() {
    let nodes = nodes(3);
    let servers = [
        format!("{}:1", nodes[0].addr()),
        format!("{}:2 heavy", nodes[1].addr()),
        format!("{}:1", nodes[2].addr()),
    ];
    let tree = |port: u16| {
        format!(
            "[pools.cache]\nservers = {servers:?}\nhash = \"murmur\"\n\n\
             [[listeners]]\nlisten = \"127.0.0.1:{port}\"\nroute = \"cache\"\n"
        )
    };
    let proxy = Proxy::memkeep("--config", "route.toml", tree);
    let runtime = Runtime::new().unwrap();
    let client = runtime.block_on(async { Client::from_toml(&tree(proxy.port)).unwrap() });
    let (by_client, by_proxy) = placements(&runtime, &client, &proxy, &nodes);
    assert_spread(&by_proxy, nodes.len());
    assert_eq!(by_client, by_proxy);
}

#[test]
fn keys_land_where_the_proxy_puts_them_nutcracker_yml_and_builder() {
    let nodes = nodes(3);
    let addrs: Vec<String> = nodes.iter().map(Node::addr).collect();
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs, "")
    });
    let runtime = Runtime::new().unwrap();
    // The same pool as the file says: `nutcracker_yml` gives each server weight 1.
    let pool = NutcrackerPool::new(
        format!("127.0.0.1:{}", proxy.port),
        addrs.iter().map(|a| format!("{a}:1")).collect(),
    );
    let config = BTreeMap::from([("alpha".to_owned(), pool)]);
    let from_yml = runtime.block_on(async { Client::from_nutcracker(&config, "alpha").unwrap() });
    let (by_client, by_proxy) = placements(&runtime, &from_yml, &proxy, &nodes);
    assert_spread(&by_proxy, nodes.len());
    assert_eq!(by_client, by_proxy);

    // The builder's defaults are twemproxy's: fnv1a_64, ketama, weight 1.
    let built = runtime.block_on(async { Client::builder().servers(addrs.clone()).build() });
    let (by_builder, by_proxy) = placements(&runtime, &built.unwrap(), &proxy, &nodes);
    assert_eq!(by_builder, by_proxy);
}

/// Reads every key through the client: the values found.
fn read_all(runtime: &Runtime, client: &Client, keys: &[String]) -> HashMap<String, String> {
    runtime.block_on(async {
        let mut found = HashMap::new();
        for key in keys {
            if let Some(item) = client.get(key).await.unwrap() {
                found.insert(key.clone(), String::from_utf8(item.value.to_vec()).unwrap());
            }
        }
        found
    })
}

/// Sets every key to its own name through the client; every write must succeed.
fn write_all(runtime: &Runtime, client: &Client, keys: &[String]) {
    runtime.block_on(async {
        for key in keys {
            client.set(key, key.clone(), 0, 0).await.unwrap();
        }
    });
}

/// Waits until `node` holds every key, with its name as value.
fn wait_held(node: &Node, keys: &[String]) -> bool {
    wait_for(Duration::from_secs(20), || {
        let held = values(&mut node.connect(), keys);
        keys.iter()
            .all(|k| held.get(k).cloned().flatten().as_deref() == Some(k.as_str()))
    })
}

#[test]
fn two_copies_keep_serving_through_kill_and_restart() {
    let mut nodes = nodes(2);
    let runtime = Runtime::new().unwrap();
    let client = runtime.block_on(async {
        Client::builder()
            .servers(nodes.iter().map(Node::addr))
            .replicas(2)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    });
    let before = keys("before", 300);
    write_all(&runtime, &client, &before);
    for node in &nodes {
        assert!(
            wait_held(node, &before),
            "a copy missing on {}",
            node.addr()
        );
    }

    // One copy killed: every read still hits, every write succeeds.
    nodes[1].kill();
    let during = keys("during", 300);
    assert_eq!(read_all(&runtime, &client, &before).len(), before.len());
    write_all(&runtime, &client, &during);
    let everything: Vec<String> = before.iter().chain(&during).cloned().collect();
    let found = read_all(&runtime, &client, &everything);
    assert!(everything.iter().all(|k| found.get(k) == Some(k)));

    // Back, empty: it is handed the writes it missed, and reads copy the older
    // items back to it.
    nodes[1].restart();
    assert!(wait_held(&nodes[1], &during), "missed writes not replayed");
    let found = read_all(&runtime, &client, &before);
    assert!(before.iter().all(|k| found.get(k) == Some(k)));
    assert!(
        wait_held(&nodes[1], &before),
        "reads did not repair the copy"
    );

    // So the other copy can go now: the restarted one answers everything.
    nodes[0].kill();
    let found = read_all(&runtime, &client, &everything);
    assert!(everything.iter().all(|k| found.get(k) == Some(k)));
    write_all(&runtime, &client, &keys("after", 100));
}

/// Every command of the typed API, against memkeepd and stock memcached alike.
#[test]
fn every_command_answers_as_memcached_does() {
    for kind in [NodeKind::Memkeepd, NodeKind::Memcached] {
        let node = Node::start(kind);
        let runtime = Runtime::new().unwrap();
        runtime.block_on(async {
            let client = Client::builder().servers([node.addr()]).build().unwrap();
            assert_eq!(client.get("k").await.unwrap(), None, "{kind:?}");
            assert!(client.add("k", "a", 7, 0).await.unwrap());
            assert!(!client.add("k", "b", 0, 0).await.unwrap());
            assert!(client.replace("k", "c", 9, 0).await.unwrap());
            assert!(!client.replace("absent", "c", 0, 0).await.unwrap());
            assert!(client.append("k", "d").await.unwrap());
            assert!(client.prepend("k", "b").await.unwrap());
            assert!(!client.append("absent", "d").await.unwrap());
            let item = client.get("k").await.unwrap().unwrap();
            assert_eq!((&item.value[..], item.flags), (&b"bcd"[..], 9));

            let (_, cas) = client.gets("k").await.unwrap().unwrap();
            assert_eq!(
                client.cas("k", "e", 1, 0, cas + 1).await.unwrap(),
                CasOutcome::Exists
            );
            assert_eq!(
                client.cas("k", "e", 1, 0, cas).await.unwrap(),
                CasOutcome::Stored
            );
            assert_eq!(
                client.cas("absent", "e", 1, 0, cas).await.unwrap(),
                CasOutcome::NotFound
            );
            assert_eq!(&client.get("k").await.unwrap().unwrap().value[..], b"e");

            client.set("n", "10", 0, 0).await.unwrap();
            assert_eq!(client.incr("n", 5).await.unwrap(), Some(15));
            assert_eq!(client.decr("n", 20).await.unwrap(), Some(0));
            assert_eq!(client.incr("absent", 1).await.unwrap(), None);
            assert!(matches!(client.incr("k", 1).await, Err(Error::NonNumeric)));
            assert!(matches!(client.get("a key").await, Err(Error::InvalidKey)));
            let big = vec![b'x'; 2 * 1024 * 1024];
            assert!(matches!(
                client.set("big", big, 0, 0).await,
                Err(Error::TooLarge)
            ));

            assert!(client.touch("k", 100).await.unwrap());
            assert!(!client.touch("absent", 100).await.unwrap());
            let many = client.get_many(["k", "n", "absent"]).await.unwrap();
            let mut found: Vec<_> = many.keys().cloned().collect();
            found.sort();
            assert_eq!(found, ["k", "n"]);
            assert!(client.delete("k").await.unwrap());
            assert!(!client.delete("k").await.unwrap());
        });
    }
}
