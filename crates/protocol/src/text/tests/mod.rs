//! Tests of the text codec: byte tables checked against memcached 1.6.18, and
//! round-trip, prefix and split properties.

use bytes::{Bytes, BytesMut};

use crate::{
    Arith, Command, DecodeError, Decoder, Delete, FlushAll, Form, Get, Limits, ProtocolError,
    Request, Store, StoreMode, TextForm, TextVerb, Touch,
};

mod decode;
mod encode;
mod props;
mod reject;
mod reply;

fn form(verb: TextVerb, noreply: bool) -> Form {
    Form::Text(TextForm { verb, noreply })
}

fn req(command: Command, verb: TextVerb, noreply: bool) -> Request {
    Request {
        command,
        form: form(verb, noreply),
    }
}

fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

fn get(verb: TextVerb, touch: Option<i64>, keys: &[&[u8]]) -> Request {
    let get = Get {
        keys: keys.iter().map(|k| b(k)).collect(),
        touch,
        ..Get::default()
    };
    req(Command::Get(get), verb, false)
}

#[allow(clippy::too_many_arguments)]
fn store(
    verb: TextVerb,
    key: &[u8],
    flags: u32,
    exptime: i64,
    data: &[u8],
    cas: Option<u64>,
    noreply: bool,
) -> Request {
    let mode = match verb {
        TextVerb::Add => StoreMode::Add,
        TextVerb::Replace => StoreMode::Replace,
        TextVerb::Append => StoreMode::Append,
        TextVerb::Prepend => StoreMode::Prepend,
        _ => StoreMode::Set,
    };
    let store = Store {
        mode,
        key: b(key),
        flags,
        exptime,
        data: b(data),
        cas,
        ..Store::default()
    };
    req(Command::Store(store), verb, noreply)
}

fn delete(key: &[u8], noreply: bool) -> Request {
    let delete = Delete {
        key: b(key),
        ..Delete::default()
    };
    req(Command::Delete(delete), TextVerb::Delete, noreply)
}

fn arith(incr: bool, key: &[u8], delta: u64, noreply: bool) -> Request {
    let verb = if incr { TextVerb::Incr } else { TextVerb::Decr };
    let arith = Arith {
        key: b(key),
        incr,
        delta,
        ..Arith::default()
    };
    req(Command::Arith(arith), verb, noreply)
}

fn touch(key: &[u8], exptime: i64, noreply: bool) -> Request {
    let touch = Touch {
        key: b(key),
        exptime,
    };
    req(Command::Touch(touch), TextVerb::Touch, noreply)
}

fn flush(delay: i64, noreply: bool) -> Request {
    req(
        Command::FlushAll(FlushAll { delay }),
        TextVerb::FlushAll,
        noreply,
    )
}

/// Decodes everything in `input` with a fresh decoder, as a server would.
fn decode_all(input: &[u8], limits: Limits) -> Vec<Result<Request, DecodeError>> {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(request)) => out.push(Ok(request)),
            Ok(None) => break,
            Err(e) => {
                let close = e.close;
                out.push(Err(e));
                if close {
                    break;
                }
            }
        }
    }
    out
}

fn err(error: ProtocolError, verb: TextVerb, noreply: bool, close: bool) -> DecodeError {
    DecodeError {
        error,
        form: form(verb, noreply),
        close,
    }
}
