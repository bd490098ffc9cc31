//! Round trips and framing properties: client encode -> server decode, server encode
//! -> client decode, strict prefixes need more, pipelines split anywhere decode the same.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::subsequence;

use super::base64_key;
use crate::{
    Arith, Command, Decoder, Delete, Form, Get, ItemMeta, Limits, MetaForm, MetaVerb, Request,
    Response, ReturnFlags, Store, StoreMode, Value, Vivify,
};

fn ttl() -> impl Strategy<Value = i64> {
    any::<i32>().prop_map(i64::from)
}

/// A raw key and whether it travels in base64.
fn key() -> impl Strategy<Value = (Bytes, bool)> {
    prop_oneof![
        vec(b'!'..=b'~', 1..=250).prop_map(|k| (Bytes::from(k), false)),
        vec(any::<u8>(), 1..=180).prop_map(|k| (Bytes::from(k), true)),
    ]
}

/// Reply letters in any order, with an opaque token when `O` is among them.
fn returns(letters: &'static [u8]) -> impl Strategy<Value = (Vec<u8>, Option<Bytes>)> {
    (
        subsequence(letters, 0..=letters.len()).prop_shuffle(),
        "[a-zA-Z0-9]{0,31}",
    )
        .prop_map(|(l, o)| {
            let opaque = l.contains(&b'O').then(|| Bytes::from(o));
            (l, opaque)
        })
}

fn form(
    verb: MetaVerb,
    key: &(Bytes, bool),
    mut letters: Vec<u8>,
    opaque: Option<Bytes>,
) -> MetaForm {
    if key.1 {
        letters.insert(0, b'b');
    }
    let wire = if key.1 {
        base64_key::encode(&key.0)
    } else {
        key.0.clone()
    };
    MetaForm {
        verb,
        key: wire,
        returns: ReturnFlags::from_letters(&letters).unwrap(),
        opaque,
    }
}

fn store_mode() -> impl Strategy<Value = StoreMode> {
    prop_oneof![
        Just(StoreMode::Set),
        Just(StoreMode::Add),
        Just(StoreMode::Replace),
        Just(StoreMode::Append),
        Just(StoreMode::Prepend),
    ]
}

/// Every request the meta dialect can carry, with the form it decodes to.
fn request() -> impl Strategy<Value = Request> {
    let get = (
        key(),
        returns(b"cfhklOqstv"),
        option::of(ttl()),
        option::of(ttl()),
        option::of(ttl()),
        any::<bool>(),
    )
        .prop_map(|(k, (l, o), touch, vivify, recache, no_bump)| Request {
            form: Form::Meta(form(MetaVerb::Get, &k, l, o)),
            command: Command::Get(Get {
                keys: vec![k.0],
                touch,
                vivify,
                recache,
                no_bump,
                want_ttl: false,
            }),
        });
    let store = (
        key(),
        returns(b"ckOqv"),
        (store_mode(), any::<u32>(), ttl(), vec(any::<u8>(), 0..64)),
        (option::of(any::<u64>()), any::<bool>(), option::of(ttl())),
    )
        .prop_map(
            |(k, (l, o), (mode, flags, exptime, data), (cas, invalidate, vivify))| Request {
                form: Form::Meta(form(MetaVerb::Set, &k, l, o)),
                command: Command::Store(Store {
                    mode,
                    key: k.0,
                    flags,
                    exptime,
                    data: data.into(),
                    cas,
                    new_cas: None,
                    invalidate,
                    vivify,
                }),
            },
        );
    let delete = (
        key(),
        returns(b"kOq"),
        option::of(any::<u64>()),
        any::<bool>(),
        option::of(ttl()),
    )
        .prop_map(|(k, (l, o), cas, invalidate, ttl)| Request {
            form: Form::Meta(form(MetaVerb::Delete, &k, l, o)),
            command: Command::Delete(Delete {
                key: k.0,
                cas,
                invalidate,
                ttl,
                new_cas: None,
            }),
        });
    let arith = (
        key(),
        returns(b"ctkOqv"),
        (any::<bool>(), any::<u64>(), option::of(any::<u64>())),
        (option::of((any::<u64>(), ttl())), option::of(ttl())),
    )
        .prop_map(|(k, (l, o), (incr, delta, cas), (create, touch))| Request {
            form: Form::Meta(form(MetaVerb::Arith, &k, l, o)),
            command: Command::Arith(Arith {
                key: k.0,
                incr,
                delta,
                cas,
                create: create.map(|(initial, exptime)| Vivify { initial, exptime }),
                touch,
                new_cas: None,
            }),
        });
    let debug = key().prop_map(|k| Request {
        form: Form::Meta(form(MetaVerb::Debug, &k, vec![], None)),
        command: Command::Debug(k.0),
    });
    let noop = Just(Request {
        form: Form::Meta(MetaForm {
            verb: MetaVerb::Noop,
            ..MetaForm::default()
        }),
        command: Command::Noop,
    });
    prop_oneof![get, store, delete, arith, debug, noop]
}

fn encode(request: &Request) -> BytesMut {
    let mut out = BytesMut::new();
    crate::encode_request(request, &mut out);
    out
}

fn item_meta() -> impl Strategy<Value = ItemMeta> {
    (
        any::<(u32, u64, u32, u32)>(),
        -1i64..=i64::from(i32::MAX),
        any::<[bool; 4]>(),
    )
        .prop_map(
            |((flags, cas, size, last_access), ttl, [fetched, win, stale, won])| ItemMeta {
                flags,
                cas,
                ttl,
                size,
                last_access,
                fetched,
                win,
                stale,
                won,
            },
        )
}

