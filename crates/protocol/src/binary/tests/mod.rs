//! Tests of the binary codec: byte tables checked against memcached 1.6.18's replies
//! (decode, encode, client) and the codec's properties.

use bytes::{Bytes, BytesMut};

use crate::{BinaryForm, Limits, Request};

mod client;
mod decode;
mod encode;
mod properties;
mod strategy;

/// A request packet with lengths taken from the parts.
fn req(opcode: u8, extras: &[u8], key: &[u8], value: &[u8], opaque: u32, cas: u64) -> Vec<u8> {
    let parts = Parts { extras, key, value };
    packet(0x80, opcode, 0, opaque, cas, parts)
}

/// A response packet with lengths taken from the parts.
fn resp(
    opcode: u8,
    status: u16,
    opaque: u32,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) -> Vec<u8> {
    let parts = Parts { extras, key, value };
    packet(0x81, opcode, status, opaque, cas, parts)
}

struct Parts<'a> {
    extras: &'a [u8],
    key: &'a [u8],
    value: &'a [u8],
}

fn packet(magic: u8, opcode: u8, status: u16, opaque: u32, cas: u64, p: Parts<'_>) -> Vec<u8> {
    let body = p.extras.len() + p.key.len() + p.value.len();
    let mut v = vec![magic, opcode];
    v.extend_from_slice(&(p.key.len() as u16).to_be_bytes());
    v.push(p.extras.len() as u8);
    v.push(0);
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&(body as u32).to_be_bytes());
    v.extend_from_slice(&opaque.to_be_bytes());
    v.extend_from_slice(&cas.to_be_bytes());
    v.extend_from_slice(p.extras);
    v.extend_from_slice(p.key);
    v.extend_from_slice(p.value);
    v
}

/// A request header with the lengths given explicitly, whatever follows.
fn raw_header(opcode: u8, key_len: u16, extras_len: u8, body_len: u32) -> Vec<u8> {
    let mut v = vec![0x80, opcode];
    v.extend_from_slice(&key_len.to_be_bytes());
    v.push(extras_len);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&body_len.to_be_bytes());
    v.extend_from_slice(&[0; 12]);
    v
}

fn form(opcode: u8, opaque: u32, key: &'static [u8]) -> BinaryForm {
    BinaryForm {
        opcode,
        opaque,
        key: Bytes::from_static(key),
    }
}

/// Server-decodes `bytes` with default limits: the result, bytes consumed, swallow.
fn decode(bytes: &[u8]) -> (Result<Option<Request>, crate::DecodeError>, usize, usize) {
    let mut buf = BytesMut::from(bytes);
    let mut swallow = 0;
    let result = super::decode_request(&mut buf, &Limits::default(), &mut swallow);
    (result, bytes.len() - buf.len(), swallow)
}

/// SET/ADD/REPLACE extras.
fn exp(flags: u32, exptime: u32) -> Vec<u8> {
    [flags.to_be_bytes(), exptime.to_be_bytes()].concat()
}

/// INCR/DECR extras.
fn arith(delta: u64, initial: u64, exptime: u32) -> Vec<u8> {
    [
        &delta.to_be_bytes()[..],
        &initial.to_be_bytes(),
        &exptime.to_be_bytes(),
    ]
    .concat()
}

fn key(k: &'static [u8]) -> Bytes {
    Bytes::from_static(k)
}
