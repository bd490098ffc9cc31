//! Measures warm restart's snapshot: stores 1M items (10-30 byte keys, 100-byte
//! values, a TTL on half), writes them to a file as memkeepd does on an orderly stop
//! (write, fsync), and reads the file back into an empty store as memkeepd does at
//! start. Prints the file's size and both times.
//!
//! `cargo run --release -p memkeep-server --example snapshot_speed [DIR]`
//! (DIR defaults to the temporary directory; the file is removed at the end).

use std::fs::File;
use std::time::Instant;

use bytes::Bytes;
use memkeep_protocol::{Response, Store as Set};
use memkeep_server::store::snapshot::{self, ResumePoint};
use memkeep_server::store::{Store, StoreConfig};

fn main() {
    const ITEMS: usize = 1_000_000;
    let config = StoreConfig {
        max_bytes: 1 << 30,
        shards: 16,
        ..StoreConfig::default()
    };
    let store = Store::new(config.clone());
    let value = Bytes::from(vec![b'v'; 100]);
    for i in 0..ITEMS {
        let set = Set {
            // 10 to 30 bytes, 20 on average.
            key: Bytes::from(format!("key:{i:0width$}", width = 6 + i % 21)),
            data: value.clone(),
            flags: i as u32,
            exptime: if i % 2 == 0 { 0 } else { 3600 },
            ..Set::default()
        };
        assert!(matches!(store.store(&set), Response::Stored(_)));
    }
    let dir = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    let path = dir.join(format!("snapshot-speed-{}", std::process::id()));

    let started = Instant::now();
    let file = File::create(&path).expect("create the snapshot file");
    let resume = [ResumePoint { run: 1, next: 1 }];
    let written = snapshot::write(&store, &resume, &file).expect("write");
    file.sync_all().expect("fsync");
    let write_time = started.elapsed();

    let restored = Store::new(config);
    let started = Instant::now();
    let loaded = snapshot::load(&restored, File::open(&path).expect("open")).expect("load");
    let load_time = started.elapsed();
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded.items, ITEMS as u64);

    println!("items          {}", written.items);
    println!(
        "file size      {} bytes ({:.1} per item)",
        written.bytes,
        written.bytes as f64 / ITEMS as f64
    );
    println!("write + fsync  {:.0} ms", write_time.as_secs_f64() * 1e3);
    println!(
        "load           {:.0} ms (checked, then stored)",
        load_time.as_secs_f64() * 1e3
    );
}
