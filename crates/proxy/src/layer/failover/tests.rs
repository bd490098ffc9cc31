use std::time::Duration;

use memkeep_protocol::Response;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};

use super::*;

use memkeep_ring::Ring;

use crate::layer::fake::{get, hits, holders, incr, replica_shards, set, Fake, Log};
use crate::layer::shard::Shard;

fn replicas(log: &Log) -> Vec<Fake> {
    ["r0", "r1", "r2"]
        .iter()
        .map(|n| Fake::new(n, log))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_healthy_first_replica_answers_alone() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].put("k", "v0", 0, -1);
    r[1].put("k", "v1", 0, -1);

    let reply = FailoverLayer::new()
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["k=v0"]);
    assert_eq!(log.take(), ["r0: get k"]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_moves_to_the_next_replica_in_order() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].fail(true);
    r[1].fail(true);
    r[2].put("k", "v2", 0, -1);

    let reply = FailoverLayer::new()
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["k=v2"]);
    assert_eq!(log.take(), ["r0: get k", "r1: get k", "r2: get k"]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_replica_is_abandoned_after_the_attempt_timeout() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].delay(Duration::from_secs(10));
    r[0].put("k", "v0", 0, -1);
    r[1].put("k", "v1", 0, -1);
    let start = Instant::now();

    let svc = FailoverLayer::new()
        .attempt_timeout(Duration::from_secs(1))
        .layer(r);
    let reply = svc.oneshot(get(&["k"])).await.unwrap();
    assert_eq!(hits(&reply), ["k=v1"]);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn writes_are_not_cut_short_by_the_attempt_timeout() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].delay(Duration::from_secs(3));
    let svc = FailoverLayer::new()
        .attempt_timeout(Duration::from_secs(1))
        .layer(r);

    let reply = svc.oneshot(set("k", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));
    assert_eq!(log.take(), ["r0: set k v"]);
}

#[tokio::test(start_paused = true)]
async fn all_replicas_failing_is_an_error_naming_the_last() {
    let log = Log::default();
    let r = replicas(&log);
    for replica in &r {
        replica.fail(true);
    }
    let err = FailoverLayer::new()
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap_err();
    assert!(err.is::<AllReplicasFailed>());
    assert_eq!(err.to_string(), "all replicas failed: r2 is down");
}

#[tokio::test(start_paused = true)]
async fn a_sent_incr_is_never_sent_again() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].fail(true);
    let err = FailoverLayer::new()
        .layer(r)
        .oneshot(incr("n"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "r0 is down");
    assert_eq!(log.take(), ["r0: incr n"]);
}

#[tokio::test(start_paused = true)]
async fn an_incr_that_could_not_be_sent_goes_to_the_next_replica() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].refuse(true);
    let reply = FailoverLayer::new()
        .layer(r)
        .oneshot(incr("n"))
        .await
        .unwrap();
    assert!(matches!(reply, Response::Number(1, _)));
    assert_eq!(log.take(), ["r1: incr n"]);
}

#[tokio::test(start_paused = true)]
async fn an_incr_failed_by_a_down_backend_was_never_sent_and_moves_on() {
    use crate::backend::{BackendError, ErrorKind};
    use tower::util::BoxCloneService;
    let log = Log::default();
    let r = replicas(&log);
    let down = BoxCloneService::new(tower::service_fn(|_: Request| async {
        Err::<Response, BoxError>(BackendError::new(ErrorKind::Down, "127.0.0.1:1".into()).into())
    }));
    let reply = FailoverLayer::new()
        .layer(vec![down, BoxCloneService::new(r[1].clone())])
        .oneshot(incr("n"))
        .await
        .unwrap();
    assert!(matches!(reply, Response::Number(1, _)));
    assert_eq!(log.take(), ["r1: incr n"]);
}

#[tokio::test(start_paused = true)]
async fn a_miss_is_a_miss_unless_asked_otherwise() {
    let log = Log::default();
    let r = replicas(&log);
    r[1].put("k", "v1", 0, -1);

    let reply = FailoverLayer::new()
        .layer(r.clone())
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(reply, Response::Values(vec![]));
    assert_eq!(log.take(), ["r0: get k"]);

    let reply = FailoverLayer::new()
        .on_miss(true)
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["k=v1"]);
    assert_eq!(log.take(), ["r0: get k", "r1: get k"]);
}

#[tokio::test(start_paused = true)]
async fn on_miss_asks_the_next_replica_only_for_the_missing_keys() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].put("c", "c0", 0, -1);
    r[1].put("a", "a1", 0, -1);
    r[1].put("c", "c1", 0, -1);
    r[2].put("b", "b2", 0, -1);

    let reply = FailoverLayer::new()
        .on_miss(true)
        .layer(r)
        .oneshot(get(&["a", "b", "c", "d"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["a=a1", "b=b2", "c=c0"]);
    assert_eq!(
        log.take(),
        ["r0: get a b c d", "r1: get a b d", "r2: get b d"]
    );
}

#[tokio::test(start_paused = true)]
async fn hits_found_before_a_failure_are_kept() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].put("a", "a0", 0, -1);
    r[1].fail(true);
    r[2].fail(true);

    let reply = FailoverLayer::new()
        .on_miss(true)
        .layer(r)
        .oneshot(get(&["a", "b"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["a=a0"]);
}

#[tokio::test(start_paused = true)]
async fn a_server_error_reply_moves_a_read_on() {
    let log = Log::default();
    let r = replicas(&log);
    r[0].reply(Response::ServerError("out of memory".into()));
    r[1].put("k", "v1", 0, -1);

    let reply = FailoverLayer::new()
        .layer(r)
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["k=v1"]);
}

