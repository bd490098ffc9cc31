//! Writing an item found on one replica back to another that missed it: an `add`
//! carrying the item's flags and remaining TTL. Shared by read-repair and warm-up.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use memkeep_protocol::{Command, Form, Get, Request, Store, StoreMode, TextForm, TextVerb, Value};

/// memcached reads an exptime above this many seconds as a unix time, not a duration.
pub(crate) const MAX_RELATIVE_EXPTIME: i64 = 60 * 60 * 24 * 30;

/// Whether a get may be answered from several replicas and its hits written back:
/// plain retrievals only. `mg` with `N` (vivify) or `R` (recache) changes what a miss
/// means on each replica (a placeholder is created, a token is won), so such requests
/// are left to the first replica alone.
pub(crate) fn is_plain_get(command: &Command) -> Option<&Get> {
    match command {
        Command::Get(get) if get.vivify.is_none() && get.recache.is_none() => Some(get),
        _ => None,
    }
}

/// The same get, asking its servers for each hit's remaining TTL, which
/// [`write_back`] copies (a text multi-get would come back without it).
pub(crate) fn wanting_ttl(mut req: Request) -> Request {
    if let Command::Get(get) = &mut req.command {
        get.want_ttl = true;
    }
    req
}

/// The `add` that writes `value` back under `key` with its flags and remaining TTL, or `None` when
/// writing is pointless: the item is stale, or it expires within the second (TTL 0).
///
/// The key is passed apart from the value because a single-key reply may not carry it
/// (binary GET).
///
/// `add`, not `set`: if a client wrote the key on that replica since our read, its
/// newer value stays. The backend must fetch TTL and flags (meta `t f`); an item read
/// without them has TTL 0 and is not written back.
pub(crate) fn write_back(key: &Bytes, value: &Value) -> Option<Request> {
    if value.meta.stale {
        return None;
    }
    let exptime = match value.meta.ttl {
        ttl if ttl < 0 => 0, // -1: never expires
        0 => return None,
        ttl if ttl <= MAX_RELATIVE_EXPTIME => ttl,
        // Beyond 30 days memcached wants an absolute time.
        ttl => unix_now() + ttl,
    };
    Some(Request {
        command: Command::Store(Store {
            mode: StoreMode::Add,
            key: key.clone(),
            flags: value.meta.flags,
            exptime,
            data: value.data.clone(),
            ..Store::default()
        }),
        // Not noreply: the reply tells whether the repair happened, for the count.
        form: Form::Text(TextForm {
            verb: TextVerb::Add,
            noreply: false,
        }),
    })
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
