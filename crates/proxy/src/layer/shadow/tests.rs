use std::time::Duration;

use memkeep_protocol::{Command, Form, Request, Response, TextForm, TextVerb};
use tokio::time::Instant;
use tower::{Layer, ServiceExt};

use super::*;

use crate::layer::fake::{get, hits, set, settle, Fake, Log};

fn version() -> Request {
    Request {
        command: Command::Version,
        form: Form::Text(TextForm {
            verb: TextVerb::Version,
            noreply: false,
        }),
    }
}

#[tokio::test(start_paused = true)]
async fn every_request_is_copied_at_one_and_the_shadows_reply_ignored() {
    let log = Log::default();
    let (main, shadow) = (Fake::new("main", &log), Fake::new("shadow", &log));
    main.put("k", "main", 0, -1);
    shadow.put("k", "shadow", 0, -1);
    let svc = ShadowLayer::new(shadow, 1.0).layer(main);

    let reply = svc.clone().oneshot(get(&["k"])).await.unwrap();
    assert_eq!(hits(&reply), ["k=main"]);
    svc.oneshot(set("k", "v")).await.unwrap();
    settle().await;
    let mut seen = log.take();
    seen.sort();
    assert_eq!(
        seen,
        [
            "main: get k",
            "main: set k v",
            "shadow: get k",
            "shadow: set k v"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_fraction_copies_exactly_that_share_deterministically() {
    let log = Log::default();
    let (main, shadow) = (Fake::new("main", &log), Fake::new("shadow", &log));
    let svc = ShadowLayer::new(shadow, 0.25).layer(main);
    for i in 0..8 {
        svc.clone().oneshot(get(&[&format!("k{i}")])).await.unwrap();
    }
    settle().await;
    let copied: Vec<_> = log
        .take()
        .into_iter()
        .filter(|l| l.starts_with("shadow"))
        .collect();
    assert_eq!(copied, ["shadow: get k0", "shadow: get k4"]);
}

#[tokio::test(start_paused = true)]
async fn zero_copies_nothing_and_only_key_commands_are_copied() {
    let log = Log::default();
    let (main, shadow) = (Fake::new("main", &log), Fake::new("shadow", &log));
    ShadowLayer::new(shadow.clone(), 0.0)
        .layer(main.clone())
        .oneshot(get(&["k"]))
        .await
        .unwrap();
    ShadowLayer::new(shadow, 1.0)
        .layer(main)
        .oneshot(version())
        .await
        .unwrap();
    settle().await;
    assert_eq!(log.take(), ["main: get k", "main: version"]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_or_failing_shadow_never_delays_or_fails_the_client() {
    let log = Log::default();
    let (main, shadow) = (Fake::new("main", &log), Fake::new("shadow", &log));
    shadow.delay(Duration::from_secs(30));
    let svc = ShadowLayer::new(shadow.clone(), 1.0).layer(main);
    let start = Instant::now();
    let reply = svc.clone().oneshot(set("k", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));
    assert_eq!(start.elapsed(), Duration::ZERO);

    shadow.delay(Duration::ZERO);
    shadow.fail(true);
    let reply = svc.oneshot(set("k", "v")).await.unwrap();
    assert!(matches!(reply, Response::Stored(_)));
}

#[tokio::test(start_paused = true)]
async fn copies_past_the_bound_are_skipped() {
    let log = Log::default();
    let (main, shadow) = (Fake::new("main", &log), Fake::new("shadow", &log));
    shadow.delay(Duration::from_secs(1));
    let svc = ShadowLayer::new(shadow, 1.0).in_flight_limit(1).layer(main);
    svc.clone().oneshot(get(&["a"])).await.unwrap();
    svc.clone().oneshot(get(&["b"])).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await; // the first copy's task ends and frees its place
    svc.oneshot(get(&["c"])).await.unwrap();
    settle().await;
    let copied: Vec<_> = log
        .take()
        .into_iter()
        .filter(|l| l.starts_with("shadow"))
        .collect();
    assert_eq!(copied, ["shadow: get a", "shadow: get c"]);
}

#[test]
fn fractions_select_their_share() {
    let shadow = |f| ShadowLayer::new((), f).layer(());
    for (fraction, expected) in [(0.0, 0), (0.001, 1), (0.1, 100), (0.5, 500), (1.0, 1000)] {
        let s = shadow(fraction);
        let n = (0..1000).filter(|&n| s.selected(n)).count();
        assert_eq!(n, expected, "{fraction}");
    }
}
