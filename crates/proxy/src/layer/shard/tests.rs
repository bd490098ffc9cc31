use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::future::{ready, Ready};
use memkeep_protocol::{Command, Decoder, Request, Response, Value};
use memkeep_ring::{Distribution, Hash, Ring, Server};
use parking_lot::Mutex;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_service::Service;

use super::*;
use crate::layer::multi_get::PartialGet;

/// A server that holds every key except those starting with `miss`, answers with
/// its own number as the value, logs what it was asked, and fails if told to.
#[derive(Clone)]
struct Fake {
    node: usize,
    log: Arc<Mutex<Vec<(usize, Command)>>>,
    failing: bool,
}

impl Service<Request> for Fake {
    type Response = Response;
    type Error = BoxError;
    type Future = Ready<Result<Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.log.lock().push((self.node, request.command.clone()));
        if self.failing {
            return ready(Err("down".into()));
        }
        ready(Ok(match request.command {
            Command::Get(get) => Response::Values(
                get.keys
                    .into_iter()
                    .filter(|k| !k.starts_with(b"miss"))
                    .map(|key| Value {
                        key,
                        data: Bytes::from(self.node.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            Command::Stats(_) => Response::Stats(vec![("node".into(), self.node.to_string())]),
            Command::FlushAll(_) => Response::Ok,
            _ => Response::Error,
        }))
    }
}

fn builder(n: usize) -> memkeep_ring::Builder {
    let servers: Vec<Server> = (0..n)
        .map(|i| Server::twemproxy("127.0.0.1", 11211 + i as u16, 1, None))
        .collect();
    Ring::builder(servers)
        .hash(Hash::Fnv1a64)
        .distribution(Distribution::Ketama)
}

type Log = Arc<Mutex<Vec<(usize, Command)>>>;

fn make_fakes(n: usize, failing: &[usize]) -> (Vec<Fake>, Log) {
    let log = Log::default();
    let fakes = (0..n)
        .map(|node| Fake {
            node,
            log: log.clone(),
            failing: failing.contains(&node),
        })
        .collect();
    (fakes, log)
}

fn request(wire: &str) -> Request {
    Decoder::default()
        .decode(&mut BytesMut::from(wire.as_bytes()))
        .unwrap()
        .unwrap()
}

fn values(response: Response) -> Vec<(String, String)> {
    let Response::Values(values) = response else {
        panic!("not values: {response:?}")
    };
    values
        .into_iter()
        .map(|v| {
            (
                String::from_utf8(v.key.to_vec()).unwrap(),
                String::from_utf8(v.data.to_vec()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_key_goes_to_its_ring_node() {
    let ring = builder(3).build().unwrap();
    let (fakes, log) = make_fakes(3, &[]);
    let shard = Shard::new(ring.clone(), fakes, ShardOptions::default());
    for i in 0..30 {
        let key = format!("key:{i}");
        let got = values(
            shard
                .clone()
                .oneshot(request(&format!("get {key}\r\n")))
                .await
                .unwrap(),
        );
        assert_eq!(
            got,
            vec![(key.clone(), ring.node_for(key.as_bytes()).to_string())]
        );
    }
    assert_eq!(log.lock().len(), 30);
}

#[tokio::test(start_paused = true)]
async fn multi_get_is_split_per_server_and_merged_in_key_order() {
    let ring = builder(3).build().unwrap();
    let (fakes, log) = make_fakes(3, &[]);
    let shard = Shard::new(ring.clone(), fakes, ShardOptions::default());
    let keys: Vec<String> = (0..20)
        .map(|i| {
            if i % 5 == 0 {
                format!("miss{i}")
            } else {
                format!("k{i}")
            }
        })
        .collect();
    let wire = format!("get {}\r\n", keys.join(" "));
    let got = values(shard.oneshot(request(&wire)).await.unwrap());
    let want: Vec<(String, String)> = keys
        .iter()
        .filter(|k| !k.starts_with("miss"))
        .map(|k| (k.clone(), ring.node_for(k.as_bytes()).to_string()))
        .collect();
    assert_eq!(got, want);
    // One request per server, each holding only that server's keys, in order.
    let log = log.lock();
    assert_eq!(log.len(), 3);
    for (node, command) in log.iter() {
        let Command::Get(get) = command else { panic!() };
        let mine: Vec<&String> = keys
            .iter()
            .filter(|k| ring.node_for(k.as_bytes()) == *node)
            .collect();
        assert_eq!(get.keys.len(), mine.len());
        assert!(get.keys.iter().zip(mine).all(|(a, b)| a == b.as_bytes()));
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_part_fails_the_reply_or_reads_as_misses() {
    let ring = builder(3).build().unwrap();
    let keys: Vec<String> = (0..40).map(|i| format!("user:{i}:profile")).collect();
    let wire = format!("get {}\r\n", keys.join(" "));

    let (fakes, _) = make_fakes(3, &[1]);
    let shard = Shard::new(ring.clone(), fakes, ShardOptions::default());
    let err = shard.oneshot(request(&wire)).await.unwrap_err();
    assert_eq!(err.to_string(), "down");
    // The error says which keys were read and which were not, for a layer above that
    // can read those elsewhere.
    let partial = err.downcast_ref::<PartialGet>().expect("a PartialGet");
    let on_1 = |k: &String| ring.node_for(k.as_bytes()) == 1;
    let read: Vec<(String, String)> = keys
        .iter()
        .filter(|k| !on_1(k))
        .map(|k| (k.clone(), ring.node_for(k.as_bytes()).to_string()))
        .collect();
    assert_eq!(values(Response::Values(partial.hits().to_vec())), read);
    let failed: Vec<&String> = keys.iter().filter(|k| on_1(k)).collect();
    assert_eq!(partial.failed_keys(), failed);

    // When no part answered, the error is the part's own.
    let (fakes, _) = make_fakes(3, &[0, 1, 2]);
    let shard = Shard::new(ring.clone(), fakes, ShardOptions::default());
    let err = shard.oneshot(request(&wire)).await.unwrap_err();
    assert!(!err.is::<PartialGet>() && err.to_string() == "down");

    let (fakes, _) = make_fakes(3, &[1]);
    let options = ShardOptions {
        partial_failure: PartialFailure::Miss,
        ..Default::default()
    };
    let shard = Shard::new(ring.clone(), fakes, options);
    let got = values(shard.oneshot(request(&wire)).await.unwrap());
    let want: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.clone(), ring.node_for(k.as_bytes()).to_string()))
        .filter(|(_, node)| node != "1")
        .collect();
    assert!(!want.is_empty() && want.len() < keys.len());
    assert_eq!(got, want);
}

#[tokio::test(start_paused = true)]
async fn keyless_commands() {
    let ring = builder(3).build().unwrap();
    let (fakes, log) = make_fakes(3, &[]);
    let shard = Shard::new(ring, fakes, ShardOptions::default());
    let flush = shard
        .clone()
        .oneshot(request("flush_all\r\n"))
        .await
        .unwrap();
    assert_eq!(flush, Response::Ok);
    assert_eq!(log.lock().len(), 3);
    let version = shard.clone().oneshot(request("version\r\n")).await.unwrap();
    assert!(matches!(version, Response::Version(v) if v.starts_with(b"1.6.")));
    let stats = shard.clone().oneshot(request("stats\r\n")).await.unwrap();
    assert_eq!(stats, Response::Stats(vec![("node".into(), "0".into())]));
    let shutdown = shard
        .clone()
        .oneshot(request("shutdown\r\n"))
        .await
        .unwrap();
    assert!(matches!(shutdown, Response::ErrorLine(_)));
    assert_eq!(log.lock().len(), 4);

    let (fakes, _) = make_fakes(3, &[2]);
    let shard = Shard::new(builder(3).build().unwrap(), fakes, ShardOptions::default());
    assert!(shard.oneshot(request("flush_all\r\n")).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn the_ring_follows_the_live_set() {
    let (live_tx, live) = watch::channel::<Arc<[bool]>>(Arc::from(vec![true; 3]));
    let (fakes, _) = make_fakes(3, &[]);
    let shard = Shard::following(builder(3), live, fakes, ShardOptions::default()).unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("user:{i}:profile")).collect();
    let before: Vec<usize> = keys
        .iter()
        .map(|k| shard.ring().node_for(k.as_bytes()))
        .collect();
    assert!(before.contains(&1));
    live_tx.send_replace(Arc::from(vec![true, false, true]));
    let ejected: Vec<usize> = keys
        .iter()
        .map(|k| shard.ring().node_for(k.as_bytes()))
        .collect();
    assert!(!ejected.contains(&1));
    // Keys of the live servers mostly stay put (twemproxy rebuilds too).
    let stayed = before
        .iter()
        .zip(&ejected)
        .filter(|(b, a)| **b != 1 && b == a)
        .count();
    assert!(stayed * 10 >= before.iter().filter(|&&b| b != 1).count() * 9);
    live_tx.send_replace(Arc::from(vec![true; 3]));
    let back: Vec<usize> = keys
        .iter()
        .map(|k| shard.ring().node_for(k.as_bytes()))
        .collect();
    assert_eq!(back, before);
}

#[tokio::test(start_paused = true)]
async fn a_replica_shard_sends_each_key_to_its_next_distinct_server() {
    let ring = builder(3).build().unwrap();
    let (fakes, _) = make_fakes(3, &[]);
    let second = Shard::new(
        ring.clone(),
        fakes,
        ShardOptions {
            replica: 1,
            ..ShardOptions::default()
        },
    );
    for i in 0..30 {
        let key = format!("key:{i}");
        let want: Vec<usize> = ring.replicas_for(key.as_bytes(), 2).collect();
        assert_ne!(want[0], want[1]);
        let got = values(
            second
                .clone()
                .oneshot(request(&format!("get {key}\r\n")))
                .await
                .unwrap(),
        );
        assert_eq!(got, [(key, want[1].to_string())]);
    }
}
