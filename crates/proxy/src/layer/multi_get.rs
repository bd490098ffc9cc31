//! Multi-key gets answered from several places: which keys are still missing, a get
//! for just those, and the hits merged back in request key order.

use std::collections::HashMap;

use bytes::Bytes;
use memkeep_protocol::{Command, Request, Value};

/// The keys of `keys` with no value in `values`, in request order.
pub(crate) fn missing(keys: &[Bytes], values: &[Value]) -> Vec<Bytes> {
    // One key: any value is its hit, whatever key the backend's reply carried (binary
    // GET replies carry none).
    if keys.len() == 1 {
        return if values.is_empty() {
            keys.to_vec()
        } else {
            Vec::new()
        };
    }
    keys.iter()
        .filter(|k| !values.iter().any(|v| v.key == **k))
        .cloned()
        .collect()
}

/// The same get (same form, touch and options) for other keys.
pub(crate) fn with_keys(req: &Request, keys: Vec<Bytes>) -> Request {
    let mut req = req.clone();
    if let Command::Get(get) = &mut req.command {
        get.keys = keys;
    }
    req
}

/// One value per requested key that some source has, in request order, as memcached
/// answers (a key asked twice is answered twice). Earlier sources win.
pub(crate) fn in_key_order(
    keys: &[Bytes],
    sources: impl IntoIterator<Item = Vec<Value>>,
) -> Vec<Value> {
    if keys.len() == 1 {
        // See `missing`: a single key's hit is whatever value came first.
        return sources.into_iter().flatten().take(1).collect();
    }
    let mut found: HashMap<Bytes, Value> = HashMap::new();
    for value in sources.into_iter().flatten() {
        found.entry(value.key.clone()).or_insert(value);
    }
    keys.iter().filter_map(|k| found.get(k).cloned()).collect()
}
