//! Unit tests of the store's memcached rules, on an injected clock.

use bytes::Bytes;
use memkeep_protocol::{Arith, Delete, Get, Response, Store as Set, StoreMode, Vivify};

use super::{ManualClock, Store, StoreConfig};

const T0: u64 = 1_700_000_000;

fn store_with(config: StoreConfig) -> (Store, ManualClock) {
    let clock = ManualClock::new(T0);
    (Store::with_clock(config, clock.clone()), clock)
}

fn store() -> (Store, ManualClock) {
    store_with(StoreConfig {
        shards: 4,
        ..StoreConfig::default()
    })
}

fn k(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn set(key: &str, value: &str, exptime: i64) -> Set {
    Set {
        key: k(key),
        data: k(value),
        exptime,
        ..Set::default()
    }
}

fn get(s: &Store, key: &str) -> Option<Bytes> {
    s.get(&k(key), &Get::default()).map(|v| v.data)
}

fn cas_of(s: &Store, key: &str) -> u64 {
    s.get(&k(key), &Get::default()).unwrap().meta.cas
}

#[test]
fn relative_expiry_ends_exactly_at_the_boundary() {
    let (s, clock) = store();
    assert!(matches!(s.store(&set("a", "1", 10)), Response::Stored(_)));
    clock.advance(9);
    assert_eq!(s.get(&k("a"), &Get::default()).unwrap().meta.ttl, 1);
    clock.advance(1);
    assert_eq!(get(&s, "a"), None);
}

#[test]
fn thirty_days_is_relative_and_more_is_a_unix_time() {
    let (s, clock) = store();
    s.store(&set("rel", "1", 2_592_000));
    s.store(&set("abs", "1", T0 as i64 + 100));
    s.store(&set("past", "1", T0 as i64 - 100));
    s.store(&set("now", "1", T0 as i64));
    s.store(&set("old", "1", 2_592_001));
    assert_eq!(
        s.get(&k("rel"), &Get::default()).unwrap().meta.ttl,
        2_592_000
    );
    assert_eq!(s.get(&k("abs"), &Get::default()).unwrap().meta.ttl, 100);
    assert_eq!(get(&s, "past"), None);
    assert_eq!(get(&s, "now"), None);
    assert_eq!(get(&s, "old"), None);
    clock.advance(100);
    assert_eq!(get(&s, "abs"), None);
}

#[test]
fn negative_exptime_stores_but_expires_at_once() {
    let (s, _) = store();
    assert!(matches!(s.store(&set("a", "1", -1)), Response::Stored(_)));
    assert_eq!(get(&s, "a"), None);
    s.store(&set("b", "1", 0));
    assert!(matches!(s.touch(&k("b"), -1), Response::Touched(_)));
    assert_eq!(get(&s, "b"), None);
    assert_eq!(s.stats().total_items, 2);
}

#[test]
fn zero_never_expires_and_reports_ttl_minus_one() {
    let (s, clock) = store();
    s.store(&set("a", "1", 0));
    clock.advance(100 * 86_400);
    assert_eq!(s.get(&k("a"), &Get::default()).unwrap().meta.ttl, -1);
}

#[test]
fn flush_all_invalidates_earlier_items_only() {
    let (s, _) = store();
    s.store(&set("a", "1", 0));
    s.flush_all(0);
    s.store(&set("b", "1", 0));
    assert_eq!(get(&s, "a"), None);
    assert_eq!(get(&s, "b"), Some(k("1")));
}

#[test]
fn flush_all_with_delay_takes_effect_later() {
    let (s, clock) = store();
    s.store(&set("a", "1", 0));
    s.flush_all(10);
    clock.advance(5);
    assert_eq!(get(&s, "a"), Some(k("1")));
    clock.advance(5);
    s.store(&set("b", "1", 0));
    assert_eq!(get(&s, "a"), None);
    assert_eq!(get(&s, "b"), Some(k("1")));
}

#[test]
fn cas_rules() {
    let (s, _) = store();
    let mut c = set("a", "1", 0);
    c.cas = Some(1);
    assert_eq!(s.store(&c), Response::NotFound);
    s.store(&set("a", "1", 0));
    let cas = cas_of(&s, "a");
    c.cas = Some(cas + 100);
    assert_eq!(s.store(&c), Response::Exists);
    c.cas = Some(cas);
    c.data = k("2");
    let Response::Stored(meta) = s.store(&c) else {
        panic!()
    };
    assert!(meta.cas > cas);
    assert_eq!(cas_of(&s, "a"), meta.cas);
    assert_eq!(get(&s, "a"), Some(k("2")));
}

#[test]
fn cas_uniques_increase_and_new_cas_is_honoured() {
    let (s, _) = store();
    s.store(&set("a", "1", 0));
    s.store(&set("b", "1", 0));
    assert!(cas_of(&s, "b") > cas_of(&s, "a"));
    let mut e = set("c", "1", 0);
    e.new_cas = Some(777);
    s.store(&e);
    assert_eq!(cas_of(&s, "c"), 777);
}

#[test]
fn add_replace_append_prepend() {
    let (s, _) = store();
    let mut r = set("a", "x", 0);
    r.mode = StoreMode::Replace;
    assert_eq!(s.store(&r), Response::NotStored);
    let mut ap = set("a", "z", 0);
    ap.mode = StoreMode::Append;
    assert_eq!(s.store(&ap), Response::NotStored);
    let mut first = set("a", "mid", 100);
    first.flags = 42;
    s.store(&first);
    let mut add = set("a", "new", 0);
    add.mode = StoreMode::Add;
    assert_eq!(s.store(&add), Response::NotStored);
    let mut ap = set("a", "-end", 0);
    ap.mode = StoreMode::Append;
    ap.flags = 7;
    assert!(matches!(s.store(&ap), Response::Stored(_)));
    let mut pre = set("a", "start-", 5);
    pre.mode = StoreMode::Prepend;
    s.store(&pre);
    let v = s.get(&k("a"), &Get::default()).unwrap();
    assert_eq!(v.data, k("start-mid-end"));
    assert_eq!(v.meta.flags, 42);
    assert_eq!(v.meta.ttl, 100);
    let mut viv = set("v", "x", 0);
    viv.mode = StoreMode::Append;
    viv.vivify = Some(30);
    s.store(&viv);
    assert_eq!(s.get(&k("v"), &Get::default()).unwrap().meta.ttl, 30);
}

fn arith(key: &str, incr: bool, delta: u64) -> Arith {
    Arith {
        key: k(key),
        incr,
        delta,
        ..Arith::default()
    }
}

#[test]
fn incr_wraps_decr_floors_and_shrinking_pads_with_spaces() {
    let (s, _) = store();
    s.store(&set("n", "18446744073709551615", 0));
    assert!(matches!(
        s.arith(&arith("n", true, 2)),
        Response::Number(1, _)
    ));
    assert_eq!(get(&s, "n"), Some(k("1                   ")));
    s.store(&set("d", "100", 0));
    assert!(matches!(
        s.arith(&arith("d", false, 1)),
        Response::Number(99, _)
    ));
    assert_eq!(get(&s, "d"), Some(k("99 ")));
    assert!(matches!(
        s.arith(&arith("d", false, 1000)),
        Response::Number(0, _)
    ));
    assert!(matches!(
        s.arith(&arith("d", true, 123_456)),
        Response::Number(123_456, _)
    ));
    assert_eq!(get(&s, "d"), Some(k("123456")));
}

#[test]
fn arith_errors_and_create() {
    let (s, _) = store();
    assert_eq!(s.arith(&arith("x", true, 1)), Response::NotFound);
    s.store(&set("x", "abc", 0));
    assert_eq!(s.arith(&arith("x", true, 1)), Response::NonNumeric);
    s.store(&set("e", "", 0));
    assert_eq!(s.arith(&arith("e", true, 1)), Response::NonNumeric);
    let mut c = arith("c", true, 5);
    c.create = Some(Vivify {
        initial: 10,
        exptime: 0,
    });
    assert!(matches!(s.arith(&c), Response::Number(10, _)));
    assert!(matches!(s.arith(&c), Response::Number(15, _)));
    let mut wrong = arith("c", true, 1);
    wrong.cas = Some(cas_of(&s, "c") + 1);
    assert_eq!(s.arith(&wrong), Response::Exists);
}

#[test]
fn delete_and_cas_delete() {
    let (s, _) = store();
    assert_eq!(
        s.delete(&Delete {
            key: k("a"),
            ..Delete::default()
        }),
        Response::NotFound
    );
    s.store(&set("a", "1", 0));
    let cas = cas_of(&s, "a");
    let d = Delete {
        key: k("a"),
        cas: Some(cas + 1),
        ..Delete::default()
    };
    assert_eq!(s.delete(&d), Response::Exists);
    let d = Delete {
        key: k("a"),
        cas: Some(cas),
        ..Delete::default()
    };
    assert_eq!(s.delete(&d), Response::Deleted);
    assert_eq!(get(&s, "a"), None);
}

#[test]
fn vivify_wins_once_then_others_see_won() {
    let (s, _) = store();
    let g = Get {
        vivify: Some(30),
        ..Get::default()
    };
    let first = s.get(&k("a"), &g).unwrap();
    assert!(first.meta.win && !first.meta.won && first.data.is_empty());
    assert_eq!(first.meta.ttl, 30);
    let second = s.get(&k("a"), &g).unwrap();
    assert!(!second.meta.win && second.meta.won);
}

#[test]
fn recache_wins_when_ttl_is_below_the_token() {
    let (s, clock) = store();
    s.store(&set("a", "1", 10));
    let r5 = Get {
        recache: Some(5),
        ..Get::default()
    };
    assert!(!s.get(&k("a"), &r5).unwrap().meta.win);
    clock.advance(1);
    let r10 = Get {
        recache: Some(10),
        ..Get::default()
    };
    assert!(s.get(&k("a"), &r10).unwrap().meta.win);
    let again = s.get(&k("a"), &r10).unwrap();
    assert!(!again.meta.win && again.meta.won);
}

#[test]
fn stale_items_win_for_the_first_fetcher() {
    let (s, _) = store();
    s.store(&set("a", "1", 100));
    let old = cas_of(&s, "a");
    let d = Delete {
        key: k("a"),
        invalidate: true,
        ttl: Some(30),
        ..Delete::default()
    };
    assert_eq!(s.delete(&d), Response::Deleted);
    let first = s.get(&k("a"), &Get::default()).unwrap();
    assert!(first.meta.stale && first.meta.win && !first.meta.won);
    assert!(first.meta.cas > old);
    assert_eq!(first.meta.ttl, 30);
    let second = s.get(&k("a"), &Get::default()).unwrap();
    assert!(second.meta.stale && !second.meta.win && second.meta.won);
    // ms I with an older CAS stores the value but keeps it stale, TTL and token kept.
    let mut ms = set("a", "2", 0);
    ms.cas = Some(1);
    ms.invalidate = true;
    assert!(matches!(s.store(&ms), Response::Stored(_)));
    let third = s.get(&k("a"), &Get::default()).unwrap();
    assert_eq!(third.data, k("2"));
    assert!(third.meta.stale && third.meta.won && third.meta.ttl == 30);
}

#[test]
fn fetched_and_last_access_report_the_state_before_the_request() {
    let (s, clock) = store();
    s.store(&set("a", "1", 0));
    clock.advance(3);
    let first = s.get(&k("a"), &Get::default()).unwrap();
    assert!(!first.meta.fetched);
    assert_eq!(first.meta.last_access, 3);
    let second = s.get(&k("a"), &Get::default()).unwrap();
    assert!(second.meta.fetched);
    assert_eq!(second.meta.last_access, 0);
    let gat = Get {
        touch: Some(50),
        ..Get::default()
    };
    assert_eq!(s.get(&k("a"), &gat).unwrap().meta.ttl, 50);
}

#[test]
fn debug_line_matches_memcached() {
    let (s, _) = store();
    let g = Get {
        vivify: Some(30),
        ..Get::default()
    };
    s.get(&k("viv"), &g);
    s.get(&k("viv"), &g);
    assert_eq!(
        s.debug(&k("viv")).unwrap(),
        format!(
            "exp=-30 la=0 cas={} fetch=yes cls=1 size=62",
            cas_of(&s, "viv")
        )
    );
    assert_eq!(s.debug(&k("none")), None);
}

#[test]
fn too_large_items_are_refused_and_the_old_value_dropped() {
    let (s, _) = store_with(StoreConfig {
        max_item_size: 1000,
        shards: 1,
        ..StoreConfig::default()
    });
    s.store(&set("a", "1", 0));
    let big = "x".repeat(1000);
    assert_eq!(s.store(&set("a", &big, 0)), Response::TooLarge);
    assert_eq!(get(&s, "a"), None);
    let fits = "x".repeat(1000 - 59 - 1);
    assert!(matches!(s.store(&set("a", &fits, 0)), Response::Stored(_)));
}

fn fill(s: &Store, n: usize) -> usize {
    let value = "v".repeat(100);
    (0..n)
        .filter(|i| {
            matches!(
                s.store(&set(&format!("key:{i}"), &value, 0)),
                Response::Stored(_)
            )
        })
        .count()
}

#[test]
fn eviction_keeps_memory_within_the_limit() {
    let limit = 2 * 1024 * 1024;
    let (s, _) = store_with(StoreConfig {
        max_bytes: limit,
        shards: 2,
        ..StoreConfig::default()
    });
    assert_eq!(fill(&s, 100_000), 100_000);
    let stats = s.stats();
    assert!(stats.memory <= limit as u64, "{stats:?}");
    assert!(stats.evictions > 0);
    assert_eq!(stats.curr_items + stats.evictions, 100_000);
    assert!(get(&s, "key:99999").is_some());
}

#[test]
fn hot_items_survive_eviction() {
    let (s, _) = store_with(StoreConfig {
        max_bytes: 1024 * 1024,
        shards: 1,
        ..StoreConfig::default()
    });
    s.store(&set("hot", "1", 0));
    let value = "v".repeat(100);
    for i in 0..50_000 {
        s.store(&set(&format!("cold:{i}"), &value, 0));
        if i % 1000 == 0 {
            assert!(get(&s, "hot").is_some(), "hot item evicted after {i} sets");
        }
    }
}

#[test]
fn without_eviction_a_full_store_answers_out_of_memory() {
    let (s, clock) = store_with(StoreConfig {
        max_bytes: 1024 * 1024,
        evict: false,
        shards: 1,
        ..StoreConfig::default()
    });
    let stored = fill(&s, 20_000);
    assert!(stored < 20_000);
    assert_eq!(
        s.store(&set("more", &"v".repeat(100), 0)),
        Response::OutOfMemory
    );
    assert_eq!(s.stats().evictions, 0);
    // Expired items are still reclaimed to make room.
    s.flush_all(0);
    clock.advance(1);
    assert!(matches!(s.store(&set("more", "1", 0)), Response::Stored(_)));
}

#[test]
fn large_items_get_their_own_segment() {
    let (s, _) = store_with(StoreConfig {
        max_bytes: 8 * 1024 * 1024,
        shards: 1,
        max_item_size: 4 << 20,
        ..StoreConfig::default()
    });
    let big = "b".repeat(2 << 20);
    for i in 0..10 {
        assert!(matches!(
            s.store(&set(&format!("big{i}"), &big, 0)),
            Response::Stored(_)
        ));
    }
    assert!(s.stats().memory <= 8 * 1024 * 1024);
    assert_eq!(get(&s, "big9").map(|v| v.len()), Some(2 << 20));
}

#[test]
fn for_each_live_skips_expired_items() {
    let (s, clock) = store();
    s.store(&set("a", "1", 0));
    s.store(&set("b", "2", 5));
    clock.advance(5);
    let mut keys = Vec::new();
    s.for_each_live(|v| keys.push(v.key.clone()));
    assert_eq!(keys, vec![k("a")]);
}

#[test]
fn stats_reset_keeps_gauges() {
    let (s, _) = store();
    s.store(&set("a", "1", 0));
    s.reset_stats();
    let stats = s.stats();
    assert_eq!((stats.curr_items, stats.total_items), (1, 0));
    assert!(stats.bytes > 0);
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}
