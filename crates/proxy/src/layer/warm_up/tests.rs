use std::sync::atomic::Ordering;
use std::time::Duration;

use memkeep_protocol::Response;
use tower::{Layer, ServiceExt};

use super::*;

use crate::layer::fake::{get, hits, set, settle, Fake, Log};

fn pools(log: &Log) -> (Fake, Fake) {
    (Fake::new("cold", log), Fake::new("warm", log))
}

#[tokio::test(start_paused = true)]
async fn a_cold_hit_never_reaches_the_warm_pool() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    cold.put("k", "c", 0, -1);
    let reply = WarmUp::new(cold, warm).oneshot(get(&["k"])).await.unwrap();
    assert_eq!(hits(&reply), ["k=c"]);
    assert_eq!(log.take(), ["cold: get k"]);
}

#[tokio::test(start_paused = true)]
async fn a_cold_miss_is_answered_from_warm_and_filled_after_the_reply() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    warm.put("k", "w", 5, 90);
    let layer = WarmUpLayer::new(warm);
    let fills = layer.fills();

    let reply = layer
        .layer(cold.clone())
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["k=w"]);
    assert_eq!(cold.item("k"), None, "filled after the reply");
    settle().await;
    assert_eq!(
        log.take(),
        ["cold: get k", "warm: get k", "cold: add k w f=5 t=90"]
    );
    assert_eq!(cold.item("k"), Some(("w".into(), 5, 90)));
    assert_eq!(fills.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_miss_on_both_is_a_miss() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    let reply = WarmUp::new(cold, warm).oneshot(get(&["k"])).await.unwrap();
    assert_eq!(reply, Response::Values(vec![]));
    settle().await;
    assert_eq!(log.take(), ["cold: get k", "warm: get k"]);
}

#[tokio::test(start_paused = true)]
async fn multi_key_gets_ask_warm_for_the_missing_keys_only() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    cold.put("b", "cb", 0, -1);
    warm.put("a", "wa", 0, -1);
    warm.put("b", "wb", 0, -1);
    let reply = WarmUp::new(cold.clone(), warm)
        .oneshot(get(&["a", "b", "c"]))
        .await
        .unwrap();
    assert_eq!(hits(&reply), ["a=wa", "b=cb"]);
    settle().await;
    assert_eq!(
        log.take(),
        ["cold: get a b c", "warm: get a c", "cold: add a wa"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_cold_pool_is_read_around_and_not_filled() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    cold.fail(true);
    warm.put("k", "w", 0, -1);
    let reply = WarmUp::new(cold, warm).oneshot(get(&["k"])).await.unwrap();
    assert_eq!(hits(&reply), ["k=w"]);
    settle().await;
    assert_eq!(log.take(), ["cold: get k", "warm: get k"]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_warm_pool_leaves_the_cold_answer() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    cold.put("a", "ca", 0, -1);
    warm.fail(true);
    let svc = WarmUp::new(cold.clone(), warm);
    let reply = svc.clone().oneshot(get(&["a", "b"])).await.unwrap();
    assert_eq!(hits(&reply), ["a=ca"]);

    cold.fail(true);
    let err = svc.oneshot(get(&["a"])).await.unwrap_err();
    assert_eq!(err.to_string(), "cold is down");
}

#[tokio::test(start_paused = true)]
async fn the_reply_waits_for_the_warm_read_in_order() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    cold.delay(Duration::from_millis(10));
    warm.delay(Duration::from_millis(20));
    warm.put("k", "w", 0, -1);
    let start = tokio::time::Instant::now();
    WarmUp::new(cold, warm).oneshot(get(&["k"])).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(30));
}

#[tokio::test(start_paused = true)]
async fn writes_go_to_the_cold_pool_only() {
    let log = Log::default();
    let (cold, warm) = pools(&log);
    let reply = WarmUp::new(cold, warm)
        .oneshot(set("k", "v"))
        .await
        .unwrap();
    assert!(matches!(reply, Response::Stored(_)));
    assert_eq!(log.take(), ["cold: set k v"]);
}
