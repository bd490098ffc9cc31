//! Store throughput: get hit, get miss, set of 100 bytes, a 16-key multi-get looked
//! up one key at a time and with its reads overlapped (`get_many`), and a 90/10
//! get/set mix on two threads.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memkeep_protocol::{Get, Store as Set};
use memkeep_server::store::{Store, StoreConfig};

const KEYS: usize = 100_000;

fn keys() -> Vec<Bytes> {
    (0..KEYS)
        .map(|i| Bytes::from(format!("key:{i:012}")))
        .collect()
}

fn filled() -> (Arc<Store>, Vec<Bytes>) {
    let store = Arc::new(Store::new(StoreConfig::default()));
    let keys = keys();
    let data = Bytes::from(vec![b'v'; 100]);
    for key in &keys {
        store.store(&Set {
            key: key.clone(),
            data: data.clone(),
            ..Set::default()
        });
    }
    (store, keys)
}

fn bench(c: &mut Criterion) {
    let (store, keys) = filled();
    let get = Get::default();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            store.get(&keys[i], &get)
        })
    });
    let missing = Bytes::from_static(b"no-such-key-here");
    group.bench_function("get_miss", |b| b.iter(|| store.get(&missing, &get)));
    let data = Bytes::from(vec![b'w'; 100]);
    group.bench_function("set_100b", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            store.store(&Set {
                key: keys[i].clone(),
                data: data.clone(),
                ..Set::default()
            })
        })
    });
    // 16 keys spread over the whole store, so each lookup misses the cache as in a
    // server whose items outgrow it.
    let batch = |i: &mut usize| -> Vec<Bytes> {
        (0..16)
            .map(|_| {
                *i = (*i + 7919) % KEYS;
                keys[*i].clone()
            })
            .collect()
    };
    group.throughput(Throughput::Elements(16));
    group.bench_function("multi_get_16_one_by_one", |b| {
        b.iter(|| {
            let keys = batch(&mut i);
            keys.iter()
                .filter_map(|k| store.get(k, &get))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("multi_get_16_get_many", |b| {
        b.iter(|| store.get_many(&batch(&mut i), &get))
    });
    group.throughput(Throughput::Elements(2 * 1000));
    group.bench_function("mixed_90_10_2_threads_x1000", |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for t in 0..2 {
                    let (store, keys, data, get) = (&store, &keys, &data, &get);
                    scope.spawn(move || {
                        let mut j = t * 31;
                        for n in 0..1000 {
                            j = (j + 7919) % KEYS;
                            if n % 10 == 0 {
                                store.store(&Set {
                                    key: keys[j].clone(),
                                    data: data.clone(),
                                    ..Set::default()
                                });
                            } else {
                                store.get(&keys[j], get);
                            }
                        }
                    });
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
