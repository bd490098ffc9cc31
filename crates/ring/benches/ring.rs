//! Ring build time for 10 / 100 / 1000 servers, and lookup time for 30-byte keys per
//! hash function and per distribution. Run: `cargo bench -p memkeep-ring`.
//!
//! On the 2-core shared development machine (noisy, medians): ketama builds in
//! 0.12 ms / 1.3 ms / 16 ms for 10 / 100 / 1000 servers (MD5 of 40 labels per
//! server), modula and rendezvous in under 0.13 ms at 1000. A ketama lookup over 100
//! servers costs 77-147 ns with any hash but MD5 (317 ns); with XXH3 at 100 servers:
//! modula 17 ns, jump 46 ns, libmemcached ketama 62 ns, ketama 77 ns, rendezvous
//! 2.4 µs (one score per server).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use memkeep_ring::{Distribution, Hash, Ring, Server};

fn servers(n: usize) -> Vec<Server> {
    (0..n)
        .map(|i| Server::twemproxy(&format!("10.0.{}.{}", i / 250, i % 250), 11211, 1, None))
        .collect()
}

/// 256 keys of 30 bytes, so a lookup is not always the same cached one.
fn keys() -> Vec<[u8; 30]> {
    (0..256u32)
        .map(|i| {
            let mut k = *b"user:session:0000000000:abcdef";
            let digits = format!("{:010}", i.wrapping_mul(2_654_435_761));
            k[13..23].copy_from_slice(digits.as_bytes());
            k
        })
        .collect()
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    for n in [10, 100, 1000] {
        for d in [
            Distribution::Ketama,
            Distribution::Modula,
            Distribution::Rendezvous,
        ] {
            group.bench_with_input(BenchmarkId::new(d.name(), n), &servers(n), |b, s| {
                b.iter(|| Ring::builder(s.clone()).distribution(d).build().unwrap())
            });
        }
    }
    group.finish();
}

fn lookup_by_hash(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("lookup_ketama_100");
    for hash in Hash::ALL {
        let ring = Ring::builder(servers(100)).hash(hash).build().unwrap();
        group.bench_function(hash.name(), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & 255;
                ring.node_for(black_box(&keys[i]))
            })
        });
    }
    group.finish();
}

fn lookup_by_distribution(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("lookup_xxh3");
    for n in [10, 100] {
        for d in Distribution::ALL {
            let ring = Ring::builder(servers(n))
                .hash(Hash::Xxh3)
                .distribution(d)
                .build()
                .unwrap();
            group.bench_function(BenchmarkId::new(d.name(), n), |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) & 255;
                    ring.node_for(black_box(&keys[i]))
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = build, lookup_by_hash, lookup_by_distribution
}
criterion_main!(benches);