/// Three servers, every key on two of them holding the server's name as its value,
/// and `failover` over the pool's two replica shards.
fn replicated_pool(log: &Log, keys: &[String]) -> (Failover<Shard<Fake>>, Vec<Fake>, Ring) {
    let servers: Vec<Fake> = SERVERS.iter().map(|n| Fake::new(n, log)).collect();
    let (shards, ring) = replica_shards(&servers, 2);
    for key in keys {
        for i in holders(&ring, key, 2) {
            servers[i].put(key, SERVERS[i], 0, -1);
        }
    }
    (FailoverLayer::new().layer(shards), servers, ring)
}

const SERVERS: [&str; 3] = ["s0", "s1", "s2"];

/// The log lines of a get of `keys` split over the servers `server_of` each key.
fn split_gets(keys: &[&String], server_of: impl Fn(&str) -> usize) -> Vec<String> {
    let mut parts: Vec<(usize, Vec<&str>)> = Vec::new();
    for key in keys {
        let server = server_of(key);
        match parts.iter_mut().find(|(s, _)| *s == server) {
            Some((_, part)) => part.push(key),
            None => parts.push((server, vec![key])),
        }
    }
    parts
        .into_iter()
        .map(|(s, part)| format!("{}: get {}", SERVERS[s], part.join(" ")))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_multi_get_over_replica_shards_fails_over_key_by_key() {
    let log = Log::default();
    let keys: Vec<String> = (0..40).map(|i| format!("key:{i}")).collect();
    let (failover, servers, ring) = replicated_pool(&log, &keys);
    let first = |k: &str| holders(&ring, k, 2)[0];
    let second = |k: &str| holders(&ring, k, 2)[1];
    assert!(keys.iter().any(|k| first(k) == 0) && keys.iter().any(|k| second(k) == 0));
    servers[0].fail(true);

    let asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    let reply = failover.oneshot(get(&asked)).await.unwrap();
    // Every key, in key order, from its first replica, or its second when the first
    // is s0.
    let want: Vec<String> = keys
        .iter()
        .map(|k| {
            let server = if first(k) == 0 { second(k) } else { first(k) };
            format!("{k}={}", SERVERS[server])
        })
        .collect();
    assert_eq!(hits(&reply), want);
    // The second replicas were asked for s0's keys only.
    let all: Vec<&String> = keys.iter().collect();
    let failed: Vec<&String> = keys.iter().filter(|k| first(k) == 0).collect();
    let mut sent = split_gets(&all, first);
    sent.extend(split_gets(&failed, second));
    assert_eq!(log.take(), sent);
}

#[tokio::test(start_paused = true)]
async fn a_key_no_replica_could_read_is_a_miss_unless_none_could_be_read() {
    let log = Log::default();
    let keys: Vec<String> = (0..40).map(|i| format!("key:{i}")).collect();
    let (failover, servers, ring) = replicated_pool(&log, &keys);
    servers[0].fail(true);
    servers[1].fail(true);
    let on_s2 = |k: &str| holders(&ring, k, 2).contains(&2);

    let asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    let reply = failover.clone().oneshot(get(&asked)).await.unwrap();
    let want: Vec<String> = keys
        .iter()
        .filter(|k| on_s2(k))
        .map(|k| format!("{k}=s2"))
        .collect();
    assert!(!want.is_empty() && want.len() < keys.len());
    assert_eq!(hits(&reply), want);

    let lost: Vec<&str> = asked.iter().copied().filter(|k| !on_s2(k)).collect();
    let err = failover.oneshot(get(&lost)).await.unwrap_err();
    assert!(err.is::<AllReplicasFailed>(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn on_miss_asks_the_next_replica_for_the_failed_and_the_missing_keys() {
    let log = Log::default();
    let keys: Vec<String> = (0..40).map(|i| format!("key:{i}")).collect();
    let (_, servers, ring) = replicated_pool(&log, &keys);
    let (shards, _) = replica_shards(&servers, 2);
    let failover = FailoverLayer::new().on_miss(true).layer(shards);
    let first = |k: &str| holders(&ring, k, 2)[0];
    let second = |k: &str| holders(&ring, k, 2)[1];
    // s0 is down; s1 lost its items (restarted empty).
    servers[0].fail(true);
    servers[1].clear();

    let asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    let reply = failover.oneshot(get(&asked)).await.unwrap();
    // A key is read where it still is: on s2.
    let want: Vec<String> = keys
        .iter()
        .filter(|k| holders(&ring, k, 2).contains(&2))
        .map(|k| format!("{k}=s2"))
        .collect();
    assert_eq!(hits(&reply), want);
    let all: Vec<&String> = keys.iter().collect();
    let again: Vec<&String> = keys
        .iter()
        .filter(|k| first(k) == 0 || first(k) == 1)
        .collect();
    let mut sent = split_gets(&all, first);
    sent.extend(split_gets(&again, second));
    assert_eq!(log.take(), sent);
}
