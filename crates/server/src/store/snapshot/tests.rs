use std::io::Cursor;

use proptest::prelude::*;

use super::*;
use crate::store::{ManualClock, StoreConfig};

const NOW: u64 = 1_700_000_000;

fn store_at(clock: &ManualClock) -> Store {
    Store::with_clock(StoreConfig::default(), clock.clone())
}

fn key(k: &str) -> Bytes {
    Bytes::copy_from_slice(k.as_bytes())
}

/// A store with items of every kind: no TTL, a TTL, flags, large CAS values.
fn filled(clock: &ManualClock) -> Store {
    let store = store_at(clock);
    for i in 0..500u64 {
        let expires = match i % 3 {
            0 => 0,
            1 => NOW + 60 + i,
            _ => NOW + 86_400 * 40,
        };
        let value = vec![b'a' + (i % 26) as u8; (i as usize * 7) % 300];
        let cas = 1_000_000 + i * 3;
        assert!(store.apply(
            &key(&format!("key:{i}")),
            &value,
            i as u32 * 17,
            expires,
            cas
        ));
    }
    store
}

fn snapshot(store: &Store, resume: &[ResumePoint]) -> Vec<u8> {
    let mut out = Vec::new();
    let written = write(store, resume, &mut out).unwrap();
    assert_eq!(written.bytes, out.len() as u64);
    out
}

fn assert_same_items(a: &Store, b: &Store) {
    let mut seen = 0;
    a.for_each_live(|v| {
        let other = b.peek(&v.key).expect("item restored");
        assert_eq!(other.data, v.data);
        assert_eq!(other.meta.flags, v.meta.flags);
        assert_eq!(other.meta.cas, v.meta.cas);
        assert_eq!(other.meta.ttl, v.meta.ttl);
        seen += 1;
    });
    let mut count = 0;
    b.for_each_live(|_| count += 1);
    assert_eq!(count, seen);
}

#[test]
fn every_item_comes_back_with_flags_ttl_and_cas() {
    let clock = ManualClock::new(NOW);
    let before = filled(&clock);
    let resume = [ResumePoint { run: 42, next: 7 }];
    let bytes = snapshot(&before, &resume);
    let after = store_at(&clock);
    let loaded = load(&after, Cursor::new(&bytes)).unwrap();
    assert_eq!(loaded.items, 500);
    assert_eq!(loaded.written_at, NOW);
    assert_eq!(loaded.resume, resume);
    assert_same_items(&before, &after);
    // New CAS uniques come after every restored one.
    assert!(after.fresh_cas() > 1_000_000 + 499 * 3);
}

#[test]
fn a_ttl_keeps_counting_while_down_and_expired_items_stay_out() {
    let clock = ManualClock::new(NOW);
    let before = filled(&clock);
    let bytes = snapshot(&before, &[]);
    // Down for 200 seconds: the TTLs of 60 + i seconds with i < 140 ran out.
    clock.advance(200);
    let after = store_at(&clock);
    let loaded = load(&after, Cursor::new(&bytes)).unwrap();
    let expired = (0..500u64).filter(|i| i % 3 == 1 && 60 + i <= 200).count() as u64;
    assert_eq!(loaded.expired, expired);
    assert_eq!(loaded.items, 500 - expired);
    let v = after.peek(&key("key:499")).unwrap();
    assert_eq!(v.meta.ttl, (60 + 499 - 200) as i64);
    assert!(after.peek(&key("key:1")).is_none());
}

#[test]
fn items_larger_than_the_store_takes_are_skipped() {
    let clock = ManualClock::new(NOW);
    let before = store_at(&clock);
    before.apply(&key("big"), &vec![b'x'; 4000], 0, 0, 5);
    before.apply(&key("small"), b"v", 0, 0, 6);
    let bytes = snapshot(&before, &[]);
    let config = StoreConfig {
        max_item_size: 2000,
        ..StoreConfig::default()
    };
    let after = Store::with_clock(config, clock.clone());
    let loaded = load(&after, Cursor::new(&bytes)).unwrap();
    assert_eq!((loaded.items, loaded.too_large), (1, 1));
    assert!(after.peek(&key("small")).is_some());
}

