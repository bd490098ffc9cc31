//! Replication topologies beyond a pair, with real memkeepd processes on loopback:
//! a pair with a replica on each member; a group of three where each node lists the
//! others with `-x`, under concurrent writers on the same keys; and each node of the
//! group killed with SIGKILL in turn while writers run, then restarted.
//!
//! Nodes are compared key by key with `mg k v c` (value and CAS).

#[path = "replication_topology/cluster.rs"]
mod cluster;
#[path = "replication_topology/ledger.rs"]
mod ledger;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cluster::{converged, drained, pipeline, set, stats, ttls_agree, wait_linked, Group};
use ledger::{lost, more_batches, seeds, Writer};
use support::{free_port, Server};

#[test]
fn a_replica_of_either_pair_member_sees_the_writes_made_on_both() {
    let (ra, rb) = (free_port(), free_port());
    let a = Server::memkeepd(&["-t", "2", "-X", &ra.to_string()]);
    let b = Server::memkeepd(&[
        "-t",
        "2",
        "-X",
        &rb.to_string(),
        "-x",
        &format!("127.0.0.1:{ra}"),
    ]);
    let of_a = Server::memkeepd(&["-t", "2", "--replica-of", &format!("127.0.0.1:{ra}")]);
    let of_b = Server::memkeepd(&["-t", "2", "--replica-of", &format!("127.0.0.1:{rb}")]);
    wait_linked(&of_a, 1);
    wait_linked(&of_b, 1);
    wait_linked(&a, 2);
    wait_linked(&b, 2);
    let mut keys = Vec::new();
    for (server, tag) in [(&a, "a"), (&b, "b")] {
        let writes: Vec<(String, Vec<u8>)> = (0..500)
            .map(|i| {
                let key = format!("{tag}{i}");
                let request = set(&key, &format!("from {tag}"));
                (key, request)
            })
            .collect();
        let requests: Vec<Vec<u8>> = writes.iter().map(|(_, r)| r.clone()).collect();
        let replies = pipeline(&mut server.connect(), &requests);
        assert!(replies.iter().all(|r| r == "STORED") && replies.len() == 500);
        keys.extend(writes.into_iter().map(|(k, _)| k));
    }
    // Both sides write the same keys too.
    let same: Vec<String> = (0..200).map(|i| format!("same{i}")).collect();
    for (server, tag) in [(&a, "A"), (&b, "B")] {
        let requests: Vec<Vec<u8>> = same.iter().map(|k| set(k, tag)).collect();
        pipeline(&mut server.connect(), &requests);
    }
    keys.extend(same);
    let shown = converged(&[&a, &b, &of_a, &of_b], &keys);
    assert!(shown.values().all(|v| v.starts_with("VA ")));

    // What each node says it is.
    let (sa, sb, s_of_a, s_of_b) = (stats(&a), stats(&b), stats(&of_a), stats(&of_b));
    assert_eq!(sa["repl_role"], "pair", "{sa:?}");
    assert_eq!(sa["repl_peer"], format!("127.0.0.1:{rb}"));
    assert_eq!(sa["repl_replicas"], of_a.addr());
    assert_eq!(sb["repl_role"], "pair");
    assert_eq!(sb["repl_peer"], format!("127.0.0.1:{ra}"));
    assert_eq!(sb["repl_replicas"], of_b.addr());
    assert_eq!(s_of_a["repl_role"], "replica");
    assert_eq!(s_of_a["repl_peer"], format!("127.0.0.1:{ra}"));
    assert_eq!(s_of_a["repl_replicas"], "none");
    assert_eq!(s_of_b["repl_peer"], format!("127.0.0.1:{rb}"));
    // A forwarded B's writes to its replica (and B A's to its own), never back.
    for s in [&sa, &sb] {
        let forwarded: u64 = s["repl_records_forwarded"].parse().unwrap();
        assert!(forwarded >= 500, "{s:?}");
    }
}

