//! Warm restart (`memkeepd -e FILE`) with real processes on loopback: an orderly stop
//! saves the cache and the next start restores every unexpired item byte for byte;
//! a kill -9 never restores stale items; a bad file starts an empty cache that
//! serves; a pair member restarted with `-e` and `-x` resumes from its peer.

#[path = "warm_restart/node.rs"]
mod node;
mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use node::{Client, Node};
use support::{free_port, wait_for};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memkeep-warm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// 1,000 items: flags and values vary; a third never expire, a third have TTLs of
/// minutes, a third an absolute expiry 40 days ahead; some are set again, so their
/// CAS values are not in key order.
fn thousand_items(client: &mut Client) -> Vec<String> {
    let far = unix_now() + 40 * 86_400;
    let mut keys = Vec::new();
    let mut requests = Vec::new();
    let set = |i: u64, round: u64| {
        let value: String = (0..(i * 13 + round) % 500)
            .map(|j| char::from(b'!' + ((i + j) % 90) as u8))
            .collect();
        let ttl = match i % 3 {
            0 => 0,
            1 => 600 + i,
            _ => far,
        };
        let flags = (i * 2_654_435_761 + round) % (1 << 32);
        format!("ms warm:{i} {} F{flags} T{ttl}\r\n{value}\r\n", value.len()).into_bytes()
    };
    for i in 0..1000u64 {
        requests.push(set(i, 0));
        keys.push(format!("warm:{i}"));
    }
    for i in (0..1000u64).rev().filter(|i| i % 7 == 0) {
        requests.push(set(i, 1));
    }
    let n = requests.len();
    let reply = client.pipeline(&requests, 1);
    assert_eq!(reply, "HD\r\n".repeat(n));
    keys
}

/// The largest CAS in a `gets` reply.
fn largest_cas(gets: &[u8]) -> u64 {
    String::from_utf8_lossy(gets)
        .lines()
        .filter(|l| l.starts_with("VALUE "))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .max()
        .unwrap()
}

