//! The client's request as the proxy sends it to a backend that speaks only the
//! classic text protocol (memcached before 1.6): text verbs, never `noreply`, and the
//! meta-only options refused with the reply an old memcached would give.

use memkeep_protocol::{Admin, Command, Form, Request, Response, StoreMode, TextForm, TextVerb};

use super::translate::{unprintable, Expect, Local};
use crate::keyless::never_sent;

/// Translates a client's request into what is sent to a text-only backend.
pub(crate) fn to_text(request: Request) -> Local {
    translate(request, false)
}

/// [`to_text`] for a request whose keys are known to hold no byte a text line cannot
/// carry ([`unprintable`]): only their lengths are checked.
pub(crate) fn to_text_printable(request: Request) -> Local {
    translate(request, true)
}

fn translate(request: Request, printable: bool) -> Local {
    if let Some(answer) = never_sent(&request.command) {
        return Local::Answer(answer);
    }
    let verb = match &request.command {
        Command::Get(get) if get.vivify.is_some() || get.recache.is_some() => return unsupported(),
        Command::Get(get) if get.touch.is_some() => TextVerb::Gats,
        // A text client's `get` shows no CAS; any other client may want it (meta
        // `c`, binary headers), so it gets `gets`.
        Command::Get(_) if is_text_get(&request.form) => TextVerb::Get,
        Command::Get(_) => TextVerb::Gets,
        Command::Store(store)
            if store.new_cas.is_some() || store.invalidate || store.vivify.is_some() =>
        {
            return unsupported()
        }
        Command::Store(store) if store.cas.is_some() => {
            if store.mode != StoreMode::Set {
                return unsupported();
            }
            TextVerb::Cas
        }
        Command::Store(store) => match store.mode {
            StoreMode::Set => TextVerb::Set,
            StoreMode::Add => TextVerb::Add,
            StoreMode::Replace => TextVerb::Replace,
            StoreMode::Append => TextVerb::Append,
            StoreMode::Prepend => TextVerb::Prepend,
        },
        Command::Delete(delete) if delete.cas.is_some() || delete.invalidate => {
            return unsupported()
        }
        Command::Delete(_) => TextVerb::Delete,
        Command::Arith(arith)
            if arith.cas.is_some() || arith.create.is_some() || arith.touch.is_some() =>
        {
            return unsupported()
        }
        Command::Arith(arith) if arith.incr => TextVerb::Incr,
        Command::Arith(_) => TextVerb::Decr,
        Command::Touch(_) => TextVerb::Touch,
        Command::FlushAll(_) => TextVerb::FlushAll,
        Command::Version => TextVerb::Version,
        Command::Verbosity(_) => TextVerb::Verbosity,
        Command::Stats(_) => TextVerb::Stats,
        Command::Metadump(_) => TextVerb::LruCrawler,
        Command::Noop => return Local::Answer(Response::Noop),
        // An old memcached has no `me`.
        Command::Debug(_) => return unsupported(),
        Command::Admin(admin) => admin_verb(admin),
        // The rest is answered above (`never_sent`).
        _ => return unsupported(),
    };
    let fits_text = |key: &[u8]| {
        !key.is_empty() && key.len() <= MAX_TEXT_KEY && (printable || !unprintable(key))
    };
    let keys_fit = match &request.command {
        Command::Get(get) => get.keys.iter().all(|k| fits_text(k)),
        command => !matches!(command.key(), Some(k) if !fits_text(k)),
    };
    if !keys_fit {
        return Local::Answer(Response::ClientError(
            "key cannot be sent to a text-protocol server".into(),
        ));
    }
    let form = Form::Text(TextForm {
        verb,
        noreply: false,
    });
    let expect = match &request.command {
        Command::Get(get) => Expect::Items {
            form: form.clone(),
            keys: get.keys.clone(),
        },
        Command::Stats(group) => Expect::stats(group.as_deref()),
        Command::Metadump(_) => Expect::metadump(),
        _ => Expect::One(form.clone()),
    };
    Local::Send(
        Request {
            command: request.command,
            form,
        },
        expect,
    )
}

/// The verb an administrative command is sent with (text only, in every dialect).
pub(crate) fn admin_verb(admin: &Admin) -> TextVerb {
    match admin {
        Admin::CacheMemlimit(_) => TextVerb::CacheMemlimit,
        Admin::SlabsAutomove(_) | Admin::SlabsAutomoveRatio(_) | Admin::SlabsReassign { .. } => {
            TextVerb::Slabs
        }
        Admin::LruCrawler(_)
        | Admin::LruCrawlerSleep(_)
        | Admin::LruCrawlerToCrawl(_)
        | Admin::LruCrawlerCrawl(_) => TextVerb::LruCrawler,
        Admin::Watch(_) => TextVerb::Watch,
        Admin::LruMode(_) | Admin::LruTune { .. } | Admin::LruTempTtl(_) => TextVerb::Lru,
        Admin::RefreshCerts => TextVerb::RefreshCerts,
    }
}

fn is_text_get(form: &Form) -> bool {
    matches!(
        form,
        Form::Text(TextForm {
            verb: TextVerb::Get,
            ..
        })
    )
}

/// What an old memcached answers a request it has no words for.
fn unsupported() -> Local {
    Local::Answer(Response::Error)
}

/// The longest key a text line may carry (binary clients may send longer ones).
const MAX_TEXT_KEY: usize = 250;

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use memkeep_protocol::{encode_request, Decoder};

    use super::*;

    fn wire(client: &[u8]) -> Result<Vec<u8>, Response> {
        let request = Decoder::default()
            .decode(&mut BytesMut::from(client))
            .unwrap()
            .unwrap();
        match to_text(request) {
            Local::Send(request, _) => {
                let mut out = BytesMut::new();
                encode_request(&request, &mut out);
                Ok(out.to_vec())
            }
            Local::Answer(answer) => Err(answer),
        }
    }

    #[test]
    fn every_dialect_becomes_text_with_replies_on() {
        assert_eq!(wire(b"get a b\r\n").unwrap(), b"get a b\r\n");
        assert_eq!(wire(b"gets a b\r\n").unwrap(), b"gets a b\r\n");
        assert_eq!(wire(b"mg a v t\r\n").unwrap(), b"gets a\r\n");
        assert_eq!(wire(b"mg a v T30\r\n").unwrap(), b"gats 30 a\r\n");
        assert_eq!(
            wire(b"set k 5 0 2 noreply\r\nhi\r\n").unwrap(),
            b"set k 5 0 2\r\nhi\r\n"
        );
        assert_eq!(
            wire(b"ms k 2 MA\r\nhi\r\n").unwrap(),
            b"append k 0 0 2\r\nhi\r\n"
        );
        assert_eq!(wire(b"md k q\r\n").unwrap(), b"delete k\r\n");
        assert_eq!(wire(b"ma k MD D4\r\n").unwrap(), b"decr k 4\r\n");
        assert_eq!(wire(b"touch k 10 noreply\r\n").unwrap(), b"touch k 10\r\n");
    }

    #[test]
    fn meta_only_options_get_error() {
        assert_eq!(wire(b"mg a v N30\r\n").unwrap_err(), Response::Error);
        assert_eq!(wire(b"md a I\r\n").unwrap_err(), Response::Error);
        assert_eq!(wire(b"mn\r\n").unwrap_err(), Response::Noop);
    }
}
