//! Tables of raw bytes in and out, checked against memcached 1.6.18's behaviour.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use crate::{
    Arith, Command, Decoder, Delete, Form, Get, ItemMeta, Limits, MetaForm, MetaVerb,
    ProtocolError, Request, Response, ReturnFlags, Store, StoreMode, Value, Vivify,
};

fn decode(input: &[u8]) -> Request {
    let mut buf = BytesMut::from(input);
    let request = Decoder::default().decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty(), "left over: {buf:?}");
    request
}

fn form(
    verb: MetaVerb,
    key: &'static [u8],
    returns: &[u8],
    opaque: Option<&'static [u8]>,
) -> MetaForm {
    MetaForm {
        verb,
        key: Bytes::from_static(key),
        returns: ReturnFlags::from_letters(returns).unwrap(),
        opaque: opaque.map(Bytes::from_static),
    }
}

/// The form memcached would have parsed from this request line.
fn form_of(line: &str) -> MetaForm {
    let data = match line.split(' ').collect::<Vec<_>>()[..] {
        ["ms", _, len, ..] => format!("{}\r\n", "x".repeat(len.parse().unwrap())),
        _ => String::new(),
    };
    let request = decode(format!("{line}\r\n{data}").as_bytes());
    let Form::Meta(form) = request.form else {
        panic!("not meta")
    };
    form
}

fn key(k: &'static [u8]) -> Bytes {
    Bytes::from_static(k)
}

fn meta(cas: u64, flags: u32, ttl: i64, size: u32) -> ItemMeta {
    ItemMeta {
        cas,
        flags,
        ttl,
        size,
        ..ItemMeta::default()
    }
}

mod client;
mod decode;
mod encode;
mod errors;