/// One mutation of `key`, chosen by `r` (a random number), with `tag` in its value.
fn mixed(r: u64, key: &str, tag: &str) -> Vec<u8> {
    match (r >> 20) % 8 {
        0..=2 => set(key, &format!("{tag}-{}", r >> 48)),
        3 => format!("delete {key}\r\n").into_bytes(),
        4 => format!("append {key} 0 0 2\r\n{}\r\n", &tag[..2]).into_bytes(),
        5 => format!("incr {key} {}\r\n", r % 100).into_bytes(),
        6 => format!("touch {key} {}\r\n", 1000 + r % 1000).into_bytes(),
        _ => format!("add {key} 0 0 1\r\n7\r\n").into_bytes(),
    }
}

#[test]
fn a_group_of_three_converges_under_concurrent_writers_and_keeps_deletes() {
    let group = Group::start(3);
    for node in &group.nodes {
        let s = stats(node);
        assert_eq!(s["repl_role"], "pair");
        assert_eq!(s["repl_peer"].split(',').count(), 2, "{s:?}");
        assert_eq!(s["repl_links"], "2", "{s:?}");
    }
    const KEYS: usize = 400;
    let same: Vec<String> = (0..KEYS).map(|i| format!("same{i}")).collect();
    let gone: Vec<String> = (0..300).map(|i| format!("gone{i}")).collect();
    // Numeric values, for incr to work on some of the time.
    let seed: Vec<Vec<u8>> = same.iter().chain(&gone).map(|k| set(k, "10")).collect();
    pipeline(&mut group.nodes[0].connect(), &seed);
    let all: Vec<String> = same.iter().chain(&gone).cloned().collect();
    converged(&group.all(), &all);
    // Each node's writer sets, deletes, appends to, increments, touches and adds the
    // shared keys in its own random order, and deletes its third of the `gone` keys.
    let writers: Vec<_> = group
        .nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let mut stream = node.connect();
            let gone: Vec<String> = gone.iter().skip(n).step_by(3).cloned().collect();
            std::thread::spawn(move || {
                let mut r: u64 = 0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1);
                for round in 0..20 {
                    let mut batch: Vec<Vec<u8>> = (0..200)
                        .map(|_| {
                            r = r
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            let key = format!("same{}", (r >> 33) as usize % KEYS);
                            mixed(r, &key, &format!("w{n}-{round}"))
                        })
                        .collect();
                    batch.extend(
                        gone.iter()
                            .skip(round * 5)
                            .take(5)
                            .map(|k| format!("delete {k}\r\n").into_bytes()),
                    );
                    let replies = pipeline(&mut stream, &batch);
                    assert_eq!(replies.len(), batch.len());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    drained(&group.all());
    let shown = converged(&group.all(), &all);
    ttls_agree(&group.all(), &all);
    let back: Vec<_> = gone.iter().filter(|k| shown[*k] != "EN").collect();
    assert!(back.is_empty(), "deleted keys came back: {back:?}");
    for node in &group.nodes {
        let s = stats(node);
        assert_eq!(s["repl_lag_items"], "0", "{s:?}");
    }
}

#[test]
fn a_group_of_three_survives_kill_9_of_each_node_in_turn_under_writers() {
    let mut group = Group::start(3);
    for victim in 0..3 {
        let tags: Vec<String> = (0..3).map(|w| format!("r{victim}w{w}")).collect();
        // Keys each writer deletes, seeded on a node that stays up, present on all.
        let seeded: Vec<String> = tags.iter().flat_map(|t| seeds(t, 400)).collect();
        let requests: Vec<Vec<u8>> = seeded.iter().map(|k| set(k, "seed")).collect();
        pipeline(&mut group.nodes[(victim + 1) % 3].connect(), &requests);
        converged(&group.all(), &seeded);

        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<Writer> = (0..3)
            .map(|w| Writer::start(&group.nodes[w], &tags[w], 400, stop.clone()))
            .collect();
        let survivors: Vec<&Writer> = (0..3)
            .filter(|&w| w != victim)
            .map(|w| &writers[w])
            .collect();
        more_batches(&writers.iter().collect::<Vec<_>>(), 5);
        let before = stats(&group.nodes[victim]);
        eprintln!(
            "node {victim} before the kill: lag {} records, {} s",
            before["repl_lag_items"], before["repl_lag_seconds"]
        );
        group.kill9(victim);
        more_batches(&survivors, 5);
        group.restart(victim);
        wait_linked(&group.nodes[victim], 2);
        more_batches(&survivors, 5);
        stop.store(true, Ordering::Relaxed);

        let (ledgers, tried): (Vec<_>, Vec<_>) = writers.into_iter().map(Writer::ledger).unzip();
        let keys: Vec<String> = tried.into_iter().flatten().collect();
        drained(&group.all());
        let shown = converged(&group.all(), &keys);
        for (w, ledger) in ledgers.iter().enumerate() {
            let lost = lost(ledger, &shown);
            if w == victim {
                // The exception: the last writes the killed node acknowledged and
                // had not sent yet (a prefix of its ledger survives; checked above).
                eprintln!(
                    "node {victim} killed: {lost} of its {} acknowledged writes lost",
                    ledger.len()
                );
            } else {
                assert_eq!(lost, 0, "node {w} stayed up, yet lost writes");
            }
        }
        let restarted = stats(&group.nodes[victim]);
        assert!(
            restarted["repl_full_copies_received"]
                .parse::<u32>()
                .unwrap()
                >= 1,
            "{restarted:?}"
        );
    }
}

#[test]
fn a_peer_of_the_older_link_format_is_refused_and_logged() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let (port, repl) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
        .args(["-l", "127.0.0.1", "-p", &port.to_string()])
        .args(["-X", &repl.to_string()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(support::wait_until_accepting(port, &mut child));
    // What a node of the previous release says first: link format 2's hello
    // (length, tag, magic "mkr" 2, run id, role).
    let mut old = std::net::TcpStream::connect(("127.0.0.1", repl)).unwrap();
    let mut hello = vec![0, 0, 0, 14, 1, 0x6d, 0x6b, 0x72, 2];
    hello.extend(7u64.to_be_bytes());
    hello.push(0);
    old.write_all(&hello).unwrap();
    let (_, closed) = support::read_until(&mut old, std::time::Duration::from_secs(10), |_| false);
    assert!(closed, "the old peer's link stayed open");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child.wait().unwrap();
    assert!(
        log.contains("replication link refused")
            && log.contains("the peer speaks link format 2, this node 3: link refused"),
        "{log}"
    );
}

#[test]
fn a_chain_whose_middle_node_restarts_joins_both_ends_again() {
    // A <- B -> C: B dials both ends, which are not linked to each other. While B is
    // down A and C take writes apart; B comes back empty, gets a copy from each end
    // and passes each one's items on to the other.
    let mut group = Group::start_with(vec![vec![], vec![0, 2], vec![]]);
    let before: Vec<Vec<u8>> = (0..300).map(|i| set(&format!("before{i}"), "x")).collect();
    pipeline(&mut group.nodes[0].connect(), &before);
    let mut keys: Vec<String> = (0..300).map(|i| format!("before{i}")).collect();
    converged(&group.all(), &keys);
    group.kill9(1);
    for (end, tag) in [(0, "a"), (2, "c")] {
        let requests: Vec<Vec<u8>> = (0..500)
            .map(|i| set(&format!("{tag}{i}"), &format!("while B was down, on {tag}")))
            .collect();
        let replies = pipeline(&mut group.nodes[end].connect(), &requests);
        assert!(replies.iter().all(|r| r == "STORED") && replies.len() == 500);
        keys.extend((0..500).map(|i| format!("{tag}{i}")));
    }
    // Deleted on one end while B was down: B learns of the deletes from that end's
    // copy and passes them to the other end, which still had the keys.
    let deletes: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("delete before{i}\r\n").into_bytes())
        .collect();
    pipeline(&mut group.nodes[2].connect(), &deletes);
    group.restart(1);
    wait_linked(&group.nodes[1], 2);
    drained(&group.all());
    let shown = converged(&group.all(), &keys);
    for (i, k) in keys.iter().enumerate() {
        let deleted = i < 100;
        assert_eq!(shown[k] == "EN", deleted, "{k}: {}", shown[k]);
    }
}
