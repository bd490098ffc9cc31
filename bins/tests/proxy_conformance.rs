//! The conformance tables (bins/tests/conformance/{text,meta}.rs) run through
//! memkeep-proxy in front of three stock memcached, except the cases that are
//! about one server rather than the protocol (listed in [`EXCLUDED`] with why); the
//! store failure tables (a value too large, and what it does to the old value) in
//! front of memcached and of memkeepd, and on a replicated route.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

#[path = "conformance/case.rs"]
mod case;

#[path = "conformance/meta.rs"]
mod meta;
#[path = "conformance/store_failures.rs"]
mod store_failures;
#[path = "conformance/text.rs"]
mod text;

use case::check;
pub use case::Case;
use harness::{exchange, nutcracker_yml, Proxy};
use support::Server;

/// Cases that do not hold through a proxy, and why: two store failure cases. Every
/// text and meta case passes through the proxy (version and stats, which the proxy
/// answers itself or from one server, are not in the tables).
const EXCLUDED: &[(&str, &str)] = &[
    (
        "a set too large counts for stats detail",
        "the proxy sends a too-large set on as a delete of its key: the server counts a delete",
    ),
    (
        "cas too large with the item header keeps the old value",
        "the proxy sends every store as `ms`, which removes the old value when the server \
         finds it too large; a value over the limit itself never reaches the server",
    ),
];

fn run_case(proxy: &Proxy, case: &Case) -> Result<(), String> {
    run_case_in(proxy, case, false)
}

fn run_case_in(proxy: &Proxy, case: &Case, binary: bool) -> Result<(), String> {
    let mut flush = proxy.connect();
    assert_eq!(exchange(&mut flush, b"flush_all\r\n", b"\r\n"), b"OK\r\n");
    check(&mut proxy.connect(), case, binary, "memkeep-proxy")
}

/// The store failure tables through `proxy`; every case passes.
fn store_failures_through(proxy: &Proxy, behind: &str) {
    let tables = [
        (store_failures::text_cases(), false),
        (store_failures::binary_cases(), true),
    ];
    let mut failures = Vec::new();
    let mut passed = 0;
    for (cases, binary) in &tables {
        for case in cases {
            if EXCLUDED.iter().any(|(name, _)| *name == case.name) {
                continue;
            }
            match run_case_in(proxy, case, *binary) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("{behind}: {e}")),
            }
        }
    }
    eprintln!(
        "store failures through memkeep-proxy before {behind}: {passed} passed, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 20);
}

#[test]
fn store_failures_through_the_proxy() {
    for (behind, servers) in [
        (
            "memcached",
            [Server::memcached(&[]), Server::memcached(&[])],
        ),
        ("memkeepd", [Server::memkeepd(&[]), Server::memkeepd(&[])]),
    ] {
        let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
        let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
            nutcracker_yml(port, &addrs, "")
        });
        store_failures_through(&proxy, behind);
    }
}

/// Which of `servers` hold `key`.
fn holders(servers: &[Server], key: &str) -> Vec<usize> {
    (0..servers.len())
        .filter(|&i| {
            let got = exchange(
                &mut servers[i].connect(),
                format!("get {key}\r\n").as_bytes(),
                b"END\r\n",
            );
            got != b"END\r\n"
        })
        .collect()
}

/// On a replicated route a too-large set removes the key from every replica (one
/// memcached, one memkeepd), as a set would have written to every one; a too-large
/// append leaves both.
#[test]
fn a_too_large_set_unlinks_every_replica() {
    let servers = [Server::memcached(&[]), Server::memkeepd(&[])];
    let list: Vec<String> = servers
        .iter()
        .map(|s| format!("\"{}\"", s.addr()))
        .collect();
    let proxy = Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            r#"
[pools.cache]
servers = [{}]
replicas = 2

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
            list.join(", ")
        )
    });
    let mut conn = proxy.connect();
    let big = "x".repeat(1024 * 1024 + 1);
    for (verb, kept) in [("append", vec![0, 1]), ("set", vec![])] {
        for key in ["a", "b", "c"] {
            let set = format!("set {key} 0 0 3\r\nMOO\r\n");
            assert_eq!(exchange(&mut conn, set.as_bytes(), b"\r\n"), b"STORED\r\n");
            assert_eq!(holders(&servers, key), [0, 1]);
            let line = format!("{verb} {key} 0 0 {}\r\n{big}\r\n", big.len());
            assert_eq!(
                exchange(&mut conn, line.as_bytes(), b"\r\n"),
                b"SERVER_ERROR object too large for cache\r\n"
            );
            assert_eq!(holders(&servers, key), kept, "{verb} {key}");
        }
    }
}

#[test]
fn text_and_meta_tables_through_the_proxy() {
    let servers: Vec<Server> = (0..3).map(|_| Server::memcached(&[])).collect();
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs, "")
    });
    let mut failures = Vec::new();
    let (mut passed, mut skipped) = (0, 0);
    for case in text::CASES.iter().chain(meta::CASES) {
        if EXCLUDED.iter().any(|(name, _)| *name == case.name) {
            skipped += 1;
            continue;
        }
        match run_case(&proxy, case) {
            Ok(()) => passed += 1,
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "through memkeep-proxy: {passed} passed, {} failed, {skipped} excluded",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
