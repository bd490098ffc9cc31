use std::sync::atomic::Ordering;
use std::time::Duration;

use memkeep_protocol::{ItemMeta, Response};
use proptest::prelude::*;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};

use super::*;

use crate::layer::fake::{delete, get, incr, set, settle, Fake, Log};

fn replicas(log: &Log, names: &[&'static str]) -> Vec<Fake> {
    names.iter().map(|n| Fake::new(n, log)).collect()
}

fn stack(policy: Policy, backends: &[Fake]) -> Replicate<Fake> {
    ReplicateLayer::new(policy).layer(backends.to_vec())
}

#[tokio::test(start_paused = true)]
async fn mutations_reach_every_replica_reads_only_the_first() {
    let log = Log::default();
    let b = replicas(&log, &["a", "b", "c"]);
    let svc = stack(Policy::All, &b);

    let reply = svc.clone().oneshot(set("k", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));
    let mut seen = log.take();
    seen.sort();
    assert_eq!(seen, ["a: set k v", "b: set k v", "c: set k v"]);

    svc.clone().oneshot(get(&["k"])).await.unwrap();
    svc.clone().oneshot(delete("k")).await.unwrap();
    let mut seen = log.take();
    assert_eq!(seen.remove(0), "a: get k");
    seen.sort();
    assert_eq!(seen, ["a: delete k", "b: delete k", "c: delete k"]);
}

#[tokio::test(start_paused = true)]
async fn all_waits_for_the_slowest_and_the_worst_reply_wins() {
    let log = Log::default();
    let b = replicas(&log, &["a", "b", "c"]);
    b[1].delay(Duration::from_secs(2));
    b[1].reply(Response::NotStored);
    let start = Instant::now();

    let reply = stack(Policy::All, &b).oneshot(set("k", "v")).await.unwrap();
    assert_eq!(reply, Response::NotStored);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn all_fails_when_one_replica_fails() {
    let log = Log::default();
    let b = replicas(&log, &["a", "b"]);
    b[1].fail(true);
    b[0].reply(Response::Exists);

    let err = stack(Policy::All, &b)
        .oneshot(set("k", "v"))
        .await
        .unwrap_err();
    assert!(err.is::<ReplicationFailed>(), "{err}");
    assert_eq!(err.to_string(), "replication failed: b is down");
}

#[tokio::test(start_paused = true)]
async fn all_gives_the_primarys_reply_among_equals() {
    let log = Log::default();
    let b = replicas(&log, &["a", "b"]);
    b[0].reply(Response::Number(7, ItemMeta::default()));
    b[1].reply(Response::Number(9, ItemMeta::default()));

    let reply = stack(Policy::All, &b).oneshot(incr("n")).await.unwrap();
    assert_eq!(reply, Response::Number(7, ItemMeta::default()));
    assert_eq!(log.take().len(), 2, "incr is sent once to each replica");
}

#[tokio::test(start_paused = true)]
async fn majority_answers_without_the_slow_replica_which_still_gets_the_write() {
    let log = Log::default();
    let b = replicas(&log, &["a", "b", "c"]);
    b[2].delay(Duration::from_secs(5));
    let start = Instant::now();

    let reply = stack(Policy::Majority, &b)
        .oneshot(set("k", "v"))
        .await
        .unwrap();
    assert!(matches!(reply, Response::Stored(_)));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(b[2].item("k"), None, "not yet written");

    tokio::time::sleep(Duration::from_secs(5)).await;
    settle().await;
    assert_eq!(b[2].item("k"), Some(("v".into(), 0, -1)));
}

#[tokio::test(start_paused = true)]
async fn majority_fails_as_soon_as_it_cannot_be_reached() {
    let log = Log::default();
    let b = replicas(&log, &["a", "b", "c"]);
    b[0].fail(true);
    b[1].reply(Response::ServerError("out of memory".into()));
    b[2].delay(Duration::from_secs(5));
    let start = Instant::now();

    let err = stack(Policy::Majority, &b)
        .oneshot(set("k", "v"))
        .await
        .unwrap_err();
    assert!(err.is::<ReplicationFailed>());
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn first_success_skips_failed_replicas() {
    let log = Log::default();
    let b = replicas(&log, &["a", "b"]);
    b[0].fail(true);
    b[1].delay(Duration::from_millis(10));

    let svc = stack(Policy::FirstSuccess, &b);
    let reply = svc.clone().oneshot(set("k", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));

    b[1].fail(true);
    let err = svc.oneshot(set("k", "v")).await.unwrap_err();
    assert!(err.is::<ReplicationFailed>());
}

#[tokio::test(start_paused = true)]
async fn primary_then_async_answers_with_the_primary_and_writes_the_rest_later() {
    let log = Log::default();
    let b = replicas(&log, &["main", "backup"]);
    b[1].delay(Duration::from_secs(1));
    let svc = stack(Policy::PrimaryThenAsync, &b);
    let start = Instant::now();

    let reply = svc.clone().oneshot(set("k", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));
    assert_eq!(start.elapsed(), Duration::ZERO);
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(b[1].item("k"), Some(("v".into(), 0, -1)));

    // A dead backup changes nothing for the client.
    b[1].fail(true);
    let reply = svc.clone().oneshot(set("k2", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));

    // The primary's failure is the client's.
    b[0].fail(true);
    assert!(svc.oneshot(set("k3", "v")).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn past_the_background_bound_the_reply_waits_for_every_replica() {
    let log = Log::default();
    let b = replicas(&log, &["main", "backup"]);
    b[1].delay(Duration::from_secs(1));
    let layer = ReplicateLayer::new(Policy::PrimaryThenAsync).background_limit(1);
    let waited = layer.waited();
    let svc = layer.layer(b.clone());

    let start = Instant::now();
    svc.clone().oneshot(set("k1", "v")).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the first leaves the backup to the background"
    );
    // The background is full: the second write's reply waits for the backup too,
    // rather than the backup's copy being dropped.
    svc.clone().oneshot(set("k2", "v")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(waited.load(Ordering::Relaxed), 1);
    assert!(b[1].item("k2").is_some());
    settle().await;
    assert!(b[1].item("k1").is_some());
}

#[tokio::test(start_paused = true)]
async fn an_early_majority_waits_for_the_rest_when_the_background_is_full() {
    let log = Log::default();
    let r = replicas(&log, &["a", "b", "c"]);
    r[2].delay(Duration::from_secs(1));
    let layer = ReplicateLayer::new(Policy::Majority).background_limit(0);
    let waited = layer.waited();
    let reply = layer.layer(r.clone()).oneshot(set("k", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));
    assert_eq!(waited.load(Ordering::Relaxed), 1);
    assert!(
        r[2].item("k").is_some(),
        "the slow replica's write was waited for"
    );
}

fn reply_strategy() -> impl Strategy<Value = (u8, u8)> {
    // (kind, tag): the tag tells equal-severity replies apart.
    (0u8..7, 0u8..4)
}

fn make(kind: u8, tag: u8) -> Result<Response, BoxError> {
    let meta = ItemMeta {
        cas: u64::from(tag),
        ..ItemMeta::default()
    };
    Ok(match kind {
        0 => Response::Stored(meta),
        1 => Response::NotFound,
        2 => Response::NotStored,
        3 => Response::Exists,
        4 => Response::ServerError("x".into()),
        5 => Response::Deleted,
        _ => return Err(format!("down {tag}").into()),
    })
}

fn show(r: &Result<Response, BoxError>) -> String {
    match r {
        Ok(r) => format!("{r:?}"),
        Err(e) => e.to_string(),
    }
}

proptest! {
    /// The worst reply does not depend on the order replies arrive in, and it is the
    /// first of the most severe ones in replica order.
    #[test]
    fn worst_is_the_first_most_severe(replies in prop::collection::vec(reply_strategy(), 1..6),
                                      seed in any::<u64>()) {
        let all: Vec<_> = replies.iter().map(|&(k, t)| make(k, t)).collect();
        let max = all.iter().map(severity).max().unwrap();
        let first = all.iter().find(|r| severity(r) == max).map(show).unwrap();
        let got = worst(replies.iter().map(|&(k, t)| make(k, t))).unwrap();
        prop_assert_eq!(show(&got), first);

        // Severity of the worst is commutative: any arrival order gives the same rank.
        let mut shuffled = replies.clone();
        let n = shuffled.len();
        shuffled.rotate_left((seed as usize) % n);
        shuffled.swap(0, (seed as usize / 7) % n);
        let got = worst(shuffled.iter().map(|&(k, t)| make(k, t))).unwrap();
        prop_assert_eq!(severity(&got), max);
    }
}
