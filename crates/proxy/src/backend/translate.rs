//! The client's request as the proxy sends it to a memcached backend: in meta, with
//! the return flags the proxy needs (classic commands without a meta verb in text),
//! never quiet (every request gets a reply, so replies can be matched by order). A
//! multi-get goes as one text `get` line, or as one `mg` line per key when text
//! cannot carry it (TTLs wanted, touches, meta-only options, binary keys).

use bytes::Bytes;
use memkeep_protocol::{
    Command, Form, MetaForm, MetaVerb, Request, Response, ReturnFlags, TextForm, TextVerb,
};

use super::listing::Listing;
use crate::keyless::never_sent;

/// What the backend will send back for one request, in order.
#[derive(Debug)]
pub(crate) enum Expect {
    /// One reply, decoded with this form.
    One(Form),
    /// A reply of lines (`stats` of any group, a metadump): see [`Listing`].
    Lines {
        /// The form the request is sent in.
        form: Form,
        /// The reader.
        reply: Listing,
    },
    /// One text retrieval reply: its items may only be for these keys, in order.
    Items {
        /// The form the reply is decoded with.
        form: Form,
        /// The keys asked for.
        keys: Vec<Bytes>,
    },
    /// One `mg` reply per key, merged into one [`Response::Values`] in key order.
    Many {
        /// The forms of the replies still to come, in reverse (popped from the end).
        forms: Vec<Form>,
        /// Hits so far.
        values: Vec<memkeep_protocol::Value>,
        /// The first error reply among the parts, which becomes the whole reply.
        error: Option<Response>,
    },
}

/// What becomes of a client's request: sent, or answered by the proxy itself.
// Built and matched once per request, never stored: boxing would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Local {
    /// Send this request and expect these replies.
    Send(Request, Expect),
    /// Answer with this at once.
    Answer(Response),
}

/// Return flags the client may ask for that cost the backend nothing and that the
/// proxy passes through (the rest come from the command or are the proxy's own).
const PASSED: &[u8] = b"hls";

/// Translates a client's request into what is sent to a meta-speaking backend.
pub(crate) fn to_meta(request: Request) -> Local {
    let client = match &request.form {
        Form::Meta(form) => Some(form),
        _ => None,
    };
    let base64 = client.is_some_and(MetaForm::base64)
        || match &request.command {
            Command::Get(get) => get.keys.iter().any(|k| needs_base64(k)),
            command => command.key().is_some_and(|k| needs_base64(k)),
        };
    let form = |verb: MetaVerb, key: &Bytes, wanted: &[u8]| {
        let mut returns = ReturnFlags::default();
        for &letter in wanted {
            returns.push(letter);
        }
        if let Some(client) = client {
            for &letter in client.returns.as_slice() {
                if PASSED.contains(&letter) && !returns.contains(letter) {
                    returns.push(letter);
                }
            }
        }
        if base64 {
            returns.push(b'b');
        }
        Form::Meta(MetaForm {
            verb,
            key: key.clone(),
            returns,
            opaque: None,
        })
    };
    if let Some(answer) = never_sent(&request.command) {
        return Local::Answer(answer);
    }
    let expect = match &request.command {
        // Exactly what a text-only server would be sent.
        Command::Get(get) if !base64 && plain_text_multi_get(get) => {
            // Every key was just found printable.
            return super::text_dialect::to_text_printable(request);
        }
        Command::Get(get) => {
            if get.keys.len() == 1 {
                Expect::One(form(MetaVerb::Get, &get.keys[0], b"vftck"))
            } else {
                Expect::Many {
                    forms: get
                        .keys
                        .iter()
                        .rev()
                        .map(|k| form(MetaVerb::Get, k, b"vftck"))
                        .collect(),
                    values: Vec::with_capacity(get.keys.len()),
                    error: None,
                }
            }
        }
        Command::Store(store) => Expect::One(form(MetaVerb::Set, &store.key, b"c")),
        Command::Delete(delete) => Expect::One(form(MetaVerb::Delete, &delete.key, b"")),
        Command::Arith(arith) => Expect::One(form(MetaVerb::Arith, &arith.key, b"vct")),
        Command::Debug(key) => Expect::One(form(MetaVerb::Debug, key, b"")),
        // Classic commands have no meta verb: they go in text, which memcached
        // takes on the same connection.
        Command::Touch(_) => text(TextVerb::Touch),
        Command::FlushAll(_) => text(TextVerb::FlushAll),
        Command::Version => text(TextVerb::Version),
        Command::Verbosity(_) => text(TextVerb::Verbosity),
        Command::Noop => Expect::One(form(MetaVerb::Noop, &Bytes::new(), b"")),
        Command::Stats(group) => Expect::stats(group.as_deref()),
        Command::Metadump(_) => Expect::metadump(),
        Command::Admin(admin) => text(super::text_dialect::admin_verb(admin)),
        // The rest is answered above (`never_sent`).
        _ => return Local::Answer(Response::Error),
    };
    // A multi-get's lines all share the first key's reply flags.
    let form = expect.next_form().clone();
    Local::Send(
        Request {
            command: request.command,
            form,
        },
        expect,
    )
}

