//! Warm restart's snapshot reader (`memkeep_server::store::snapshot`) on arbitrary
//! bytes: it never panics, loads all or nothing, and what it loads survives being
//! written and read again unchanged.

use std::io::Cursor;

use memkeep_server::store::snapshot;
use memkeep_server::store::{ManualClock, Store, StoreConfig};

/// A small store: values past 1 KiB take the reader's skip path. Its clock stands
/// still (at the end of 2023), so an item cannot expire between two loads.
fn store() -> Store {
    let config = StoreConfig {
        max_bytes: 4 << 20,
        max_item_size: 1024,
        shards: 2,
        ..StoreConfig::default()
    };
    Store::with_clock(config, ManualClock::new(1_700_000_000))
}

fn items(store: &Store) -> Vec<(Vec<u8>, Vec<u8>, u32, u64)> {
    let mut out = Vec::new();
    store.for_each_live(|v| out.push((v.key.to_vec(), v.data.to_vec(), v.meta.flags, v.meta.cas)));
    out.sort();
    out
}

/// The snapshot invariants on `data`.
pub fn snapshot(data: &[u8]) {
    let first = store();
    let Ok(loaded) = snapshot::load(&first, Cursor::new(data)) else {
        assert!(items(&first).is_empty(), "a refused snapshot stored items");
        return;
    };
    let held = items(&first);
    assert!(held.len() as u64 <= loaded.items, "more items than loaded");
    let mut again = Vec::new();
    snapshot::write(&first, &loaded.resume, &mut again).expect("write to memory");
    let second = store();
    let reloaded = snapshot::load(&second, Cursor::new(&again)).expect("own output reads back");
    assert_eq!(reloaded.resume, loaded.resume);
    assert_eq!(items(&second), held, "items changed through write and load");
}
