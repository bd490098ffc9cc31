//! memkeep-proxy with magent's flags in front of a main and a backup server (memkeepd
//! and stock memcached): the failure magent has, where a backup that restarted
//! empty answers misses, does not happen here: reads fail over and repair it.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::{exchange, get, memcached_on, set, wait_connected, Proxy};
use support::{free_port, wait_for, wait_until_accepting, Server};

fn proxy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"))
}

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

    // Written to both; the reply is the first server's (first-success), the other
    // takes it in the background.
    assert_eq!(set(&mut conn, "k", "the-value"), "STORED\r\n");
    assert!(wait_for(Duration::from_secs(5), || get(
        &mut main.connect(),
        "k"
    )
    .unwrap()
    .is_some()));
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

/// Without -l, magent's flags listen on 127.0.0.1 only (magent's own default was
/// every interface), and --help says so.
#[test]
fn magent_mode_listens_on_loopback_unless_told() {
    let main = Server::memcached(&[]);
    let port = free_port();
    let mut child = proxy()
        .args(["-p", &port.to_string(), "-s", &main.addr()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until_accepting(port, &mut child));
    assert!(
        TcpStream::connect(("127.0.0.2", port)).is_err(),
        "bound beyond 127.0.0.1"
    );
    let _ = child.kill();
    let _ = child.wait();
    for args in [&["-s", "h:1", "--help"][..], &["--help"]] {
        let out = proxy().args(args).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("127.0.0.1"), "{args:?}: {help}");
    }
}

/// `-p PORT -s PORT` with bare numbers are twemproxy's flags (pid file, stats port):
/// the error says so and how to write magent's.
#[test]
fn bare_numbers_are_read_as_twemproxy_flags_and_the_error_says_so() {
    let out = proxy()
        .args(["-p", "11311", "-s", "11211"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    for words in [
        "-p 11311 as twemproxy's pid file",
        "-s 11211 as twemproxy's stats port",
        "no -c or --config",
        "-s 127.0.0.1:11211",
    ] {
        assert!(said.contains(words), "{words:?} in {said}");
    }
    // Written as the error suggests, it is magent's command line.
    let main = Server::memcached(&[]);
    let port = free_port();
    let mut child = proxy()
        .args(["-p", &port.to_string(), "-s", &main.addr()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until_accepting(port, &mut child));
    let _ = child.kill();
    let _ = child.wait();
}

/// `-t` reads the certificate, key and auth files a start would read, and fails on
/// one that cannot be read with the message the start gives.
#[test]
fn test_conf_reads_the_files_the_start_reads() {
    let dir = harness::TempDir::new();
    let missing = |name: &str| dir.0.join(name).display().to_string();
    let (port, stats) = (free_port(), free_port());
    let pools = "[pools.alpha]\nservers = [\"127.0.0.1:1:1\"]\n";
    let listener = format!("[[listeners]]\nlisten = \"127.0.0.1:{port}\"\npool = \"alpha\"\n");
    let cases = [
        (
            format!(
                "{pools}{listener}[listeners.tls]\ncert = \"{}\"\n",
                missing("no.crt")
            ),
            missing("no.crt"),
        ),
        (
            format!(
                "{pools}{listener}[listeners.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                missing("no.crt"),
                missing("no.key")
            ),
            missing("no.crt"),
        ),
        (
            format!("{pools}{listener}authfile = \"{}\"\n", missing("no.users")),
            missing("no.users"),
        ),
        (
            format!(
                "{pools}[pools.alpha.tls]\nca = \"{}\"\n{listener}",
                missing("no-ca.crt")
            ),
            missing("no-ca.crt"),
        ),
    ];
    for (i, (config, file)) in cases.iter().enumerate() {
        let path = dir.0.join(format!("route{i}.toml"));
        std::fs::write(&path, config).unwrap();
        let path = path.display().to_string();
        let checked = proxy().args(["-t", "--config", &path]).output().unwrap();
        let started = proxy()
            .args(["--config", &path, "-s", &stats.to_string()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (checked_said, started_said) = (
            String::from_utf8_lossy(&checked.stderr),
            String::from_utf8_lossy(&started.stderr),
        );
        assert!(!checked.status.success(), "-t accepted {config}");
        assert!(!started.status.success(), "started with {config}");
        assert!(checked_said.contains(file.as_str()), "{checked_said}");
        let message = |said: &str| {
            said.lines()
                .find(|l| l.starts_with("memkeep-proxy:"))
                .unwrap_or_default()
                .to_owned()
        };
        assert!(!message(&checked_said).is_empty(), "{checked_said}");
        assert_eq!(message(&checked_said), message(&started_said));
    }
}
