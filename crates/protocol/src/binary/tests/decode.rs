//! Server-side decoding: every opcode, and every malformed request answered and
//! closed (or not) as memcached 1.6.18 does.

use bytes::{Bytes, BytesMut};

use super::{arith, decode, exp, key, raw_header, req};
use crate::binary::opcode as op;
use crate::{
    Arith, Command, Delete, FlushAll, Form, Get, Limits, ProtocolError, Request, Sasl, Store,
    StoreMode, Touch, Vivify,
};

fn get(touch: Option<i64>) -> Command {
    Command::Get(Get {
        keys: vec![key(b"k")],
        touch,
        ..Get::default()
    })
}

fn store(mode: StoreMode, flags: u32, exptime: i64, cas: Option<u64>) -> Command {
    let data = key(b"val");
    Command::Store(Store {
        mode,
        key: key(b"k"),
        flags,
        exptime,
        data,
        cas,
        ..Store::default()
    })
}

fn counter(incr: bool, create: Option<Vivify>) -> Command {
    Command::Arith(Arith {
        key: key(b"k"),
        incr,
        delta: 5,
        create,
        ..Arith::default()
    })
}

#[rustfmt::skip]
#[test]
fn decodes_every_opcode() {
    let sasl = Sasl { mechanism: key(b"PLAIN"), data: key(b"\0u\0p") };
    let t = 100u32.to_be_bytes();
    let viv = |initial, exptime| Some(Vivify { initial, exptime });
    let table: Vec<(Vec<u8>, Command)> = vec![
        (req(op::GET, b"", b"k", b"", 1, 0), get(None)),
        (req(op::GETQ, b"", b"k", b"", 1, 0), get(None)),
        (req(op::GETK, b"", b"k", b"", 1, 0), get(None)),
        (req(op::GETKQ, b"", b"k", b"", 1, 0), get(None)),
        (req(op::GAT, &t, b"k", b"", 1, 0), get(Some(100))),
        (req(op::GATQ, &t, b"k", b"", 1, 0), get(Some(100))),
        (req(op::GATK, &t, b"k", b"", 1, 0), get(Some(100))),
        (req(op::GATKQ, &t, b"k", b"", 1, 0), get(Some(100))),
        (req(op::TOUCH, &t, b"k", b"", 1, 0), Command::Touch(Touch { key: key(b"k"), exptime: 100 })),
        (req(op::SET, &exp(5, 0), b"k", b"val", 1, 0), store(StoreMode::Set, 5, 0, None)),
        (req(op::SETQ, &exp(5, 9), b"k", b"val", 1, 0), store(StoreMode::Set, 5, 9, None)),
        (req(op::ADD, &exp(0, 0), b"k", b"val", 1, 0), store(StoreMode::Add, 0, 0, None)),
        (req(op::ADDQ, &exp(0, 0), b"k", b"val", 1, 0), store(StoreMode::Add, 0, 0, None)),
        (req(op::REPLACE, &exp(0, 0), b"k", b"val", 1, 7), store(StoreMode::Replace, 0, 0, Some(7))),
        (req(op::REPLACEQ, &exp(0, u32::MAX), b"k", b"val", 1, 0), store(StoreMode::Replace, 0, u32::MAX.into(), None)),
        (req(op::APPEND, b"", b"k", b"val", 1, 0), store(StoreMode::Append, 0, 0, None)),
        (req(op::APPENDQ, b"", b"k", b"val", 1, 3), store(StoreMode::Append, 0, 0, Some(3))),
        (req(op::PREPEND, b"", b"k", b"val", 1, 0), store(StoreMode::Prepend, 0, 0, None)),
        (req(op::PREPENDQ, b"", b"k", b"val", 1, 0), store(StoreMode::Prepend, 0, 0, None)),
        (req(op::DELETE, b"", b"k", b"", 1, 0), Command::Delete(Delete { key: key(b"k"), ..Delete::default() })),
        (req(op::DELETEQ, b"", b"k", b"", 1, 9), Command::Delete(Delete { key: key(b"k"), cas: Some(9), ..Delete::default() })),
        (req(op::INCREMENT, &arith(5, 10, 0), b"k", b"", 1, 0), counter(true, viv(10, 0))),
        (req(op::INCREMENTQ, &arith(5, 0, u32::MAX), b"k", b"", 1, 0), counter(true, None)),
        (req(op::DECREMENT, &arith(5, 1, 60), b"k", b"", 1, 0), counter(false, viv(1, 60))),
        (req(op::DECREMENTQ, &arith(5, 0, u32::MAX), b"k", b"", 1, 0), counter(false, None)),
        (req(op::QUIT, b"", b"", b"", 1, 0), Command::Quit),
        (req(op::QUITQ, b"", b"", b"", 1, 0), Command::Quit),
        (req(op::FLUSH, b"", b"", b"", 1, 0), Command::FlushAll(FlushAll { delay: 0 })),
        (req(op::FLUSHQ, &t, b"", b"", 1, 0), Command::FlushAll(FlushAll { delay: 100 })),
        (req(op::NOOP, b"", b"", b"", 1, 0), Command::Noop),
        (req(op::VERSION, b"", b"", b"", 1, 0), Command::Version),
        (req(op::STAT, b"", b"", b"", 1, 0), Command::Stats(None)),
        (req(op::STAT, b"", b"settings", b"", 1, 0), Command::Stats(Some(key(b"settings")))),
        (req(op::SASL_LIST_MECHS, b"", b"", b"", 1, 0), Command::SaslListMechs),
        (req(op::SASL_AUTH, b"", b"PLAIN", b"\0u\0p", 1, 0), Command::SaslAuth(sasl.clone())),
        (req(op::SASL_STEP, b"", b"PLAIN", b"\0u\0p", 1, 0), Command::SaslStep(sasl)),
    ];
    for (bytes, command) in table {
        let (result, consumed, swallow) = decode(&bytes);
        let request = result.unwrap_or_else(|e| panic!("{bytes:?}: {e:?}")).expect("complete");
        let Form::Binary(form) = &request.form else { panic!("not binary") };
        assert_eq!((form.opcode, form.opaque), (bytes[1], 1));
        let key_len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        let key_at = 24 + usize::from(bytes[4]);
        assert_eq!(&form.key[..], &bytes[key_at..key_at + key_len]);
        assert_eq!(request.command, command, "{bytes:?}");
        assert_eq!((consumed, swallow), (bytes.len(), 0));
    }
}

