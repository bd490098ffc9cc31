//! Client side: a [`Command`] written as a text command line (and data block), for
//! proxies and tools that talk to memcached in the classic protocol.

use bytes::{BufMut, BytesMut};

use super::metadump;
use crate::{Command, StoreMode, TextForm, TextVerb};

/// See [`super::encode_request`].
pub(crate) fn encode_request(form: &TextForm, command: &Command, out: &mut BytesMut) {
    let mut num = itoa::Buffer::new();
    let noreply = form.noreply;
    match command {
        Command::Get(get) => {
            let verb = get_verb(form.verb, get.touch.is_some());
            out.reserve(8 + get.keys.iter().map(|k| k.len() + 1).sum::<usize>());
            out.put_slice(verb.as_str().as_bytes());
            if let Some(touch) = get.touch {
                out.put_u8(b' ');
                out.put_slice(num.format(touch).as_bytes());
            }
            for key in &get.keys {
                out.put_u8(b' ');
                out.put_slice(key);
            }
            out.put_slice(b"\r\n");
            return;
        }
        Command::Store(store) => {
            let verb = match form.verb {
                TextVerb::Set
                | TextVerb::Add
                | TextVerb::Replace
                | TextVerb::Append
                | TextVerb::Prepend
                | TextVerb::Cas => form.verb,
                _ if store.cas.is_some() => TextVerb::Cas,
                _ => match store.mode {
                    StoreMode::Set => TextVerb::Set,
                    StoreMode::Add => TextVerb::Add,
                    StoreMode::Replace => TextVerb::Replace,
                    StoreMode::Append => TextVerb::Append,
                    StoreMode::Prepend => TextVerb::Prepend,
                },
            };
            out.reserve(store.key.len() + store.data.len() + 64);
            out.put_slice(verb.as_str().as_bytes());
            out.put_u8(b' ');
            out.put_slice(&store.key);
            out.put_u8(b' ');
            out.put_slice(num.format(store.flags).as_bytes());
            out.put_u8(b' ');
            out.put_slice(num.format(store.exptime).as_bytes());
            out.put_u8(b' ');
            out.put_slice(num.format(store.data.len()).as_bytes());
            if verb == TextVerb::Cas {
                out.put_u8(b' ');
                out.put_slice(num.format(store.cas.unwrap_or(0)).as_bytes());
            }
            finish_line(noreply, out);
            out.put_slice(&store.data);
            out.put_slice(b"\r\n");
            return;
        }
        Command::Delete(delete) => {
            out.put_slice(b"delete ");
            out.put_slice(&delete.key);
        }
        Command::Arith(arith) => {
            let incr = match form.verb {
                TextVerb::Incr => true,
                TextVerb::Decr => false,
                _ => arith.incr,
            };
            out.put_slice(if incr { b"incr " } else { b"decr " });
            out.put_slice(&arith.key);
            out.put_u8(b' ');
            out.put_slice(num.format(arith.delta).as_bytes());
        }
        Command::Touch(touch) => {
            out.put_slice(b"touch ");
            out.put_slice(&touch.key);
            out.put_u8(b' ');
            out.put_slice(num.format(touch.exptime).as_bytes());
        }
        Command::FlushAll(flush) => {
            out.put_slice(b"flush_all");
            if flush.delay != 0 {
                out.put_u8(b' ');
                out.put_slice(num.format(flush.delay).as_bytes());
            }
        }
        Command::Verbosity(level) => {
            out.put_slice(b"verbosity ");
            out.put_slice(num.format(*level).as_bytes());
        }
        Command::Stats(group) => {
            out.put_slice(b"stats");
            if let Some(group) = group {
                out.put_u8(b' ');
                out.put_slice(group);
            }
            return out.put_slice(b"\r\n");
        }
        Command::Version => return out.put_slice(b"version\r\n"),
        Command::Quit => return out.put_slice(b"quit\r\n"),
        Command::Shutdown { graceful: false } => return out.put_slice(b"shutdown\r\n"),
        Command::Shutdown { graceful: true } => return out.put_slice(b"shutdown graceful\r\n"),
        // Its reply has no bound: whoever sends it streams the lines (the `memkeep
        // dump` tool) rather than decoding one reply.
        Command::Metadump(scope) => return metadump::encode_request(scope, out),
        Command::Admin(admin) => super::admin::encode_request(admin, out),
        // No text form exists for these (meta and binary only; a store whose value was
        // too large has no value to send): nothing is written and no reply is to be
        // expected. Callers send them in a dialect that has them, or not at all.
        Command::TooLarge(_)
        | Command::Noop
        | Command::Debug(_)
        | Command::SaslListMechs
        | Command::SaslAuth(_)
        | Command::SaslStep(_) => return,
    }
    finish_line(noreply, out);
}

/// The retrieval verb: the form's, adjusted so an expiry is sent exactly when the
/// command has one (`gat` without an expiry would not parse).
fn get_verb(verb: TextVerb, touch: bool) -> TextVerb {
    let cas = matches!(verb, TextVerb::Gets | TextVerb::Gats);
    match (cas, touch) {
        (false, false) => TextVerb::Get,
        (true, false) => TextVerb::Gets,
        (false, true) => TextVerb::Gat,
        (true, true) => TextVerb::Gats,
    }
}

fn finish_line(noreply: bool, out: &mut BytesMut) {
    if noreply {
        out.put_slice(b" noreply");
    }
    out.put_slice(b"\r\n");
}
