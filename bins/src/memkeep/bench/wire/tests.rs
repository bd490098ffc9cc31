use bytes::{Bytes, BytesMut};
use memkeep_protocol::{
    encode_request, encode_response, Command, Get, ItemMeta, Request, Store, Value,
};

use super::*;

const PROTOCOLS: [Protocol; 3] = [Protocol::Text, Protocol::Meta, Protocol::Binary];

fn request(protocol: Protocol, expect: Expect, command: Command) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_request(
        &Request {
            command,
            form: form(protocol, expect),
        },
        &mut out,
    );
    out.to_vec()
}

#[test]
fn gets_are_what_the_protocol_crate_writes() {
    let keys: [&[u8]; 3] = [b"alpha", b"k0001", b"z"];
    for protocol in PROTOCOLS {
        let mut ours = Vec::new();
        let replies = push_get(protocol, keys.iter().copied(), &mut ours);
        let expected = match protocol {
            Protocol::Text => request(
                protocol,
                Expect::Get,
                Command::Get(Get {
                    keys: keys.iter().map(|k| Bytes::copy_from_slice(k)).collect(),
                    ..Get::default()
                }),
            ),
            // The protocol crate writes one key per meta/binary request.
            _ => keys
                .iter()
                .flat_map(|k| {
                    let mut form = form(protocol, Expect::Get);
                    if let Form::Binary(f) = &mut form {
                        f.key = Bytes::copy_from_slice(k);
                    }
                    let mut out = BytesMut::new();
                    let command = Command::Get(Get {
                        keys: vec![Bytes::copy_from_slice(k)],
                        ..Get::default()
                    });
                    encode_request(&Request { command, form }, &mut out);
                    out.to_vec()
                })
                .collect(),
        };
        assert_eq!(ours, expected, "{protocol:?}");
        assert_eq!(replies, if protocol == Protocol::Text { 1 } else { 3 });
    }
}

#[test]
fn sets_are_what_the_protocol_crate_writes() {
    for protocol in PROTOCOLS {
        let mut ours = Vec::new();
        push_set(protocol, b"key:1", b"some value", &mut ours);
        let expected = request(
            protocol,
            Expect::Set,
            Command::Store(Store {
                key: Bytes::from_static(b"key:1"),
                data: Bytes::from_static(b"some value"),
                ..Store::default()
            }),
        );
        assert_eq!(ours, expected, "{protocol:?}");
    }
}

fn reply(protocol: Protocol, expect: Expect, response: &Response) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_response(&form(protocol, expect), response, &mut out);
    out.to_vec()
}

fn hit(key: &'static [u8], data: &'static [u8]) -> Value {
    Value {
        key: Bytes::from_static(key),
        data: Bytes::from_static(data),
        meta: ItemMeta {
            size: data.len() as u32,
            ..ItemMeta::default()
        },
    }
}

/// Reads every item from the stream with both decoders, checking that each strict
/// prefix of a piece needs more bytes.
fn items(protocol: Protocol, expect: Expect, stream: &[u8]) -> Vec<Item> {
    let mut results = Vec::new();
    for decoder in [ReplyDecoder::Lean, ReplyDecoder::Full] {
        let mut got = Vec::new();
        let mut buf = BytesMut::from(stream);
        while !buf.is_empty() {
            for cut in 0..buf.len() {
                let mut prefix = BytesMut::from(&buf[..cut]);
                match next_item(protocol, decoder, expect, &mut prefix) {
                    Ok(None) => {}
                    // A text VALUE item completes before the frame's END.
                    Ok(Some(Item::Value)) if decoder == ReplyDecoder::Lean => break,
                    other => panic!("{protocol:?} {decoder:?} prefix {cut}: {other:?}"),
                }
            }
            let item = next_item(protocol, decoder, expect, &mut buf)
                .unwrap()
                .unwrap();
            got.push(item);
        }
        results.push(got);
    }
    results.concat()
}

#[test]
fn hits_misses_stores_and_errors_are_counted_by_both_decoders() {
    let value = Response::Values(vec![hit(b"a", b"hello\r\nworld")]);
    let miss = Response::Values(Vec::new());
    let stored = Response::Stored(ItemMeta::default());
    let error = Response::ServerError("out of memory storing object".into());
    for protocol in PROTOCOLS {
        let hits = items(protocol, Expect::Get, &reply(protocol, Expect::Get, &value));
        let expected_hit = match protocol {
            Protocol::Text => vec![Item::Value, DONE, HIT],
            _ => vec![HIT, HIT],
        };
        assert_eq!(hits, expected_hit, "{protocol:?} hit");
        let misses = items(protocol, Expect::Get, &reply(protocol, Expect::Get, &miss));
        assert_eq!(misses, vec![DONE, DONE], "{protocol:?} miss");
        let stores = items(
            protocol,
            Expect::Set,
            &reply(protocol, Expect::Set, &stored),
        );
        assert_eq!(stores, vec![DONE, DONE], "{protocol:?} stored");
        let errors = items(protocol, Expect::Set, &reply(protocol, Expect::Set, &error));
        assert_eq!(errors, vec![ERROR, ERROR], "{protocol:?} error");
    }
}

#[test]
fn a_text_multi_get_is_values_then_end() {
    let values = Response::Values(vec![hit(b"a", b"1"), hit(b"b", b"22")]);
    let stream = reply(Protocol::Text, Expect::Get, &values);
    let mut buf = BytesMut::from(&stream[..]);
    let mut lean = Vec::new();
    while let Some(item) =
        next_item(Protocol::Text, ReplyDecoder::Lean, Expect::Get, &mut buf).unwrap()
    {
        lean.push(item);
    }
    assert_eq!(lean, vec![Item::Value, Item::Value, DONE]);
    let mut buf = BytesMut::from(&stream[..]);
    let full = next_item(Protocol::Text, ReplyDecoder::Full, Expect::Get, &mut buf);
    assert_eq!(
        full,
        Ok(Some(Item::Done {
            hits: 2,
            error: false
        }))
    );
}

#[test]
fn garbage_is_refused() {
    for decoder in [ReplyDecoder::Lean, ReplyDecoder::Full] {
        let mut buf = BytesMut::from(&b"WHAT\r\n"[..]);
        assert!(next_item(Protocol::Meta, decoder, Expect::Get, &mut buf).is_err());
        let mut buf = BytesMut::from(&[0x42u8; 24][..]);
        assert!(next_item(Protocol::Binary, decoder, Expect::Get, &mut buf).is_err());
    }
}
