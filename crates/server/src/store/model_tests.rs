//! Model-based test: random command sequences, time moves included, applied to the
//! store and to a plain `HashMap` model with the same rules must get the same replies.

use std::collections::HashMap;

use bytes::Bytes;
use memkeep_protocol::{Arith, Delete, Get, Response, Store as Set, StoreMode};
use proptest::prelude::*;

use super::{ManualClock, Store, StoreConfig};

const T0: u64 = 1_700_000_000;

#[derive(Debug, Clone)]
enum Op {
    Set(StoreMode, u8, u8, i64, u32),
    Cas(u8, u8, bool),
    Get(u8, Option<i64>),
    Delete(u8),
    Arith(u8, bool, u64),
    Touch(u8, i64),
    Flush(i64),
    Advance(u64),
}

#[derive(Debug, Clone)]
struct Item {
    data: Vec<u8>,
    flags: u32,
    /// Absolute unix expiry, 0 for never.
    exp: u64,
    cas: u64,
    stored: u64,
}

/// The rules restated simply, in unix seconds.
#[derive(Default)]
struct Model {
    items: HashMap<u8, Item>,
    now: u64,
    cas: u64,
    /// memcached's `oldest_live`: items last stored at or before it are flushed once
    /// the clock reaches it.
    oldest_live: Option<u64>,
    /// Set by an immediate flush: items with a lower CAS are flushed too.
    oldest_cas: u64,
}

impl Model {
    fn exp(&self, exptime: i64) -> u64 {
        match exptime {
            0 => 0,
            e if e < 0 => 1,
            e if e <= 2_592_000 => self.now + e as u64,
            e => e as u64,
        }
    }

    fn live(&mut self, key: u8) -> Option<&mut Item> {
        let (now, oldest_live, oldest_cas) = (self.now, self.oldest_live, self.oldest_cas);
        let gone = self.items.get(&key).is_some_and(|it| {
            let flushed =
                oldest_live.is_some_and(|f| f <= now && (it.stored <= f || it.cas < oldest_cas));
            (it.exp != 0 && it.exp <= now) || flushed
        });
        if gone {
            self.items.remove(&key);
        }
        self.items.get_mut(&key)
    }

    fn next_cas(&mut self) -> u64 {
        self.cas += 1;
        self.cas
    }

    fn put(&mut self, key: u8, data: Vec<u8>, flags: u32, exp: u64) {
        let cas = self.next_cas();
        let stored = self.now;
        self.items.insert(
            key,
            Item {
                data,
                flags,
                exp,
                cas,
                stored,
            },
        );
    }

    /// The reply, reduced to what both sides must agree on.
    fn apply(&mut self, op: &Op) -> String {
        match *op {
            Op::Set(mode, key, val, exptime, flags) => {
                let data = value(val).to_vec();
                let exp = self.exp(exptime);
                let old = self.live(key).cloned();
                match (mode, old) {
                    (StoreMode::Add, Some(_)) | (StoreMode::Replace, None) => "NS".into(),
                    (StoreMode::Append | StoreMode::Prepend, None) => "NS".into(),
                    (StoreMode::Append | StoreMode::Prepend, Some(old)) => {
                        let joined = if mode == StoreMode::Append {
                            [old.data.as_slice(), &data].concat()
                        } else {
                            [data.as_slice(), &old.data].concat()
                        };
                        self.put(key, joined, old.flags, old.exp);
                        "ST".into()
                    }
                    _ => {
                        self.put(key, data, flags, exp);
                        "ST".into()
                    }
                }
            }
            Op::Cas(key, val, right) => match self.live(key).map(|it| it.cas) {
                None => "NF".into(),
                Some(cas) if right => {
                    let _ = cas;
                    let exp = self.exp(0);
                    self.put(key, value(val).to_vec(), 0, exp);
                    "ST".into()
                }
                Some(_) => "EX".into(),
            },
            Op::Get(key, touch) => {
                let exp = touch.map(|t| self.exp(t));
                let now = self.now;
                match self.live(key) {
                    None => "EN".into(),
                    Some(it) => {
                        if let Some(exp) = exp {
                            it.exp = exp;
                        }
                        let ttl = if it.exp == 0 {
                            -1
                        } else {
                            it.exp as i64 - now as i64
                        };
                        format!("{:?} f{} t{} c{}", it.data, it.flags, ttl.max(-2), it.cas)
                    }
                }
            }
            Op::Delete(key) => match self.live(key) {
                None => "NF".into(),
                Some(_) => {
                    self.items.remove(&key);
                    "DE".into()
                }
            },
            Op::Arith(key, incr, delta) => {
                let cas = self.cas + 1;
                let Some(it) = self.live(key) else {
                    return "NF".into();
                };
                // memcached reads the leading number and stops at a space: a padded
                // decr result with something appended ("9 100") still reads as 9.
                let head = it.data.split(|&b| b == b' ').next().unwrap_or_default();
                let text = String::from_utf8_lossy(head).to_string();
                let Ok(n) = text.parse::<u64>() else {
                    return "NN".into();
                };
                let new = if incr {
                    n.wrapping_add(delta)
                } else {
                    n.saturating_sub(delta)
                };
                let digits = new.to_string().into_bytes();
                if digits.len() <= it.data.len() {
                    let pad = it.data.len() - digits.len();
                    it.data = [digits, vec![b' '; pad]].concat();
                } else {
                    it.data = digits;
                }
                it.cas = cas;
                self.cas = cas;
                format!("N{new}")
            }
            Op::Touch(key, exptime) => {
                let exp = self.exp(exptime);
                match self.live(key) {
                    None => "NF".into(),
                    Some(it) => {
                        it.exp = exp;
                        "TO".into()
                    }
                }
            }
            Op::Flush(delay) => {
                let at = if delay > 0 { self.exp(delay) } else { self.now };
                self.oldest_live = Some(at - 1);
                if at - 1 <= self.now {
                    self.oldest_cas = self.next_cas();
                }
                "OK".into()
            }
            Op::Advance(secs) => {
                self.now += secs;
                "OK".into()
            }
        }
    }
}