#[test]
fn every_truncation_is_refused_and_loads_nothing() {
    let clock = ManualClock::new(NOW);
    let before = store_at(&clock);
    for i in 0..20u32 {
        before.apply(&key(&format!("k{i}")), b"value", i, 0, u64::from(i) + 1);
    }
    let bytes = snapshot(&before, &[ResumePoint { run: 1, next: 2 }]);
    for len in 0..bytes.len() {
        let after = store_at(&clock);
        let err = load(&after, Cursor::new(&bytes[..len])).unwrap_err();
        assert!(
            matches!(err, SnapshotError::Truncated | SnapshotError::NotASnapshot),
            "{len}: {err}"
        );
        assert!(after.peek(&key("k0")).is_none(), "{len}");
    }
}

#[test]
fn every_flipped_byte_is_refused_and_loads_nothing() {
    let clock = ManualClock::new(NOW);
    let before = store_at(&clock);
    for i in 0..10u32 {
        before.apply(&key(&format!("k{i}")), b"value", i, 0, u64::from(i) + 1);
    }
    let bytes = snapshot(&before, &[]);
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        let after = store_at(&clock);
        assert!(load(&after, Cursor::new(&bad)).is_err(), "byte {at}");
        let mut count = 0;
        after.for_each_live(|_| count += 1);
        assert_eq!(count, 0, "byte {at}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        load(&store_at(&clock), Cursor::new(&longer)),
        Err(SnapshotError::Corrupt(_))
    ));
}

#[test]
fn foreign_and_future_files_are_told_apart() {
    let clock = ManualClock::new(NOW);
    let store = store_at(&clock);
    assert!(!is_snapshot(&b"hello world"[..]).unwrap());
    assert!(!is_snapshot(&b""[..]).unwrap());
    assert!(matches!(
        load(&store, Cursor::new(b"#!/bin/sh\necho hi\n")),
        Err(SnapshotError::NotASnapshot)
    ));
    let mut bytes = snapshot(&store, &[]);
    assert!(is_snapshot(&bytes[..]).unwrap());
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    assert!(matches!(
        load(&store, Cursor::new(&bytes)),
        Err(SnapshotError::Version(2))
    ));
}

proptest! {
    #[test]
    fn round_trip(items in prop::collection::vec(
        (prop::collection::vec(any::<u8>(), 1..=250), prop::collection::vec(any::<u8>(), 0..600),
         any::<u32>(), prop::option::of(1u64..1_000_000), 1u64..u64::MAX / 2),
        0..40,
    ), resume in prop::collection::vec((any::<u64>(), any::<u64>()), 0..4)) {
        let clock = ManualClock::new(NOW);
        let before = store_at(&clock);
        for (k, v, flags, ttl, cas) in &items {
            before.apply(&Bytes::copy_from_slice(k), v, *flags, ttl.map_or(0, |t| NOW + t), *cas);
        }
        let resume: Vec<ResumePoint> =
            resume.into_iter().map(|(run, next)| ResumePoint { run, next }).collect();
        let bytes = snapshot(&before, &resume);
        let after = store_at(&clock);
        let loaded = load(&after, Cursor::new(&bytes)).unwrap();
        prop_assert_eq!(loaded.resume, resume);
        assert_same_items(&before, &after);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_load_all_or_nothing(
        prefix in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let clock = ManualClock::new(NOW);
        let store = store_at(&clock);
        // Half the inputs start like a snapshot, to get past the magic and version.
        let mut bytes = Vec::new();
        if prefix {
            bytes.extend_from_slice(&MAGIC);
            bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        }
        bytes.extend_from_slice(&tail);
        if load(&store, Cursor::new(&bytes)).is_err() {
            let mut count = 0;
            store.for_each_live(|_| count += 1);
            prop_assert_eq!(count, 0);
        }
    }
}
