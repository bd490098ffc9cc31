//! Model-based test: random command sequences, time moves included, applied to the
//! store and to the reference model ([`super::model`]) must get the same replies.

use bytes::Bytes;
use memkeep_protocol::{Arith, Delete, Get, Store as Set, StoreMode};
use proptest::prelude::*;

use super::model::{show, show_hit, value, Model, Op, T0};
use super::{ManualClock, Store, StoreConfig};

fn apply_store(store: &Store, clock: &ManualClock, op: &Op) -> String {
    let key = |k: u8| Bytes::from(vec![b'k', k]);
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
            Some(v) => show_hit(&v.data, v.meta.flags, v.meta.ttl, v.meta.cas),
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
        let mut model = Model::new(T0);
        for (i, op) in ops.iter().enumerate() {
            let expected = model.apply(op);
            let got = apply_store(&store, &clock, op);
            prop_assert_eq!(&got, &expected, "step {} {:?}", i, op);
        }
    }
}