fn value(v: u8) -> &'static [u8] {
    const VALUES: [&[u8]; 6] = [b"0", b"17", b"18446744073709551615", b"abc", b"", b"100"];
    VALUES[v as usize % VALUES.len()]
}

fn apply_store(store: &Store, clock: &ManualClock, op: &Op) -> String {
    let key = |k: u8| Bytes::from(vec![b'k', k]);
    let show = |r: Response| match r {
        Response::Stored(_) => "ST".to_string(),
        Response::NotStored => "NS".into(),
        Response::NotFound => "NF".into(),
        Response::Exists => "EX".into(),
        Response::Deleted => "DE".into(),
        Response::Touched(_) => "TO".into(),
        Response::NonNumeric => "NN".into(),
        Response::Number(n, _) => format!("N{n}"),
        other => format!("{other:?}"),
    };
    match *op {
        Op::Set(mode, k, val, exptime, flags) => show(store.store(&Set {
            mode,
            key: key(k),
            flags,
            exptime,
            data: Bytes::from_static(value(val)),
            ..Set::default()
        })),
        Op::Cas(k, val, right) => {
            let current = store
                .get(
                    &key(k),
                    &Get {
                        no_bump: true,
                        ..Get::default()
                    },
                )
                .map_or(1, |v| v.meta.cas);
            show(store.store(&Set {
                key: key(k),
                data: Bytes::from_static(value(val)),
                cas: Some(if right { current } else { current + 1000 }),
                ..Set::default()
            }))
        }
        Op::Get(k, touch) => match store.get(
            &key(k),
            &Get {
                touch,
                ..Get::default()
            },
        ) {
            None => "EN".into(),
            Some(v) => format!(
                "{:?} f{} t{} c{}",
                v.data.to_vec(),
                v.meta.flags,
                v.meta.ttl.max(-2),
                v.meta.cas
            ),
        },
        Op::Delete(k) => show(store.delete(&Delete {
            key: key(k),
            ..Delete::default()
        })),
        Op::Arith(k, incr, delta) => show(store.arith(&Arith {
            key: key(k),
            incr,
            delta,
            ..Arith::default()
        })),
        Op::Touch(k, exptime) => show(store.touch(&key(k), exptime)),
        Op::Flush(delay) => {
            store.flush_all(delay);
            "OK".into()
        }
        Op::Advance(secs) => {
            clock.advance(secs);
            "OK".into()
        }
    }
}

fn exptime() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(0i64),
        3 => 1i64..6,
        1 => Just(-1i64),
        1 => (0i64..8).prop_map(|d| T0 as i64 + 62 + d),
        1 => Just(2_592_000i64),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let mode = prop_oneof![
        Just(StoreMode::Set),
        Just(StoreMode::Add),
        Just(StoreMode::Replace),
        Just(StoreMode::Append),
        Just(StoreMode::Prepend)
    ];
    let key = 0u8..6;
    prop_oneof![
        4 => (mode, key.clone(), any::<u8>(), exptime(), 0u32..3).prop_map(|(m, k, v, e, f)| Op::Set(m, k, v, e, f)),
        1 => (key.clone(), any::<u8>(), any::<bool>()).prop_map(|(k, v, r)| Op::Cas(k, v, r)),
        4 => (key.clone(), proptest::option::weighted(0.2, exptime())).prop_map(|(k, t)| Op::Get(k, t)),
        1 => key.clone().prop_map(Op::Delete),
        2 => (key.clone(), any::<bool>(), prop_oneof![0u64..200, Just(u64::MAX)]).prop_map(|(k, i, d)| Op::Arith(k, i, d)),
        1 => (key, exptime()).prop_map(|(k, e)| Op::Touch(k, e)),
        1 => prop_oneof![Just(0i64), 1i64..4].prop_map(Op::Flush),
        2 => (1u64..4).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        let clock = ManualClock::new(T0);
        let store = Store::with_clock(StoreConfig { shards: 2, ..StoreConfig::default() }, clock.clone());
        let mut model = Model { now: T0, ..Model::default() };
        for (i, op) in ops.iter().enumerate() {
            let expected = model.apply(op);
            let got = apply_store(&store, &clock, op);
            prop_assert_eq!(&got, &expected, "step {} {:?}", i, op);
        }
    }
}
