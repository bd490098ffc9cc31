//! The cost of the proxy's layers, over in-process cache services (no sockets): a
//! get through the twemproxy stack `Shard -> [Count -> Eject -> Timeout -> Cache] x 3`,
//! a 10-key multi-get split over the servers and merged, and a replicated pool's get
//! through `ReadRepair` over two shards. Each iteration sends 100 requests at once.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::future::join_all;
use memkeep_protocol::{Decoder, Request};
use memkeep_proxy::layer::count::{CountLayer, ServerCounters};
use memkeep_proxy::layer::eject::{Eject, EjectConfig};
use memkeep_proxy::layer::read_repair::ReadRepairLayer;
use memkeep_proxy::layer::shard::{Shard, ShardOptions};
use memkeep_proxy::layer::timeout::Timeout;
use memkeep_proxy::BoxError;
use memkeep_ring::{Ring, Server};
use memkeep_server::cache::{Cache, CacheConfig};
use memkeep_server::store::{Store, StoreConfig};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};

type Stack = BoxCloneSyncService<Request, memkeep_protocol::Response, BoxError>;

const BATCH: usize = 100;

fn request(wire: &str) -> Request {
    Decoder::default()
        .decode(&mut BytesMut::from(wire.as_bytes()))
        .expect("valid request")
        .expect("whole request")
}

/// One server's stack over its own in-process cache.
fn server() -> Stack {
    let cache = Cache::new(
        Arc::new(Store::new(StoreConfig::default())),
        Arc::default(),
        CacheConfig::default(),
    );
    let timed = BoxCloneSyncService::new(Timeout::new(cache, Duration::from_secs(1)));
    let ejecting = Eject::new(timed, EjectConfig::default(), None);
    let counted = CountLayer::new(Arc::new(ServerCounters::default())).layer(ejecting);
    BoxCloneSyncService::new(counted)
}

fn ring() -> Ring {
    let servers: Vec<Server> = (0..3)
        .map(|i| Server::twemproxy("127.0.0.1", 11211 + i, 1, None))
        .collect();
    Ring::builder(servers).build().expect("ring")
}

fn shard(servers: &[Stack], replica: usize) -> Stack {
    let options = ShardOptions {
        replica,
        ..ShardOptions::default()
    };
    BoxCloneSyncService::new(Shard::new(ring(), servers.to_vec(), options))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let servers: Vec<Stack> = (0..3).map(|_| server()).collect();
    let twemproxy = shard(&servers, 0);
    let replicated = BoxCloneSyncService::new(
        ReadRepairLayer::new().layer(vec![shard(&servers, 0), shard(&servers, 1)]),
    );
    let keys: Vec<String> = (0..1000).map(|i| format!("key:{i}")).collect();
    runtime.block_on(async {
        for key in &keys {
            let set = request(&format!("set {key} 0 0 100\r\n{}\r\n", "v".repeat(100)));
            twemproxy.clone().oneshot(set.clone()).await.expect("set");
            // The second replica too, so the replicated get finds both and repairs none.
            shard(&servers, 1).oneshot(set).await.expect("set");
        }
    });
    let gets: Vec<Request> = keys
        .iter()
        .map(|k| request(&format!("get {k}\r\n")))
        .collect();
    let multi: Vec<Request> = keys
        .chunks(10)
        .map(|chunk| request(&format!("get {}\r\n", chunk.join(" "))))
        .collect();

    let mut group = c.benchmark_group("layers");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut run = |name: &str, stack: &Stack, requests: &[Request]| {
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                let batch = (0..BATCH).map(|_| {
                    next = (next + 1) % requests.len();
                    stack.clone().oneshot(requests[next].clone())
                });
                let batch: Vec<_> = batch.collect();
                runtime.block_on(join_all(batch))
            })
        });
    };
    run("shard_get", &twemproxy, &gets);
    run("shard_multi_get_10", &twemproxy, &multi);
    run("read_repair_get_2_replicas", &replicated, &gets);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