/// A reply and the form of the request it answers, built so that every field the
/// reply holds is one the form asks memcached to return.
fn reply() -> impl Strategy<Value = (MetaForm, Response)> {
    let text = "[ -~]{0,40}";
    let hit = (
        key(),
        returns(b"O"),
        item_meta(),
        any::<bool>(),
        vec(any::<u8>(), 0..64),
    )
        .prop_map(|(k, (mut l, o), meta, with_value, data)| {
            l.extend_from_slice(b"cfhlstk");
            if with_value {
                l.push(b'v');
            }
            let data = if with_value {
                Bytes::from(data)
            } else {
                Bytes::new()
            };
            let response = Response::Values(vec![Value {
                key: k.0.clone(),
                data,
                meta,
            }]);
            (form(MetaVerb::Get, &k, l, o), response)
        });
    let miss = (key(), returns(b"kOv"))
        .prop_map(|(k, (l, o))| (form(MetaVerb::Get, &k, l, o), Response::Values(vec![])));
    let set =
        (key(), returns(b"kO"), any::<u64>(), 0u8..4).prop_map(|(k, (mut l, o), cas, which)| {
            l.push(b'c');
            let response = match which {
                0 => Response::Stored(ItemMeta {
                    cas,
                    ..ItemMeta::default()
                }),
                1 => Response::NotStored,
                2 => Response::Exists,
                _ => Response::NotFound,
            };
            (form(MetaVerb::Set, &k, l, o), response)
        });
    let delete = (key(), returns(b"kO"), 0usize..3).prop_map(|(k, (l, o), which)| {
        let response = [Response::Deleted, Response::NotFound, Response::Exists][which].clone();
        (form(MetaVerb::Delete, &k, l, o), response)
    });
    let arith = (
        key(),
        returns(b"ctkO"),
        any::<u64>(),
        any::<u64>(),
        -1i64..1000,
    )
        .prop_map(|(k, (mut l, o), n, cas, ttl)| {
            l.push(b'v');
            for letter in [b'c', b't'] {
                if !l.contains(&letter) {
                    l.push(letter);
                }
            }
            let size = itoa::Buffer::new().format(n).len() as u32;
            let meta = ItemMeta {
                cas,
                ttl,
                size,
                ..ItemMeta::default()
            };
            (form(MetaVerb::Arith, &k, l, o), Response::Number(n, meta))
        });
    let debug = (key(), option::of("[!-~][ -~]{0,40}")).prop_map(|(k, facts)| {
        (
            form(MetaVerb::Debug, &k, vec![], None),
            Response::Debug(facts),
        )
    });
    let other = (key(), text, 0u8..6).prop_map(|(k, message, which)| {
        let response = match which {
            0 => Response::Noop,
            1 => Response::TooLarge,
            2 => Response::OutOfMemory,
            3 => Response::NonNumeric,
            4 => Response::ClientError(format!("bad {message}").into()),
            _ => Response::ServerError(format!("failed {message}").into()),
        };
        (form(MetaVerb::Get, &k, vec![], None), response)
    });
    prop_oneof![hit, miss, set, delete, arith, debug, other]
}

proptest! {
    #[test]
    fn client_encode_then_server_decode(request in request()) {
        let mut buf = encode(&request);
        let decoded = Decoder::default().decode(&mut buf).unwrap().unwrap();
        prop_assert_eq!(decoded, request);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn strict_prefixes_need_more(request in request()) {
        let frame = encode(&request);
        for n in 0..frame.len() {
            let mut buf = BytesMut::from(&frame[..n]);
            prop_assert_eq!(Decoder::default().decode(&mut buf), Ok(None));
            prop_assert_eq!(buf.len(), n);
        }
    }

    #[test]
    fn pipelines_split_anywhere(requests in vec(request(), 1..6), cuts in vec(any::<usize>(), 0..8)) {
        let mut stream = BytesMut::new();
        for request in &requests {
            stream.extend_from_slice(&encode(request));
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut decoder = Decoder::default();
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut at = 0;
        for cut in cuts {
            buf.extend_from_slice(&stream[at..cut]);
            at = cut;
            while let Some(request) = decoder.decode(&mut buf).unwrap() {
                decoded.push(request);
            }
        }
        prop_assert_eq!(decoded, requests);
    }

    #[test]
    fn server_encode_then_client_decode((form, response) in reply()) {
        let mut out = BytesMut::new();
        super::encode_response(&form, &response, &mut out);
        let frame = out.clone();
        let decoded = super::decode_response(&form, &mut out, &Limits::default()).unwrap();
        prop_assert_eq!(decoded, Some(response));
        prop_assert!(out.is_empty());
        for n in 0..frame.len() {
            let mut buf = BytesMut::from(&frame[..n]);
            prop_assert_eq!(super::decode_response(&form, &mut buf, &Limits::default()), Ok(None));
            prop_assert_eq!(buf.len(), n);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..300)) {
        let mut buf = BytesMut::from(&b"mg "[..]);
        buf.extend_from_slice(&input);
        for _ in 0..8 {
            let mut swallow = 0;
            match super::decode_request(&mut buf, &Limits::default(), &mut swallow) {
                Ok(None) => break,
                Ok(Some(request)) => {
                    let key = request.command.key().cloned().unwrap_or_default();
                    prop_assert!(key.len() <= 250);
                }
                Err(_) => {
                    let _ = buf.split_to(swallow.min(buf.len()));
                }
            }
        }
        let form = MetaForm { returns: ReturnFlags::from_letters(b"bkv").unwrap(), ..MetaForm::default() };
        let _ = super::decode_response(&form, &mut BytesMut::from(&input[..]), &Limits::default());
    }
}
