use std::sync::atomic::Ordering;
use std::time::Duration;

use memkeep_protocol::{Command, Response, StoreMode};
use tokio::time::Instant;

use crate::layer::write_back;
use tower::{Layer, ServiceExt};

use super::*;

use crate::layer::fake::{get, hits, holders, replica_shards, set, settle, value, Fake, Log};

fn replicas(log: &Log, n: usize) -> Vec<Fake> {
    ["r0", "r1", "r2"][..n]
        .iter()
        .map(|name| Fake::new(name, log))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_hit_on_one_replica_answers_and_repairs_the_other() {
    let log = Log::default();
    let r = replicas(&log, 2);
    r[1].put("k", "v", 3, 60);
    let layer = ReadRepairLayer::new();
    let repairs = layer.repairs();

    let reply = layer.layer(r.clone()).oneshot(get(&["k"])).await.unwrap();
    assert_eq!(hits(&reply), ["k=v"]);
    settle().await;
    assert_eq!(
        log.take(),
        ["r0: get k", "r1: get k", "r0: add k v f=3 t=60"]
    );
    assert_eq!(r[0].item("k"), Some(("v".into(), 3, 60)));
    assert_eq!(repairs.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn the_primary_is_repaired_from_the_backup_and_the_reverse() {
    let log = Log::default();
    let r = replicas(&log, 2);
    r[0].put("k", "v", 0, -1);
    let svc = ReadRepairLayer::new().layer(r.clone());

    let reply = svc.clone().oneshot(get(&["k"])).await.unwrap();
    assert_eq!(hits(&reply), ["k=v"]);
    settle().await;
    // No expiry stays no expiry.
    assert_eq!(log.take()[2], "r1: add k v");
    assert_eq!(r[1].item("k"), Some(("v".into(), 0, -1)));

    // Both hit now: nothing to repair.
    svc.oneshot(get(&["k"])).await.unwrap();
    settle().await;
    assert_eq!(log.take(), ["r0: get k", "r1: get k"]);
}

#[tokio::test(start_paused = true)]
async fn a_value_written_after_the_read_is_not_overwritten() {
    let log = Log::default();
    let r = replicas(&log, 2);
    r[1].put("k", "old", 0, 60);
    let layer = ReadRepairLayer::new();
    let repairs = layer.repairs();

    layer.layer(r.clone()).oneshot(get(&["k"])).await.unwrap();
    // A client's set lands on r0 before the repair does.
    r[0].put("k", "new", 0, 60);
    settle().await;
    assert_eq!(r[0].item("k").unwrap().0, "new");
    assert_eq!(repairs.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn a_miss_everywhere_is_a_miss_and_repairs_nothing() {
    let log = Log::default();
    let r = replicas(&log, 3);
    let reply = ReadRepairLayer::new()
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(reply, Response::Values(vec![]));
    settle().await;
    assert_eq!(log.take().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_replica_is_sent_the_hit_too() {
    let log = Log::default();
    let r = replicas(&log, 3);
    r[0].fail(true);
    r[2].put("k", "v", 0, 5);

    let reply = ReadRepairLayer::new()
        .layer(r.clone())
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["k=v"]);
    settle().await;
    // r0 could not be read: it may be down (its add fails, or is queued for it
    // when it owes missed writes) or merely slow (the add never overwrites).
    let seen = log.take();
    assert_eq!(seen[3..], ["r1: add k v t=5", "r0: add k v t=5"]);
    assert_eq!(r[1].item("k"), Some(("v".into(), 0, 5)));
}

#[tokio::test(start_paused = true)]
async fn all_reads_failing_is_an_error() {
    let log = Log::default();
    let r = replicas(&log, 2);
    r[0].fail(true);
    r[1].fail(true);
    let err = ReadRepairLayer::new()
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap_err();
    assert!(err.is::<AllReadsFailed>());
}

#[tokio::test(start_paused = true)]
async fn multi_key_gets_merge_in_key_order_and_repair_per_key() {
    let log = Log::default();
    let r = replicas(&log, 3);
    r[0].put("a", "a0", 0, 10);
    r[1].put("b", "b1", 0, 10);
    r[1].put("c", "c1", 0, 10);
    r[2].put("a", "a2", 0, 10);
    r[2].put("c", "c2", 0, 10);

    let reply = ReadRepairLayer::new()
        .layer(r.clone())
        .oneshot(get(&["c", "a", "x", "b"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["c=c1", "a=a0", "b=b1"]);
    settle().await;
    let mut repairs = log.take().split_off(3);
    repairs.sort();
    assert_eq!(
        repairs,
        [
            "r0: add b b1 t=10",
            "r0: add c c1 t=10",
            "r1: add a a0 t=10",
            "r2: add b b1 t=10",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn read_from_limits_the_replicas_read() {
    let log = Log::default();
    let r = replicas(&log, 3);
    r[2].put("k", "v", 0, 10);
    let reply = ReadRepairLayer::new()
        .read_from(2)
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(reply, Response::Values(vec![]));
    assert_eq!(log.take(), ["r0: get k", "r1: get k"]);
}

#[tokio::test(start_paused = true)]
async fn the_reply_waits_for_the_slowest_read_only() {
    let log = Log::default();
    let r = replicas(&log, 2);
    r[0].put("k", "v", 0, 10);
    r[1].delay(Duration::from_millis(300));
    let start = Instant::now();
    let reply = ReadRepairLayer::new()
        .layer(r.clone())
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["k=v"]);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    // The repair itself runs after the reply.
    assert_eq!(r[1].item("k"), None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    settle().await;
    assert!(r[1].item("k").is_some());
}

#[tokio::test(start_paused = true)]
async fn writes_and_vivifying_gets_go_to_the_first_replica_only() {
    let log = Log::default();
    let r = replicas(&log, 2);
    let svc = ReadRepairLayer::new().layer(r);
    svc.clone().oneshot(set("k", "v")).await.unwrap();
    let mut vivify = get(&["k"]);
    if let Command::Get(g) = &mut vivify.command {
        g.vivify = Some(30);
    }
    svc.oneshot(vivify).await.unwrap();
    assert_eq!(log.take(), ["r0: set k v", "r0: get k"]);
}

#[tokio::test(start_paused = true)]
async fn past_the_bound_the_reply_waits_for_its_repair() {
    let log = Log::default();
    let r = replicas(&log, 2);
    r[1].put("k", "v", 0, 10);
    let layer = ReadRepairLayer::new().background_limit(0);
    let waited = layer.waited();
    let reply = layer.layer(r.clone()).oneshot(get(&["k"])).await.unwrap();
    assert_eq!(hits(&reply), ["k=v"]);
    // Not skipped: done before the reply.
    assert_eq!(r[0].item("k"), Some(("v".into(), 0, 10)));
    assert_eq!(waited.load(Ordering::Relaxed), 1);
}

#[test]
fn write_back_keeps_flags_and_remaining_ttl() {
    let key = Bytes::from_static(b"k");
    let add = |ttl| {
        write_back::write_back(&key, &value("other", "v", 7, ttl)).map(|req| {
            let Command::Store(s) = req.command else {
                panic!()
            };
            assert_eq!(
                (s.mode, &s.key[..], s.flags),
                (StoreMode::Add, &b"k"[..], 7)
            );
            s.exptime
        })
    };
    assert_eq!(add(-1), Some(0));
    assert_eq!(add(0), None, "expires within the second");
    assert_eq!(add(100), Some(100));
    assert_eq!(add(2_592_000), Some(2_592_000));
    // Past 30 days memcached reads a unix time.
    let absolute = add(2_592_001).unwrap();
    assert!(absolute > 1_700_000_000 + 2_592_001, "{absolute}");

    let mut stale = value("k", "v", 0, 10);
    stale.meta.stale = true;
    assert!(write_back::write_back(&key, &stale).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_multi_get_over_replica_shards_reads_and_repairs_key_by_key() {
    let log = Log::default();
    let servers: Vec<Fake> = ["s0", "s1", "s2"]
        .iter()
        .map(|name| Fake::new(name, &log))
        .collect();
    let (shards, ring) = replica_shards(&servers, 2);
    let keys: Vec<String> = (0..40).map(|i| format!("key:{i}")).collect();
    for key in &keys {
        for i in holders(&ring, key, 2) {
            servers[i].put(key, "v", 0, -1);
        }
    }
    let held_by = |key: &str, pair: [usize; 2]| {
        let mut held = holders(&ring, key, 2);
        held.sort();
        held == pair
    };
    // s1 restarted empty and s0 is down: keys on s2 are answered from it, those on
    // s1 and s2 repaired on s1; those on s0 and s1 are gone.
    servers[1].clear();
    servers[0].fail(true);
    let layer = ReadRepairLayer::new();
    let repairs = layer.repairs();

    let asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    let reply = layer.layer(shards).oneshot(get(&asked)).await.unwrap();
    let want: Vec<String> = keys
        .iter()
        .filter(|k| !held_by(k, [0, 1]))
        .map(|k| format!("{k}=v"))
        .collect();
    assert!(want.len() < keys.len());
    assert_eq!(hits(&reply), want);
    settle().await;
    // s0 could not be read (it is down): it is sent the hits of s2 too, which
    // fail here, and which a server owing missed writes queues (see handoff).
    let written: Vec<String> = log
        .take()
        .into_iter()
        .filter(|line| line.contains(": add "))
        .collect();
    let sent: Vec<String> = keys
        .iter()
        .filter_map(|k| match () {
            () if held_by(k, [1, 2]) => Some(format!("s1: add {k} v")),
            () if held_by(k, [0, 2]) => Some(format!("s0: add {k} v")),
            () => None,
        })
        .collect();
    assert_eq!(written, sent);
    let repaired: Vec<&String> = sent.iter().filter(|w| w.starts_with("s1")).collect();
    assert!(!repaired.is_empty());
    assert_eq!(repairs.load(Ordering::Relaxed), repaired.len() as u64);
}