#[test]
fn values_and_keys_are_slices_of_the_buffer() {
    let bytes = req(op::SET, &exp(0, 0), b"key", b"value", 0, 0);
    let mut buf = BytesMut::from(&bytes[..]);
    let start = buf.as_ptr() as usize;
    let request = crate::binary::decode_request(&mut buf, &Limits::default(), &mut 0);
    let Ok(Some(Request {
        command: Command::Store(store),
        ..
    })) = request
    else {
        panic!()
    };
    assert_eq!(store.key.as_ptr() as usize, start + 32);
    assert_eq!(store.data.as_ptr() as usize, start + 35);
}

/// memcached's reply for each malformed request, and whether it closes: verified
/// against memcached 1.6.18 (where it would misframe instead, we close).
#[rustfmt::skip]
#[test]
fn rejects_as_memcached_does() {
    use ProtocolError::*;
    let big = 2 * 1024 * 1024u32;
    let sasl_big = [raw_header(op::SASL_AUTH, 1, 0, 1 + big), vec![0; 1]].concat();
    // (name, bytes, error, close, consumed, swallow)
    type Row = (&'static str, Vec<u8>, ProtocolError, bool, usize, usize);
    let table: Vec<Row> = vec![
        ("key+extras > body", raw_header(op::GET, 3, 0, 2), UnknownOpcode, true, 24, 0),
        ("key too long", req(op::GET, b"", &[b'a'; 251], b"", 0, 0), KeyTooLong, true, 24, 0),
        ("get with extras", req(op::GET, b"1234", b"a", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("get with a value", req(op::GET, b"", b"a", b"x", 0, 0), BadBinaryHeader, true, 24, 0),
        ("get without key", req(op::GET, b"", b"", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("getq without key", req(op::GETQ, b"", b"", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("set without extras", req(op::SET, b"", b"k", b"v", 0, 0), BadBinaryHeader, true, 24, 0),
        ("set without key", req(op::SET, &exp(0, 0), b"", b"v", 0, 0), BadBinaryHeader, true, 24, 0),
        ("append with extras", req(op::APPEND, &exp(0, 0), b"k", b"v", 0, 0), BadBinaryHeader, true, 24, 0),
        ("delete with extras", req(op::DELETE, b"1234", b"k", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("incr with 16 extras", req(op::INCREMENT, &[0; 16], b"c", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("incr with a value", req(op::INCREMENT, &arith(1, 1, 0), b"c", b"x", 0, 0), BadBinaryHeader, true, 24, 0),
        ("flush with 2 extras", req(op::FLUSH, b"12", b"", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("flush with a key", req(op::FLUSH, b"", b"k", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("noop with a body", req(op::NOOP, b"", b"", b"x", 0, 0), BadBinaryHeader, true, 24, 0),
        ("version with a key", req(op::VERSION, b"", b"k", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("quit with a body", req(op::QUIT, b"", b"", b"x", 0, 0), BadBinaryHeader, true, 24, 0),
        ("stat with extras", req(op::STAT, b"1234", b"", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("stat with a value", req(op::STAT, b"", b"", b"xx", 0, 0), BadBinaryHeader, true, 24, 0),
        ("touch without extras", req(op::TOUCH, b"", b"k", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("touch with a value", req(op::TOUCH, &[0; 4], b"k", b"zz", 0, 0), BadBinaryHeader, true, 24, 0),
        ("gat without key", req(op::GAT, &[0; 4], b"", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("sasl list with a key", req(op::SASL_LIST_MECHS, b"", b"k", b"", 0, 0), BadBinaryHeader, true, 24, 0),
        ("sasl auth without key", req(op::SASL_AUTH, b"", b"", b"x", 0, 0), BadBinaryHeader, true, 24, 0),
        ("unknown opcode", req(0x30, b"", b"", b"abc", 0, 0), UnknownOpcode, false, 27, 0),
        ("unknown, body not here yet", raw_header(0x30, 0, 0, 10), UnknownOpcode, false, 24, 10),
        ("unknown with a key", req(0x30, b"", b"kk", b"abc", 0, 0), UnknownOpcode, true, 24, 0),
        ("verbosity", req(op::VERBOSITY, &[0; 4], b"", b"", 0, 0), UnknownOpcode, true, 24, 0),
        ("verbosity without extras", req(op::VERBOSITY, b"", b"", b"", 0, 0), UnknownOpcode, false, 24, 0),
        ("sasl too large", sasl_big, UnknownOpcode, false, 25, big as usize),
    ];
    for (name, bytes, error, close, consumed, swallow) in table {
        let (result, got_consumed, got_swallow) = decode(&bytes);
        let err = result.expect_err(name);
        assert_eq!((err.error, err.close), (error, close), "{name}");
        assert_eq!((got_consumed, got_swallow), (consumed, swallow), "{name}");
        let Form::Binary(form) = &err.form else { panic!("{name}") };
        assert_eq!((form.opcode, &form.key), (bytes[1], &Bytes::new()), "{name}");
    }
}

#[test]
fn a_store_too_large_is_a_request_whose_value_is_swallowed() {
    let big = 2 * 1024 * 1024u32;
    let set_big = [
        raw_header(op::SETQ, 1, 8, 9 + big),
        exp(0, 0).to_vec(),
        b"k".to_vec(),
    ]
    .concat();
    let append_big = [raw_header(op::APPEND, 1, 0, 1 + big), b"kabcd".to_vec()].concat();
    for (bytes, mode, consumed, swallow) in [
        (set_big, StoreMode::Set, 33, big as usize),
        (append_big, StoreMode::Append, 29, big as usize - 4),
    ] {
        let (result, got_consumed, got_swallow) = decode(&bytes);
        let request = result.unwrap().unwrap();
        assert_eq!(
            request.command,
            Command::TooLarge(crate::TooLarge {
                mode,
                key: Bytes::from_static(b"k"),
                cas: None,
            })
        );
        let Form::Binary(form) = &request.form else {
            panic!("binary form")
        };
        assert_eq!((form.opcode, &form.key[..]), (bytes[1], &b"k"[..]));
        assert_eq!((got_consumed, got_swallow), (consumed, swallow));
    }
}

#[test]
fn waits_for_key_and_extras_before_swallowing() {
    let bytes = raw_header(op::SET, 1, 8, 9 + 2 * 1024 * 1024);
    assert!(matches!(decode(&bytes), (Ok(None), 0, 0)));
}

#[test]
fn decoder_swallows_then_decodes_the_next_request() {
    let limits = Limits {
        max_value_len: 4,
        ..Limits::default()
    };
    let mut decoder = crate::Decoder::new(limits);
    let mut all = req(op::SET, &exp(0, 0), b"k", b"toolong", 1, 0);
    all.extend(req(op::NOOP, b"", b"", b"", 2, 0));
    let mut buf = BytesMut::from(&all[..8]);
    assert!(matches!(decoder.decode(&mut buf), Ok(None)));
    buf.extend_from_slice(&all[8..38]);
    let refused = decoder.decode(&mut buf).unwrap().unwrap();
    assert!(matches!(refused.command, Command::TooLarge(_)));
    buf.extend_from_slice(&all[38..]);
    let request = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(request.command, Command::Noop);
    assert!(buf.is_empty());
}