/// The most keys a multi-get may have to go as one text line: a text reply is
/// scanned from its start each time more of it arrives, so the line is kept to a size
/// whose reply stays cheap to rescan; longer multi-gets go as `mg` lines, read one
/// key at a time.
const TEXT_MULTI_GET_MAX_KEYS: usize = 128;

/// Whether a multi-get can go as one text `get`: memcached then answers it with one
/// lookup pass and one reply instead of a command and a reply per key (a quarter less
/// of its CPU on 16 keys), and the proxy reads one `VALUE` line per hit. Text shows
/// no TTL, so a get whose hits are copied elsewhere ([`Get::want_ttl`]) stays in meta,
/// as do meta-only options and touches (memcached reads an unbounded line only for
/// `get` and `gets`).
fn plain_text_multi_get(get: &memkeep_protocol::Get) -> bool {
    (2..=TEXT_MULTI_GET_MAX_KEYS).contains(&get.keys.len())
        && !get.want_ttl
        && get.touch.is_none()
        && get.vivify.is_none()
        && get.recache.is_none()
        && !get.no_bump
}

/// A classic text request that always gets a reply.
fn text(verb: TextVerb) -> Expect {
    Expect::One(Form::Text(TextForm {
        verb,
        noreply: false,
    }))
}

/// Keys a text line cannot carry (binary clients may send any byte) go in base64.
fn needs_base64(key: &[u8]) -> bool {
    unprintable(key)
}

/// Whether `key` holds a byte a text line cannot carry in a key: a space, a control
/// character or DEL.
pub(super) fn unprintable(key: &[u8]) -> bool {
    // Eight bytes per step (a multi-get checks each of its keys, and keys are mostly
    // shorter than the vector loop the compiler makes of a plain fold). A byte of
    // `x` below 0x21 sets its high bit in `below`; a byte equal to 0x7f is a zero
    // byte of `x ^ 0x7f7f..`, found the same way. Neither has false positives: a
    // borrow only starts at a byte that matches.
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = ONES * 0x80;
    let mut chunks = key.chunks_exact(8);
    let mut found = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        let below = x.wrapping_sub(ONES * 0x21) & !x & HIGHS;
        let del = x ^ (ONES * 0x7f);
        found |= below | (del.wrapping_sub(ONES) & !del & HIGHS);
    }
    found != 0
        || chunks
            .remainder()
            .iter()
            .fold(false, |bad, &b| bad | (b <= b' ') | (b == 0x7f))
}

impl Expect {
    /// The reply to `stats GROUP`, sent in text.
    pub(crate) fn stats(group: Option<&[u8]>) -> Self {
        Expect::Lines {
            form: Form::Text(TextForm {
                verb: TextVerb::Stats,
                noreply: false,
            }),
            reply: Listing::stats(group),
        }
    }

    /// The reply to `lru_crawler metadump`, sent in text.
    pub(crate) fn metadump() -> Self {
        Expect::Lines {
            form: Form::Text(TextForm {
                verb: TextVerb::LruCrawler,
                noreply: false,
            }),
            reply: Listing::dump(),
        }
    }

    /// The form of the next reply to decode.
    pub(crate) fn next_form(&self) -> &Form {
        match self {
            Expect::One(form) | Expect::Items { form, .. } | Expect::Lines { form, .. } => form,
            Expect::Many { forms, .. } => forms.last().expect("parts remain"),
        }
    }

    /// Whether the items of a retrieval reply are for the keys asked: one `mg`
    /// line's own key, or a subsequence of a text get's keys (memcached answers in
    /// request order and skips misses). Other replies are not checked here.
    pub(crate) fn asked_for(&self, response: &Response) -> bool {
        let Response::Values(values) = response else {
            return true;
        };
        match self {
            Expect::Items { keys, .. } => {
                let mut keys = keys.iter();
                values.iter().all(|v| keys.any(|k| *k == v.key))
            }
            // A meta part's item is for the key of the `mg` line it answers.
            _ => match self.next_form() {
                Form::Meta(meta) => values.iter().all(|v| v.key == meta.key),
                _ => true,
            },
        }
    }

