//! Client side: a [`Command`] written as a meta request, and a meta reply read back
//! into a [`Response`], return flags included, so a proxy can repair a replica with
//! the item's remaining TTL, flags and CAS.
//!
//! Commands with no meta verb (flush_all, version, stats, touch, ...) are written in
//! the classic text form, which memcached accepts on the same connection, and their
//! replies are read back here too.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use super::base64_key;
use crate::{
    Command, InvalidResponse, ItemMeta, Limits, MetaForm, MetaVerb, Response, StoreMode, Value,
};

/// See [`super::encode_request`].
pub(super) fn encode_request(form: &MetaForm, command: &Command, out: &mut BytesMut) {
    match command {
        Command::Get(get) => {
            // Meta fetches one key per line; each line gets its own reply.
            for key in &get.keys {
                head(b"mg ", form, key, out);
                opt(b'T', get.touch, out);
                opt(b'N', get.vivify, out);
                opt(b'R', get.recache, out);
                if get.no_bump {
                    out.put_slice(b" u");
                }
                returns(form, out);
            }
        }
        Command::Store(store) => {
            head(b"ms ", form, &store.key, out);
            out.put_u8(b' ');
            out.put_slice(itoa::Buffer::new().format(store.data.len()).as_bytes());
            opt(b'T', Some(store.exptime).filter(|&t| t != 0), out);
            opt(b'F', Some(store.flags).filter(|&f| f != 0), out);
            opt(b'C', store.cas, out);
            opt(b'E', store.new_cas, out);
            if store.invalidate {
                out.put_slice(b" I");
            }
            opt(b'N', store.vivify, out);
            let mode: &[u8] = match store.mode {
                StoreMode::Set => b"",
                StoreMode::Add => b" ME",
                StoreMode::Replace => b" MR",
                StoreMode::Append => b" MA",
                StoreMode::Prepend => b" MP",
            };
            out.put_slice(mode);
            returns(form, out);
            out.put_slice(&store.data);
            out.put_slice(b"\r\n");
        }
        Command::Delete(delete) => {
            head(b"md ", form, &delete.key, out);
            opt(b'C', delete.cas, out);
            opt(b'E', delete.new_cas, out);
            if delete.invalidate {
                out.put_slice(b" I");
            }
            opt(b'T', delete.ttl, out);
            returns(form, out);
        }
        Command::Arith(arith) => {
            head(b"ma ", form, &arith.key, out);
            if !arith.incr {
                out.put_slice(b" MD");
            }
            opt(b'D', Some(arith.delta).filter(|&d| d != 1), out);
            opt(b'C', arith.cas, out);
            opt(b'E', arith.new_cas, out);
            if let Some(create) = arith.create {
                opt(b'N', Some(create.exptime), out);
                opt(b'J', Some(create.initial).filter(|&i| i != 0), out);
            }
            opt(b'T', arith.touch, out);
            returns(form, out);
        }
        Command::Debug(key) => {
            head(b"me ", form, key, out);
            out.put_slice(if form.base64() { b" b\r\n" } else { b"\r\n" });
        }
        Command::Noop => out.put_slice(b"mn\r\n"),
        Command::Touch(touch) => {
            out.put_slice(b"touch ");
            out.put_slice(&touch.key);
            arg(touch.exptime, out);
            out.put_slice(b"\r\n");
        }
        Command::FlushAll(flush) => {
            out.put_slice(b"flush_all");
            if flush.delay != 0 {
                arg(flush.delay, out);
            }
            out.put_slice(b"\r\n");
        }
        Command::Stats(group) => {
            out.put_slice(b"stats");
            if let Some(group) = group {
                out.put_u8(b' ');
                out.put_slice(group);
            }
            out.put_slice(b"\r\n");
        }
        Command::Version => out.put_slice(b"version\r\n"),
        Command::Verbosity(level) => {
            out.put_slice(b"verbosity");
            arg(*level, out);
            out.put_slice(b"\r\n");
        }
        Command::Quit => out.put_slice(b"quit\r\n"),
        Command::Shutdown { graceful } => out.put_slice(if *graceful {
            b"shutdown graceful\r\n"
        } else {
            b"shutdown\r\n"
        }),
        Command::Metadump(scope) => crate::text::metadump::encode_request(scope, out),
        Command::Admin(admin) => crate::text::encode_admin(admin, out),
        // SASL exists only in the binary protocol, and a store whose value was too
        // large has no value to send: there is nothing to write.
        Command::SaslListMechs
        | Command::SaslAuth(_)
        | Command::SaslStep(_)
        | Command::TooLarge(_) => {}
    }
}

