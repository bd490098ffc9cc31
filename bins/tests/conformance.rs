//! Raw-bytes conformance: each case sends bytes on a fresh connection and expects
//! memcached's exact reply. Every table runs against stock memcached (so the table is
//! checked against the reference) and against memkeepd.

mod support;

#[path = "conformance/case.rs"]
mod case;

#[path = "conformance/admin.rs"]
mod admin;
#[path = "conformance/binary.rs"]
mod binary;
#[path = "conformance/crawler.rs"]
mod crawler;
#[path = "conformance/framing.rs"]
mod framing;
#[path = "conformance/meta.rs"]
mod meta;
#[path = "conformance/store_failures.rs"]
mod store_failures;
#[path = "conformance/text.rs"]
mod text;
#[path = "conformance/watch.rs"]
mod watch;

pub use case::Case;
use case::{check, matches};
use std::io::Write;

use support::Server;

fn run_case(server: &Server, case: &Case, binary: bool) -> Result<(), String> {
    server.flush_all();
    check(&mut server.connect(), case, binary, server.name)
}

fn run_all(server: &Server) {
    let (failed_text, failed_binary) =
        (store_failures::text_cases(), store_failures::binary_cases());
    let tables: [(&str, &[Case], bool); 7] = [
        ("text", text::CASES, false),
        ("crawler", crawler::CASES, false),
        ("meta", meta::CASES, false),
        ("binary", binary::CASES, true),
        ("admin", admin::CASES, false),
        ("store failures", &failed_text, false),
        ("binary store failures", &failed_binary, true),
    ];
    let mut failures = Vec::new();
    let mut passed = 0;
    for (_, cases, binary) in tables {
        for case in cases {
            match run_case(server, case, binary) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(e),
            }
        }
    }
    let sizes: Vec<String> = tables
        .iter()
        .map(|(n, c, _)| format!("{n} {}", c.len()))
        .collect();
    eprintln!(
        "{}: {passed} cases passed, {} failed ({})",
        server.name,
        failures.len(),
        sizes.join(", ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 0);
}

#[test]
fn tables_match_stock_memcached() {
    run_all(&Server::memcached(&[]));
}

#[test]
fn memkeepd_matches_the_tables() {
    run_all(&Server::memkeepd(&[]));
}

/// Admin commands whose effects need waiting for, and the out-of-memory failures
/// (a small `-M` server of their own), against one server.
fn run_stateful(server: &Server, small: &Server) {
    admin::run_steps(server, admin::CRAWLER_OFF);
    admin::crawler_stopped(server);
    admin::run_steps(server, admin::CRAWLER_REFUSES);
    admin::enable_crawler(server);
    admin::crawl_reclaims_expired_items(server);
    admin::memlimit_changes_limit_maxbytes(server);
    admin::settings_follow_the_commands(server);
    store_failures::out_of_memory_unlinks(small);
}

#[test]
fn stateful_admin_and_out_of_memory_match_stock_memcached() {
    run_stateful(
        &Server::memcached(&[]),
        &Server::memcached(&["-m", "2", "-M"]),
    );
}

#[test]
fn memkeepd_stateful_admin_and_out_of_memory() {
    run_stateful(
        &Server::memkeepd(&[]),
        &Server::memkeepd(&["-m", "2", "-M"]),
    );
}

/// `stats` and `stats items` name memcached's fields in memcached's order: memkeepd
/// leaves out `libevent` (it does not use it) and adds its own at the end.
#[test]
fn stats_fields_are_stock_memcached_s() {
    let (memcached, memkeepd) = (Server::memcached(&[]), Server::memkeepd(&[]));
    let mut want = admin::stat_names(&memcached, b"stats\r\n");
    want.retain(|name| name != "libevent");
    let mut got = admin::stat_names(&memkeepd, b"stats\r\n");
    assert_eq!(got.split_off(want.len()), ["slow_request_kicks", "started"]);
    assert_eq!(got, want);
    for server in [&memcached, &memkeepd] {
        let mut c = server.connect();
        c.write_all(b"set one 0 0 1\r\nx\r\n").unwrap();
        let (stored, _) = support::read_until(&mut c, std::time::Duration::from_secs(5), |g| {
            g.ends_with(b"\r\n")
        });
        assert_eq!(stored, b"STORED\r\n");
    }
    assert_eq!(
        admin::stat_names(&memkeepd, b"stats items\r\n"),
        admin::stat_names(&memcached, b"stats items\r\n")
    );
}

/// `stats conns` lists the listening socket and the asking connection, with
/// memcached's fields (descriptors differ, and so may their order: memcached lists by
/// descriptor, and a connection can get a lower one than the listener's; a closed
/// connection may linger a moment in memcached's list, so this asks until it is gone).
/// memkeepd listens on a socket per worker thread, so it runs with one here.
#[test]
fn stats_conns_fields_are_stock_memcached_s() {
    // Each connection's field names, the connections sorted.
    let connections = |server: &Server| -> Vec<Vec<String>> {
        let mut by_fd: Vec<(String, Vec<String>)> = Vec::new();
        for name in admin::stat_names(server, b"stats conns\r\n") {
            let (fd, field) = name.split_once(':').unwrap_or(("", &name));
            match by_fd.iter_mut().find(|(f, _)| f == fd) {
                Some((_, fields)) => fields.push(field.to_owned()),
                None => by_fd.push((fd.to_owned(), vec![field.to_owned()])),
            }
        }
        let mut fields: Vec<Vec<String>> = by_fd.into_iter().map(|(_, f)| f).collect();
        fields.sort();
        fields
    };
    let want = [
        vec!["addr", "listen_addr", "state", "secs_since_last_cmd"],
        vec!["addr", "state", "secs_since_last_cmd"],
    ];
    for server in [Server::memcached(&[]), Server::memkeepd(&["-t", "1"])] {
        assert!(
            support::wait_for(std::time::Duration::from_secs(5), || connections(&server)
                == want),
            "{}: {:?}",
            server.name,
            connections(&server)
        );
    }
}

#[test]
fn memkeepd_never_reads_a_data_block_as_commands() {
    let server = Server::memkeepd(&[]);
    for case in framing::CASES {
        run_case(&server, case, false).unwrap();
    }
}

#[test]
fn watch_streams_what_stock_memcached_streams() {
    let (memcached, memkeepd) = (Server::memcached(&[]), Server::memkeepd(&[]));
    let want = watch::fetches_and_stores(&memcached);
    assert!(want.len() > 30, "{want:?}");
    assert_eq!(watch::fetches_and_stores(&memkeepd), want);
    assert_eq!(
        watch::connection_events(&memkeepd),
        watch::connection_events(&memcached)
    );
    let (memcached, memkeepd) = (
        Server::memcached(&["-m", "2"]),
        Server::memkeepd(&["-m", "2"]),
    );
    let want = watch::first_eviction(&memcached);
    assert_eq!(
        want,
        "type=eviction key=? fetch=no ttl=-1 la=? clsid=? size=100000"
    );
    assert_eq!(watch::first_eviction(&memkeepd), want);
}

#[test]
fn memkeepd_counts_its_watchers() {
    let server = Server::memkeepd(&[]);
    assert_eq!(admin::stat(&server, "log_watchers"), 0);
    let watching = watch::watcher(&server, "fetchers");
    assert_eq!(admin::stat(&server, "log_watchers"), 1);
    watch::run(&server, b"get a\r\n");
    assert!(admin::stat(&server, "log_watcher_sent") >= 1);
    drop(watching);
    assert!(support::wait_for(std::time::Duration::from_secs(5), || {
        admin::stat(&server, "log_watchers") == 0
    }));
}

#[test]
fn placeholder_matching() {
    assert_eq!(
        matches(b"VALUE a 0 1 {u64}\r\n", b"VALUE a 0 1 42\r\n"),
        Some(true)
    );
    assert_eq!(
        matches(b"VALUE a 0 1 {u64}\r\n", b"VALUE a 0 1 4"),
        Some(false)
    );
    assert_eq!(matches(b"VALUE a 0 1 {u64}\r\n", b"VALUE a 0 1 x"), None);
    assert_eq!(matches(b"END\r\n", b"END\r\nEND\r\n"), None);
}