    /// Takes one decoded reply; the whole response once the last part is in.
    pub(crate) fn accept(&mut self, response: Response) -> Option<Response> {
        match self {
            Expect::One(_) | Expect::Items { .. } | Expect::Lines { .. } => Some(response),
            Expect::Many {
                forms,
                values,
                error,
            } => {
                forms.pop();
                match response {
                    Response::Values(hits) => values.extend(hits),
                    other if error.is_none() => *error = Some(other),
                    _ => {}
                }
                forms.is_empty().then(|| {
                    error
                        .take()
                        .unwrap_or_else(|| Response::Values(std::mem::take(values)))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use memkeep_protocol::{encode_request, Decoder};

    use super::*;

    fn wire(client: &[u8]) -> Vec<u8> {
        let request = Decoder::default()
            .decode(&mut BytesMut::from(client))
            .unwrap()
            .unwrap();
        let Local::Send(request, _) = to_meta(request) else {
            panic!("answered locally")
        };
        let mut out = BytesMut::new();
        encode_request(&request, &mut out);
        out.to_vec()
    }

    #[test]
    fn text_commands_become_meta_without_noreply() {
        assert_eq!(wire(b"get a\r\n"), b"mg a v f t c k\r\n");
        assert_eq!(wire(b"gets a b\r\n"), b"gets a b\r\n");
        assert_eq!(wire(b"get a b\r\n"), b"get a b\r\n");
        assert_eq!(
            wire(b"set k 5 0 2 noreply\r\nhi\r\n"),
            b"ms k 2 F5 c\r\nhi\r\n"
        );
        assert_eq!(wire(b"incr k 3\r\n"), b"ma k D3 v c t\r\n");
        assert_eq!(wire(b"delete k noreply\r\n"), b"md k\r\n");
        assert_eq!(wire(b"touch k 10\r\n"), b"touch k 10\r\n");
        assert_eq!(wire(b"flush_all noreply\r\n"), b"flush_all\r\n");
    }

    #[test]
    fn a_multi_get_goes_as_mg_lines_when_text_cannot_carry_it() {
        // Hits to be copied to other servers need their TTL, which text lacks.
        let mut request = Decoder::default()
            .decode(&mut BytesMut::from(&b"get a b\r\n"[..]))
            .unwrap()
            .unwrap();
        if let Command::Get(get) = &mut request.command {
            get.want_ttl = true;
        }
        let Local::Send(request, _) = to_meta(request) else {
            panic!("answered locally")
        };
        let mut out = BytesMut::new();
        encode_request(&request, &mut out);
        assert_eq!(&out[..], b"mg a v f t c k\r\nmg b v f t c k\r\n");
        // Touches (memcached reads a long line only for get and gets), and more
        // keys than one text line may carry.
        assert_eq!(
            wire(b"gat 5 a b\r\n"),
            b"mg a T5 v f t c k\r\nmg b T5 v f t c k\r\n"
        );
        let mut many = b"get".to_vec();
        for i in 0..=TEXT_MULTI_GET_MAX_KEYS {
            many.extend_from_slice(format!(" k{i}").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(wire(&many).starts_with(b"mg k0 v f t c k\r\nmg k1 "));
    }

    #[test]
    fn meta_requests_lose_quiet_and_opaque_and_keep_reply_flags() {
        assert_eq!(wire(b"mg a s q O123 T30\r\n"), b"mg a T30 v f t c k s\r\n");
        assert_eq!(wire(b"ms a 2 q I\r\nhi\r\n"), b"ms a 2 I c\r\nhi\r\n");
    }

    #[test]
    fn binary_keys_with_spaces_go_base64() {
        let form = Form::Meta(MetaForm::default());
        let request = Request {
            command: Command::Delete(memkeep_protocol::Delete {
                key: Bytes::from_static(b"a b"),
                ..Default::default()
            }),
            form,
        };
        let Local::Send(request, _) = to_meta(request) else {
            panic!()
        };
        let mut out = BytesMut::new();
        encode_request(&request, &mut out);
        assert_eq!(&out[..], b"md YSBi b\r\n");
    }

    #[test]
    fn unprintable_finds_every_byte_a_text_key_cannot_hold() {
        let slow = |key: &[u8]| key.iter().any(|&b| b <= b' ' || b == 0x7f);
        for len in 0..40 {
            let mut key = vec![b'k'; len];
            assert!(!unprintable(&key), "{key:?}");
            for at in 0..len {
                for bad in (0..=255u8).filter(|&b| b <= b'!' || b >= 0x7e) {
                    key[at] = bad;
                    assert_eq!(unprintable(&key), slow(&key), "{key:?}");
                }
                key[at] = b'k';
            }
        }
    }

    #[test]
    fn shutdown_is_never_forwarded() {
        let request = Decoder::default()
            .decode(&mut BytesMut::from(&b"shutdown\r\n"[..]))
            .unwrap()
            .unwrap();
        assert!(matches!(
            to_meta(request),
            Local::Answer(Response::ErrorLine(_))
        ));
    }
}
