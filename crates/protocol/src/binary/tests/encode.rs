//! Server-side encoding: every reply, byte for byte as memcached 1.6.18 wrote it.

use bytes::BytesMut;

use super::{form, key, resp};
use crate::binary::opcode as op;
use crate::{ItemMeta, Limits, ProtocolError, Response, Value};

fn meta(flags: u32, cas: u64) -> ItemMeta {
    ItemMeta {
        flags,
        cas,
        ..ItemMeta::default()
    }
}

/// An error reply with opaque 9, as the table below uses.
fn text(opcode: u8, status: u16, body: &[u8]) -> Vec<u8> {
    resp(opcode, status, 9, 0, b"", b"", body)
}

#[rustfmt::skip]
#[test]
fn decode_errors_are_answered_as_memcached_does() {
    let cases: Vec<(ProtocolError, u8, Vec<u8>)> = vec![
        (ProtocolError::UnknownOpcode, op::GET, text(op::GET, 0x81, b"Unknown command")),
        (ProtocolError::KeyTooLong, op::GET, text(op::GET, 0x04, b"Invalid arguments")),
        (ProtocolError::BadBinaryHeader, op::SETQ, text(op::SETQ, 0x04, b"Invalid arguments")),
        (ProtocolError::TooLarge, op::SETQ, text(op::SETQ, 0x03, b"Too large.")),
    ];
    for (error, opcode, expect) in cases {
        let mut out = BytesMut::new();
        crate::binary::encode_response(&form(opcode, 9, b""), &error.to_response(), &mut out);
        assert_eq!(&out[..], &expect[..], "{error:?}");
    }
}

