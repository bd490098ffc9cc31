//! Client side: requests written for a binary backend, and its replies read back by
//! the opcode they answer.

use bytes::{Bytes, BytesMut};

use super::{form, req, resp};
use crate::binary::opcode as op;
use crate::{
    Arith, BinaryForm, Command, Delete, Form, Get, Limits, ProtocolError, Request, Response, Touch,
    Vivify,
};

fn encode(command: Command, opcode: u8) -> Vec<u8> {
    let form = Form::Binary(BinaryForm {
        opcode,
        opaque: 5,
        key: Bytes::new(),
    });
    let mut out = BytesMut::new();
    crate::encode_request(&Request { command, form }, &mut out);
    out.to_vec()
}

#[rustfmt::skip]
#[test]
fn client_reads_error_statuses_by_opcode() {
    let text = |o, status, body: &[u8]| resp(o, status, 0, 0, b"", b"", body);
    let table: Vec<(u8, Vec<u8>, Response)> = vec![
        (op::GET, text(op::GET, 1, b"Not found"), Response::Values(vec![])),
        (op::GETK, resp(op::GETK, 1, 0, 0, b"", b"k", b""), Response::Values(vec![])),
        (op::REPLACE, text(op::REPLACE, 1, b"Not found"), Response::NotStored),
        (op::ADD, text(op::ADD, 2, b"Data exists for key."), Response::NotStored),
        (op::SET, text(op::SET, 2, b"Data exists for key."), Response::Exists),
        (op::DELETE, text(op::DELETE, 1, b"Not found"), Response::NotFound),
        (op::STAT, text(op::STAT, 1, b"Not found"), Response::NotFound),
        (op::SET, text(op::SET, 3, b"Too large."), Response::TooLarge),
        (op::SET, text(op::SET, 4, b"Invalid arguments"), Response::ClientError("Invalid arguments".into())),
        (op::APPEND, text(op::APPEND, 5, b"Not stored."), Response::NotStored),
        (op::INCREMENT, text(op::INCREMENT, 6, b"x"), Response::NonNumeric),
        (op::SASL_AUTH, text(op::SASL_AUTH, 0x20, b"Auth failure."), Response::AuthError),
        (op::VERBOSITY, text(op::VERBOSITY, 0x81, b"Unknown command"), Response::Error),
        (op::SET, text(op::SET, 0x82, b"Out of memory"), Response::OutOfMemory),
        (op::SET, text(op::SET, 0x86, b"Temporary failure"), Response::ServerError("Temporary failure".into())),
        (op::VERBOSITY, text(op::VERBOSITY, 0, b""), Response::Ok),
    ];
    for (opcode, bytes, expect) in table {
        let mut buf = BytesMut::from(&bytes[..]);
        let got = crate::binary::decode_response(&form(opcode, 0, b"k"), &mut buf, &Limits::default());
        assert_eq!(got, Ok(Some(expect)), "{opcode:#x}");
        assert!(buf.is_empty());
    }
}

#[test]
fn client_rejects_replies_that_do_not_fit() {
    let get = form(op::GET, 7, b"k");
    let patched = |at: usize, with: &[u8]| {
        let mut v = resp(op::GET, 0, 7, 0, b"", b"", b"");
        v[at..at + with.len()].copy_from_slice(with);
        v
    };
    let table: Vec<(&str, Vec<u8>)> = vec![
        ("bad magic", req(op::GET, b"", b"", b"", 7, 0)),
        ("other opcode", resp(op::SET, 0, 7, 0, b"", b"", b"")),
        ("other opaque", resp(op::GET, 0, 8, 0, &[0; 4], b"", b"")),
        ("no flags", resp(op::GET, 0, 7, 0, b"", b"", b"v")),
        ("too large", patched(8, &(2u32 * 1024 * 1024).to_be_bytes())),
        ("lengths disagree", patched(2, &3u16.to_be_bytes())),
    ];
    for (name, bytes) in table {
        let mut buf = BytesMut::from(&bytes[..]);
        let decoded = crate::binary::decode_response(&get, &mut buf, &Limits::default());
        assert!(decoded.is_err(), "{name}");
    }
    let mut buf = BytesMut::from(&resp(op::INCREMENT, 0, 7, 0, b"", b"", b"123")[..]);
    let incr = form(op::INCREMENT, 7, b"");
    assert!(crate::binary::decode_response(&incr, &mut buf, &Limits::default()).is_err());
}

#[test]
fn peek_opaque_reads_the_header() {
    let reply = resp(op::GETKQ, 0, 0xdead, 0, &[0; 4], b"k", b"v");
    assert_eq!(crate::binary::peek_opaque(&reply), Some(0xdead));
    assert_eq!(crate::binary::peek_opaque(&[0x81; 23]), None);
}

#[test]
fn client_picks_an_opcode_that_fits_the_command() {
    let delete = || {
        Command::Delete(Delete {
            key: Bytes::from_static(b"k"),
            ..Delete::default()
        })
    };
    assert_eq!(encode(delete(), op::SET)[1], op::DELETE);
    assert_eq!(encode(delete(), op::DELETEQ)[1], op::DELETEQ);
    let get = Command::Get(Get {
        keys: vec![Bytes::from_static(b"k")],
        ..Get::default()
    });
    assert_eq!(encode(get.clone(), op::GAT)[1], op::GET);
    assert_eq!(encode(get, op::GETKQ)[1], op::GETKQ);
    assert_eq!(
        encode(Command::Shutdown { graceful: false }, op::NOOP)[1],
        op::NOOP
    );
}

#[test]
fn client_writes_expiries_the_wire_can_carry() {
    let touch = |exptime| {
        Command::Touch(Touch {
            key: Bytes::from_static(b"k"),
            exptime,
        })
    };
    assert_eq!(
        encode(touch(-1), op::TOUCH)[24..28],
        2_592_001u32.to_be_bytes()
    );
    assert_eq!(
        encode(touch(1 << 40), op::TOUCH)[24..28],
        u32::MAX.to_be_bytes()
    );
    let far = Some(Vivify {
        initial: 0,
        exptime: i64::from(u32::MAX),
    });
    let key = Bytes::from_static(b"c");
    let arith = Command::Arith(Arith {
        key,
        incr: true,
        delta: 1,
        create: far,
        ..Arith::default()
    });
    assert_eq!(
        encode(arith, op::INCREMENT)[40..44],
        (u32::MAX - 1).to_be_bytes()
    );
}

#[test]
fn verbosity_is_sent_with_its_level_but_memcached_does_not_serve_it() {
    let bytes = encode(Command::Verbosity(1), op::VERBOSITY);
    assert_eq!((bytes[1], bytes[4]), (op::VERBOSITY, 4));
    assert_eq!(&bytes[24..], &1u32.to_be_bytes());
    let mut buf = BytesMut::from(&bytes[..]);
    let err = crate::binary::decode_request(&mut buf, &Limits::default(), &mut 0).unwrap_err();
    assert_eq!(err.error, ProtocolError::UnknownOpcode);
}

#[test]
fn multi_key_gets_become_one_packet_per_key() {
    let keys = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
    let bytes = encode(
        Command::Get(Get {
            keys,
            ..Get::default()
        }),
        op::GETKQ,
    );
    assert_eq!(bytes.len(), 50);
    assert_eq!((bytes[1], bytes[24]), (op::GETKQ, b'a'));
    assert_eq!((bytes[26], bytes[49]), (op::GETKQ, b'b'));
}