/// The verb and the key, base64-encoded when the form says `b`.
fn head(verb: &[u8], form: &MetaForm, key: &[u8], out: &mut BytesMut) {
    out.put_slice(verb);
    if form.base64() {
        base64_key::encode_into(key, out);
    } else {
        out.put_slice(key);
    }
}

/// ` <letter><n>` when there is a value.
/// A classic command's numeric argument: a space, then the number.
fn arg<N: itoa::Integer>(n: N, out: &mut BytesMut) {
    out.put_u8(b' ');
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn opt<N: itoa::Integer>(letter: u8, n: Option<N>, out: &mut BytesMut) {
    if let Some(n) = n {
        out.put_slice(&[b' ', letter]);
        out.put_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// The form's reply flags in order (`O` with its token), then CRLF.
fn returns(form: &MetaForm, out: &mut BytesMut) {
    for &letter in form.returns.as_slice() {
        out.put_slice(&[b' ', letter]);
        if letter == b'O' {
            out.put_slice(form.opaque.as_deref().unwrap_or_default());
        }
    }
    if let (Some(token), false) = (&form.opaque, form.returns.contains(b'O')) {
        out.put_slice(b" O");
        out.put_slice(token);
    }
    out.put_slice(b"\r\n");
}

fn invalid(reason: &'static str) -> InvalidResponse {
    InvalidResponse::new(reason)
}

/// See [`super::decode_response`].
pub(super) fn decode_response(
    form: &MetaForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        return if buf.len() > limits.max_line_len {
            Err(invalid("reply line too long"))
        } else {
            Ok(None)
        };
    };
    // The same bound on a whole line as on a partial one, so a reply is refused
    // or not whatever pieces it arrives in.
    if lf > limits.max_line_len {
        return Err(invalid("reply line too long"));
    }
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err(invalid("reply line does not end in CRLF"));
    }
    let line_end = lf - 1;
    let code_end = memchr::memchr(b' ', &buf[..line_end]).unwrap_or(line_end);
    let rest_start = (code_end + 1).min(line_end);
    let code = match &buf[..code_end] {
        b"NF" | b"NOT_FOUND" => Code::Simple(Response::NotFound),
        b"NS" => Code::Simple(Response::NotStored),
        b"EX" => Code::Simple(Response::Exists),
        b"MN" => Code::Simple(Response::Noop),
        b"OK" => Code::Simple(Response::Ok),
        b"RESET" => Code::Simple(Response::Reset),
        b"TOUCHED" => Code::Simple(Response::Touched(ItemMeta::default())),
        b"ERROR" => Code::Simple(Response::Error),
        b"VA" => Code::Va,
        b"HD" => Code::Hd,
        b"EN" => Code::En,
        b"ME" => Code::Me,
        b"VERSION" => Code::Version,
        b"CLIENT_ERROR" => Code::Error { client: true },
        b"SERVER_ERROR" => Code::Error { client: false },
        b"STAT" | b"END" => Code::Stats,
        _ => return Err(invalid("unknown meta reply")),
    };
    match code {
        Code::Simple(response) => {
            let _ = buf.split_to(lf + 1);
            Ok(Some(response))
        }
        Code::Va => {
            let size_end = memchr::memchr(b' ', &buf[rest_start..line_end])
                .map_or(line_end, |i| rest_start + i);
            let size = std::str::from_utf8(&buf[rest_start..size_end])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .ok_or(invalid("bad VA size"))?;
            if size > limits.max_value_len {
                return Err(invalid("value larger than the limit"));
            }
            let len = lf + 1 + size + 2;
            if buf.len() < len {
                return Ok(None);
            }
            let frame = buf.split_to(len).freeze();
            if &frame[len - 2..] != b"\r\n" {
                return Err(invalid("value does not end in CRLF"));
            }
            let data = frame.slice(lf + 1..lf + 1 + size);
            let (mut meta, key) = reply_flags(form, &frame, size_end, line_end)?;
            if !form.returns.contains(b's') {
                meta.size = u32::try_from(size).unwrap_or(u32::MAX);
            }
            Ok(Some(match form.verb {
                MetaVerb::Arith => {
                    let n = std::str::from_utf8(&data)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or(invalid("counter is not a number"))?;
                    Response::Number(n, meta)
                }
                _ => Response::Values(vec![Value { key, data, meta }]),
            }))
        }
        Code::Hd => {
            let frame = buf.split_to(lf + 1).freeze();
            let (meta, key) = reply_flags(form, &frame, code_end, line_end)?;
            Ok(Some(match form.verb {
                MetaVerb::Get => Response::Values(vec![Value {
                    key,
                    data: Bytes::new(),
                    meta,
                }]),
                MetaVerb::Set => Response::Stored(meta),
                MetaVerb::Delete => Response::Deleted,
                // Without `v` memcached does not say the counter's value.
                MetaVerb::Arith => Response::Number(0, meta),
                MetaVerb::Noop | MetaVerb::Debug => return Err(invalid("unexpected HD")),
            }))
        }
        Code::En => {
            let _ = buf.split_to(lf + 1);
            Ok(Some(match form.verb {
                MetaVerb::Debug => Response::Debug(None),
                _ => Response::Values(Vec::new()),
            }))
        }
        Code::Me => {
            let frame = buf.split_to(lf + 1);
            let line = &frame[rest_start..line_end];
            let facts = memchr::memchr(b' ', line).map_or(&b""[..], |i| &line[i + 1..]);
            Ok(Some(Response::Debug(Some(
                String::from_utf8_lossy(facts).into_owned(),
            ))))
        }
        Code::Version => {
            let frame = buf.split_to(lf + 1).freeze();
            Ok(Some(Response::Version(frame.slice(rest_start..line_end))))
        }
        Code::Error { client } => {
            let frame = buf.split_to(lf + 1);
            let message = String::from_utf8_lossy(&frame[rest_start..line_end]).into_owned();
            Ok(Some(error_reply(client, message)))
        }
        Code::Stats => stats(buf, limits),
    }
}

/// A reply's status word.
enum Code {
    /// A reply with nothing after its status worth reading.
    Simple(Response),
    Va,
    Hd,
    En,
    Me,
    Version,
    Error {
        client: bool,
    },
    Stats,
}

/// Errors with a variant of their own map back to it, so encode and decode agree.
fn error_reply(client: bool, message: String) -> Response {
    match (client, message.as_str()) {
        (true, "cannot increment or decrement non-numeric value") => Response::NonNumeric,
        (false, "object too large for cache") => Response::TooLarge,
        (false, "out of memory storing object") => Response::OutOfMemory,
        (true, _) => Response::ClientError(Cow::Owned(message)),
        (false, _) => Response::ServerError(Cow::Owned(message)),
    }
}

/// Reads the flags after a status line's first fields, `line[from..to]`.
fn reply_flags(
    form: &MetaForm,
    frame: &Bytes,
    from: usize,
    to: usize,
) -> Result<(ItemMeta, Bytes), InvalidResponse> {
    let mut meta = ItemMeta::default();
    let mut key = None;
    let mut base64 = false;
    for token in frame[from.min(to)..to]
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
    {
        let value = &token[1..];
        let number = || {
            std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(invalid("bad flag"))
        };
        match token[0] {
            b'c' => meta.cas = number()?,
            b'f' => meta.flags = u32::try_from(number()?).map_err(|_| invalid("bad flags"))?,
            b's' => meta.size = u32::try_from(number()?).map_err(|_| invalid("bad size"))?,
            b'l' => meta.last_access = u32::try_from(number()?).map_err(|_| invalid("bad l"))?,
            b'h' => meta.fetched = value == b"1",
            b't' => {
                meta.ttl = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(invalid("bad ttl"))?
            }
            b'k' => {
                let start = token.as_ptr() as usize - frame.as_ptr() as usize + 1;
                key = Some(frame.slice(start..start + value.len()));
            }
            b'b' => base64 = true,
            b'W' => meta.win = true,
            b'X' => meta.stale = true,
            b'Z' => meta.won = true,
            _ => {} // O and flags newer than this code
        }
    }
    let key = match key {
        Some(k) if base64 => base64_key::decode(&k).ok_or(invalid("bad base64 key"))?,
        Some(k) => k,
        None if form.base64() => base64_key::decode(&form.key).unwrap_or_default(),
        None => form.key.clone(),
    };
    Ok((meta, key))
}

/// `STAT <name> <value>` lines up to `END`, bounded by the value limit.
fn stats(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Response>, InvalidResponse> {
    let mut stats = Vec::new();
    let mut at = 0;
    loop {
        let bound = limits.max_value_len + limits.max_line_len;
        let Some(lf) = memchr::memchr(b'\n', &buf[at..]).map(|i| at + i) else {
            return if buf.len() > bound {
                Err(invalid("stats reply too long"))
            } else {
                Ok(None)
            };
        };
        // As above: whole or in pieces, the same replies are too long.
        if lf > bound {
            return Err(invalid("stats reply too long"));
        }
        let line = buf[at..lf]
            .strip_suffix(b"\r")
            .ok_or(invalid("stats line without CR"))?;
        if line == b"END" {
            let _ = buf.split_to(lf + 1);
            return Ok(Some(Response::Stats(stats)));
        }
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(b"STAT"), Some(name), value) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("bad stats line"));
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        stats.push((text(name), text(value.unwrap_or_default())));
        at = lf + 1;
    }
}
