//! Generators for the property tests: requests and replies in the shapes the codec
//! reads back exactly.

use bytes::Bytes;
use proptest::prelude::*;

use crate::binary::opcode as op;
use crate::{
    Arith, BinaryForm, Command, Delete, FlushAll, Form, Get, ItemMeta, Request, Response, Sasl,
    Store, StoreMode, Touch, Value, Vivify,
};

fn bytes(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), len).prop_map(Bytes::from)
}

pub(super) fn key() -> impl Strategy<Value = Bytes> {
    bytes(1..=250)
}

fn cas() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), (1..=u64::MAX).prop_map(Some)]
}

fn exptime() -> impl Strategy<Value = i64> {
    (0..=u32::MAX).prop_map(i64::from)
}

/// A command and an opcode that can carry it, quiet and key-echoing variants included.
/// VERBOSITY is left out: memcached 1.6.18's server does not implement it.
fn command() -> impl Strategy<Value = (u8, Command)> {
    let get = (
        key(),
        prop::sample::select(vec![op::GET, op::GETQ, op::GETK, op::GETKQ]),
    )
        .prop_map(|(k, o)| {
            (
                o,
                Command::Get(Get {
                    keys: vec![k],
                    ..Get::default()
                }),
            )
        });
    let gat = (
        key(),
        exptime(),
        prop::sample::select(vec![op::GAT, op::GATQ, op::GATK, op::GATKQ]),
    )
        .prop_map(|(k, t, o)| {
            (
                o,
                Command::Get(Get {
                    keys: vec![k],
                    touch: Some(t),
                    ..Get::default()
                }),
            )
        });
    let update = (
        key(),
        bytes(0..=64),
        any::<u32>(),
        exptime(),
        cas(),
        0..6usize,
    )
        .prop_map(|(key, data, flags, exptime, cas, which)| {
            let (o, mode) = [
                (op::SET, StoreMode::Set),
                (op::SETQ, StoreMode::Set),
                (op::ADD, StoreMode::Add),
                (op::ADDQ, StoreMode::Add),
                (op::REPLACE, StoreMode::Replace),
                (op::REPLACEQ, StoreMode::Replace),
            ][which];
            // A binary ADD with a CAS is a CAS store (memcached's rule): it decodes
            // as Set.
            let mode = if mode == StoreMode::Add && cas.is_some() {
                StoreMode::Set
            } else {
                mode
            };
            (
                o,
                Command::Store(Store {
                    mode,
                    key,
                    flags,
                    exptime,
                    data,
                    cas,
                    ..Store::default()
                }),
            )
        });
    let concat = (key(), bytes(0..=64), cas(), 0..4usize).prop_map(|(key, data, cas, which)| {
        let (o, mode) = [
            (op::APPEND, StoreMode::Append),
            (op::APPENDQ, StoreMode::Append),
            (op::PREPEND, StoreMode::Prepend),
            (op::PREPENDQ, StoreMode::Prepend),
        ][which];
        (
            o,
            Command::Store(Store {
                mode,
                key,
                data,
                cas,
                ..Store::default()
            }),
        )
    });
    let delete = (key(), cas(), any::<bool>()).prop_map(|(key, cas, quiet)| {
        let o = if quiet { op::DELETEQ } else { op::DELETE };
        (
            o,
            Command::Delete(Delete {
                key,
                cas,
                ..Delete::default()
            }),
        )
    });
    let vivify = prop_oneof![
        Just(None),
        (any::<u64>(), 0..u32::MAX).prop_map(|(initial, e)| Some(Vivify {
            initial,
            exptime: e.into()
        }))
    ];
    let arith = (
        key(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
        cas(),
        vivify,
    )
        .prop_map(|(key, incr, quiet, delta, cas, create)| {
            let o = match (incr, quiet) {
                (true, false) => op::INCREMENT,
                (true, true) => op::INCREMENTQ,
                (false, false) => op::DECREMENT,
                (false, true) => op::DECREMENTQ,
            };
            (
                o,
                Command::Arith(Arith {
                    key,
                    incr,
                    delta,
                    cas,
                    create,
                    ..Arith::default()
                }),
            )
        });
    let sasl = (bytes(1..=40), bytes(0..=40), any::<bool>()).prop_map(|(mechanism, data, step)| {
        let sasl = Sasl { mechanism, data };
        if step {
            (op::SASL_STEP, Command::SaslStep(sasl))
        } else {
            (op::SASL_AUTH, Command::SaslAuth(sasl))
        }
    });
    prop_oneof![
        get,
        gat,
        update,
        concat,
        delete,
        arith,
        sasl,
        (key(), exptime())
            .prop_map(|(key, exptime)| (op::TOUCH, Command::Touch(Touch { key, exptime }))),
        (exptime(), any::<bool>()).prop_map(|(delay, q)| (
            if q { op::FLUSHQ } else { op::FLUSH },
            Command::FlushAll(FlushAll { delay })
        )),
        prop_oneof![Just(None), key().prop_map(Some)].prop_map(|g| (op::STAT, Command::Stats(g))),
        Just((op::VERSION, Command::Version)),
        Just((op::NOOP, Command::Noop)),
        Just((op::QUIT, Command::Quit)),
        Just((op::QUITQ, Command::Quit)),
        Just((op::SASL_LIST_MECHS, Command::SaslListMechs)),
    ]
}

/// The request as the server decodes it: the form carries the packet's key.
pub(super) fn request() -> impl Strategy<Value = Request> {
    (command(), any::<u32>()).prop_map(|((opcode, command), opaque)| {
        let key = match &command {
            Command::Stats(group) => group.clone().unwrap_or_default(),
            Command::SaslAuth(s) | Command::SaslStep(s) => s.mechanism.clone(),
            other => other.key().cloned().unwrap_or_default(),
        };
        Request {
            command,
            form: Form::Binary(BinaryForm {
                opcode,
                opaque,
                key,
            }),
        }
    })
}

fn meta(cas: u64) -> ItemMeta {
    ItemMeta {
        cas,
        ..ItemMeta::default()
    }
}

/// A non-quiet opcode and a reply it may get, in the one shape the client reads back.
pub(super) fn reply() -> impl Strategy<Value = (BinaryForm, Response)> {
    let common = prop_oneof![
        Just(Response::TooLarge),
        Just(Response::OutOfMemory),
        Just(Response::ClientError("Invalid arguments".into())),
        Just(Response::AuthError),
        Just(Response::NonNumeric),
    ];
    let retrieval = prop::sample::select(vec![
        op::GET,
        op::GETK,
        op::GAT,
        op::GATK,
        op::GETQ,
        op::GETKQ,
        op::GATQ,
        op::GATKQ,
    ]);
    let hit = (retrieval, key(), bytes(0..=64), any::<u32>(), any::<u64>()).prop_map(
        |(o, key, data, flags, cas)| {
            let meta = ItemMeta {
                flags,
                cas,
                size: data.len() as u32,
                ..ItemMeta::default()
            };
            (
                o,
                key.clone(),
                Response::Values(vec![Value { key, data, meta }]),
            )
        },
    );
    let miss = (
        prop::sample::select(vec![op::GET, op::GETK, op::GAT, op::GATK]),
        key(),
    )
        .prop_map(|(o, k)| (o, k, Response::Values(vec![])));
    let stored = prop::sample::select(vec![op::SET, op::ADD, op::REPLACE, op::APPEND, op::PREPEND]);
    let store = (stored, any::<u64>(), 0..4usize).prop_map(|(o, cas, which)| {
        let r = match which {
            0 => Response::Stored(meta(cas)),
            1 => Response::NotStored,
            2 if o != op::ADD => Response::Exists,
            _ if o != op::REPLACE => Response::NotFound,
            _ => Response::Exists,
        };
        (o, Bytes::new(), r)
    });
    let counter = (
        prop::sample::select(vec![op::INCREMENT, op::DECREMENT]),
        any::<u64>(),
        any::<u64>(),
        0..4usize,
    )
        .prop_map(|(o, n, cas, which)| {
            let r = [
                Response::Number(n, meta(cas)),
                Response::NotFound,
                Response::Exists,
                Response::NotStored,
            ][which]
                .clone();
            (o, Bytes::new(), r)
        });
    let stat = proptest::collection::vec(("[a-z_]{1,30}", "[ -~]{0,30}"), 0..8)
        .prop_map(|pairs| (op::STAT, Bytes::new(), Response::Stats(pairs)));
    let simple = prop_oneof![
        Just((op::DELETE, Response::Deleted)),
        Just((op::DELETE, Response::NotFound)),
        Just((op::DELETE, Response::Exists)),
        any::<u32>().prop_map(|f| (
            op::TOUCH,
            Response::Touched(ItemMeta {
                flags: f,
                cas: 3,
                ..ItemMeta::default()
            })
        )),
        Just((op::TOUCH, Response::NotFound)),
        Just((op::FLUSH, Response::Ok)),
        Just((op::QUIT, Response::Ok)),
        Just((op::VERBOSITY, Response::Ok)),
        Just((op::NOOP, Response::Noop)),
        Just((op::NOOP, Response::Error)),
        Just((op::STAT, Response::NotFound)),
        bytes(0..=20).prop_map(|v| (op::VERSION, Response::Version(v))),
        bytes(0..=20).prop_map(|v| (op::SASL_LIST_MECHS, Response::SaslMechs(v))),
        Just((op::SASL_AUTH, Response::SaslOk)),
        Just((op::SASL_STEP, Response::AuthError)),
        (
            prop::sample::select(vec![op::GET, op::SET, op::DELETE, op::INCREMENT, op::FLUSH]),
            common
        )
            .prop_map(|(o, r)| (o, r)),
    ]
    .prop_map(|(o, r)| (o, Bytes::new(), r));
    (
        prop_oneof![hit, miss, store, counter, stat, simple],
        any::<u32>(),
    )
        .prop_map(|((opcode, key, response), opaque)| {
            (
                BinaryForm {
                    opcode,
                    opaque,
                    key,
                },
                response,
            )
        })
}

/// Failures the server may send to any opcode, in shapes the client reads back to
/// another variant (a SERVER_ERROR becomes "Out of memory", a text CLIENT_ERROR
/// "Invalid arguments"...).
pub(super) fn any_failure() -> impl Strategy<Value = Response> {
    prop_oneof![
        Just(Response::NotStored),
        Just(Response::Exists),
        Just(Response::NotFound),
        Just(Response::Error),
        Just(Response::TooLarge),
        Just(Response::AuthError),
        Just(Response::Debug(Some("exp=-1".into()))),
        Just(Response::ServerError("out of memory".into())),
        Just(Response::ServerError("object too large for cache".into())),
        Just(Response::ClientError("bad data chunk".into())),
    ]
}
