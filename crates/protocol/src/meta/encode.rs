//! Server side: a [`Response`] into memcached's meta reply for the request's form.
//!
//! Return flags are written in the client's order, each verb writing only the ones
//! memcached writes for it; `q` drops exactly the replies memcached drops.

use bytes::{BufMut, BytesMut};

use crate::{ItemMeta, MetaForm, MetaVerb, Response, Value};

/// See [`super::encode_response`].
pub(super) fn encode_response(form: &MetaForm, response: &Response, out: &mut BytesMut) {
    let quiet = form.quiet();
    match response {
        Response::Values(values) => match values.first() {
            None if quiet => {}
            None => status(form, b"EN", None, out),
            Some(value) => hit(form, value, out),
        },
        Response::Stored(meta) if !quiet => status(form, b"HD", Some(meta.cas), out),
        Response::Deleted | Response::Touched(_) if !quiet => status(form, b"HD", None, out),
        Response::Number(n, meta) if !quiet => number(form, *n, meta, out),
        Response::Stored(_) | Response::Deleted | Response::Touched(_) | Response::Number(..) => {}
        // ms writes `c` on its failures too, with a CAS of 0.
        Response::NotStored => status(form, b"NS", Some(0), out),
        Response::Exists => status(form, b"EX", Some(0), out),
        Response::NotFound => status(form, b"NF", Some(0), out),
        Response::Noop => out.put_slice(b"MN\r\n"),
        Response::Debug(None) => out.put_slice(b"EN\r\n"),
        Response::Debug(Some(facts)) => {
            out.put_slice(b"ME ");
            out.put_slice(&form.key);
            out.put_u8(b' ');
            out.put_slice(facts.as_bytes());
            out.put_slice(b"\r\n");
        }
        // Replies to classic commands sent on a meta connection (see client.rs).
        Response::Ok => out.put_slice(b"OK\r\n"),
        Response::Reset => out.put_slice(b"RESET\r\n"),
        Response::ErrorLine(l) => line(out, &[l.as_bytes()]),
        Response::Version(v) => line(out, &[b"VERSION ", v]),
        Response::Stats(stats) => {
            for (name, value) in stats {
                line(out, &[b"STAT ", name.as_bytes(), b" ", value.as_bytes()]);
            }
            out.put_slice(b"END\r\n");
        }
        Response::Metadump(lines) => {
            out.put_slice(lines);
            out.put_slice(b"END\r\n");
        }
        Response::Raw(bytes) => out.put_slice(bytes),
        Response::TooLarge => out.put_slice(b"SERVER_ERROR object too large for cache\r\n"),
        Response::OutOfMemory => out.put_slice(b"SERVER_ERROR out of memory storing object\r\n"),
        Response::NonNumeric => {
            out.put_slice(b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        }
        Response::ClientError(m) => line(out, &[b"CLIENT_ERROR ", m.as_bytes()]),
        Response::ServerError(m) => line(out, &[b"SERVER_ERROR ", m.as_bytes()]),
        // SASL is binary-only; memcached answers anything it cannot parse with ERROR.
        Response::Error | Response::SaslMechs(_) | Response::SaslOk | Response::AuthError => {
            out.put_slice(b"ERROR\r\n")
        }
    }
}

fn line(out: &mut BytesMut, parts: &[&[u8]]) {
    for part in parts {
        out.put_slice(part);
    }
    out.put_slice(b"\r\n");
}

/// A status line with `O` and `k` echoed; `cas` is written for `c` by `ms` replies.
fn status(form: &MetaForm, code: &[u8], cas: Option<u64>, out: &mut BytesMut) {
    out.put_slice(code);
    for &letter in form.returns.as_slice() {
        match letter {
            b'O' => opaque(form, out),
            b'k' => key(form, out),
            b'c' if form.verb == MetaVerb::Set => {
                if let Some(cas) = cas {
                    number_flag(b'c', cas, out);
                }
            }
            _ => {}
        }
    }
    out.put_slice(b"\r\n");
}

/// An `mg` hit: `VA` with the value when `v` was asked for, else `HD`.
fn hit(form: &MetaForm, value: &Value, out: &mut BytesMut) {
    let with_value = form.returns.contains(b'v');
    if with_value {
        out.put_slice(b"VA ");
        put_u64(value.data.len() as u64, out);
    } else {
        out.put_slice(b"HD");
    }
    let meta = &value.meta;
    for &letter in form.returns.as_slice() {
        match letter {
            b's' => number_flag(b's', u64::from(meta.size), out),
            b't' => ttl(meta.ttl, out),
            b'c' => number_flag(b'c', meta.cas, out),
            b'f' => number_flag(b'f', u64::from(meta.flags), out),
            b'l' => number_flag(b'l', u64::from(meta.last_access), out),
            b'h' => out.put_slice(if meta.fetched { b" h1" } else { b" h0" }),
            b'O' => opaque(form, out),
            b'k' => key(form, out),
            _ => {}
        }
    }
    // memcached writes these last, in this order, so W never comes with Z.
    for (set, flag) in [(meta.won, b" Z"), (meta.stale, b" X"), (meta.win, b" W")] {
        if set {
            out.put_slice(flag);
        }
    }
    out.put_slice(b"\r\n");
    if with_value {
        out.put_slice(&value.data);
        out.put_slice(b"\r\n");
    }
}

/// An `ma` result: `VA` with the number as its value when `v` was asked for.
fn number(form: &MetaForm, n: u64, meta: &ItemMeta, out: &mut BytesMut) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n).as_bytes();
    let with_value = form.returns.contains(b'v');
    if with_value {
        out.put_slice(b"VA ");
        put_u64(digits.len() as u64, out);
    } else {
        out.put_slice(b"HD");
    }
    for &letter in form.returns.as_slice() {
        match letter {
            b'c' => number_flag(b'c', meta.cas, out),
            b't' => ttl(meta.ttl, out),
            b'O' => opaque(form, out),
            b'k' => key(form, out),
            _ => {}
        }
    }
    out.put_slice(b"\r\n");
    if with_value {
        out.put_slice(digits);
        out.put_slice(b"\r\n");
    }
}

fn put_u64(n: u64, out: &mut BytesMut) {
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn number_flag(letter: u8, n: u64, out: &mut BytesMut) {
    out.put_slice(&[b' ', letter]);
    put_u64(n, out);
}

/// `t`: remaining seconds, -1 for an item that never expires.
fn ttl(ttl: i64, out: &mut BytesMut) {
    out.put_slice(b" t");
    out.put_slice(itoa::Buffer::new().format(ttl).as_bytes());
}

fn opaque(form: &MetaForm, out: &mut BytesMut) {
    out.put_slice(b" O");
    if let Some(token) = &form.opaque {
        out.put_slice(token);
    }
}

/// `k`: the key, followed by a bare `b` when it is base64 on the wire.
fn key(form: &MetaForm, out: &mut BytesMut) {
    out.put_slice(b" k");
    out.put_slice(&form.key);
    if form.base64() {
        out.put_slice(b" b");
    }
}
