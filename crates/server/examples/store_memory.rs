//! Measures resident memory per item: stores 1M items (10-30 byte keys, 100-byte
//! values) and prints the growth of RSS (from /proc/self/statm) divided by the count.
//!
//! `cargo run --release -p memkeep-server --example store_memory`

use bytes::Bytes;
use memkeep_protocol::{Response, Store as Set};
use memkeep_server::store::{Store, StoreConfig};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    const ITEMS: usize = 1_000_000;
    let store = Store::new(StoreConfig {
        max_bytes: 1 << 30,
        shards: 16,
        ..StoreConfig::default()
    });
    let value = Bytes::from(vec![b'v'; 100]);
    let before = rss_bytes();
    for i in 0..ITEMS {
        // 10 to 30 bytes, 20 on average.
        let key = format!("key:{i:0width$}", width = 6 + i % 21);
        let set = Set {
            key: Bytes::from(key),
            data: value.clone(),
            ..Set::default()
        };
        assert!(matches!(store.store(&set), Response::Stored(_)));
    }
    let after = rss_bytes();
    let stats = store.stats();
    println!(
        "items {} payload {} B/item, RSS {} B/item, accounted memory {} B/item",
        stats.curr_items,
        stats.bytes as f64 / ITEMS as f64,
        (after - before) as f64 / ITEMS as f64,
        stats.memory as f64 / ITEMS as f64,
    );
}