#[rustfmt::skip]
#[test]
fn encodes_replies_as_memcached() {
    let hit = Response::Values(vec![Value { key: key(b"k"), data: key(b"val"), meta: meta(5, 78) }]);
    let miss = Response::Values(vec![]);
    let f5 = 5u32.to_be_bytes();
    let ten = 10u64.to_be_bytes();
    let table: Vec<(u8, Response, Vec<u8>)> = vec![
        (op::GET, hit.clone(), resp(op::GET, 0, 9, 78, &f5, b"", b"val")),
        (op::GETQ, hit.clone(), resp(op::GETQ, 0, 9, 78, &f5, b"", b"val")),
        (op::GETK, hit.clone(), resp(op::GETK, 0, 9, 78, &f5, b"k", b"val")),
        (op::GETKQ, hit.clone(), resp(op::GETKQ, 0, 9, 78, &f5, b"k", b"val")),
        (op::GAT, hit.clone(), resp(op::GAT, 0, 9, 78, &f5, b"", b"val")),
        (op::GATKQ, hit.clone(), resp(op::GATKQ, 0, 9, 78, &f5, b"k", b"val")),
        (op::GET, miss.clone(), text(op::GET, 1, b"Not found")),
        (op::GET, Response::NotFound, text(op::GET, 1, b"Not found")),
        (op::GETK, miss.clone(), resp(op::GETK, 1, 9, 0, b"", b"k", b"")),
        (op::GATK, miss.clone(), resp(op::GATK, 1, 9, 0, b"", b"k", b"")),
        (op::GAT, miss.clone(), text(op::GAT, 1, b"Not found")),
        (op::GETQ, miss.clone(), vec![]),
        (op::GETKQ, miss.clone(), vec![]),
        (op::GATQ, miss.clone(), vec![]),
        (op::GATKQ, Response::NotFound, vec![]),
        (op::TOUCH, Response::Touched(meta(7, 99)), resp(op::TOUCH, 0, 9, 99, &7u32.to_be_bytes(), b"", b"")),
        (op::TOUCH, Response::NotFound, text(op::TOUCH, 1, b"Not found")),
        (op::SET, Response::Stored(meta(0, 81)), resp(op::SET, 0, 9, 81, b"", b"", b"")),
        (op::SETQ, Response::Stored(meta(0, 81)), vec![]),
        (op::APPENDQ, Response::Stored(meta(0, 81)), vec![]),
        (op::ADD, Response::NotStored, text(op::ADD, 2, b"Data exists for key.")),
        (op::ADDQ, Response::NotStored, text(op::ADDQ, 2, b"Data exists for key.")),
        (op::REPLACE, Response::NotStored, text(op::REPLACE, 1, b"Not found")),
        (op::REPLACEQ, Response::NotStored, text(op::REPLACEQ, 1, b"Not found")),
        (op::APPEND, Response::NotStored, text(op::APPEND, 5, b"Not stored.")),
        (op::PREPENDQ, Response::NotStored, text(op::PREPENDQ, 5, b"Not stored.")),
        (op::SET, Response::NotStored, text(op::SET, 5, b"Not stored.")),
        (op::INCREMENT, Response::NotStored, text(op::INCREMENT, 5, b"Not stored.")),
        (op::SET, Response::Exists, text(op::SET, 2, b"Data exists for key.")),
        (op::SET, Response::NotFound, text(op::SET, 1, b"Not found")),
        (op::DELETE, Response::Deleted, resp(op::DELETE, 0, 9, 0, b"", b"", b"")),
        (op::DELETEQ, Response::Deleted, vec![]),
        (op::DELETEQ, Response::NotFound, text(op::DELETEQ, 1, b"Not found")),
        (op::DELETE, Response::Exists, text(op::DELETE, 2, b"Data exists for key.")),
        (op::INCREMENT, Response::Number(10, meta(0, 91)), resp(op::INCREMENT, 0, 9, 91, b"", b"", &ten)),
        (op::DECREMENTQ, Response::Number(0, meta(0, 91)), vec![]),
        (op::INCREMENT, Response::NonNumeric, text(op::INCREMENT, 6, b"Non-numeric server-side value for incr or decr")),
        (op::INCREMENTQ, Response::NotFound, text(op::INCREMENTQ, 1, b"Not found")),
        (op::FLUSH, Response::Ok, resp(op::FLUSH, 0, 9, 0, b"", b"", b"")),
        (op::FLUSHQ, Response::Ok, vec![]),
        (op::QUIT, Response::Ok, resp(op::QUIT, 0, 9, 0, b"", b"", b"")),
        (op::QUITQ, Response::Ok, vec![]),
        (op::NOOP, Response::Noop, resp(op::NOOP, 0, 9, 0, b"", b"", b"")),
        (op::VERSION, Response::Version(key(b"1.6.18")), resp(op::VERSION, 0, 9, 0, b"", b"", b"1.6.18")),
        (op::STAT, Response::Error, text(op::STAT, 1, b"Not found")),
        (op::SASL_LIST_MECHS, Response::Error, text(op::SASL_LIST_MECHS, 0x81, b"Unknown command")),
        (op::SASL_LIST_MECHS, Response::SaslMechs(key(b"PLAIN")), resp(op::SASL_LIST_MECHS, 0, 9, 0, b"", b"", b"PLAIN")),
        (op::SASL_AUTH, Response::SaslOk, resp(op::SASL_AUTH, 0, 9, 0, b"", b"", b"Authenticated")),
        (op::SASL_AUTH, Response::AuthError, text(op::SASL_AUTH, 0x20, b"Auth failure.")),
        (op::SET, Response::TooLarge, text(op::SET, 3, b"Too large.")),
        (op::SETQ, Response::OutOfMemory, text(op::SETQ, 0x82, b"Out of memory")),
        (op::SET, Response::ServerError("out of memory storing object".into()), text(op::SET, 0x82, b"Out of memory")),
        (op::SET, Response::ServerError("object too large for cache".into()), text(op::SET, 3, b"Too large.")),
        (op::GET, Response::ClientError("bad command line format".into()), text(op::GET, 4, b"Invalid arguments")),
        (op::NOOP, Response::Error, text(op::NOOP, 0x81, b"Unknown command")),
        (op::NOOP, Response::Debug(None), text(op::NOOP, 0x81, b"Unknown command")),
    ];
    for (opcode, response, expect) in table {
        let mut out = BytesMut::new();
        crate::binary::encode_response(&form(opcode, 9, b"k"), &response, &mut out);
        assert_eq!(&out[..], &expect[..], "{opcode:#x} {response:?}");
    }
}

#[test]
fn stats_are_one_packet_each_then_an_empty_one() {
    let pairs = vec![
        ("pid".into(), "5695".into()),
        ("uptime".into(), "74".into()),
    ];
    let stats = Response::Stats(pairs);
    let stat = form(op::STAT, 3, b"");
    let mut out = BytesMut::new();
    crate::binary::encode_response(&stat, &stats, &mut out);
    let expect = [
        resp(op::STAT, 0, 3, 0, b"", b"pid", b"5695"),
        resp(op::STAT, 0, 3, 0, b"", b"uptime", b"74"),
        resp(op::STAT, 0, 3, 0, b"", b"", b""),
    ]
    .concat();
    assert_eq!(&out[..], &expect[..]);
    let limits = Limits::default();
    for n in 0..out.len() {
        let mut prefix = BytesMut::from(&out[..n]);
        let decoded = crate::binary::decode_response(&stat, &mut prefix, &limits);
        assert_eq!((decoded, prefix.len()), (Ok(None), n));
    }
    let decoded = crate::binary::decode_response(&stat, &mut out, &limits);
    assert_eq!(decoded, Ok(Some(stats)));
    assert!(out.is_empty());
}
