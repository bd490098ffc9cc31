use memkeep_protocol::Response;
use proptest::prelude::*;
use tower::{Layer, ServiceExt};

use super::*;

use crate::layer::multi_get::PartialGet;

use crate::layer::fake::{delete, get, hits, incr, set, Fake, Log};

fn prefixed(log: &Log) -> (Route<Fake>, Vec<Fake>) {
    let b: Vec<Fake> = ["default", "user", "admin"]
        .iter()
        .map(|n| Fake::new(n, log))
        .collect();
    let route = RouteLayer::by_prefix([("user:", 1), ("user:admin:", 2)], 0).layer(b.clone());
    (route, b)
}

#[tokio::test(start_paused = true)]
async fn the_longest_prefix_wins_and_the_rest_goes_to_the_default() {
    let log = Log::default();
    let (route, _) = prefixed(&log);
    for key in ["user:1", "user:admin:1", "session:1", "use", "user:admin"] {
        route.clone().oneshot(get(&[key])).await.unwrap();
    }
    route
        .clone()
        .oneshot(set("user:admin:x", "v"))
        .await
        .unwrap();
    route.oneshot(delete("user:9")).await.unwrap();
    assert_eq!(
        log.take(),
        [
            "user: get user:1",
            "admin: get user:admin:1",
            "default: get session:1",
            "default: get use",
            "user: get user:admin",
            "admin: set user:admin:x v",
            "user: delete user:9",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn requests_without_a_key_go_to_the_default() {
    let log = Log::default();
    let (route, _) = prefixed(&log);
    let version = memkeep_protocol::Request {
        command: memkeep_protocol::Command::Version,
        form: get(&["x"]).form,
    };
    route.oneshot(version).await.unwrap();
    assert_eq!(log.take(), ["default: version"]);
}

#[tokio::test(start_paused = true)]
async fn a_multi_get_is_split_by_route_and_merged_in_key_order() {
    let log = Log::default();
    let (route, b) = prefixed(&log);
    b[0].put("s", "S", 0, -1);
    b[1].put("user:1", "U1", 0, -1);
    b[1].put("user:2", "U2", 0, -1);
    b[2].put("user:admin:1", "A1", 0, -1);

    let reply = route
        .clone()
        .oneshot(get(&["user:2", "s", "user:admin:1", "x", "user:1"]))
        .await
        .unwrap();
    assert_eq!(
        hits(&reply),
        ["user:2=U2", "s=S", "user:admin:1=A1", "user:1=U1"]
    );
    assert_eq!(
        log.take(),
        [
            "user: get user:2 user:1",
            "default: get s x",
            "admin: get user:admin:1",
        ]
    );

    // All keys on one route: not split.
    route.oneshot(get(&["user:1", "user:2"])).await.unwrap();
    assert_eq!(log.take(), ["user: get user:1 user:2"]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_part_fails_the_whole_get() {
    let log = Log::default();
    let (route, b) = prefixed(&log);
    b[1].put("user:1", "U1", 0, -1);
    b[2].fail(true);
    let err = route
        .oneshot(get(&["user:admin:2", "user:1", "user:admin:1", "s"]))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "admin is down");
    // Saying which keys were read, for a failover above.
    let partial = err.downcast_ref::<PartialGet>().expect("a PartialGet");
    assert_eq!(
        hits(&Response::Values(partial.hits().to_vec())),
        ["user:1=U1"]
    );
    assert_eq!(partial.failed_keys(), ["user:admin:2", "user:admin:1"]);
}

#[tokio::test(start_paused = true)]
async fn by_operation_sends_reads_and_writes_apart() {
    let log = Log::default();
    let route = Route::by_operation(Fake::new("reads", &log), Fake::new("writes", &log));
    route.clone().oneshot(get(&["k"])).await.unwrap();
    route.clone().oneshot(set("k", "v")).await.unwrap();
    route.clone().oneshot(delete("k")).await.unwrap();
    let reply = route.oneshot(incr("n")).await.unwrap();
    assert!(matches!(reply, Response::Number(1, _)));
    assert_eq!(
        log.take(),
        [
            "reads: get k",
            "writes: set k v",
            "writes: delete k",
            "writes: incr n"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn routes_nest() {
    let log = Log::default();
    let reads = Route::by_prefix([("hot:", Fake::new("hot", &log))], Fake::new("cold", &log));
    let writes = Route::by_prefix(
        [("hot:", Fake::new("hot-w", &log))],
        Fake::new("cold-w", &log),
    );
    let route = Route::by_operation(reads, writes);
    route.clone().oneshot(get(&["hot:1"])).await.unwrap();
    route.oneshot(set("x", "v")).await.unwrap();
    assert_eq!(log.take(), ["hot: get hot:1", "cold-w: set x v"]);
}

proptest! {
    /// The route chosen is the longest configured prefix of the key, else the default.
    #[test]
    fn the_chosen_prefix_is_the_longest_match(
        prefixes in prop::collection::vec("[ab]{0,4}", 0..6),
        key in "[ab]{0,6}",
    ) {
        let routes: Vec<(Bytes, usize)> = prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| (Bytes::from(p.clone()), i + 1))
            .collect();
        let layer = RouteLayer::by_prefix(routes.clone(), 0);
        let Rule::Prefix { prefixes: sorted, default } = &*layer.rule else { unreachable!() };
        let got = Route::<()>::for_key(sorted, *default, key.as_bytes());
        let longest = routes
            .iter()
            .filter(|(p, _)| key.as_bytes().starts_with(p))
            .map(|(p, _)| p.len())
            .max();
        match longest {
            None => prop_assert_eq!(got, 0),
            Some(len) => prop_assert_eq!(routes[got - 1].0.len(), len),
        }
    }
}