#[test]
fn warm_restart_brings_back_every_item_with_flags_ttl_and_cas() {
    let dir = scratch("keeps");
    let file = dir.join("cache.snapshot");
    let file_arg = file.to_str().unwrap();
    let node = Node::start(&dir, "first", &["-e", file_arg]);
    assert!(node
        .log()
        .contains("no snapshot, starting with an empty cache"));
    let mut c = node.client();
    let settings = String::from_utf8(c.call(b"stats settings\r\n", b"END\r\n")).unwrap();
    assert!(
        settings.contains(&format!("STAT memory_file {file_arg}\r\n")),
        "{settings}"
    );
    let keys = thousand_items(&mut c);
    // Items about to expire: live when saved, gone once their time passed.
    let soon = unix_now() + 3;
    let short: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("ms short:{i} 1 T{soon}\r\nx\r\n").into_bytes())
        .collect();
    assert_eq!(c.pipeline(&short, 1), "HD\r\n".repeat(10));
    let gets_before = c.gets(&keys);
    let largest = largest_cas(&gets_before);
    let meta_before = c.meta(&keys);
    let stopped_at = unix_now();
    // SIGTERM (what systemd sends) saves, as SIGUSR1 does.
    let log = node.stop(Signal::SIGTERM);
    assert!(log.contains("cache saved"), "{log}");
    assert!(file.exists());
    assert!(wait_for(Duration::from_secs(10), || unix_now() > soon));

    let node = Node::start(&dir, "second", &["-e", file_arg]);
    let log = node.log();
    assert!(log.contains("cache restored"), "{log}");
    assert!(log.contains("items=1000 expired=10"), "{log}");
    // Read and removed: a crash from now on cannot restore it again.
    assert!(!file.exists());
    let mut c = node.client();
    assert_eq!(
        String::from_utf8(c.gets(&keys)).unwrap(),
        String::from_utf8(gets_before).unwrap()
    );
    let elapsed = (unix_now() - stopped_at) as i64 + 1;
    let meta_after = c.meta(&keys);
    for ((before, ttl_before), (after, ttl_after)) in meta_before.iter().zip(&meta_after) {
        assert_eq!(after, before);
        if *ttl_before == -1 {
            assert_eq!(*ttl_after, -1, "{after}");
        } else {
            assert!(
                (ttl_before - elapsed..=*ttl_before).contains(ttl_after),
                "{after}: t{ttl_before} then t{ttl_after}"
            );
        }
    }
    let short: Vec<String> = (0..10).map(|i| format!("short:{i}")).collect();
    assert_eq!(c.gets(&short), b"END\r\n");
    // New CAS uniques come after every restored one.
    let reply = String::from_utf8(c.call(b"ms fresh 1 c\r\nx\r\n", b"\r\n")).unwrap();
    let cas: u64 = reply
        .trim_end()
        .split_once(" c")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!(cas > largest, "{reply}");
    node.stop(Signal::SIGUSR1);
    assert!(file.exists(), "SIGUSR1 saves too");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warm_restart_a_kill_9_never_restores_stale_items() {
    let dir = scratch("kill9");
    let file = dir.join("cache.snapshot");
    let file_arg = file.to_str().unwrap();
    let node = Node::start(&dir, "first", &["-e", file_arg]);
    let mut c = node.client();
    assert_eq!(c.call(b"set old 0 0 3\r\nabc\r\n", b"\r\n"), b"STORED\r\n");
    node.stop(Signal::SIGUSR1);
    // Restored once, then the item is deleted and the process killed: the saved
    // copy must not come back.
    let node = Node::start(&dir, "second", &["-e", file_arg]);
    let mut c = node.client();
    assert_eq!(
        c.call(b"get old\r\n", b"END\r\n"),
        b"VALUE old 0 3\r\nabc\r\nEND\r\n"
    );
    assert_eq!(c.call(b"delete old\r\n", b"\r\n"), b"DELETED\r\n");
    node.kill9();
    let node = Node::start(&dir, "third", &["-e", file_arg]);
    assert!(node.log().contains("no snapshot"), "{}", node.log());
    let mut c = node.client();
    assert_eq!(c.call(b"get old\r\n", b"END\r\n"), b"END\r\n");
    // Killed without ever saving: empty as well.
    assert_eq!(c.call(b"set new 0 0 1\r\nx\r\n", b"\r\n"), b"STORED\r\n");
    node.kill9();
    let node = Node::start(&dir, "fourth", &["-e", file_arg]);
    assert_eq!(node.client().call(b"get new\r\n", b"END\r\n"), b"END\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warm_restart_a_start_that_fails_keeps_the_file() {
    let dir = scratch("failed-start");
    let file = dir.join("cache.snapshot");
    let file_arg = file.to_str().unwrap();
    let node = Node::start(&dir, "first", &["-e", file_arg]);
    assert_eq!(
        node.client().call(b"set kept 3 0 2\r\nok\r\n", b"\r\n"),
        b"STORED\r\n"
    );
    node.stop(Signal::SIGTERM);
    // Its port is taken: the start fails after reading the file, which stays.
    let busy = Node::start(&dir, "busy", &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
        .args([
            "-l",
            "127.0.0.1",
            "-p",
            &busy.port.to_string(),
            "-e",
            file_arg,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(file.exists());
    let node = Node::start(&dir, "second", &["-e", file_arg]);
    assert_eq!(
        node.client().call(b"get kept\r\n", b"END\r\n"),
        b"VALUE kept 3 2\r\nok\r\nEND\r\n"
    );
    assert!(!file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warm_restart_a_bad_file_starts_an_empty_cache_that_serves() {
    let dir = scratch("bad");
    let file = dir.join("cache.snapshot");
    let file_arg = file.to_str().unwrap();
    let node = Node::start(&dir, "saver", &["-e", file_arg]);
    let sets: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("set k{i} {i} 0 5\r\nvalue\r\n").into_bytes())
        .collect();
    node.client().pipeline(&sets, 1);
    node.stop(Signal::SIGUSR1);
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 1;
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "truncated snapshot",
        ),
        ("flipped", flipped, "snapshot refused"),
        ("empty", Vec::new(), "not a memkeepd snapshot"),
        (
            "other version",
            [&good[..8], &9u32.to_le_bytes()[..], &good[12..]].concat(),
            "snapshot format version 9",
        ),
        (
            "foreign",
            b"#!/bin/sh\necho hello\n".to_vec(),
            "not a memkeepd snapshot",
        ),
    ];
    for (name, bytes, said) in cases {
        std::fs::write(&file, &bytes).unwrap();
        let node = Node::start(&dir, "loader", &["-e", file_arg]);
        let log = node.log();
        assert!(log.contains(said), "{name}: {log}");
        assert!(
            log.contains("starting with an empty cache"),
            "{name}: {log}"
        );
        let mut c = node.client();
        assert_eq!(c.call(b"get k1\r\n", b"END\r\n"), b"END\r\n", "{name}");
        assert_eq!(c.call(b"set x 0 0 1\r\ny\r\n", b"\r\n"), b"STORED\r\n");
        assert_eq!(
            c.call(b"get x\r\n", b"END\r\n"),
            b"VALUE x 0 1\r\ny\r\nEND\r\n"
        );
        // A file that is not a snapshot at all is left as it was; ours is removed.
        let kept = std::fs::read(&file).ok();
        if name == "foreign" || name == "empty" {
            assert_eq!(kept.as_deref(), Some(&bytes[..]), "{name}");
        } else {
            assert_eq!(kept, None, "{name}");
        }
        node.kill9();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warm_restart_a_file_in_a_missing_directory_is_refused_at_start() {
    let dir = scratch("missing");
    let file = dir.join("no/such/dir/cache.snapshot");
    let out = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
        .args(["-l", "127.0.0.1", "-p", &free_port().to_string()])
        .args(["-e", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cannot use the memory file"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_stat(node: &Node, what: &str, ok: impl Fn(&HashMap<String, String>) -> bool) {
    let mut c = node.client();
    let mut last = HashMap::new();
    let done = wait_for(Duration::from_secs(20), || {
        last = c.stats();
        ok(&last)
    });
    assert!(done, "{what}: {last:?}");
}

#[test]
fn warm_restart_pair_member_resumes_from_its_peer() {
    let dir = scratch("pair");
    let file = dir.join("b.snapshot");
    let file_arg = file.to_str().unwrap();
    let (ra, rb) = (free_port(), free_port());
    let (ra_arg, rb_arg) = (ra.to_string(), rb.to_string());
    let peer_a = format!("127.0.0.1:{ra}");
    let a = Node::start(&dir, "a", &["-X", &ra_arg]);
    let b_flags = ["-X", &rb_arg, "-x", &peer_a, "-e", file_arg];
    let b = Node::start(&dir, "b", &b_flags);
    let synced =
        |s: &HashMap<String, String>| s["repl_state"] == "synced" && s["repl_links"] != "0";
    wait_stat(&b, "b synced", synced);
    let sets: Vec<Vec<u8>> = (0..500)
        .map(|i| format!("set k{i} {i} 0 6\r\nfirst{}\r\n", i % 10).into_bytes())
        .collect();
    a.client().pipeline(&sets, 1);
    let keys: Vec<String> = (0..500).map(|i| format!("k{i}")).collect();
    let mut cb = b.client();
    let mut ca = a.client();
    let replicated = wait_for(Duration::from_secs(20), || cb.gets(&keys) == ca.gets(&keys));
    assert!(replicated, "b never got a's items");
    let log = b.stop(Signal::SIGTERM);
    assert!(log.contains("cache saved"), "{log}");
    // While b is down: changes, deletes and new keys on a.
    let mut changes = Vec::new();
    for i in 0..100 {
        changes.push(format!("set k{i} 7 0 7\r\nchanged\r\n").into_bytes());
        changes.push(format!("delete k{}\r\n", 100 + i).into_bytes());
        changes.push(format!("set new{i} 0 0 3\r\nnew\r\n").into_bytes());
    }
    ca.pipeline(&changes, 1);
    let b = Node::start(&dir, "b-again", &b_flags);
    assert!(b.log().contains("items=500"), "{}", b.log());
    wait_stat(&b, "b synced again", synced);
    let all: Vec<String> = keys
        .iter()
        .cloned()
        .chain((0..100).map(|i| format!("new{i}")))
        .collect();
    let mut cb = b.client();
    let mut ca = a.client();
    let same = wait_for(Duration::from_secs(20), || cb.gets(&all) == ca.gets(&all));
    assert!(same, "b and a differ after the restart");
    let on_b = String::from_utf8(cb.gets(&all)).unwrap();
    assert!(!on_b.contains("VALUE k150 "), "a deleted key came back");
    assert!(on_b.contains("VALUE k5 7 7 "), "{on_b}");
    // What changed came from a's backlog: no full copy to b.
    let stats_b = cb.stats();
    assert_eq!(stats_b["repl_full_copies_received"], "0", "{stats_b:?}");
    let resumes: u64 = ca.stats()["repl_resumes"].parse().unwrap();
    assert!(resumes >= 1, "a never resumed b's stream");
    drop(b);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}
