//! memkeep-proxy with magent's flags in front of a main and a backup server (memkeepd
//! and stock memcached): the failure magent has, where a backup that restarted
//! empty answers misses, does not happen here: reads fail over and repair it.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::net::TcpStream;
use std::time::Duration;

use harness::{exchange, get, memcached_on, set, wait_connected, Proxy};
use support::{wait_for, Server};

/// How many of `keys` a multi-get on `conn` finds (values checked).
fn hits(conn: &mut TcpStream, keys: &[String]) -> usize {
    let mut found = 0;
    for chunk in keys.chunks(100) {
        let reply = exchange(
            conn,
            format!("get {}\r\n", chunk.join(" ")).as_bytes(),
            b"END\r\n",
        );
        let reply = String::from_utf8(reply).unwrap();
        for key in chunk {
            if reply.contains(&format!("VALUE {key} 0 {}\r\nv-{key}\r\n", key.len() + 2)) {
                found += 1;
            }
        }
    }
    found
}

/// Sets every key through `conn`, 100 pipelined requests at a time.
fn set_all(conn: &mut TcpStream, keys: &[String]) {
    for chunk in keys.chunks(100) {
        let burst: String = chunk
            .iter()
            .map(|k| format!("set {k} 0 0 {}\r\nv-{k}\r\n", k.len() + 2))
            .collect();
        let want = "STORED\r\n".repeat(chunk.len());
        let reply = exchange(conn, burst.as_bytes(), want.as_bytes());
        assert_eq!(String::from_utf8(reply).unwrap(), want);
    }
}

#[test]
fn a_backup_that_restarts_empty_is_repaired_by_reads() {
    let main = Server::memkeepd(&[]);
    let backup = Server::memcached(&[]);
    let backup_port = backup.port;
    let proxy = Proxy::magent(&["-s", &main.addr(), "-b", &backup.addr()]);
    let mut conn = proxy.connect();

    // Written to both: the main at once, the backup in the background.
    assert_eq!(set(&mut conn, "k", "the-value"), "STORED\r\n");
    assert_eq!(
        get(&mut main.connect(), "k").unwrap().as_deref(),
        Some("the-value")
    );
    assert!(wait_for(Duration::from_secs(5), || get(
        &mut backup.connect(),
        "k"
    )
    .unwrap()
    .is_some()));

    // kill -9 the backup: reads still answer.
    drop(backup);
    assert_eq!(get(&mut conn, "k").unwrap().as_deref(), Some("the-value"));

    // It comes back empty. magent would answer a miss from it; the main still has
    // the key, so the proxy answers the value and writes it back to the backup.
    let mut backup = memcached_on(backup_port);
    let backup_addr = format!("127.0.0.1:{backup_port}");
    assert!(wait_connected(&proxy, "backup", &backup_addr));
    assert_eq!(get(&mut conn, "k").unwrap().as_deref(), Some("the-value"));
    let mut direct = TcpStream::connect(("127.0.0.1", backup_port)).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || get(&mut direct, "k")
            .unwrap()
            .is_some()),
        "the backup was not repaired"
    );
    assert_eq!(get(&mut direct, "k").unwrap().as_deref(), Some("the-value"));

    // 10,000 keys: after another restart of the backup, every read hits, and the
    // backup then holds every key.
    let keys: Vec<String> = (0..10_000).map(|i| format!("key:{i}")).collect();
    set_all(&mut conn, &keys);
    let _ = backup.kill();
    let _ = backup.wait();
    let mut backup = memcached_on(backup_port);
    assert!(wait_connected(&proxy, "backup", &backup_addr));
    assert_eq!(
        hits(&mut conn, &keys),
        keys.len(),
        "reads through the proxy"
    );
    let mut direct = TcpStream::connect(("127.0.0.1", backup_port)).unwrap();
    let mut held = 0;
    let repaired = wait_for(Duration::from_secs(10), || {
        held = hits(&mut direct, &keys);
        held == keys.len()
    });
    assert!(repaired, "the backup holds {held} of {} keys", keys.len());
    let _ = backup.kill();
    let _ = backup.wait();
}

#[test]
fn a_main_that_restarts_empty_is_repaired_too() {
    let main = Server::memcached(&[]);
    let main_port = main.port;
    let backup = Server::memkeepd(&[]);
    let proxy = Proxy::magent(&[
        "-s",
        &main.addr(),
        "-b",
        &backup.addr(),
        "--write-policy",
        "all",
    ]);
    let mut conn = proxy.connect();
    let keys: Vec<String> = (0..500).map(|i| format!("m:{i}")).collect();
    set_all(&mut conn, &keys);
    // With `all`, an acknowledged write is on both servers.
    assert_eq!(hits(&mut backup.connect(), &keys), keys.len());

    // kill -9 the main: reads fail over to the backup.
    drop(main);
    assert_eq!(hits(&mut conn, &keys), keys.len());
    // Writes under `all` now fail: the client learns its write is not on both.
    assert!(set(&mut conn, "new", "v").starts_with("SERVER_ERROR "));

    // The main comes back empty: reads hit, and repair it.
    let mut restarted = memcached_on(main_port);
    assert!(wait_connected(
        &proxy,
        "main",
        &format!("127.0.0.1:{main_port}")
    ));
    assert_eq!(hits(&mut conn, &keys), keys.len());
    let mut direct = TcpStream::connect(("127.0.0.1", main_port)).unwrap();
    assert!(wait_for(Duration::from_secs(10), || hits(
        &mut direct,
        &keys
    ) == keys.len()));
    let _ = restarted.kill();
    let _ = restarted.wait();
}

#[test]
fn without_read_repair_reads_fail_over_on_a_miss() {
    let main = Server::memcached(&[]);
    let backup = Server::memcached(&[]);
    let proxy = Proxy::magent(&["-s", &main.addr(), "-b", &backup.addr(), "--no-read-repair"]);
    let mut conn = proxy.connect();
    // Only on the backup: the main misses, the backup answers.
    assert_eq!(set(&mut backup.connect(), "only-backup", "b"), "STORED\r\n");
    assert_eq!(get(&mut conn, "only-backup").unwrap().as_deref(), Some("b"));
    // Not repaired: the main still misses.
    assert_eq!(get(&mut main.connect(), "only-backup").unwrap(), None);
}

/// One thread (the default) and a thread pool serve the same: clients at once on
/// their own connections, each reading back its own writes, on both servers.
#[test]
fn one_thread_and_a_thread_pool_serve_concurrent_clients_alike() {
    for threads in [None, Some("3")] {
        let main = Server::memcached(&[]);
        let backup = Server::memcached(&[]);
        // Writes wait for both servers, so the backup holds every key once acknowledged.
        let mut args = vec!["-s".to_owned(), main.addr(), "-b".to_owned(), backup.addr()];
        args.extend(["--write-policy".to_owned(), "all".to_owned()]);
        if let Some(n) = threads {
            args.extend(["--threads".to_owned(), n.to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let proxy = Proxy::magent(&args);
        std::thread::scope(|scope| {
            for client in 0..6 {
                let proxy = &proxy;
                scope.spawn(move || {
                    let mut conn = proxy.connect();
                    let keys: Vec<String> = (0..200).map(|i| format!("c{client}:k{i}")).collect();
                    set_all(&mut conn, &keys);
                    assert_eq!(hits(&mut conn, &keys), keys.len(), "threads {threads:?}");
                });
            }
        });
        let mut direct = backup.connect();
        assert_eq!(
            get(&mut direct, "c5:k199").unwrap(),
            Some("v-c5:k199".to_owned()),
            "threads {threads:?}: written to the backup too"
        );
    }
}
